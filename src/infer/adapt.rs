//! Dynamic evaluation (Krause et al. 2018, "Dynamic evaluation of neural sequence models"):
//! score a sequence while the model adapts to it. A genome the model never saw has its own
//! composition, codon usage and repeats; a fixed model can only bring what its training
//! genomes taught it, a model that keeps learning as it reads picks these up.
//!
//! The scores remain an honest likelihood. Records are cut into segments read side by side,
//! `window` tokens at a time, as the prediction core reads them; at each step every segment's
//! next tokens are **scored first**, with the weights as they are, and only then does one
//! optimizer step on those same tokens update the weights for the next step. So each token is
//! predicted from the tokens before it in that reading order — its own segment's history
//! (carried state, or left context) and the tokens of earlier steps (through the weights) —
//! and never from itself or anything after it: the sum of the scores is the log-likelihood of
//! a sequential code (prequential coding), comparable with any other such code, e.g. a Markov
//! chain that keeps counting as it reads (`bench::markov::AdaptiveMarkov`). Segments start
//! cold (no warm-up on the tokens before them, which are read later in that order).
//!
//! The caller's model is not changed: a copy adapts, and the copy is dropped at the end of the
//! call, so each call adapts afresh to the sequences it is given.

use candle_core::{DType, Tensor, D};
use serde::{Deserialize, Serialize};

use super::{score_row, TokenScores};
use crate::data::tokenize::Special;
use crate::models::{layers, GenomicModel, Head, Mode};
use crate::train::{AdamW, AdamWOptions};
use crate::{Error, Result};

/// Options of [`adaptive_token_scores`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdaptOptions {
    /// AdamW learning rate of the adaptation steps (0: no adaptation; the scores are then the
    /// fixed model's, read in this call's segments). The default (1e-3, with 8 rows of 64
    /// tokens a step) was the best of six settings for `pretrained:lstm_small_extended` on its
    /// validation genomes (docs/benchmark-results.md, "Reading while learning").
    pub lr: f64,
    /// Tokens per row and step: the weights change every `window` tokens of each segment.
    pub window: usize,
    /// Segments read side by side (rows of a step).
    pub batch_size: usize,
    /// A record is cut into at most `batch_size` segments of at least this many tokens.
    pub min_segment: usize,
    /// Models without recurrent state: tokens of left context before each window (read,
    /// not scored again, not trained on again).
    pub context: usize,
    /// Clip the gradient norm of a step to this value (0 = off).
    pub clip: f64,
}

impl Default for AdaptOptions {
    fn default() -> Self {
        AdaptOptions {
            lr: 1e-3,
            window: 64,
            batch_size: 8,
            min_segment: 4096,
            context: 128,
            clip: 1.0,
        }
    }
}

