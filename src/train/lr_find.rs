//! fastai's LR range test: save the weights, sweep the LR up exponentially, stop when the loss
//! explodes, restore the weights, suggest an LR.

use std::collections::HashMap;

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

use super::learner::{mix, Learner};
use super::optim::AdamW;
use crate::models::Mode;
use crate::{Error, Result};

/// The curve of an LR range test and its suggestions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrFinder {
    /// Learning rates tried.
    pub lrs: Vec<f64>,
    /// Smoothed losses (exponential moving average, debiased).
    pub losses: Vec<f64>,
    /// Raw batch losses.
    pub raw_losses: Vec<f64>,
    /// The LR at the steepest descent of the smoothed loss (fastai's "steep").
    pub suggestion: f64,
    /// The LR of the minimum smoothed loss divided by 10.
    pub min_div_10: f64,
    /// True when the sweep stopped because the loss diverged.
    pub diverged: bool,
}

impl Learner {
    /// An LR range test (seed 003 §5.3): the LR grows exponentially from `start` to `end`
    /// over at most `iters` batches, stopping when the smoothed loss exceeds 4× its
    /// minimum. The weights and optimizer are restored afterwards.
    pub fn lr_find(&mut self, start: f64, end: f64, iters: usize) -> Result<LrFinder> {
        self.lr_find_skipping(start, end, iters, 0)
    }

    /// [`lr_find`](Self::lr_find) whose divergence test and minimum ignore the first `skip`
    /// batches (the suggestions still cover the whole curve up to the minimum). fastai's
    /// suggestion functions leave out the first tenth of the sweep: on a model that already
    /// fits its training items (a classifier after its head's cycle) one easy first batch
    /// would otherwise set a minimum that the ordinary spread of batch losses exceeds 4×, and
    /// the sweep would stop at its smallest rates.
    pub fn lr_find_skipping(
        &mut self,
        start: f64,
        end: f64,
        iters: usize,
        skip: usize,
    ) -> Result<LrFinder> {
        if !(start > 0.0 && end > start && iters >= 2) {
            return Err(Error::Config(
                "lr_find needs 0 < start < end and at least 2 iterations".into(),
            ));
        }
        self.adopt()?;
        let snapshot: HashMap<String, Tensor> = self.model.params().tensors().into_iter().collect();
        let mut opt = AdamW::for_model(&self.model, start, self.opts.adamw)?;
        opt.apply_description(&self.opt.describe());
        let dev = self.model.device().clone();
        let balance = self.opts.class_balance.clone();
        let (mut lrs, mut losses, mut raw) = (Vec::new(), Vec::new(), Vec::new());
        let (mut avg, mut best) = (0f64, f64::INFINITY);
        let mut diverged = false;
        let mut epoch = 0;
        'outer: loop {
            let batches = self.train_batches(epoch);
            if batches.is_empty() {
                break;
            }
            for hb in batches {
                let i = lrs.len();
                if i >= iters {
                    break 'outer;
                }
                let lr = start * (end / start).powf(i as f64 / (iters - 1) as f64);
                opt.scale_to_top(lr);
                let (x, y) = hb.tensors(&dev)?;
                let out = self.model.forward(
                    &x,
                    None,
                    Mode::Train {
                        seed: mix(self.opts.seed, i as u64),
                    },
                )?;
                let (loss, ce) = self.model.loss_balanced(&out, &y, balance.as_ref())?;
                let l = ce.to_dtype(DType::F64)?.to_scalar::<f64>()?;
                if !l.is_finite() {
                    diverged = true;
                    break 'outer;
                }
                opt.step(&loss.backward()?, 1.0)?;
                avg = 0.98 * avg + 0.02 * l;
                let smooth = avg / (1.0 - 0.98f64.powi(i as i32 + 1));
                lrs.push(lr);
                raw.push(l);
                losses.push(smooth);
                if i >= skip {
                    best = best.min(smooth);
                }
                if i > 5.max(skip) && smooth > 4.0 * best {
                    diverged = true;
                    break 'outer;
                }
            }
            epoch += 1;
        }
        self.model.params().assign(&snapshot, true)?;
        if lrs.len() < 3 {
            return Err(Error::Input(
                "lr_find ran fewer than 3 batches; give it more data".into(),
            ));
        }
        let from = skip.min(losses.len() - 1);
        let imin = (from..losses.len())
            .min_by(|&a, &b| losses[a].total_cmp(&losses[b]))
            .unwrap_or(from);
        // Steepest descent of smoothed loss against log LR, before the minimum.
        let mut steep = (f64::INFINITY, lrs[imin] / 10.0);
        for i in 1..=imin {
            let slope = (losses[i] - losses[i - 1]) / (lrs[i].ln() - lrs[i - 1].ln());
            if slope < steep.0 {
                steep = (slope, lrs[i]);
            }
        }
        Ok(LrFinder {
            suggestion: steep.1,
            min_div_10: lrs[imin] / 10.0,
            lrs,
            losses,
            raw_losses: raw,
            diverged,
        })
    }
}
