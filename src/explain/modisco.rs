//! Motif discovery from attributions, after TF-MoDISco-lite (Shrikumar et al. 2018; the
//! `modisco-lite` rewrite): seqlets ([`super::seqlets`]) are compared by the continuous
//! Jaccard similarity of their L1-normalised hypothetical contributions at the best shift and
//! strand, clustered per sign by average linkage, aligned on each cluster's medoid, and
//! summarised as a PWM (the bases), a contribution-weight matrix (CWM: mean actual
//! contributions) and a hypothetical CWM, trimmed to the columns that carry the contribution,
//! then matched to a motif database with [`tomtom`](fn@tomtom).
//!
//! Needs hypothetical contributions (nucleotide models): DeepSHAP, integrated gradients,
//! input × gradient, saliency or ISM ([`Ism::attribution`](super::attribution::Ism::attribution)).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::attribution::Attribution;
use super::motifs::{tomtom, MotifMatch, Pwm, TomtomOptions};
use super::seqlets::{call_seqlets, SeqletCalls, SeqletOptions};
use crate::data::alphabet::base_index;
use crate::plot::Figure;
use crate::table::Table;
use crate::{Error, Result};

/// Options of [`discover_motifs`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModiscoOptions {
    /// How seqlets are called.
    pub seqlets: SeqletOptions,
    /// Largest shift tried when aligning two seqlets.
    pub max_shift: usize,
    /// Clusters merge while their average similarity is at least this.
    pub min_similarity: f64,
    /// Smallest cluster reported as a motif.
    pub min_seqlets: usize,
    /// Strongest seqlets clustered per sign (the similarity matrix is quadratic in it).
    pub max_seqlets: usize,
    /// Columns whose |CWM| is below this fraction of the maximum are trimmed from the ends.
    pub trim: f64,
    /// Database matching.
    pub tomtom: TomtomOptions,
    /// Database matches kept per motif.
    pub n_matches: usize,
}

impl Default for ModiscoOptions {
    fn default() -> Self {
        ModiscoOptions {
            seqlets: SeqletOptions::default(),
            max_shift: 6,
            min_similarity: 0.3,
            min_seqlets: 8,
            max_seqlets: 400,
            trim: 0.3,
            tomtom: TomtomOptions::default(),
            n_matches: 3,
        }
    }
}

/// One discovered motif.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiscoveredMotif {
    /// `pos_0`, `pos_1`, … (positive contributions) or `neg_0`, ….
    pub id: String,
    /// Seqlets in its cluster.
    pub n_seqlets: usize,
    /// Base frequencies of the aligned seqlets (trimmed).
    pub pwm: Pwm,
    /// Mean actual contribution per column and base (trimmed).
    pub cwm: Vec<[f64; 4]>,
    /// Mean hypothetical contribution (trimmed).
    pub hypothetical_cwm: Vec<[f64; 4]>,
    /// Its seqlets: (example, start on the + strand, strand of the motif).
    pub members: Vec<(usize, usize, char)>,
    /// Best database matches (Tomtom), best first.
    pub matches: Vec<MotifMatch>,
}

/// What [`discover_motifs`] found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MotifDiscovery {
    /// The attribution method (`deepshap`, `integrated_gradients`, …).
    pub method: String,
    /// Seqlet calls.
    pub calls: SeqletCalls,
    /// Motifs, largest cluster first within each sign.
    pub motifs: Vec<DiscoveredMotif>,
}

/// A seqlet's matrices.
struct Feat {
    example: usize,
    start: usize,
    onehot: Vec<[f64; 4]>,
    actual: Vec<[f64; 4]>,
    hyp: Vec<[f64; 4]>,
    /// `hyp` normalised to Σ|·| = 1, forward and reverse complement.
    norm: [Vec<[f64; 4]>; 2],
}

fn rc(m: &[[f64; 4]]) -> Vec<[f64; 4]> {
    m.iter().rev().map(|r| [r[3], r[2], r[1], r[0]]).collect()
}

