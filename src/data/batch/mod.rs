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

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

mod classification;
mod lm;
mod mlm;

pub use classification::{ClassificationBatcher, ClsBatch};
pub use lm::{LmBatch, LmBatcher, LmEpoch};
pub use mlm::{mask_tokens, MlmBatch, MlmBatcher, MlmEpoch, MlmOptions};

/// Batches between two [`TokenStreams::release`](crate::data::streams::TokenStreams::release)
/// calls while walking mapped streams.
const RELEASE_EVERY: usize = 256;

/// Label value for positions that do not count in the loss (as PyTorch's `ignore_index`).
pub const IGNORE_INDEX: i64 = -100;

fn epoch_rng(seed: u64, epoch: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(
        seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
            ^ epoch.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::tokenize::N_SPECIAL;

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
    fn skipping_batches_lands_where_walking_does() {
        // contigs of uneven lengths, so skips cross segment borders inside rows
        let streams: Vec<Vec<u32>> = (0..7u32)
            .map(|c| (c * 10_000..c * 10_000 + 90 + 37 * c).collect())
            .collect();
        for stateful in [true, false] {
            let b = LmBatcher::new(streams.clone(), 3, 8, stateful, 5).unwrap();
            let all = b.epoch(2);
            for m in [0, 1, 4, all.len() - 1, all.len(), all.len() + 3] {
                let rest: Vec<LmBatch> = b.iter_epoch(2).skip_batches(m).collect();
                assert_eq!(
                    rest[..],
                    all[m.min(all.len())..],
                    "stateful {stateful}, skip {m}"
                );
            }
        }
        let m = MlmBatcher::new(streams, 2, 16, 80, MlmOptions::default(), 4).unwrap();
        let n = m.epoch(0).len();
        assert_eq!(m.iter_epoch(0).skip_batches(3).count(), n - 3);
        assert_eq!(m.iter_epoch(0).skip_batches(n + 1).count(), 0);
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
