//! Neurons for any annotated feature (seed 000): targets from every GenBank/GFF3 feature type
//! or a BED file of intervals (tRNA, rRNA, repeat_region — CRISPR arrays —, promoters, …), and
//! the **lead/lag** analysis: a neuron's mean activation just upstream of feature starts (does
//! it fire *before* the feature, e.g. on a CRISPR array's AT-rich leader?), inside the
//! feature's first bases, and downstream of feature ends, strand-aware (a reverse-strand
//! feature's upstream lies at higher coordinates), each against a null of the same windows
//! around circularly shifted anchors (which keeps the spacing of the features and the genome's
//! autocorrelation), with Benjamini–Hochberg over all neurons.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::Target;
use crate::data::annotation::{Feature, Strand};
use crate::infer::States;
use crate::plot::{Figure, Series};
use crate::stats::benjamini_hochberg;
use crate::table::Table;
use crate::{Error, Result};

/// Feature kinds that describe whole records or wrap others, left out of [`feature_targets`]
/// unless asked for.
const WRAPPERS: &[&str] = &["source", "region", "gene", "exon", "mRNA", "transcript"];

/// One binary target per feature kind of `features` (`feature:tRNA`, …; `kinds` empty = every
/// kind but the wrappers `source`, `region`, `gene`, `exon`, `mRNA`, `transcript`), aligned to
/// the rows of `record`; kinds with fewer than `min_class` rows in or out are left out.
pub fn feature_targets(
    states: &States,
    record: usize,
    features: &[Feature],
    kinds: &[String],
    min_class: usize,
) -> Result<Vec<Target>> {
    let info = states
        .records
        .get(record)
        .ok_or_else(|| Error::Input(format!("no record {record}")))?;
    let mut names: Vec<String> = features
        .iter()
        .map(|f| f.kind.clone())
        .filter(|k| {
            if kinds.is_empty() {
                !WRAPPERS.contains(&k.as_str())
            } else {
                kinds.contains(k)
            }
        })
        .collect();
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    for kind in names {
        let mut mask = vec![0u8; info.length];
        for f in features.iter().filter(|f| f.kind == kind) {
            for s in &f.segments {
                for m in mask.iter_mut().take(s.end.min(info.length)).skip(s.start) {
                    *m = 1;
                }
            }
        }
        out.extend(super::balanced_target(
            states,
            record,
            format!("feature:{kind}"),
            &mask,
            min_class,
        )?);
    }
    Ok(out)
}

/// Options of [`lead_lag`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LeadLagOptions {
    /// Layers; empty = every layer except `embed`.
    pub layers: Vec<String>,
    /// Bases before a feature's start (strand-aware) in the upstream window.
    pub upstream: usize,
    /// Bases after the start inside the feature.
    pub inside: usize,
    /// Bases after a feature's end in the downstream window.
    pub downstream: usize,
    /// Shifted-anchor null draws.
    pub n_shifts: usize,
    /// False discovery rate of the `significant` flag.
    pub fdr: f64,
    /// Seed of the shifts.
    pub seed: u64,
}

impl Default for LeadLagOptions {
    fn default() -> Self {
        LeadLagOptions {
            layers: Vec::new(),
            upstream: 200,
            inside: 200,
            downstream: 200,
            n_shifts: 200,
            fdr: 0.05,
            seed: 0,
        }
    }
}

/// One neuron's lead/lag statistics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadLagScore {
    /// Layer.
    pub layer: String,
    /// Unit.
    pub unit: usize,
    /// Mean activation upstream of starts, minus the null's mean.
    pub upstream: f64,
    /// z of `upstream` against the shift null.
    pub upstream_z: f64,
    /// Empirical two-sided p of `upstream`.
    pub upstream_p: f64,
    /// Same, inside the feature's first bases.
    pub inside: f64,
    /// z of `inside`.
    pub inside_z: f64,
    /// Same, downstream of ends.
    pub downstream: f64,
    /// z of `downstream`.
    pub downstream_z: f64,
    /// BH q of the upstream p over all neurons.
    pub upstream_q: f64,
}

/// What [`lead_lag`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadLagReport {
    /// Anchors used (features inside the record with room for the windows).
    pub n_features: usize,
    /// Every neuron, strongest upstream |z| first.
    pub scores: Vec<LeadLagScore>,
    /// FDR of the significance flag.
    pub fdr: f64,
}

/// Anchor windows in base coordinates for a feature: (upstream, inside, downstream) ranges.
type Windows = [(i64, i64); 3];

