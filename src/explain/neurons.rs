//! `identify_explainable_neurons(states, targets)`: which neurons encode known features?
//!
//! Seed 000: "takes a file of neuron responses and calculates the neuron-wise correlation with a
//! set of known features and outputs the neurons with highest correlation coefficients".
//! For every neuron × target it computes AUROC (binary targets) with the Mann–Whitney p-value,
//! best-threshold accuracy, and the Pearson (point-biserial) correlation with its p-value;
//! p-values are corrected across all neurons × targets (Benjamini–Hochberg and Bonferroni).
//! A sparse L1 logistic probe per binary target is fit on the first part of the rows (one
//! part of the genome) and scored on the rest.
//!
//! Neighbouring positions of a genome are not independent, so the p-values treat rows as
//! independent samples and are optimistic; thin the rows (`PredictOptions::every`) or compare
//! with [`shuffle_targets`] to calibrate. The probe's held-out accuracy is the honest number.
//!
//! ```
//! use genolm::explain::neurons::{identify_explainable_neurons, NeuronOptions, Target};
//! use genolm::infer::{LayerStates, RecordInfo, States};
//! // two neurons over 200 positions; neuron 1 follows the target
//! let target: Vec<f32> = (0..200).map(|i| ((i / 20) % 2) as f32).collect();
//! let data: Vec<f32> = (0..200).flat_map(|i| [((i * 7919) % 13) as f32, target[i] + 0.1 * ((i % 3) as f32)]).collect();
//! let states = States { k: 1, stride: 1, every: 1,
//!     layers: vec![LayerStates { name: "lstm.0".into(), units: 2, data }],
//!     records: vec![RecordInfo { name: "x".into(), length: 200, row_offset: 0, n_rows: 200 }],
//!     sequences: vec![vec![b'A'; 200]], record: vec![0; 200], position: (0..200).collect() };
//! let rep = identify_explainable_neurons(&states, &[Target::new("CDS", target)], &NeuronOptions::default())?;
//! assert_eq!(rep.top("CDS", 1)[0].unit, 1);
//! println!("{}", rep.print_top("CDS", 2));   // "Neuron lstm.0/1: Accuracy = 1.00 …"
//! # Ok::<(), genolm::Error>(())
//! ```

use polars::prelude::*;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::stats;
use crate::data::tracks::Tracks;
use crate::infer::States;
use crate::plot::{Figure, TrackFeature};
use crate::table::Table;
use crate::{Error, Result};

/// A per-row target aligned to the states (0/1 for binary targets, or real values).
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Name (`CDS`, `aa_K`, `gc`, …).
    pub name: String,
    /// One value per state row.
    pub values: Vec<f32>,
}

impl Target {
    /// A named target.
    pub fn new(name: impl Into<String>, values: Vec<f32>) -> Self {
        Self {
            name: name.into(),
            values,
        }
    }
    /// Are all values 0 or 1?
    pub fn is_binary(&self) -> bool {
        self.values.iter().all(|&v| v == 0.0 || v == 1.0)
    }
}

/// Targets of record `record` from annotation tracks (CDS, strands, codon positions, amino
/// acids, regions), aligned to the states' rows; targets with fewer than `min_class` positives
/// or negatives are left out.
pub fn targets_from_tracks(
    states: &States,
    record: usize,
    tracks: &Tracks,
    min_class: usize,
) -> Result<Vec<Target>> {
    let info = states
        .records
        .get(record)
        .ok_or_else(|| Error::Input(format!("no record {record}")))?;
    let mut out = Vec::new();
    for (name, v) in tracks.targets() {
        let aligned = states.align_track(record, &v)?;
        let pos = aligned.iter().filter(|&&x| x > 0.5).count();
        if pos >= min_class && info.n_rows - pos >= min_class {
            out.push(Target::new(name, aligned));
        }
    }
    Ok(out)
}

/// Permute every target's values (seeded): the null where no neuron can be explained.
pub fn shuffle_targets(targets: &[Target], seed: u64) -> Vec<Target> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    targets
        .iter()
        .map(|t| {
            let mut v = t.values.clone();
            v.shuffle(&mut rng);
            Target::new(format!("{}_shuffled", t.name), v)
        })
        .collect()
}

