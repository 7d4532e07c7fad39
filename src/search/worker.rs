//! A worker: take a job under the folder's lock, train it (an ordinary run folder, resumed from
//! its checkpoint when it exists), record the result, repeat until the search is done.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::folder::{RungResult, SearchDir};
use super::scheduler::{next_job, Job};
use super::space::SearchSpec;
use crate::train::run::{run_training_with, RunOptions};
use crate::{Error, Result};

/// What one worker did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerReport {
    /// `(trial, rung)` jobs finished by this worker, in order.
    pub jobs: Vec<(usize, usize)>,
}

/// Train rung `rung` of trial `id` and return its result. A trial that fails to train (the
/// loss became NaN at a too high learning rate) gets the worst possible loss and the error,
/// so the search goes on without it.
pub fn run_trial(
    dir: &SearchDir,
    spec: &SearchSpec,
    id: usize,
    rung: usize,
    worker: &str,
    verbose: bool,
) -> Result<RungResult> {
    let o = &spec.search;
    let params = dir.params(id)?;
    let epochs = o.max_budget / o.min_budget;
    let cfg = spec.run_config(&params.params, &dir.run_dir(id), epochs, o.min_budget)?;
    let resume = cfg.output.join("state.json").exists();
    let t0 = Instant::now();
    let ro = RunOptions {
        stop_at_step: Some(o.budget(rung)),
        kingdom_eval: false,
        verbose,
        distributed: None,
    };
    let (steps, valid_loss) = match run_training_with(&cfg, resume, &ro) {
        Ok(s) => {
            let last = s.history.last();
            (
                last.map(|e| e.step).unwrap_or(0),
                last.and_then(|e| e.valid_loss).unwrap_or(f64::MAX),
            )
        }
        Err(e @ Error::Training { .. }) => {
            eprintln!("search: trial {id} rung {rung} failed: {e}");
            (o.budget(rung), f64::MAX)
        }
        Err(e) => return Err(e),
    };
    Ok(RungResult {
        trial: id,
        rung,
        steps,
        valid_loss: if valid_loss.is_finite() {
            valid_loss
        } else {
            f64::MAX
        },
        seconds: t0.elapsed().as_secs_f64(),
        worker: worker.to_string(),
    })
}

/// Work on the search in `root` until it is done: the loop every worker process runs
/// (`genolm search --worker`), on one machine or many.
pub fn work(root: &Path, worker: &str, verbose: bool) -> Result<WorkerReport> {
    let dir = SearchDir::new(root);
    let spec = SearchSpec::from_file(&dir.spec_path())?;
    let mut report = WorkerReport::default();
    loop {
        let job = {
            let _lock = dir.lock()?;
            let trials = dir.scan(spec.search.stale_after_s)?;
            match next_job(&spec, &trials) {
                Job::Run { trial, rung, new } => {
                    if let Some(p) = &new {
                        dir.create_trial(p)?;
                    }
                    dir.claim(trial, rung, worker)?;
                    Some((trial, rung))
                }
                Job::Wait => None,
                Job::Done => return Ok(report),
            }
        };
        let Some((trial, rung)) = job else {
            std::thread::sleep(Duration::from_millis(300));
            continue;
        };
        if verbose {
            println!(
                "{worker}: trial {trial} → rung {rung} ({} steps)",
                spec.search.budget(rung)
            );
        }
        let alive = AtomicBool::new(true);
        let every = Duration::from_secs_f64((spec.search.stale_after_s / 4.0).clamp(0.05, 10.0));
        let result = std::thread::scope(|s| {
            s.spawn(|| {
                while alive.load(Ordering::Relaxed) {
                    dir.heartbeat(trial, rung);
                    std::thread::sleep(every);
                }
            });
            let r = run_trial(&dir, &spec, trial, rung, worker, verbose);
            alive.store(false, Ordering::Relaxed);
            r
        })?;
        dir.finish(&result)?;
        report.jobs.push((trial, rung));
    }
}

/// How [`run_local`] runs workers.
#[derive(Debug, Clone, Default)]
pub struct LocalOptions {
    /// Worker processes (or threads) at a time.
    pub workers: usize,
    /// The `genolm` executable to start workers with (`genolm search --worker --out DIR`);
    /// None runs them as threads of this process (notebooks).
    pub exe: Option<PathBuf>,
    /// Print progress.
    pub verbose: bool,
}

/// Write the search file into `root`, or check that the one there is the same search (workers
/// started elsewhere, `genolm search --worker`, read it from there).
pub fn prepare(root: &Path, spec: &SearchSpec) -> Result<()> {
    let dir = SearchDir::new(root);
    std::fs::create_dir_all(root).map_err(|e| Error::io(root, e))?;
    let path = dir.spec_path();
    if path.exists() {
        let old = SearchSpec::from_file(&path)?;
        if &old != spec {
            return Err(Error::Config(format!(
                "{} holds a different search; use another folder (or the same search file)",
                path.display()
            )));
        }
        return Ok(());
    }
    let text = toml::to_string(spec).map_err(|e| Error::Config(format!("search: {e}")))?;
    crate::fsio::atomic_write(&path, text.as_bytes())
}

/// [`prepare`] the folder and run `workers` workers on this machine until the search is done.
/// Finished rungs are never run again: calling it after a crash continues the search.
pub fn run_local(root: &Path, spec: &SearchSpec, o: &LocalOptions) -> Result<()> {
    prepare(root, spec)?;
    let n = o.workers.max(1);
    match &o.exe {
        Some(exe) => {
            let cores = std::thread::available_parallelism()
                .map(|c| c.get())
                .unwrap_or(1);
            let mut children = Vec::new();
            for _ in 0..n {
                let mut cmd = std::process::Command::new(exe);
                cmd.args(["search", "--worker", "--out"]).arg(root);
                cmd.env("RAYON_NUM_THREADS", (cores / n).max(1).to_string());
                if !o.verbose {
                    cmd.arg("--quiet");
                }
                children.push(cmd.spawn().map_err(|e| Error::io(exe, e))?);
            }
            let mut failed = 0;
            for mut c in children {
                let st = c.wait().map_err(|e| Error::io(exe, e))?;
                failed += usize::from(!st.success());
            }
            if failed > 0 {
                return Err(Error::Input(format!(
                    "{failed} of {n} search workers failed"
                )));
            }
            Ok(())
        }
        None => std::thread::scope(|s| {
            let hs: Vec<_> = (0..n)
                .map(|i| {
                    let name = format!("{}:{}:{i}", super::folder::host_name(), std::process::id());
                    s.spawn(move || work(root, &name, o.verbose))
                })
                .collect();
            for h in hs {
                h.join()
                    .map_err(|_| Error::Input("a search worker panicked".into()))??;
            }
            Ok(())
        }),
    }
}
