//! Sparse probes: an L1 logistic regression per binary target, fit on one part of the genome
//! and scored on the rest (the solver is [`crate::stats::l1_logistic`]).

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::NeuronOptions;
use crate::infer::LayerStates;
use crate::stats;
use crate::Result;

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

/// L1-regularised logistic regression (FISTA on standardized activations) along a decreasing
/// penalty path; the smallest penalty that keeps ≤ `probe_max_neurons` neurons is chosen.
pub(super) fn sparse_probe(
    layers: &[&LayerStates],
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
        crate::stats::l1_logistic(&xtr, &ytr, d, lambda, warm, 150)
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
    let te_auroc = crate::stats::auroc(&te_scores, te_lab);
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