/// Continuous Jaccard of `a` and `b` shifted by `d` (a[p] ↔ b[p − d]), over the overlap.
fn jaccard(a: &[[f64; 4]], b: &[[f64; 4]], d: isize) -> f64 {
    let (mut num, mut den) = (0.0, 0.0);
    for (p, ra) in a.iter().enumerate() {
        let q = p as isize - d;
        if q < 0 || q as usize >= b.len() {
            continue;
        }
        let rb = &b[q as usize];
        for i in 0..4 {
            let (x, y) = (ra[i], rb[i]);
            num += x.abs().min(y.abs()) * (x.signum() * y.signum());
            den += x.abs().max(y.abs());
        }
    }
    if den > 0.0 {
        num / den
    } else {
        0.0
    }
}

/// Best (similarity, shift, strand 0/1) of `b` against `a`.
fn best_match(a: &Feat, b: &Feat, max_shift: usize) -> (f64, isize, usize) {
    let mut best = (f64::NEG_INFINITY, 0, 0);
    for s in 0..2 {
        for d in -(max_shift as isize)..=max_shift as isize {
            let j = jaccard(&a.norm[0], &b.norm[s], d);
            if j > best.0 {
                best = (j, d, s);
            }
        }
    }
    best
}

fn features(
    attrs: &[Attribution],
    calls: &SeqletCalls,
    sign: f64,
    opts: &ModiscoOptions,
) -> Vec<(f64, Feat)> {
    let full = opts.seqlets.window + 2 * opts.seqlets.flank;
    let mut out: Vec<(f64, Feat)> = calls
        .seqlets
        .iter()
        .filter(|s| s.sign() == sign && s.end - s.start == full)
        .filter_map(|s| {
            let a = &attrs[s.example];
            let hyp_all = a.hypothetical.as_ref()?;
            let seq = &a.sequence[s.start..s.end];
            let hyp: Vec<[f64; 4]> = hyp_all[s.start..s.end]
                .iter()
                .map(|r| r.map(|v| v as f64))
                .collect();
            let onehot: Vec<[f64; 4]> = seq
                .iter()
                .map(|&b| {
                    let mut o = [0.0; 4];
                    if let Some(i) = base_index(b) {
                        o[i] = 1.0;
                    }
                    o
                })
                .collect();
            let actual: Vec<[f64; 4]> = onehot
                .iter()
                .zip(&hyp)
                .map(|(o, h)| [o[0] * h[0], o[1] * h[1], o[2] * h[2], o[3] * h[3]])
                .collect();
            let l1: f64 = hyp
                .iter()
                .flatten()
                .map(|v| v.abs())
                .sum::<f64>()
                .max(1e-12);
            let n: Vec<[f64; 4]> = hyp.iter().map(|r| r.map(|v| v / l1)).collect();
            let norm = [n.clone(), rc(&n)];
            Some((
                s.score.abs(),
                Feat {
                    example: s.example,
                    start: s.start,
                    onehot,
                    actual,
                    hyp,
                    norm,
                },
            ))
        })
        .collect();
    out.sort_by(|a, b| b.0.total_cmp(&a.0));
    out.truncate(opts.max_seqlets);
    out
}

/// Average-linkage clusters of `sim` (n × n), merged while the best average is ≥ `min`.
fn average_linkage(sim: &[Vec<f64>], min: f64) -> Vec<Vec<usize>> {
    let n = sim.len();
    let mut clusters: Vec<Option<Vec<usize>>> = (0..n).map(|i| Some(vec![i])).collect();
    let mut d: Vec<Vec<f64>> = sim.to_vec();
    loop {
        let mut best = (f64::NEG_INFINITY, 0, 0);
        for i in 0..n {
            if clusters[i].is_none() {
                continue;
            }
            for j in i + 1..n {
                if clusters[j].is_some() && d[i][j] > best.0 {
                    best = (d[i][j], i, j);
                }
            }
        }
        if best.0 < min || best.0 == f64::NEG_INFINITY {
            break;
        }
        let (_, i, j) = best;
        let cj = clusters[j].take().expect("live cluster");
        let (ni, nj) = (
            clusters[i].as_ref().expect("live cluster").len() as f64,
            cj.len() as f64,
        );
        for k in 0..n {
            if k != i && clusters[k].is_some() {
                let v = (ni * d[i][k] + nj * d[j][k]) / (ni + nj);
                d[i][k] = v;
                d[k][i] = v;
            }
        }
        clusters[i].as_mut().expect("live cluster").extend(cj);
    }
    let mut out: Vec<Vec<usize>> = clusters.into_iter().flatten().collect();
    out.sort_by_key(|c| std::cmp::Reverse(c.len()));
    out
}

