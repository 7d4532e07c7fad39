//! Embedding views of states or sequence embeddings: PCA, k-means and t-SNE, coloured by
//! kingdom or by a track.
//!
//! ```
//! use genolm::explain::embed::{kmeans, pca, tsne, TsneOptions};
//! // two clusters in 3-D
//! let x: Vec<f32> = (0..40).flat_map(|i| { let c = if i < 20 { 0.0 } else { 5.0 }; [c + (i % 3) as f32 * 0.1, c, c - (i % 5) as f32 * 0.1] }).collect();
//! let p = pca(&x, 3, 2)?;
//! assert!(p.explained[0] > 0.9);
//! let km = kmeans(&x, 3, 2, 0, 100)?;
//! assert_ne!(km.labels[0], km.labels[39]);
//! let t = tsne(&x, 3, &TsneOptions { perplexity: 5.0, iterations: 250, ..Default::default() })?;
//! assert_eq!(t.len(), 40);
//! # Ok::<(), genolm::Error>(())
//! ```

#![allow(clippy::needless_range_loop)] // index loops read best in these numeric kernels

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::plot::Figure;
use crate::{Error, Result};

/// PCA result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pca {
    /// `n × k` scores.
    pub scores: Vec<Vec<f64>>,
    /// `k × d` components (unit vectors).
    pub components: Vec<Vec<f64>>,
    /// Fraction of total variance per component.
    pub explained: Vec<f64>,
}

fn check(x: &[f32], d: usize) -> Result<usize> {
    if d == 0 || !x.len().is_multiple_of(d) || x.is_empty() {
        return Err(Error::Shape(format!(
            "{} values are not rows of {d}",
            x.len()
        )));
    }
    Ok(x.len() / d)
}

