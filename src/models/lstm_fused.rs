//! A fused LSTM layer for the CPU: one candle custom op for the whole sequence, with a
//! hand-written backward pass (backpropagation through time).
//!
//! Composed of candle primitives, the recurrence costs ~16 small ops per step, and every
//! per-step slice of the input projection has a backward that allocates a tensor the size of
//! the whole sequence, which makes BPTT quadratic in the sequence length. This op takes the
//! layer's input `x: (B, T, D)` (batch-major), `[W_ih | W_hh | b]: (4H, D + H + 1)` (the input
//! and recurrent matrices with the summed gate bias as the last column, so the bias costs no
//! separate broadcast op or reduction) and the initial state `hc0: (2, B, H)`, and returns one
//! flat tensor of `B·T·H + B·H` values: the hidden states of every step `(B, T, H)`, then the
//! final cell state `(B, H)`. Both parts are contiguous views of it, so no transpose or copy
//! follows. The input projection `x·W_ihᵀ` runs inside the op in the row blocks of
//! [`fused_linear`](super::fused_linear) (the same sums as the linear layer), so its
//! `B·T·4H` values never become a tensor of the graph whose gradient candle would zero-fill
//! and add to.
//!
//! The batch rows are independent, so the rows are split into one chunk per thread of candle's
//! CPU pool (the threads that also run its elementwise ops) and
//! each chunk runs its whole recurrence (one small GEMM and the gate arithmetic per step)
//! without synchronising with the others. The gate non-linearities of the f32 path use a
//! branch-free exponential that the compiler vectorises (relative error ≈ 1e-7, the f32
//! rounding level); the f64 path uses the standard library's functions.
//! Gradients flow to `x`, `[W_ih | W_hh | b]` and `hc0`; `tests/gradients.rs` checks them
//! against finite differences and against the composed version, in f64 and f32.

use std::cell::Cell;
use std::mem::MaybeUninit;
use std::sync::Mutex;

use crate::cpu::{
    contiguous, cpu_slice, exp_f32, matmul, pool_threads, run_chunks, simd, with_values, written,
};
use candle_core::{CpuStorage, CustomOp3, DType, Layout, Result, Shape, Tensor, WithDType};
use num_traits::Float;

/// Activations saved by the forward pass of one chunk of batch rows.
struct ChunkSaved<T> {
    /// (T, rows, 4H) activated gates i, f, g, o.
    gates: Vec<T>,
    /// (T + 1, rows, H) cell states c_0 … c_T.
    cells: Vec<T>,
}

/// Saved activations of every chunk, in the op's dtype.
#[derive(Default)]
enum Chunks {
    #[default]
    Empty,
    F32(Vec<ChunkSaved<f32>>),
    F64(Vec<ChunkSaved<f64>>),
}

/// Saved activations of every chunk, and the chunk size used.
#[derive(Default)]
struct Saved {
    rows_per_chunk: usize,
    chunks: Chunks,
}

/// The custom op (one instance per call, holding the saved activations).
pub struct LstmSeq {
    saved: Mutex<Saved>,
}

/// Floats the fused op runs in, with their gate non-linearities.
trait LstmFloat: WithDType + Float + std::ops::AddAssign + Send + Sync + super::fused::KFloat {
    /// In place: `sigmoid` on `v`.
    fn sigmoid_slice(v: &mut [Self]);
    /// In place: `tanh` on `v`.
    fn tanh_slice(v: &mut [Self]);
    /// One row of one forward step; see [`fwd_row`].
    fn fwd_row(g: &mut [Self], cp: &[Self], cn: &mut [Self], hp: &mut [Self], tc: &mut [Self]) {
        fwd_row(g, cp, cn, hp, tc)
    }
    /// One row of one backward step; see [`bwd_row`].
    #[allow(clippy::too_many_arguments)]
    fn bwd_row(
        gates: &[Self],
        c: &[Self],
        c_prev: &[Self],
        go: &[Self],
        dg: &mut [Self],
        dhn: &[Self],
        dcn: &mut [Self],
        tc: &mut [Self],
    ) {
        bwd_row(gates, c, c_prev, go, dg, dhn, dcn, tc)
    }
    /// Wrap saved chunks of this dtype.
    fn wrap(v: Vec<ChunkSaved<Self>>) -> Chunks;
    /// The saved chunks, if they have this dtype.
    fn unwrap(c: &Chunks) -> Option<&[ChunkSaved<Self>]>;
}

