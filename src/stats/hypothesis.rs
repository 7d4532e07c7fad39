//! Statistics for neuron analyses: ranks, AUROC with the Mann–Whitney p-value, Pearson /
//! point-biserial correlation with its Student-t p-value, best-threshold accuracy, and
//! multiple-testing corrections (Benjamini–Hochberg, Bonferroni).
//!
//! ```
//! use genolm::stats::{benjamini_hochberg, bonferroni, pearson};
//! let (r, p) = pearson(&[1.0, 2.0, 3.0, 4.0, 5.0], &[2.0, 4.1, 6.0, 8.2, 9.9]);
//! assert!(r > 0.99 && p < 1e-3);
//! let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.5]);
//! assert!((q[0] - 0.04).abs() < 1e-12 && (q[3] - 0.5).abs() < 1e-12);
//! assert_eq!(bonferroni(&[0.01, 0.5]), vec![0.02, 1.0]);
//! ```

/// Average ranks (1-based, ties get their mean rank) and the tie-correction term
/// `Σ (t³ − t)` over groups of tied values.
pub fn ranks<T: Copy + Into<f64> + PartialEq>(x: &[T]) -> (Vec<f64>, f64) {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_unstable_by(|&a, &b| x[a].into().total_cmp(&x[b].into()));
    ranks_sorted(x, &idx)
}

/// [`ranks`] from `idx`, the indices that sort `x` ascending.
pub fn ranks_sorted<T: PartialEq>(x: &[T], idx: &[usize]) -> (Vec<f64>, f64) {
    let mut r = vec![0f64; x.len()];
    let mut ties = 0f64;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = avg;
        }
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        i = j + 1;
    }
    (r, ties)
}

/// AUROC of `x` for the positives of `labels` from precomputed [`ranks`], and the two-sided
/// Mann–Whitney p-value (normal approximation with tie correction).
pub fn auroc_from_ranks(ranks: &[f64], ties: f64, labels: &[bool]) -> (f64, f64) {
    let n = labels.len() as f64;
    let mut n1 = 0f64;
    let mut sum = 0f64;
    for (r, &l) in ranks.iter().zip(labels) {
        if l {
            n1 += 1.0;
            sum += r;
        }
    }
    let n0 = n - n1;
    if n1 == 0.0 || n0 == 0.0 {
        return (f64::NAN, 1.0);
    }
    let u = sum - n1 * (n1 + 1.0) / 2.0;
    let auc = u / (n1 * n0);
    let var = n1 * n0 / 12.0 * ((n + 1.0) - ties / (n * (n - 1.0)));
    let p = if var > 0.0 {
        let z = (u - n1 * n0 / 2.0).abs() / var.sqrt();
        erfc(z / std::f64::consts::SQRT_2)
    } else {
        1.0
    };
    (auc, p)
}

/// AUROC and Mann–Whitney p-value of scores `x` for binary `labels`.
pub fn auroc_test(x: &[f32], labels: &[bool]) -> (f64, f64) {
    let (r, t) = ranks(x);
    auroc_from_ranks(&r, t, labels)
}

/// Pearson correlation (point-biserial when `y` is 0/1) and its two-sided p-value
/// (Student t with n − 2 degrees of freedom).
pub fn pearson(x: &[f32], y: &[f32]) -> (f64, f64) {
    let n = x.len().min(y.len());
    if n < 3 {
        return (f64::NAN, 1.0);
    }
    let (mut sx, mut sy) = (0f64, 0f64);
    for i in 0..n {
        sx += x[i] as f64;
        sy += y[i] as f64;
    }
    let (mx, my) = (sx / n as f64, sy / n as f64);
    let (mut cxy, mut cxx, mut cyy) = (0f64, 0f64, 0f64);
    for i in 0..n {
        let a = x[i] as f64 - mx;
        let b = y[i] as f64 - my;
        cxy += a * b;
        cxx += a * a;
        cyy += b * b;
    }
    if cxx <= 0.0 || cyy <= 0.0 {
        return (0.0, 1.0);
    }
    let r = (cxy / (cxx * cyy).sqrt()).clamp(-1.0, 1.0);
    (r, pearson_p(r, n))
}