/// A null distribution that keeps the autocorrelation of genomes: the target is circularly
/// shifted by `n_shifts` seeded offsets (each at least 10 % of the rows away) and, for each
/// shift, the best effect (`|AUROC − 0.5|`, or `|r|`) over all neurons is recorded. The
/// fraction of shifts whose best effect reaches an observed one is an empirical p-value that,
/// unlike the per-row tests, does not assume independent positions.
pub fn shift_null(
    states: &States,
    target: &Target,
    opts: &NeuronOptions,
    n_shifts: usize,
    seed: u64,
) -> Result<Vec<f64>> {
    use rand::Rng;
    let n = target.values.len();
    if n < 10 {
        return Err(Error::Input("too few rows for a shift null".into()));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut o = NeuronOptions {
        probe: false,
        ..opts.clone()
    };
    // Smooth once, not once per shift: the shifts move the target, not the states.
    let smoothed: States;
    let states = if opts.smooth > 1 {
        smoothed = States {
            layers: selected_layers(states, opts)?
                .into_iter()
                .map(|l| smooth_layer(l, states, opts.smooth))
                .collect(),
            records: states.records.clone(),
            sequences: states.sequences.clone(),
            record: states.record.clone(),
            position: states.position.clone(),
            ..*states
        };
        o.smooth = 1;
        &smoothed
    } else {
        states
    };
    let mut out = Vec::with_capacity(n_shifts);
    for _ in 0..n_shifts {
        let off = rng.random_range(n / 10..n - n / 10);
        let mut v = target.values[off..].to_vec();
        v.extend_from_slice(&target.values[..off]);
        let rep = identify_explainable_neurons(states, &[Target::new(&target.name, v)], &o)?;
        out.push(rep.scores.first().map(|s| s.effect()).unwrap_or(0.0));
    }
    Ok(out)
}

/// Options of [`identify_explainable_neurons`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NeuronOptions {
    /// Layers to analyse; empty = every layer except `embed` and `log_probs`.
    pub layers: Vec<String>,
    /// False-discovery rate for the `significant` flag (Benjamini–Hochberg).
    pub fdr: f64,
    /// Fit a sparse probe per binary target.
    pub probe: bool,
    /// The probe keeps at most this many neurons.
    pub probe_max_neurons: usize,
    /// Fraction of rows (the first part of the genome) the probe is fit on.
    pub probe_train_fraction: f64,
    /// At most this many training rows (sampled with `seed`).
    pub probe_max_rows: usize,
    /// The probe considers the neurons most correlated with the target on the training rows
    /// (screening), at most this many.
    pub probe_candidates: usize,
    /// Seed for sampling.
    pub seed: u64,
    /// Centred moving average of each neuron over this many rows (within a record) before
    /// scoring; 1 = raw activations. Features such as CDS span hundreds of bases, and a
    /// neuron's evidence may be spread along them.
    pub smooth: usize,
}

impl Default for NeuronOptions {
    fn default() -> Self {
        Self {
            layers: Vec::new(),
            fdr: 0.05,
            probe: true,
            probe_max_neurons: 10,
            probe_train_fraction: 0.7,
            probe_max_rows: 10_000,
            probe_candidates: 64,
            seed: 0,
            smooth: 1,
        }
    }
}

/// One neuron × target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NeuronScore {
    /// Layer name.
    pub layer: String,
    /// Unit within the layer.
    pub unit: usize,
    /// Target name.
    pub target: String,
    /// AUROC (NaN for real-valued targets).
    pub auroc: f64,
    /// Best-threshold accuracy (NaN for real-valued targets).
    pub accuracy: f64,
    /// The threshold.
    pub threshold: f32,
    /// +1: high activation means the target; −1: low activation does.
    pub direction: i8,
    /// Pearson / point-biserial correlation.
    pub r: f64,
    /// p-value of the test used for correction (Mann–Whitney for binary, Pearson otherwise).
    pub p: f64,
    /// Benjamini–Hochberg q-value over all neurons × targets.
    pub q_bh: f64,
    /// Bonferroni-adjusted p-value.
    pub p_bonferroni: f64,
    /// `q_bh ≤ fdr`.
    pub significant: bool,
}

impl NeuronScore {
    /// `layer/unit`.
    pub fn neuron(&self) -> String {
        format!("{}/{}", self.layer, self.unit)
    }
    /// Effect size used for ranking: `|AUROC − 0.5|` for binary targets, `|r|` otherwise.
    pub fn effect(&self) -> f64 {
        if self.auroc.is_finite() {
            (self.auroc - 0.5).abs()
        } else {
            self.r.abs()
        }
    }
}