fn motif_of(
    feats: &[&Feat],
    idx: &[usize],
    pair: &[Vec<(f64, isize, usize)>],
    id: String,
    db: &[Pwm],
    opts: &ModiscoOptions,
) -> Option<DiscoveredMotif> {
    let medoid = *idx.iter().max_by(|&&a, &&b| {
        let sa: f64 = idx.iter().map(|&j| pair[a][j].0).sum();
        let sb: f64 = idx.iter().map(|&j| pair[b][j].0).sum();
        sa.total_cmp(&sb)
    })?;
    let l = feats[medoid].onehot.len();
    let ms = opts.max_shift;
    let width = l + 2 * ms;
    let mut counts = vec![[0.0f64; 4]; width];
    let mut cwm = vec![[0.0f64; 4]; width];
    let mut hcwm = vec![[0.0f64; 4]; width];
    let mut cover = vec![0.0f64; width];
    let mut members = Vec::new();
    for &j in idx {
        let (_, d, s) = if j == medoid {
            (1.0, 0, 0)
        } else {
            pair[medoid][j]
        };
        let f = feats[j];
        let (oh, ac, hy) = if s == 0 {
            (f.onehot.clone(), f.actual.clone(), f.hyp.clone())
        } else {
            (rc(&f.onehot), rc(&f.actual), rc(&f.hyp))
        };
        for q in 0..l {
            let p = ms as isize + q as isize + d;
            if p < 0 || p as usize >= width {
                continue;
            }
            let p = p as usize;
            cover[p] += 1.0;
            for b in 0..4 {
                counts[p][b] += oh[q][b];
                cwm[p][b] += ac[q][b];
                hcwm[p][b] += hy[q][b];
            }
        }
        members.push((f.example, f.start, if s == 0 { '+' } else { '-' }));
    }
    let n = idx.len() as f64;
    let imp: Vec<f64> = cwm
        .iter()
        .map(|r| r.iter().map(|v| v.abs()).sum::<f64>() / n)
        .collect();
    let top = imp.iter().cloned().fold(0.0, f64::max);
    if top <= 0.0 {
        return None;
    }
    let keep: Vec<usize> = (0..width)
        .filter(|&p| imp[p] >= opts.trim * top && cover[p] >= 0.5 * n)
        .collect();
    let (a, b) = (*keep.first()?, *keep.last()? + 1);
    let mut pwm = Pwm::from_counts(&id, &counts[a..b]);
    pwm.n_sites = idx.len();
    let mean = |m: &[[f64; 4]]| -> Vec<[f64; 4]> {
        m[a..b]
            .iter()
            .zip(&cover[a..b])
            .map(|(r, &c)| r.map(|v| v / c.max(1.0)))
            .collect()
    };
    let matches: Vec<MotifMatch> = tomtom(&pwm, db, &opts.tomtom)
        .into_iter()
        .take(opts.n_matches)
        .collect();
    Some(DiscoveredMotif {
        id,
        n_seqlets: idx.len(),
        cwm: mean(&cwm),
        hypothetical_cwm: mean(&hcwm),
        pwm,
        members,
        matches,
    })
}

