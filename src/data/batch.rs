//! Batching for the three training modes, deterministic for a seed:
//!
//! * [`LmBatcher`]: causal LM over contiguous BPTT windows. In **stateful** mode each batch
//!   row walks along its genome in order (so an RNN can carry its hidden state from batch to
//!   batch) and `reset` marks the rows whose state must be cleared because they start a new
//!   contig; otherwise windows are shuffled and every row is reset.
//! * [`MlmBatcher`]: masked LM (15 % of tokens; of those 80 % `MASK`, 10 % random, 10 % kept).
//! * [`ClassificationBatcher`]: labelled sequences, padded **at the start**, in length-sorted
//!   batches with local shuffling (seed 003 §5.9).
//!
//! ```
//! use genolm::data::batch::LmBatcher;
//! let streams = vec![(0..100u32).collect::<Vec<_>>(), (1000..1050).collect()];
//! let b = LmBatcher::new(streams, 2, 8, true, 1).unwrap();
//! let batches = b.epoch(0);
//! // Row targets are the inputs shifted by one.
//! assert_eq!(batches[0].y[0], batches[0].x[0] + 1);
//! // Consecutive batches continue each row where it left off.
//! assert_eq!(batches[1].x[0], batches[0].x[7] + 1);
//! ```

use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::streams::TokenStreams;
use super::tokenize::{Special, N_SPECIAL};
use crate::{Error, Result};

/// Label value for positions that do not count in the loss (as PyTorch's `ignore_index`).
pub const IGNORE_INDEX: i64 = -100;

fn epoch_rng(seed: u64, epoch: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(
        seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
            ^ epoch.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    )
}

/// A causal-LM batch: `x` and `y` are `batch × seq_len`, row-major; `y` is `x` shifted by one.
#[derive(Debug, Clone, PartialEq)]
pub struct LmBatch {
    /// Input ids.
    pub x: Vec<u32>,
    /// Target ids (next token).
    pub y: Vec<u32>,
    /// Rows.
    pub batch: usize,
    /// Time steps.
    pub seq_len: usize,
    /// Per row: clear the recurrent state before this batch.
    pub reset: Vec<bool>,
}

impl LmBatch {
    /// `(x, y)` as `u32` tensors of shape `(batch, seq_len)` on `device`.
    pub fn to_tensors(&self, device: &Device) -> Result<(Tensor, Tensor)> {
        let x = Tensor::from_slice(&self.x, (self.batch, self.seq_len), device)?;
        let y = Tensor::from_slice(&self.y, (self.batch, self.seq_len), device)?;
        Ok((x, y))
    }
}

/// Causal-LM batcher over token streams (one per contig), in memory or mapped from
/// [token shards](super::shards).
#[derive(Debug, Clone)]
pub struct LmBatcher {
    streams: TokenStreams,
    batch: usize,
    bptt: usize,
    stateful: bool,
    seed: u64,
}

/// Batches between two [`TokenStreams::release`] calls while walking mapped streams.
const RELEASE_EVERY: usize = 256;

impl LmBatcher {
    /// `streams`: token ids per contig (a `Vec<Vec<u32>>` or [`TokenStreams`]); `batch` rows;
    /// `bptt` time steps per window.
    pub fn new(
        streams: impl Into<TokenStreams>,
        batch: usize,
        bptt: usize,
        stateful: bool,
        seed: u64,
    ) -> Result<Self> {
        let streams = streams.into();
        if batch == 0 || bptt == 0 {
            return Err(Error::Config("batch size and bptt must be positive".into()));
        }
        let total: usize = (0..streams.len())
            .map(|i| streams.stream_len(i).saturating_sub(1))
            .sum();
        if total < batch * bptt {
            return Err(Error::Input(format!(
                "{total} tokens are too few for one batch of {batch} × {bptt}"
            )));
        }
        Ok(Self {
            streams,
            batch,
            bptt,
            stateful,
            seed,
        })
    }

    /// Is this batcher stateful?
    pub fn is_stateful(&self) -> bool {
        self.stateful
    }

    /// Total tokens.
    pub fn n_tokens(&self) -> usize {
        self.streams.total_tokens()
    }

    /// The token streams.
    pub fn streams(&self) -> &TokenStreams {
        &self.streams
    }

