//! Model selection on the validation loss: keep the weights of the best epoch so far and stop a
//! fit that has stopped improving (fastai's `SaveModelCallback` + `EarlyStopping` in one,
//! because both need the model). [`Learner::keep_best`] turns it on,
//! [`Learner::restore_best`] puts the best weights back.
//!
//! ```
//! use candle_core::Device;
//! use genolm::data::batch::LmBatcher;
//! use genolm::models::{GenomicModel, ModelConfig};
//! use genolm::train::{Data, Learner, LearnerOptions};
//! let ids: Vec<u32> = (0..3000).map(|i| 5 + (i % 7) as u32).collect();
//! let train = LmBatcher::new(vec![ids.clone()], 4, 16, false, 0).unwrap();
//! let valid = LmBatcher::new(vec![ids], 4, 16, false, 1).unwrap();
//! let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 0).unwrap();
//! let opts = LearnerOptions { verbose: false, ..Default::default() };
//! let mut learn = Learner::new(model, Data::Lm(train), Some(Data::Lm(valid.clone())), opts).unwrap();
//! learn.keep_best(2);
//! learn.fit_one_cycle(3, 2e-2).unwrap();
//! let best = learn.restore_best().unwrap().expect("validation ran");
//! let now = learn.evaluate(&Data::Lm(valid)).unwrap().loss;
//! assert!((now - best.loss).abs() < 1e-5, "{now} vs {}", best.loss);
//! ```

use std::collections::HashMap;

use candle_core::Tensor;

use super::callbacks::Control;
use super::learner::Learner;
use crate::models::GenomicModel;
use crate::Result;

/// The best epoch seen by a learner with [`Learner::keep_best`].
#[derive(Debug, Clone, PartialEq)]
pub struct BestEpoch {
    /// Its validation loss.
    pub loss: f64,
    /// Its position in [`Learner::history`] (0-based, counting every fit).
    pub epoch_index: usize,
    /// Its stage label.
    pub stage: String,
}

/// Best-epoch tracking of a learner.
pub(super) struct BestTracker {
    patience: usize,
    wait: usize,
    best: Option<(BestEpoch, HashMap<String, Tensor>)>,
}

impl BestTracker {
    pub(super) fn new(patience: usize) -> Self {
        BestTracker {
            patience,
            wait: 0,
            best: None,
        }
    }

    /// A new fit starts: its patience counts from zero (the best so far is kept).
    pub(super) fn start_fit(&mut self) {
        self.wait = 0;
    }

    /// After an epoch with validation loss `loss`: snapshot the model when it is the best so far;
    /// `Stop` when `patience` epochs of this fit have passed without improvement.
    pub(super) fn observe(
        &mut self,
        loss: f64,
        epoch_index: usize,
        stage: &str,
        model: &GenomicModel,
    ) -> Control {
        let better = loss.is_finite() && self.best.as_ref().is_none_or(|(b, _)| loss < b.loss);
        if better {
            let snapshot = model.params().tensors().into_iter().collect();
            let rec = BestEpoch {
                loss,
                epoch_index,
                stage: stage.to_string(),
            };
            self.best = Some((rec, snapshot));
            self.wait = 0;
            return Control::Continue;
        }
        self.wait += 1;
        if self.patience > 0 && self.wait >= self.patience {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

impl Learner {
    /// Keep the weights of the epoch with the lowest validation loss (across every later fit),
    /// and end a fit early after `patience` epochs without a new best (0: never early). Needs
    /// validation data; [`restore_best`](Self::restore_best) puts the best weights back.
    pub fn keep_best(&mut self, patience: usize) {
        self.best = Some(BestTracker::new(patience));
    }

    /// The best epoch so far (with [`keep_best`](Self::keep_best)).
    pub fn best_epoch(&self) -> Option<&BestEpoch> {
        self.best.as_ref()?.best.as_ref().map(|(b, _)| b)
    }

    /// Load the best epoch's weights and buffers into the model; `None` (and nothing changes)
    /// when no epoch was validated. The optimizer's moments are left as they are.
    pub fn restore_best(&mut self) -> Result<Option<BestEpoch>> {
        let Some((b, snapshot)) = self.best.as_ref().and_then(|t| t.best.as_ref()) else {
            return Ok(None);
        };
        self.model.params().assign(snapshot, true)?;
        Ok(Some(b.clone()))
    }
}
