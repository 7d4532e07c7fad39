//! Nucleotide dependency maps (seed 004; the definition of Tomaz da Silva et al. / gagneurlab):
//! how much does substituting the base at position `i` change the model's prediction at `j`?
//!
//! `dep[i][j] = max over substitutes b' at i and bases b at j of
//! |log2 odds p'(j, b) − log2 odds p(j, b)|`, where `p(j, ·)` is the model's predicted base
//! distribution at `j` for the reference and `p'` for the mutant. A causal transformer reads
//! each mutant only from its first changed token on, through the reference's key/value cache
//! ([`substitution_probs`]: about half the work; the predictions before it are the reference's,
//! so a causal map's past is exactly 0). Other models score all `3L` mutants in batches, each
//! with the reference alongside (so that both sides of every comparison come from one pass:
//! GEMM results differ in their last bits between batch shapes). Causal LMs use the predicted next-token distribution (marginalised to
//! the new bases of the next k-mer); MLMs the per-position predictions of the unmasked
//! sequence.
//!
//! ```
//! use candle_core::Device;
//! use genolm::explain::depmap::{dependency_map, DepMapOptions};
//! use genolm::models::{GenomicModel, ModelConfig};
//! let mut cfg = ModelConfig::preset("transformer_small")?;
//! cfg.k = 1; cfg.emb_dim = 32; cfg.attn_layers = 1; cfg.attn_heads = 2;
//! let model = GenomicModel::new(cfg, &Device::Cpu, 1)?;
//! let dm = dependency_map(&model, b"ACGTAGCTAGCATGCATCGA", &DepMapOptions::default())?;
//! assert_eq!(dm.len(), 20);
//! assert!(dm.get(3, 10) >= 0.0 && dm.get(10, 3) == 0.0); // causal: no dependency backwards
//! # Ok::<(), genolm::Error>(())
//! ```

use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::data::input::Sequence;
use crate::infer::substitution_probs;
use crate::infer::RowOptions;
pub use crate::infer::{base_marginal, nucleotide_probs};
use crate::models::GenomicModel;
use crate::plot::Figure;
use crate::Result;

/// Options of [`dependency_map`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DepMapOptions {
    /// Sequences per forward pass (1 = one pass per variant, the unbatched reference). Batched,
    /// each pass holds the reference and `batch_size − 1` variants.
    pub batch_size: usize,
    /// Probability floor before taking log-odds.
    pub eps: f64,
    /// Substitute only positions `start..end` (rows outside stay 0), for a region of a long
    /// window read in full context: `3·(end − start)` variants instead of `3L`.
    pub rows: Option<(usize, usize)>,
    /// Causal transformers: read each variant from its first changed token on, through the
    /// reference's key/value cache ([`substitution_probs`]; about half the work, one pass of
    /// three variants per position, `batch_size` unused). `false` reads every variant whole.
    pub kv_cache: bool,
}

impl Default for DepMapOptions {
    fn default() -> Self {
        Self {
            batch_size: 16,
            eps: 1e-6,
            rows: None,
            kv_cache: true,
        }
    }
}

/// A dependency map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DependencyMap {
    /// The sequence.
    pub sequence: Vec<u8>,
    /// `L × L`, row `i` (the substituted position) by column `j` (the affected prediction).
    pub values: Vec<f32>,
    /// Seconds taken.
    pub seconds: f64,
    /// Forward passes made.
    pub passes: usize,
}

impl DependencyMap {
    /// Sequence length.
    pub fn len(&self) -> usize {
        self.sequence.len()
    }
    /// True for an empty sequence.
    pub fn is_empty(&self) -> bool {
        self.sequence.is_empty()
    }
    /// `dep[i][j]`.
    pub fn get(&self, i: usize, j: usize) -> f32 {
        self.values[i * self.len() + j]
    }
    /// Mean dependency at each distance `|i − j|` (1 ≤ d < L) over the substituted rows
    /// (rows that are all zero, i.e. not substituted, are left out): how far the model's
    /// predictions reach.
    ///
    /// ```
    /// # use genolm::explain::depmap::DependencyMap;
    /// let dm = DependencyMap { sequence: b"ACG".to_vec(), values: vec![0., 2., 1., 0., 0., 0., 4., 3., 0.], seconds: 0.0, passes: 1 };
    /// assert_eq!(dm.by_distance(), vec![2.5, 2.5]); // row 1 was not substituted
    /// ```
    pub fn by_distance(&self) -> Vec<f64> {
        let l = self.len();
        let mut sum = vec![0f64; l.max(1)];
        let mut n = vec![0usize; l.max(1)];
        for i in 0..l {
            let row = &self.values[i * l..(i + 1) * l];
            if row.iter().all(|&v| v == 0.0) {
                continue;
            }
            for (j, &v) in row.iter().enumerate() {
                if j != i {
                    let d = i.abs_diff(j);
                    sum[d] += v as f64;
                    n[d] += 1;
                }
            }
        }
        (1..l)
            .map(|d| {
                if n[d] > 0 {
                    sum[d] / n[d] as f64
                } else {
                    f64::NAN
                }
            })
            .collect()
    }

