//! The inference recurrence split by units instead of rows, for recurrent matrices stored in
//! panels (seed 003's 1 150 units: 21 MB a layer) and for batches of a few rows.
//!
//! The row split ([`LstmSeq::fwd`](super::LstmSeq)) gives each thread its own rows and the whole
//! `W_hhᵀ`: every thread reads all 21 MB at every step, for its 16 rows. Here each of `P` threads
//! owns a block of units, the four gate columns of those units (`W_hhᵀ`'s columns
//! `[i_p | f_p | g_p | o_p]`, a `1/P` share), for all rows: at each step it multiplies every
//! row's previous hidden state by its share, updates its units' cells, writes their new hidden
//! values, and waits for the others (one barrier per step) before the next step reads them. A
//! thread reads `1/P` of the matrix per step for all rows, as PyTorch's threads do, and a batch
//! of one row keeps every thread busy.
//!
//! Same bits as the row split: every GEMM call is `≤ 64` rows × one panel of `≤ 64` columns ×
//! all `h` units, summed in the same order whichever rows and columns it holds
//! ([`MAX_CHUNK_ROWS`](super::MAX_CHUNK_ROWS)), and the gate arithmetic is element by element.

use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::cpu::written;

use super::cell::LstmFloat;
use super::rhs::{paneled, Rhs, PANEL};
use super::MAX_CHUNK_ROWS;

/// Unit blocks for `h` units and `b` rows over `threads` threads: 1 (use the row split) unless
/// the recurrent matrix is stored in panels or the rows are too few to give every thread 4 (a
/// record shorter than two segments is read as one row, and the row split left all threads but
/// one idle); at most one block per 64 units.
pub(super) fn parts<T>(h: usize, b: usize, threads: usize) -> usize {
    if !paneled::<T>(h, 4 * h) && b >= 4 * threads {
        return 1;
    }
    threads.min(h / 64).max(1)
}

/// First unit of block `p` of `parts` over `h` units (multiples of 16, the last block ends at h).
fn bound(p: usize, parts: usize, h: usize) -> usize {
    if p >= parts {
        h
    } else {
        (h * p / parts) / 16 * 16
    }
}

/// A pointer the threads of one pass write through, each at its own positions.
#[derive(Clone, Copy)]
struct Shared<T>(*mut T);
// SAFETY: the pass's threads write disjoint positions (their own units), and read another
// thread's only after the barrier that follows its writes.
unsafe impl<T> Send for Shared<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Shared<T> {}

impl<T> Shared<T> {
    /// The pointer `i` elements on (a method, so closures capture the whole `Shared`).
    ///
    /// # Safety
    /// As [`pointer::add`].
    unsafe fn at(self, i: usize) -> *mut T {
        // SAFETY: the caller's.
        unsafe { self.0.add(i) }
    }
}

/// A barrier for the threads of one pass, one wait per step: spins (a step is tens of
/// microseconds to milliseconds), then yields. If a thread panics, the others panic at their
/// next wait instead of waiting for ever.
struct StepBarrier {
    n: usize,
    count: AtomicUsize,
    generation: AtomicUsize,
    poisoned: AtomicBool,
}

impl StepBarrier {
    fn new(n: usize) -> Self {
        StepBarrier {
            n,
            count: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            poisoned: AtomicBool::new(false),
        }
    }

    fn wait(&self) {
        let gen = self.generation.load(Ordering::Acquire);
        if self.count.fetch_add(1, Ordering::AcqRel) + 1 == self.n {
            self.count.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == gen {
            assert!(
                !self.poisoned.load(Ordering::Relaxed),
                "lstm-seq: another thread of the pass panicked"
            );
            spins += 1;
            if spins < 1 << 16 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// Marks the barrier poisoned when its thread unwinds.
struct PoisonOnPanic<'a>(&'a StepBarrier);

impl Drop for PoisonOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.poisoned.store(true, Ordering::Relaxed);
        }
    }
}

/// The panels of block `[u0, u1)`'s share of `W_hhᵀ`: `h × 4u`, columns `[i | f | g | o]` of
/// those units, from `W_hh (4h × h)`; stored as [`Rhs`] stores a paneled matrix.
fn share<T: LstmFloat>(w_hh: &[T], h: usize, (u0, u1): (usize, usize)) -> Rhs<T> {
    let u = u1 - u0;
    let n = 4 * u;
    let mut data = Vec::with_capacity(h * n);
    for c0 in (0..n).step_by(PANEL) {
        let c1 = (c0 + PANEL).min(n);
        for j in 0..h {
            data.extend((c0..c1).map(|q| w_hh[((q / u) * h + u0 + q % u) * h + j]));
        }
    }
    Rhs {
        data,
        k: h,
        n,
        width: PANEL,
    }
}

