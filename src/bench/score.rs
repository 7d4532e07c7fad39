//! Token-level scoring shared by the tasks: the model and the Markov baseline score exactly
//! the same tokens (a token is counted only when both can score it).

use candle_core::{DType, Tensor};

use super::markov::MarkovModel;
use super::BenchContext;
use crate::infer::{mlm_masked, score_row, token_scores};
use crate::models::{layers, Head, Mode};
use crate::Result;

/// One token scored by the model and the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PosScore {
    /// Token index.
    pub token: usize,
    /// Last base the token covers (index into the scored sequence).
    pub last_base: usize,
    /// Model `ln p(token)`.
    pub model_logp: f64,
    /// Model arg-max right?
    pub model_ok: bool,
    /// Markov `ln p(new bases)`.
    pub markov_logp: f64,
    /// Markov greedy prediction right?
    pub markov_ok: bool,
}

/// Sums of scores over tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    /// Tokens.
    pub n: usize,
    /// Σ −ln p, model.
    pub model_nll: f64,
    /// Correct arg-max, model.
    pub model_ok: usize,
    /// Σ −ln p, Markov.
    pub markov_nll: f64,
    /// Correct, Markov.
    pub markov_ok: usize,
}

impl Tally {
    /// Add one token.
    pub fn add(&mut self, p: &PosScore) {
        self.n += 1;
        self.model_nll -= p.model_logp;
        self.model_ok += p.model_ok as usize;
        self.markov_nll -= p.markov_logp;
        self.markov_ok += p.markov_ok as usize;
    }
    /// Model cross-entropy (nats per token).
    pub fn model_ce(&self) -> f64 {
        self.model_nll / self.n.max(1) as f64
    }
    /// Markov cross-entropy.
    pub fn markov_ce(&self) -> f64 {
        self.markov_nll / self.n.max(1) as f64
    }
    /// Model accuracy.
    pub fn model_acc(&self) -> f64 {
        self.model_ok as f64 / self.n.max(1) as f64
    }
    /// Markov accuracy.
    pub fn markov_acc(&self) -> f64 {
        self.markov_ok as f64 / self.n.max(1) as f64
    }
}

fn pair(
    markov: &MarkovModel,
    seq: &[u8],
    k: usize,
    s: usize,
    j: usize,
    lp: f32,
    ok: bool,
) -> Option<PosScore> {
    let (mlp, mok) = markov.token_logp(seq, j, k, s)?;
    Some(PosScore {
        token: j,
        last_base: j * s + k - 1,
        model_logp: lp as f64,
        model_ok: ok,
        markov_logp: mlp,
        markov_ok: mok,
    })
}

/// Score one (long) sequence with the prediction core (windows with context, LSTM state
/// carried) and the baseline.
pub fn score_sequence(ctx: &BenchContext, seq: &[u8]) -> Result<Vec<PosScore>> {
    let up = seq.to_ascii_uppercase();
    let ts = token_scores(ctx.model, &up, &ctx.predict_options())?;
    let (k, s) = (ctx.tok.k, ctx.tok.stride);
    Ok((0..ts.len())
        .filter_map(|i| {
            pair(
                &ctx.markov,
                &up,
                k,
                s,
                ts.index[i],
                ts.logp[i],
                ts.correct[i],
            )
        })
        .collect())
}

/// Score short sequences (reads) independently, each with no context beyond itself, in
/// batches of equal length.
pub fn score_reads(ctx: &BenchContext, reads: &[Vec<u8>]) -> Result<Vec<Vec<PosScore>>> {
    let model = ctx.model;
    let mlm = model.config().head == Head::Mlm;
    let (k, s) = (ctx.tok.k, ctx.tok.stride);
    let mut out = vec![Vec::new(); reads.len()];
    // group by length
    let mut order: Vec<usize> = (0..reads.len()).collect();
    order.sort_by_key(|&i| reads[i].len());
    for group in order.chunk_by(|&a, &b| reads[a].len() == reads[b].len()) {
        for batch in group.chunks(ctx.opts.batch_size.max(1)) {
            let seqs: Vec<Vec<u8>> = batch
                .iter()
                .map(|&i| reads[i].to_ascii_uppercase())
                .collect();
            let ids: Vec<Vec<u32>> = seqs.iter().map(|x| ctx.tok.encode(x)).collect();
            let t = ids[0].len();
            if t < 2 {
                continue;
            }
            let input: Vec<u32> = if mlm {
                ids.iter().flat_map(|r| mlm_masked(r)).collect()
            } else {
                ids.concat()
            };
            let x = Tensor::from_vec(input, (batch.len(), t), model.device())?;
            let o = model.forward(&x, None, Mode::Eval)?;
            let lp = layers::log_softmax(&o.logits.to_dtype(DType::F32)?)?.to_vec3::<f32>()?;
            for (bi, &ri) in batch.iter().enumerate() {
                for (pos, row) in lp[bi].iter().enumerate() {
                    let Some((target, logp, ok)) = score_row(row, &ids[bi], pos, mlm) else {
                        continue;
                    };
                    if let Some(p) = pair(&ctx.markov, &seqs[bi], k, s, target, logp, ok) {
                        out[ri].push(p);
                    }
                }
            }
        }
    }
    Ok(out)
}
