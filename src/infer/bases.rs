//! Base-level predictions: k-mer distributions marginalised to A, C, G, T per position.

use super::{predict_rows, RowOptions, RowOutput};
use crate::data::tokenize::N_SPECIAL;
use crate::models::{GenomicModel, Head};
use crate::{Error, Result};

/// Predicted base distributions `(L × 4)` of equal-length sequences; positions the model does
/// not predict are NaN. Causal LMs give the next token's new bases, MLMs every position's
/// (unmasked); k-mer distributions are marginalised to bases with [`base_marginal`].
/// `opts.output` is ignored (always probabilities).
pub fn nucleotide_probs(
    model: &GenomicModel,
    seqs: &[Vec<u8>],
    opts: &RowOptions,
) -> Result<Vec<Vec<[f32; 4]>>> {
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
    let p = predict_rows(
        model,
        &ids,
        &RowOptions {
            output: RowOutput::Probs,
            ..opts.clone()
        },
    )?; // (b, t, V)
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
