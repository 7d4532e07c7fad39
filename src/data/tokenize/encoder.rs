//! The incremental k-mer encoder ([`StreamEncoder`]): a general loop for any bytes and state,
//! a branch-free one for clean bases (AVX-512 blocks at any stride where the CPU has it,
//! [`super::simd`]), writing into a growing `Vec` or a slice sized beforehand.

#[cfg(target_arch = "x86_64")]
use super::simd;
use super::{KmerTokenizer, Special, N_SPECIAL};
use crate::data::alphabet::{CODE, INVALID};

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
                code = window_code(&seq[done - self.k..done]);
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
                (done, code) = strided_blocks(seq, self.k, s, code, dst);
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
                if c == INVALID && bad.is_none() {
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
/// bases done (a multiple of `s`; their `done / s` ids are in `dst`) and the window after
/// them; `(0, code)` when `lcm(16, s)` is over 1 024 or `seq` shorter than it.
#[cfg(target_arch = "x86_64")]
fn strided_blocks(
    seq: &[u8],
    k: usize,
    s: usize,
    mut code: u64,
    dst: &mut [std::mem::MaybeUninit<u32>],
) -> (usize, u64) {
    const BUF: usize = 1024;
    let unit = 16 / gcd(16, s) * s;
    if unit > BUF || seq.len() < unit.max(k) {
        return (0, code);
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
        code = window_code(&bases[len - k..]);
        at += len;
    }
    (whole, code)
}

/// The 2-bit codes of clean bases, the last in the lowest two bits: the window an encoder
/// holds after them.
#[cfg(target_arch = "x86_64")]
fn window_code(bases: &[u8]) -> u64 {
    bases
        .iter()
        .fold(0, |c, &b| (c << 2) | CODE[b as usize] as u64)
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
pub(super) fn all_acgt(seq: &[u8]) -> bool {
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
