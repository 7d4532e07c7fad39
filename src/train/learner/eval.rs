//! Scoring a model on batches: cross-entropy and accuracy of an LM or classifier (also
//! data-parallel), class probabilities, and the state carried between LM batches.

use candle_core::{DType, D};
use serde::{Deserialize, Serialize};

use crate::data::batch::ClassificationBatcher;
use crate::models::layers::ClassBalance;
use crate::models::{GenomicModel, Mode, RnnState};
use crate::train::data::{Data, ShortEpochs};
use crate::train::dist::{self, Collective};
use crate::{Error, Result};

/// Validation results.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalResult {
    /// Mean cross-entropy per target.
    pub loss: f64,
    /// Accuracy.
    pub accuracy: f64,
    /// Targets scored.
    pub n: usize,
}

/// The LSTM state to start a batch from: the previous batch's, cut from its graph
/// (truncated BPTT), with the rows that begin a new contig zeroed.
pub(super) fn carry_state(
    state: Option<RnnState>,
    reset: &Option<Vec<bool>>,
) -> Result<Option<RnnState>> {
    Ok(match (state, reset) {
        (Some(s), Some(r)) => Some(s.reset_rows(r)?.detach()),
        (s, _) => s.map(|s| s.detach()),
    })
}

/// Cross-entropy and accuracy of `model` on `data` (at most `max_batches`, 0 = all).
pub fn evaluate(model: &GenomicModel, data: &Data, max_batches: usize) -> Result<EvalResult> {
    evaluate_with(model, data, max_batches, None)
}

/// [`evaluate`], data-parallel: each rank scores its rows of every batch and the sums are
/// added across ranks (every rank gets the same result).
pub fn evaluate_with(
    model: &GenomicModel,
    data: &Data,
    max_batches: usize,
    collective: Option<&dyn Collective>,
) -> Result<EvalResult> {
    evaluate_weighted(model, data, max_batches, collective, None)
}

/// [`evaluate_with`], a classifier's loss under a [`ClassBalance`]: with class weights the
/// weighted mean over all items (`Σ w[yᵢ] ℓᵢ / Σ w[yᵢ]`); the accuracy unweighted.
pub(super) fn evaluate_weighted(
    model: &GenomicModel,
    data: &Data,
    max_batches: usize,
    collective: Option<&dyn Collective>,
    balance: Option<&ClassBalance>,
) -> Result<EvalResult> {
    let balance = balance.filter(|_| matches!(data, Data::Cls(_)));
    let (rank, world) = collective.map_or((0, 1), |c| (c.rank(), c.world_size()));
    // no graph: each batch's activations are freed as soon as its loss is read
    let model = &model.inference()?;
    let dev = model.device().clone();
    let batches = data.iter_max(0, max_batches, ShortEpochs::Restart);
    let stateful = data.stateful() && model.config().lstm_layers > 0;
    let mut state: Option<RnnState> = None;
    let (mut loss_sum, mut correct, mut n) = (0f64, 0f64, 0usize);
    let mut weight_sum = 0f64;
    for global in batches {
        let global = &global;
        let mine;
        let hb = if world > 1 {
            mine = dist::shard_rows(global, rank, world);
            if mine.batch == 0 {
                continue;
            }
            &mine
        } else {
            global
        };
        let (x, y) = hb.tensors(&dev)?;
        if stateful {
            state = carry_state(state, &hb.reset)?;
        }
        let out = model.forward(&x, state.as_ref(), Mode::Eval)?;
        if stateful {
            state = out.state.clone();
        }
        let (_, ce) = model.loss_balanced(&out, &y, balance)?;
        let k = hb.n_targets();
        // a weighted mean counts each batch by its items' weights
        let wk = match balance {
            Some(b) => hb.y_u32.iter().map(|&c| b.item_weight(c)).sum(),
            None => k as f64,
        };
        loss_sum += ce.to_dtype(DType::F64)?.to_scalar::<f64>()? * wk;
        weight_sum += wk;
        n += k;
        let pred = out
            .logits
            .argmax(D::Minus1)?
            .flatten_all()?
            .to_vec1::<u32>()?;
        correct += match data {
            Data::Mlm(_) => pred
                .iter()
                .zip(&hb.y_i64)
                .filter(|(p, l)| **l >= 0 && **p as i64 == **l)
                .count(),
            _ => pred.iter().zip(&hb.y_u32).filter(|(p, l)| p == l).count(),
        } as f64;
    }
    if let Some(c) = collective.filter(|_| world > 1) {
        let s = c.sum(&[loss_sum, correct, n as f64, weight_sum])?;
        (loss_sum, correct, n, weight_sum) = (s[0], s[1], s[2] as usize, s[3]);
    }
    if n == 0 {
        return Err(Error::Input("no validation targets".into()));
    }
    Ok(EvalResult {
        loss: loss_sum / weight_sum,
        accuracy: correct / n as f64,
        n,
    })
}

/// Class probabilities for every item of a classification batcher, in item order.
pub fn predict_proba(model: &GenomicModel, data: &ClassificationBatcher) -> Result<Vec<Vec<f32>>> {
    let model = &model.inference()?;
    let dev = model.device().clone();
    let mut out = vec![Vec::new(); data.len()];
    for b in data.epoch(0) {
        let (x, _) = b.to_tensors(&dev)?;
        let o = model.forward(&x, None, Mode::Eval)?;
        let p =
            crate::models::layers::softmax(&o.logits.to_dtype(DType::F32)?)?.to_vec2::<f32>()?;
        for (item, row) in b.items.iter().zip(p) {
            out[*item] = row;
        }
    }
    Ok(out)
}
