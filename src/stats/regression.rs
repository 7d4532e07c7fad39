//! Regression solvers.

/// Rows of `x` whose dot products [`l1_logistic`] computes side by side.
const ROWS: usize = 8;

/// The (unscaled) gradient of the summed logistic loss at weights `zw` and bias `zb`: `grad[j]`
/// and the bias's, returned. `xr` is `x` row-major; `xb` the same rows in blocks of [`ROWS`],
/// each stored column by column (`xb[blk·ROWS·d + j·ROWS + k]` is row `blk·ROWS + k`, column
/// `j`), so a block's ROWS dot products advance together, one column at a time, as lanes of a
/// vector. Each row's dot product is still summed in column order and each `grad[j]` in row
/// order, so the bits are those of one row at a time (the test below checks it).
#[inline(always)]
fn logistic_gradient(
    xr: &[f64],
    xb: &[f64],
    y: &[f32],
    d: usize,
    zw: &[f64],
    zb: f64,
    grad: &mut [f64],
) -> f64 {
    grad.iter_mut().for_each(|g| *g = 0.0);
    let mut gb = 0.0;
    let full = y.len() / ROWS * ROWS;
    for (blk, ys) in y[..full].chunks_exact(ROWS).enumerate() {
        let cols = &xb[blk * ROWS * d..(blk + 1) * ROWS * d];
        let mut z = [zb; ROWS];
        for (j, col) in cols.chunks_exact(ROWS).enumerate() {
            for k in 0..ROWS {
                z[k] += zw[j] * col[k];
            }
        }
        let e: [f64; ROWS] = std::array::from_fn(|k| 1.0 / (1.0 + (-z[k]).exp()) - ys[k] as f64);
        for ek in e {
            gb += ek;
        }
        let rows = &xr[blk * ROWS * d..(blk + 1) * ROWS * d];
        for (k, row) in rows.chunks_exact(d).enumerate() {
            for (g, &v) in grad.iter_mut().zip(row) {
                *g += e[k] * v;
            }
        }
    }
    for (r, &yy) in xr[full * d..].chunks_exact(d).zip(&y[full..]) {
        let mut z = zb;
        for j in 0..d {
            z += zw[j] * r[j];
        }
        let e = 1.0 / (1.0 + (-z).exp()) - yy as f64;
        gb += e;
        for (g, &v) in grad.iter_mut().zip(r) {
            *g += e * v;
        }
    }
    gb
}

/// `xr` (`m × d` row-major) in whole blocks of [`ROWS`] rows, each block column by column: the
/// layout [`logistic_gradient`] reads (rows past the last whole block are left out).
fn blocked(xr: &[f64], d: usize) -> Vec<f64> {
    let full = xr.len() / d / ROWS * ROWS;
    let mut xb = vec![0f64; full * d];
    for (blk, rows) in xr[..full * d].chunks_exact(ROWS * d).enumerate() {
        for (k, row) in rows.chunks_exact(d).enumerate() {
            for (j, &v) in row.iter().enumerate() {
                xb[blk * ROWS * d + j * ROWS + k] = v;
            }
        }
    }
    xb
}

