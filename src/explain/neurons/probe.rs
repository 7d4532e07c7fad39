//! Sparse probes: an L1 logistic regression per binary target, scored by blocked
//! cross-validation along the genome (the solver is [`crate::stats::l1_logistic`]).

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
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
    /// Selected neurons (`layer/unit`) and their coefficients on standardized activations, of
    /// the probe fit on all rows.
    pub neurons: Vec<(String, f64)>,
    /// L1 penalty chosen (the probe fit on all rows).
    pub lambda: f64,
    /// Accuracy of the probe fit on all rows, on its own training rows.
    pub train_accuracy: f64,
    /// Held-out accuracy: every scored row predicted by the probe of the folds it is not in.
    pub test_accuracy: f64,
    /// Held-out accuracy of always predicting each fold's training majority class.
    pub baseline_accuracy: f64,
    /// Held-out AUROC: the share of (positive, negative) row pairs within each held-out block
    /// that its probe ranks correctly (blocks with one class only add no pairs).
    pub test_auroc: f64,
    /// Contiguous blocks of the genome that were held out in turn (folds whose training part
    /// held one class only are skipped, and their rows not scored).
    #[serde(default)]
    pub folds: usize,
    /// Rows scored out of fold.
    #[serde(default)]
    pub scored_rows: usize,
}

/// A probe fit on some rows: its screened columns, standardisation and weights.
struct Fitted {
    cols: Vec<(usize, usize)>,
    mean: Vec<f64>,
    sd: Vec<f64>,
    w: Vec<f64>,
    b: f64,
    lambda: f64,
    /// training rows (after subsampling)
    rows: Vec<usize>,
}

impl Fitted {
    fn score(&self, layers: &[&LayerStates], i: usize) -> f64 {
        let mut z = self.b;
        for (j, &(li, u)) in self.cols.iter().enumerate() {
            if self.w[j] != 0.0 {
                z += self.w[j] * (layers[li].row(i)[u] as f64 - self.mean[j]) / self.sd[j];
            }
        }
        z
    }
}

/// Blocked cross-validation of a sparse probe: the rows (in genome order) are cut into
/// `probe_folds` contiguous blocks, each block is scored by a probe fit on the others — the
/// screening of candidate neurons included, so nothing is chosen by looking at the block — and
/// the held-out numbers are those of the blocks' scores. A single split would test on one part
/// of the genome only, which on a small, mostly coding genome (phiX174) holds a few dozen
/// non-coding rows. The neurons reported are those of a final fit on all rows.
pub(super) fn sparse_probe(
    layers: &[&LayerStates],
    labels: &[bool],
    name: &str,
    opts: &NeuronOptions,
) -> Result<Option<Probe>> {
    let n = labels.len();
    let k = opts.probe_folds.clamp(2, n.max(2));
    let block = |f: usize| (f * n / k, (f + 1) * n / k);
    // the folds and the final fit on all rows are independent: fit them in parallel
    let (all, fits) = rayon::join(
        || fit(layers, labels, (0..n).collect(), opts, k as u64),
        || {
            (0..k)
                .into_par_iter()
                .map(|f| {
                    let (lo, hi) = block(f);
                    let train: Vec<usize> = (0..lo).chain(hi..n).collect();
                    let pos = train.iter().filter(|&&i| labels[i]).count();
                    if hi == lo || pos == 0 || pos == train.len() {
                        return None;
                    }
                    let majority = pos * 2 >= train.len();
                    Some((fit(layers, labels, train, opts, f as u64), majority))
                })
                .collect::<Vec<_>>()
        },
    );
    let (mut correct, mut base_correct, mut scored, mut folds) = (0usize, 0usize, 0usize, 0usize);
    // AUROC over the (positive, negative) pairs within each block: pooling the blocks' scores
    // would compare probes whose intercepts follow their training part's class balance, which
    // is the opposite of the block's (on pure noise, pooled AUROC came out 0.36).
    let (mut auroc_sum, mut pairs_sum) = (0f64, 0f64);
    for (f, fitted) in fits.iter().enumerate() {
        let Some((fitted, majority)) = fitted else {
            continue;
        };
        let (lo, hi) = block(f);
        let lab = &labels[lo..hi];
        let scores: Vec<f64> = (lo..hi).map(|i| fitted.score(layers, i)).collect();
        correct += scores
            .iter()
            .zip(lab)
            .filter(|(s, &l)| (**s > 0.0) == l)
            .count();
        base_correct += lab.iter().filter(|&&l| l == *majority).count();
        scored += hi - lo;
        folds += 1;
        let pos = lab.iter().filter(|&&l| l).count();
        let pairs = (pos * (lab.len() - pos)) as f64;
        if pairs > 0.0 {
            auroc_sum += pairs * stats::auroc(&scores, lab);
            pairs_sum += pairs;
        }
    }
    if folds < 2 || pairs_sum == 0.0 {
        return Ok(None); // one class only: nothing to probe honestly
    }
    let tr_acc = all
        .rows
        .iter()
        .filter(|&&i| (all.score(layers, i) > 0.0) == labels[i])
        .count() as f64
        / all.rows.len() as f64;
    let mut sel: Vec<(String, f64)> = all
        .w
        .iter()
        .enumerate()
        .filter(|(_, v)| v.abs() > 1e-8)
        .map(|(j, v)| {
            let (li, u) = all.cols[j];
            (format!("{}/{}", layers[li].name, u), *v)
        })
        .collect();
    sel.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    Ok(Some(Probe {
        target: name.to_string(),
        neurons: sel,
        lambda: all.lambda,
        train_accuracy: tr_acc,
        test_accuracy: correct as f64 / scored as f64,
        baseline_accuracy: base_correct as f64 / scored as f64,
        test_auroc: auroc_sum / pairs_sum,
        folds,
        scored_rows: scored,
    }))
}

