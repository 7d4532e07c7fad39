//! Masked-LM batches: BERT's masking of 15 % of the tokens.

use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{epoch_rng, IGNORE_INDEX, RELEASE_EVERY};
use crate::data::streams::TokenStreams;
use crate::data::tokenize::{Special, N_SPECIAL};
use crate::{Error, Result};

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

impl MlmEpoch<'_> {
    /// Step over the next `m` batches without masking them (or reading their tokens); the
    /// batches after them are masked with the epoch's random stream from here on.
    pub fn skip_batches(mut self, m: usize) -> Self {
        self.next = (self.next + m).min(self.wins.len() / self.b.batch);
        self
    }
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
