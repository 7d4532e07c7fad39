//! The non-neural floor of the benchmark: an interpolated k-th order Markov chain over bases,
//! fitted on the training genomes (both strands).
//!
//! `p_o(b | c_o) = (n(c_o, b) + β · p_{o−1}(b | c_{o−1})) / (n(c_o) + β)` with `β = 4`, down to
//! a uniform order −1; contexts that run into an ambiguous base or the start of a sequence use
//! the longest clean suffix. It scores exactly the bases a model's tokens add, so LM losses are
//! comparable token for token (see [`MarkovModel::token_logp`]).
//!
//! ```
//! use genolm::bench::markov::MarkovModel;
//! let seq = b"ACGTACGTACGTACGTACGTACGT".repeat(20);
//! let m = MarkovModel::fit([seq.as_slice()], 3, false)?;
//! let p = m.base_probs(b"ACGTACG", 7);          // what follows ACGTACG?
//! assert!(p[3] > 0.9);                          // T, always
//! # Ok::<(), genolm::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::data::alphabet::{base_index, revcomp};
use crate::{Error, Result};

pub use crate::data::alphabet::BASES;

/// Base code 0..4 for A, C, G, T (either case; [`base_index`]), 4 for anything else: the
/// chain's "unknown" context symbol.
#[inline]
pub fn code(b: u8) -> usize {
    base_index(b).unwrap_or(4)
}

/// An interpolated Markov chain of order `order` over A, C, G, T.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkovModel {
    /// Order (bases of context).
    pub order: usize,
    /// Prior strength of the interpolation.
    pub beta: f64,
    /// `counts[o][ctx * 4 + b]` for orders `0..=order`.
    counts: Vec<Vec<u32>>,
    /// Bases counted.
    pub n_bases: u64,
}