/// Two-sided p-value of a Pearson correlation `r` over `n` pairs.
pub fn pearson_p(r: f64, n: usize) -> f64 {
    if n < 3 || !r.is_finite() {
        return 1.0;
    }
    let df = (n - 2) as f64;
    let r2 = r * r;
    if r2 >= 1.0 {
        return 0.0;
    }
    let t2 = r2 * df / (1.0 - r2);
    // P(|T| > t) = I_{df/(df+t²)}(df/2, 1/2)
    incomplete_beta(df / 2.0, 0.5, df / (df + t2))
}

/// Paired t-test of `after − before`: `(mean difference, t, two-sided p)`.
///
/// ```
/// let (d, t, p) = genolm::stats::paired_t(&[1.0, 2.0, 3.0, 4.0], &[1.5, 2.4, 3.6, 4.5]);
/// assert!((d - 0.5).abs() < 1e-12 && t > 5.0 && p < 0.01);
/// ```
pub fn paired_t(before: &[f64], after: &[f64]) -> (f64, f64, f64) {
    let d: Vec<f64> = before.iter().zip(after).map(|(b, a)| a - b).collect();
    let n = d.len();
    if n < 2 {
        return (d.first().copied().unwrap_or(0.0), 0.0, 1.0);
    }
    let m = d.iter().sum::<f64>() / n as f64;
    let var = d.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1) as f64;
    if var <= 0.0 {
        return (
            m,
            if m == 0.0 {
                0.0
            } else {
                f64::INFINITY * m.signum()
            },
            if m == 0.0 { 1.0 } else { 0.0 },
        );
    }
    let t = m / (var / n as f64).sqrt();
    let df = (n - 1) as f64;
    (m, t, incomplete_beta(df / 2.0, 0.5, df / (df + t * t)))
}

/// Best-threshold accuracy of `x` for binary `labels`, over both directions.
/// Returns `(accuracy, threshold, direction)`: predicted positive when
/// `direction · x > direction · threshold`.
pub fn best_threshold_accuracy(x: &[f32], labels: &[bool]) -> (f64, f32, i8) {
    let mut idx: Vec<usize> = (0..x.len()).collect();
    idx.sort_unstable_by(|&a, &b| x[a].total_cmp(&x[b]));
    best_threshold_accuracy_sorted(x, &idx, labels)
}

/// [`best_threshold_accuracy`] with `idx`, the indices that sort `x` ascending (reused
/// across targets).
pub fn best_threshold_accuracy_sorted(x: &[f32], idx: &[usize], labels: &[bool]) -> (f64, f32, i8) {
    let n = x.len();
    if n == 0 {
        return (f64::NAN, 0.0, 1);
    }
    let n_pos = labels.iter().filter(|&&l| l).count();
    let n_neg = n - n_pos;
    // threshold below everything: all predicted positive (direction +1)
    let mut neg_below = 0usize;
    let mut pos_below = 0usize;
    let mut best = (n_pos.max(n_neg) as f64 / n as f64, x[idx[0]] - 1.0, 1i8);
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && x[idx[j + 1]] == x[idx[i]] {
            j += 1;
        }
        for &k in &idx[i..=j] {
            if labels[k] {
                pos_below += 1;
            } else {
                neg_below += 1;
            }
        }
        // threshold at x[idx[j]]: positive when x > thr
        let acc_up = (neg_below + (n_pos - pos_below)) as f64 / n as f64;
        let acc_down = (pos_below + (n_neg - neg_below)) as f64 / n as f64;
        let thr = x[idx[j]];
        if acc_up > best.0 {
            best = (acc_up, thr, 1);
        }
        if acc_down > best.0 {
            best = (acc_down, thr, -1);
        }
        i = j + 1;
    }
    best
}

/// Benjamini–Hochberg adjusted p-values (q-values), in input order.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut idx: Vec<usize> = (0..m).collect();
    idx.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut q = vec![1f64; m];
    let mut running = 1f64;
    for (rank, &i) in idx.iter().enumerate().rev() {
        let v = (p[i] * m as f64 / (rank + 1) as f64).min(1.0);
        running = running.min(v);
        q[i] = running;
    }
    q
}

