//! Tomtom (Gupta, Stamatoyannopoulos, Bailey & Noble 2007): motif-to-motif comparison with
//! analytic p-values, as MEME's `tomtom` computes them (complete score, all offsets).
//!
//! For a query of `m` columns:
//! 1. every query column `i` is scored against every column of the database (both strands)
//!    — by default `−√Σ(q − t)²` (Tomtom's Euclidean distance), or Pearson correlation —, and
//!    that empirical distribution, shifted by its median, is the column's null;
//! 2. scores are binned on one integer grid (`n_bins` per unit of range) and the null of the
//!    sum over any span of query columns is computed exactly by convolution (dynamic
//!    programming), unaligned query columns scoring their median (the *complete* score);
//! 3. for a target of width `n`, the best alignment over all `m + n − 1` offsets is compared
//!    with the null of the maximum over those offsets (offsets taken as independent), giving
//!    the p-value; strands combine as `1 − (1 − p)²`; E = p × database size; q-values are
//!    Benjamini–Hochberg over the database.
//!
//! Agreement with the published tool is checked against memelite 0.5's `tomtom` (which
//! reproduces MEME's) on JASPAR queries (`benches/peers/tomtom_memelite.py`, tests/motifs.rs).
//!
//! ```
//! use genolm::explain::motifs::{parse_jaspar, tomtom, Pwm, TomtomOptions};
//! let db = parse_jaspar(">MA0004.1\tArnt\nA [4 19 0 0 0 0]\nC [16 0 20 0 0 0]\nG [0 1 0 20 0 20]\nT [0 0 0 0 20 0]\n\
//!                        >MA9.1\tx\nA [20 20 0 0]\nC [0 0 0 0]\nG [0 0 20 0]\nT [0 0 0 20]\n", "mem")?;
//! let q = Pwm::from_counts("query", &[[0., 20., 0., 0.], [20., 0., 0., 0.], [0., 0., 0., 20.], [0., 20., 0., 0.], [0., 0., 20., 0.], [20., 0., 0., 0.]]);
//! let hits = tomtom(&q, &db, &TomtomOptions::default());
//! assert_eq!(hits[0].target, "MA0004.1");  // CACGTG is its own reverse complement
//! assert!(hits[0].p < hits[1].p);
//! # Ok::<(), genolm::Error>(())
//! ```

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::Pwm;
use crate::stats::benjamini_hochberg;
use crate::table::Table;
use crate::Result;

/// The column similarity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distance {
    /// `−√Σ(q − t)²` (Tomtom's default, `-dist ed`).
    Euclidean,
    /// Pearson correlation of the two columns (`-dist pearson`).
    Pearson,
}

/// Options of [`tomtom`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TomtomOptions {
    /// Column similarity.
    pub distance: Distance,
    /// Bins per unit of score range (Tomtom's `t`, 100).
    pub n_bins: usize,
    /// Smallest number of overlapping columns an alignment may have (Tomtom: 1).
    pub min_overlap: usize,
    /// Compare with the targets' reverse complements too.
    pub both_strands: bool,
}

impl Default for TomtomOptions {
    fn default() -> Self {
        Self {
            distance: Distance::Euclidean,
            n_bins: 100,
            min_overlap: 1,
            both_strands: true,
        }
    }
}

/// One database match of a query motif.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MotifMatch {
    /// Query id.
    pub query: String,
    /// Target id.
    pub target: String,
    /// Target name.
    pub target_name: String,
    /// The best alignment's complete score (sum over query columns of the column score minus
    /// its null median; unaligned columns score 0).
    pub score: f64,
    /// Offset of the target relative to the query at the best alignment.
    pub offset: isize,
    /// `+` or `-` (target reverse-complemented).
    pub strand: char,
    /// Overlapping columns.
    pub overlap: usize,
    /// Tomtom p-value of the best alignment.
    pub p: f64,
    /// E-value: `p` × number of targets.
    pub e: f64,
    /// Benjamini–Hochberg q-value over the database.
    pub q: f64,
}

