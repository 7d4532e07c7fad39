//! Nucleotide dependency maps (seed 004; the definition of Tomaz da Silva et al. / gagneurlab):
//! how much does substituting the base at position `i` change the model's prediction at `j`?
//!
//! `dep[i][j] = max over substitutes b' at i and bases b at j of
//! |log2 odds p'(j, b) − log2 odds p(j, b)|`, where `p(j, ·)` is the model's predicted base
//! distribution at `j` for the reference and `p'` for the mutant. All `3L` mutants and the
//! reference are scored in batches (`3L + 1` sequences). Causal LMs use the predicted
//! next-token distribution (marginalised to the new bases of the next k-mer); MLMs the
//! per-position predictions of the unmasked sequence.
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

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

use crate::data::tokenize::N_SPECIAL;
use crate::models::{layers, GenomicModel, Head, Mode};
use crate::plot::Figure;
use crate::{Error, Result};

/// Options of [`dependency_map`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DepMapOptions {
    /// Sequences per forward pass (1 = one pass per variant, the unbatched reference).
    pub batch_size: usize,
    /// Probability floor before taking log-odds.
    pub eps: f64,
}

impl Default for DepMapOptions {
    fn default() -> Self {
        Self {
            batch_size: 16,
            eps: 1e-6,
        }
    }
}

/// Predicted base distributions `(L × 4)` of equal-length sequences; positions the model does
/// not predict are NaN.
pub fn nucleotide_probs(model: &GenomicModel, seqs: &[Vec<u8>]) -> Result<Vec<Vec<[f32; 4]>>> {
    let cfg = model.config();
    if cfg.head == Head::Classifier {
        return Err(Error::Input(
            "dependency maps need an LM or MLM head".into(),
        ));
    }
    let tok = model.config().tokenizer()?;
    let (k, s) = (tok.k, tok.stride);
    if s > k {
        return Err(Error::Input(
            "stride larger than k leaves bases unpredicted".into(),
        ));
    }
    let ids: Vec<Vec<u32>> = seqs.iter().map(|x| tok.encode(x)).collect();
    let t = ids.first().map(|v| v.len()).unwrap_or(0);
    let l = seqs.first().map(|v| v.len()).unwrap_or(0);
    if t < 2 || ids.iter().any(|v| v.len() != t) || seqs.iter().any(|v| v.len() != l) {
        return Err(Error::Input(
            "sequences must have equal lengths of at least k + 1".into(),
        ));
    }
    let x = Tensor::from_vec(ids.concat(), (seqs.len(), t), model.device())?;
    let out = model.forward(&x, None, Mode::Eval)?;
    let p = layers::softmax(&out.logits.to_dtype(DType::F32)?)?
        .to_dtype(DType::F32)?
        .to_vec3::<f32>()?; // (b, t, V)
    let causal = cfg.head == Head::Lm;
    let mut res = Vec::with_capacity(seqs.len());
    for row in p {
        let mut o = vec![[f32::NAN; 4]; l];
        for (ti, dist) in row.iter().enumerate() {
            // which token does this distribution describe, and which of its bases are new?
            let (tok_idx, offsets): (usize, std::ops::Range<usize>) = if causal {
                if ti + 1 >= t {
                    continue;
                }
                (ti + 1, k - s..k)
            } else if ti == 0 {
                (0, 0..k)
            } else {
                (ti, k - s..k)
            };
            for off in offsets {
                let pos = tok_idx * s + off;
                if pos >= l {
                    continue;
                }
                let m = base_marginal(dist, k, off);
                let z: f32 = m.iter().sum::<f32>().max(1e-20);
                o[pos] = m.map(|v| v / z);
            }
        }
        res.push(o);
    }
    Ok(res)
}

/// Probability mass of a k-mer distribution (`dist` over the whole vocabulary, specials
/// first) on each base A, C, G, T at offset `off` of the k-mer (unnormalised: the specials'
/// mass is left out).
pub fn base_marginal(dist: &[f32], k: usize, off: usize) -> [f32; 4] {
    let mut m = [0f32; 4];
    for code in 0..1usize << (2 * k) {
        m[(code >> (2 * (k - 1 - off))) & 3] += dist[N_SPECIAL as usize + code];
    }
    m
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
    seq: &[u8],
    opts: &DepMapOptions,
) -> Result<DependencyMap> {
    let start = Instant::now();
    let seq = seq.to_ascii_uppercase();
    let l = seq.len();
    let mut variants: Vec<(usize, Vec<u8>)> = Vec::with_capacity(3 * l);
    for i in 0..l {
        for &b in b"ACGT" {
            if b != seq[i] {
                let mut s = seq.clone();
                s[i] = b;
                variants.push((i, s));
            }
        }
    }
    let refp = nucleotide_probs(model, std::slice::from_ref(&seq))?.remove(0);
    let lo = |p: f32| -> f64 {
        let p = (p as f64).clamp(opts.eps, 1.0 - opts.eps);
        (p / (1.0 - p)).log2()
    };
    let ref_lo: Vec<[f64; 4]> = refp
        .iter()
        .map(|r| r.map(|v| if v.is_nan() { f64::NAN } else { lo(v) }))
        .collect();
    let mut dep = vec![0f32; l * l];
    let mut passes = 1;
    for chunk in variants.chunks(opts.batch_size.max(1)) {
        let seqs: Vec<Vec<u8>> = chunk.iter().map(|(_, s)| s.clone()).collect();
        let probs = nucleotide_probs(model, &seqs)?;
        passes += 1;
        for ((i, _), pm) in chunk.iter().zip(probs) {
            for j in 0..l {
                if j == *i {
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
        }
    }
    Ok(DependencyMap {
        sequence: seq,
        values: dep,
        seconds: start.elapsed().as_secs_f64(),
        passes,
    })
}