    /// Heatmap with sequence ticks.
    pub fn plot(&self) -> Result<Figure> {
        let lab: Vec<String> = self
            .sequence
            .iter()
            .enumerate()
            .map(|(i, &b)| format!("{}{}", b as char, i + 1))
            .collect();
        let v: Vec<f64> = self.values.iter().map(|&x| x as f64).collect();
        Figure::heatmap(
            "Nucleotide dependency map",
            &lab,
            &lab,
            &v,
            "max |Δ log2 odds|",
            false,
        )
    }
    /// Long-format table: `i`, `ref_i`, `j`, `ref_j`, `dependency`.
    pub fn table(&self) -> Result<crate::table::Table> {
        use polars::prelude::*;
        let l = self.len();
        let (mut i_, mut ri, mut j_, mut rj, mut v) = (vec![], vec![], vec![], vec![], vec![]);
        for i in 0..l {
            for j in 0..l {
                i_.push(i as u32);
                ri.push((self.sequence[i] as char).to_string());
                j_.push(j as u32);
                rj.push((self.sequence[j] as char).to_string());
                v.push(self.get(i, j));
            }
        }
        let df = DataFrame::new(
            v.len(),
            vec![
                Column::new("i".into(), i_),
                Column::new("ref_i".into(), ri),
                Column::new("j".into(), j_),
                Column::new("ref_j".into(), rj),
                Column::new("dependency".into(), v),
            ],
        )?;
        Ok(crate::table::Table::new("dependency_map", df))
    }

    /// evcxr display: the heatmap.
    pub fn evcxr_display(&self) {
        if let Ok(f) = self.plot() {
            f.evcxr_display();
        }
    }
}

/// The dependency map of `seq` (see the module docs).
pub fn dependency_map(
    model: &GenomicModel,
    seq: &(impl Sequence + ?Sized),
    opts: &DepMapOptions,
) -> Result<DependencyMap> {
    let start = Instant::now();
    let seq = seq.bases().to_ascii_uppercase();
    let l = seq.len();
    let (r0, r1) = opts.rows.unwrap_or((0, l));
    if r0 >= r1 || r1 > l {
        return Err(crate::Error::Input(format!(
            "dependency-map rows {r0}..{r1} are not a non-empty range within the {l} bases"
        )));
    }
    let lo = |p: f32| -> f64 {
        let p = (p as f64).clamp(opts.eps, 1.0 - opts.eps);
        (p / (1.0 - p)).log2()
    };
    let log_odds = |probs: &[[f32; 4]]| -> Vec<[f64; 4]> {
        probs
            .iter()
            .map(|r| r.map(|v| if v.is_nan() { f64::NAN } else { lo(v) }))
            .collect()
    };
    // max over bases of |Δ log2 odds| at every j ≠ i, into row i
    let mut dep = vec![0f32; l * l];
    let mut add = |i: usize, ref_lo: &[[f64; 4]], pm: &[[f32; 4]]| {
        for j in 0..l {
            if j == i {
                continue;
            }
            let mut best = 0f64;
            for b in 0..4 {
                let r = ref_lo[j][b];
                if r.is_nan() || pm[j][b].is_nan() {
                    continue;
                }
                best = best.max((lo(pm[j][b]) - r).abs());
            }
            let cell = &mut dep[i * l + j];
            *cell = cell.max(best as f32);
        }
    };
    if opts.kv_cache && model.has_kv_cache() {
        let mut ref_lo = Vec::new();
        let mut passes = 1;
        substitution_probs(model, &seq, r0..r1, |i, reference, subs| {
            if ref_lo.is_empty() {
                ref_lo = log_odds(reference);
            }
            for (_, pm) in subs {
                add(i, &ref_lo, pm);
            }
            passes += 1;
            Ok(())
        })?;
        return Ok(DependencyMap {
            sequence: seq,
            values: dep,
            seconds: start.elapsed().as_secs_f64(),
            passes,
        });
    }
    let mut variants: Vec<(usize, Vec<u8>)> = Vec::with_capacity(3 * (r1 - r0));
    for i in r0..r1 {
        for &b in b"ACGT" {
            if b != seq[i] {
                let mut s = seq.clone();
                s[i] = b;
                variants.push((i, s));
            }
        }
    }
    // A GEMM's rows are not bit-identical across batch shapes (the kernel is chosen by the
    // matrix sizes), so with batches the reference rides along in every pass and each variant
    // is compared with the reference of its own pass: a position the substitution cannot
    // reach (a causal model's past) then reads exactly 0 rather than float noise. Unbatched,
    // every pass has one sequence and one reference pass serves them all.
    let per_pass = opts.batch_size.max(2) - 1;
    let batched = opts.batch_size > 1;
    let mut shared_ref = Vec::new();
    let mut passes = 0;
    if !batched {
        let p = nucleotide_probs(model, std::slice::from_ref(&seq), &RowOptions::batch(1))?;
        shared_ref = log_odds(&p[0]);
        passes += 1;
    }
    for chunk in variants.chunks(if batched { per_pass } else { 1 }) {
        let mut seqs: Vec<Vec<u8>> = Vec::with_capacity(chunk.len() + 1);
        if batched {
            seqs.push(seq.clone());
        }
        seqs.extend(chunk.iter().map(|(_, s)| s.clone()));
        let mut probs = nucleotide_probs(model, &seqs, &RowOptions::batch(seqs.len()))?;
        passes += 1;
        let pass_ref = if batched {
            log_odds(&probs.remove(0))
        } else {
            Vec::new()
        };
        let ref_lo = if batched { &pass_ref } else { &shared_ref };
        for ((i, _), pm) in chunk.iter().zip(probs) {
            add(*i, ref_lo, &pm);
        }
    }
    Ok(DependencyMap {
        sequence: seq,
        values: dep,
        seconds: start.elapsed().as_secs_f64(),
        passes,
    })
}
