//! The forward pass (input projection, then the recurrence chunk by chunk) and backpropagation
//! through time.

use std::mem::MaybeUninit;

use crate::cpu::{cpu_slice, matmul, run_chunks, with_values, write_all, written};
use candle_core::{Result, Tensor};

use super::cell::LstmFloat;
use super::rhs::Rhs;
use super::{chunk_count, rows_per_chunk, split_weights, units, ChunkSaved, LstmSeq, COPY_ROWS};

impl LstmSeq {
    /// Forward over all rows: `xp (b, t, 4h)`, the gate bias `(4h)`, `W_hhᵀ (h × 4h)` as the
    /// steps' right operand, `hc0 (2, b, h)`; returns the flat output `(b, t, h)` then `(b, h)`.
    #[allow(clippy::too_many_arguments)]
    fn fwd<T: LstmFloat>(
        &self,
        xp: &[T],
        bias: &[T],
        wt: &Rhs<T>,
        hc0: &[T],
        t_len: usize,
        b: usize,
        h: usize,
    ) -> Result<Vec<T>> {
        let g4 = 4 * h;
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
                if !self.save {
                    return fwd_unsaved((xp, bias, wt, hc0), (hs, c_last), (r0, n, b, t_len, h));
                }
                // The pre-activation gates of every step start as xp + bias, written once here
                // rather than zero-filled and overwritten step by step.
                let mut gates: Vec<T> = Vec::with_capacity(t_len * n * g4);
                for t in 0..t_len {
                    for r in 0..n {
                        let src = &xp[((r0 + r) * t_len + t) * g4..][..g4];
                        gates.extend(src.iter().zip(bias).map(|(&x, &bq)| x + bq));
                    }
                }
                let mut cells = vec![T::zero(); (t_len + 1) * n * h];
                let mut hprev: Vec<T> = hc0[r0 * h..(r0 + n) * h].to_vec();
                cells[..n * h].copy_from_slice(&hc0[(b + r0) * h..(b + r0 + n) * h]);
                let mut tc = vec![T::zero(); h];
                for t in 0..t_len {
                    let g = &mut gates[t * n * g4..(t + 1) * n * g4];
                    let (c_prev, c_next) = cells[t * n * h..(t + 2) * n * h].split_at_mut(n * h);
                    step(wt, g, (c_prev, c_next), &mut hprev, hs, (t, t_len), &mut tc);
                }
                write_all(c_last, &cells[t_len * n * h..]);
                ChunkSaved { gates, cells }
            });
        };
        // SAFETY: the chunks cover `out`; each writes every hidden state of its rows (one row
        // of h values per step) and their final cell states.
        let out = unsafe { written(b * t_len * h + b * h, &mut fill) };
        if self.save {
            let mut s = self.saved.lock().expect("lstm saved state");
            s.rows_per_chunk = rpc;
            s.chunks = T::wrap(saved);
        }
        Ok(out)
    }
}

/// One step `t` of a chunk's rows, shared by both forward passes: `g (n × 4h) += hprev ·
/// W_hhᵀ`, then each row's gates activated in place, `c_next` and `hprev` updated and `h_t`
/// written to the chunk's outputs `hs (n, t_len, h)`.
fn step<T: LstmFloat>(
    wt: &Rhs<T>,
    g: &mut [T],
    (c_prev, c_next): (&[T], &mut [T]),
    hprev: &mut [T],
    hs: &mut [MaybeUninit<T>],
    (t, t_len): (usize, usize),
    tc: &mut [T],
) {
    let h = tc.len();
    let (n, g4) = (hprev.len() / h, 4 * h);
    wt.mul(g, true, (hprev, 1, h as isize), n);
    for r in 0..n {
        let hp = &mut hprev[r * h..(r + 1) * h];
        T::fwd_row(
            &mut g[r * g4..(r + 1) * g4],
            &c_prev[r * h..(r + 1) * h],
            &mut c_next[r * h..(r + 1) * h],
            hp,
            tc,
        );
        write_all(&mut hs[(r * t_len + t) * h..(r * t_len + t + 1) * h], hp);
    }
}