/// L1-regularised logistic regression (FISTA on standardized activations) along a decreasing
/// penalty path; the smallest penalty that keeps ≤ `probe_max_neurons` neurons is chosen.
/// Candidates are screened by correlation on the training rows (a seeded subsample of at most
/// `probe_max_rows`) only.
fn fit(
    layers: &[&LayerStates],
    labels: &[bool],
    mut idx: Vec<usize>,
    opts: &NeuronOptions,
    fold: u64,
) -> Fitted {
    let all_names = super::neurons_of(layers);
    if idx.len() > opts.probe_max_rows {
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed ^ fold.wrapping_mul(0x9e37_79b9));
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
    let d = cols.len();
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
    Fitted {
        cols,
        mean,
        sd,
        w: chosen.0,
        b: chosen.1,
        lambda: chosen_l,
        rows: idx,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// `units` neurons over `n` rows whose label alternates in blocks of 150 rows (as CDS and
    /// intergenic regions do); neuron 0 follows the label with noise when `signal`.
    fn layer(n: usize, units: usize, signal: bool, seed: u64) -> (LayerStates, Vec<bool>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let labels: Vec<bool> = (0..n).map(|i| (i / 150) % 3 != 0).collect();
        let mut data = Vec::with_capacity(n * units);
        for &l in &labels {
            for u in 0..units {
                let noise: f32 = rng.random_range(-1.0..1.0);
                data.push(if u == 0 && signal {
                    l as u8 as f32 + noise
                } else {
                    noise
                });
            }
        }
        let st = LayerStates {
            name: "lstm.0".into(),
            units,
            data,
        };
        (st, labels)
    }

    #[test]
    fn blocked_cv_scores_every_fold_and_finds_the_signal() {
        let (st, labels) = layer(3000, 20, true, 1);
        let p = sparse_probe(&[&st], &labels, "CDS", &NeuronOptions::default())
            .unwrap()
            .unwrap();
        assert_eq!(p.folds, 5);
        assert_eq!(p.scored_rows, 3000);
        assert!(p.test_auroc > 0.85, "{p:?}");
        assert!(p.test_accuracy > p.baseline_accuracy, "{p:?}");
        assert_eq!(p.neurons[0].0, "lstm.0/0", "{p:?}");
    }

    #[test]
    fn noise_neurons_give_a_chance_auroc() {
        let (st, labels) = layer(3000, 20, false, 2);
        let p = sparse_probe(&[&st], &labels, "CDS", &NeuronOptions::default())
            .unwrap()
            .unwrap();
        assert!((p.test_auroc - 0.5).abs() < 0.1, "{p:?}");
    }

    #[test]
    fn one_class_is_no_probe() {
        let (st, _) = layer(600, 4, true, 3);
        let labels = vec![true; 600];
        let p = sparse_probe(&[&st], &labels, "CDS", &NeuronOptions::default()).unwrap();
        assert!(p.is_none());
    }
}