/// Bonferroni-adjusted p-values: `min(1, p · m)`.
pub fn bonferroni(p: &[f64]) -> Vec<f64> {
    let m = p.len() as f64;
    p.iter().map(|&x| (x * m).min(1.0)).collect()
}

/// Complementary error function (Numerical Recipes `erfcc`, fractional error < 1.2e-7).
pub fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let ans = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        ans
    } else {
        2.0 - ans
    }
}

/// Natural log of the gamma function (Lanczos approximation).
pub fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 6] = [
        76.180_091_729_471_46,
        -86.505_320_329_416_77,
        24.014_098_240_830_91,
        -1.231_739_572_450_155,
        0.120_865_097_386_617_9e-2,
        -0.539_523_938_495_3e-5,
    ];
    let mut y = x;
    let tmp = x + 5.5;
    let tmp = tmp - (x + 0.5) * tmp.ln();
    let mut ser = 1.000_000_000_190_015;
    for c in C {
        y += 1.0;
        ser += c / y;
    }
    -tmp + (2.506_628_274_631_000_5 * ser / x).ln()
}

/// Regularized incomplete beta function `I_x(a, b)`.
pub fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let bt = (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        bt * beta_cf(a, b, x) / a
    } else {
        1.0 - bt * beta_cf(b, a, 1.0 - x) / b
    }
}

fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    // keep continued-fraction terms away from zero (Lentz's method)
    let nz = |v: f64| if v.abs() < 1e-300 { 1e-300 } else { v };
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 / nz(1.0 - qab * x / qap);
    let mut h = d;
    for m in 1..300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 / nz(1.0 + aa * d);
        c = nz(1.0 + aa / c);
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 / nz(1.0 + aa * d);
        c = nz(1.0 + aa / c);
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < 1e-12 {
            break;
        }
    }
    h
}

/// A p- or q-value for a table or a printout (`3.2e-5`); one that underflowed f64 to 0 is
/// written `< 1e-300`.
///
/// ```
/// assert_eq!(genolm::stats::format_p(3.2e-5), "3.2e-5");
/// assert_eq!(genolm::stats::format_p(0.0), "< 1e-300");
/// ```
pub fn format_p(p: f64) -> String {
    if p > 0.0 {
        format!("{p:.1e}")
    } else {
        "< 1e-300".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p_values_match_reference_values() {
        // scipy.stats.pearsonr-equivalent: r = 0.5, n = 20 → p = 0.02479
        assert!((pearson_p(0.5, 20) - 0.024_789).abs() < 1e-4);
        // erfc(1) = 0.157299
        assert!((erfc(1.0) - 0.157_299_207).abs() < 1e-6);
        // I_0.5(2, 3) = 0.6875
        assert!((incomplete_beta(2.0, 3.0, 0.5) - 0.6875).abs() < 1e-9);
    }

    #[test]
    fn auroc_and_accuracy_by_hand() {
        let x = [0.1f32, 0.4, 0.35, 0.8];
        let l = [false, false, true, true];
        let (auc, _) = auroc_test(&x, &l);
        assert!((auc - 0.75).abs() < 1e-12);
        let (acc, thr, dir) = best_threshold_accuracy(&x, &l);
        assert_eq!((acc, dir), (0.75, 1));
        assert!(thr == 0.1 || thr == 0.4);
        // a negatively associated neuron is found with direction −1
        let neg: Vec<f32> = x.iter().map(|v| -v).collect();
        let (acc2, _, dir2) = best_threshold_accuracy(&neg, &l);
        assert_eq!((acc2, dir2), (0.75, -1));
    }

    #[test]
    fn bh_is_monotone_and_bounded() {
        let p = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205];
        let q = benjamini_hochberg(&p);
        for w in q.windows(2) {
            assert!(w[0] <= w[1] + 1e-15);
        }
        // hand: q(0.042) = min over ranks ≥ 5 of p·8/rank = min(0.0672, 0.08, 0.0846, 0.205)
        assert!((q[4] - 0.0672).abs() < 1e-12);
        assert!((q[0] - 0.008).abs() < 1e-12);
        assert!((q[1] - 0.032).abs() < 1e-12);
    }
}
