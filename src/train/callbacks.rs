//! Callbacks of the training loop: early stopping and your own.

use super::history::EpochRecord;

/// What a callback asks the loop to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop after this epoch.
    Stop,
}

/// Hooks into the training loop.
pub trait Callback {
    /// Called after every epoch with its record and the whole history.
    fn on_epoch_end(&mut self, _record: &EpochRecord, _history: &[EpochRecord]) -> Control {
        Control::Continue
    }
    /// Called after every optimizer step with the step number and the batch loss.
    fn on_batch_end(&mut self, _step: usize, _loss: f64) -> Control {
        Control::Continue
    }
}

/// Stop when the validation loss has not improved by `min_delta` for `patience` epochs.
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    /// Epochs without improvement to tolerate.
    pub patience: usize,
    /// Smallest decrease that counts as an improvement.
    pub min_delta: f64,
    best: f64,
    wait: usize,
}

impl EarlyStopping {
    /// Early stopping with this patience.
    pub fn new(patience: usize, min_delta: f64) -> Self {
        EarlyStopping {
            patience,
            min_delta,
            best: f64::INFINITY,
            wait: 0,
        }
    }
}

impl Callback for EarlyStopping {
    fn on_epoch_end(&mut self, r: &EpochRecord, _h: &[EpochRecord]) -> Control {
        let Some(v) = r.valid_loss else {
            return Control::Continue;
        };
        if v < self.best - self.min_delta {
            self.best = v;
            self.wait = 0;
            Control::Continue
        } else {
            self.wait += 1;
            if self.wait >= self.patience {
                Control::Stop
            } else {
                Control::Continue
            }
        }
    }
}
