//! Clean bases at stride 1 with AVX-512: sixteen k-mers per step instead of one.
//!
//! The scalar loop of [`super::StreamEncoder`] carries each k-mer into the next (shift, or),
//! about two cycles per base however wide the machine. Here sixteen bases become sixteen 2-bit
//! codes in one vector (`ACGTacgt` → 0–3 by arithmetic on the bytes, no table), and each lane's
//! k-mer is built from k windows of the previous and current codes (`vpermt2d`), oldest base
//! first. The ids are the scalar loop's, bit for bit (`clean_fast_path_matches_naive`).

use std::mem::MaybeUninit;

/// Encode the first `seq.len() / 16 * 16` bases of `seq` (only `ACGTacgt`), whose window
/// before them holds the codes in `code` (the last base in the lowest two bits), into `dst` as
/// ids (`N_SPECIAL` + k-mer code); returns how many bases (and ids) were done.
///
/// # Safety
/// The CPU must have AVX-512F; `1 <= k <= 15`; `dst` must hold at least `seq.len()` slots.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn clean_stride1(
    seq: &[u8],
    k: usize,
    code: u64,
    dst: &mut [MaybeUninit<u32>],
) -> usize {
    use std::arch::x86_64::*;
    const L: usize = 16;
    debug_assert!((1..=15).contains(&k) && dst.len() >= seq.len());
    let blocks = seq.len() / L;
    // Window s (bases s back): lane i takes lane i + 16 - s of (previous, current).
    let mut idx = [_mm512_setzero_si512(); L];
    for (s, v) in idx.iter_mut().enumerate().take(k) {
        let lanes: [i32; L] = std::array::from_fn(|i| (i + L - s) as i32);
        *v = unsafe { _mm512_loadu_si512(lanes.as_ptr().cast()) };
    }
    // The codes before the first block, newest in lane 15.
    let before: [i32; L] = std::array::from_fn(|i| ((code >> (2 * (L - 1 - i))) & 3) as i32);
    let mut prev = unsafe { _mm512_loadu_si512(before.as_ptr().cast()) };
    let (three, one, base) = (
        _mm512_set1_epi32(3),
        _mm512_set1_epi32(1),
        _mm512_set1_epi32(super::N_SPECIAL as i32),
    );
    let out = dst.as_mut_ptr().cast::<u32>();
    for b in 0..blocks {
        // SAFETY: b * 16 + 16 <= seq.len() <= dst.len().
        let bytes = unsafe { _mm_loadu_si128(seq.as_ptr().add(b * L).cast()) };
        let v = _mm512_cvtepu8_epi32(bytes);
        // A/a → 0, C/c → 1, G/g → 2, T/t → 3: ((b >> 1) & 3) ^ ((b >> 2) & 1).
        let cur = _mm512_xor_si512(
            _mm512_and_si512(_mm512_srli_epi32::<1>(v), three),
            _mm512_and_si512(_mm512_srli_epi32::<2>(v), one),
        );
        let mut acc = _mm512_setzero_si512();
        for s in (0..k).rev() {
            let w = _mm512_permutex2var_epi32(prev, idx[s], cur);
            acc = _mm512_or_si512(_mm512_slli_epi32::<2>(acc), w);
        }
        unsafe { _mm512_storeu_si512(out.add(b * L).cast(), _mm512_add_epi32(acc, base)) };
        prev = cur;
    }
    blocks * L
}