/// The recurrence of one chunk of `n` rows (from row `r0`) when no backward pass will follow
/// (an inference view): the same operations in the same order as the saving pass, so the same
/// bits, but one step's gates (`n × 4h`) and two steps' cell states are all it keeps, reused
/// from step to step in the cache instead of `T` steps' worth (4 MB per chunk at 16 rows × 64
/// steps × 1 024 gates) written once and never read again.
#[allow(clippy::type_complexity)]
fn fwd_unsaved<T: LstmFloat>(
    (xp, bias, wt, hc0): (&[T], &[T], &Rhs<T>, &[T]),
    (hs, c_last): (&mut [MaybeUninit<T>], &mut [MaybeUninit<T>]),
    (r0, n, b, t_len, h): (usize, usize, usize, usize, usize),
) -> ChunkSaved<T> {
    let g4 = 4 * h;
    let mut g = vec![T::zero(); n * g4];
    let mut hprev: Vec<T> = hc0[r0 * h..(r0 + n) * h].to_vec();
    let mut c_prev: Vec<T> = hc0[(b + r0) * h..(b + r0 + n) * h].to_vec();
    let mut c_next = vec![T::zero(); n * h];
    let mut tc = vec![T::zero(); h];
    for t in 0..t_len {
        for (r, gr) in g.chunks_exact_mut(g4).enumerate() {
            let src = &xp[((r0 + r) * t_len + t) * g4..][..g4];
            for ((d, &x), &bq) in gr.iter_mut().zip(src).zip(bias) {
                *d = x + bq;
            }
        }
        step(
            wt,
            &mut g,
            (&c_prev, &mut c_next),
            &mut hprev,
            hs,
            (t, t_len),
            &mut tc,
        );
        std::mem::swap(&mut c_prev, &mut c_next);
    }
    write_all(c_last, &c_prev);
    ChunkSaved {
        gates: Vec::new(),
        cells: Vec::new(),
    }
}

impl LstmSeq {
    /// The input projection `xp = x·W_ihᵀ` (the fused linear op's row blocks, so the same bits
    /// as [`linear_fused`](crate::models::layers::linear_fused)), then the recurrence.
    pub(super) fn fwd_from_input<T: LstmFloat>(
        &self,
        x: &[T],
        wcat: &[T],
        hc0: &[T],
        (b, t_len, d, h): (usize, usize, usize, usize),
    ) -> Result<Vec<T>> {
        let g4 = 4 * h;
        let (w_ih, w_hh) = split_weights(wcat, g4, d, h);
        let bias: Vec<T> = (0..g4).map(|q| wcat[q * (d + h + 1) + d + h]).collect();
        self.fwd_from_parts(x, (&w_ih, &w_hh, &bias), hc0, (b, t_len, h))
    }

    /// The forward pass from the weights as separate, contiguous parts: `x (b, t, d)`,
    /// `W_ih (4h × d)`, `W_hh (4h × h)`, the gate bias `(4h)`, `hc0 (2, b, h)`. An inference
    /// view (nothing tracked, so nothing saved) calls it with the weights as they are, without
    /// first joining `[W_ih | W_hh | b]` into one tensor for the op and splitting it again:
    /// two copies of every weight per layer and batch, 84 MB of fresh memory for a layer of
    /// seed 003's 1 150 units.
    pub(super) fn fwd_from_parts<T: LstmFloat>(
        &self,
        x: &[T],
        (w_ih, w_hh, bias): (&[T], &[T], &[T]),
        hc0: &[T],
        (b, t_len, h): (usize, usize, usize),
    ) -> Result<Vec<T>> {
        let g4 = 4 * h;
        let xp = crate::models::fused_linear::forward_values(x, w_ih, None, g4);
        if !self.save {
            let parts = units::parts::<T>(h, b, chunk_count());
            if parts > 1 {
                let hc = (b, t_len, h);
                return Ok(units::fwd_units(&xp, bias, w_hh, hc0, hc, parts));
            }
        }
        // W_hhᵀ (h × 4h) contiguous: the GEMM reads it as an already packed (column-major)
        // operand instead of repacking 4h × h values at every step.
        let wt = Rhs::transposed(w_hh, g4, h);
        self.fwd(&xp, bias, &wt, hc0, t_len, b, h)
    }

