//! The report of a classifier (a `genolm classify` output folder).

use std::path::Path;

use polars::prelude::*;

use super::Report;
use crate::plot::Figure;
use crate::table::Table;
use crate::{Error, Result};

/// Test metrics of a classifier and its baselines, in the order of the report's table.
const METRICS: [&str; 9] = [
    "accuracy",
    "balanced_accuracy",
    "auroc",
    "auprc",
    "f1",
    "mcc",
    "precision",
    "recall",
    "specificity",
];

/// Is `dir` a `genolm classify` output folder (its `metrics.json` and `predictions.csv`)?
pub fn is_classifier_folder(dir: &Path) -> bool {
    dir.join("metrics.json").is_file() && dir.join("predictions.csv").is_file()
}

/// The report of a `genolm classify` output folder: what was trained on what, the test
/// metrics next to the baselines' (with `--baselines`), the confusion matrix of its test
/// predictions, and its ROC, precision–recall and training curves. What `genolm report
/// CLS_DIR` writes. `classify` does not record its command line, so the report records none.
pub fn classifier_report(dir: &Path) -> Result<Report> {
    let path = dir.join("metrics.json");
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let m: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::parse(path.display().to_string(), e.line(), e.to_string()))?;
    let method = m["method"].as_str().unwrap_or("classifier").to_string();
    let classes: Vec<String> = m["classes"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let mut r = Report::new(format!("genolm classifier {} ({method})", dir.display()));
    r.heading("Classifier");
    let pretrained = m["pretrained"]
        .as_str()
        .map_or("none (trained from scratch)".to_string(), String::from);
    r.text(format!(
        "{method}; language model: {pretrained}; classes {}; {} training, {} validation and {} \
         test items{}.",
        classes.join(", "),
        m["n_train"].as_u64().unwrap_or(0),
        m["n_valid"].as_u64().unwrap_or(0),
        m["n_test"].as_u64().unwrap_or(0),
        if m["balanced"].as_bool() == Some(true) {
            "; classes weighed equally (--balanced)"
        } else {
            ""
        }
    ));
    r.config("metrics", &m);

    // the classifier's row, then each baseline's
    let mut rows: Vec<(String, &serde_json::Value)> = vec![(method.clone(), &m)];
    if let Some(b) = m["baselines"].as_object() {
        rows.extend(b.iter().map(|(k, v)| (k.clone(), v)));
    }
    let mut cols: Vec<Column> = vec![Column::new(
        "model".into(),
        rows.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
    )];
    for k in METRICS {
        let v: Vec<Option<f64>> = rows.iter().map(|(_, x)| x[k].as_f64()).collect();
        cols.push(Column::new(k.into(), v));
        if let Some(x) = m[k].as_f64() {
            r.metric(k, x);
        }
    }
    r.heading("Test metrics");
    r.table(
        "metrics",
        &Table::new("metrics", DataFrame::new(rows.len(), cols)?),
        "On the test items (never used to train or pick an epoch); the rows below the first are \
         the baselines of --baselines on the same items.",
    );
    r.heading("Test predictions");
    let confusion = confusion_table(&dir.join("predictions.csv"), &classes)?;
    r.table(
        "confusion",
        &confusion,
        "Test items by true class (rows) and predicted class (columns).",
    );
    for (file, caption) in [
        ("roc", "ROC curve on the test items."),
        ("pr", "Precision–recall curve on the test items."),
        (
            "history",
            "Training and validation loss per epoch, cycle by cycle.",
        ),
    ] {
        let p = dir.join(format!("{file}.svg"));
        if let Ok(svg) = std::fs::read_to_string(&p) {
            r.figure(file, &svg_figure(svg), caption);
        }
    }
    Ok(r)
}

/// Counts of (true class, predicted class) from a `predictions.csv` (`label`, `predicted`).
fn confusion_table(path: &Path, classes: &[String]) -> Result<Table> {
    let mut rdr = csv::Reader::from_path(path)
        .map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
    let head = rdr
        .headers()
        .map_err(|e| Error::Input(format!("{}: {e}", path.display())))?
        .clone();
    let col = |name: &str| {
        head.iter().position(|h| h == name).ok_or_else(|| {
            Error::parse(path.display().to_string(), 1, format!("no `{name}` column"))
        })
    };
    let (li, pi) = (col("label")?, col("predicted")?);
    let n = classes.len();
    let mut counts = vec![vec![0u64; n]; n];
    for (i, rec) in rdr.records().enumerate() {
        let rec =
            rec.map_err(|e| Error::parse(path.display().to_string(), i + 2, e.to_string()))?;
        let find = |s: &str| classes.iter().position(|c| c == s);
        if let (Some(t), Some(p)) = (find(&rec[li]), find(&rec[pi])) {
            counts[t][p] += 1;
        }
    }
    let mut cols = vec![Column::new("true class".into(), classes.to_vec())];
    for (p, c) in classes.iter().enumerate() {
        let v: Vec<u64> = counts.iter().map(|row| row[p]).collect();
        cols.push(Column::new(format!("predicted {c}").into(), v));
    }
    Ok(Table::new("confusion", DataFrame::new(n, cols)?))
}

/// A figure from an SVG file's text, its size from the root element's `width` and `height`.
fn svg_figure(svg: String) -> Figure {
    let attr = |name: &str| -> Option<u32> {
        let head = &svg[..svg.find('>')?];
        let at = head.find(&format!(" {name}=\""))? + name.len() + 3;
        head[at..].split('"').next()?.parse().ok()
    };
    let (w, h) = (attr("width").unwrap_or(640), attr("height").unwrap_or(400));
    Figure::from_svg(svg, w, h)
}
