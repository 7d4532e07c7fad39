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

mod file;
mod simd;
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

    /// [`push`](Self::push) into a slice sized beforehand (the parallel tokenizer's pieces).
    pub(crate) fn push_slice(
        &mut self,
        seq: &[u8],
        out: &mut SliceSink<'_>,
    ) -> std::result::Result<(), u8> {
        match self.encode_chunk(seq, out) {
            None => Ok(()),
            Some(bad) => Err(bad),
        }
    }

    /// An encoder in the state it has after `seen` bases of which the last are unknown:
    /// feeding it the `k - 1` bases before a piece of a sequence (their tokens discarded)
    /// makes it give exactly the piece's tokens of the whole sequence.
    pub(crate) fn at_offset(t: KmerTokenizer, seen: usize) -> Self {
        let mut e = Self::new(t);
        e.seen = seen;
        e.until_next = if seen < t.k {
            t.k - seen
        } else {
            t.stride - (seen - t.k) % t.stride
        };
        e
    }

    /// Feed bases without validation (invalid bytes count as ambiguous).
    #[inline]
    pub fn push_unchecked(&mut self, seq: &[u8], out: &mut Vec<u32>) {
        self.encode_chunk(seq, out);
    }

    /// The encoding loop; returns the first invalid byte, if any (it is encoded as ambiguous).
    ///
    /// A chunk made only of `ACGTacgt` (checked 32 bytes at a time, which the compiler
    /// vectorises) takes a branch-free loop once the window is full and a token was just
    /// emitted; anything else (ambiguity codes, invalid bytes, the first bases of a record)
    /// goes through the general loop, which gives the same tokens.
    #[inline]
    fn encode_chunk<S: Sink>(&mut self, seq: &[u8], out: &mut S) -> Option<u8> {
        if !all_acgt(seq) {
            return self.encode_general(seq, out);
        }
        // Warm up with the general loop until the window holds k valid bases and a token was
        // just emitted (at most k - 1 + stride bases).
        let warm = self.until_aligned().min(seq.len());
        self.encode_general(&seq[..warm], out);
        let rest = &seq[warm..];
        let s = self.stride;
        let whole = rest.len() / s * s;
        self.encode_clean(&rest[..whole], out);
        self.encode_general(&rest[whole..], out);
        None
    }

    /// Bases the general loop must take before the clean loop can start: until the window
    /// holds `k` valid bases and a token has just been emitted.
    fn until_aligned(&self) -> usize {
        let need_valid = self.k.saturating_sub(self.valid_run);
        // After `m` more bases a token has just been emitted when `m = until_next + j·stride`
        // (or `m = 0` when one was emitted last); the first such `m ≥ need_valid` is where the
        // clean loop can take over.
        let mut m = if self.until_next == self.stride {
            0
        } else {
            self.until_next
        };
        while m < need_valid {
            m += self.stride;
        }
        m
    }

    /// Clean `ACGTacgt` bases, a whole number of strides, with the state aligned (the window
    /// is full and a token was just emitted): one token per `stride` bases, no branches.
    #[inline]
    fn encode_clean<S: Sink>(&mut self, seq: &[u8], out: &mut S) {
        let s = self.stride;
        let n = seq.len() / s;
        if n == 0 {
            return;
        }
        let dst = &mut out.spare(n)[..n];
        let mask = self.mask;
        let mut code = self.code;
        if s == 1 {
            // Sixteen k-mers at a time where the CPU has AVX-512 (2.6–3.6× the scalar loop in
            // cache at k = 6 and 3); then, or elsewhere, one table load, a shift-add (`lea`), a
            // mask and a store per base. (The same k passes written as portable Rust over
            // arrays were no faster than the scalar loop: LLVM does not vectorise them well.)
            let mut done = 0;
            #[cfg(target_arch = "x86_64")]
            if n >= 16 && crate::cpu::has_avx512() {
                // SAFETY: AVX-512F is present, 1 <= k <= 15 (`KmerTokenizer::new`), `seq` is
                // only ACGTacgt (the caller checked), and `dst` has `n = seq.len()` slots.
                done = unsafe { simd::clean_stride1(seq, self.k, code, dst) };
                // The window after those bases: the last k of them (k <= 15 < 16 <= done).
                code = seq[done - self.k..done]
                    .iter()
                    .fold(0, |c, &b| (c << 2) | CODE[b as usize] as u64);
            }
            for (d, &b) in dst[done..].iter_mut().zip(&seq[done..]) {
                code = (code << 2) | CODE[b as usize] as u64;
                d.write(N_SPECIAL + (code & mask) as u32);
            }
        } else {
            // Longer strides: the AVX-512 stride-1 ids of blocks of `lcm(16, s)` bases into a
            // buffer in L1, every `s`-th kept (token `j` ends at base `j·s + s − 1`); the scalar
            // loop, three dependent shift-ors per token at stride 3, ran at two thirds of the
            // stride-1 speed. The rest, or elsewhere, one token per `s` bases.
            let mut done = 0;
            #[cfg(target_arch = "x86_64")]
            if crate::cpu::has_avx512() {
                done = strided_blocks(seq, self.k, s, code, dst);
                if done > 0 {
                    code = seq[done - self.k..done]
                        .iter()
                        .fold(0, |c, &b| (c << 2) | CODE[b as usize] as u64);
                }
            }
            for (d, step) in dst[done / s..].iter_mut().zip(seq[done..].chunks_exact(s)) {
                for &b in step {
                    code = (code << 2) | CODE[b as usize] as u64;
                }
                d.write(N_SPECIAL + (code & mask) as u32);
            }
        }
        // SAFETY: the first `n` spare slots were all written above.
        unsafe { out.commit(n) };
        self.code = code & mask;
        self.valid_run += seq.len();
        self.seen += seq.len();
    }

    /// The general loop: any bytes, any state.
    #[inline]
    fn encode_general<S: Sink>(&mut self, seq: &[u8], out: &mut S) -> Option<u8> {
        let dst = out.spare(seq.len() / self.stride + 1);
        let mut n = 0;
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
                dst[n].write(id);
                n += 1;
                until_next = s;
            }
        }
        // SAFETY: the first `n` spare slots were written above.
        unsafe { out.commit(n) };
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

