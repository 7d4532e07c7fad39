//! Causal-LM batches over contiguous BPTT windows, stateful or shuffled.

use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::Rng;

use super::{epoch_rng, RELEASE_EVERY};
use crate::data::streams::TokenStreams;
use crate::{Error, Result};

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
/// [token shards](crate::data::shards).
#[derive(Debug, Clone)]
pub struct LmBatcher {
    streams: TokenStreams,
    batch: usize,
    bptt: usize,
    stateful: bool,
    seed: u64,
}

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
                "{total} tokens are too few for one batch of {batch} × {bptt}: add genomes, \
                 or lower [data] batch_size or bptt"
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
            let n = n_windows(off, len, self.bptt);
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
                    .map(|&(_, lo, hi)| n_windows(lo, hi, self.bptt))
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

/// Number of windows `(start)` of `bptt + 1` tokens stepping `bptt` over `[lo, hi)`.
fn n_windows(lo: usize, hi: usize, bptt: usize) -> usize {
    if hi > lo + bptt {
        (hi - lo - bptt - 1) / bptt + 1
    } else {
        0
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
    /// Step over `m` windows without making them (a row's place `m` batches into the epoch).
    fn skip(&mut self, mut m: usize, bptt: usize) {
        while m > 0 {
            let Some(&(_, lo, hi)) = self.segs.get(self.seg) else {
                return;
            };
            let start = self.next.unwrap_or(lo);
            let left = n_windows(start, hi, bptt);
            if m < left {
                self.next = Some(start + m * bptt);
                return;
            }
            m -= left;
            self.seg += 1;
            self.next = None;
        }
    }

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

impl LmEpoch<'_> {
    /// Step over the next `m` batches without making them (or reading their tokens): the
    /// batches that follow are the ones the epoch would have given after `m` others.
    pub fn skip_batches(mut self, m: usize) -> Self {
        let m = m.min(self.n - self.next);
        if let Plan::Stateful { rows, .. } = &mut self.plan {
            for r in rows {
                r.skip(m, self.b.bptt);
            }
        }
        self.next += m;
        self
    }
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
