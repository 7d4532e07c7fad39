//! Calibration of per-class scores: a shared scale and a bias per class, fitted on held-out
//! items, turn scores such as class-conditional log-likelihoods into calibrated log-odds.
//!
//! A generative classifier compares the log-likelihoods of one item under several class
//! models. When the class models fit their data unequally (one class has more or more varied
//! training sequences, one model overfits), the log-likelihoods of the classes are on shifted
//! scales and Bayes' rule with the raw values puts the decision boundary in the wrong place,
//! although the scores still rank items well (high AUROC, lower accuracy). A scale `a` and
//! biases `b_c` fitted by maximum likelihood on a validation split, `z_c = a·s_c + b_c`, move
//! the boundary back (Platt scaling for several classes with one shared slope).

use crate::stats::posterior;

/// `z_c = scale · s_c + bias_c`, fitted by [`ScoreCalibration::fit`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoreCalibration {
    /// Shared slope of the scores (1: unchanged; below 1 the raw scores were over-confident).
    pub scale: f64,
    /// Offset of each class's score (log-odds units).
    pub bias: Vec<f64>,
}

impl ScoreCalibration {
    /// The identity: scale 1, biases 0.
    pub fn identity(n_classes: usize) -> Self {
        ScoreCalibration {
            scale: 1.0,
            bias: vec![0.0; n_classes],
        }
    }

    /// Calibrated scores of one item.
    pub fn apply(&self, scores: &[f64]) -> Vec<f64> {
        scores
            .iter()
            .zip(&self.bias)
            .map(|(s, b)| self.scale * s + b)
            .collect()
    }

    /// Class probabilities of one item: the softmax of its calibrated scores.
    pub fn probs(&self, scores: &[f64]) -> Vec<f64> {
        posterior(&self.apply(scores))
    }

    /// Maximum a-posteriori fit on `scores` (one row of per-class scores per item) and their
    /// `labels`, with independent normal priors of standard deviation `prior_sd` on the scale
    /// (around 1) and on every bias (around 0), so a handful of validation items cannot move
    /// the scores far. Newton's method with step halving; deterministic. `None` when there
    /// are no items, the rows do not have `n_classes` entries, a label is out of range or a
    /// score is not finite.
    ///
    /// ```
    /// use genolm::stats::calibration::ScoreCalibration;
    /// // class 1's scores run 3 nats high: raw arg-max calls every item class 1
    /// let scores: Vec<Vec<f64>> = (0..40)
    ///     .map(|i| {
    ///         let y = i % 2;
    ///         let signal = if y == 0 { 1.0 } else { -1.0 } + 0.3 * ((i * 7 % 5) as f64 - 2.0);
    ///         vec![signal, 3.0 - signal]
    ///     })
    ///     .collect();
    /// let labels: Vec<u32> = (0..40).map(|i| i % 2).collect();
    /// let cal = ScoreCalibration::fit(&scores, &labels, 2, 3.0).unwrap();
    /// let correct = scores.iter().zip(&labels)
    ///     .filter(|(s, &y)| {
    ///         let p = cal.probs(s);
    ///         (p[1] > p[0]) == (y == 1)
    ///     })
    ///     .count();
    /// assert_eq!(correct, 40);
    /// ```
    pub fn fit(
        scores: &[Vec<f64>],
        labels: &[u32],
        n_classes: usize,
        prior_sd: f64,
    ) -> Option<Self> {
        let k = n_classes;
        if scores.is_empty()
            || scores.len() != labels.len()
            || scores
                .iter()
                .any(|r| r.len() != k || r.iter().any(|v| !v.is_finite()))
            || labels.iter().any(|&y| y as usize >= k)
            || prior_sd.is_nan()
            || prior_sd <= 0.0
        {
            return None;
        }
        // rows centred: the softmax does not see a shift shared by all classes
        let s: Vec<Vec<f64>> = scores
            .iter()
            .map(|r| {
                let m = r.iter().sum::<f64>() / k as f64;
                r.iter().map(|v| v - m).collect()
            })
            .collect();
        let prec = 1.0 / (prior_sd * prior_sd);
        let loss = |c: &ScoreCalibration| -> f64 {
            let nll: f64 = s
                .iter()
                .zip(labels)
                .map(|(r, &y)| {
                    let z = c.apply(r);
                    let mx = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    mx + z.iter().map(|v| (v - mx).exp()).sum::<f64>().ln() - z[y as usize]
                })
                .sum();
            nll + 0.5 * prec * ((c.scale - 1.0).powi(2) + c.bias.iter().map(|b| b * b).sum::<f64>())
        };
        let n = k + 1; // θ = (scale, bias_0 … bias_{k−1})
        let mut cal = ScoreCalibration::identity(k);
        let mut cur = loss(&cal);
        for _ in 0..100 {
            let mut g = vec![0.0; n];
            let mut h = vec![0.0; n * n];
            for (r, &y) in s.iter().zip(labels) {
                let p = cal.probs(r);
                let sbar: f64 = p.iter().zip(r).map(|(p, s)| p * s).sum();
                for c in 0..k {
                    let resid = p[c] - f64::from(u8::from(c == y as usize));
                    g[0] += resid * r[c];
                    g[1 + c] += resid;
                    h[0] += p[c] * r[c] * r[c];
                    h[1 + c] += p[c] * (r[c] - sbar);
                    h[(1 + c) * n] += p[c] * (r[c] - sbar);
                    h[(1 + c) * n + 1 + c] += p[c];
                    for d in 0..k {
                        h[(1 + c) * n + 1 + d] -= p[c] * p[d];
                    }
                }
                h[0] -= sbar * sbar;
            }
            g[0] += prec * (cal.scale - 1.0);
            for c in 0..k {
                g[1 + c] += prec * cal.bias[c];
            }
            for i in 0..n {
                h[i * n + i] += prec;
            }
            let step = solve(&mut h, &mut g, n)?;
            let mut t = 1.0;
            let mut improved = false;
            for _ in 0..30 {
                let cand = ScoreCalibration {
                    scale: (cal.scale - t * step[0]).max(1e-3),
                    bias: (0..k).map(|c| cal.bias[c] - t * step[1 + c]).collect(),
                };
                let l = loss(&cand);
                if l <= cur {
                    improved = cur - l > 1e-12 * (1.0 + cur.abs());
                    cal = cand;
                    cur = l;
                    break;
                }
                t *= 0.5;
            }
            if !improved {
                break;
            }
        }
        Some(cal)
    }
}

