//! The result: one row per task × dataset next to its baseline, with tables, a figure, JSON
//! and Markdown.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::BenchOptions;

use crate::plot::Figure;
use crate::table::Table;
use crate::{Error, Result};

/// One result: a task on a dataset, the main metric for the model and for the baseline, and
/// every other metric in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchRow {
    /// Task name.
    pub task: String,
    /// Dataset (`PRO`, `EUK_reads`, a genome id, a classification task …).
    pub dataset: String,
    /// Name of the main metric.
    pub metric: String,
    /// The model's value.
    #[serde(deserialize_with = "crate::fsio::f64_or_nan")]
    pub value: f64,
    /// The baseline's value on the same positions (NaN when none; `null` in JSON).
    #[serde(deserialize_with = "crate::fsio::f64_or_nan")]
    pub baseline: f64,
    /// Which baseline.
    pub baseline_name: String,
    /// Is a larger value better?
    pub higher_is_better: bool,
    /// Items scored (tokens, positions, sequences, neurons …).
    pub n: usize,
    /// Genomes used.
    pub genomes: Vec<String>,
    /// Further metrics: `(name, model, baseline)`.
    #[serde(deserialize_with = "de_extra")]
    pub extra: Vec<(String, f64, f64)>,
    /// Wall-clock seconds of the task on this dataset.
    pub seconds: f64,
    /// More baselines on the same items, `(name, value)` (classification: accuracy and AUROC
    /// of a k-mer logistic regression and of a CNN trained from scratch).
    #[serde(default, deserialize_with = "de_pairs")]
    pub more_baselines: Vec<(String, f64)>,
}

fn de_pairs<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<(String, f64)>, D::Error> {
    let v: Vec<(String, Option<f64>)> = Vec::deserialize(d)?;
    Ok(v.into_iter()
        .map(|(n, a)| (n, a.unwrap_or(f64::NAN)))
        .collect())
}

#[allow(clippy::type_complexity)]
fn de_extra<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<(String, f64, f64)>, D::Error> {
    let v: Vec<(String, Option<f64>, Option<f64>)> = Vec::deserialize(d)?;
    Ok(v.into_iter()
        .map(|(n, a, b)| (n, a.unwrap_or(f64::NAN), b.unwrap_or(f64::NAN)))
        .collect())
}

impl BenchRow {
    /// Improvement over the baseline in the direction of "better" (NaN without a baseline).
    pub fn skill(&self) -> f64 {
        if self.higher_is_better {
            self.value - self.baseline
        } else {
            self.baseline - self.value
        }
    }
}

/// A genome the benchmark used, with its role and file checksums.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetRecord {
    /// Genome id.
    pub genome: String,
    /// Kingdom.
    pub kingdom: String,
    /// `train` (Markov baseline, classification training) or `held_out`.
    pub role: String,
    /// `(path, sha256)` of its files, as in the corpus manifest.
    pub files: Vec<(String, String)>,
}

/// Everything a benchmark run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchmarkReport {
    /// Model name.
    pub model: String,
    /// Architecture label.
    pub arch: String,
    /// Trainable parameters.
    pub n_params: usize,
    /// Device.
    pub device: String,
    /// Where the checkpoint came from, if from a file.
    pub checkpoint: Option<PathBuf>,
    /// Where the training genomes came from.
    pub train_source: String,
    /// One row per task × dataset.
    pub rows: Vec<BenchRow>,
    /// Tasks that could not run here, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Genomes used, with checksums.
    pub datasets: Vec<DatasetRecord>,
    /// The options.
    pub options: BenchOptions,
    /// Seconds for the whole suite.
    pub seconds: f64,
    /// genolm version.
    pub version: String,
    /// CPU model, instruction set and threads ([`crate::cpu::host_summary`]); empty in reports
    /// written before it was recorded.
    #[serde(default)]
    pub host: String,
}