/// L1-regularised logistic regression by FISTA: `min mean(logloss) + λ‖w‖₁` (bias unpenalised). `x` is `m × d` row-major.
pub fn l1_logistic(
    x: &[f32],
    y: &[f32],
    d: usize,
    lambda: f64,
    init: &(Vec<f64>, f64),
    iters: usize,
) -> (Vec<f64>, f64) {
    let m = y.len();
    if d == 0 || m == 0 {
        return init.clone();
    }
    // Lipschitz constant of the mean logistic gradient ≤ ‖X‖²_F / (4m) (standardized: ≈ d/4)
    let lip =
        (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / (4.0 * m as f64)).max(1e-6) + 0.25;
    let step = 1.0 / lip;
    let (mut w, mut b) = init.clone();
    let (mut zw, mut zb) = (w.clone(), b);
    let mut t = 1.0f64;
    // f64 copies made once (exact: every f32 is an f64), row-major for the gradient and
    // blocked for the dot products (see `logistic_gradient`)
    let xr: Vec<f64> = x.iter().map(|&v| v as f64).collect();
    let xb = blocked(&xr, d);
    let mut grad = vec![0f64; d];
    for _ in 0..iters {
        let gb = crate::cpu::simd(
            #[inline(always)]
            || logistic_gradient(&xr, &xb, y, d, &zw, zb, &mut grad),
        );
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

/// A multinomial logistic regression: `k` classes over `d` features.
#[derive(Debug, Clone, PartialEq)]
pub struct SoftmaxRegression {
    /// Weights, `k × d` row-major.
    pub w: Vec<f64>,
    /// Biases, `k`.
    pub b: Vec<f64>,
    /// Features.
    pub d: usize,
}

impl SoftmaxRegression {
    /// Class probabilities of each row of `x` (`m × d` row-major).
    pub fn predict(&self, x: &[f64]) -> Vec<Vec<f64>> {
        let (k, d) = (self.b.len(), self.d);
        x.chunks(d)
            .map(|row| {
                let z: Vec<f64> = (0..k)
                    .map(|c| {
                        self.b[c]
                            + row
                                .iter()
                                .zip(&self.w[c * d..(c + 1) * d])
                                .map(|(a, w)| a * w)
                                .sum::<f64>()
                    })
                    .collect();
                let mx = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = z.iter().map(|v| (v - mx).exp()).collect();
                let s: f64 = e.iter().sum();
                e.into_iter().map(|v| v / s).collect()
            })
            .collect()
    }
}

/// Multinomial logistic regression with an L2 penalty, `min mean(−log p(y|x)) + λ/2 ‖W‖²`
/// (biases unpenalised), by Nesterov-accelerated gradient descent with step 1/L, where
/// L = ‖X‖²_F / (2m) + λ bounds the curvature. `x` is `m × d` row-major (standardise it first),
/// `y` holds class indices below `k`. Deterministic.
///
/// ```
/// use genolm::stats::regression::softmax_regression;
/// // one feature separates three classes
/// let x = vec![-2.0, -1.8, 0.1, -0.1, 1.9, 2.2];
/// let y = vec![0, 0, 1, 1, 2, 2];
/// let m = softmax_regression(&x, 1, &y, 3, 1e-3, 500);
/// let p = m.predict(&[-2.0, 0.0, 2.0]);
/// assert!(p[0][0] > 0.6 && p[1][1] > 0.4 && p[2][2] > 0.6, "{p:?}");
/// ```
pub fn softmax_regression(
    x: &[f64],
    d: usize,
    y: &[u32],
    k: usize,
    lambda: f64,
    iters: usize,
) -> SoftmaxRegression {
    weighted_softmax_regression(x, d, y, k, lambda, iters, None)
}

/// [`softmax_regression`] with a weight per row: the loss is the weighted mean
/// `Σ wᵢ (−log p(yᵢ|xᵢ)) / Σ wᵢ` (PyTorch's weighted cross-entropy; with
/// [`balanced_class_weights`], every class counts as much as every other whatever its size),
/// and L = Σ wᵢ ‖xᵢ‖² / (2 Σ wᵢ) + λ. `None` is every weight 1, bit for bit.
///
/// ```
/// use genolm::stats::regression::{balanced_class_weights, weighted_softmax_regression};
/// // 9 items of class 0 around -1, 1 of class 1 at +1, overlapping
/// let x = vec![-1.5, -1.2, -1.0, -0.8, -0.6, -0.3, 0.0, 0.3, 0.9, 0.6];
/// let y = vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
/// let plain = weighted_softmax_regression(&x, 1, &y, 2, 1e-2, 500, None);
/// let w = balanced_class_weights(&y, 2);
/// let balanced = weighted_softmax_regression(&x, 1, &y, 2, 1e-2, 500, Some(&w));
/// // the rare class's own item: unlikely unweighted, likely when both classes weigh the same
/// assert!(plain.predict(&[0.6])[0][1] < 0.5);
/// assert!(balanced.predict(&[0.6])[0][1] > 0.5);
/// ```
pub fn weighted_softmax_regression(
    x: &[f64],
    d: usize,
    y: &[u32],
    k: usize,
    lambda: f64,
    iters: usize,
    weights: Option<&[f64]>,
) -> SoftmaxRegression {
    let m = y.len().max(1);
    let wsum = weights.map(|w| w.iter().sum::<f64>().max(1e-300));
    let lip = match weights {
        None => x.iter().map(|v| v * v).sum::<f64>() / (2.0 * m as f64),
        Some(w) => {
            x.chunks(d.max(1))
                .zip(w)
                .map(|(r, wi)| wi * r.iter().map(|v| v * v).sum::<f64>())
                .sum::<f64>()
                / (2.0 * wsum.unwrap_or(1.0))
        }
    } + lambda
        + 1e-12;
    let step = 1.0 / lip;
    let n = k * d + k;
    let (mut theta, mut prev) = (vec![0.0; n], vec![0.0; n]);
    let mut t = 1.0f64;
    for _ in 0..iters {
        // look-ahead point
        let t_next = (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0;
        let mom = (t - 1.0) / t_next;
        let z: Vec<f64> = theta
            .iter()
            .zip(&prev)
            .map(|(a, b)| a + mom * (a - b))
            .collect();
        let model = SoftmaxRegression {
            w: z[..k * d].to_vec(),
            b: z[k * d..].to_vec(),
            d,
        };
        let p = model.predict(x);
        let mut g = vec![0.0; n];
        for (i, (row, pi)) in x.chunks(d).zip(&p).enumerate() {
            for c in 0..k {
                let e = pi[c] - f64::from(u8::from(y[i] as usize == c));
                let r = match (weights, wsum) {
                    (Some(w), Some(s)) => e * w[i] / s,
                    _ => e / m as f64,
                };
                for (gj, xj) in g[c * d..(c + 1) * d].iter_mut().zip(row) {
                    *gj += r * xj;
                }
                g[k * d + c] += r;
            }
        }
        for j in 0..k * d {
            g[j] += lambda * z[j];
        }
        prev = theta;
        theta = z.iter().zip(&g).map(|(a, b)| a - step * b).collect();
        t = t_next;
    }
    SoftmaxRegression {
        w: theta[..k * d].to_vec(),
        b: theta[k * d..].to_vec(),
        d,
    }
}

/// Row weights that make each of `k` classes weigh the same in total: `m / (k · mᶜ)` for a row
/// of class `c` with `mᶜ` rows (scikit-learn's `class_weight="balanced"`); 1 for a balanced set.
///
/// ```
/// let w = genolm::stats::regression::balanced_class_weights(&[0, 0, 0, 1], 2);
/// assert_eq!(w, vec![4.0 / 6.0, 4.0 / 6.0, 4.0 / 6.0, 2.0]);
/// ```
pub fn balanced_class_weights(y: &[u32], k: usize) -> Vec<f64> {
    let per = class_weights(y, k);
    y.iter().map(|&c| per[c as usize]).collect()
}

/// The weight of each class under [`balanced_class_weights`] (`m / (k · mᶜ)`; 1 for a class
/// without rows).
pub fn class_weights(y: &[u32], k: usize) -> Vec<f64> {
    super::class_counts(y.iter().copied(), k)
        .iter()
        .map(|&n| {
            if n == 0 {
                1.0
            } else {
                y.len() as f64 / (k as f64 * n as f64)
            }
        })
        .collect()
}

/// Column means and standard deviations of training rows, applied to any rows: what
/// [`standardised`] fits, kept so that a fitted model can standardise new items the same way.
#[derive(Debug, Clone, PartialEq)]
pub struct Standardiser {
    /// Column means.
    pub mean: Vec<f64>,
    /// Column standard deviations (1 for a column without variance).
    pub sd: Vec<f64>,
}

impl Standardiser {
    /// Fit to `train` rows.
    pub fn fit(train: &[Vec<f64>]) -> Self {
        let d = train.first().map_or(0, Vec::len);
        let m = train.len().max(1) as f64;
        let mean: Vec<f64> = (0..d)
            .map(|j| train.iter().map(|r| r[j]).sum::<f64>() / m)
            .collect();
        let sd: Vec<f64> = (0..d)
            .map(|j| {
                let v = train.iter().map(|r| (r[j] - mean[j]).powi(2)).sum::<f64>() / m;
                if v > 1e-12 {
                    v.sqrt()
                } else {
                    1.0
                }
            })
            .collect();
        Standardiser { mean, sd }
    }

    /// `rows` standardised, row-major.
    pub fn apply(&self, rows: &[Vec<f64>]) -> Vec<f64> {
        rows.iter()
            .flat_map(|r| {
                r.iter()
                    .enumerate()
                    .map(|(j, v)| (v - self.mean[j]) / self.sd[j])
                    .collect::<Vec<_>>()
            })
            .collect()
    }
}

/// Standardise the columns of `train` rows to mean 0 and standard deviation 1 (columns
/// without variance keep scale 1) and apply the same transform to `other`; both returned
/// row-major, ready for [`softmax_regression`].
///
/// ```
/// use genolm::stats::regression::standardised;
/// let (a, b) = standardised(&[vec![1.0, 5.0], vec![3.0, 5.0]], &[vec![2.0, 6.0]]);
/// assert_eq!(a, vec![-1.0, 0.0, 1.0, 0.0]);
/// assert_eq!(b, vec![0.0, 1.0]);
/// ```
pub fn standardised(train: &[Vec<f64>], other: &[Vec<f64>]) -> (Vec<f64>, Vec<f64>) {
    let s = Standardiser::fit(train);
    (s.apply(train), s.apply(other))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The gradient one row at a time (as the solver computed it first).
    fn one_row_at_a_time(x: &[f32], y: &[f32], d: usize, zw: &[f64], zb: f64) -> (Vec<f64>, f64) {
        let mut grad = vec![0f64; d];
        let mut gb = 0.0;
        for (r, &yy) in x.chunks(d).zip(y) {
            let mut z = zb;
            for j in 0..d {
                z += zw[j] * r[j] as f64;
            }
            let e = 1.0 / (1.0 + (-z).exp()) - yy as f64;
            gb += e;
            for j in 0..d {
                grad[j] += e * r[j] as f64;
            }
        }
        (grad, gb)
    }

    #[test]
    fn blocked_gradient_gives_the_same_bits_and_the_solver_finds_the_signal() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let (m, d) = (1_003, 13); // not a multiple of the block
        let x: Vec<f32> = (0..m * d).map(|_| rng.random_range(-2.0..2.0)).collect();
        let y: Vec<f32> = x
            .chunks(d)
            .map(|r| (r[3] - 0.5 * r[7] + rng.random_range(-0.5..0.5) > 0.0) as u8 as f32)
            .collect();
        // the blocked gradient (as the solver lays the rows out) against one row at a time
        let xr: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let xb = blocked(&xr, d);
        // row 9 is block 1's second row: its column 4 sits at 8·d + 4·8 + 1
        assert_eq!(xb[ROWS * d + 4 * ROWS + 1], xr[9 * d + 4]);
        for trial in 0..3 {
            let zw: Vec<f64> = (0..d)
                .map(|_| rng.random_range(-1.0..1.0) * trial as f64)
                .collect();
            let zb = rng.random_range(-1.0..1.0);
            let mut grad = vec![0f64; d];
            let gb = crate::cpu::simd(
                #[inline(always)]
                || logistic_gradient(&xr, &xb, &y, d, &zw, zb, &mut grad),
            );
            assert_eq!(
                (grad, gb),
                one_row_at_a_time(&x, &y, d, &zw, zb),
                "trial {trial}"
            );
        }
        let init = (vec![0.0; d], 0.0);
        let (w, _) = l1_logistic(&x, &y, d, 0.05, &init, 150);
        assert!(w[3] > 0.5 && w[7] < -0.2, "{w:?}");
        let others = (0..d).filter(|&j| j != 3 && j != 7);
        assert!(others.map(|j| w[j].abs()).sum::<f64>() < 0.1, "{w:?}");
    }

    /// Weights all 1 are the unweighted fit; integer weights are the same as repeating the
    /// rows (the weighted mean is the mean over the repeated set).
    #[test]
    fn weights_of_one_and_repeated_rows() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (m, d, k) = (30, 4, 3);
        let x: Vec<f64> = (0..m * d).map(|_| rng.random_range(-1.0..1.0)).collect();
        let y: Vec<u32> = (0..m).map(|i| (i % k) as u32).collect();
        let plain = softmax_regression(&x, d, &y, k, 1e-2, 200);
        let ones = weighted_softmax_regression(&x, d, &y, k, 1e-2, 200, Some(&vec![1.0; m]));
        for (a, b) in plain.w.iter().zip(&ones.w) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
        // row 0 twice as heavy = row 0 repeated (the step size's bound is the same too)
        let mut w = vec![1.0; m];
        w[0] = 2.0;
        let heavy = weighted_softmax_regression(&x, d, &y, k, 1e-2, 200, Some(&w));
        let mut x2 = x.clone();
        x2.extend_from_slice(&x[..d]);
        let mut y2 = y.clone();
        y2.push(y[0]);
        let repeated = softmax_regression(&x2, d, &y2, k, 1e-2, 200);
        for (a, b) in heavy.w.iter().zip(&repeated.w) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
        assert_eq!(class_weights(&[0, 0, 1], 3), vec![0.5, 1.0, 1.0]);
    }
}