/// A sparse probe for one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// Target name.
    pub target: String,
    /// Selected neurons (`layer/unit`) and their coefficients on standardized activations.
    pub neurons: Vec<(String, f64)>,
    /// L1 penalty chosen.
    pub lambda: f64,
    /// Accuracy on the training part.
    pub train_accuracy: f64,
    /// Accuracy on the held-out part.
    pub test_accuracy: f64,
    /// Held-out accuracy of always predicting the training majority class.
    pub baseline_accuracy: f64,
    /// Held-out AUROC.
    pub test_auroc: f64,
}

/// Result of [`identify_explainable_neurons`].
#[derive(Debug, Clone)]
pub struct NeuronReport {
    /// Every neuron × target, best effect first.
    pub scores: Vec<NeuronScore>,
    /// One sparse probe per binary target (when asked).
    pub probes: Vec<Probe>,
    /// Number of tests corrected for.
    pub n_tests: usize,
    /// Rows analysed.
    pub n_rows: usize,
    /// Target names in input order.
    pub targets: Vec<String>,
    /// The FDR level.
    pub fdr: f64,
}

/// Rank neurons of `states` by how well they explain each target (see the module docs).
pub fn identify_explainable_neurons(
    states: &States,
    targets: &[Target],
    opts: &NeuronOptions,
) -> Result<NeuronReport> {
    let n = states.n_rows();
    for t in targets {
        if t.values.len() != n {
            return Err(Error::Shape(format!(
                "target {} has {} values for {n} state rows; align it with States::align_track",
                t.name,
                t.values.len()
            )));
        }
    }
    let layers = selected_layers(states, opts)?;
    if layers.is_empty() || n < 3 {
        return Err(Error::Input(
            "no layers or fewer than 3 rows to analyse".into(),
        ));
    }
    let smoothed: Vec<crate::infer::LayerStates>;
    let layers: Vec<&crate::infer::LayerStates> = if opts.smooth > 1 {
        smoothed = layers
            .iter()
            .map(|l| smooth_layer(l, states, opts.smooth))
            .collect();
        smoothed.iter().collect()
    } else {
        layers
    };
    let bins: Vec<Option<Vec<bool>>> = targets
        .iter()
        .map(|t| {
            t.is_binary()
                .then(|| t.values.iter().map(|&v| v > 0.5).collect())
        })
        .collect();
    let neurons: Vec<(usize, usize)> = layers
        .iter()
        .enumerate()
        .flat_map(|(li, l)| (0..l.units).map(move |u| (li, u)))
        .collect();
    let mut scores: Vec<NeuronScore> = neurons
        .par_iter()
        .flat_map_iter(|&(li, u)| {
            let l = layers[li];
            let x = l.unit(u);
            let mut order: Vec<usize> = (0..x.len()).collect();
            order.sort_unstable_by(|&a, &b| x[a].total_cmp(&x[b]));
            let (rk, ties) = stats::ranks_sorted(&x, &order);
            let mut v = Vec::with_capacity(targets.len());
            for (t, b) in targets.iter().zip(&bins) {
                let (r, p_r) = stats::pearson(&x, &t.values);
                let (auroc, p_mw, acc, thr, dir) = match b {
                    Some(lab) => {
                        let (a, p) = stats::auroc_from_ranks(&rk, ties, lab);
                        let (acc, thr, dir) =
                            stats::best_threshold_accuracy_sorted(&x, &order, lab);
                        (a, p, acc, thr, dir)
                    }
                    None => (
                        f64::NAN,
                        f64::NAN,
                        f64::NAN,
                        0.0,
                        if r >= 0.0 { 1 } else { -1 },
                    ),
                };
                v.push(NeuronScore {
                    layer: l.name.clone(),
                    unit: u,
                    target: t.name.clone(),
                    auroc,
                    accuracy: acc,
                    threshold: thr,
                    direction: dir,
                    r,
                    p: if b.is_some() { p_mw } else { p_r },
                    q_bh: 1.0,
                    p_bonferroni: 1.0,
                    significant: false,
                });
            }
            v
        })
        .collect();
    let ps: Vec<f64> = scores
        .iter()
        .map(|s| if s.p.is_finite() { s.p } else { 1.0 })
        .collect();
    let q = stats::benjamini_hochberg(&ps);
    let bo = stats::bonferroni(&ps);
    for (i, s) in scores.iter_mut().enumerate() {
        s.q_bh = q[i];
        s.p_bonferroni = bo[i];
        s.significant = q[i] <= opts.fdr;
    }
    scores.sort_by(|a, b| b.effect().total_cmp(&a.effect()));
    let mut probes = Vec::new();
    if opts.probe {
        let fitted: Vec<Result<Option<Probe>>> = targets
            .par_iter()
            .zip(bins.par_iter())
            .map(|(t, b)| match b {
                Some(lab) => sparse_probe(&layers, lab, &t.name, opts),
                None => Ok(None),
            })
            .collect();
        for p in fitted {
            if let Some(p) = p? {
                probes.push(p);
            }
        }
    }
    Ok(NeuronReport {
        n_tests: ps.len(),
        scores,
        probes,
        n_rows: n,
        targets: targets.iter().map(|t| t.name.clone()).collect(),
        fdr: opts.fdr,
    })
}

