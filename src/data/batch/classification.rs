//! Classification batches: labelled sequences padded at the start, length-sorted with local
//! shuffling.

use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::epoch_rng;
use crate::data::tokenize::Special;
use crate::{Error, Result};

/// A classification batch, padded at the start to the longest row.
#[derive(Debug, Clone, PartialEq)]
pub struct ClsBatch {
    /// `batch × seq_len` ids, `PAD` on the left.
    pub x: Vec<u32>,
    /// Unpadded length of each row.
    pub lengths: Vec<usize>,
    /// Class of each row.
    pub labels: Vec<u32>,
    /// Indices of the rows' items in the dataset.
    pub items: Vec<usize>,
    /// Rows.
    pub batch: usize,
    /// Padded length.
    pub seq_len: usize,
}

impl ClsBatch {
    /// `(x: u32 (batch, seq_len), labels: u32 (batch,))` tensors.
    pub fn to_tensors(&self, device: &Device) -> Result<(Tensor, Tensor)> {
        Ok((
            Tensor::from_slice(&self.x, (self.batch, self.seq_len), device)?,
            Tensor::from_slice(&self.labels, self.batch, device)?,
        ))
    }
}

/// Classification batcher: length-sorted batches with local shuffling (fastai's
/// `SortishSampler`): items are shuffled, cut into chunks of 50 batches, sorted by length
/// within each chunk, batched, and the batch order shuffled, longest batch first (so a
/// memory problem shows at once). Rows are padded at the start.
#[derive(Debug, Clone)]
pub struct ClassificationBatcher {
    items: Vec<(Vec<u32>, u32)>,
    batch: usize,
    seed: u64,
    shuffle: bool,
}

impl ClassificationBatcher {
    /// `items`: (token ids, class) pairs. With `shuffle = false` (evaluation) batches come
    /// sorted by length, longest first, and every item appears once.
    pub fn new(
        items: Vec<(Vec<u32>, u32)>,
        batch: usize,
        shuffle: bool,
        seed: u64,
    ) -> Result<Self> {
        if batch == 0 {
            return Err(Error::Config("batch size must be positive".into()));
        }
        if items.iter().any(|(x, _)| x.is_empty()) {
            return Err(Error::Input(
                "classification items must have at least one token".into(),
            ));
        }
        Ok(Self {
            items,
            batch,
            seed,
            shuffle,
        })
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True without items.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The class of every item, in order.
    pub fn labels(&self) -> Vec<u32> {
        self.items.iter().map(|x| x.1).collect()
    }

    /// Hold out a stratified `fraction` of the items for validation (seeded): within each class
    /// the items are shuffled and `round(fraction · n)` of them (at least one when the class
    /// has two or more) go to validation. Returns `(train, valid)`: training keeps this
    /// batcher's batch size and shuffling, validation batches in order; `None` when a part
    /// would be empty or a class would have fewer than `min_per_class` validation items (too
    /// few to choose epochs by).
    ///
    /// ```
    /// use genolm::data::batch::ClassificationBatcher;
    /// let items: Vec<(Vec<u32>, u32)> = (0..40).map(|i| (vec![5, 6, 7], (i % 4 == 0) as u32)).collect();
    /// let b = ClassificationBatcher::new(items, 8, true, 0).unwrap();
    /// let (tr, va) = b.split_valid(0.2, 0, 1).unwrap();
    /// assert_eq!((tr.len(), va.len()), (32, 8));
    /// assert_eq!(va.labels().iter().filter(|&&c| c == 1).count(), 2); // 20 % of the 10 ones
    /// assert!(b.split_valid(0.2, 3, 1).is_none()); // the ones would keep only 2
    /// ```
    pub fn split_valid(
        &self,
        fraction: f64,
        min_per_class: usize,
        seed: u64,
    ) -> Option<(Self, Self)> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x0076_616c_6964);
        let n_classes = self.items.iter().map(|x| x.1).max()? as usize + 1;
        let (mut tr, mut va) = (Vec::new(), Vec::new());
        for c in 0..n_classes as u32 {
            let mut idx: Vec<usize> = (0..self.items.len())
                .filter(|&i| self.items[i].1 == c)
                .collect();
            idx.shuffle(&mut rng);
            let n = idx.len();
            let mut k = (fraction * n as f64).round() as usize;
            if n >= 2 {
                k = k.clamp(1, n - 1);
            } else {
                k = 0;
            }
            if n > 0 && k < min_per_class {
                return None;
            }
            va.extend(idx[..k].iter().map(|&i| self.items[i].clone()));
            tr.extend(idx[k..].iter().map(|&i| self.items[i].clone()));
        }
        if tr.is_empty() || va.is_empty() {
            return None;
        }
        let valid = ClassificationBatcher {
            items: va,
            batch: self.batch,
            seed: 0,
            shuffle: false,
        };
        let train = ClassificationBatcher {
            items: tr,
            batch: self.batch,
            seed: self.seed,
            shuffle: self.shuffle,
        };
        Some((train, valid))
    }

    /// Batches per epoch.
    pub fn n_batches(&self) -> usize {
        self.items.len().div_ceil(self.batch)
    }

    /// The batches of one epoch; every item appears exactly once (the last batch may be smaller).
    pub fn epoch(&self, epoch: u64) -> Vec<ClsBatch> {
        let mut idx: Vec<usize> = (0..self.items.len()).collect();
        let len = |i: &usize| self.items[*i].0.len();
        let mut batches: Vec<Vec<usize>> = if self.shuffle {
            let mut rng = epoch_rng(self.seed, epoch);
            idx.shuffle(&mut rng);
            let mut out = Vec::new();
            for chunk in idx.chunks_mut(self.batch * 50) {
                chunk.sort_by_key(|i| std::cmp::Reverse(len(i)));
                out.extend(chunk.chunks(self.batch).map(<[usize]>::to_vec));
            }
            // Longest batch first, the rest shuffled.
            if let Some(longest) =
                (0..out.len()).max_by_key(|&b| out[b].iter().map(len).max().unwrap_or(0))
            {
                out.swap(0, longest);
                out[1..].shuffle(&mut rng);
            }
            out
        } else {
            idx.sort_by_key(|i| std::cmp::Reverse(len(i)));
            idx.chunks(self.batch).map(<[usize]>::to_vec).collect()
        };
        batches
            .drain(..)
            .map(|rows| {
                let t = rows.iter().map(len).max().unwrap_or(0);
                let mut x = Vec::with_capacity(rows.len() * t);
                for &i in &rows {
                    let ids = &self.items[i].0;
                    x.extend(std::iter::repeat_n(Special::Pad as u32, t - ids.len()));
                    x.extend_from_slice(ids);
                }
                ClsBatch {
                    x,
                    lengths: rows.iter().map(len).collect(),
                    labels: rows.iter().map(|&i| self.items[i].1).collect(),
                    batch: rows.len(),
                    seq_len: t,
                    items: rows,
                }
            })
            .collect()
    }
}
