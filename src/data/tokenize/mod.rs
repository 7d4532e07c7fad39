//! Tokenization: overlapping or strided k-mers (seed 003 §1) and single nucleotides, with
//! special tokens.
//!
//! Ids `0..N_SPECIAL` are the specials ([`Special`]); k-mer `w` has id
//! `N_SPECIAL + code(w)` where `code` reads the k-mer as a base-4 number with `A=0, C=1,
//! G=2, T=3` (so ids sort like the strings). The vocabulary has `4^k + N_SPECIAL` entries, and
//! a sequence of length `L` gives `floor((L-k)/s) + 1` tokens. A k-mer that contains an
//! ambiguous base (`N`, `R`, …) becomes `UNK`.
//!
//! ```
//! use genolm::data::tokenize::{KmerTokenizer, Special};
//! let t = KmerTokenizer::new(4, 2).unwrap();
//! let ids = t.encode(b"ATCGCGTACGATCCG");
//! assert_eq!(ids.len(), (15 - 4) / 2 + 1);
//! assert_eq!(t.token_str(ids[0]), "ATCG");
//! assert_eq!(t.decode(&ids), b"ATCGCGTACGATCC".to_vec()); // truncated to the last whole k-mer
//! assert_eq!(t.encode(b"ANGT")[0], Special::Unk as u32);
//! assert_eq!(t.vocab_size(), 256 + 5);
//! ```

use serde::{Deserialize, Serialize};

use super::alphabet::BASES;
use crate::{Error, Result};

mod encoder;
mod file;
mod simd;
pub(crate) use encoder::SliceSink;
pub use encoder::StreamEncoder;
pub use file::tokenize_file;

/// Special tokens, with their ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u32)]
pub enum Special {
    /// Padding (classification batches are padded at the start).
    Pad = 0,
    /// Unknown: a k-mer with an ambiguous base.
    Unk = 1,
    /// Start-of-sequence / classification token.
    Cls = 2,
    /// Separator / end of sequence.
    Sep = 3,
    /// Masked-LM mask token.
    Mask = 4,
}

/// Number of special tokens.
pub const N_SPECIAL: u32 = 5;

impl Special {
    /// All specials in id order.
    pub const ALL: [Special; 5] = [
        Special::Pad,
        Special::Unk,
        Special::Cls,
        Special::Sep,
        Special::Mask,
    ];
    /// Display form, e.g. `<pad>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Special::Pad => "<pad>",
            Special::Unk => "<unk>",
            Special::Cls => "<cls>",
            Special::Sep => "<sep>",
            Special::Mask => "<mask>",
        }
    }
}

/// The "informed random" cross-entropy `ln(4^s)` of seed 003 §5.7: the loss a language model
/// reaches by exploiting only the overlap prior of stride `s`. Evaluate models by their
/// improvement over it.
///
/// ```
/// let l = genolm::data::tokenize::informed_random_loss(1);
/// assert!((l - 1.386).abs() < 1e-3);
/// ```
pub fn informed_random_loss(stride: usize) -> f64 {
    stride as f64 * 4f64.ln()
}

/// k-mer tokenizer with stride. `k = 1, s = 1` is single-nucleotide tokenization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KmerTokenizer {
    /// k-mer length (1..=15).
    pub k: usize,
    /// Step between consecutive k-mers (≥ 1).
    pub stride: usize,
}

impl Default for KmerTokenizer {
    fn default() -> Self {
        Self { k: 3, stride: 1 }
    }
}

impl KmerTokenizer {
    /// A tokenizer for k-mers of length `k` taken every `stride` bases.
    pub fn new(k: usize, stride: usize) -> Result<Self> {
        let t = Self { k, stride };
        t.validate()?;
        Ok(t)
    }

    /// Single-nucleotide tokens.
    pub fn nucleotide() -> Self {
        Self { k: 1, stride: 1 }
    }

    /// Check `k` and `stride` are usable.
    pub fn validate(&self) -> Result<()> {
        if self.k == 0 || self.k > 15 {
            return Err(Error::Config(format!(
                "k-mer length must be 1..=15, got {}",
                self.k
            )));
        }
        if self.stride == 0 {
            return Err(Error::Config("stride must be at least 1".into()));
        }
        Ok(())
    }

    /// Vocabulary size: `4^k` k-mers plus the specials.
    pub fn vocab_size(&self) -> usize {
        (1usize << (2 * self.k)) + N_SPECIAL as usize
    }

    /// Number of tokens for a sequence of `len` bases: `floor((len-k)/s) + 1`, or 0.
    pub fn n_tokens(&self, len: usize) -> usize {
        if len < self.k {
            0
        } else {
            (len - self.k) / self.stride + 1
        }
    }

