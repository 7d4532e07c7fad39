//! What every `genolm classify` run writes: metrics.json (with the baselines' under
//! --baselines), predictions.csv, roc.svg and pr.svg.

use std::path::{Path, PathBuf};

use genolm::data::tasks::LabelledSeq;
use genolm::Result;

use super::{recipe, ClassifyArgs};
use crate::analyses::out_dir;

/// A method's name and its class probabilities for every test item.
type Curves = Vec<(String, Vec<Vec<f64>>)>;

/// `--baselines`: each baseline's test metrics (for metrics.json) and class probabilities,
/// printed as a table under the model's.
fn baselines(
    a: &ClassifyArgs,
    train: &[LabelledSeq],
    test: &[LabelledSeq],
    n_classes: usize,
    model: (&str, &[Vec<f64>]),
    device: &candle_core::Device,
) -> Result<(serde_json::Value, Curves)> {
    let opts = genolm::train::recipes::ClassifyOptions {
        ulmfit: recipe(a)?,
        both_strands: a.both_strands,
        balanced: a.balanced,
        ..Default::default()
    };
    if !a.quiet {
        println!(
            "baselines on the same {} train / {} test items …",
            train.len(),
            test.len()
        );
    }
    let labels: Vec<u32> = test.iter().map(|x| x.label).collect();
    let line = |name: &str, probs: &[Vec<f64>]| {
        let (acc, named) = genolm::stats::class_metrics(probs, &labels);
        let auroc = named.iter().find(|x| x.0 == "auroc").map(|x| x.1);
        let text = format!(
            "  {name:<22} accuracy {acc:.3}{}",
            auroc.map(|v| format!("  AUROC {v:.3}")).unwrap_or_default()
        );
        (acc, named, text)
    };
    let mut out = serde_json::Map::new();
    let mut lines = vec![line(model.0, model.1).2];
    let mut curves = Curves::new();
    for (name, probs) in
        genolm::bench::baselines::all_baselines(train, test, n_classes, &opts, device)?
    {
        let (acc, named, text) = line(name, &probs);
        let mut m = serde_json::Map::new();
        m.insert("accuracy".into(), acc.into());
        for (n, v) in named {
            m.insert(n.into(), v.into());
        }
        lines.push(text);
        out.insert(name.into(), m.into());
        curves.push((name.to_string(), probs));
    }
    println!("{}", lines.join("\n"));
    Ok((out.into(), curves))
}

/// `roc.svg` and `pr.svg`: with two classes, the second class's curve for every method (the
/// model first, then any baselines); with more, the model's one-vs-rest curve per class.
fn write_curves(
    out: &Path,
    classes: &[String],
    test: &[LabelledSeq],
    curves: &Curves,
) -> Result<()> {
    use genolm::plot::Figure;
    let labels: Vec<u32> = test.iter().map(|x| x.label).collect();
    let one_vs_rest = |name: &str, probs: &[Vec<f64>], c: usize| {
        (
            name.to_string(),
            probs.iter().map(|p| p[c]).collect::<Vec<f64>>(),
            labels
                .iter()
                .map(|&l| l as usize == c)
                .collect::<Vec<bool>>(),
        )
    };
    let (sets, what) = if classes.len() == 2 {
        let sets: Vec<_> = curves.iter().map(|(n, p)| one_vs_rest(n, p, 1)).collect();
        (sets, format!("class {} against {}", classes[1], classes[0]))
    } else {
        let (name, probs) = &curves[0];
        let sets: Vec<_> = (0..classes.len())
            .map(|c| one_vs_rest(&classes[c], probs, c))
            .collect();
        (sets, format!("{name}, each class against the rest"))
    };
    // a class without test items (or with only them) has no curve
    let sets: Vec<_> = sets
        .into_iter()
        .filter(|(_, _, l)| l.iter().any(|&b| b) && l.iter().any(|&b| !b))
        .collect();
    if sets.is_empty() {
        return Ok(());
    }
    Figure::roc(&format!("ROC, test items: {what}"), &sets)?.save(out.join("roc.svg"))?;
    Figure::pr(&format!("Precision–recall, test items: {what}"), &sets)?.save(out.join("pr.svg"))
}