impl MarkovModel {
    /// Count `(context, base)` pairs of every order in `seqs` (and their reverse complements
    /// when `both_strands`).
    pub fn fit<'a>(
        seqs: impl IntoIterator<Item = &'a [u8]>,
        order: usize,
        both_strands: bool,
    ) -> Result<Self> {
        if order > 12 {
            return Err(Error::Config(format!(
                "Markov order {order} is too large (at most 12: 4^13 counts)"
            )));
        }
        let mut counts: Vec<Vec<u32>> =
            (0..=order).map(|o| vec![0u32; 4usize << (2 * o)]).collect();
        let mut n_bases = 0u64;
        let mut add = |s: &[u8], counts: &mut Vec<Vec<u32>>| {
            // rolling context of clean bases
            let mut ctx = 0usize;
            let mut clean = 0usize;
            for &b in s {
                let c = code(b);
                if c == 4 {
                    clean = 0;
                    ctx = 0;
                    continue;
                }
                for (o, table) in counts.iter_mut().enumerate() {
                    if clean >= o {
                        let mask = (1usize << (2 * o)) - 1;
                        table[((ctx & mask) << 2) | c] += 1;
                    }
                }
                n_bases += 1;
                ctx = (ctx << 2) | c;
                clean += 1;
            }
        };
        for s in seqs {
            add(s, &mut counts);
            if both_strands {
                add(&revcomp(s), &mut counts);
            }
        }
        if n_bases == 0 {
            return Err(Error::Input(
                "no unambiguous bases to fit a Markov model on".into(),
            ));
        }
        Ok(MarkovModel {
            order,
            beta: 4.0,
            counts,
            n_bases,
        })
    }

    /// `p(b | preceding bases of seq[..i])` for the four bases (only `seq[..i]` is read).
    pub fn base_probs(&self, seq: &[u8], i: usize) -> [f64; 4] {
        // the longest clean context ending at i
        let mut ctx = 0usize;
        let mut o = 0usize;
        while o < self.order && o < i {
            let c = code(seq[i - 1 - o]);
            if c == 4 {
                break;
            }
            ctx |= c << (2 * o);
            o += 1;
        }
        let mut p = [0.25f64; 4];
        for oo in 0..=o {
            let cx = ctx & ((1usize << (2 * oo)) - 1);
            let row = &self.counts[oo][cx << 2..(cx << 2) + 4];
            let n: f64 = row.iter().map(|&v| v as f64).sum();
            for b in 0..4 {
                p[b] = (row[b] as f64 + self.beta * p[b]) / (n + self.beta);
            }
        }
        p
    }

    /// `ln p(seq[i] | seq[..i])`; `None` for an ambiguous base.
    pub fn log_prob(&self, seq: &[u8], i: usize) -> Option<f64> {
        let c = code(seq[i]);
        (c < 4).then(|| self.base_probs(seq, i)[c].ln())
    }

    /// The bases a token adds to what came before: token `j` of a `(k, stride)` tokenization
    /// covers `[j·s, j·s + k)`; the bases before `max((j−1)·s + k, j·s)` were covered by token
    /// `j − 1` (all `k` bases for token 0).
    pub fn new_bases(j: usize, k: usize, stride: usize) -> std::ops::Range<usize> {
        let end = j * stride + k;
        let start = if j == 0 {
            0
        } else {
            ((j - 1) * stride + k).max(j * stride)
        };
        start..end
    }

    /// The Markov score of token `j` of `seq` under a `(k, stride)` tokenization: the summed
    /// log-probability of the bases it adds, and whether the greedy base-by-base prediction
    /// gets all of them right. `None` when a base is ambiguous or past the end.
    pub fn token_logp(&self, seq: &[u8], j: usize, k: usize, stride: usize) -> Option<(f64, bool)> {
        token_sum(seq.len(), j, k, stride, |i| {
            let c = code(seq[i]);
            if c == 4 {
                return None;
            }
            let p = self.base_probs(seq, i);
            Some((p[c].ln(), argmax4(&p) == c))
        })
    }

    /// Log-likelihood of `seq[from..to]` given everything before it (ambiguous bases skipped).
    pub fn span_logp(&self, seq: &[u8], from: usize, to: usize) -> f64 {
        (from..to.min(seq.len()))
            .filter_map(|i| self.log_prob(seq, i))
            .sum()
    }
}

/// A full-order context and each expert's prediction in it.
type Experts = (usize, [[f64; 4]; N_EXPERTS]);

const N_EXPERTS: usize = AdaptiveMarkov::BETAS.len();

/// The chain of a [`MarkovModel`] that keeps counting as it reads: the non-neural
/// counterpart of dynamic evaluation ([`crate::infer::adaptive_token_scores`]). Every base
/// read is counted in a table of its own (order-`order` contexts), and the prediction for a
/// context blends what was read so far with the fixed chain as a prior of strength `β`:
/// `p_β(b | c) = (m(c, b) + β · p(b | c)) / (m(c) + β)`. No `β` is chosen by hand: the chain
/// is a Bayesian mixture of the experts `β ∈` [`BETAS`](Self::BETAS) (∞ is the fixed chain
/// itself), each weighted by how well it has predicted so far, so it does about as well as the
/// best of them in hindsight (at most `ln 6` nats worse over a whole sequence) and never much
/// worse than the fixed chain. Bases whose context is shorter than the order (the start of a
/// sequence, after an ambiguous base) get the fixed chain's prediction and are not counted.
///
/// ```
/// use genolm::bench::markov::{AdaptiveMarkov, MarkovModel};
/// let train = b"ACGTTGCA".repeat(50);
/// let fixed = MarkovModel::fit([train.as_slice()], 3, true)?;
/// let novel = b"AAACCCGGGTTT".repeat(40); // nothing like the training sequence
/// let mut chain = AdaptiveMarkov::new(&fixed);
/// let (mut a, mut f) = (0.0, 0.0);
/// for i in 0..novel.len() {
///     a += chain.read(&novel, i).unwrap().0;
///     f += fixed.log_prob(&novel, i).unwrap();
/// }
/// assert!(a > f + 100.0); // it learned the new sequence as it read it
/// # Ok::<(), genolm::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct AdaptiveMarkov<'a> {
    fixed: &'a MarkovModel,
    counts: Vec<u32>,
    log_w: [f64; N_EXPERTS],
}