    /// Bases covered by `n` tokens: `k + (n-1)·s`.
    pub fn n_bases(&self, n_tokens: usize) -> usize {
        if n_tokens == 0 {
            0
        } else {
            self.k + (n_tokens - 1) * self.stride
        }
    }

    /// Encode a sequence (any case; ambiguous bases give `UNK`).
    pub fn encode(&self, seq: &[u8]) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.n_tokens(seq.len()));
        let mut enc = StreamEncoder::new(*self);
        // Validity is not enforced here: non-nucleotide bytes count as ambiguous.
        enc.push_unchecked(seq, &mut out);
        out
    }

    /// Encode into an existing buffer (appends).
    pub fn encode_into(&self, seq: &[u8], out: &mut Vec<u32>) {
        let mut enc = StreamEncoder::new(*self);
        enc.push_unchecked(seq, out);
    }

    /// The string of one token id (`<unk>` etc. for specials).
    pub fn token_str(&self, id: u32) -> String {
        if id < N_SPECIAL {
            return Special::ALL[id as usize].as_str().to_string();
        }
        String::from_utf8(self.kmer_bases(id).unwrap_or_default()).expect("ascii")
    }

    /// The bases of a k-mer id, `None` for specials and out-of-range ids.
    pub fn kmer_bases(&self, id: u32) -> Option<Vec<u8>> {
        if id < N_SPECIAL || id as usize >= self.vocab_size() {
            return None;
        }
        let code = (id - N_SPECIAL) as usize;
        Some(
            (0..self.k)
                .map(|i| BASES[(code >> (2 * (self.k - 1 - i))) & 3])
                .collect(),
        )
    }

    /// Decode ids back to bases. Consecutive k-mers overlap by `k - s`; with `s > k` the
    /// skipped bases are unknown and come back as `N`, as do `UNK` tokens. Specials other
    /// than `UNK` are skipped. For `s ≤ k`, `decode(encode(x))` is `x` truncated to the last
    /// whole k-mer (when `x` has no ambiguous bases).
    pub fn decode(&self, ids: &[u32]) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::with_capacity(self.n_bases(ids.len()));
        let mut first = true;
        for &id in ids {
            if id < N_SPECIAL && id != Special::Unk as u32 {
                continue;
            }
            let bases = self.kmer_bases(id).unwrap_or_else(|| vec![b'N'; self.k]);
            if first {
                out.extend_from_slice(&bases);
                first = false;
            } else if self.stride <= self.k {
                out.extend_from_slice(&bases[self.k - self.stride..]);
            } else {
                out.extend(std::iter::repeat_n(b'N', self.stride - self.k));
                out.extend_from_slice(&bases);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::encoder::all_acgt;
    use super::*;
    use crate::data::alphabet::CODE;

    fn naive(t: &KmerTokenizer, s: &[u8]) -> Vec<u32> {
        let n = t.n_tokens(s.len());
        (0..n)
            .map(|i| {
                let w = &s[i * t.stride..i * t.stride + t.k];
                if w.iter().all(|&b| CODE[b as usize] < 4) {
                    N_SPECIAL + w.iter().fold(0u32, |a, &b| a * 4 + CODE[b as usize] as u32)
                } else {
                    Special::Unk as u32
                }
            })
            .collect()
    }

    #[test]
    fn matches_naive_and_seed_example() {
        let seq = b"ATCGCGTACGATCCGNNACGTAGGCTAGCTAGGATCGATCGAAAAAAAAATTTTN";
        for k in 1..=6 {
            for s in 1..=7 {
                let t = KmerTokenizer::new(k, s).unwrap();
                assert_eq!(t.encode(seq), naive(&t, seq), "k={k} s={s}");
                assert_eq!(t.encode(seq).len(), t.n_tokens(seq.len()));
                // Streaming in odd pieces gives the same.
                let mut enc = StreamEncoder::new(t);
                let mut ids = Vec::new();
                for piece in seq.chunks(3) {
                    enc.push(piece, &mut ids).unwrap();
                }
                assert_eq!(ids, t.encode(seq));
            }
        }
        // Seed 003 §1.1: stride examples.
        let t = KmerTokenizer::new(4, 3).unwrap();
        let toks: Vec<String> = t
            .encode(b"ATCGCGTACGATCCG")
            .iter()
            .map(|&i| t.token_str(i))
            .collect();
        assert_eq!(toks, ["ATCG", "GCGT", "TACG", "GATC"]);
    }

    #[test]
    fn clean_fast_path_matches_naive() {
        // Long pseudo-random sequences in either case, with rare ambiguous and invalid bytes,
        // fed in pieces of varying length: the branch-free loop for clean pieces must give the
        // general loop's tokens in every state it can start from.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..40 {
            let len = 50 + (next() % 900) as usize;
            let seq: Vec<u8> = (0..len)
                .map(|_| match next() % 200 {
                    // Every fourth round clean throughout, so whole sequences take the clean
                    // loop (and its AVX-512 blocks) too, not only the pieces.
                    0 if round % 4 != 3 => b'N',
                    1 if round % 2 == 0 => b'R',
                    r => b"ACGTacgt"[(r % 8) as usize],
                })
                .collect();
            for k in [1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15] {
                for s in [1, 2, 3, 4, 7, 9, 16, 48] {
                    let t = KmerTokenizer::new(k, s).unwrap();
                    let want = naive(&t, &seq);
                    assert_eq!(t.encode(&seq), want, "round {round} k={k} s={s}");
                    let mut enc = StreamEncoder::new(t);
                    let mut ids = Vec::new();
                    let mut at = 0;
                    while at < seq.len() {
                        let n = (1 + next() % 90) as usize;
                        let end = (at + n).min(seq.len());
                        enc.push(&seq[at..end], &mut ids).unwrap();
                        at = end;
                    }
                    assert_eq!(ids, want, "pieces: round {round} k={k} s={s}");
                }
            }
        }
        assert!(all_acgt(b"ACGTacgt") && !all_acgt(b"ACGTN") && !all_acgt(b"acgu"));
    }

    #[test]
    fn tokenize_file_blocks_records_and_names_bad_lines() {
        use std::io::Write;
        // Two records longer than the encoding block, 70-base lines, an N run in the first,
        // lower case in the second, and a CRLF file: the same tokens as whole-record encoding.
        let mut x = 7u64;
        let mut base = move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            b"ACGTacgt"[(x >> 61) as usize]
        };
        let a: Vec<u8> = (0..150_000)
            .map(|i| {
                if (70_000..70_009).contains(&i) {
                    b'N'
                } else {
                    base()
                }
            })
            .collect();
        let b: Vec<u8> = (0..80_001).map(|_| base()).collect();
        let mut text = Vec::new();
        for (name, seq) in [("a", &a), ("b", &b)] {
            text.extend_from_slice(format!(">{name} some description\r\n").as_bytes());
            for line in seq.chunks(70) {
                text.extend_from_slice(line);
                text.extend_from_slice(b"\r\n");
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("two.fa");
        std::fs::write(&plain, &text).unwrap();
        let gz = dir.path().join("two.fa.gz");
        let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        w.write_all(&text).unwrap();
        std::fs::write(&gz, w.finish().unwrap()).unwrap();
        for (k, s) in [(3, 1), (6, 1), (6, 3), (1, 1), (15, 2)] {
            let t = KmerTokenizer::new(k, s).unwrap();
            for path in [&plain, &gz] {
                let got = tokenize_file(path, &t).unwrap();
                assert_eq!(got.len(), 2);
                assert_eq!((got[0].0.as_str(), got[1].0.as_str()), ("a", "b"));
                assert_eq!(got[0].1, naive(&t, &a), "k={k} s={s}");
                assert_eq!(got[1].1, naive(&t, &b), "k={k} s={s}");
            }
        }
        // An invalid letter deep in the second record: the error names its line.
        let mut bad = text.clone();
        let line_of_bad = 1 + a.len().div_ceil(70) + 1 + 1000; // header a, a's lines, header b
        let at = bad
            .split(|&c| c == b'\n')
            .take(line_of_bad - 1)
            .map(|l| l.len() + 1)
            .sum::<usize>()
            + 17;
        bad[at] = b'J';
        std::fs::write(&plain, &bad).unwrap();
        let err = tokenize_file(&plain, &KmerTokenizer::new(3, 1).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(&format!(":{line_of_bad}")) && err.contains("'J'"),
            "{err}"
        );
    }

    #[test]
    fn round_trips() {
        let seq = b"ATCGCGTACGATCCGTTAGGCATCGA";
        for k in 1..=6 {
            for s in 1..=k {
                let t = KmerTokenizer::new(k, s).unwrap();
                let ids = t.encode(seq);
                let dec = t.decode(&ids);
                assert_eq!(dec, seq[..t.n_bases(ids.len())].to_vec(), "k={k} s={s}");
            }
        }
        let t = KmerTokenizer::new(2, 3).unwrap();
        assert_eq!(t.decode(&t.encode(b"ACGTAC")), b"ACNTA".to_vec());
        assert!(KmerTokenizer::new(0, 1).is_err() && KmerTokenizer::new(3, 0).is_err());
        assert!(KmerTokenizer::new(16, 1).is_err());
    }
}