impl BenchmarkReport {
    /// One row per task × dataset: main metric for the model and the baseline, the skill
    /// (improvement in the better direction), items, seconds and the other metrics.
    pub fn table(&self) -> Result<Table> {
        use polars::prelude::*;
        let r = &self.rows;
        let details: Vec<String> = r
            .iter()
            .map(|x| {
                x.extra
                    .iter()
                    .map(|(n, m, b)| {
                        if b.is_nan() {
                            format!("{n}={m:.4}")
                        } else {
                            format!("{n}={m:.4} (base {b:.4})")
                        }
                    })
                    .chain(x.more_baselines.iter().map(|(n, v)| format!("{n}={v:.4}")))
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .collect();
        let df = df!(
            "model" => r.iter().map(|_| self.model.clone()).collect::<Vec<_>>(),
            "task" => r.iter().map(|x| x.task.clone()).collect::<Vec<_>>(),
            "dataset" => r.iter().map(|x| x.dataset.clone()).collect::<Vec<_>>(),
            "metric" => r.iter().map(|x| x.metric.clone()).collect::<Vec<_>>(),
            "value" => r.iter().map(|x| x.value).collect::<Vec<_>>(),
            "baseline" => r.iter().map(|x| x.baseline).collect::<Vec<_>>(),
            "baseline_name" => r.iter().map(|x| x.baseline_name.clone()).collect::<Vec<_>>(),
            "skill" => r.iter().map(|x| x.skill()).collect::<Vec<_>>(),
            "n" => r.iter().map(|x| x.n as u64).collect::<Vec<_>>(),
            "seconds" => r.iter().map(|x| x.seconds).collect::<Vec<_>>(),
            "details" => details,
        )?;
        Ok(Table::new(format!("benchmark_{}", self.model), df))
    }

    /// Every metric in long format: model, task, dataset, metric, value, baseline.
    pub fn metrics_table(&self) -> Result<Table> {
        use polars::prelude::*;
        let (mut t, mut d, mut m, mut v, mut b) = (vec![], vec![], vec![], vec![], vec![]);
        for r in &self.rows {
            t.push(r.task.clone());
            d.push(r.dataset.clone());
            m.push(r.metric.clone());
            v.push(r.value);
            b.push(r.baseline);
            for (name, mv, bv) in &r.extra {
                t.push(r.task.clone());
                d.push(r.dataset.clone());
                m.push(name.clone());
                v.push(*mv);
                b.push(*bv);
            }
            // further baselines: their value in the baseline column, named in the metric
            for (name, bv) in &r.more_baselines {
                t.push(r.task.clone());
                d.push(r.dataset.clone());
                m.push(name.clone());
                v.push(f64::NAN);
                b.push(*bv);
            }
        }
        let df = df!(
            "model" => t.iter().map(|_| self.model.clone()).collect::<Vec<_>>(),
            "task" => t, "dataset" => d, "metric" => m, "value" => v, "baseline" => b,
        )?;
        Ok(Table::new(format!("benchmark_metrics_{}", self.model), df))
    }

    /// The genomes used (role and checksums).
    pub fn datasets_table(&self) -> Result<Table> {
        use polars::prelude::*;
        let d = &self.datasets;
        let df = df!(
            "genome" => d.iter().map(|x| x.genome.clone()).collect::<Vec<_>>(),
            "kingdom" => d.iter().map(|x| x.kingdom.clone()).collect::<Vec<_>>(),
            "role" => d.iter().map(|x| x.role.clone()).collect::<Vec<_>>(),
            "files" => d.iter().map(|x| x.files.iter().map(|f| f.0.clone()).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>(),
            "sha256" => d.iter().map(|x| x.files.iter().map(|f| f.1.clone()).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>(),
        )?;
        Ok(Table::new("benchmark_datasets", df))
    }

    /// The row of a task on a dataset.
    pub fn get(&self, task: &str, dataset: &str) -> Option<&BenchRow> {
        self.rows
            .iter()
            .find(|r| r.task == task && r.dataset == dataset)
    }

    /// Summary figure: the skill over the baseline of every row with one (bars; positive =
    /// better than the Markov / null baseline).
    pub fn plot(&self) -> Result<Figure> {
        let rows: Vec<&BenchRow> = self.rows.iter().filter(|r| r.skill().is_finite()).collect();
        let labels: Vec<String> = rows
            .iter()
            .map(|r| format!("{} {}", short_task(&r.task), r.dataset))
            .collect();
        let values: Vec<f64> = rows.iter().map(|r| r.skill()).collect();
        Figure::bars(
            &format!("{} vs baselines", self.model),
            "improvement over baseline",
            &labels,
            &values,
            None,
        )
    }

    /// Write the report as JSON (atomically).
    pub fn save_json(&self, path: impl AsRef<Path>) -> Result<()> {
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Input(format!("report does not serialise: {e}")))?;
        crate::fsio::atomic_write(path.as_ref(), &json)
    }

    /// Read a report written by [`save_json`](Self::save_json).
    pub fn load_json(path: impl AsRef<Path>) -> Result<Self> {
        let p = path.as_ref();
        let s = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
        serde_json::from_str(&s)
            .map_err(|e| Error::parse(p.display().to_string(), e.line(), e.to_string()))
    }

    /// The main table's cells as text: task, dataset, metric, model, baseline (with its name),
    /// skill, n; what [`to_markdown`](Self::to_markdown) and [`text`](Self::text) lay out.
    fn summary_rows(&self) -> Vec<Vec<String>> {
        self.rows
            .iter()
            .map(|r| {
                vec![
                    r.task.clone(),
                    r.dataset.clone(),
                    r.metric.clone(),
                    format!("{:.4}", r.value),
                    if r.baseline.is_nan() {
                        "–".into()
                    } else {
                        format!("{:.4} ({})", r.baseline, r.baseline_name)
                    },
                    if r.skill().is_nan() {
                        "–".into()
                    } else {
                        format!("{:+.4}", r.skill())
                    },
                    r.n.to_string(),
                ]
            })
            .collect()
    }

    const SUMMARY_HEADER: [&'static str; 7] = [
        "task", "dataset", "metric", "model", "baseline", "skill", "n",
    ];

    /// Markdown of the main table (for docs and reports).
    pub fn to_markdown(&self) -> String {
        let mut s = format!(
            "| {} |\n|---|---|---|---|---|---|---|\n",
            Self::SUMMARY_HEADER.join(" | ")
        );
        for r in self.summary_rows() {
            s.push_str(&format!("| {} |\n", r.join(" | ")));
        }
        for (t, why) in &self.skipped {
            s.push_str(&format!("| {t} | – | skipped: {why} | | | | |\n"));
        }
        s
    }

    /// The main table as plain text in aligned columns, for a terminal (`genolm bench` prints
    /// it), then the skipped tasks: the columns of [`to_markdown`](Self::to_markdown).
    pub fn text(&self) -> String {
        let mut s = crate::table::aligned_text(&Self::SUMMARY_HEADER, &self.summary_rows());
        for (t, why) in &self.skipped {
            s.push_str(&format!("skipped {t}: {why}\n"));
        }
        s
    }

    /// Inline display in evcxr: the table, the skipped tasks and the summary figure.
    pub fn evcxr_display(&self) {
        let mut html = format!(
            "<h4>{} ({}, {} parameters) — {:.0} s; training genomes: {}</h4>",
            crate::fsio::xml(&self.model),
            crate::fsio::xml(&self.arch),
            self.n_params,
            self.seconds,
            crate::fsio::xml(&self.train_source)
        );
        if let Ok(t) = self.table() {
            html.push_str(&t.to_html());
        }
        for (t, why) in &self.skipped {
            html.push_str(&format!(
                "<p>skipped {}: {}</p>",
                crate::fsio::xml(t),
                crate::fsio::xml(why)
            ));
        }
        if let Ok(f) = self.plot() {
            html.push_str(f.svg());
        }
        println!("EVCXR_BEGIN_CONTENT text/html\n{html}\nEVCXR_END_CONTENT");
    }
}

fn short_task(t: &str) -> &str {
    match t {
        "impute_nucleotide" => "imp1",
        "impute_fragment" => "imp2",
        "rare_species" => "rare",
        "conservation" => "cons",
        "classification" => "cls",
        "importance" => "del",
        "transfer_genome" => "genome",
        other => other,
    }
}