/// The forward pass without saving, split over `parts` unit blocks on candle's pool: `xp (b, t,
/// 4h)` (the input projections), the gate bias, `W_hh (4h × h)`, `hc0 (2, b, h)`; returns the
/// flat output `(b, t, h)` then `(b, h)`, as [`LstmSeq::fwd`](super::LstmSeq).
pub(super) fn fwd_units<T: LstmFloat>(
    xp: &[T],
    bias: &[T],
    w_hh: &[T],
    hc0: &[T],
    (b, t_len, h): (usize, usize, usize),
    parts: usize,
) -> Vec<T> {
    let g4 = 4 * h;
    let pool = candle_core::utils::barrier_pool();
    let parts = parts.min(pool.n_workers() + 1).max(1);
    let barrier = StepBarrier::new(parts);
    // The hidden states of the step before and of this step (b × h each), swapped every step.
    let mut hbuf: Vec<T> = hc0[..b * h].to_vec();
    hbuf.resize(2 * b * h, T::zero());
    let hb = Shared(hbuf.as_mut_ptr());
    let fill = |out: &mut [MaybeUninit<T>]| {
        let out = Shared(out.as_mut_ptr());
        pool.execute(|p| {
            if p >= parts {
                return;
            }
            let _guard = PoisonOnPanic(&barrier);
            let (u0, u1) = (bound(p, parts, h), bound(p + 1, parts, h));
            let u = u1 - u0;
            let n = 4 * u;
            let rhs = share(w_hh, h, (u0, u1));
            let mut g = vec![T::zero(); b * n];
            let mut cp: Vec<T> = (0..b)
                .flat_map(|r| hc0[(b + r) * h + u0..(b + r) * h + u1].iter().copied())
                .collect();
            let mut cn = vec![T::zero(); b * u];
            let (mut hp, mut tc) = (vec![T::zero(); u], vec![T::zero(); u]);
            for t in 0..t_len {
                let (cur, next) = ((t % 2) * b * h, ((t + 1) % 2) * b * h);
                for (r, gr) in g.chunks_exact_mut(n).enumerate() {
                    let src = &xp[(r * t_len + t) * g4..][..g4];
                    for (blk, d) in gr.chunks_exact_mut(u).enumerate() {
                        let q = blk * h + u0;
                        for ((d, &x), &bq) in d.iter_mut().zip(&src[q..q + u]).zip(&bias[q..]) {
                            *d = x + bq;
                        }
                    }
                }
                {
                    // SAFETY: the previous step's hidden states: written by every thread
                    // before the barrier this thread has passed, and not written again until
                    // every thread has passed the next one.
                    let hcur = unsafe { std::slice::from_raw_parts(hb.at(cur), b * h) };
                    for r0 in (0..b).step_by(MAX_CHUNK_ROWS) {
                        let r1 = (r0 + MAX_CHUNK_ROWS).min(b);
                        let rows = (&hcur[r0 * h..], 1, h as isize);
                        rhs.mul(&mut g[r0 * n..r1 * n], true, rows, r1 - r0);
                    }
                }
                for r in 0..b {
                    T::fwd_row(
                        &mut g[r * n..(r + 1) * n],
                        &cp[r * u..(r + 1) * u],
                        &mut cn[r * u..(r + 1) * u],
                        &mut hp,
                        &mut tc,
                    );
                    // SAFETY: this thread's units of row r: in this step's hidden states
                    // (read by the others only after the barrier below) and in the output,
                    // which no other thread writes.
                    unsafe {
                        std::ptr::copy_nonoverlapping(hp.as_ptr(), hb.at(next + r * h + u0), u);
                        let o = out.at((r * t_len + t) * h + u0) as *mut T;
                        std::ptr::copy_nonoverlapping(hp.as_ptr(), o, u);
                    }
                }
                std::mem::swap(&mut cp, &mut cn);
                barrier.wait();
            }
            for r in 0..b {
                // SAFETY: this thread's units of the final cell states.
                unsafe {
                    let o = out.at(b * t_len * h + r * h + u0) as *mut T;
                    std::ptr::copy_nonoverlapping(cp[r * u..].as_ptr(), o, u);
                }
            }
        });
    };
    // SAFETY: the unit blocks cover 0..h, and each thread writes its units of every row's
    // hidden state at every step and of every row's final cell state: every element once.
    unsafe { written(b * t_len * h + b * h, fill) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn unit_blocks_cover_the_units_in_multiples_of_16() {
        for (h, parts) in [(1_150, 2), (1_150, 3), (520, 8), (64, 1)] {
            let b: Vec<usize> = (0..=parts).map(|p| super::bound(p, parts, h)).collect();
            assert_eq!((b[0], b[parts]), (0, h));
            assert!(b.windows(2).all(|w| w[0] < w[1]), "{b:?}");
            assert!(b[..parts].iter().all(|x| x % 16 == 0));
        }
        assert_eq!(super::parts::<f32>(256, 32, 2), 1); // 1 MiB, 16 rows a thread: the row split
        assert_eq!(super::parts::<f32>(256, 3, 2), 2); // too few rows
        assert_eq!(super::parts::<f32>(1_150, 32, 2), 2); // panels
        assert_eq!(super::parts::<f32>(1_150, 32, 1), 1);
        assert_eq!(super::parts::<f32>(8, 1, 2), 1);
    }
}
