//! `genolm monitor`: a live page of training runs and searches, served on 127.0.0.1.
//!
//! The page (one HTML file with its script inline, no outside resources) polls a small JSON
//! API every two seconds and draws each run's curves as they grow: smoothed training loss per
//! step, validation loss per epoch, learning rate, and a table of every run (step, losses,
//! tokens/s, memory) and of every search's trials.
//!
//! * `GET /api/runs`: the runs and searches under the watched folders (found again on every
//!   call, so new runs appear and deleted ones go).
//! * `GET /api/metrics?run=N&from=OFFSET`: run N's `metrics.jsonl` records after byte OFFSET.
//!
//! Runs are addressed by their number in the list, never by a path, so nothing outside the
//! watched folders can be asked for; the server binds to loopback unless told otherwise.
//!
//! ```no_run
//! use genolm::monitor::{Monitor, MonitorOptions};
//! let m = Monitor::start(&["runs".into()], &MonitorOptions::default())?;
//! println!("watching on http://{}", m.addr());
//! m.wait();
//! # Ok::<(), genolm::Error>(())
//! ```

mod server;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use server::{Monitor, MonitorOptions};

use crate::train::metrics_log::{read_records, METRICS_FILE};
use crate::Result;

/// A run found under a watched folder.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunEntry {
    /// Its number in this listing.
    pub id: usize,
    /// Its path relative to the watched folder, prefixed by that folder's name.
    pub name: String,
    /// Bytes of its `metrics.jsonl` (grows while it trains).
    pub bytes: u64,
    /// Whether its `summary.json` exists (finished or stopped at a search rung).
    pub finished: bool,
    #[serde(skip)]
    path: PathBuf,
}

/// A search found under a watched folder: its trials as rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchEntry {
    /// Folder name.
    pub name: String,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows (strings as shown).
    pub rows: Vec<Vec<String>>,
    /// The validation loss of every trial against its budget, and which parameters matter
    /// (inline SVG, drawn by genolm).
    pub figures: Vec<String>,
}

/// What `/api/runs` returns.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Listing {
    /// Runs.
    pub runs: Vec<RunEntry>,
    /// Searches.
    pub searches: Vec<SearchEntry>,
}

fn label(root: &Path, p: &Path) -> String {
    let base = root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| root.display().to_string());
    match p.strip_prefix(root) {
        Ok(rel) if rel.as_os_str().is_empty() => base,
        Ok(rel) => format!("{base}/{}", rel.display()),
        Err(_) => p.display().to_string(),
    }
}

fn walk(dir: &Path, depth: usize, runs: &mut Vec<PathBuf>, searches: &mut Vec<PathBuf>) {
    if dir.join(METRICS_FILE).is_file() {
        runs.push(dir.to_path_buf());
    }
    if dir.join("search.toml").is_file() {
        searches.push(dir.to_path_buf());
    }
    if depth == 0 {
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut subs: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false)) // no symlinks out
        .map(|e| e.path())
        .collect();
    subs.sort();
    for s in subs {
        walk(&s, depth - 1, runs, searches);
    }
}

fn walk_roots(roots: &[PathBuf]) -> Vec<(&PathBuf, Vec<PathBuf>, Vec<PathBuf>)> {
    roots
        .iter()
        .map(|root| {
            let (mut runs, mut searches) = (Vec::new(), Vec::new());
            walk(root, 4, &mut runs, &mut searches);
            (root, runs, searches)
        })
        .collect()
}

/// The runs under `roots`, numbered as [`list`] numbers them (what `/api/metrics` needs: no
/// search tables or figures).
pub fn list_runs(roots: &[PathBuf]) -> Vec<RunEntry> {
    run_entries(&walk_roots(roots))
}

fn run_entries(walked: &[(&PathBuf, Vec<PathBuf>, Vec<PathBuf>)]) -> Vec<RunEntry> {
    let mut out = Vec::new();
    for (root, runs, _) in walked {
        for p in runs.iter().cloned() {
            let bytes = std::fs::metadata(p.join(METRICS_FILE))
                .map(|m| m.len())
                .unwrap_or(0);
            out.push(RunEntry {
                id: out.len(),
                name: label(root, &p),
                bytes,
                finished: p.join("summary.json").is_file(),
                path: p,
            });
        }
    }
    out
}

/// The runs and searches under `roots` (a run folder, a search folder, or a folder of them,
/// up to four levels deep).
pub fn list(roots: &[PathBuf]) -> Listing {
    let walked = walk_roots(roots);
    let mut out = Listing {
        runs: run_entries(&walked),
        searches: Vec::new(),
    };
    for (root, _, searches) in &walked {
        for s in searches {
            if let Ok(r) = crate::search::SearchResults::load(s) {
                if let Ok(t) = r.table() {
                    let df = &t.df;
                    let figures = if r.ranked().is_empty() {
                        Vec::new()
                    } else {
                        [r.plot_budget(), r.plot_importance()]
                            .into_iter()
                            .filter_map(|f| f.ok().map(|f| f.svg().to_string()))
                            .collect()
                    };
                    out.searches.push(SearchEntry {
                        figures,
                        name: label(root, s),
                        columns: df
                            .get_column_names()
                            .iter()
                            .map(|c| c.to_string())
                            .collect(),
                        rows: (0..t.height()).map(|i| t.row_strings(i)).collect(),
                    });
                }
            }
        }
    }
    out
}

/// Run `id`'s records from byte `from` of its log, as JSON `{"records": [...], "offset": N,
/// "reset": bool}`
/// (None when there is no such run).
pub fn metrics_json(runs: &[RunEntry], id: usize, from: u64) -> Option<Result<String>> {
    let run = runs.get(id)?;
    let path = run.path.join(METRICS_FILE);
    // a resumed run rewrites its log shorter: start again from the top
    let reset = from > std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let from = if reset { 0 } else { from };
    Some(read_records(&path, from).map(|(records, offset)| {
        serde_json::json!({ "records": records, "offset": offset, "reset": reset }).to_string()
    }))
}
