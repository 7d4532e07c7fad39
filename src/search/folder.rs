//! The search folder: the coordination protocol between workers, over files only, so that
//! workers on several machines sharing a filesystem (a Slurm job array) run one search.
//!
//! ```text
//! SEARCH/search.toml              the search file (written once, read by every worker)
//! SEARCH/lock                     held for milliseconds while a worker picks its next job
//! SEARCH/trials/<id>/params.json  the trial's sampled values and bracket
//! SEARCH/trials/<id>/rung<r>.claim    a worker trains trial <id> up to rung r (its mtime is
//!                                     the heartbeat, refreshed while it trains)
//! SEARCH/trials/<id>/rung<r>.json     the result of rung r (validation loss, steps, seconds)
//! SEARCH/trials/<id>/run/         an ordinary run folder: checkpoint, metrics.jsonl, summary
//! ```
//!
//! Claims and results are created with `O_CREAT | O_EXCL` or written atomically (temp file +
//! rename), and the lock is a file created exclusively, so two workers never take the same job.
//! A claim whose worker died (same machine: its pid is gone; elsewhere: no heartbeat for
//! `stale_after_s`) is taken over, and the trial resumes from its run's checkpoint.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use super::space::Assignment;
use crate::{Error, Result};

/// A trial's identity: `params.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrialParams {
    /// Trial number (0-based, in creation order).
    pub id: usize,
    /// Hyperband bracket (its first rung); 0 for ASHA and the top rung for random search.
    pub bracket: usize,
    /// Sampled values by dotted key.
    pub params: Assignment,
}

/// The result of one rung: `rung<r>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RungResult {
    /// Trial.
    pub trial: usize,
    /// Rung.
    pub rung: usize,
    /// Optimizer steps trained so far.
    pub steps: usize,
    /// Validation loss after those steps (the search minimises it).
    pub valid_loss: f64,
    /// Wall-clock seconds of this rung's training.
    pub seconds: f64,
    /// The worker that trained it.
    pub worker: String,
}

/// Who holds a job: `rung<r>.claim`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// Worker name (`host:pid`).
    pub worker: String,
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
}

/// One trial as found in the folder.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialState {
    /// Its identity.
    pub params: TrialParams,
    /// Finished rungs.
    pub results: BTreeMap<usize, RungResult>,
    /// Claimed rungs without a result, and whether the claim is stale.
    pub claims: BTreeMap<usize, (Claim, bool)>,
}

impl TrialState {
    /// The highest finished rung's result.
    pub fn last(&self) -> Option<&RungResult> {
        self.results.values().next_back()
    }
}

pub use crate::fsio::host_name;

/// A search folder.
#[derive(Debug, Clone)]
pub struct SearchDir {
    /// Its root.
    pub root: PathBuf,
}

