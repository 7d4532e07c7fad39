//! Seqlets: short stretches of high attribution, called as TF-MoDISco does (Shrikumar et al.
//! 2018): per-position contributions summed over a sliding window, a null from the same
//! contributions at permuted positions, a threshold per sign at a target false discovery
//! rate, and greedy non-overlapping calls around the best windows.
//!
//! ```
//! use genolm::explain::attribution::Attribution;
//! use genolm::explain::seqlets::{call_seqlets, SeqletOptions};
//! // a flat map with one strong stretch at 40..46
//! let mut v = vec![0.01f32; 100];
//! for i in 40..46 { v[i] = 1.0; }
//! let a = Attribution { method: "x".into(), sequence: vec![b'A'; 100], k: 1, per_token: v,
//!     per_base: None, output: 0.0, baseline_output: None, hypothetical: None, convergence: None };
//! let calls = call_seqlets(&[a], &SeqletOptions { window: 6, flank: 2, ..Default::default() })?;
//! assert_eq!(calls.seqlets.len(), 1);
//! assert_eq!((calls.seqlets[0].start, calls.seqlets[0].end), (38, 48));
//! # Ok::<(), genolm::Error>(())
//! ```

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::attribution::Attribution;
use crate::table::Table;
use crate::{Error, Result};

/// Options of [`call_seqlets`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SeqletOptions {
    /// Width of the scoring window (the seqlet's core).
    pub window: usize,
    /// Bases added on each side of the core.
    pub flank: usize,
    /// Target false discovery rate of the window threshold (per sign).
    pub target_fdr: f64,
    /// Permutations of each sequence's contributions for the null.
    pub n_null: usize,
    /// Most seqlets per sequence.
    pub max_per_sequence: usize,
    /// Seed of the permutations.
    pub seed: u64,
}

impl Default for SeqletOptions {
    fn default() -> Self {
        SeqletOptions {
            window: 11,
            flank: 5,
            target_fdr: 0.05,
            n_null: 4,
            max_per_sequence: 10,
            seed: 0,
        }
    }
}

/// One seqlet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seqlet {
    /// Index of the attribution (sequence) it comes from.
    pub example: usize,
    /// 0-based start (core start − flank; may be clipped at the sequence start).
    pub start: usize,
    /// Exclusive end.
    pub end: usize,
    /// Start of the scoring window.
    pub core: usize,
    /// The window's summed contribution (signed).
    pub score: f64,
    /// Empirical p-value of `|score|` against the null windows of the same sign.
    pub p: f64,
}

impl Seqlet {
    /// +1 or −1.
    pub fn sign(&self) -> f64 {
        self.score.signum()
    }
}

/// The seqlets of a set of attributions, with the thresholds used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeqletCalls {
    /// Seqlets, strongest first within each sequence.
    pub seqlets: Vec<Seqlet>,
    /// Window-sum threshold for positive seqlets.
    pub positive_threshold: f64,
    /// Window-sum threshold (a negative number) for negative seqlets.
    pub negative_threshold: f64,
    /// Windows scored.
    pub windows: usize,
}