/// One row of a forward step: activate the pre-activation gates `g = [i f g o]` (4h) in place,
/// `cn = f·cp + i·g`, `hp = o·tanh(cn)` (`tc` is scratch of length h).
#[inline(always)]
fn fwd_row<T: LstmFloat>(g: &mut [T], cp: &[T], cn: &mut [T], hp: &mut [T], tc: &mut [T]) {
    let h = cp.len();
    T::sigmoid_slice(&mut g[..2 * h]);
    T::tanh_slice(&mut g[2 * h..3 * h]);
    T::sigmoid_slice(&mut g[3 * h..4 * h]);
    let (i, rest) = g.split_at(h);
    let (f, rest) = rest.split_at(h);
    let (gg, o) = rest.split_at(h);
    let cn = &mut cn[..h];
    for j in 0..h {
        cn[j] = f[j] * cp[j] + i[j] * gg[j];
    }
    tc[..h].copy_from_slice(cn);
    T::tanh_slice(&mut tc[..h]);
    let (hp, o, tc) = (&mut hp[..h], &o[..h], &tc[..h]);
    for j in 0..h {
        hp[j] = o[j] * tc[j];
    }
}

/// One row of a backward step: from the saved gates and cell states, the gradient `go` of
/// this step's output and `dhn` of the next step's recurrent input, write the pre-activation
/// gate gradients `dg` (4h) and update the cell gradient `dcn` in place.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn bwd_row<T: LstmFloat>(
    gates: &[T],
    c: &[T],
    c_prev: &[T],
    go: &[T],
    dg: &mut [T],
    dhn: &[T],
    dcn: &mut [T],
    tc: &mut [T],
) {
    let h = c.len();
    let one = T::one();
    let (i, rest) = gates.split_at(h);
    let (f, rest) = rest.split_at(h);
    let (g, o) = rest.split_at(h);
    tc[..h].copy_from_slice(c);
    T::tanh_slice(&mut tc[..h]);
    let (d_i, rest) = dg.split_at_mut(h);
    let (d_f, rest) = rest.split_at_mut(h);
    let (d_g, d_o) = rest.split_at_mut(h);
    let (c_prev, go, dhn, dcn, tc) = (&c_prev[..h], &go[..h], &dhn[..h], &mut dcn[..h], &tc[..h]);
    let (o, d_o) = (&o[..h], &mut d_o[..h]);
    for j in 0..h {
        let dh = go[j] + dhn[j];
        let dc = dh * o[j] * (one - tc[j] * tc[j]) + dcn[j];
        d_i[j] = dc * g[j] * i[j] * (one - i[j]);
        d_f[j] = dc * c_prev[j] * f[j] * (one - f[j]);
        d_g[j] = dc * i[j] * (one - g[j] * g[j]);
        d_o[j] = dh * tc[j] * o[j] * (one - o[j]);
        dcn[j] = dc * f[j];
    }
}

impl LstmFloat for f64 {
    fn sigmoid_slice(v: &mut [f64]) {
        for x in v {
            *x = 1.0 / (1.0 + (-*x).exp());
        }
    }
    fn tanh_slice(v: &mut [f64]) {
        for x in v {
            *x = x.tanh();
        }
    }
    fn wrap(v: Vec<ChunkSaved<f64>>) -> Chunks {
        Chunks::F64(v)
    }
    fn unwrap(c: &Chunks) -> Option<&[ChunkSaved<f64>]> {
        match c {
            Chunks::F64(v) => Some(v),
            _ => None,
        }
    }
}

