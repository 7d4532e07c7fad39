//! Training data for the three heads, cut into host-side batches.

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::data::batch::{ClassificationBatcher, LmBatcher, MlmBatcher};
use crate::models::Head;
use crate::Result;

/// Training or validation data for one of the three heads.
#[derive(Debug, Clone)]
pub enum Data {
    /// Causal LM windows (stateful or shuffled).
    Lm(LmBatcher),
    /// Masked-LM windows.
    Mlm(MlmBatcher),
    /// Labelled sequences.
    Cls(ClassificationBatcher),
}

/// What an epoch cut short by `max_batches` takes from LM and masked-LM data.
///
/// With `max_batches` below the batches of a whole pass over the training streams, an epoch
/// is a slice of a pass. `Continue` (the default) makes each epoch take the next slice of the
/// current pass (as Keras's `steps_per_epoch` does), so `E` epochs of `m` batches see
/// `E · m` different batches before any batch comes back: a pass of `n` batches is cut into
/// `⌊n / m⌋` epochs, then the next pass starts in a new order. `Restart` takes the first `m`
/// batches of a new order every epoch: for a stateful LM those are the first `m` windows of
/// every row, so each epoch samples the same share of each row again and some of the corpus
/// is never seen (six epochs of a sixth of a pass see about two thirds of it). It is how genolm cut
/// epochs before 2026-12-05 (the shipped models' runs say `short_epochs = "restart"`).
/// Classification data always restarts (its epochs are short).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShortEpochs {
    /// Each epoch continues the pass where the last one stopped.
    #[default]
    Continue,
    /// Each epoch takes the first batches of a new order.
    Restart,
}

/// One batch, as ids on the host.
#[derive(Debug, Clone)]
pub(crate) struct HostBatch {
    pub(crate) x: Vec<u32>,
    pub(crate) y_u32: Vec<u32>,
    pub(crate) y_i64: Vec<i64>,
    /// One target per row (classification) rather than one per position.
    pub(crate) per_row: bool,
    pub(crate) batch: usize,
    pub(crate) seq_len: usize,
    pub(crate) reset: Option<Vec<bool>>,
}

impl HostBatch {
    pub(crate) fn tensors(&self, dev: &Device) -> Result<(Tensor, Tensor)> {
        let x = Tensor::from_slice(&self.x, (self.batch, self.seq_len), dev)?;
        let y = if !self.y_i64.is_empty() {
            Tensor::from_slice(&self.y_i64, (self.batch, self.seq_len), dev)?
        } else if self.per_row {
            Tensor::from_slice(&self.y_u32, self.batch, dev)?
        } else {
            Tensor::from_slice(&self.y_u32, (self.batch, self.seq_len), dev)?
        };
        Ok((x, y))
    }

    /// Positions that count in the loss.
    pub(crate) fn n_targets(&self) -> usize {
        if !self.y_i64.is_empty() {
            self.y_i64.iter().filter(|&&l| l >= 0).count()
        } else {
            self.y_u32.len()
        }
    }
}

impl Data {
    pub(crate) fn head(&self) -> Head {
        match self {
            Data::Lm(_) => Head::Lm,
            Data::Mlm(_) => Head::Mlm,
            Data::Cls(_) => Head::Classifier,
        }
    }

    pub(crate) fn stateful(&self) -> bool {
        matches!(self, Data::Lm(b) if b.is_stateful())
    }