/// The layers an analysis with `opts` reads: `opts.layers`, or every layer except `embed` and
/// `log_probs`.
fn selected_layers<'a>(
    states: &'a States,
    opts: &NeuronOptions,
) -> Result<Vec<&'a crate::infer::LayerStates>> {
    if opts.layers.is_empty() {
        return Ok(states
            .layers
            .iter()
            .filter(|l| l.name != "embed" && l.name != "log_probs")
            .collect());
    }
    opts.layers
        .iter()
        .map(|name| {
            states
                .layer(name)
                .ok_or_else(|| Error::Input(format!("states have no layer {name:?}")))
        })
        .collect()
}

/// Centred moving average of every unit over `w` rows, never across record boundaries.
fn smooth_layer(l: &crate::infer::LayerStates, st: &States, w: usize) -> crate::infer::LayerStates {
    let u = l.units;
    let mut out = vec![0f32; l.data.len()];
    let half = w / 2;
    for rec in &st.records {
        let (a, b) = (rec.row_offset, rec.row_offset + rec.n_rows);
        // prefix sums per unit
        let mut pre = vec![0f64; (b - a + 1) * u];
        for r in a..b {
            for j in 0..u {
                pre[(r - a + 1) * u + j] = pre[(r - a) * u + j] + l.data[r * u + j] as f64;
            }
        }
        for r in a..b {
            let lo = r.saturating_sub(half).max(a) - a;
            let hi = (r + half + 1).min(b) - a;
            for j in 0..u {
                out[r * u + j] = ((pre[hi * u + j] - pre[lo * u + j]) / (hi - lo) as f64) as f32;
            }
        }
    }
    crate::infer::LayerStates {
        name: l.name.clone(),
        units: u,
        data: out,
    }
}