    pub(super) fn bwd_impl<T: LstmFloat>(
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
        // The recurrence, chunk by chunk: each chunk's rows are independent, and every value
        // of a row is the same bits whatever the chunk it lies in.
        let work: Vec<_> = dxp
            .chunks_mut(rpc * t_len * g4)
            .zip(dh0.chunks_mut(rpc * h))
            .zip(dc0.chunks_mut(rpc * h))
            .zip(chunks.iter())
            .collect();
        run_chunks(work, |ci, (((dx, dh_out), dc_out), saved)| {
            let r0 = ci * rpc;
            let n = dh_out.len() / h;
            let (gates, cells) = (&saved.gates, &saved.cells);
            let mut dh_next = vec![T::zero(); n * h];
            // The final cell state's gradient enters through the output's tail.
            let mut dc_next: Vec<T> = gr_c[r0 * h..(r0 + n) * h].to_vec();
            let mut tc = vec![T::zero(); h];
            let row_stride = t_len * g4; // dx rows: (r, t, 4h)
            for t in (0..t_len).rev() {
                for r in 0..n {
                    T::bwd_row(
                        &gates[(t * n + r) * g4..(t * n + r + 1) * g4],
                        &cells[((t + 1) * n + r) * h..((t + 1) * n + r + 1) * h],
                        &cells[(t * n + r) * h..(t * n + r + 1) * h],
                        &gr_hs[((r0 + r) * t_len + t) * h..][..h],
                        &mut dx[r * row_stride + t * g4..][..g4],
                        &dh_next[r * h..(r + 1) * h],
                        &mut dc_next[r * h..(r + 1) * h],
                        &mut tc,
                    );
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
        });
        drop(s);
        let acc = if weights {
            recurrent_weight_grad(&dxp, hs_all, h0_all, (b, t_len, h))
        } else {
            Vec::new()
        };
        // Through the input projection: dx = dxp·W_ih, dW_ih = dxpᵀ·x (the fused linear op's
        // blocks, the same sums as before it was folded in here).
        let (dx, dw_ih) = with_values::<T, _>(x, |xv| {
            let (dx, dw_ih, _) =
                crate::models::fused_linear::backward_values(xv, &w_ih, &dxp, g4, false, weights);
            (dx, dw_ih)
        })?;
        let dw = weights
            .then(|| Tensor::from_vec(join_weights(&dw_ih, &acc, g4, d, ws), (g4, d + ws), &dev))
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

/// `[a | r] (g4 × (d + ws))` from `a (g4 × d)` and `r (g4 × ws)`, in blocks of rows on candle's
/// pool (a copy: the same values whatever the blocks).
fn join_weights<T: Copy + Send + Sync>(a: &[T], r: &[T], g4: usize, d: usize, ws: usize) -> Vec<T> {
    let cols = d + ws;
    if d == 0 {
        return r.to_vec();
    }
    // SAFETY: every output row gets its `d` values of `a` and `ws` of `r`: `cols` in all.
    unsafe {
        written(g4 * cols, |out| {
            let items: Vec<_> = out
                .chunks_mut(COPY_ROWS * cols)
                .zip(a.chunks(COPY_ROWS * d))
                .zip(r.chunks(COPY_ROWS * ws))
                .collect();
            run_chunks(items, |_, ((o, a), r)| {
                for ((o, a), r) in o
                    .chunks_exact_mut(cols)
                    .zip(a.chunks_exact(d))
                    .zip(r.chunks_exact(ws))
                {
                    let (oa, or) = o.split_at_mut(d);
                    write_all(oa, a);
                    write_all(or, r);
                }
            });
        })
    }
}

/// Rows of the batch in each part of the recurrent weights' gradient: half of them (rounded
/// up), whatever the thread count. See [`recurrent_weight_grad`].
fn weight_grad_rows(b: usize) -> usize {
    b.div_ceil(2).max(1)
}

/// `d[W_hh | b]` (4h × (h + 1)) from the gates' gradients `dxp` (rows `(r, t)`, 4h each), the
/// outputs `hs` and the initial state `h0`: for each half of the batch rows (in parallel), the
/// bias column summed over its rows step by step (last step first) and `dW_hh = Σ dgatesᵀ ·
/// h_{t-1}` as one GEMM over its rows' steps; then the halves added. The sums are split the
/// same way on any number of threads, so a seed gives the same weights on a laptop and on a
/// many-core node (the recurrence itself is split one chunk per thread; its values do not
/// depend on the split). Two halves are the split a two-thread machine used when the parts
/// were the recurrence's chunks, so the shipped checkpoints, trained on two threads, keep
/// their bytes.
fn recurrent_weight_grad<T: LstmFloat>(
    dxp: &[T],
    hs: &[T],
    h0: &[T],
    (b, t_len, h): (usize, usize, usize),
) -> Vec<T> {
    let (g4, ws) = (4 * h, h + 1);
    let rows = weight_grad_rows(b);
    let parts: Vec<usize> = (0..b).step_by(rows).collect();
    let mut parts = run_chunks(parts, |_, r0| {
        let n = rows.min(b - r0);
        let row_stride = t_len * g4;
        let dx = &dxp[r0 * row_stride..(r0 + n) * row_stride];
        let mut dw = vec![T::zero(); g4 * ws];
        // the bias column, summed contiguously and written in before the GEMM
        let mut db = vec![T::zero(); g4];
        for t in (0..t_len).rev() {
            for r in 0..n {
                for (d, &v) in db.iter_mut().zip(&dx[r * row_stride + t * g4..][..g4]) {
                    *d += v;
                }
            }
        }
        for (q, &v) in db.iter().enumerate() {
            dw[q * ws + h] = v;
        }
        // h[r, t-1] for every step; h[r, -1] is the initial state
        let mut hprev = vec![T::zero(); n * t_len * h];
        for r in 0..n {
            let dst = &mut hprev[r * t_len * h..(r + 1) * t_len * h];
            dst[..h].copy_from_slice(&h0[(r0 + r) * h..(r0 + r + 1) * h]);
            let src = &hs[(r0 + r) * t_len * h..(r0 + r + 1) * t_len * h];
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
    })
    .into_iter();
    let mut acc = parts.next().unwrap_or_else(|| vec![T::zero(); g4 * ws]);
    for part in parts {
        for (a, v) in acc.iter_mut().zip(part) {
            *a += v;
        }
    }
    acc
}