    /// The batches of one epoch (the order depends on `seed` and `epoch`), all at once.
    pub fn epoch(&self, epoch: u64) -> Vec<LmBatch> {
        self.iter_epoch(epoch).collect()
    }

    /// The batches of one epoch, made as they are taken: memory holds one batch and the
    /// epoch's plan (stateful: a cursor per row; shuffled: 16 bytes per window), not the epoch.
    pub fn iter_epoch(&self, epoch: u64) -> LmEpoch<'_> {
        let plan = if self.stateful {
            self.stateful_plan(epoch)
        } else {
            self.shuffled_plan(epoch)
        };
        let n = match &plan {
            Plan::Shuffled(w) => w.len() / self.batch,
            Plan::Stateful { n, .. } => *n,
        };
        LmEpoch {
            b: self,
            plan,
            next: 0,
            n,
        }
    }

    /// Number of windows `(start)` of `bptt + 1` tokens stepping `bptt` over `[lo, hi)`.
    fn n_windows(&self, lo: usize, hi: usize) -> usize {
        if hi > lo + self.bptt {
            (hi - lo - self.bptt - 1) / self.bptt + 1
        } else {
            0
        }
    }

    fn make_batch(&self, rows: impl Iterator<Item = (usize, usize)>, reset: Vec<bool>) -> LmBatch {
        let t = self.bptt;
        let mut x = Vec::with_capacity(reset.len() * t);
        let mut y = Vec::with_capacity(reset.len() * t);
        let mut n = 0;
        for (s, start) in rows {
            let w = &self.streams.get(s)[start..start + t + 1];
            x.extend_from_slice(&w[..t]);
            y.extend_from_slice(&w[1..]);
            n += 1;
        }
        LmBatch {
            x,
            y,
            batch: n,
            seq_len: t,
            reset,
        }
    }

    fn shuffled_plan(&self, epoch: u64) -> Plan {
        let mut rng = epoch_rng(self.seed, epoch);
        let mut wins: Vec<(u32, u64)> = Vec::new();
        for i in 0..self.streams.len() {
            let len = self.streams.stream_len(i);
            // A random offset per epoch so window borders move.
            let off = if len > self.bptt + 1 {
                rng.random_range(0..self.bptt)
            } else {
                0
            };
            let n = self.n_windows(off, len);
            wins.extend((0..n).map(|k| (i as u32, (off + k * self.bptt) as u64)));
        }
        wins.shuffle(&mut rng);
        Plan::Shuffled(wins)
    }

    fn stateful_plan(&self, epoch: u64) -> Plan {
        let mut rng = epoch_rng(self.seed, epoch);
        let mut order: Vec<usize> = (0..self.streams.len()).collect();
        order.shuffle(&mut rng);
        // Cut the concatenation of streams (in this epoch's order) into `batch` equal parts;
        // each row walks its segments in order, a window at a time.
        let total = self.streams.total_tokens();
        let per_row = total / self.batch;
        let mut segs: Vec<Vec<(usize, usize, usize)>> = vec![Vec::new(); self.batch];
        let mut row = 0;
        let mut room = per_row;
        for &s in &order {
            let len = self.streams.stream_len(s);
            let mut pos = 0;
            while pos < len && row < self.batch {
                let take = room.min(len - pos);
                segs[row].push((s, pos, pos + take));
                pos += take;
                room -= take;
                if room == 0 {
                    row += 1;
                    room = per_row;
                }
            }
        }
        let n = segs
            .iter()
            .map(|r| {
                r.iter()
                    .map(|&(_, lo, hi)| self.n_windows(lo, hi))
                    .sum::<usize>()
            })
            .min()
            .unwrap_or(0);
        let rows = segs
            .into_iter()
            .map(|segs| Cursor {
                segs,
                seg: 0,
                next: None,
            })
            .collect();
        Plan::Stateful { rows, n }
    }
}

enum Plan {
    Shuffled(Vec<(u32, u64)>),
    Stateful { rows: Vec<Cursor>, n: usize },
}

/// A row's walk over its segments `(stream, lo, hi)`.
struct Cursor {
    segs: Vec<(usize, usize, usize)>,
    seg: usize,
    /// next window start in the current segment (None: at the segment's start)
    next: Option<usize>,
}

