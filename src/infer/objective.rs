//! Objectives: the scalar per sequence that analyses score and differentiate.

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

use crate::models::{layers, GenomicModel, Head, Mode, Output};
use crate::{Error, Result};

/// The scalar output an analysis reduces a prediction to (an attribution explains it, ISM
/// and imputation compare it across sequences).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Objective {
    /// A classifier's logit of this class.
    Class(usize),
    /// Log-likelihood of the sequence under the LM (causal: Σ log p(next token); MLM:
    /// Σ log p(token) at every position without masking).
    LogLikelihood,
    /// Log-probability of the observed token at one token position (the LM's prediction made
    /// at the previous position for causal models).
    TokenLogProb(usize),
}

/// The objective of each batch row of a forward pass `out` on token ids `ids: (rows, t)`, as a
/// tensor (differentiable: the attributions take its gradient).
pub fn objective_tensor(
    model: &GenomicModel,
    out: &Output,
    ids: &Tensor,
    obj: Objective,
) -> Result<Tensor> {
    objective_lifted(model, out, ids, obj, None)
}

/// [`objective_tensor`] in a DeepLIFT pass: `lift` with `onehot`, the `(rows, t, vocab)`
/// one-hot of `ids`. The log-softmax takes DeepLIFT's rules, and the observed token is
/// picked by a product with `onehot`, so the target path's multipliers are the gradient on
/// `onehot` (the scored token is part of the input).
pub fn objective_lifted(
    model: &GenomicModel,
    out: &Output,
    ids: &Tensor,
    obj: Objective,
    lift: Option<(&crate::models::lift::Lift, &Tensor)>,
) -> Result<Tensor> {
    // returns one value per batch row
    let (_, t) = ids.dims2()?;
    match obj {
        Objective::Class(c) => {
            if model.config().head != Head::Classifier {
                return Err(Error::Input(
                    "Objective::Class needs a classifier head".into(),
                ));
            }
            Ok(layers::upcast(&out.logits)?.narrow(1, c, 1)?.squeeze(1)?)
        }
        Objective::LogLikelihood | Objective::TokenLogProb(_) => {
            if model.config().head == Head::Classifier {
                return Err(Error::Input(
                    "log-likelihood objectives need an LM or MLM head; use Objective::Class".into(),
                ));
            }
            let logits = layers::upcast(&out.logits)?;
            let lp = match lift {
                Some((l, _)) => l.log_softmax("objective.log_softmax", &logits)?,
                None => layers::log_softmax(&logits)?,
            };
            let causal = model.config().head == Head::Lm;
            let (pred, tgt) = if causal {
                if t < 2 {
                    return Err(Error::Input("need at least 2 tokens".into()));
                }
                (
                    lp.narrow(1, 0, t - 1)?.contiguous()?,
                    ids.narrow(1, 1, t - 1)?,
                )
            } else {
                (lp, ids.clone())
            };
            let picked = match lift {
                Some((l, onehot)) => {
                    let oh = if causal {
                        onehot.narrow(1, 1, t - 1)?
                    } else {
                        onehot.clone()
                    };
                    l.mul(&pred, &oh.to_dtype(pred.dtype())?)?.sum(2)?
                }
                None => pred
                    .gather(&tgt.to_dtype(DType::U32)?.unsqueeze(2)?.contiguous()?, 2)?
                    .squeeze(2)?,
            }; // (b, t')
            match obj {
                Objective::LogLikelihood => Ok(picked.sum(1)?),
                Objective::TokenLogProb(p) => {
                    let col = if causal { p.checked_sub(1) } else { Some(p) };
                    match col {
                        Some(c) if c < picked.dim(1)? => Ok(picked.narrow(1, c, 1)?.squeeze(1)?),
                        _ => Err(Error::Input(format!(
                            "token position {p} has no prediction (sequence of {t} tokens{})",
                            if causal {
                                "; position 0 is never predicted by a causal LM"
                            } else {
                                ""
                            }
                        ))),
                    }
                }
                _ => unreachable!(),
            }
        }
    }
}

/// The objective for one batch of token-id rows `(rows, t)` (no gradient); see
/// [`score_rows`](super::score_rows) for any number of rows.
pub fn score_ids(model: &GenomicModel, ids: &Tensor, obj: Objective) -> Result<Vec<f64>> {
    let model = &model.inference()?;
    let out = model.forward(ids, None, Mode::Eval)?;
    let v = objective_tensor(model, &out, ids, obj)?;
    Ok(v.to_dtype(DType::F64)?.to_vec1::<f64>()?)
}
