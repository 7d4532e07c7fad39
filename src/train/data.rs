//! Training data for the three heads, cut into host-side batches.

use candle_core::{Device, Tensor};

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

    /// The first `max` batches of one epoch (all for 0), made as they are taken.
    pub(crate) fn iter_max(
        &self,
        epoch: u64,
        max: usize,
    ) -> std::iter::Take<Box<dyn ExactSizeIterator<Item = HostBatch> + '_>> {
        let it = self.iter(epoch);
        let n = match max {
            0 => it.len(),
            m => it.len().min(m),
        };
        it.take(n)
    }

    /// The batches of one epoch, made as they are taken (LM and masked-LM data never hold
    /// the epoch in memory: what lets token shards larger than memory train).
    pub(crate) fn iter(&self, epoch: u64) -> Box<dyn ExactSizeIterator<Item = HostBatch> + '_> {
        match self {
            Data::Lm(b) => Box::new(b.iter_epoch(epoch).map(|b| HostBatch {
                x: b.x,
                y_u32: b.y,
                y_i64: Vec::new(),
                per_row: false,
                batch: b.batch,
                seq_len: b.seq_len,
                reset: Some(b.reset),
            })),
            Data::Mlm(b) => Box::new(b.iter_epoch(epoch).map(|b| HostBatch {
                x: b.x,
                y_u32: Vec::new(),
                y_i64: b.labels,
                per_row: false,
                batch: b.batch,
                seq_len: b.seq_len,
                reset: None,
            })),
            Data::Cls(b) => Box::new(b.epoch(epoch).into_iter().map(|b| HostBatch {
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