impl LstmFloat for f32 {
    #[inline(always)]
    fn sigmoid_slice(v: &mut [f32]) {
        for x in v {
            *x = 1.0 / (1.0 + exp_f32(-*x));
        }
    }
    #[inline(always)]
    fn tanh_slice(v: &mut [f32]) {
        for x in v {
            *x = 2.0 / (1.0 + exp_f32(-2.0 * *x)) - 1.0;
        }
    }
    fn fwd_row(g: &mut [f32], cp: &[f32], cn: &mut [f32], hp: &mut [f32], tc: &mut [f32]) {
        simd(
            #[inline(always)]
            || fwd_row(g, cp, cn, hp, tc),
        )
    }
    fn bwd_row(
        gates: &[f32],
        c: &[f32],
        c_prev: &[f32],
        go: &[f32],
        dg: &mut [f32],
        dhn: &[f32],
        dcn: &mut [f32],
        tc: &mut [f32],
    ) {
        simd(
            #[inline(always)]
            || bwd_row(gates, c, c_prev, go, dg, dhn, dcn, tc),
        )
    }
    fn wrap(v: Vec<ChunkSaved<f32>>) -> Chunks {
        Chunks::F32(v)
    }
    fn unwrap(c: &Chunks) -> Option<&[ChunkSaved<f32>]> {
        match c {
            Chunks::F32(v) => Some(v),
            _ => None,
        }
    }
}