    /// At most `max` batches of epoch `epoch` (all for 0), made as they are taken: with
    /// [`ShortEpochs::Continue`] the epoch's slice of its pass, otherwise the first `max` of
    /// a new order. Epoch 0 is the same either way.
    pub(crate) fn iter_max(
        &self,
        epoch: u64,
        max: usize,
        cut: ShortEpochs,
    ) -> std::iter::Take<Box<dyn ExactSizeIterator<Item = HostBatch> + '_>> {
        let (pass, skip) = self.slice_of(epoch, max, cut);
        let it = self.iter_from(pass, skip);
        let n = match max {
            0 => it.len(),
            m => it.len().min(m),
        };
        it.take(n)
    }

    /// `(pass, batches to skip in it)` of epoch `epoch` cut to `max` batches.
    fn slice_of(&self, epoch: u64, max: usize, cut: ShortEpochs) -> (u64, usize) {
        if max == 0 || cut == ShortEpochs::Restart || matches!(self, Data::Cls(_)) {
            return (epoch, 0);
        }
        let per_pass = self.iter(0).len() / max;
        if per_pass <= 1 {
            return (epoch, 0);
        }
        let per_pass = per_pass as u64;
        (epoch / per_pass, (epoch % per_pass) as usize * max)
    }

    /// The batches of one epoch, made as they are taken (LM and masked-LM data never hold
    /// the epoch in memory: what lets token shards larger than memory train).
    pub(crate) fn iter(&self, epoch: u64) -> Box<dyn ExactSizeIterator<Item = HostBatch> + '_> {
        self.iter_from(epoch, 0)
    }

    /// The batches of one epoch after the first `skip` (which are not made).
    fn iter_from(
        &self,
        epoch: u64,
        skip: usize,
    ) -> Box<dyn ExactSizeIterator<Item = HostBatch> + '_> {
        match self {
            Data::Lm(b) => Box::new(b.iter_epoch(epoch).skip_batches(skip).map(|b| HostBatch {
                x: b.x,
                y_u32: b.y,
                y_i64: Vec::new(),
                per_row: false,
                batch: b.batch,
                seq_len: b.seq_len,
                reset: Some(b.reset),
            })),
            Data::Mlm(b) => Box::new(b.iter_epoch(epoch).skip_batches(skip).map(|b| HostBatch {
                x: b.x,
                y_u32: Vec::new(),
                y_i64: b.labels,
                per_row: false,
                batch: b.batch,
                seq_len: b.seq_len,
                reset: None,
            })),
            Data::Cls(b) => Box::new(b.epoch(epoch).into_iter().skip(skip).map(|b| HostBatch {
                x: b.x,
                y_u32: b.labels,
                y_i64: Vec::new(),
                per_row: true,
                batch: b.batch,
                seq_len: b.seq_len,
                reset: None,
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lm(stateful: bool) -> Data {
        let streams: Vec<Vec<u32>> = (0..5u32)
            .map(|c| (c * 10_000..c * 10_000 + 400 + 53 * c).collect())
            .collect();
        Data::Lm(LmBatcher::new(streams, 4, 8, stateful, 11).unwrap())
    }

    fn xs(d: &Data, epoch: u64, max: usize, cut: ShortEpochs) -> Vec<Vec<u32>> {
        d.iter_max(epoch, max, cut).map(|b| b.x).collect()
    }

    #[test]
    fn short_epochs_continue_the_pass_then_start_a_new_one() {
        for stateful in [true, false] {
            let d = lm(stateful);
            let pass0: Vec<Vec<u32>> = d.iter(0).map(|b| b.x).collect();
            let pass1: Vec<Vec<u32>> = d.iter(1).map(|b| b.x).collect();
            let m = 7;
            let per_pass = pass0.len() / m;
            assert!(per_pass >= 3, "{}", pass0.len());
            // the epochs of one pass are its consecutive slices: no batch twice
            let walked: Vec<Vec<u32>> = (0..per_pass as u64)
                .flat_map(|e| xs(&d, e, m, ShortEpochs::Continue))
                .collect();
            assert_eq!(walked[..], pass0[..per_pass * m], "stateful {stateful}");
            // then a new pass in its own order
            let next = xs(&d, per_pass as u64, m, ShortEpochs::Continue);
            assert_eq!(next[..], pass1[..m]);
            // restarting takes the head of a new order every epoch
            assert_eq!(xs(&d, 1, m, ShortEpochs::Restart)[..], pass1[..m]);
            // epoch 0 is the same either way; no cut means whole passes
            assert_eq!(
                xs(&d, 0, m, ShortEpochs::Continue),
                xs(&d, 0, m, ShortEpochs::Restart)
            );
            assert_eq!(xs(&d, 1, 0, ShortEpochs::Continue), pass1);
            assert_eq!(xs(&d, 1, 10_000, ShortEpochs::Continue), pass1);
        }
    }

    #[test]
    fn new_runs_continue_and_old_checkpoints_restart() {
        use crate::train::LearnerOptions;
        assert_eq!(
            LearnerOptions::default().short_epochs,
            ShortEpochs::Continue
        );
        // a state.json written before the option existed resumes as it was trained
        let old: LearnerOptions = serde_json::from_str(r#"{"max_batches": 5}"#).unwrap();
        assert_eq!(old.short_epochs, ShortEpochs::Restart);
        let cfg: crate::train::run::TrainConfig = toml::from_str("max_batches = 5").unwrap();
        assert_eq!(cfg.short_epochs, ShortEpochs::Continue);
    }
}