/// L1-regularised logistic regression (FISTA on standardized activations) along a decreasing
/// penalty path; the smallest penalty that keeps ≤ `probe_max_neurons` neurons is chosen.
fn sparse_probe(
    layers: &[&crate::infer::LayerStates],
    labels: &[bool],
    name: &str,
    opts: &NeuronOptions,
) -> Result<Option<Probe>> {
    let n = labels.len();
    let split = ((n as f64) * opts.probe_train_fraction.clamp(0.05, 0.95)) as usize;
    let (tr_lab, te_lab) = labels.split_at(split);
    let tr_pos = tr_lab.iter().filter(|&&l| l).count();
    let te_pos = te_lab.iter().filter(|&&l| l).count();
    if tr_pos == 0 || tr_pos == tr_lab.len() || te_pos == 0 || te_pos == te_lab.len() {
        return Ok(None); // one class only on one side: nothing to probe honestly
    }
    let all_names: Vec<(usize, usize)> = layers
        .iter()
        .enumerate()
        .flat_map(|(li, l)| (0..l.units).map(move |u| (li, u)))
        .collect();
    // training rows: a seeded subsample of the first part
    let mut idx: Vec<usize> = (0..split).collect();
    if idx.len() > opts.probe_max_rows {
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
        idx.shuffle(&mut rng);
        idx.truncate(opts.probe_max_rows);
        idx.sort_unstable();
    }
    // screening on the training rows only (no peeking at the held-out part)
    let ysub: Vec<f32> = idx.iter().map(|&i| labels[i] as u8 as f32).collect();
    let mut screen: Vec<(usize, f64)> = all_names
        .iter()
        .enumerate()
        .map(|(c, &(li, u))| {
            let x: Vec<f32> = idx.iter().map(|&i| layers[li].row(i)[u]).collect();
            (c, stats::pearson(&x, &ysub).0.abs())
        })
        .collect();
    screen.sort_by(|a, b| b.1.total_cmp(&a.1));
    screen.truncate(opts.probe_candidates.max(1));
    let cols: Vec<(usize, usize)> = screen.iter().map(|&(c, _)| all_names[c]).collect();
    let names: Vec<String> = cols
        .iter()
        .map(|&(li, u)| format!("{}/{}", layers[li].name, u))
        .collect();
    let d = names.len();
    let row = |i: usize, out: &mut Vec<f32>| {
        out.clear();
        for &(li, u) in &cols {
            out.push(layers[li].row(i)[u]);
        }
    };
    let m = idx.len();
    let mut xtr = vec![0f32; m * d];
    let mut buf = Vec::with_capacity(d);
    for (k, &i) in idx.iter().enumerate() {
        row(i, &mut buf);
        xtr[k * d..(k + 1) * d].copy_from_slice(&buf);
    }
    let ytr: Vec<f32> = idx.iter().map(|&i| labels[i] as u8 as f32).collect();
    // standardize with training statistics
    let mut mean = vec![0f64; d];
    let mut sd = vec![0f64; d];
    for r in xtr.chunks(d) {
        for j in 0..d {
            mean[j] += r[j] as f64;
        }
    }
    mean.iter_mut().for_each(|v| *v /= m as f64);
    for r in xtr.chunks(d) {
        for j in 0..d {
            sd[j] += (r[j] as f64 - mean[j]).powi(2);
        }
    }
    sd.iter_mut()
        .for_each(|v| *v = (*v / m as f64).sqrt().max(1e-6));
    for r in xtr.chunks_mut(d) {
        for j in 0..d {
            r[j] = ((r[j] as f64 - mean[j]) / sd[j]) as f32;
        }
    }
    let fit = |lambda: f64, warm: &(Vec<f64>, f64)| -> (Vec<f64>, f64) {
        fista_logistic(&xtr, &ytr, d, lambda, warm, 150)
    };
    // λ_max: the smallest penalty with all-zero weights
    let pbar = ytr.iter().sum::<f32>() as f64 / m as f64;
    let mut grad0 = vec![0f64; d];
    for (r, &y) in xtr.chunks(d).zip(&ytr) {
        for j in 0..d {
            grad0[j] += r[j] as f64 * (pbar - y as f64);
        }
    }
    let lmax = grad0.iter().map(|g| g.abs()).fold(0.0, f64::max) / m as f64;
    let mut warm = (vec![0f64; d], (pbar / (1.0 - pbar)).ln());
    let mut chosen = warm.clone();
    let mut chosen_l = lmax;
    for step in 1..=12 {
        let lambda = lmax * 0.6f64.powi(step);
        let w = fit(lambda, &warm);
        let nz = w.0.iter().filter(|v| v.abs() > 1e-8).count();
        if nz > opts.probe_max_neurons {
            break;
        }
        chosen = w.clone();
        chosen_l = lambda;
        warm = w;
    }
    let score = |i: usize, buf: &mut Vec<f32>| -> f64 {
        row(i, buf);
        let mut z = chosen.1;
        for j in 0..d {
            if chosen.0[j] != 0.0 {
                z += chosen.0[j] * (buf[j] as f64 - mean[j]) / sd[j];
            }
        }
        z
    };
    let tr_acc = idx
        .iter()
        .filter(|&&i| (score(i, &mut buf) > 0.0) == labels[i])
        .count() as f64
        / m as f64;
    let te_scores: Vec<f64> = (split..n).map(|i| score(i, &mut buf)).collect();
    let te_acc = te_scores
        .iter()
        .zip(te_lab)
        .filter(|(s, &l)| (**s > 0.0) == l)
        .count() as f64
        / te_lab.len() as f64;
    let majority = tr_pos * 2 >= tr_lab.len();
    let base = te_lab.iter().filter(|&&l| l == majority).count() as f64 / te_lab.len() as f64;
    let te_auroc = crate::train::metrics::auroc(&te_scores, te_lab);
    let mut sel: Vec<(String, f64)> = chosen
        .0
        .iter()
        .enumerate()
        .filter(|(_, v)| v.abs() > 1e-8)
        .map(|(j, v)| (names[j].clone(), *v))
        .collect();
    sel.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    Ok(Some(Probe {
        target: name.to_string(),
        neurons: sel,
        lambda: chosen_l,
        train_accuracy: tr_acc,
        test_accuracy: te_acc,
        baseline_accuracy: base,
        test_auroc: te_auroc,
    }))
}