/// Where the encoder writes ids: a growing `Vec`, or a slice sized beforehand.
trait Sink {
    /// Room for `n` more ids (a slice gives what it has left, at most `n`).
    fn spare(&mut self, n: usize) -> &mut [std::mem::MaybeUninit<u32>];
    /// The first `n` slots of the last [`spare`](Sink::spare) were written.
    ///
    /// # Safety
    /// They must have been.
    unsafe fn commit(&mut self, n: usize);
}

impl Sink for Vec<u32> {
    #[inline]
    fn spare(&mut self, n: usize) -> &mut [std::mem::MaybeUninit<u32>] {
        self.reserve(n);
        &mut self.spare_capacity_mut()[..n]
    }
    #[inline]
    unsafe fn commit(&mut self, n: usize) {
        // SAFETY: the caller wrote the n slots after the current length.
        unsafe { self.set_len(self.len() + n) }
    }
}

/// A piece of a record's id vector, filled by one thread of the parallel tokenizer.
pub(crate) struct SliceSink<'a> {
    buf: &'a mut [std::mem::MaybeUninit<u32>],
    len: usize,
}

impl<'a> SliceSink<'a> {
    pub(crate) fn new(buf: &'a mut [std::mem::MaybeUninit<u32>]) -> Self {
        Self { buf, len: 0 }
    }
    /// Whether every slot was written.
    pub(crate) fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }
}

impl Sink for SliceSink<'_> {
    #[inline]
    fn spare(&mut self, n: usize) -> &mut [std::mem::MaybeUninit<u32>] {
        let end = (self.len + n).min(self.buf.len());
        &mut self.buf[self.len..end]
    }
    #[inline]
    unsafe fn commit(&mut self, n: usize) {
        self.len += n;
    }
}

/// Stride-`s` ids of clean bases (the window before them in `code`, a token just emitted)
/// from the AVX-512 stride-1 kernel: blocks of a multiple of `lcm(16, s)` bases, at most
/// 1 024, each encoded at stride 1 into a buffer of which every `s`-th id is kept. Returns the
/// bases done (a multiple of `s`; their `done / s` ids are in `dst`); 0 when `lcm(16, s)` is
/// over 1 024 or `seq` shorter than it.
#[cfg(target_arch = "x86_64")]
fn strided_blocks(
    seq: &[u8],
    k: usize,
    s: usize,
    mut code: u64,
    dst: &mut [std::mem::MaybeUninit<u32>],
) -> usize {
    const BUF: usize = 1024;
    let unit = 16 / gcd(16, s) * s;
    if unit > BUF || seq.len() < unit.max(k) {
        return 0;
    }
    let block = BUF / unit * unit;
    let whole = seq.len() / unit * unit;
    let mut buf = [std::mem::MaybeUninit::<u32>::uninit(); BUF];
    let mut at = 0;
    while at < whole {
        let len = block.min(whole - at);
        let bases = &seq[at..at + len];
        // SAFETY: the caller checked AVX-512F and that `seq` is only ACGTacgt; 1 <= k <= 15
        // (`KmerTokenizer::new`); `buf` holds `len <= BUF` slots.
        let n = unsafe { simd::clean_stride1(bases, k, code, &mut buf[..len]) };
        debug_assert_eq!(n, len); // `len` is a multiple of 16
        for (j, d) in dst[at / s..(at + len) / s].iter_mut().enumerate() {
            // SAFETY: the kernel wrote all `len` slots.
            d.write(unsafe { buf[j * s + s - 1].assume_init() });
        }
        code = bases[len - k..]
            .iter()
            .fold(0, |c, &b| (c << 2) | CODE[b as usize] as u64);
        at += len;
    }
    whole
}

#[cfg(target_arch = "x86_64")]
fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Whether every byte is one of `ACGTacgt` (no early exit, so the compiler vectorises it).
#[inline]
fn all_acgt(seq: &[u8]) -> bool {
    let mut bad = 0u8;
    let mut chunks = seq.chunks_exact(32);
    for c in &mut chunks {
        for &b in c {
            let u = b & 0xDF;
            bad |= ((u != b'A') & (u != b'C') & (u != b'G') & (u != b'T')) as u8;
        }
        if bad != 0 {
            return false;
        }
    }
    for &b in chunks.remainder() {
        let u = b & 0xDF;
        bad |= ((u != b'A') & (u != b'C') & (u != b'G') & (u != b'T')) as u8;
    }
    bad == 0
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