impl Cursor {
    /// The next window `(stream, start, starts_a_segment)`.
    fn advance(&mut self, bptt: usize) -> Option<(usize, usize, bool)> {
        loop {
            let &(s, lo, hi) = self.segs.get(self.seg)?;
            let (start, first) = match self.next {
                None => (lo, true),
                Some(p) => (p, false),
            };
            if start + bptt < hi {
                self.next = Some(start + bptt);
                return Some((s, start, first));
            }
            self.seg += 1;
            self.next = None;
        }
    }
}

/// The batches of one epoch of an [`LmBatcher`], made one at a time.
pub struct LmEpoch<'a> {
    b: &'a LmBatcher,
    plan: Plan,
    next: usize,
    n: usize,
}

impl Iterator for LmEpoch<'_> {
    type Item = LmBatch;

    fn next(&mut self) -> Option<LmBatch> {
        if self.next >= self.n {
            return None;
        }
        let i = self.next;
        self.next += 1;
        if i > 0 && i.is_multiple_of(RELEASE_EVERY) {
            self.b.streams.release();
        }
        let bs = self.b.batch;
        Some(match &mut self.plan {
            Plan::Shuffled(w) => self.b.make_batch(
                w[i * bs..(i + 1) * bs]
                    .iter()
                    .map(|&(s, p)| (s as usize, p as usize)),
                vec![true; bs],
            ),
            Plan::Stateful { rows, .. } => {
                let bptt = self.b.bptt;
                let picks: Vec<(usize, usize, bool)> = rows
                    .iter_mut()
                    .map(|r| r.advance(bptt).expect("every row has n windows"))
                    .collect();
                let reset = picks.iter().map(|p| p.2).collect();
                self.b
                    .make_batch(picks.into_iter().map(|(s, p, _)| (s, p)), reset)
            }
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.n - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for LmEpoch<'_> {}

/// Options for masked-LM masking.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MlmOptions {
    /// Fraction of tokens selected for prediction (0.15).
    pub mask_prob: f64,
    /// Of the selected: fraction replaced by `MASK` (0.8).
    pub mask_token_prob: f64,
    /// Of the selected: fraction replaced by a random k-mer (0.1); the rest stay as they are.
    pub random_token_prob: f64,
    /// Mask spans of this many consecutive tokens (use `k` for overlapping k-mers, so that
    /// neighbours do not give the masked token away, as DNABERT does).
    pub span: usize,
}

impl Default for MlmOptions {
    fn default() -> Self {
        Self {
            mask_prob: 0.15,
            mask_token_prob: 0.8,
            random_token_prob: 0.1,
            span: 1,
        }
    }
}

/// Mask a token sequence for MLM. Returns `(inputs, labels)`; labels are the original ids at
/// selected positions and [`IGNORE_INDEX`] elsewhere. Special tokens are never selected.
///
/// ```
/// use genolm::data::batch::{mask_tokens, MlmOptions, IGNORE_INDEX};
/// use rand::SeedableRng;
/// let ids: Vec<u32> = (5..1005).collect();
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
/// let (x, y) = mask_tokens(&ids, 1029, &MlmOptions::default(), &mut rng);
/// let selected = y.iter().filter(|&&l| l != IGNORE_INDEX).count();
/// assert!((100..200).contains(&selected));
/// assert!(x.iter().zip(&y).all(|(&xi, &yi)| yi == IGNORE_INDEX || xi == 4 || yi >= 0));
/// ```
pub fn mask_tokens(
    ids: &[u32],
    vocab_size: usize,
    opts: &MlmOptions,
    rng: &mut impl Rng,
) -> (Vec<u32>, Vec<i64>) {
    let mut x = ids.to_vec();
    let mut y = vec![IGNORE_INDEX; ids.len()];
    let span = opts.span.max(1);
    // Span starts are drawn so that the expected selected fraction is `mask_prob`.
    let start_prob = (opts.mask_prob / span as f64).min(1.0);
    let mut selected = vec![false; ids.len()];
    for i in 0..ids.len() {
        if rng.random_bool(start_prob) {
            for s in selected.iter_mut().skip(i).take(span) {
                *s = true;
            }
        }
    }
    for i in 0..ids.len() {
        if !selected[i] || ids[i] < N_SPECIAL {
            continue;
        }
        y[i] = ids[i] as i64;
        let r: f64 = rng.random();
        if r < opts.mask_token_prob {
            x[i] = Special::Mask as u32;
        } else if r < opts.mask_token_prob + opts.random_token_prob {
            x[i] = rng.random_range(N_SPECIAL..vocab_size as u32);
        }
    }
    (x, y)
}

/// A masked-LM batch: `x` and `labels` are `batch × seq_len`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct MlmBatch {
    /// Inputs with masking applied.
    pub x: Vec<u32>,
    /// Original ids at selected positions, [`IGNORE_INDEX`] elsewhere.
    pub labels: Vec<i64>,
    /// Rows.
    pub batch: usize,
    /// Tokens per row.
    pub seq_len: usize,
}

impl MlmBatch {
    /// `(x: u32, labels: i64)` tensors of shape `(batch, seq_len)`.
    pub fn to_tensors(&self, device: &Device) -> Result<(Tensor, Tensor)> {
        Ok((
            Tensor::from_slice(&self.x, (self.batch, self.seq_len), device)?,
            Tensor::from_slice(&self.labels, (self.batch, self.seq_len), device)?,
        ))
    }
}

/// Masked-LM batcher: shuffled windows of `seq_len` tokens, masked afresh each epoch.
#[derive(Debug, Clone)]
pub struct MlmBatcher {
    streams: TokenStreams,
    batch: usize,
    seq_len: usize,
    vocab_size: usize,
    opts: MlmOptions,
    seed: u64,
}

impl MlmBatcher {
    /// Windows of `seq_len` tokens from `streams` (a `Vec<Vec<u32>>` or [`TokenStreams`]),
    /// `batch` per batch.
    pub fn new(
        streams: impl Into<TokenStreams>,
        batch: usize,
        seq_len: usize,
        vocab_size: usize,
        opts: MlmOptions,
        seed: u64,
    ) -> Result<Self> {
        if batch == 0 || seq_len == 0 {
            return Err(Error::Config(
                "batch size and seq_len must be positive".into(),
            ));
        }
        Ok(Self {
            streams: streams.into(),
            batch,
            seq_len,
            vocab_size,
            opts,
            seed,
        })
    }

    /// The batches of one epoch.
    pub fn epoch(&self, epoch: u64) -> Vec<MlmBatch> {
        self.iter_epoch(epoch).collect()
    }

    /// The batches of one epoch, masked as they are taken (the same batches as
    /// [`epoch`](Self::epoch)).
    pub fn iter_epoch(&self, epoch: u64) -> MlmEpoch<'_> {
        let mut rng = epoch_rng(self.seed, epoch);
        let mut wins: Vec<(u32, u64)> = Vec::new();
        for i in 0..self.streams.len() {
            let len = self.streams.stream_len(i);
            let n = len / self.seq_len;
            wins.extend((0..n).map(|k| (i as u32, (k * self.seq_len) as u64)));
        }
        wins.shuffle(&mut rng);
        MlmEpoch {
            b: self,
            wins,
            rng,
            next: 0,
        }
    }
}