thread_local! {
    /// A chunk count that overrides the thread count (tests of the chunking).
    static CHUNKS: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Run `f` with the fused LSTM split into `chunks` chunks of batch rows whatever the thread
/// count (chunks beyond the threads run in turn). For tests: results must not depend on it.
#[doc(hidden)]
pub fn with_chunk_count<R>(chunks: usize, f: impl FnOnce() -> R) -> R {
    let old = CHUNKS.replace(Some(chunks.max(1)));
    let r = f();
    CHUNKS.set(old);
    r
}

/// Rows per chunk: the batch split evenly over the threads.
fn rows_per_chunk(b: usize) -> usize {
    let chunks = CHUNKS.get().unwrap_or_else(pool_threads).max(1);
    b.div_ceil(chunks).max(1)
}

impl LstmSeq {
    /// Forward over all rows: `xp (b, t, 4h)`, `w (4h, h + 1)` (`[W_hh | b]`), `hc0 (2, b, h)`;
    /// returns the flat output `(b, t, h)` then `(b, h)`.
    fn fwd<T: LstmFloat>(
        &self,
        xp: &[T],
        w: &[T],
        hc0: &[T],
        t_len: usize,
        b: usize,
        h: usize,
    ) -> Result<Vec<T>> {
        let g4 = 4 * h;
        let ws = h + 1; // row stride of [W_hh | b]
        let bias: Vec<T> = (0..g4).map(|q| w[q * ws + h]).collect();
        // W_hhᵀ (h × 4h) contiguous: the GEMM reads it as an already packed (column-major)
        // operand instead of repacking 4h × h values at every step.
        let wt = Rhs::new(transpose_w_hh(w, g4, h), h, g4);
        let rpc = rows_per_chunk(b);
        let mut saved: Vec<ChunkSaved<T>> = Vec::new();
        let mut fill = |out: &mut [MaybeUninit<T>]| {
            let (hs_all, c_all) = out.split_at_mut(b * t_len * h);
            let work: Vec<_> = hs_all
                .chunks_mut(rpc * t_len * h)
                .zip(c_all.chunks_mut(rpc * h))
                .collect();
            saved = run_chunks(work, |ci, (hs, c_last)| {
                let r0 = ci * rpc;
                let n = c_last.len() / h;
                // The pre-activation gates of every step start as xp + bias, written once here
                // rather than zero-filled and overwritten step by step.
                let mut gates: Vec<T> = Vec::with_capacity(t_len * n * g4);
                for t in 0..t_len {
                    for r in 0..n {
                        let src = &xp[((r0 + r) * t_len + t) * g4..][..g4];
                        gates.extend(src.iter().zip(&bias).map(|(&x, &bq)| x + bq));
                    }
                }
                let mut cells = vec![T::zero(); (t_len + 1) * n * h];
                let mut hprev: Vec<T> = hc0[r0 * h..(r0 + n) * h].to_vec();
                cells[..n * h].copy_from_slice(&hc0[(b + r0) * h..(b + r0 + n) * h]);
                let mut tc = vec![T::zero(); h];
                for t in 0..t_len {
                    let g = &mut gates[t * n * g4..(t + 1) * n * g4];
                    // g (n × 4h) += hprev (n × h) · W_hhᵀ.
                    wt.mul(g, true, (&hprev, 1, h as isize), n);
                    let (c_prev, c_next) = cells[t * n * h..(t + 2) * n * h].split_at_mut(n * h);
                    for r in 0..n {
                        let hp = &mut hprev[r * h..(r + 1) * h];
                        T::fwd_row(
                            &mut g[r * g4..(r + 1) * g4],
                            &c_prev[r * h..(r + 1) * h],
                            &mut c_next[r * h..(r + 1) * h],
                            hp,
                            &mut tc,
                        );
                        write_all(&mut hs[(r * t_len + t) * h..(r * t_len + t + 1) * h], hp);
                    }
                }
                write_all(c_last, &cells[t_len * n * h..]);
                ChunkSaved { gates, cells }
            });
        };
        // SAFETY: the chunks cover `out`; each writes every hidden state of its rows (one row
        // of h values per step) and their final cell states.
        let out = unsafe { written(b * t_len * h + b * h, &mut fill) };
        let mut s = self.saved.lock().expect("lstm saved state");
        s.rows_per_chunk = rpc;
        s.chunks = T::wrap(saved);
        Ok(out)
    }
}

/// Bytes of a recurrent matrix above which it is stored in column panels (see [`Rhs`]). The
/// small presets' matrices (256 units: 1 MiB) stay below, so their checkpoints keep their
/// bytes.
const PANEL_BYTES: usize = 4 << 20;
/// Columns per panel.
const PANEL: usize = 64;

/// The right operand of a recurrent GEMM (`k × n`, row-major), read at every step. A large
/// one (seed 003's 1 150 units: 21 MB) is stored as contiguous panels of [`PANEL`] columns
/// and multiplied panel by panel: read in place, its rows lie 4n bytes apart, so each step's
/// GEMM touched a new page for every row of the operand (thousands of TLB misses per step).
struct Rhs<T> {
    data: Vec<T>,
    k: usize,
    n: usize,
    /// Columns per panel (`n` when the operand is kept whole).
    width: usize,
}

impl<T: Copy + num_traits::Zero + num_traits::One + 'static> Rhs<T> {
    fn new(m: Vec<T>, k: usize, n: usize) -> Self {
        if k * n * std::mem::size_of::<T>() <= PANEL_BYTES || n <= PANEL {
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

    /// `dst (m × n, rows contiguous) (+)= lhs (m × k) · self`.
    fn mul(&self, dst: &mut [T], accumulate: bool, lhs: (&[T], isize, isize), m: usize) {
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

/// `dst = src`, element by element, into memory that may be uninitialised.
fn write_all<T: Copy>(dst: &mut [MaybeUninit<T>], src: &[T]) {
    assert_eq!(dst.len(), src.len());
    for (d, &v) in dst.iter_mut().zip(src) {
        d.write(v);
    }
}

/// `W_hhᵀ (h × 4h)` from `[W_hh | b] (4h × (h + 1))`, in 16 × 16 tiles: the column-wise walk
/// of a plain double loop missed the cache on every element.
fn transpose_w_hh<T: Copy + num_traits::Zero>(w: &[T], g4: usize, h: usize) -> Vec<T> {
    const TILE: usize = 16;
    let ws = h + 1;
    let mut wt = vec![T::zero(); h * g4];
    for q0 in (0..g4).step_by(TILE) {
        let q1 = (q0 + TILE).min(g4);
        for j0 in (0..h).step_by(TILE) {
            // Writes run along rows of wt (contiguous); reads step by h + 1 values, which
            // unlike wt's 4h (a power of two times 4 bytes) do not all map to one cache set.
            for j in j0..(j0 + TILE).min(h) {
                for (q, d) in (q0..q1).zip(&mut wt[j * g4 + q0..j * g4 + q1]) {
                    *d = w[q * ws + j];
                }
            }
        }
    }
    wt
}

impl CustomOp3 for LstmSeq {
    fn name(&self) -> &'static str {
        "lstm-seq"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, t_len, d) = l1.shape().dims3()?;
        let (g4, cols) = l2.shape().dims2()?;
        let h = g4 / 4;
        if cols != d + h + 1 {
            candle_core::bail!(
                "lstm-seq: [W_ih | W_hh | b] is {g4}×{cols}, want {g4}×{}",
                d + h + 1
            )
        }
        let shape = Shape::from(b * t_len * h + b * h);
        let out = match (s1, s2, s3) {
            (CpuStorage::F32(x), CpuStorage::F32(w), CpuStorage::F32(hc)) => {
                CpuStorage::F32(self.fwd_from_input(
                    contiguous(x, l1)?,
                    contiguous(w, l2)?,
                    contiguous(hc, l3)?,
                    (b, t_len, d, h),
                )?)
            }
            (CpuStorage::F64(x), CpuStorage::F64(w), CpuStorage::F64(hc)) => {
                CpuStorage::F64(self.fwd_from_input(
                    contiguous(x, l1)?,
                    contiguous(w, l2)?,
                    contiguous(hc, l3)?,
                    (b, t_len, d, h),
                )?)
            }
            _ => candle_core::bail!("lstm-seq supports f32 and f64 inputs of one dtype"),
        };
        Ok((out, shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        wcat: &Tensor,
        hc0: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, dhc0) = match x.dtype() {
            DType::F32 => self.bwd_impl::<f32>(x, wcat, hc0, res, grad_res)?,
            DType::F64 => self.bwd_impl::<f64>(x, wcat, hc0, res, grad_res)?,
            d => candle_core::bail!("lstm-seq backward: unsupported dtype {d:?}"),
        };
        Ok((Some(dx), dw, Some(dhc0)))
    }
}

/// `[W_ih | W_hh | b] (4h × (d + h + 1))` split into `W_ih (4h × d)` and the next `rec`
/// columns of each row (`h + 1`: `[W_hh | b]`; `h`: `W_hh` alone), each contiguous.
fn split_weights<T: Copy>(wcat: &[T], g4: usize, d: usize, rec: usize) -> (Vec<T>, Vec<T>) {
    let cols = wcat.len() / g4.max(1);
    let mut w_ih = Vec::with_capacity(g4 * d);
    let mut w_rec = Vec::with_capacity(g4 * rec);
    for row in wcat.chunks_exact(cols) {
        w_ih.extend_from_slice(&row[..d]);
        w_rec.extend_from_slice(&row[d..d + rec]);
    }
    (w_ih, w_rec)
}

impl LstmSeq {
    /// The input projection `xp = x·W_ihᵀ` (the fused linear op's row blocks, so the same bits
    /// as [`linear_fused`](super::layers::linear_fused)), then the recurrence.
    fn fwd_from_input<T: LstmFloat>(
        &self,
        x: &[T],
        wcat: &[T],
        hc0: &[T],
        (b, t_len, d, h): (usize, usize, usize, usize),
    ) -> Result<Vec<T>> {
        let (w_ih, w_rec) = split_weights(wcat, 4 * h, d, h + 1);
        let xp = super::fused_linear::forward_values(x, &w_ih, None, 4 * h);
        self.fwd(&xp, &w_rec, hc0, t_len, b, h)
    }

    fn bwd_impl<T: LstmFloat>(
        &self,
        x: &Tensor,
        wcat: &Tensor,
        hc0: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Tensor, Option<Tensor>, Tensor)> {
        let (b, t_len, d) = x.dims3()?;
        let g4 = wcat.dim(0)?;
        let h = g4 / 4;
        // d[W_ih | W_hh | b] only when the weights are tracked (not through an inference view)
        let weights = wcat.track_op();
        let ws = h + 1;
        let dev = x.device().clone();
        let s = self.saved.lock().expect("lstm saved state");
        let rpc = s.rows_per_chunk;
        let Some(chunks) = T::unwrap(&s.chunks) else {
            candle_core::bail!("lstm-seq backward: no saved forward pass of this dtype")
        };
        let grad_res = grad_res.to_dtype(T::DTYPE)?.contiguous()?;
        let (gr_st, gr_l) = grad_res.storage_and_layout();
        let gr = cpu_slice::<T>(&gr_st, gr_l)?;
        let (gr_hs, gr_c) = gr.split_at(b * t_len * h);
        let (w_st, w_l) = wcat.storage_and_layout(); // [W_ih | W_hh | b] row-major
                                                     // W_ih, and W_hh (4h × h) contiguous without the bias column: with columns 16-aligned
                                                     // the per-step GEMM reads it in place instead of repacking 4h × h values at every step.
        let (w_ih, w_hh) = split_weights(cpu_slice::<T>(&w_st, w_l)?, g4, d, h);
        drop(w_st);
        let (res_st, res_l) = res.storage_and_layout(); // forward output
        let hs_all = &cpu_slice::<T>(&res_st, res_l)?[..b * t_len * h];
        let (hc_st, hc_l) = hc0.storage_and_layout();
        let h0_all = &cpu_slice::<T>(&hc_st, hc_l)?[..b * h];
        let w_packed = Rhs::new(w_hh, g4, h);
        let mut dxp = vec![T::zero(); b * t_len * g4];
        let mut dh0 = vec![T::zero(); b * h];
        let mut dc0 = vec![T::zero(); b * h];
        // Each chunk returns its part of d[W_hh | b] (4h × (h + 1)).
        let work: Vec<_> = dxp
            .chunks_mut(rpc * t_len * g4)
            .zip(dh0.chunks_mut(rpc * h))
            .zip(dc0.chunks_mut(rpc * h))
            .zip(chunks.iter())
            .collect();
        let dw_parts: Vec<Vec<T>> = run_chunks(work, |ci, (((dx, dh_out), dc_out), saved)| {
            let r0 = ci * rpc;
            let n = dh_out.len() / h;
            let (gates, cells) = (&saved.gates, &saved.cells);
            let mut dh_next = vec![T::zero(); n * h];
            // The final cell state's gradient enters through the output's tail.
            let mut dc_next: Vec<T> = gr_c[r0 * h..(r0 + n) * h].to_vec();
            let mut tc = vec![T::zero(); h];
            let mut dw = vec![T::zero(); g4 * ws];
            // The bias column of d[W_hh | b], summed contiguously and written in at the end.
            let mut db = vec![T::zero(); g4];
            let row_stride = t_len * g4; // dx rows: (r, t, 4h)
            for t in (0..t_len).rev() {
                for r in 0..n {
                    let dgr = &mut dx[r * row_stride + t * g4..][..g4];
                    T::bwd_row(
                        &gates[(t * n + r) * g4..(t * n + r + 1) * g4],
                        &cells[((t + 1) * n + r) * h..((t + 1) * n + r + 1) * h],
                        &cells[(t * n + r) * h..(t * n + r + 1) * h],
                        &gr_hs[((r0 + r) * t_len + t) * h..][..h],
                        dgr,
                        &dh_next[r * h..(r + 1) * h],
                        &mut dc_next[r * h..(r + 1) * h],
                        &mut tc,
                    );
                    for (d, &v) in db.iter_mut().zip(dgr.iter()) {
                        *d += v;
                    }
                }
                // dh_{t-1} (n × h) = dgates_t (n × 4h, the rows of dx at step t) · W_hh (4h × h).
                w_packed.mul(
                    &mut dh_next,
                    false,
                    (&dx[t * g4..], 1, row_stride as isize),
                    n,
                );
            }
            dh_out.copy_from_slice(&dh_next);
            dc_out.copy_from_slice(&dc_next);
            if !weights {
                return Vec::new();
            }
            for (q, &v) in db.iter().enumerate() {
                dw[q * ws + h] = v;
            }
            // dW_hh (4h × h) = Σ_{r,t} dgates[r,t]ᵀ · h[r,t-1], one GEMM over the chunk's
            // (n·T) rows; h[r,-1] is the initial state.
            let mut hprev = vec![T::zero(); n * t_len * h];
            for r in 0..n {
                let dst = &mut hprev[r * t_len * h..(r + 1) * t_len * h];
                dst[..h].copy_from_slice(&h0_all[(r0 + r) * h..(r0 + r + 1) * h]);
                let src = &hs_all[(r0 + r) * t_len * h..(r0 + r + 1) * t_len * h];
                dst[h..].copy_from_slice(&src[..(t_len - 1) * h]);
            }
            matmul(
                &mut dw,
                ws,
                false,
                dx,
                g4 as isize,
                1,
                &hprev,
                1,
                h as isize,
                g4,
                h,
                n * t_len,
            );
            dw
        });
        drop(s);
        let mut dw = dw_parts.into_iter();
        let mut acc = dw.next().unwrap_or_else(|| vec![T::zero(); g4 * ws]);
        for part in dw {
            for (a, v) in acc.iter_mut().zip(part) {
                *a += v;
            }
        }
        // Through the input projection: dx = dxp·W_ih, dW_ih = dxpᵀ·x (the fused linear op's
        // blocks, the same sums as before it was folded in here).
        let (dx, dw_ih) = with_values::<T, _>(x, |xv| {
            let (dx, dw_ih, _) =
                super::fused_linear::backward_values(xv, &w_ih, &dxp, g4, false, weights);
            (dx, dw_ih)
        })?;
        let dw = weights
            .then(|| {
                let mut dw = Vec::with_capacity(g4 * (d + ws));
                for (a, r) in dw_ih.chunks_exact(d.max(1)).zip(acc.chunks_exact(ws)) {
                    dw.extend_from_slice(&a[..d]);
                    dw.extend_from_slice(r);
                }
                Tensor::from_vec(dw, (g4, d + ws), &dev)
            })
            .transpose()?;
        let dx = Tensor::from_vec(dx, (b, t_len, d), &dev)?;
        let dhc0 = Tensor::cat(
            &[
                Tensor::from_vec(dh0, (1, b, h), &dev)?,
                Tensor::from_vec(dc0, (1, b, h), &dev)?,
            ],
            0,
        )?;
        Ok((dx, dw, dhc0))
    }
}

/// Run the fused LSTM layer: `x: (B, T, D)` the input, `w_ih: (4H, D)`, `w_hh: (4H, H)`,
/// `bias: (4H)` (the summed input and recurrent gate biases), `h0`, `c0: (B, H)`. The input
/// projection runs inside the op, so its `(B, T, 4H)` result never becomes a tensor of the
/// graph (no gradient buffer to zero-fill and add to).
/// Returns `(outputs (B, T, H), h_T, c_T)`; the outputs and `c_T` are contiguous views of the
/// op's result, `h_T` a strided view of the outputs.
pub fn lstm_seq(
    x: &Tensor,
    w_ih: &Tensor,
    w_hh: &Tensor,
    bias: &Tensor,
    h0: &Tensor,
    c0: &Tensor,
) -> Result<(Tensor, Tensor, Tensor)> {
    let (b, t_len, _) = x.dims3()?;
    let g4 = w_hh.dim(0)?;
    let h = g4 / 4;
    let hc0 = Tensor::stack(&[h0, c0], 0)?.contiguous()?;
    let op = LstmSeq {
        saved: Mutex::new(Saved::default()),
    };
    let out = x.contiguous()?.apply_op3_arc(
        &Tensor::cat(&[w_ih, w_hh, &bias.reshape((g4, 1))?], 1)?.contiguous()?,
        &hc0,
        std::sync::Arc::new(Box::new(op)),
    )?;
    let hs = out.narrow(0, 0, b * t_len * h)?.reshape((b, t_len, h))?;
    let h_last = hs.narrow(1, t_len - 1, 1)?.squeeze(1)?;
    let c_last = out.narrow(0, b * t_len * h, b * h)?.reshape((b, h))?;
    Ok((hs, h_last, c_last))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::{simd_on, Isa};

    /// A matrix above [`PANEL_BYTES`] is stored in column panels and multiplied panel by panel;
    /// the products equal one GEMM over the whole matrix (to rounding: the GEMM may split the
    /// sums differently), overwriting or accumulating, with a strided left operand.
    #[test]
    fn panels_multiply_as_the_whole_matrix() {
        let (m, k, n) = (5, 600, 2_410); // 5.8 MB of f32: panels, the last one narrower
        let mut state = 7u64;
        let mut rnd = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let w: Vec<f32> = (0..k * n).map(|_| rnd()).collect();
        // lhs rows 2k apart (every other row of a bigger matrix)
        let lhs: Vec<f32> = (0..2 * m * k).map(|_| rnd()).collect();
        let start: Vec<f32> = (0..m * n).map(|_| rnd()).collect();
        let rhs = Rhs::new(w.clone(), k, n);
        assert_eq!(rhs.width, PANEL);
        for accumulate in [false, true] {
            let mut want = start.clone();
            matmul(
                &mut want,
                n,
                accumulate,
                &lhs,
                1,
                2 * k as isize,
                &w,
                1,
                n as isize,
                m,
                n,
                k,
            );
            let mut got = start.clone();
            rhs.mul(&mut got, accumulate, (&lhs, 1, 2 * k as isize), m);
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
            }
        }
        // Small matrices are kept whole.
        assert_eq!(Rhs::new(vec![0f32; 256 * 1024], 256, 1024).width, 1024);
    }

    /// The dispatched (AVX-512 or AVX2 where the CPU has it) and portable row loops give the
    /// same bits, and the fast f32 gate functions stay within 2e-7 of the f64 ones.
    #[test]
    fn row_loops_agree_across_instruction_sets() {
        let h = 37;
        let mut state = 12345u64;
        let mut rnd = |scale: f32| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.0 * scale
        };
        let g0: Vec<f32> = (0..4 * h).map(|_| rnd(6.0)).collect();
        let cp: Vec<f32> = (0..h).map(|_| rnd(2.0)).collect();
        let (mut g1, mut g2) = (g0.clone(), g0.clone());
        let (mut c1, mut c2, mut h1, mut h2) =
            (vec![0f32; h], vec![0f32; h], vec![0f32; h], vec![0f32; h]);
        let mut tc = vec![0f32; h];
        <f32 as LstmFloat>::fwd_row(&mut g1, &cp, &mut c1, &mut h1, &mut tc);
        fwd_row::<f32>(&mut g2, &cp, &mut c2, &mut h2, &mut tc);
        assert_eq!((&g1, &c1, &h1), (&g2, &c2, &h2));
        for (&a, &x) in g1.iter().zip(&g0).take(2 * h) {
            let exact = 1.0 / (1.0 + (-(x as f64)).exp());
            assert!(
                (a as f64 - exact).abs() < 2e-7,
                "sigmoid({x}) = {a}, exact {exact}"
            );
        }
        for (&a, &x) in g1.iter().zip(&g0).skip(2 * h).take(h) {
            assert!(
                (a as f64 - (x as f64).tanh()).abs() < 2e-7,
                "tanh({x}) = {a}"
            );
        }
        let go: Vec<f32> = (0..h).map(|_| rnd(1.0)).collect();
        let dhn: Vec<f32> = (0..h).map(|_| rnd(1.0)).collect();
        let dc0: Vec<f32> = (0..h).map(|_| rnd(1.0)).collect();
        let (mut d1, mut d2) = (vec![0f32; 4 * h], vec![0f32; 4 * h]);
        let dc_start = dc0.clone();
        let (mut dc1, mut dc2) = (dc0.clone(), dc0);
        <f32 as LstmFloat>::bwd_row(&g1, &c1, &cp, &go, &mut d1, &dhn, &mut dc1, &mut tc);
        bwd_row::<f32>(&g1, &c1, &cp, &go, &mut d2, &dhn, &mut dc2, &mut tc);
        assert_eq!((&d1, &dc1), (&d2, &dc2));
        // Each instruction set the CPU has gives the same bits too.
        for isa in [Isa::Avx512, Isa::Avx2, Isa::Base] {
            let (mut g3, mut c3, mut h3) = (g0.clone(), vec![0f32; h], vec![0f32; h]);
            let ran = simd_on(
                isa,
                #[inline(always)]
                || fwd_row::<f32>(&mut g3, &cp, &mut c3, &mut h3, &mut tc),
            );
            if ran.is_none() {
                continue;
            }
            assert_eq!((&g3, &c3, &h3), (&g2, &c2, &h2), "{isa:?}");
            let (mut d3, mut dc3) = (vec![0f32; 4 * h], dc_start.clone());
            simd_on(
                isa,
                #[inline(always)]
                || bwd_row::<f32>(&g1, &c1, &cp, &go, &mut d3, &dhn, &mut dc3, &mut tc),
            );
            assert_eq!((&d3, &dc3), (&d2, &dc2), "{isa:?}");
        }
        // Extreme inputs stay finite and saturate.
        let mut v = vec![-1e4f32, -100.0, 100.0, 1e4, 0.0];
        f32::sigmoid_slice(&mut v);
        assert_eq!(&v[2..], &[1.0, 1.0, 0.5]);
        assert!(v[..2].iter().all(|&x| (0.0..1e-37).contains(&x)));
        let mut t = vec![-1e4f32, 1e4, 0.0];
        f32::tanh_slice(&mut t);
        assert_eq!(t, vec![-1.0, 1.0, 0.0]);
    }
}