impl<'a> AdaptiveMarkov<'a> {
    /// Prior strengths of the mixture's experts (∞: the fixed chain).
    pub const BETAS: [f64; 6] = [4.0, 16.0, 64.0, 256.0, 1024.0, f64::INFINITY];

    /// A chain that has read nothing yet: it predicts as `fixed` does.
    pub fn new(fixed: &'a MarkovModel) -> Self {
        AdaptiveMarkov {
            fixed,
            counts: vec![0; 4usize << (2 * fixed.order)],
            log_w: [-(N_EXPERTS as f64).ln(); N_EXPERTS],
        }
    }

    /// The full-order context of position `i` (`None` when shorter than the order).
    fn context(&self, seq: &[u8], i: usize) -> Option<usize> {
        let o = self.fixed.order;
        if i < o {
            return None;
        }
        let mut ctx = 0usize;
        for &b in &seq[i - o..i] {
            let c = code(b);
            if c == 4 {
                return None;
            }
            ctx = (ctx << 2) | c;
        }
        Some(ctx)
    }

    /// The mixture's `p(b | seq[..i])` for the four bases, and each expert's.
    fn predict(&self, seq: &[u8], i: usize) -> ([f64; 4], Option<Experts>) {
        let p0 = self.fixed.base_probs(seq, i);
        let Some(ctx) = self.context(seq, i) else {
            return (p0, None);
        };
        let row = &self.counts[ctx << 2..(ctx << 2) + 4];
        let m: f64 = row.iter().map(|&v| v as f64).sum();
        let max = self.log_w.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let w = self.log_w.map(|l| (l - max).exp());
        let wsum: f64 = w.iter().sum();
        let mut mix = [0.0; 4];
        let mut experts = [p0; N_EXPERTS];
        for ((p, &beta), &wk) in experts.iter_mut().zip(&Self::BETAS).zip(&w) {
            if beta.is_finite() {
                for b in 0..4 {
                    p[b] = (row[b] as f64 + beta * p0[b]) / (m + beta);
                }
            }
            for b in 0..4 {
                mix[b] += wk / wsum * p[b];
            }
        }
        (mix, Some((ctx, experts)))
    }

    /// `ln p(seq[i] | seq[..i])` and whether the most probable base was right; then the
    /// chain learns from `seq[i]`. `None` for an ambiguous base (nothing is learned).
    pub fn read(&mut self, seq: &[u8], i: usize) -> Option<(f64, bool)> {
        let c = code(seq[i]);
        if c == 4 {
            return None;
        }
        let (p, experts) = self.predict(seq, i);
        if let Some((ctx, experts)) = experts {
            for (l, e) in self.log_w.iter_mut().zip(&experts) {
                *l += e[c].ln();
            }
            let max = self.log_w.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            self.log_w.iter_mut().for_each(|l| *l -= max);
            self.counts[(ctx << 2) | c] += 1;
        }
        Some((p[c].ln(), argmax4(&p) == c))
    }

    /// [`MarkovModel::token_logp`] read this way: the bases token `j` adds, each scored and
    /// then learned. `None` when a base is ambiguous or past the end (the clean bases before
    /// an ambiguous one are still learned).
    pub fn read_token(
        &mut self,
        seq: &[u8],
        j: usize,
        k: usize,
        stride: usize,
    ) -> Option<(f64, bool)> {
        token_sum(seq.len(), j, k, stride, |i| self.read(seq, i))
    }

    /// Posterior weight of each expert of [`BETAS`](Self::BETAS) after what was read.
    pub fn weights(&self) -> Vec<f64> {
        let w: Vec<f64> = self.log_w.iter().map(|l| l.exp()).collect();
        let s: f64 = w.iter().sum();
        w.iter().map(|x| x / s).collect()
    }
}

