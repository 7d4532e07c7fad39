//! The recurrent matrix as the right operand of each step's GEMM: whole, or in column panels
//! when large.

use crate::cpu::{matmul, run_chunks, written};

/// Bytes of a recurrent matrix above which it is stored in column panels (see [`Rhs`]). The
/// small presets' matrices (256 units: 1 MiB) stay below, so their checkpoints keep their
/// bytes.
pub(super) const PANEL_BYTES: usize = 4 << 20;
/// Columns per panel.
pub(super) const PANEL: usize = 64;

/// The right operand of a recurrent GEMM (`k × n`, row-major), read at every step. A large
/// one (seed 003's 1 150 units: 21 MB) is stored as contiguous panels of [`PANEL`] columns
/// and multiplied panel by panel: read in place, its rows lie 4n bytes apart, so each step's
/// GEMM touched a new page for every row of the operand (thousands of TLB misses per step).
pub(super) struct Rhs<T> {
    pub(super) data: Vec<T>,
    pub(super) k: usize,
    pub(super) n: usize,
    /// Columns per panel (`n` when the operand is kept whole).
    pub(super) width: usize,
}

/// Is a `k × n` operand of `T` stored in column panels?
pub(super) fn paneled<T>(k: usize, n: usize) -> bool {
    k * n * std::mem::size_of::<T>() > PANEL_BYTES && n > PANEL
}

impl<T: Copy + num_traits::Zero + num_traits::One + 'static> Rhs<T> {
    pub(super) fn new(m: Vec<T>, k: usize, n: usize) -> Self {
        if !paneled::<T>(k, n) {
            return Rhs {
                data: m,
                k,
                n,
                width: n,
            };
        }
        let mut data = Vec::with_capacity(k * n);
        for c0 in (0..n).step_by(PANEL) {
            let c1 = (c0 + PANEL).min(n);
            for row in m.chunks_exact(n) {
                data.extend_from_slice(&row[c0..c1]);
            }
        }
        Rhs {
            data,
            k,
            n,
            width: PANEL,
        }
    }

    /// `W_hhᵀ (h × 4h)` as the right operand, from `W_hh (4h × h)` (see [`transpose_w_hh`]):
    /// the same operand as `Rhs::new(transpose_w_hh(…))`, but a paneled one is written
    /// straight from `w`, one panel per task on candle's pool, instead of transposed whole and
    /// then copied into panels (seed 003's 1 150 units: 21 MB less to write per layer and pass).
    pub(super) fn transposed(w: &[T], g4: usize, h: usize) -> Self
    where
        T: Send + Sync,
    {
        let (k, n) = (h, g4);
        if !paneled::<T>(k, n) {
            return Rhs::new(transpose_w_hh(w, g4, h), k, n);
        }
        // SAFETY: panel `p` (columns c0..c1 of the result) is the `k · (c1 − c0)` values from
        // `c0 · k` on, and every one of them is written (rows j, then columns q).
        let data = unsafe {
            written(k * n, |out| {
                let items: Vec<_> = out.chunks_mut(PANEL * k).enumerate().collect();
                run_chunks(items, |_, (p, panel)| {
                    let c0 = p * PANEL;
                    let width = panel.len() / k;
                    for (j, row) in panel.chunks_exact_mut(width).enumerate() {
                        for (dq, d) in row.iter_mut().enumerate() {
                            d.write(w[(c0 + dq) * h + j]);
                        }
                    }
                });
            })
        };
        Rhs {
            data,
            k,
            n,
            width: PANEL,
        }
    }

    /// `dst (m × n, rows contiguous) (+)= lhs (m × k) · self`.
    pub(super) fn mul(&self, dst: &mut [T], accumulate: bool, lhs: (&[T], isize, isize), m: usize) {
        let (l, lc, lr) = lhs;
        for c0 in (0..self.n).step_by(self.width) {
            let w = self.width.min(self.n - c0);
            let panel = &self.data[c0 * self.k..(c0 + w) * self.k];
            matmul(
                &mut dst[c0..],
                self.n,
                accumulate,
                l,
                lc,
                lr,
                panel,
                1,
                w as isize,
                m,
                w,
                self.k,
            );
        }
    }
}

/// `W_hhᵀ (h × 4h)` from `W_hh (4h × h)`, in 16 × 16 tiles: the column-wise walk of a plain
/// double loop missed the cache on every element. Blocks of 16 rows of the result run on
/// candle's pool (a copy: the same values whatever the blocks).
pub(super) fn transpose_w_hh<T: Copy + Send + Sync>(w: &[T], g4: usize, h: usize) -> Vec<T> {
    const TILE: usize = 16;
    if g4 == 0 || h == 0 {
        return Vec::new();
    }
    // SAFETY: block `jb` holds rows `16·jb ..` of the result, and every (j, q) of them is
    // written (all q in 0..g4 for each of its rows).
    unsafe {
        written(h * g4, |wt| {
            let items: Vec<_> = wt.chunks_mut(TILE * g4).enumerate().collect();
            run_chunks(items, |_, (jb, rows)| {
                let j0 = jb * TILE;
                for q0 in (0..g4).step_by(TILE) {
                    let q1 = (q0 + TILE).min(g4);
                    // Writes run along rows of wt (contiguous); reads step by h values.
                    for (jj, row) in rows.chunks_exact_mut(g4).enumerate() {
                        let j = j0 + jj;
                        for (q, d) in (q0..q1).zip(&mut row[q0..q1]) {
                            d.write(w[q * h + j]);
                        }
                    }
                }
            });
        })
    }
}