fn windows(f: &Feature, opts: &LeadLagOptions, shift: i64, len: i64) -> Option<Windows> {
    let (s, e) = f.bounds()?;
    let (s, e) = (s as i64, e as i64);
    let reverse = f.segments.first().map(|x| x.strand) == Some(Strand::Reverse);
    let (u, i, d) = (
        opts.upstream as i64,
        opts.inside as i64,
        opts.downstream as i64,
    );
    let w = if reverse {
        [(e, e + u), (e - i, e), (s - d, s)]
    } else {
        [(s - u, s), (s, s + i), (e, e + d)]
    };
    let wrap = |x: i64| x + shift;
    let out = w.map(|(a, b)| (wrap(a), wrap(b)));
    if out.iter().any(|&(a, b)| a < 0 || b > len) {
        return None;
    }
    Some(out)
}

/// Lead/lag of every neuron of `states` (record `record`) around `features`.
pub fn lead_lag(
    states: &States,
    record: usize,
    features: &[Feature],
    opts: &LeadLagOptions,
) -> Result<LeadLagReport> {
    let info = states
        .records
        .get(record)
        .ok_or_else(|| Error::Input(format!("no record {record}")))?;
    let len = info.length as i64;
    let rows = info.row_offset..info.row_offset + info.n_rows;
    let pos: Vec<i64> = rows
        .clone()
        .map(|r| states.position[r] as i64 + states.k as i64 - 1)
        .collect();
    let anchors: Vec<&Feature> = features
        .iter()
        .filter(|f| windows(f, opts, 0, len).is_some())
        .collect();
    if anchors.len() < 3 {
        return Err(Error::Input(format!(
            "{}: only {} features with room for the windows (need 3)",
            info.name,
            anchors.len()
        )));
    }
    // row range of a base range (rows sorted by position)
    let span = |a: i64, b: i64| {
        (
            pos.partition_point(|&p| p < a),
            pos.partition_point(|&p| p < b),
        )
    };
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let shifts: Vec<i64> = std::iter::once(0)
        .chain((0..opts.n_shifts).map(|_| rng.random_range(len / 10..len - len / 10)))
        .collect();
    // for each shift, the three windows' row ranges over all anchors (circular shifts)
    let ranges: Vec<[Vec<(usize, usize)>; 3]> = shifts
        .iter()
        .map(|&sh| {
            let mut r: [Vec<(usize, usize)>; 3] = Default::default();
            for f in &anchors {
                let w = windows(f, opts, 0, len).expect("filtered");
                for k in 0..3 {
                    let (a, b) = ((w[k].0 + sh).rem_euclid(len), (w[k].1 + sh).rem_euclid(len));
                    if a <= b {
                        r[k].push(span(a, b));
                    } else {
                        r[k].push(span(a, len));
                        r[k].push(span(0, b));
                    }
                }
            }
            r
        })
        .collect();
    let layers: Vec<_> = states
        .layers
        .iter()
        .filter(|l| {
            if opts.layers.is_empty() {
                crate::infer::model_layer(&l.name) != "embed"
            } else {
                opts.layers.contains(&l.name)
            }
        })
        .collect();
    let mut scores = Vec::new();
    let mut pvals = Vec::new();
    for l in layers {
        let u = l.units;
        let off = info.row_offset;
        for c0 in (0..u).step_by(64) {
            let cw = 64.min(u - c0);
            // prefix sums of this chunk of units over the record's rows
            let mut pre = vec![0f64; (pos.len() + 1) * cw];
            for r in 0..pos.len() {
                for j in 0..cw {
                    pre[(r + 1) * cw + j] = pre[r * cw + j] + l.data[(off + r) * u + c0 + j] as f64;
                }
            }
            let total: Vec<f64> = (0..cw)
                .map(|j| pre[pos.len() * cw + j] / pos.len().max(1) as f64)
                .collect();
            // window means per shift, per window kind, per unit
            let stat = |rs: &Vec<(usize, usize)>, j: usize| -> f64 {
                let (mut s, mut n) = (0.0, 0usize);
                for &(a, b) in rs {
                    s += pre[b * cw + j] - pre[a * cw + j];
                    n += b - a;
                }
                if n == 0 {
                    0.0
                } else {
                    s / n as f64
                }
            };
            for (j, &mean_all) in total.iter().enumerate() {
                let mut obs = [0f64; 3];
                let mut z = [0f64; 3];
                let mut p_up = 1.0;
                for k in 0..3 {
                    let o = stat(&ranges[0][k], j);
                    let null: Vec<f64> = ranges[1..].iter().map(|r| stat(&r[k], j)).collect();
                    let (m, sd) = crate::stats::mean_sd(&null);
                    let m = if m.is_finite() { m } else { mean_all };
                    obs[k] = o - m;
                    z[k] = if sd > 0.0 { (o - m) / sd } else { 0.0 };
                    if k == 0 {
                        let ge = null
                            .iter()
                            .filter(|&&v| (v - m).abs() >= (o - m).abs())
                            .count();
                        p_up = (1 + ge) as f64 / (1 + null.len()) as f64;
                    }
                }
                pvals.push(p_up);
                scores.push(LeadLagScore {
                    layer: l.name.clone(),
                    unit: c0 + j,
                    upstream: obs[0],
                    upstream_z: z[0],
                    upstream_p: p_up,
                    inside: obs[1],
                    inside_z: z[1],
                    downstream: obs[2],
                    downstream_z: z[2],
                    upstream_q: 1.0,
                });
            }
        }
    }
    for (s, q) in scores.iter_mut().zip(benjamini_hochberg(&pvals)) {
        s.upstream_q = q;
    }
    scores.sort_by(|a, b| b.upstream_z.abs().total_cmp(&a.upstream_z.abs()));
    Ok(LeadLagReport {
        n_features: anchors.len(),
        scores,
        fdr: opts.fdr,
    })
}

