//! Base-level predictions: k-mer distributions marginalised to A, C, G, T per position.

use candle_core::{DType, Tensor};

use super::{predict_rows, RowOptions, RowOutput};
use crate::data::tokenize::N_SPECIAL;
use crate::models::{layers, GenomicModel, Head};
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
    Ok(p.iter()
        .map(|row| {
            let mut o = vec![[f32::NAN; 4]; l];
            write_bases(&mut o, row.iter().enumerate(), t, (k, s), causal);
            o
        })
        .collect())
}

/// Write the base distributions that the token distributions `dists` (`(token index,
/// distribution)` of a row of `t` tokens) predict into `o` (one entry per base).
fn write_bases<'a>(
    o: &mut [[f32; 4]],
    dists: impl Iterator<Item = (usize, &'a Vec<f32>)>,
    t: usize,
    (k, s): (usize, usize),
    causal: bool,
) {
    let l = o.len();
    for (ti, dist) in dists {
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
}

/// The three substitutes of one position with their predicted base distributions (`L × 4`).
pub type Substitutes = Vec<(u8, Vec<[f32; 4]>)>;

/// For a causal transformer ([`GenomicModel::has_kv_cache`]): the predicted base
/// distributions of `seq` (as [`nucleotide_probs`]) and of its single-base substitutions at
/// the positions `rows`, each variant read only from its first changed token on: the tokens
/// before it are the reference's, so their keys and values come from the reference's
/// [`KvCache`](crate::models::KvCache) — about half the work of reading every variant whole.
/// `each(i, reference, substitutes)` gets position `i`, the reference's distributions and
/// the three variants' (one pass, batch 3), whose distributions before the first changed token
/// are the reference's, exactly. Returns the reference's distributions.
pub fn substitution_probs(
    model: &GenomicModel,
    seq: &[u8],
    rows: std::ops::Range<usize>,
    mut each: impl FnMut(usize, &[[f32; 4]], &Substitutes) -> Result<()>,
) -> Result<Vec<[f32; 4]>> {
    if !model.has_kv_cache() {
        return Err(Error::Input(
            "substitutions through a key/value cache need a causal transformer LM".into(),
        ));
    }
    let tok = model.config().tokenizer()?;
    let (k, s) = (tok.k, tok.stride);
    let l = seq.len();
    let ids = tok.encode(seq);
    let t = ids.len();
    if s > k || t < 2 || rows.end > l {
        return Err(Error::Input(format!(
            "substitutions need stride ≤ k, a sequence of at least k + 1 bases and positions \
             within its {l} bases"
        )));
    }
    let model = &model.inference()?;
    let dev = model.device();
    let probs = |logits: &Tensor| -> Result<Vec<Vec<Vec<f32>>>> {
        Ok(layers::softmax(&logits.to_dtype(DType::F32)?)?.to_vec3::<f32>()?)
    };
    let x = Tensor::from_vec(ids, (1, t), dev)?;
    let (logits, cache) = model.forward_cached(&x, None, t)?;
    let mut reference = vec![[f32::NAN; 4]; l];
    write_bases(
        &mut reference,
        probs(&logits)?[0].iter().enumerate(),
        t,
        (k, s),
        true,
    );
    for i in rows {
        // the first token that holds base i
        let first = (i + 1).saturating_sub(k).div_ceil(s).min(t - 1);
        let subs: Vec<u8> = b"ACGT".iter().copied().filter(|&b| b != seq[i]).collect();
        let mut flat = Vec::with_capacity(subs.len() * (t - first));
        for &b in &subs {
            let mut v = seq.to_vec();
            v[i] = b;
            flat.extend_from_slice(&tok.encode(&v)[first..]);
        }
        let x = Tensor::from_vec(flat, (subs.len(), t - first), dev)?;
        let prefix = match first {
            0 => None,
            _ => Some(cache.prefix(first)?.select(&vec![0; subs.len()])?),
        };
        let (logits, _) = model.forward_cached(&x, prefix.as_ref(), t)?;
        let out: Substitutes = subs
            .iter()
            .zip(probs(&logits)?)
            .map(|(&b, row)| {
                let mut o = reference.clone();
                let dists = row.iter().enumerate().map(|(j, d)| (first + j, d));
                write_bases(&mut o, dists, t, (k, s), true);
                (b, o)
            })
            .collect();
        each(i, &reference, &out)?;
    }
    Ok(reference)
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