/// Principal components of `x` (`n × d` row-major) by power iteration with deflation on the
/// covariance matrix.
pub fn pca(x: &[f32], d: usize, k: usize) -> Result<Pca> {
    let n = check(x, d)?;
    let k = k.min(d);
    let mut mean = vec![0f64; d];
    for r in x.chunks(d) {
        for j in 0..d {
            mean[j] += r[j] as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut cov = vec![0f64; d * d];
    for r in x.chunks(d) {
        let c: Vec<f64> = (0..d).map(|j| r[j] as f64 - mean[j]).collect();
        for a in 0..d {
            if c[a] == 0.0 {
                continue;
            }
            for b in a..d {
                cov[a * d + b] += c[a] * c[b];
            }
        }
    }
    for a in 0..d {
        for b in a..d {
            cov[a * d + b] /= (n.max(2) - 1) as f64;
            cov[b * d + a] = cov[a * d + b];
        }
    }
    let total: f64 = (0..d).map(|i| cov[i * d + i]).sum::<f64>().max(1e-300);
    let mut comps = Vec::new();
    let mut expl = Vec::new();
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    for _ in 0..k {
        let mut v: Vec<f64> = (0..d).map(|_| rng.random::<f64>() - 0.5).collect();
        let mut lambda = 0.0;
        for _ in 0..500 {
            let mut w = vec![0f64; d];
            for a in 0..d {
                let row = &cov[a * d..(a + 1) * d];
                w[a] = row.iter().zip(&v).map(|(c, x)| c * x).sum();
            }
            let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm < 1e-300 {
                break;
            }
            w.iter_mut().for_each(|x| *x /= norm);
            let diff: f64 = w.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
            v = w;
            lambda = norm;
            if diff < 1e-10 {
                break;
            }
        }
        // deflate
        for a in 0..d {
            for b in 0..d {
                cov[a * d + b] -= lambda * v[a] * v[b];
            }
        }
        expl.push(lambda / total);
        comps.push(v);
    }
    let scores = x
        .chunks(d)
        .map(|r| {
            comps
                .iter()
                .map(|c| (0..d).map(|j| (r[j] as f64 - mean[j]) * c[j]).sum())
                .collect()
        })
        .collect();
    Ok(Pca {
        scores,
        components: comps,
        explained: expl,
    })
}

impl Pca {
    /// Scatter of the first two components coloured by `labels` (may be empty).
    pub fn plot(&self, labels: &[String]) -> Result<Figure> {
        let pts: Vec<(f64, f64)> = self
            .scores
            .iter()
            .map(|s| {
                (
                    s.first().copied().unwrap_or(0.0),
                    s.get(1).copied().unwrap_or(0.0),
                )
            })
            .collect();
        let ex = |i: usize| self.explained.get(i).copied().unwrap_or(0.0) * 100.0;
        let lab: Vec<String> = if labels.len() == pts.len() {
            labels.to_vec()
        } else {
            vec!["all".into(); pts.len()]
        };
        Figure::scatter(
            "PCA",
            &format!("PC1 ({:.1} %)", ex(0)),
            &format!("PC2 ({:.1} %)", ex(1)),
            &pts,
            &lab,
        )
    }
    /// Scores as a table (`PC1`, `PC2`, …).
    pub fn table(&self) -> Result<crate::table::Table> {
        use polars::prelude::*;
        let k = self.explained.len();
        let cols: Vec<Column> = (0..k)
            .map(|c| {
                Column::new(
                    format!("PC{}", c + 1).into(),
                    self.scores.iter().map(|s| s[c]).collect::<Vec<_>>(),
                )
            })
            .collect();
        Ok(crate::table::Table::new(
            "pca",
            DataFrame::new(self.scores.len(), cols)?,
        ))
    }
    /// evcxr display: the scatter.
    pub fn evcxr_display(&self) {
        if let Ok(f) = self.plot(&[]) {
            f.evcxr_display();
        }
    }
}

/// k-means result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KMeans {
    /// Cluster of every row.
    pub labels: Vec<usize>,
    /// `k × d` centroids.
    pub centroids: Vec<Vec<f64>>,
    /// Within-cluster sum of squares.
    pub inertia: f64,
}

/// k-means with k-means++ seeding (seeded) and Lloyd iterations.
pub fn kmeans(x: &[f32], d: usize, k: usize, seed: u64, iters: usize) -> Result<KMeans> {
    let n = check(x, d)?;
    if k == 0 || k > n {
        return Err(Error::Input(format!("k = {k} clusters for {n} rows")));
    }
    let row = |i: usize| &x[i * d..(i + 1) * d];
    let dist = |a: &[f32], c: &[f64]| -> f64 {
        a.iter().zip(c).map(|(&p, q)| (p as f64 - q).powi(2)).sum()
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cent: Vec<Vec<f64>> = vec![row(rng.random_range(0..n))
        .iter()
        .map(|&v| v as f64)
        .collect()];
    let mut dmin: Vec<f64> = (0..n).map(|i| dist(row(i), &cent[0])).collect();
    while cent.len() < k {
        let tot: f64 = dmin.iter().sum();
        let pick = if tot <= 0.0 {
            rng.random_range(0..n)
        } else {
            let mut r = rng.random::<f64>() * tot;
            let mut j = 0;
            while j + 1 < n && r > dmin[j] {
                r -= dmin[j];
                j += 1;
            }
            j
        };
        let c: Vec<f64> = row(pick).iter().map(|&v| v as f64).collect();
        for i in 0..n {
            dmin[i] = dmin[i].min(dist(row(i), &c));
        }
        cent.push(c);
    }
    let mut labels = vec![0usize; n];
    let mut inertia = 0.0;
    for _ in 0..iters.max(1) {
        let mut changed = false;
        inertia = 0.0;
        for i in 0..n {
            let (best, dd) = cent
                .iter()
                .enumerate()
                .map(|(c, m)| (c, dist(row(i), m)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .expect("k ≥ 1");
            if labels[i] != best {
                changed = true;
                labels[i] = best;
            }
            inertia += dd;
        }
        let mut sums = vec![vec![0f64; d]; k];
        let mut counts = vec![0usize; k];
        for i in 0..n {
            counts[labels[i]] += 1;
            for j in 0..d {
                sums[labels[i]][j] += row(i)[j] as f64;
            }
        }
        for c in 0..k {
            if counts[c] > 0 {
                cent[c] = sums[c].iter().map(|s| s / counts[c] as f64).collect();
            }
        }
        if !changed {
            break;
        }
    }
    Ok(KMeans {
        labels,
        centroids: cent,
        inertia,
    })
}

impl KMeans {
    /// Cluster sizes as a table.
    pub fn table(&self) -> Result<crate::table::Table> {
        use polars::prelude::*;
        let k = self.centroids.len();
        let mut n = vec![0u32; k];
        for &l in &self.labels {
            n[l] += 1;
        }
        let df = DataFrame::new(
            k,
            vec![
                Column::new("cluster".into(), (0..k as u32).collect::<Vec<_>>()),
                Column::new("size".into(), n),
            ],
        )?;
        Ok(crate::table::Table::new("kmeans", df))
    }
    /// evcxr display: the cluster sizes.
    pub fn evcxr_display(&self) {
        if let Ok(t) = self.table() {
            t.evcxr_display();
        }
    }
}

/// Options of [`tsne`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TsneOptions {
    /// Perplexity (effective neighbours).
    pub perplexity: f64,
    /// Gradient iterations.
    pub iterations: usize,
    /// Learning rate.
    pub learning_rate: f64,
    /// Seed of the initial layout.
    pub seed: u64,
    /// Refuse more rows than this (exact t-SNE is O(n²)); subsample first.
    pub max_rows: usize,
}

impl Default for TsneOptions {
    fn default() -> Self {
        Self {
            perplexity: 30.0,
            iterations: 1000,
            learning_rate: 200.0,
            seed: 0,
            max_rows: 5000,
        }
    }
}

/// Exact t-SNE (van der Maaten & Hinton 2008) to 2-D with early exaggeration and momentum.
pub fn tsne(x: &[f32], d: usize, opts: &TsneOptions) -> Result<Vec<(f64, f64)>> {
    let n = check(x, d)?;
    if n > opts.max_rows {
        return Err(Error::Input(format!(
            "exact t-SNE of {n} rows is slow (O(n²)); subsample to at most {} rows or raise max_rows",
            opts.max_rows
        )));
    }
    if n < 4 {
        return Err(Error::Input("t-SNE needs at least 4 rows".into()));
    }
    let mut d2 = vec![0f64; n * n];
    for i in 0..n {
        for j in (i + 1)..n {
            let s: f64 = x[i * d..(i + 1) * d]
                .iter()
                .zip(&x[j * d..(j + 1) * d])
                .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                .sum();
            d2[i * n + j] = s;
            d2[j * n + i] = s;
        }
    }
    // conditional probabilities with a binary search on the precision per point
    let target = opts.perplexity.min((n - 1) as f64 / 3.0).max(1.0).ln();
    let mut p = vec![0f64; n * n];
    for i in 0..n {
        let (mut lo, mut hi, mut beta) = (0.0f64, f64::INFINITY, 1.0f64);
        let dmin = (0..n)
            .filter(|&j| j != i)
            .map(|j| d2[i * n + j])
            .fold(f64::INFINITY, f64::min);
        for _ in 0..64 {
            let mut sum = 0.0;
            let mut hsum = 0.0;
            for j in 0..n {
                if j == i {
                    continue;
                }
                let v = (-(d2[i * n + j] - dmin) * beta).exp();
                p[i * n + j] = v;
                sum += v;
                hsum += v * (d2[i * n + j] - dmin);
            }
            let h = sum.ln() + beta * hsum / sum;
            for j in 0..n {
                p[i * n + j] /= sum;
            }
            if (h - target).abs() < 1e-5 {
                break;
            }
            if h > target {
                lo = beta;
                beta = if hi.is_finite() {
                    (beta + hi) / 2.0
                } else {
                    beta * 2.0
                };
            } else {
                hi = beta;
                beta = (beta + lo) / 2.0;
            }
        }
    }
    let mut pj = vec![0f64; n * n];
    for i in 0..n {
        for j in 0..n {
            pj[i * n + j] = ((p[i * n + j] + p[j * n + i]) / (2.0 * n as f64)).max(1e-12);
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut y: Vec<[f64; 2]> = (0..n)
        .map(|_| {
            [
                (rng.random::<f64>() - 0.5) * 1e-2,
                (rng.random::<f64>() - 0.5) * 1e-2,
            ]
        })
        .collect();
    let mut vel = vec![[0f64; 2]; n];
    let mut gains = vec![[1f64; 2]; n];
    let mut q = vec![0f64; n * n];
    for it in 0..opts.iterations {
        let exag = if it < 250 { 12.0 } else { 1.0 };
        let mom = if it < 250 { 0.5 } else { 0.8 };
        let mut qsum = 0.0;
        for i in 0..n {
            for j in (i + 1)..n {
                let dx = y[i][0] - y[j][0];
                let dy = y[i][1] - y[j][1];
                let v = 1.0 / (1.0 + dx * dx + dy * dy);
                q[i * n + j] = v;
                q[j * n + i] = v;
                qsum += 2.0 * v;
            }
        }
        for i in 0..n {
            let mut g = [0f64; 2];
            for j in 0..n {
                if i == j {
                    continue;
                }
                let w = q[i * n + j];
                let m = (exag * pj[i * n + j] - w / qsum) * w;
                g[0] += 4.0 * m * (y[i][0] - y[j][0]);
                g[1] += 4.0 * m * (y[i][1] - y[j][1]);
            }
            for a in 0..2 {
                gains[i][a] = if (g[a] > 0.0) != (vel[i][a] > 0.0) {
                    gains[i][a] + 0.2
                } else {
                    (gains[i][a] * 0.8).max(0.01)
                };
                vel[i][a] = mom * vel[i][a] - opts.learning_rate * gains[i][a] * g[a];
            }
        }
        for i in 0..n {
            y[i][0] += vel[i][0];
            y[i][1] += vel[i][1];
        }
    }
    Ok(y.into_iter().map(|v| (v[0], v[1])).collect())
}

/// A 2-D view coloured by labels.
pub fn plot_view(
    title: &str,
    points: &[(f64, f64)],
    labels: &[String],
    axes: (&str, &str),
) -> Result<Figure> {
    Figure::scatter(title, axes.0, axes.1, points, labels)
}