/// FISTA for `min mean(logloss) + λ‖w‖₁` (bias unpenalised). `x` is `m × d` row-major.
fn fista_logistic(
    x: &[f32],
    y: &[f32],
    d: usize,
    lambda: f64,
    init: &(Vec<f64>, f64),
    iters: usize,
) -> (Vec<f64>, f64) {
    let m = y.len();
    // Lipschitz constant of the mean logistic gradient ≤ ‖X‖²_F / (4m) (standardized: ≈ d/4)
    let lip =
        (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / (4.0 * m as f64)).max(1e-6) + 0.25;
    let step = 1.0 / lip;
    let (mut w, mut b) = init.clone();
    let (mut zw, mut zb) = (w.clone(), b);
    let mut t = 1.0f64;
    let mut grad = vec![0f64; d];
    for _ in 0..iters {
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut gb = 0.0;
        for (r, &yy) in x.chunks(d).zip(y) {
            let mut z = zb;
            for j in 0..d {
                z += zw[j] * r[j] as f64;
            }
            let p = 1.0 / (1.0 + (-z).exp());
            let e = p - yy as f64;
            gb += e;
            for j in 0..d {
                grad[j] += e * r[j] as f64;
            }
        }
        let w_new: Vec<f64> = (0..d)
            .map(|j| {
                let v = zw[j] - step * grad[j] / m as f64;
                v.signum() * (v.abs() - step * lambda).max(0.0)
            })
            .collect();
        let b_new = zb - step * gb / m as f64;
        let t_new = (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0;
        let mom = (t - 1.0) / t_new;
        let mut delta = (b_new - b).abs();
        for j in 0..d {
            zw[j] = w_new[j] + mom * (w_new[j] - w[j]);
            delta = delta.max((w_new[j] - w[j]).abs());
        }
        zb = b_new + mom * (b_new - b);
        w = w_new;
        b = b_new;
        t = t_new;
        if delta < 1e-5 {
            break;
        }
    }
    (w, b)
}

impl NeuronReport {
    /// The best `n` neurons for one target.
    pub fn top(&self, target: &str, n: usize) -> Vec<&NeuronScore> {
        self.scores
            .iter()
            .filter(|s| s.target == target)
            .take(n)
            .collect()
    }

    /// Significant neuron × target pairs (BH q ≤ fdr).
    pub fn significant(&self) -> Vec<&NeuronScore> {
        self.scores.iter().filter(|s| s.significant).collect()
    }

    /// Number of significant neurons for one target.
    pub fn n_significant(&self, target: &str) -> usize {
        self.scores
            .iter()
            .filter(|s| s.target == target && s.significant)
            .count()
    }

    /// Seed 000's printout: `Neuron lstm.2/4: Accuracy = 0.94 (AUROC 0.97, r 0.81, q 1e-40)`.
    pub fn print_top(&self, target: &str, n: usize) -> String {
        let mut s = format!("{target}:\n");
        for x in self.top(target, n) {
            s.push_str(&format!(
                "Neuron {}: Accuracy = {:.2} (AUROC {:.3}, r {:+.3}, q {}{})\n",
                x.neuron(),
                x.accuracy,
                x.auroc,
                x.r,
                if x.q_bh > 0.0 {
                    format!("{:.1e}", x.q_bh)
                } else {
                    "< 1e-300".to_string()
                },
                if x.significant { "" } else { ", n.s." }
            ));
        }
        s
    }

    /// All scores as a table (ranked by effect).
    pub fn table(&self) -> Result<Table> {
        let s = &self.scores;
        let df = DataFrame::new(
            s.len(),
            vec![
                Column::new(
                    "neuron".into(),
                    s.iter().map(|x| x.neuron()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "layer".into(),
                    s.iter().map(|x| x.layer.clone()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "unit".into(),
                    s.iter().map(|x| x.unit as u32).collect::<Vec<_>>(),
                ),
                Column::new(
                    "target".into(),
                    s.iter().map(|x| x.target.clone()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "auroc".into(),
                    s.iter().map(|x| x.auroc).collect::<Vec<_>>(),
                ),
                Column::new(
                    "accuracy".into(),
                    s.iter().map(|x| x.accuracy).collect::<Vec<_>>(),
                ),
                Column::new(
                    "direction".into(),
                    s.iter().map(|x| x.direction as i32).collect::<Vec<_>>(),
                ),
                Column::new("r".into(), s.iter().map(|x| x.r).collect::<Vec<_>>()),
                Column::new("p".into(), s.iter().map(|x| x.p).collect::<Vec<_>>()),
                Column::new("q_bh".into(), s.iter().map(|x| x.q_bh).collect::<Vec<_>>()),
                Column::new(
                    "p_bonferroni".into(),
                    s.iter().map(|x| x.p_bonferroni).collect::<Vec<_>>(),
                ),
                Column::new(
                    "significant".into(),
                    s.iter().map(|x| x.significant).collect::<Vec<_>>(),
                ),
            ],
        )?;
        Ok(Table::new("explainable_neurons", df))
    }

    /// The probes as a table.
    pub fn probe_table(&self) -> Result<Table> {
        let p = &self.probes;
        let df = DataFrame::new(
            p.len(),
            vec![
                Column::new(
                    "target".into(),
                    p.iter().map(|x| x.target.clone()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "n_neurons".into(),
                    p.iter().map(|x| x.neurons.len() as u32).collect::<Vec<_>>(),
                ),
                Column::new(
                    "neurons".into(),
                    p.iter()
                        .map(|x| {
                            x.neurons
                                .iter()
                                .map(|n| n.0.clone())
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "test_accuracy".into(),
                    p.iter().map(|x| x.test_accuracy).collect::<Vec<_>>(),
                ),
                Column::new(
                    "baseline_accuracy".into(),
                    p.iter().map(|x| x.baseline_accuracy).collect::<Vec<_>>(),
                ),
                Column::new(
                    "test_auroc".into(),
                    p.iter().map(|x| x.test_auroc).collect::<Vec<_>>(),
                ),
                Column::new(
                    "train_accuracy".into(),
                    p.iter().map(|x| x.train_accuracy).collect::<Vec<_>>(),
                ),
                Column::new(
                    "lambda".into(),
                    p.iter().map(|x| x.lambda).collect::<Vec<_>>(),
                ),
            ],
        )?;
        Ok(Table::new("sparse_probes", df))
    }

    /// Heatmap of the best `n_neurons` neurons (by their best effect over targets) × targets,
    /// coloured by AUROC − 0.5 (binary targets) or r.
    pub fn plot(&self, n_neurons: usize) -> Result<Figure> {
        let mut best: Vec<(String, f64)> = Vec::new();
        for s in &self.scores {
            let id = s.neuron();
            if !best.iter().any(|b| b.0 == id) {
                best.push((id, s.effect()));
            }
            if best.len() >= n_neurons {
                break;
            }
        }
        let rows: Vec<String> = best.into_iter().map(|b| b.0).collect();
        let mut v = vec![f64::NAN; rows.len() * self.targets.len()];
        for s in &self.scores {
            if let Some(r) = rows.iter().position(|x| *x == s.neuron()) {
                let c = self
                    .targets
                    .iter()
                    .position(|t| *t == s.target)
                    .unwrap_or(0);
                v[r * self.targets.len() + c] = if s.auroc.is_finite() {
                    s.auroc - 0.5
                } else {
                    s.r
                };
            }
        }
        Figure::heatmap(
            "Explainable neurons",
            &rows,
            &self.targets,
            &v,
            "AUROC − 0.5 (or r)",
            true,
        )
    }

    /// evcxr display: the top neurons per target and the probes.
    pub fn evcxr_display(&self) {
        let mut html = format!(
            "<p><b>identify_explainable_neurons</b>: {} rows, {} tests, BH FDR {}: {} significant pairs</p>",
            self.n_rows,
            self.n_tests,
            self.fdr,
            self.significant().len()
        );
        if let Ok(t) = self.table() {
            html.push_str(&t.to_html_rows(20));
        }
        if let Ok(t) = self.probe_table() {
            if t.height() > 0 {
                html.push_str("<p><b>Sparse probes</b> (fit on the first part, scored on the held-out rest)</p>");
                html.push_str(&t.to_html_rows(50));
            }
        }
        println!("EVCXR_BEGIN_CONTENT text/html\n{html}\nEVCXR_END_CONTENT");
    }
}

/// Activation track of chosen neurons along record `record` (positions `[from, to)`) with CDS
/// boxes beneath from `features`.
pub fn activation_track(
    states: &States,
    record: usize,
    neurons: &[(String, usize)],
    features: &[TrackFeature],
    from: usize,
    to: usize,
) -> Result<Figure> {
    let info = states
        .records
        .get(record)
        .ok_or_else(|| Error::Input(format!("no record {record}")))?;
    let rows: Vec<usize> = (info.row_offset..info.row_offset + info.n_rows)
        .filter(|&r| {
            let p = states.position[r] as usize + states.k - 1;
            p >= from && p < to
        })
        .collect();
    let pos: Vec<f64> = rows
        .iter()
        .map(|&r| (states.position[r] as usize + states.k - 1) as f64)
        .collect();
    let mut sig = Vec::new();
    for (layer, u) in neurons {
        let l = states
            .layer(layer)
            .ok_or_else(|| Error::Input(format!("no layer {layer}")))?;
        if *u >= l.units {
            return Err(Error::Input(format!("{layer} has {} units", l.units)));
        }
        sig.push((
            format!("{layer}/{u}"),
            rows.iter().map(|&r| l.row(r)[*u] as f64).collect(),
        ));
    }
    let feats: Vec<TrackFeature> = features
        .iter()
        .filter(|f| f.end > from && f.start < to)
        .cloned()
        .collect();
    Figure::track(
        &format!("{}: {}–{}", info.name, from, to),
        &pos,
        &sig,
        &feats,
    )
}

/// How neuron summaries of whole genomes relate to per-genome traits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Summary {
    /// Mean activation over the genome.
    #[default]
    Mean,
    /// Maximum activation.
    Max,
}

/// Phenotype association: summarise each genome's states (mean or max per neuron of `layer`)
/// and correlate with each trait across genomes (Pearson, BH-corrected). `traits` are
/// `(name, one value per genome)`. Returns a table ranked by |r|.
pub fn phenotype_association(
    genomes: &[(String, &States)],
    layer: &str,
    traits: &[(String, Vec<f64>)],
    summary: Summary,
) -> Result<Table> {
    let g = genomes.len();
    if g < 3 {
        return Err(Error::Input(
            "phenotype association needs at least 3 genomes".into(),
        ));
    }
    let mut summ: Vec<Vec<f32>> = Vec::new();
    for (name, st) in genomes {
        let l = st
            .layer(layer)
            .ok_or_else(|| Error::Input(format!("{name}: no layer {layer}")))?;
        summ.push(match summary {
            Summary::Mean => l.mean(),
            Summary::Max => (0..l.units)
                .map(|u| l.unit(u).into_iter().fold(f32::NEG_INFINITY, f32::max))
                .collect(),
        });
    }
    let units = summ[0].len();
    let mut rows = Vec::new();
    for (tn, tv) in traits {
        if tv.len() != g {
            return Err(Error::Shape(format!(
                "trait {tn} has {} values for {g} genomes",
                tv.len()
            )));
        }
        let y: Vec<f32> = tv.iter().map(|&v| v as f32).collect();
        for u in 0..units {
            let x: Vec<f32> = summ.iter().map(|s| s[u]).collect();
            let (r, p) = stats::pearson(&x, &y);
            rows.push((format!("{layer}/{u}"), tn.clone(), r, p));
        }
    }
    let q = stats::benjamini_hochberg(&rows.iter().map(|r| r.3).collect::<Vec<_>>());
    let mut idx: Vec<usize> = (0..rows.len()).collect();
    idx.sort_by(|&a, &b| rows[b].2.abs().total_cmp(&rows[a].2.abs()));
    let df = DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "neuron".into(),
                idx.iter().map(|&i| rows[i].0.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "trait".into(),
                idx.iter().map(|&i| rows[i].1.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "r".into(),
                idx.iter().map(|&i| rows[i].2).collect::<Vec<_>>(),
            ),
            Column::new(
                "p".into(),
                idx.iter().map(|&i| rows[i].3).collect::<Vec<_>>(),
            ),
            Column::new("q_bh".into(), idx.iter().map(|&i| q[i]).collect::<Vec<_>>()),
        ],
    )?;
    Ok(Table::new("phenotype_association", df))
}