/// [`token_scores_many`](super::token_scores_many) with dynamic evaluation: the log-probability
/// of every token of each sequence (a causal LM predicting token `t + 1` from the tokens up
/// to `t`), the model adapting to the sequences as it reads them. Records are cut into
/// segments read side by side, `window` tokens at a time; at each step the segments' next
/// tokens are scored first and then one AdamW step on those tokens updates a copy of the
/// model, so each token is predicted only from what was read before it (its segment's history
/// and earlier steps) and the scores sum to the log-likelihood of a sequential code. The
/// sequences are read together, so what the model learns from one helps with the next (pass
/// the chunks of one genome; call again for another genome). `model` is not changed. Needs a
/// causal LM.
///
/// ```
/// use candle_core::Device;
/// use genolm::infer::{adaptive_token_scores, token_scores_many, AdaptOptions, PredictOptions};
/// use genolm::models::{GenomicModel, ModelConfig};
/// let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1)?;
/// let seq = b"ACGTAGCTAGCATGCATCGATCGATTAGCAAGT".repeat(12);
/// let fixed = token_scores_many(&model, &[&seq], &PredictOptions::default())?;
/// let adapted = adaptive_token_scores(&model, &[&seq], &AdaptOptions { lr: 1e-2, window: 16, ..Default::default() })?;
/// let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
/// assert_eq!(adapted[0].index, fixed[0].index);        // the same tokens, each scored once
/// assert!(mean(&adapted[0].logp) > mean(&fixed[0].logp)); // it learned the repeat as it read
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn adaptive_token_scores(
    model: &GenomicModel,
    seqs: &[&[u8]],
    opts: &AdaptOptions,
) -> Result<Vec<TokenScores>> {
    if model.config().head != Head::Lm {
        return Err(Error::Input(
            "dynamic evaluation needs a causal LM (an LM head); this model has another head".into(),
        ));
    }
    if opts.window == 0 || opts.batch_size == 0 {
        return Err(Error::Config(
            "adaptation window and batch_size must be at least 1".into(),
        ));
    }
    if !(opts.lr >= 0.0 && opts.lr.is_finite()) {
        return Err(Error::Config(format!(
            "adaptation learning rate must be finite and ≥ 0, not {}",
            opts.lr
        )));
    }
    let tok = model.config().tokenizer()?;
    let ids: Vec<Vec<u32>> = seqs
        .iter()
        .map(|s| tok.encode(&s.to_ascii_uppercase()))
        .collect();
    let work = model.rebuilt()?;
    let mut opt = AdamW::for_model(
        &work,
        opts.lr,
        AdamWOptions {
            weight_decay: 0.0,
            clip: opts.clip,
            ..AdamWOptions::default()
        },
    )?;
    let dev = work.device().clone();
    let recurrent = work.zero_state(1)?.is_some();
    let ctx = if recurrent { 0 } else { opts.context };
    let (pad, unk) = (Special::Pad as u32, Special::Unk as u32);

    // segments `(record, start, end)` of at least `min_segment` tokens, in record order
    let mut segs: Vec<(usize, usize, usize)> = Vec::new();
    for (ri, r) in ids.iter().enumerate() {
        let n = r.len();
        let n_seg = n
            .checked_div(opts.min_segment)
            .unwrap_or(n)
            .clamp(1, opts.batch_size);
        let seg = n.div_ceil(n_seg).max(1);
        for s in (0..n).step_by(seg) {
            segs.push((ri, s, (s + seg).min(n)));
        }
    }
    let mut rows: Vec<Vec<(usize, f32, bool)>> = vec![Vec::new(); seqs.len()];
    for group in segs.chunks(opts.batch_size) {
        let b = group.len();
        let total = group.iter().map(|&(_, s, e)| e - s).max().unwrap_or(0);
        let mut state = work.zero_state(b)?;
        let mut c0 = 0;
        while c0 < total {
            let len = opts.window.min(total - c0);
            let left = ctx.min(c0); // the same for every row of the group
            let width = left + len;
            let mut x = Vec::with_capacity(b * width);
            let mut y = Vec::with_capacity(b * width);
            for &(ri, s, e) in group {
                let r = &ids[ri];
                for j in 0..width {
                    let t = s + c0 - left + j; // input token index
                    x.push(if t < e { r[t] } else { pad });
                    // the target t + 1 is scored here when t is one of this step's positions
                    let scored = j >= left && t < e && t + 1 < r.len() && r[t + 1] != unk;
                    y.push(if scored { r[t + 1] as i64 } else { -1 });
                }
            }
            let xt = Tensor::from_vec(x, (b, width), &dev)?;
            let out = work.forward(&xt, state.as_ref(), Mode::Eval)?;
            let v = out.logits.dim(D::Minus1)?;
            let logits = out.logits.reshape((b * width, v))?;
            // score with the weights as they are
            let lp: Vec<Vec<f32>> =
                layers::log_softmax(&logits.detach().to_dtype(DType::F32)?)?.to_vec2()?;
            let mut n_scored = 0;
            for (i, &yi) in y.iter().enumerate() {
                if yi < 0 {
                    continue;
                }
                let (row, j) = (i / width, i % width);
                let (ri, s, _) = group[row];
                let t = s + c0 - left + j;
                if let Some(row) = score_row(&lp[i], &ids[ri], t, false) {
                    rows[ri].push(row);
                    n_scored += 1;
                }
            }
            // then learn from those tokens
            if opts.lr > 0.0 && n_scored > 0 {
                let labels = Tensor::from_vec(y, b * width, &dev)?;
                let (loss, _) = layers::masked_cross_entropy(&logits, &labels)?;
                let grads = loss.backward()?;
                let info = opt.step(&grads, 1.0)?;
                if !info.applied {
                    return Err(Error::Input(format!(
                        "dynamic evaluation: the gradient became {} at step {}; lower the \
                         adaptation learning rate (it is {:e})",
                        info.grad_norm,
                        opt.steps(),
                        opts.lr
                    )));
                }
            }
            state = out.state.map(|s| s.detach());
            c0 += len;
        }
    }
    Ok(rows.into_iter().map(TokenScores::from_rows).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::infer::{token_scores_many, PredictOptions};
    use crate::models::ModelConfig;
    use candle_core::Device;

    fn genome(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                b"ACGT"[(x >> 62) as usize]
            })
            .collect()
    }

    #[test]
    fn without_a_learning_rate_the_scores_are_the_fixed_models() {
        let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 3).unwrap();
        let (a, b) = (genome(700, 1), genome(450, 2));
        let seqs: Vec<&[u8]> = vec![&a, &b];
        let fixed = token_scores_many(&model, &seqs, &PredictOptions::default()).unwrap();
        let o = AdaptOptions {
            lr: 0.0,
            window: 37,
            ..Default::default()
        };
        let same = adaptive_token_scores(&model, &seqs, &o).unwrap();
        for (f, s) in fixed.iter().zip(&same) {
            assert_eq!(f.index, s.index);
            for (x, y) in f.logp.iter().zip(&s.logp) {
                assert!((x - y).abs() < 1e-4, "{x} vs {y}");
            }
        }
    }

    #[test]
    fn the_first_step_is_scored_before_any_update_and_later_steps_learn() {
        let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 3).unwrap();
        let unit = genome(40, 7);
        let seq = unit.repeat(30);
        let fixed = token_scores_many(&model, &[&seq], &PredictOptions::default()).unwrap();
        let o = AdaptOptions {
            lr: 1e-2,
            window: 20,
            ..Default::default()
        };
        let ad = adaptive_token_scores(&model, &[&seq], &o).unwrap();
        assert_eq!(ad[0].index, fixed[0].index);
        // the first window: no update has happened yet
        for i in 0..19 {
            assert!((ad[0].logp[i] - fixed[0].logp[i]).abs() < 1e-4);
        }
        let tail = |v: &[f32]| v[v.len() / 2..].iter().sum::<f32>();
        assert!(tail(&ad[0].logp) > tail(&fixed[0].logp) + 50.0);
        // deterministic
        let again = adaptive_token_scores(&model, &[&seq], &o).unwrap();
        assert_eq!(again[0].logp, ad[0].logp);
    }

    #[test]
    fn other_heads_are_refused() {
        let model =
            GenomicModel::new(ModelConfig::transformer_mlm_small(), &Device::Cpu, 1).unwrap();
        let e = adaptive_token_scores(&model, &[b"ACGTACGT"], &AdaptOptions::default());
        assert!(matches!(e, Err(Error::Input(_))));
    }
}
