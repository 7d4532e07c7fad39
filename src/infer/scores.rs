//! Token scores: the log-probability a language model gives each observed token.

use super::{predict_records, PredictOptions};
use crate::data::input::Sequence;
use crate::data::tokenize::Special;
use crate::models::{GenomicModel, Head};
use crate::{Error, Result};

/// The log-probability the model gives each scored token of one sequence, and whether its
/// most probable token was right.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenScores {
    /// Token index of each scored token (the predicted one: `t + 1` for a causal LM reading
    /// up to `t`; the masked token itself for an MLM).
    pub index: Vec<usize>,
    /// `log p(observed token)` in nats.
    pub logp: Vec<f32>,
    /// Was the arg-max token the observed one?
    pub correct: Vec<bool>,
}

impl TokenScores {
    /// Number of scored tokens.
    pub fn len(&self) -> usize {
        self.index.len()
    }
    /// True when nothing was scored.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// From `(token index, ln p, arg-max right?)` rows in any order.
    pub(crate) fn from_rows(mut rows: Vec<(usize, f32, bool)>) -> Self {
        rows.sort_unstable_by_key(|r| r.0);
        TokenScores {
            index: rows.iter().map(|r| r.0).collect(),
            logp: rows.iter().map(|r| r.1).collect(),
            correct: rows.iter().map(|r| r.2).collect(),
        }
    }
}

/// Is token `t` one of the 15 % an MLM is scored on? A fixed multiplicative-hash pattern, so
/// every call (and every ablation) scores the same positions.
pub fn mlm_scored(t: usize) -> bool {
    (t as u64).wrapping_mul(2_654_435_761) % 1000 < 150
}

/// The input of an MLM when scoring: the [`mlm_scored`] tokens replaced by the mask token.
pub fn mlm_masked(ids: &[u32]) -> Vec<u32> {
    ids.iter()
        .enumerate()
        .map(|(t, &id)| {
            if mlm_scored(t) {
                Special::Mask as u32
            } else {
                id
            }
        })
        .collect()
}

/// Score one output row: the log-probabilities `row` made at token position `pos` of `ids`.
/// Returns `(scored token index, ln p(observed), arg-max right?)`, or `None` when nothing is
/// scored there (an MLM position outside [`mlm_scored`], a causal LM's last position, an
/// unknown target token).
pub fn score_row(row: &[f32], ids: &[u32], pos: usize, mlm: bool) -> Option<(usize, f32, bool)> {
    let target = if mlm {
        mlm_scored(pos).then_some(pos)?
    } else {
        pos + 1
    };
    let y = match ids.get(target) {
        Some(&y) if y != Special::Unk as u32 => y as usize,
        _ => return None,
    };
    let arg = row
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|x| x.0)
        .unwrap_or(0);
    Some((target, row[y], arg == y))
}

/// Score every token of `seq` (causal LM: each next token; MLM: the tokens chosen by
/// [`mlm_scored`], masked). Targets that are unknown tokens (ambiguous bases) are skipped.
/// Rows are in token order. `opts.hooks` may ablate neurons.
///
/// ```
/// use candle_core::Device;
/// use genolm::infer::{token_scores, PredictOptions};
/// use genolm::models::{GenomicModel, ModelConfig};
/// let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1)?;
/// let s = token_scores(&model, b"ACGTAGCTAGCATGCATCGATCGATTAGC", &PredictOptions::default())?;
/// assert_eq!(s.index[0], 1); // a causal LM never predicts token 0
/// assert!(s.logp.iter().all(|&v| v <= 0.0));
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn token_scores(
    model: &GenomicModel,
    seq: &(impl Sequence + ?Sized),
    opts: &PredictOptions,
) -> Result<TokenScores> {
    let mut all = token_scores_many(model, &[seq.bases()], opts)?;
    Ok(all.pop().unwrap_or_default())
}

/// [`token_scores`] of several sequences read in shared batches ([`predict_records`]): the
/// same scores as one call per sequence, in fewer forward passes when the sequences are short
/// (chunks of a genome, reads).
pub fn token_scores_many(
    model: &GenomicModel,
    seqs: &[&[u8]],
    opts: &PredictOptions,
) -> Result<Vec<TokenScores>> {
    let head = model.config().head;
    if head == Head::Classifier {
        return Err(Error::Input("token scores need an LM or MLM head".into()));
    }
    let tok = model.config().tokenizer()?;
    let mut o = opts.clone();
    o.layers = vec!["body".into()];
    o.log_probs = true;
    o.every = 1;
    let mlm = head == Head::Mlm;
    let ids: Vec<Vec<u32>> = seqs
        .iter()
        .map(|s| tok.encode(&s.to_ascii_uppercase()))
        .collect();
    let inputs: Vec<Vec<u32>> = if mlm {
        ids.iter().map(|x| mlm_masked(x)).collect()
    } else {
        Vec::new()
    };
    let input: Vec<&[u32]> = if mlm {
        inputs.iter().map(|x| x.as_slice()).collect()
    } else {
        ids.iter().map(|x| x.as_slice()).collect()
    };
    let mut rows: Vec<Vec<(usize, f32, bool)>> = vec![Vec::new(); seqs.len()];
    predict_records(model, &input, &o, &mut |ri, c| {
        let lp = &c.layers.last().expect("log-probs").1;
        let v = lp.len() / c.tokens.len();
        for (r, &t) in c.tokens.iter().enumerate() {
            if let Some(row) = score_row(&lp[r * v..(r + 1) * v], &ids[ri], t, mlm) {
                rows[ri].push(row);
            }
        }
        Ok(())
    })?;
    Ok(rows.into_iter().map(TokenScores::from_rows).collect())
}