fn window_sums(v: &[f32], w: usize) -> Vec<f64> {
    if v.len() < w {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(v.len() - w + 1);
    let mut s: f64 = v[..w].iter().map(|&x| x as f64).sum();
    out.push(s);
    for i in w..v.len() {
        s += v[i] as f64 - v[i - w] as f64;
        out.push(s);
    }
    out
}

/// The smallest threshold `t` (over the observed values) at which the estimated false
/// discovery rate `scale · #(null ≥ t) / #(obs ≥ t)` is at most `fdr` (`scale` = observed
/// windows / null windows); `+∞` when none. Sorts both descending.
fn fdr_threshold(obs: &mut [f64], null: &mut [f64], fdr: f64, scale: f64) -> f64 {
    obs.sort_by(|a, b| b.total_cmp(a));
    null.sort_by(|a, b| b.total_cmp(a));
    if obs.is_empty() {
        return f64::INFINITY;
    }
    let mut best = f64::INFINITY;
    let mut j = 0;
    for (i, &t) in obs.iter().enumerate() {
        if t <= 0.0 {
            break;
        }
        while j < null.len() && null[j] >= t {
            j += 1;
        }
        if j as f64 * scale / (i + 1) as f64 <= fdr {
            best = t;
        }
    }
    best
}

/// Call seqlets on per-position contributions (`per_token`; nucleotide models give one value
/// per base).
pub fn call_seqlets(attrs: &[Attribution], opts: &SeqletOptions) -> Result<SeqletCalls> {
    if opts.window == 0 {
        return Err(Error::Input("seqlet window must be at least 1".into()));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let sums: Vec<Vec<f64>> = attrs
        .iter()
        .map(|a| window_sums(&a.per_token, opts.window))
        .collect();
    let mut null: Vec<f64> = Vec::new();
    for a in attrs {
        for _ in 0..opts.n_null.max(1) {
            let mut v = a.per_token.clone();
            v.shuffle(&mut rng);
            null.extend(window_sums(&v, opts.window));
        }
    }
    let windows: usize = sums.iter().map(Vec::len).sum();
    let mut pos_obs: Vec<f64> = sums
        .iter()
        .flatten()
        .copied()
        .filter(|&v| v > 0.0)
        .collect();
    let mut neg_obs: Vec<f64> = sums
        .iter()
        .flatten()
        .filter(|&&v| v < 0.0)
        .map(|v| -v)
        .collect();
    let mut pos_null: Vec<f64> = null.iter().copied().filter(|&v| v > 0.0).collect();
    let mut neg_null: Vec<f64> = null.iter().filter(|&&v| v < 0.0).map(|v| -v).collect();
    let n_all_null = null.len().max(1) as f64;
    let scale = windows as f64 / n_all_null;
    let pt = fdr_threshold(&mut pos_obs, &mut pos_null, opts.target_fdr, scale);
    let nt = fdr_threshold(&mut neg_obs, &mut neg_null, opts.target_fdr, scale);
    let p_of = |v: f64| -> f64 {
        let nl = if v > 0.0 { &pos_null } else { &neg_null };
        let a = v.abs();
        // nl is sorted descending
        let ge = nl.partition_point(|&x| x >= a);
        (1 + ge) as f64 / (1.0 + n_all_null)
    };
    let mut seqlets = Vec::new();
    for (ex, s) in sums.iter().enumerate() {
        let len = attrs[ex].per_token.len();
        let mut taken = vec![false; s.len()];
        let mut order: Vec<usize> = (0..s.len()).collect();
        order.sort_by(|&a, &b| s[b].abs().total_cmp(&s[a].abs()));
        let mut n = 0;
        for i in order {
            if n >= opts.max_per_sequence {
                break;
            }
            let v = s[i];
            let pass = (v > 0.0 && v >= pt) || (v < 0.0 && -v >= nt);
            if !pass || taken[i] {
                continue;
            }
            let lo = i.saturating_sub(opts.window - 1);
            let hi = (i + opts.window).min(s.len());
            taken[lo..hi].iter_mut().for_each(|t| *t = true);
            seqlets.push(Seqlet {
                example: ex,
                start: i.saturating_sub(opts.flank),
                end: (i + opts.window + opts.flank).min(len),
                core: i,
                score: v,
                p: p_of(v),
            });
            n += 1;
        }
    }
    Ok(SeqletCalls {
        seqlets,
        positive_threshold: pt,
        negative_threshold: -nt,
        windows,
    })
}

impl SeqletCalls {
    /// The seqlets as a table (`example`, `start`, `end`, `score`, `p`).
    pub fn table(&self) -> Result<Table> {
        use polars::prelude::*;
        let s = &self.seqlets;
        let df = DataFrame::new(
            s.len(),
            vec![
                Column::new(
                    "example".into(),
                    s.iter().map(|x| x.example as u64).collect::<Vec<_>>(),
                ),
                Column::new(
                    "start".into(),
                    s.iter().map(|x| x.start as u64).collect::<Vec<_>>(),
                ),
                Column::new(
                    "end".into(),
                    s.iter().map(|x| x.end as u64).collect::<Vec<_>>(),
                ),
                Column::new(
                    "score".into(),
                    s.iter().map(|x| x.score).collect::<Vec<_>>(),
                ),
                Column::new("p".into(), s.iter().map(|x| x.p).collect::<Vec<_>>()),
            ],
        )?;
        Ok(Table::new("seqlets", df))
    }
}