/// Token `j`'s score from its bases' (`MarkovModel::new_bases`): the summed log-probability
/// and whether every base was predicted right; `None` past the end or when a base is.
fn token_sum(
    len: usize,
    j: usize,
    k: usize,
    stride: usize,
    mut base: impl FnMut(usize) -> Option<(f64, bool)>,
) -> Option<(f64, bool)> {
    let r = MarkovModel::new_bases(j, k, stride);
    if r.end > len {
        return None;
    }
    let (mut lp, mut ok) = (0.0, true);
    for i in r {
        let (l, o) = base(i)?;
        lp += l;
        ok &= o;
    }
    Some((lp, ok))
}

/// Index of the largest of four values (the first on ties).
pub fn argmax4(p: &[f64; 4]) -> usize {
    let mut best = 0;
    for b in 1..4 {
        if p[b] > p[best] {
            best = b;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probabilities_sum_to_one_and_follow_counts() {
        let m = MarkovModel::fit([b"AAAAAAAC".as_slice()], 1, false).unwrap();
        for i in 0..8 {
            let p = m.base_probs(b"AAAAAAAC", i);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        // hand computation, order 0: n = 8 (7 A, 1 C); p0(A) = (7 + 4·0.25)/(8 + 4) = 8/12
        let p0 = m.base_probs(b"", 0);
        assert!((p0[0] - 8.0 / 12.0).abs() < 1e-12);
        // order 1 after A: 6 × A→A, 1 × A→C; p(A|A) = (6 + 4·8/12)/(7 + 4)
        let p1 = m.base_probs(b"A", 1);
        assert!((p1[0] - (6.0 + 4.0 * 8.0 / 12.0) / 11.0).abs() < 1e-12);
    }

    #[test]
    fn new_bases_cover_each_base_once() {
        for (k, s) in [(1, 1), (3, 1), (3, 3), (6, 2), (4, 3)] {
            let mut covered = [0; 40];
            let n_tok = (40 - k) / s + 1;
            for j in 0..n_tok {
                for i in MarkovModel::new_bases(j, k, s) {
                    covered[i] += 1;
                }
            }
            let last = (n_tok - 1) * s + k;
            assert!(covered[..last].iter().all(|&c| c == 1), "k {k} s {s}");
        }
    }

    #[test]
    fn the_adaptive_chain_starts_as_the_fixed_one_and_sums_to_one() {
        let m = MarkovModel::fit([b"ACGGTACCATTGACGT".repeat(8).as_slice()], 2, true).unwrap();
        let seq = b"TTTTTTTTTTTTTTTTTTTTGGGGGGGGGGGG";
        let mut a = AdaptiveMarkov::new(&m);
        // first base with a full context: nothing counted yet, so every expert is the fixed chain
        let (lp, _) = a.read(seq, 2).unwrap();
        assert!((lp - m.log_prob(seq, 2).unwrap()).abs() < 1e-12);
        for i in 3..seq.len() {
            let (p, _) = a.predict(seq, i);
            assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            a.read(seq, i).unwrap();
        }
        // after a run of T, T after TT is far more likely than the fixed chain says
        let (p, _) = a.predict(b"TTT", 3);
        assert!(p[3] > m.base_probs(b"TTT", 3)[3] + 0.3);
        let w = a.weights();
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        assert!(w[0] > w[5], "the most adaptive expert leads: {w:?}");
        assert!(a.read(b"ANA", 1).is_none());
    }

    #[test]
    fn ambiguous_bases_cut_contexts() {
        let m = MarkovModel::fit([b"ACGTNACGT".as_slice()], 2, true).unwrap();
        assert_eq!(m.n_bases, 16);
        assert!(m.log_prob(b"ACN", 2).is_none());
        let p = m.base_probs(b"NA", 2); // only the order-1 context "A" is clean
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }
}