/// Solve `h · x = g` (symmetric positive definite `n × n`) by Gaussian elimination with partial
/// pivoting; `None` when singular.
fn solve(h: &mut [f64], g: &mut [f64], n: usize) -> Option<Vec<f64>> {
    for col in 0..n {
        let piv =
            (col..n).max_by(|&a, &b| h[a * n + col].abs().total_cmp(&h[b * n + col].abs()))?;
        if h[piv * n + col].abs() < 1e-300 {
            return None;
        }
        if piv != col {
            for j in 0..n {
                h.swap(col * n + j, piv * n + j);
            }
            g.swap(col, piv);
        }
        for row in col + 1..n {
            let f = h[row * n + col] / h[col * n + col];
            for j in col..n {
                h[row * n + j] -= f * h[col * n + j];
            }
            g[row] -= f * g[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let rest: f64 = (row + 1..n).map(|j| h[row * n + j] * x[j]).sum();
        x[row] = (g[row] - rest) / h[row * n + row];
    }
    Some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fit recovers a known shift and scale from many items, and its loss is no worse than
    /// the identity's; with a tight prior it stays near the identity.
    #[test]
    fn recovers_shift_and_scale() {
        // true model: p(y | s) = softmax(0.5·s + (0, −1, 1)); scores drawn deterministically
        let truth = ScoreCalibration {
            scale: 0.5,
            bias: vec![0.0, -1.0, 1.0],
        };
        let mut scores = Vec::new();
        let mut labels = Vec::new();
        let mut state = 12345u64;
        let mut unif = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for _ in 0..6000 {
            let s: Vec<f64> = (0..3).map(|_| 8.0 * unif() - 4.0).collect();
            let p = truth.probs(&s);
            let u = unif();
            let y = if u < p[0] {
                0
            } else if u < p[0] + p[1] {
                1
            } else {
                2
            };
            scores.push(s);
            labels.push(y);
        }
        let fit = ScoreCalibration::fit(&scores, &labels, 3, 10.0).unwrap();
        assert!((fit.scale - 0.5).abs() < 0.05, "{fit:?}");
        // biases are identified up to a shared shift
        let d1 = fit.bias[1] - fit.bias[0];
        let d2 = fit.bias[2] - fit.bias[0];
        assert!(
            (d1 + 1.0).abs() < 0.15 && (d2 - 1.0).abs() < 0.15,
            "{fit:?}"
        );
        let tight = ScoreCalibration::fit(&scores[..20], &labels[..20], 3, 1e-3).unwrap();
        assert!((tight.scale - 1.0).abs() < 1e-3 && tight.bias.iter().all(|b| b.abs() < 1e-3));
    }

    #[test]
    fn refuses_bad_input() {
        assert!(ScoreCalibration::fit(&[], &[], 2, 1.0).is_none());
        assert!(ScoreCalibration::fit(&[vec![0.0, 1.0]], &[2], 2, 1.0).is_none());
        assert!(ScoreCalibration::fit(&[vec![0.0, f64::NAN]], &[0], 2, 1.0).is_none());
        assert!(ScoreCalibration::fit(&[vec![0.0]], &[0], 2, 1.0).is_none());
    }
}