/// Mean activation of one neuron by offset from feature starts (strand-aware), in bins of
/// `bin` bases from `-before` to `after`: the curve behind [`lead_lag`]'s numbers.
pub fn start_profile(
    states: &States,
    record: usize,
    features: &[Feature],
    neuron: (&str, usize),
    before: usize,
    after: usize,
    bin: usize,
) -> Result<Vec<(f64, f64)>> {
    let info = states
        .records
        .get(record)
        .ok_or_else(|| Error::Input(format!("no record {record}")))?;
    let l = states
        .layer(neuron.0)
        .ok_or_else(|| Error::Input(format!("no layer {}", neuron.0)))?;
    if neuron.1 >= l.units {
        return Err(Error::Input(format!(
            "layer {} has {} units",
            neuron.0, l.units
        )));
    }
    let bin = bin.max(1);
    let nb = (before + after).div_ceil(bin);
    let (mut sum, mut n) = (vec![0f64; nb], vec![0usize; nb]);
    let rows = info.row_offset..info.row_offset + info.n_rows;
    let pos: Vec<i64> = rows
        .clone()
        .map(|r| states.position[r] as i64 + states.k as i64 - 1)
        .collect();
    for f in features {
        let Some((s, e)) = f.bounds() else { continue };
        let reverse = f.segments.first().map(|x| x.strand) == Some(Strand::Reverse);
        let anchor = if reverse { e as i64 - 1 } else { s as i64 };
        let (a, b) = if reverse {
            (anchor - after as i64 + 1, anchor + before as i64 + 1)
        } else {
            (anchor - before as i64, anchor + after as i64)
        };
        let (ra, rb) = (
            pos.partition_point(|&p| p < a),
            pos.partition_point(|&p| p < b),
        );
        for (r, &p) in pos.iter().enumerate().take(rb).skip(ra) {
            let off = if reverse { anchor - p } else { p - anchor };
            let k = ((off + before as i64) / bin as i64) as usize;
            if k < nb {
                sum[k] += l.data[(info.row_offset + r) * l.units + neuron.1] as f64;
                n[k] += 1;
            }
        }
    }
    Ok((0..nb)
        .filter(|&k| n[k] > 0)
        .map(|k| {
            (
                (k * bin) as f64 - before as f64 + bin as f64 / 2.0,
                sum[k] / n[k] as f64,
            )
        })
        .collect())
}

impl LeadLagReport {
    /// Neurons whose upstream q is below the FDR.
    pub fn significant(&self) -> Vec<&LeadLagScore> {
        self.scores
            .iter()
            .filter(|s| s.upstream_q <= self.fdr)
            .collect()
    }

    /// The report as a table (one row per neuron).
    pub fn table(&self) -> Result<Table> {
        use polars::prelude::*;
        let s = &self.scores;
        let f = |g: &dyn Fn(&LeadLagScore) -> f64| -> Vec<f64> { s.iter().map(g).collect() };
        let df = DataFrame::new(
            s.len(),
            vec![
                Column::new(
                    "neuron".into(),
                    s.iter()
                        .map(|x| format!("{}/{}", x.layer, x.unit))
                        .collect::<Vec<_>>(),
                ),
                Column::new("upstream".into(), f(&|x| x.upstream)),
                Column::new("upstream_z".into(), f(&|x| x.upstream_z)),
                Column::new("upstream_p".into(), f(&|x| x.upstream_p)),
                Column::new("upstream_q".into(), f(&|x| x.upstream_q)),
                Column::new("inside".into(), f(&|x| x.inside)),
                Column::new("inside_z".into(), f(&|x| x.inside_z)),
                Column::new("downstream".into(), f(&|x| x.downstream)),
                Column::new("downstream_z".into(), f(&|x| x.downstream_z)),
            ],
        )?;
        Ok(Table::new("lead_lag", df))
    }
}

/// A start profile (from [`start_profile`]) as a line chart, the start at 0.
pub fn profile_figure(title: &str, profile: &[(f64, f64)]) -> Result<Figure> {
    let (x, y): (Vec<f64>, Vec<f64>) = profile.iter().copied().unzip();
    Figure::lines(
        title,
        "offset from feature start (bases, strand-aware)",
        "mean activation",
        &[Series::new("activation", x, y)],
        &[(0.0, "start".into())],
    )
}
