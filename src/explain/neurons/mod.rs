//! `identify_explainable_neurons(states, targets)`: which neurons encode known features?
//!
//! Seed 000: "takes a file of neuron responses and calculates the neuron-wise correlation with a
//! set of known features and outputs the neurons with highest correlation coefficients".
//! For every neuron × target it computes AUROC (binary targets) with the Mann–Whitney p-value,
//! best-threshold accuracy, and the Pearson (point-biserial) correlation with its p-value;
//! p-values are corrected across all neurons × targets (Benjamini–Hochberg and Bonferroni).
//! A sparse L1 logistic probe per binary target is scored by blocked cross-validation along
//! the genome (each contiguous fifth scored by a probe fit on the other four).
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

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::tracks::Tracks;
use crate::infer::model_layer;
use crate::infer::States;
use crate::stats;
use crate::{Error, Result};

pub mod features;
mod null;
mod phenotype;
mod probe;
mod report;

pub use features::{feature_targets, lead_lag, start_profile, LeadLagOptions, LeadLagReport};
pub use null::{best_effects, shift_null, shuffle_targets};
pub use phenotype::{phenotype_association, Summary};
use probe::sparse_probe;
pub use probe::Probe;
pub use report::activation_track;

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
    /// A binary target's values as labels (`None` for a real-valued target).
    pub(crate) fn labels(&self) -> Option<Vec<bool>> {
        self.is_binary()
            .then(|| self.values.iter().map(|&v| v > 0.5).collect())
    }
    /// The same target circularly shifted: row `i` gets the value of row `(i + offset) mod n`.
    pub fn shifted(&self, offset: usize) -> Target {
        let off = offset % self.values.len().max(1);
        let mut v = self.values[off..].to_vec();
        v.extend_from_slice(&self.values[..off]);
        Target::new(&self.name, v)
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
    let mut out = Vec::new();
    for (name, v) in tracks.targets() {
        out.extend(balanced_target(states, record, name, &v, min_class)?);
    }
    Ok(out)
}

/// A 0/1 track of record `record` as a target aligned to the rows, if it has at least
/// `min_class` rows in each class.
pub(crate) fn balanced_target(
    states: &States,
    record: usize,
    name: String,
    track: &[u8],
    min_class: usize,
) -> Result<Option<Target>> {
    let aligned = states.align_track(record, track)?;
    let pos = aligned.iter().filter(|&&x| x > 0.5).count();
    Ok((pos >= min_class && aligned.len() - pos >= min_class).then(|| Target::new(name, aligned)))
}

/// Options of [`identify_explainable_neurons`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NeuronOptions {
    /// Layers to analyse; empty = every layer except `embed` and `log_probs` (on either strand:
    /// `rc.embed` is left out too).
    pub layers: Vec<String>,
    /// False-discovery rate for the `significant` flag (Benjamini–Hochberg).
    pub fdr: f64,
    /// Fit a sparse probe per binary target.
    pub probe: bool,
    /// The probe keeps at most this many neurons.
    pub probe_max_neurons: usize,
    /// The probe is scored by blocked cross-validation: the rows, in genome order, are cut
    /// into this many contiguous blocks, each scored by a probe fit on the others.
    pub probe_folds: usize,
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
            probe_folds: 5,
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
    check_lengths(targets, n)?;
    let mut smoothed = Vec::new();
    let layers = analysed_layers(states, opts, &mut smoothed)?;
    let bins: Vec<Option<Vec<bool>>> = targets.iter().map(Target::labels).collect();
    let neurons = neurons_of(&layers);
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

/// Every neuron of `layers` as (layer index, unit), in layer order.
fn neurons_of(layers: &[&crate::infer::LayerStates]) -> Vec<(usize, usize)> {
    layers
        .iter()
        .enumerate()
        .flat_map(|(li, l)| (0..l.units).map(move |u| (li, u)))
        .collect()
}

/// Every target has one value per state row.
fn check_lengths(targets: &[Target], n: usize) -> Result<()> {
    for t in targets {
        if t.values.len() != n {
            return Err(Error::Shape(format!(
                "target {} has {} values for {n} state rows; align it with States::align_track",
                t.name,
                t.values.len()
            )));
        }
    }
    Ok(())
}

/// The layers an analysis with `opts` scores ([`selected_layers`], smoothed into `smoothed`
/// when `opts.smooth > 1`); an error for no layers or fewer than 3 rows.
fn analysed_layers<'a>(
    states: &'a States,
    opts: &NeuronOptions,
    smoothed: &'a mut Vec<crate::infer::LayerStates>,
) -> Result<Vec<&'a crate::infer::LayerStates>> {
    let layers = selected_layers(states, opts)?;
    if layers.is_empty() || states.n_rows() < 3 {
        return Err(Error::Input(
            "no layers or fewer than 3 rows to analyse".into(),
        ));
    }
    if opts.smooth <= 1 {
        return Ok(layers);
    }
    *smoothed = layers
        .iter()
        .map(|l| smooth_layer(l, states, opts.smooth))
        .collect();
    Ok(smoothed.iter().collect())
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
            .filter(|l| !matches!(model_layer(&l.name), "embed" | "log_probs"))
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
