//! Hyperparameter search (seed 000's multi-fidelity wish): ASHA, asynchronous Hyperband and
//! random search over any run-file field — learning rate, dropout, widths and depths, k-mer
//! and stride, batch and BPTT, the architecture itself.
//!
//! * [`space`]: the search file (`[search]`, `[base]`, `[space]`).
//! * [`scheduler`]: which job comes next (promotions, new trials, the budget).
//! * [`folder`]: the protocol between workers over a shared folder (lock, claims, heartbeats,
//!   results), so one search spreads over processes and machines.
//! * [`worker`]: the worker loop and [`run_local`].
//! * [`results`]: trials table, best run file, plots.
//!
//! Every trial is an ordinary run folder trained with [`run_training_with`](crate::train::run::run_training_with)
//! (crate::train::run::run_training_with); a promotion resumes it from its checkpoint, so the
//! steps of rung r are never trained twice, and a worker killed mid-trial costs at most one
//! evaluation interval.
//!
//! ```no_run
//! use genolm::search::{search, SearchSpec, LocalOptions};
//! let spec = SearchSpec::from_file("space.toml".as_ref())?;
//! let results = search("runs/search".as_ref(), &spec, &LocalOptions { workers: 2, ..Default::default() })?;
//! println!("{}", results.text());
//! # Ok::<(), genolm::Error>(())
//! ```

pub mod folder;
pub mod results;
pub mod scheduler;
pub mod space;
pub mod worker;

use std::path::Path;

pub use results::SearchResults;
pub use space::{Method, Param, SearchOptions, SearchSpec};
pub use worker::{prepare, run_local, work, LocalOptions};

use crate::Result;

/// Run (or continue) the search `spec` in `root` with local workers, then write and return
/// its results (`trials.csv`, `best.toml`, `loss_vs_budget.svg`, `importance.svg`).
pub fn search(root: &Path, spec: &SearchSpec, o: &LocalOptions) -> Result<SearchResults> {
    run_local(root, spec, o)?;
    let r = SearchResults::load(root)?;
    r.write(root)?;
    Ok(r)
}