/// Seqlets → clusters → motifs (PWM, CWM), each matched against `db` (e.g. JASPAR; may be
/// empty).
pub fn discover_motifs(
    attrs: &[Attribution],
    db: &[Pwm],
    opts: &ModiscoOptions,
) -> Result<MotifDiscovery> {
    if attrs.iter().any(|a| a.hypothetical.is_none()) {
        return Err(Error::Input(
            "motif discovery needs hypothetical contributions (a nucleotide model, k = 1)".into(),
        ));
    }
    let calls = call_seqlets(attrs, &opts.seqlets)?;
    let mut motifs = Vec::new();
    for (sign, prefix) in [(1.0, "pos"), (-1.0, "neg")] {
        let owned = features(attrs, &calls, sign, opts);
        let feats: Vec<&Feat> = owned.iter().map(|(_, f)| f).collect();
        let n = feats.len();
        if n < opts.min_seqlets.max(2) {
            continue;
        }
        let pair: Vec<Vec<(f64, isize, usize)>> = (0..n)
            .into_par_iter()
            .map(|i| {
                (0..n)
                    .map(|j| best_match(feats[i], feats[j], opts.max_shift))
                    .collect()
            })
            .collect();
        // symmetric similarity
        let sim: Vec<Vec<f64>> = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| 0.5 * (pair[i][j].0 + pair[j][i].0))
                    .collect()
            })
            .collect();
        let clusters = average_linkage(&sim, opts.min_similarity);
        for c in clusters.iter().filter(|c| c.len() >= opts.min_seqlets) {
            let id = format!(
                "{prefix}_{}",
                motifs
                    .iter()
                    .filter(|m: &&DiscoveredMotif| m.id.starts_with(prefix))
                    .count()
            );
            if let Some(m) = motif_of(&feats, c, &pair, id, db, opts) {
                motifs.push(m);
            }
        }
    }
    Ok(MotifDiscovery {
        method: attrs.first().map(|a| a.method.clone()).unwrap_or_default(),
        calls,
        motifs,
    })
}

impl MotifDiscovery {
    /// One row per motif: id, seqlets, consensus, width, information, best match (id, name,
    /// p, q, E) and the rank of `expected` among the matches when given.
    pub fn table(&self) -> Result<Table> {
        use polars::prelude::*;
        let m = &self.motifs;
        let best = |f: &dyn Fn(&MotifMatch) -> String| -> Vec<String> {
            m.iter()
                .map(|x| x.matches.first().map(f).unwrap_or_default())
                .collect()
        };
        let bestf = |f: &dyn Fn(&MotifMatch) -> f64| -> Vec<f64> {
            m.iter()
                .map(|x| x.matches.first().map(f).unwrap_or(f64::NAN))
                .collect()
        };
        let df = DataFrame::new(
            m.len(),
            vec![
                Column::new("method".into(), vec![self.method.clone(); m.len()]),
                Column::new(
                    "motif".into(),
                    m.iter().map(|x| x.id.clone()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "seqlets".into(),
                    m.iter().map(|x| x.n_seqlets as u64).collect::<Vec<_>>(),
                ),
                Column::new(
                    "consensus".into(),
                    m.iter().map(|x| x.pwm.consensus()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "width".into(),
                    m.iter().map(|x| x.pwm.len() as u64).collect::<Vec<_>>(),
                ),
                Column::new(
                    "information_bits".into(),
                    m.iter().map(|x| x.pwm.information()).collect::<Vec<_>>(),
                ),
                Column::new("match".into(), best(&|x| x.target.clone())),
                Column::new("match_name".into(), best(&|x| x.target_name.clone())),
                Column::new("match_p".into(), bestf(&|x| x.p)),
                Column::new("match_q".into(), bestf(&|x| x.q)),
                Column::new("match_e".into(), bestf(&|x| x.e)),
            ],
        )?;
        Ok(Table::new("discovered_motifs", df))
    }

    /// The contribution-weight matrix of motif `i` as a logo (title: its best match).
    pub fn figure_for(&self, i: usize) -> Result<Figure> {
        let m = self
            .motifs
            .get(i)
            .ok_or_else(|| Error::Input(format!("no motif {i} (found {})", self.motifs.len())))?;
        let title = match m.matches.first() {
            Some(x) => format!(
                "{} {} ({} seqlets) ~ {} {} (q = {:.1e})",
                self.method, m.id, m.n_seqlets, x.target, x.target_name, x.q
            ),
            None => format!("{} {} ({} seqlets)", self.method, m.id, m.n_seqlets),
        };
        Figure::logo(&title, &m.cwm, false)
    }

    /// evcxr display: the table and every motif's CWM logo.
    pub fn evcxr_display(&self) {
        if let Ok(t) = self.table() {
            t.evcxr_display();
        }
        for i in 0..self.motifs.len() {
            if let Ok(f) = self.figure_for(i) {
                f.evcxr_display();
            }
        }
    }
}