fn pid_alive(pid: u32) -> bool {
    // signal 0 checks existence; EPERM means it exists but belongs to someone else
    let r = unsafe { libc::kill(pid as libc::pid_t, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let b = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_slice(&b)
        .map_err(|e| Error::parse(path.display().to_string(), e.line(), e.to_string()))
}

/// Holds the folder's lock; released on drop.
#[derive(Debug)]
pub struct Lock(PathBuf);

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

impl SearchDir {
    /// The folder at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        SearchDir { root: root.into() }
    }
    /// Where the search file is.
    pub fn spec_path(&self) -> PathBuf {
        self.root.join("search.toml")
    }
    /// A trial's folder.
    pub fn trial_dir(&self, id: usize) -> PathBuf {
        self.root.join("trials").join(format!("{id:04}"))
    }
    /// A trial's run folder.
    pub fn run_dir(&self, id: usize) -> PathBuf {
        self.trial_dir(id).join("run")
    }
    fn claim_path(&self, id: usize, rung: usize) -> PathBuf {
        self.trial_dir(id).join(format!("rung{rung}.claim"))
    }
    fn result_path(&self, id: usize, rung: usize) -> PathBuf {
        self.trial_dir(id).join(format!("rung{rung}.json"))
    }

    /// Take the lock (waits while another worker holds it; a lock older than 30 s is left by
    /// a dead worker and broken).
    pub fn lock(&self) -> Result<Lock> {
        let path = self.root.join("lock");
        loop {
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let _ = writeln!(f, "{}:{}", host_name(), std::process::id());
                    return Ok(Lock(path));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let old = std::fs::metadata(&path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok())
                        .is_some_and(|age| age > Duration::from_secs(30));
                    if old {
                        let _ = std::fs::remove_file(&path);
                    } else {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
                Err(e) => return Err(Error::io(&path, e)),
            }
        }
    }

    /// Every trial, its results and claims (`stale_after_s` decides which claims are dead).
    pub fn scan(&self, stale_after_s: f64) -> Result<Vec<TrialState>> {
        let dir = self.root.join("trials");
        let mut out = Vec::new();
        let Ok(rd) = std::fs::read_dir(&dir) else {
            return Ok(out);
        };
        let mut names: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        names.sort();
        let host = host_name();
        for t in names {
            let p = t.join("params.json");
            if !p.exists() {
                continue;
            }
            let params: TrialParams = read_json(&p)?;
            let mut st = TrialState {
                params,
                results: BTreeMap::new(),
                claims: BTreeMap::new(),
            };
            for e in std::fs::read_dir(&t)
                .map_err(|e| Error::io(&t, e))?
                .flatten()
            {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(rest) = name.strip_prefix("rung") else {
                    continue;
                };
                if let Some(r) = rest.strip_suffix(".json").and_then(|r| r.parse().ok()) {
                    st.results.insert(r, read_json(&e.path())?);
                } else if let Some(r) = rest
                    .strip_suffix(".claim")
                    .and_then(|r| r.parse::<usize>().ok())
                {
                    let Ok(c) = read_json::<Claim>(&e.path()) else {
                        continue; // being written
                    };
                    let age = e
                        .metadata()
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| SystemTime::now().duration_since(t).ok())
                        .map(|d| d.as_secs_f64())
                        .unwrap_or(0.0);
                    let dead = (c.host == host && !pid_alive(c.pid)) || age > stale_after_s;
                    st.claims.insert(r, (c, dead));
                }
            }
            st.claims.retain(|r, _| !st.results.contains_key(r));
            out.push(st);
        }
        Ok(out)
    }

    /// Create trial `p` (under the lock).
    pub fn create_trial(&self, p: &TrialParams) -> Result<()> {
        let d = self.trial_dir(p.id);
        std::fs::create_dir_all(&d).map_err(|e| Error::io(&d, e))?;
        crate::fsio::atomic_write(
            &d.join("params.json"),
            &serde_json::to_vec_pretty(p).expect("params serialise"),
        )
    }

    /// A trial's identity (`params.json`).
    pub fn params(&self, id: usize) -> Result<TrialParams> {
        read_json(&self.trial_dir(id).join("params.json"))
    }

    /// Claim rung `rung` of trial `id` for `worker` in this process (under the lock),
    /// replacing a stale claim.
    pub fn claim(&self, id: usize, rung: usize, worker: &str) -> Result<Claim> {
        let c = Claim {
            worker: worker.to_string(),
            host: host_name(),
            pid: std::process::id(),
        };
        let path = self.claim_path(id, rung);
        let _ = std::fs::remove_file(&path);
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        f.write_all(&serde_json::to_vec(&c).expect("claim serialises"))
            .map_err(|e| Error::io(&path, e))?;
        Ok(c)
    }

    /// Refresh the heartbeat of a claim.
    pub fn heartbeat(&self, id: usize, rung: usize) {
        if let Ok(f) = OpenOptions::new()
            .write(true)
            .open(self.claim_path(id, rung))
        {
            let _ = f.set_modified(SystemTime::now());
        }
    }

    /// Record a finished rung.
    pub fn finish(&self, r: &RungResult) -> Result<()> {
        crate::fsio::atomic_write(
            &self.result_path(r.trial, r.rung),
            &serde_json::to_vec_pretty(r).expect("results serialise"),
        )?;
        let _ = std::fs::remove_file(self.claim_path(r.trial, r.rung));
        Ok(())
    }
}
