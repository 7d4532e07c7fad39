//! Classification metrics: accuracy, precision, recall, specificity, MCC, F1, AUROC, AUPRC.
//!
//! ```
//! use genolm::stats::BinaryMetrics;
//! // scores of the positive class and true labels
//! let m = BinaryMetrics::compute(&[0.9, 0.8, 0.3, 0.2], &[true, false, true, false]);
//! assert_eq!(m.accuracy, 0.5);
//! assert_eq!(m.auroc, 0.75);
//! ```

use serde::{Deserialize, Serialize};

/// Binary classification metrics at threshold 0.5, plus the threshold-free AUROC/AUPRC.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct BinaryMetrics {
    /// Items scored.
    pub n: usize,
    /// (TP + TN) / n.
    pub accuracy: f64,
    /// TP / (TP + FP).
    pub precision: f64,
    /// TP / (TP + FN) (sensitivity).
    pub recall: f64,
    /// TN / (TN + FP).
    pub specificity: f64,
    /// Matthews correlation coefficient.
    pub mcc: f64,
    /// Harmonic mean of precision and recall.
    pub f1: f64,
    /// Area under the ROC curve (ties count one half).
    pub auroc: f64,
    /// Area under the precision–recall curve (average precision).
    pub auprc: f64,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

/// AUROC by the rank-sum (Mann–Whitney) statistic with average ranks for ties
/// (NaN when a class is missing).
pub fn auroc(scores: &[f64], labels: &[bool]) -> f64 {
    let (r, ties) = super::hypothesis::ranks(scores);
    super::hypothesis::auroc_from_ranks(&r, ties, labels).0
}

/// Average precision (area under the precision–recall curve, step-wise).
pub fn auprc(scores: &[f64], labels: &[bool]) -> f64 {
    let n_pos = labels.iter().filter(|&&l| l).count();
    if n_pos == 0 {
        return f64::NAN;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp, mut ap) = (0f64, 0f64, 0f64);
    let mut i = 0;
    while i < idx.len() {
        // Treat tied scores as one threshold.
        let mut j = i;
        let (mut dtp, mut dfp) = (0f64, 0f64);
        while j < idx.len() && scores[idx[j]] == scores[idx[i]] {
            if labels[idx[j]] {
                dtp += 1.0
            } else {
                dfp += 1.0
            }
            j += 1;
        }
        tp += dtp;
        fp += dfp;
        ap += dtp / n_pos as f64 * (tp / (tp + fp));
        i = j;
    }
    ap
}

impl BinaryMetrics {
    /// One row per named result (models, seeds, tasks): n and every metric, as a table that
    /// displays in notebooks and exports to CSV, Parquet and LaTeX.
    ///
    /// ```
    /// use genolm::stats::BinaryMetrics;
    /// let m = BinaryMetrics::compute(&[0.9, 0.2], &[true, false]);
    /// let t = BinaryMetrics::table(&[("model".into(), m)])?;
    /// assert_eq!(t.height(), 1);
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn table(rows: &[(String, BinaryMetrics)]) -> crate::Result<crate::table::Table> {
        use polars::prelude::*;
        let col =
            |f: fn(&BinaryMetrics) -> f64| rows.iter().map(|(_, m)| f(m)).collect::<Vec<f64>>();
        let df = df!(
            "name" => rows.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
            "n" => rows.iter().map(|(_, m)| m.n as u64).collect::<Vec<_>>(),
            "accuracy" => col(|m| m.accuracy),
            "precision" => col(|m| m.precision),
            "recall" => col(|m| m.recall),
            "specificity" => col(|m| m.specificity),
            "mcc" => col(|m| m.mcc),
            "f1" => col(|m| m.f1),
            "auroc" => col(|m| m.auroc),
            "auprc" => col(|m| m.auprc),
        )?;
        Ok(crate::table::Table::new("classification metrics", df))
    }

