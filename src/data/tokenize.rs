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

use super::alphabet::{BASES, CODE};
use crate::{Error, Result};

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

/// Incremental k-mer encoder: feed a sequence in pieces (FASTA lines, streamed chunks) and
/// get exactly the tokens [`KmerTokenizer::encode`] gives for the concatenation.
///
/// ```
/// use genolm::data::tokenize::{KmerTokenizer, StreamEncoder};
/// let t = KmerTokenizer::new(3, 2).unwrap();
/// let mut enc = StreamEncoder::new(t);
/// let mut ids = Vec::new();
/// enc.push(b"ACGT", &mut ids).unwrap();
/// enc.push(b"TGCA", &mut ids).unwrap();
/// assert_eq!(ids, t.encode(b"ACGTTGCA"));
/// ```
#[derive(Debug, Clone)]
pub struct StreamEncoder {
    k: usize,
    stride: usize,
    mask: u64,
    code: u64,
    /// Bases seen so far in this sequence.
    seen: usize,
    /// Valid (unambiguous) bases at the end of the window.
    valid_run: usize,
    /// Bases until the next token is due (counts down to 0 at a token end).
    until_next: usize,
}

impl StreamEncoder {
    /// A fresh encoder for one sequence.
    pub fn new(t: KmerTokenizer) -> Self {
        Self {
            k: t.k,
            stride: t.stride,
            mask: (1u64 << (2 * t.k)) - 1,
            code: 0,
            seen: 0,
            valid_run: 0,
            until_next: t.k,
        }
    }

    /// Start a new sequence.
    pub fn reset(&mut self) {
        self.code = 0;
        self.seen = 0;
        self.valid_run = 0;
        self.until_next = self.k;
    }

    /// Feed bases; returns the offending byte if one is not a nucleotide letter (IUPAC,
    /// either case). Validation is fused into the encoding loop and costs nothing on clean input.
    #[inline]
    pub fn push(&mut self, seq: &[u8], out: &mut Vec<u32>) -> std::result::Result<(), u8> {
        match self.encode_chunk(seq, out) {
            None => Ok(()),
            Some(bad) => Err(bad),
        }
    }

    /// Feed bases without validation (invalid bytes count as ambiguous).
    #[inline]
    pub fn push_unchecked(&mut self, seq: &[u8], out: &mut Vec<u32>) {
        self.encode_chunk(seq, out);
    }

    /// The encoding loop; returns the first invalid byte, if any (it is encoded as ambiguous).
    #[inline]
    fn encode_chunk(&mut self, seq: &[u8], out: &mut Vec<u32>) -> Option<u8> {
        out.reserve(seq.len() / self.stride + 1);
        let (k, s, mask) = (self.k, self.stride, self.mask);
        let mut code = self.code;
        let mut valid_run = self.valid_run;
        let mut until_next = self.until_next;
        let mut bad: Option<u8> = None;
        for &b in seq {
            let c = CODE[b as usize];
            if c < 4 {
                code = ((code << 2) | c as u64) & mask;
                valid_run += 1;
            } else {
                if c == super::alphabet::INVALID && bad.is_none() {
                    bad = Some(b);
                }
                code = (code << 2) & mask;
                valid_run = 0;
            }
            until_next -= 1;
            if until_next == 0 {
                let id = if valid_run >= k {
                    N_SPECIAL + code as u32
                } else {
                    Special::Unk as u32
                };
                out.push(id);
                until_next = s;
            }
        }
        self.seen += seq.len();
        self.code = code;
        self.valid_run = valid_run;
        self.until_next = until_next;
        bad
    }

    /// Bases fed since the last reset.
    pub fn bases_seen(&self) -> usize {
        self.seen
    }
}

/// Tokenize every record of a FASTA/FASTQ file (plain, gzip, bgzip) in one streaming pass:
/// constant memory beyond the token output, with invalid letters reported by line.
/// Returns `(record name, token ids)` per record.
pub fn tokenize_file(
    path: impl AsRef<std::path::Path>,
    t: &KmerTokenizer,
) -> Result<Vec<(String, Vec<u32>)>> {
    let mut r = super::fasta::SeqReader::from_path(path, Default::default())?;
    let mut out = Vec::new();
    let mut enc = StreamEncoder::new(*t);
    while let Some(h) = r.next_header()? {
        enc.reset();
        let mut ids = Vec::new();
        let label = r.label().to_string();
        r.for_each_raw_line(|line, line_no| {
            enc.push(line, &mut ids).map_err(|b| {
                Error::parse(
                    &label,
                    line_no,
                    format!(
                        "invalid nucleotide '{}' in sequence",
                        (b as char).escape_default()
                    ),
                )
            })
        })?;
        out.push((h.name, ids));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

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