/// `predictions.csv`: each test item's origin, label, arg-max class and class probabilities.
fn write_predictions<P: Copy + std::fmt::Display + Into<f64>>(
    out: &Path,
    classes: &[String],
    test: &[LabelledSeq],
    probs: &[Vec<P>],
) -> Result<()> {
    let name = |i: usize| classes[i].replace([',', '"'], "_");
    let mut csv = String::from("origin,label,predicted");
    for i in 0..classes.len() {
        csv.push_str(&format!(",p_{}", name(i)));
    }
    csv.push('\n');
    for (x, p) in test.iter().zip(probs) {
        let arg = genolm::stats::argmax(p);
        csv.push_str(&format!(
            "\"{}\",{},{}",
            x.origin.replace('"', "'"),
            name(x.label as usize),
            name(arg)
        ));
        for v in p {
            csv.push_str(&format!(",{v}"));
        }
        csv.push('\n');
    }
    genolm::fsio::atomic_write(&out.join("predictions.csv"), csv.as_bytes())
}

/// The part of `metrics.json` every classifier writes: test accuracy and the other metrics, the
/// test size, the classes and the pretrained LM.
fn test_metrics(
    (accuracy, named): (f64, Vec<(&str, f64)>),
    n_test: usize,
    classes: &[String],
    pretrained: &[PathBuf],
) -> serde_json::Map<String, serde_json::Value> {
    let mut metrics = serde_json::Map::new();
    metrics.insert("accuracy".into(), accuracy.into());
    for (n, v) in named {
        metrics.insert(n.into(), v.into());
    }
    metrics.insert("n_test".into(), n_test.into());
    metrics.insert("classes".into(), classes.to_vec().into());
    let names: Vec<String> = pretrained.iter().map(|p| p.display().to_string()).collect();
    let value: serde_json::Value = match &names[..] {
        [] => serde_json::Value::Null,
        [one] => one.clone().into(),
        many => many.to_vec().into(),
    };
    metrics.insert("pretrained".into(), value);
    metrics
}

/// metrics.json, predictions.csv and the curves of any classifier, with the baselines under
/// --baselines (scored on the same items) and the method named; returns the test accuracy.
pub(super) fn write_results<P: Copy + std::fmt::Display + Into<f64>>(
    a: &ClassifyArgs,
    classes: &[String],
    (train, test): (&[LabelledSeq], &[LabelledSeq]),
    (method, shown): (&str, &[Vec<P>]),
    mut metrics: serde_json::Map<String, serde_json::Value>,
    device: &candle_core::Device,
) -> Result<f64> {
    let probs: Vec<Vec<f64>> = shown
        .iter()
        .map(|p| p.iter().map(|&v| v.into()).collect())
        .collect();
    let probs = &probs[..];
    let labels: Vec<u32> = test.iter().map(|x| x.label).collect();
    let scored = genolm::stats::class_metrics(probs, &labels);
    let accuracy = scored.0;
    let mut all = test_metrics(scored, test.len(), classes, &a.lm);
    all.insert("method".into(), method.into());
    all.insert("balanced".into(), a.balanced.into());
    all.insert("n_train".into(), train.len().into());
    all.append(&mut metrics);
    let mut curves: Curves = vec![(method.into(), probs.to_vec())];
    if a.baselines {
        let (b, more) = baselines(a, train, test, classes.len(), (method, probs), device)?;
        all.insert("baselines".into(), b);
        curves.extend(more);
    }
    out_dir(&a.out)?;
    let json = serde_json::to_vec_pretty(&all).expect("metrics serialise");
    genolm::fsio::atomic_write(&a.out.join("metrics.json"), &json)?;
    write_predictions(&a.out, classes, test, shown)?;
    write_curves(&a.out, classes, test, &curves)?;
    Ok(accuracy)
}
