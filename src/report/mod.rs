//! Reproducible reports: collect text, figures, tables, configs, seeds, datasets, timings and
//! metrics, then write a folder with a self-contained `index.html` (figures inline as SVG),
//! `manifest.json` (everything needed to re-run and compare), `figures/*.svg` + `*.png` and
//! `tables/*.csv`. `genolm reproduce manifest.json` re-runs the recorded command and lists
//! every metric that differs.
//!
//! ```
//! use genolm::report::{Report, Manifest};
//! use genolm::plot::{Figure, Series};
//! let mut r = Report::new("Demo");
//! r.text("A line chart and one metric.");
//! let fig = Figure::lines("loss", "step", "nats", &[Series::new("train", vec![0.0, 1.0], vec![1.4, 1.2])], &[])?;
//! r.figure("loss", &fig, "Training loss");
//! r.metric("valid_loss", 1.2);
//! r.seed("train", 42);
//! let dir = tempfile::tempdir().unwrap();
//! let out = r.write(dir.path())?;
//! let m = Manifest::load(out.join("manifest.json"))?;
//! assert_eq!(m.metrics["valid_loss"], 1.2);
//! assert!(std::fs::read_to_string(out.join("index.html")).unwrap().contains("<svg"));
//! # Ok::<(), genolm::Error>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::corpus::Corpus;
use crate::fsio::atomic_write;
use crate::fsio::xml;
use crate::plot::Figure;
use crate::table::Table;
use crate::{Error, Result};

mod classification;
mod pipeline;
mod quickstart;
mod training;

pub use classification::{classifier_report, is_classifier_folder};
pub use pipeline::{
    analyse, findings_sections, floor_figure, floor_text, Findings, PipelineOptions,
};
pub use quickstart::{
    corpus_overview, loss_track, quickstart, quickstart_report, Quickstart, QuickstartOptions,
};
pub use training::{run_report, training_report};

/// The git commit genolm was built from (`unknown` outside a git checkout).
pub const GIT_COMMIT: &str = env!("GENOLM_GIT_COMMIT");
/// The rustc that built genolm.
pub const RUSTC_VERSION: &str = env!("GENOLM_RUSTC_VERSION");

/// The features genolm was built with.
pub fn features() -> Vec<String> {
    let mut f = Vec::new();
    if cfg!(feature = "cuda") {
        f.push("cuda".to_string());
    }
    f
}

/// A genome a report used, with its file checksums.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetEntry {
    /// Genome id.
    pub id: String,
    /// `(path, sha256)` of its files.
    pub files: Vec<(String, String)>,
}

/// What `manifest.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Manifest {
    /// Report title.
    pub title: String,
    /// genolm version.
    pub genolm_version: String,
    /// Git commit of the build.
    pub git_commit: String,
    /// rustc of the build.
    pub rustc: String,
    /// Cargo features.
    pub features: Vec<String>,
    /// Device(s) used.
    pub device: String,
    /// The `genolm` command line that produced it (for `genolm reproduce`).
    pub command: Vec<String>,
    /// The folder the command ran in (absolute), so that `genolm reproduce` finds the
    /// command's relative paths from any folder; `None` in manifests from before 2026-12-07.
    pub cwd: Option<String>,
    /// Seeds by name.
    pub seeds: BTreeMap<String, u64>,
    /// Genomes used, with checksums.
    pub datasets: Vec<DatasetEntry>,
    /// Configurations by name (JSON).
    pub configs: BTreeMap<String, serde_json::Value>,
    /// Wall-clock seconds by name.
    pub timings: BTreeMap<String, f64>,
    /// Every metric by name (NaN — a metric that could not be computed — is `null` in JSON).
    #[serde(deserialize_with = "crate::fsio::f64_map_or_nan")]
    pub metrics: BTreeMap<String, f64>,
    /// Files of the report folder.
    pub files: Vec<String>,
}

impl Manifest {
    /// Read a `manifest.json`.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let p = path.as_ref();
        let s = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
        serde_json::from_str(&s)
            .map_err(|e| Error::parse(p.display().to_string(), e.line(), e.to_string()))
    }
}

/// A metric that differs between two manifests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricDiff {
    /// Metric name.
    pub name: String,
    /// Value in the first manifest (NaN when missing).
    pub before: f64,
    /// Value in the second (NaN when missing).
    pub after: f64,
}

/// Metrics whose values differ by more than `rel_tol` (relative; 0 = must be identical), or
/// that are in only one manifest.
pub fn compare_metrics(a: &Manifest, b: &Manifest, rel_tol: f64) -> Vec<MetricDiff> {
    let mut out = Vec::new();
    let names: std::collections::BTreeSet<&String> =
        a.metrics.keys().chain(b.metrics.keys()).collect();
    for n in names {
        let x = a.metrics.get(n).copied().unwrap_or(f64::NAN);
        let y = b.metrics.get(n).copied().unwrap_or(f64::NAN);
        let same =
            (x.is_nan() && y.is_nan() && a.metrics.contains_key(n) && b.metrics.contains_key(n))
                || x == y
                || (x - y).abs() <= rel_tol * x.abs().max(y.abs());
        if !same {
            out.push(MetricDiff {
                name: n.clone(),
                before: x,
                after: y,
            });
        }
    }
    out
}