    /// Metrics from positive-class scores (probabilities) and labels; threshold 0.5.
    pub fn compute(scores: &[f64], labels: &[bool]) -> Self {
        let (mut tp, mut tn, mut fp, mut fneg) = (0f64, 0f64, 0f64, 0f64);
        for (&s, &l) in scores.iter().zip(labels) {
            match (s >= 0.5, l) {
                (true, true) => tp += 1.0,
                (false, false) => tn += 1.0,
                (true, false) => fp += 1.0,
                (false, true) => fneg += 1.0,
            }
        }
        let n = scores.len();
        let precision = ratio(tp, tp + fp);
        let recall = ratio(tp, tp + fneg);
        let denom = ((tp + fp) * (tp + fneg) * (tn + fp) * (tn + fneg)).sqrt();
        BinaryMetrics {
            n,
            accuracy: ratio(tp + tn, n as f64),
            precision,
            recall,
            specificity: ratio(tn, tn + fp),
            mcc: ratio(tp * tn - fp * fneg, denom),
            f1: ratio(2.0 * precision * recall, precision + recall),
            auroc: auroc(scores, labels),
            auprc: auprc(scores, labels),
        }
    }

    /// The metrics as `(name, value)` pairs, in a fixed order.
    pub fn named(&self) -> [(&'static str, f64); 8] {
        [
            ("accuracy", self.accuracy),
            ("precision", self.precision),
            ("recall", self.recall),
            ("specificity", self.specificity),
            ("mcc", self.mcc),
            ("f1", self.f1),
            ("auroc", self.auroc),
            ("auprc", self.auprc),
        ]
    }
}

/// Mean and sample standard deviation.
pub fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let m = xs.iter().sum::<f64>() / n;
    let sd = if xs.len() > 1 {
        (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (m, sd)
}

/// Points of the ROC curve `(false positive rate, true positive rate)`, from (0, 0) to (1, 1),
/// one point per distinct score threshold (tied scores move diagonally). Empty when a class is
/// missing.
///
/// ```
/// let pts = genolm::stats::roc_curve(&[0.9, 0.8, 0.3, 0.1], &[true, false, true, false]);
/// assert_eq!(pts.first(), Some(&(0.0, 0.0)));
/// assert_eq!(pts.last(), Some(&(1.0, 1.0)));
/// ```
pub fn roc_curve(scores: &[f64], labels: &[bool]) -> Vec<(f64, f64)> {
    let (steps, n_pos, n_neg) = threshold_counts(scores, labels);
    if n_pos == 0 || n_neg == 0 {
        return Vec::new();
    }
    std::iter::once((0.0, 0.0))
        .chain(
            steps
                .iter()
                .map(|&(tp, fp)| (fp as f64 / n_neg as f64, tp as f64 / n_pos as f64)),
        )
        .collect()
}

/// Points of the precision–recall curve `(recall, precision)`, one per distinct score threshold.
/// Empty when there is no positive.
///
/// ```
/// let pts = genolm::stats::pr_curve(&[0.9, 0.8, 0.3, 0.1], &[true, false, true, false]);
/// assert_eq!(pts[0], (0.5, 1.0));
/// assert_eq!(pts.last(), Some(&(1.0, 0.5)));
/// ```
pub fn pr_curve(scores: &[f64], labels: &[bool]) -> Vec<(f64, f64)> {
    let (steps, n_pos, _) = threshold_counts(scores, labels);
    if n_pos == 0 {
        return Vec::new();
    }
    steps
        .iter()
        .map(|&(tp, fp)| (tp as f64 / n_pos as f64, tp as f64 / (tp + fp) as f64))
        .collect()
}

/// Cumulative `(true positives, false positives)` at each distinct threshold, from the highest
/// finite score down (tied scores enter together), and the class counts among finite scores.
fn threshold_counts(scores: &[f64], labels: &[bool]) -> (Vec<(usize, usize)>, usize, usize) {
    let mut order: Vec<usize> = (0..scores.len().min(labels.len()))
        .filter(|&i| scores[i].is_finite())
        .collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut steps = Vec::new();
    let (mut tp, mut fp) = (0usize, 0usize);
    for (k, &i) in order.iter().enumerate() {
        if labels[i] {
            tp += 1
        } else {
            fp += 1
        }
        let last_of_tie = order
            .get(k + 1)
            .is_none_or(|&j| scores[j].total_cmp(&scores[i]).is_ne());
        if last_of_tie {
            steps.push((tp, fp));
        }
    }
    (steps, tp, fp)
}

/// Index of the largest value (the last of equal largest values; 0 for an empty slice).
///
/// ```
/// assert_eq!(genolm::stats::argmax(&[0.2f32, 0.7, 0.1]), 1);
/// assert_eq!(genolm::stats::argmax::<f64>(&[]), 0);
/// ```
pub fn argmax<P: Copy + Into<f64>>(v: &[P]) -> usize {
    v.iter()
        .map(|&x| x.into())
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map_or(0, |m| m.0)
}

/// Arg-max accuracy of class probabilities ([`argmax`]; 0 for no items).
pub fn accuracy(probs: &[Vec<f64>], labels: &[u32]) -> f64 {
    probs
        .iter()
        .zip(labels)
        .filter(|(p, &y)| argmax(p) == y as usize)
        .count() as f64
        / labels.len().max(1) as f64
}

/// Metrics of class probabilities: arg-max accuracy, then the binary metrics (macro one-vs-rest
/// for more than two classes). Returns `(accuracy, named metrics)`.
pub fn class_metrics(probs: &[Vec<f64>], labels: &[u32]) -> (f64, Vec<(&'static str, f64)>) {
    let n_classes = probs.first().map(|p| p.len()).unwrap_or(0);
    let acc = accuracy(probs, labels);
    let classes: Vec<usize> = if n_classes == 2 {
        vec![1]
    } else {
        (0..n_classes).collect()
    };
    let mut sums: Vec<(&'static str, f64)> = Vec::new();
    for &c in &classes {
        let s: Vec<f64> = probs.iter().map(|p| p[c]).collect();
        let l: Vec<bool> = labels.iter().map(|&y| y as usize == c).collect();
        let m = BinaryMetrics::compute(&s, &l);
        for (i, (name, v)) in m.named().into_iter().enumerate() {
            if name == "accuracy" {
                continue;
            }
            match sums.iter_mut().find(|x| x.0 == name) {
                Some(x) => x.1 += v,
                None => {
                    let _ = i;
                    sums.push((name, v))
                }
            }
        }
    }
    for x in &mut sums {
        x.1 /= classes.len() as f64;
    }
    sums.push(("balanced_accuracy", balanced_accuracy(probs, labels)));
    (acc, sums)
}

/// How many of `labels` fall in each of `k` classes (labels from 0; a label ≥ `k` is not
/// counted).
///
/// ```
/// assert_eq!(genolm::stats::class_counts([0, 2, 2, 0, 2], 3), vec![2, 0, 3]);
/// ```
pub fn class_counts(labels: impl IntoIterator<Item = u32>, k: usize) -> Vec<usize> {
    let mut counts = vec![0usize; k];
    for c in labels {
        if let Some(n) = counts.get_mut(c as usize) {
            *n += 1;
        }
    }
    counts
}

/// The mean over classes of the share of each class's items whose arg-max is that class
/// (the mean recall; classes without items left out): accuracy that a classifier calling
/// every item the common class does not reach on unbalanced data.
///
/// ```
/// // 3 items of class 0, 1 of class 1, everything called class 0
/// let p = vec![vec![0.9, 0.1]; 4];
/// assert_eq!(genolm::stats::accuracy(&p, &[0, 0, 0, 1]), 0.75);
/// assert_eq!(genolm::stats::balanced_accuracy(&p, &[0, 0, 0, 1]), 0.5);
/// ```
pub fn balanced_accuracy(probs: &[Vec<f64>], labels: &[u32]) -> f64 {
    let k = probs.first().map_or(0, Vec::len);
    let (mut hit, mut n) = (vec![0usize; k], vec![0usize; k]);
    for (p, &y) in probs.iter().zip(labels) {
        if let Some(c) = n.get_mut(y as usize) {
            *c += 1;
            hit[y as usize] += usize::from(argmax(p) == y as usize);
        }
    }
    let recalls: Vec<f64> = hit
        .iter()
        .zip(&n)
        .filter(|(_, &n)| n > 0)
        .map(|(&h, &n)| h as f64 / n as f64)
        .collect();
    recalls.iter().sum::<f64>() / recalls.len().max(1) as f64
}

/// Class posteriors from per-class log-likelihoods (each plus its log prior, if any): the
/// normalised exponentials, shifted by the largest so no term overflows.
///
/// ```
/// let p = genolm::stats::posterior(&[-1000.0, -1000.0 - 2f64.ln()]);
/// assert!((p[0] - 2.0 / 3.0).abs() < 1e-12 && (p[1] - 1.0 / 3.0).abs() < 1e-12);
/// ```
pub fn posterior(log_likelihoods: &[f64]) -> Vec<f64> {
    let mx = log_likelihoods
        .iter()
        .cloned()
        .fold(f64::NEG_INFINITY, f64::max);
    let z: f64 = log_likelihoods.iter().map(|v| (v - mx).exp()).sum();
    log_likelihoods.iter().map(|v| (v - mx).exp() / z).collect()
}

/// The item-wise mean of several classifiers' class probabilities (an equal-weight ensemble):
/// `sets[m][i][c]` is classifier `m`'s probability of class `c` for item `i`. Every set must
/// have the same items and classes (`None` otherwise, or for no sets).
///
/// ```
/// use genolm::stats::mean_probs;
/// let a = vec![vec![0.9, 0.1], vec![0.2, 0.8]];
/// let b = vec![vec![0.5, 0.5], vec![0.6, 0.4]];
/// let m = mean_probs(&[&a, &b]).unwrap();
/// assert!((m[0][0] - 0.7).abs() < 1e-12 && (m[1][1] - 0.6).abs() < 1e-12);
/// assert!(mean_probs(&[&a, &b[..1]]).is_none());
/// ```
pub fn mean_probs(sets: &[&[Vec<f64>]]) -> Option<Vec<Vec<f64>>> {
    let first = sets.first()?;
    let same = |s: &&[Vec<f64>]| {
        s.len() == first.len() && s.iter().zip(first.iter()).all(|(a, b)| a.len() == b.len())
    };
    if !sets.iter().all(same) {
        return None;
    }
    let n = sets.len() as f64;
    Some(
        (0..first.len())
            .map(|i| {
                (0..first[i].len())
                    .map(|c| sets.iter().map(|s| s[i][c]).sum::<f64>() / n)
                    .collect()
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_case() {
        // TP=2 (0.9, 0.7), FP=1 (0.6), TN=2 (0.4, 0.1), FN=1 (0.2)
        let s = [0.9, 0.7, 0.6, 0.4, 0.2, 0.1];
        let l = [true, true, false, false, true, false];
        let m = BinaryMetrics::compute(&s, &l);
        assert!((m.accuracy - 4.0 / 6.0).abs() < 1e-12);
        assert!((m.precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.recall - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.specificity - 2.0 / 3.0).abs() < 1e-12);
        assert!((m.mcc - 1.0 / 3.0).abs() < 1e-12);
        // Positives rank 6,5,2 → (13 − 6) / 9.
        assert!((m.auroc - 7.0 / 9.0).abs() < 1e-12);
        // AP = (1/3)(1 + 1 + 3/5)
        assert!((m.auprc - (2.0 + 0.6) / 3.0).abs() < 1e-12);
        assert_eq!(auroc(&[0.5, 0.5], &[true, false]), 0.5);
    }
}