fn col_score(d: Distance, a: &[f64; 4], b: &[f64; 4]) -> f64 {
    match d {
        Distance::Euclidean => {
            let z: f64 = (0..4).map(|i| (a[i] - b[i]).powi(2)).sum();
            -z.sqrt()
        }
        Distance::Pearson => {
            let ma = a.iter().sum::<f64>() / 4.0;
            let mb = b.iter().sum::<f64>() / 4.0;
            let (mut c, mut va, mut vb) = (0.0, 0.0, 0.0);
            for i in 0..4 {
                c += (a[i] - ma) * (b[i] - mb);
                va += (a[i] - ma).powi(2);
                vb += (b[i] - mb).powi(2);
            }
            if va <= 1e-12 || vb <= 1e-12 {
                0.0
            } else {
                c / (va * vb).sqrt()
            }
        }
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// The query's binned nulls: per query column, the pmf over integer bins `0..=n_bins_total`,
/// the integer score of "median" (`zero`), and the binning.
struct Null {
    /// `pmf[i][x]`: column `i` scores bin `x`.
    pmf: Vec<Vec<f64>>,
    medians: Vec<f64>,
    lo: f64,
    scale: f64,
    /// Bin of a column scoring exactly its median.
    zero: i64,
}

impl Null {
    fn new(query: &[[f64; 4]], cols: &[[f64; 4]], opts: &TomtomOptions) -> Null {
        let scores: Vec<Vec<f64>> = query
            .iter()
            .map(|q| {
                cols.iter()
                    .map(|t| col_score(opts.distance, q, t))
                    .collect()
            })
            .collect();
        let medians: Vec<f64> = scores.iter().map(|s| median(&mut s.clone())).collect();
        let (mut zmin, mut zmax) = (f64::INFINITY, f64::NEG_INFINITY);
        for (s, m) in scores.iter().zip(&medians) {
            for &v in s {
                zmin = zmin.min(v - m);
                zmax = zmax.max(v - m);
            }
        }
        let lo = zmin.floor();
        let scale = (opts.n_bins as f64 / (zmax - lo).max(1.0)).floor().max(1.0);
        let top = ((zmax - lo) * scale + 0.5).floor() as usize;
        let w = 1.0 / cols.len().max(1) as f64;
        let pmf = scores
            .iter()
            .zip(&medians)
            .map(|(s, m)| {
                let mut h = vec![0.0; top + 1];
                for &v in s {
                    let x = (((v - m - lo) * scale) + 0.5).floor() as usize;
                    h[x.min(top)] += w;
                }
                h
            })
            .collect();
        Null {
            pmf,
            medians,
            lo,
            scale,
            zero: (-lo * scale) as i64,
        }
    }

    /// Integer score of query column `i` against target column `t`, relative to `zero`.
    fn score(&self, d: Distance, q: &[f64; 4], i: usize, t: &[f64; 4]) -> i64 {
        let v = col_score(d, q, t) - self.medians[i];
        (((v - self.lo) * self.scale) + 0.5).floor() as i64 - self.zero
    }
}

/// Survival functions of the span sums: `surv[(a, b)][s]` = P(Σ_{i=a..=b} X_i ≥ s) with the
/// integer scores relative to `zero` (so unaligned columns add 0), indexed from `min_s`.
struct Spans {
    surv: HashMap<(usize, usize), (i64, Vec<f64>)>,
}

impl Spans {
    fn new(null: &Null) -> Spans {
        let m = null.pmf.len();
        let mut surv = HashMap::new();
        for a in 0..m {
            // pmf of the running sum of bins over columns a..=b (absolute bins)
            let mut pmf: Vec<f64> = vec![1.0];
            for b in a..m {
                let col = &null.pmf[b];
                let mut next = vec![0.0; pmf.len() + col.len() - 1];
                for (x, &p) in pmf.iter().enumerate() {
                    if p == 0.0 {
                        continue;
                    }
                    for (y, &q) in col.iter().enumerate() {
                        next[x + y] += p * q;
                    }
                }
                pmf = next;
                // survival from the top, relative to zero per aligned column
                let mut s = vec![0.0; pmf.len() + 1];
                for x in (0..pmf.len()).rev() {
                    s[x] = s[x + 1] + pmf[x];
                }
                let shift = -(null.zero * (b - a + 1) as i64);
                surv.insert((a, b), (shift, s));
            }
        }
        Spans { surv }
    }

    /// P(sum over span ≥ s).
    fn sf(&self, span: (usize, usize), s: i64) -> f64 {
        let (shift, v) = &self.surv[&span];
        let x = s - shift;
        if x <= 0 {
            1.0
        } else if x as usize >= v.len() {
            0.0
        } else {
            v[x as usize].clamp(0.0, 1.0)
        }
    }
}

/// Query columns aligned at offset `k` (target column `j` faces query column `j + k`) for
/// query width `m` and target width `n`.
fn span(k: isize, m: usize, n: usize) -> (usize, usize) {
    let a = k.max(0) as usize;
    let b = ((k + n as isize).min(m as isize) - 1) as usize;
    (a, b)
}

/// Best alignment of `query` with `target`: (integer score, offset, overlap).
fn best(
    null: &Null,
    d: Distance,
    q: &[[f64; 4]],
    t: &[[f64; 4]],
    min_ov: usize,
) -> (i64, isize, usize) {
    let (m, n) = (q.len() as isize, t.len() as isize);
    let mut out = (i64::MIN, 0isize, 0usize);
    for k in -(n - 1)..m {
        let (a, b) = span(k, m as usize, n as usize);
        let ov = b + 1 - a;
        if ov < min_ov.min(m as usize).min(n as usize) {
            continue;
        }
        let s: i64 = (a..=b)
            .map(|i| null.score(d, &q[i], i, &t[(i as isize - k) as usize]))
            .sum();
        if s > out.0 || (s == out.0 && ov > out.2) {
            out = (s, k, ov);
        }
    }
    out
}

/// P(max over the offsets of a width-`n` target ≥ s), offsets independent.
fn p_max(spans: &Spans, m: usize, n: usize, s: i64, min_ov: usize) -> f64 {
    let mut log_cdf = 0.0;
    for k in -(n as isize - 1)..m as isize {
        let (a, b) = span(k, m, n);
        if b + 1 - a < min_ov.min(m).min(n) {
            continue;
        }
        let p = spans.sf((a, b), s);
        if p >= 1.0 {
            return 1.0;
        }
        log_cdf += (-p).ln_1p();
    }
    -log_cdf.exp_m1()
}

/// Match `query` against `db` (both strands unless told otherwise), best first.
pub fn tomtom(query: &Pwm, db: &[Pwm], opts: &TomtomOptions) -> Vec<MotifMatch> {
    if query.is_empty() || db.is_empty() {
        return Vec::new();
    }
    let rcs: Vec<Pwm> = db.iter().map(Pwm::revcomp).collect();
    let mut cols: Vec<[f64; 4]> = db.iter().flat_map(|t| t.probs.iter().copied()).collect();
    if opts.both_strands {
        cols.extend(rcs.iter().flat_map(|t| t.probs.iter().copied()));
    }
    let null = Null::new(&query.probs, &cols, opts);
    let spans = Spans::new(&null);
    let m = query.len();
    let mut cache: HashMap<(usize, i64), f64> = HashMap::new();
    let mut pval = |n: usize, s: i64| -> f64 {
        *cache
            .entry((n, s))
            .or_insert_with(|| p_max(&spans, m, n, s, opts.min_overlap))
    };
    let mut out: Vec<MotifMatch> = db
        .iter()
        .zip(&rcs)
        .filter(|(t, _)| !t.is_empty())
        .map(|(t, rc)| {
            let f = best(
                &null,
                opts.distance,
                &query.probs,
                &t.probs,
                opts.min_overlap,
            );
            let pf = pval(t.len(), f.0);
            let (best, strand, p) = if opts.both_strands {
                let r = best(
                    &null,
                    opts.distance,
                    &query.probs,
                    &rc.probs,
                    opts.min_overlap,
                );
                let pr = pval(t.len(), r.0);
                let p = pf.min(pr);
                let p = p * (2.0 - p);
                if r.0 > f.0 {
                    (r, '-', p)
                } else {
                    (f, '+', p)
                }
            } else {
                (f, '+', pf)
            };
            MotifMatch {
                query: query.id.clone(),
                target: t.id.clone(),
                target_name: t.name.clone(),
                score: best.0 as f64 / null.scale,
                offset: best.1,
                strand,
                overlap: best.2,
                p,
                e: p * db.len() as f64,
                q: 1.0,
            }
        })
        .collect();
    let q = benjamini_hochberg(&out.iter().map(|m| m.p).collect::<Vec<_>>());
    for (m, qq) in out.iter_mut().zip(q) {
        m.q = qq;
    }
    out.sort_by(|a, b| a.p.total_cmp(&b.p).then(b.score.total_cmp(&a.score)));
    out
}

/// Matches as a table.
pub fn matches_table(matches: &[MotifMatch]) -> Result<Table> {
    use polars::prelude::*;
    let m = matches;
    let df = DataFrame::new(
        m.len(),
        vec![
            Column::new(
                "query".into(),
                m.iter().map(|x| x.query.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "target".into(),
                m.iter().map(|x| x.target.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "name".into(),
                m.iter().map(|x| x.target_name.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "score".into(),
                m.iter().map(|x| x.score).collect::<Vec<_>>(),
            ),
            Column::new(
                "overlap".into(),
                m.iter().map(|x| x.overlap as u32).collect::<Vec<_>>(),
            ),
            Column::new(
                "offset".into(),
                m.iter().map(|x| x.offset as i64).collect::<Vec<_>>(),
            ),
            Column::new(
                "strand".into(),
                m.iter().map(|x| x.strand.to_string()).collect::<Vec<_>>(),
            ),
            Column::new("p".into(), m.iter().map(|x| x.p).collect::<Vec<_>>()),
            Column::new("e".into(), m.iter().map(|x| x.e).collect::<Vec<_>>()),
            Column::new("q".into(), m.iter().map(|x| x.q).collect::<Vec<_>>()),
        ],
    )?;
    Ok(Table::new("motif_matches", df))
}