enum Block {
    Heading(String),
    Text(String),
    Figure {
        name: String,
        caption: String,
        fig: Figure,
    },
    Table {
        name: String,
        caption: String,
        table: Table,
    },
}

/// A report under construction.
pub struct Report {
    blocks: Vec<Block>,
    manifest: Manifest,
}

fn slug(s: &str) -> String {
    let mut o: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if o.is_empty() {
        o.push('x');
    }
    o
}

impl Report {
    /// A new report.
    pub fn new(title: impl Into<String>) -> Self {
        Report {
            blocks: Vec::new(),
            manifest: Manifest {
                title: title.into(),
                genolm_version: env!("CARGO_PKG_VERSION").into(),
                git_commit: GIT_COMMIT.into(),
                rustc: RUSTC_VERSION.into(),
                features: features(),
                device: "cpu".into(),
                ..Default::default()
            },
        }
    }
    /// A section heading.
    pub fn heading(&mut self, h: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Heading(h.into()));
        self
    }
    /// A paragraph (plain text, escaped).
    pub fn text(&mut self, t: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Text(t.into()));
        self
    }
    /// A figure: inline in the HTML, `figures/<name>.svg` and a 300-dpi `figures/<name>.png`.
    pub fn figure(&mut self, name: &str, fig: &Figure, caption: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Figure {
            name: slug(name),
            caption: caption.into(),
            fig: fig.clone(),
        });
        self
    }
    /// A table: HTML in the page and `tables/<name>.csv`.
    pub fn table(&mut self, name: &str, table: &Table, caption: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Table {
            name: slug(name),
            caption: caption.into(),
            table: table.clone(),
        });
        self
    }
    /// A configuration (anything serialisable), stored in the manifest.
    pub fn config(&mut self, name: &str, cfg: &impl Serialize) -> &mut Self {
        let v = serde_json::to_value(cfg).unwrap_or(serde_json::Value::Null);
        self.manifest.configs.insert(name.into(), v);
        self
    }
    /// A metric (compared by `genolm reproduce`).
    pub fn metric(&mut self, name: &str, v: f64) -> &mut Self {
        self.manifest.metrics.insert(name.into(), v);
        self
    }
    /// A seed.
    pub fn seed(&mut self, name: &str, s: u64) -> &mut Self {
        self.manifest.seeds.insert(name.into(), s);
        self
    }
    /// A timing in seconds.
    pub fn timing(&mut self, name: &str, secs: f64) -> &mut Self {
        self.manifest.timings.insert(name.into(), secs);
        self
    }
    /// The device used.
    pub fn device(&mut self, d: impl Into<String>) -> &mut Self {
        self.manifest.device = d.into();
        self
    }
    /// The command line that re-creates this report (`genolm reproduce` runs it).
    pub fn command(&mut self, args: &[String]) -> &mut Self {
        self.manifest.command = args.to_vec();
        self.manifest.cwd = std::env::current_dir()
            .ok()
            .map(|d| d.display().to_string());
        self
    }
    /// Record the genomes of a corpus (all, or the given ids) with their checksums.
    pub fn datasets(&mut self, corpus: &Corpus, ids: Option<&[String]>) -> &mut Self {
        for g in &corpus.genomes {
            if ids.is_some_and(|ids| !ids.contains(&g.meta.id)) {
                continue;
            }
            self.manifest.datasets.push(DatasetEntry {
                id: g.meta.id.clone(),
                files: g.file_checksums(),
            });
        }
        self
    }
    /// The manifest as it stands.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The self-contained HTML page.
    pub fn html(&self) -> Result<String> {
        let m = &self.manifest;
        let mut h = String::new();
        h.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
        h.push_str(&format!("<title>{}</title>", xml(&m.title)));
        h.push_str("<style>body{font-family:Helvetica,Arial,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;font-size:13px;margin:0.5em 0}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}\
th{background:#f3f3f3}figure{margin:1em 0}figcaption{font-size:13px;color:#555}code,pre{background:#f6f6f6}\
.meta td{text-align:left}</style></head><body>\n");
        h.push_str(&format!("<h1>{}</h1>\n", xml(&m.title)));
        h.push_str("<table class=\"meta\">");
        let cmd = if m.command.is_empty() {
            "–".to_string()
        } else {
            format!("genolm {}", m.command.join(" "))
        };
        for (k, v) in [
            ("genolm", m.genolm_version.clone()),
            ("commit", m.git_commit.clone()),
            ("rustc", m.rustc.clone()),
            (
                "features",
                if m.features.is_empty() {
                    "–".into()
                } else {
                    m.features.join(", ")
                },
            ),
            ("device", m.device.clone()),
            ("command", cmd),
            (
                "seeds",
                m.seeds
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            ),
        ] {
            h.push_str(&format!(
                "<tr><th>{k}</th><td><code>{}</code></td></tr>",
                xml(&v)
            ));
        }
        h.push_str("</table>\n");
        let (mut nf, mut nt) = (0, 0);
        for b in &self.blocks {
            match b {
                Block::Heading(t) => h.push_str(&format!("<h2>{}</h2>\n", xml(t))),
                Block::Text(t) => h.push_str(&format!("<p>{}</p>\n", xml(t))),
                Block::Figure { caption, fig, .. } => {
                    nf += 1;
                    h.push_str(&format!(
                        "<figure>{}<figcaption>Figure {nf}. {}</figcaption></figure>\n",
                        fig.svg(),
                        xml(caption)
                    ));
                }
                Block::Table {
                    name,
                    caption,
                    table,
                } => {
                    nt += 1;
                    h.push_str(&format!(
                        "<p><b>Table {nt}.</b> {} (<a href=\"tables/{name}.csv\">CSV</a>)</p>{}\n",
                        xml(caption),
                        table.to_html()
                    ));
                }
            }
        }
        if !m.metrics.is_empty() {
            h.push_str("<h2>Metrics</h2><table>");
            for (k, v) in &m.metrics {
                h.push_str(&format!(
                    "<tr><th style=\"text-align:left\">{}</th><td>{v:.6}</td></tr>",
                    xml(k)
                ));
            }
            h.push_str("</table>\n");
        }
        if !m.timings.is_empty() {
            h.push_str("<h2>Timings (s)</h2><table>");
            for (k, v) in &m.timings {
                h.push_str(&format!(
                    "<tr><th style=\"text-align:left\">{}</th><td>{v:.2}</td></tr>",
                    xml(k)
                ));
            }
            h.push_str("</table>\n");
        }
        if !m.datasets.is_empty() {
            h.push_str("<h2>Datasets</h2><table><tr><th>genome</th><th>files (sha256)</th></tr>");
            for d in &m.datasets {
                let files = d
                    .files
                    .iter()
                    .map(|(p, s)| format!("{} ({})", p, &s[..s.len().min(16)]))
                    .collect::<Vec<_>>()
                    .join("<br>");
                h.push_str(&format!("<tr><td style=\"text-align:left\">{}</td><td style=\"text-align:left\">{}</td></tr>", xml(&d.id), files));
            }
            h.push_str("</table>\n");
        }
        h.push_str("<p style=\"font-size:12px;color:#777\">Everything needed to re-run this report is in <a href=\"manifest.json\">manifest.json</a>: <code>genolm reproduce manifest.json</code>.</p>\n</body></html>\n");
        Ok(h)
    }

    /// Write the report into `dir` (created): `index.html`, `manifest.json`, `figures/`,
    /// `tables/`; every file is written atomically. Returns `dir`.
    pub fn write(&self, dir: impl AsRef<Path>) -> Result<PathBuf> {
        let dir = dir.as_ref().to_path_buf();
        for sub in ["figures", "tables"] {
            let d = dir.join(sub);
            std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
        }
        let mut m = self.manifest.clone();
        for b in &self.blocks {
            match b {
                Block::Figure { name, fig, .. } => {
                    let p = format!("figures/{name}.svg");
                    fig.save(dir.join(&p))?;
                    m.files.push(p);
                    // the same figure as a 300-dpi PNG (embedded font) for slides and journals
                    let p = format!("figures/{name}.png");
                    fig.save_png(dir.join(&p), 300.0)?;
                    m.files.push(p);
                }
                Block::Table { name, table, .. } => {
                    let p = format!("tables/{name}.csv");
                    table.to_csv(dir.join(&p))?;
                    m.files.push(p);
                }
                _ => {}
            }
        }
        atomic_write(&dir.join("index.html"), self.html()?.as_bytes())?;
        m.files.push("index.html".into());
        m.files.push("manifest.json".into());
        let json =
            serde_json::to_vec_pretty(&m).map_err(|e| Error::Input(format!("manifest: {e}")))?;
        atomic_write(&dir.join("manifest.json"), &json)?;
        Ok(dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_comparison() {
        let mut a = Manifest::default();
        let mut b = Manifest::default();
        a.metrics.insert("x".into(), 1.0);
        b.metrics.insert("x".into(), 1.0);
        a.metrics.insert("y".into(), 2.0);
        b.metrics.insert("y".into(), 2.0 + 1e-12);
        b.metrics.insert("z".into(), 3.0);
        let d = compare_metrics(&a, &b, 0.0);
        assert_eq!(
            d.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
            ["y", "z"]
        );
        let d = compare_metrics(&a, &b, 1e-9);
        assert_eq!(d.len(), 1);
    }
}