/// The batches of one epoch of an [`MlmBatcher`], made one at a time.
pub struct MlmEpoch<'a> {
    b: &'a MlmBatcher,
    wins: Vec<(u32, u64)>,
    rng: ChaCha8Rng,
    next: usize,
}

impl Iterator for MlmEpoch<'_> {
    type Item = MlmBatch;

    fn next(&mut self) -> Option<MlmBatch> {
        let (bs, t) = (self.b.batch, self.b.seq_len);
        let i = self.next;
        if (i + 1) * bs > self.wins.len() {
            return None;
        }
        self.next += 1;
        if i > 0 && i.is_multiple_of(RELEASE_EVERY) {
            self.b.streams.release();
        }
        let mut x = Vec::with_capacity(bs * t);
        let mut labels = Vec::with_capacity(bs * t);
        for &(s, p) in &self.wins[i * bs..(i + 1) * bs] {
            let p = p as usize;
            let (xi, yi) = mask_tokens(
                &self.b.streams.get(s as usize)[p..p + t],
                self.b.vocab_size,
                &self.b.opts,
                &mut self.rng,
            );
            x.extend(xi);
            labels.extend(yi);
        }
        Some(MlmBatch {
            x,
            labels,
            batch: bs,
            seq_len: t,
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.wins.len() / self.b.batch - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for MlmEpoch<'_> {}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stateful_rows_walk_in_order_and_reset_at_contigs() {
        let streams: Vec<Vec<u32>> = vec![
            (0..300).collect(),
            (10_000..10_200).collect(),
            (20_000..20_333).collect(),
        ];
        let b = LmBatcher::new(streams.clone(), 4, 10, true, 3).unwrap();
        let e = b.epoch(0);
        assert!(!e.is_empty());
        assert!(e[0].reset.iter().all(|&r| r));
        for w in e.windows(2) {
            for r in 0..4 {
                let prev_last = w[0].x[r * 10 + 9];
                let next_first = w[1].x[r * 10];
                if !w[1].reset[r] {
                    assert_eq!(next_first, prev_last + 1, "row {r} must continue");
                } else {
                    // A reset row starts a new piece of a contig.
                    assert_ne!(next_first, prev_last + 1);
                }
            }
        }
        // Deterministic per (seed, epoch), different across epochs.
        assert_eq!(b.epoch(1), b.epoch(1));
        assert_eq!(e, LmBatcher::new(streams, 4, 10, true, 3).unwrap().epoch(0));
        // Targets are the inputs shifted by one everywhere.
        for bt in &e {
            for i in 0..bt.x.len() {
                assert_eq!(bt.y[i], bt.x[i] + 1);
            }
        }
    }

    #[test]
    fn shuffled_lm_covers_without_crossing_streams() {
        let streams: Vec<Vec<u32>> = vec![(0..1000).collect(), (5000..5500).collect()];
        let b = LmBatcher::new(streams, 8, 16, false, 9).unwrap();
        let e = b.epoch(0);
        let n: usize = e.iter().map(|b| b.x.len()).sum();
        assert!(n > 1200, "{n}");
        for bt in &e {
            for i in 0..bt.x.len() {
                assert_eq!(bt.y[i], bt.x[i] + 1);
            }
        }
        assert_ne!(b.epoch(0), b.epoch(1));
    }

    #[test]
    fn classification_pads_at_start_and_sorts() {
        let items: Vec<(Vec<u32>, u32)> = (0..500)
            .map(|i| (vec![7u32; 5 + (i * 37) % 90], (i % 2) as u32))
            .collect();
        let b = ClassificationBatcher::new(items.clone(), 16, true, 5).unwrap();
        let e = b.epoch(0);
        let mut seen: Vec<usize> = e.iter().flat_map(|b| b.items.clone()).collect();
        seen.sort();
        assert_eq!(seen, (0..500).collect::<Vec<_>>());
        // Padding on the left.
        let bt = &e[1];
        for r in 0..bt.batch {
            let row = &bt.x[r * bt.seq_len..(r + 1) * bt.seq_len];
            let pad = bt.seq_len - bt.lengths[r];
            assert!(row[..pad].iter().all(|&t| t == 0) && row[pad..].iter().all(|&t| t == 7));
        }
        // Batches are tight: little padding overall.
        let padded: usize = e.iter().map(|b| b.batch * b.seq_len).sum();
        let real: usize = items.iter().map(|i| i.0.len()).sum();
        assert!((padded as f64) < real as f64 * 1.1, "{padded} vs {real}");
        // Longest batch first.
        let max_len = e.iter().map(|b| b.seq_len).max().unwrap();
        assert_eq!(e[0].seq_len, max_len);
    }

    #[test]
    fn mlm_specials_never_masked_and_span() {
        let ids: Vec<u32> = (0..2000)
            .map(|i| if i % 10 == 0 { 2 } else { 5 + i % 64 })
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let opts = MlmOptions {
            span: 3,
            ..Default::default()
        };
        let (_, y) = mask_tokens(&ids, 69, &opts, &mut rng);
        for i in 0..ids.len() {
            if ids[i] < N_SPECIAL {
                assert_eq!(y[i], IGNORE_INDEX);
            }
        }
        let frac = y.iter().filter(|&&l| l != IGNORE_INDEX).count() as f64 / ids.len() as f64;
        assert!((0.09..0.2).contains(&frac), "{frac}");
    }
}
