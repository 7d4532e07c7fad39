//! The CPU linear layer `y = x·wᵀ + b` as one candle custom op with a hand-written backward,
//! run on candle's own CPU pool.
//!
//! candle's matmul runs its GEMM on rayon's pool while its elementwise ops (and the fused
//! kernels) run on its barrier pool; on a small machine the idle threads of one pool spin
//! while the other works, and the bias costs a separate broadcast pass each way (plus a
//! reduction for its gradient). This op splits the rows of `x` (forward, `dx`) and the
//! output features (`dw`, `db`) into blocks, each one single-threaded GEMM on a thread of the
//! barrier pool, with the bias written into the output before the GEMM adds to it. Each
//! element of a result is the same sum in the same order whatever the blocks (see
//! `out_block`), so the results do not depend on the thread count.
//!
//! Used by [`layers::linear`](super::layers::linear) on the CPU in f32/f64;
//! `tests/gradients.rs` checks it against candle's matmul and finite differences.

use candle_core::{CpuStorage, CustomOp2, CustomOp3, DType, Layout, Shape, Tensor};

use super::fused::KFloat;
use std::mem::MaybeUninit;

use crate::cpu::{contiguous, matmul, matmul_into, run_chunks, with_values, written};
use crate::Result;

/// Rows of `x` per block of the forward pass and of `dx`, at least.
const ROW_BLOCK: usize = 256;

/// Rows per block of the forward pass and of `dx` for `n` rows: one block per thread (each
/// block's GEMM packs the whole weight matrix for itself, so more blocks pack it more often),
/// and at least [`ROW_BLOCK`]. Every element is the same sum whatever the blocks.
fn row_block(n: usize) -> usize {
    n.div_ceil(crate::cpu::pool_threads()).max(ROW_BLOCK)
}
/// Output features per block of `dw` and `db` (`o` outputs, `i` inputs). Each block is one GEMM
/// whose depth is the rows of `x`, and every block packs the whole of `x` for it, so the fewer
/// blocks the better: one per thread. The `gemm` crate splits the depth by the depth alone,
/// except in its small-matrix path (both other sides ≤ 64), where the blocks are shorter; so
/// with `i ≤ 64` the blocks keep to at most 64 outputs (64, or 32 or 16 where 64 would leave a
/// thread without one). Either way every element is the same sum in the same order whatever the
/// block size, and the results do not depend on the thread count.
fn out_block(o: usize, i: usize) -> usize {
    let threads = crate::cpu::pool_threads();
    if i > 64 {
        return o.div_ceil(threads).max(1);
    }
    [64, 32]
        .into_iter()
        .find(|&b| o.div_ceil(b) >= threads)
        .unwrap_or(16)
}

/// `y (n × o) = x (n × i) · wᵀ (+ b)`.
pub(super) fn forward_values<T: KFloat>(x: &[T], w: &[T], b: Option<&[T]>, o: usize) -> Vec<T> {
    let n = x.len() / (w.len() / o.max(1)).max(1);
    forward_rows(x, w, b, o, row_block(n))
}

/// [`forward_values`] in blocks of `rb` rows.
fn forward_rows<T: KFloat>(x: &[T], w: &[T], b: Option<&[T]>, o: usize, rb: usize) -> Vec<T> {
    let i = w.len() / o.max(1);
    let n = x.len() / i.max(1);
    let fill = |y: &mut [MaybeUninit<T>]| {
        let items: Vec<(&[T], &mut [MaybeUninit<T>])> =
            x.chunks(rb * i).zip(y.chunks_mut(rb * o)).collect();
        run_chunks(items, |_, (xs, ys)| block(ys, xs, w, b, o));
    };
    // SAFETY: the row blocks cover `y`, and each block is written whole by `block`.
    unsafe { written(n * o, fill) }
}

/// One row block of [`forward_values`]: `ys (rows × o) = xs (rows × i) · wᵀ (+ b)`, every
/// element written: the bias first and the product added to it, or the product alone. The
/// stack's evaluation pass ([`fused::stack`](super::fused::stack)) runs its projections through
/// this too, so both give the same bits.
pub(crate) fn block<T: KFloat>(
    ys: &mut [MaybeUninit<T>],
    xs: &[T],
    w: &[T],
    b: Option<&[T]>,
    o: usize,
) {
    let i = w.len() / o.max(1);
    let rows = ys.len() / o.max(1);
    match b {
        None => matmul_into(ys, xs, 1, i as isize, w, i as isize, 1, rows, o, i),
        Some(b) => {
            for row in ys.chunks_mut(o) {
                for (d, &v) in row.iter_mut().zip(b) {
                    d.write(v);
                }
            }
            // SAFETY: every element was just written (the bias, row by row).
            let ys = unsafe { &mut *(ys as *mut [MaybeUninit<T>] as *mut [T]) };
            matmul(ys, o, true, xs, 1, i as isize, w, i as isize, 1, rows, o, i);
        }
    }
}

/// `(dx, dw, db)`: `dx = g·w`, `dw = gᵀ·x`, `db = Σ rows g`.
/// `dx`, and `dw`, `db` when `weights` (empty otherwise: nothing to differentiate, e.g. an
/// input attribution through a model's detached inference view).
pub(super) fn backward_values<T: KFloat>(
    x: &[T],
    w: &[T],
    g: &[T],
    o: usize,
    bias: bool,
    weights: bool,
) -> (Vec<T>, Vec<T>, Vec<T>) {
    let i = w.len() / o.max(1);
    let n = x.len() / i.max(1);
    let dx = input_grad(g, w, o, row_block(n));
    if !weights {
        return (dx, Vec::new(), Vec::new());
    }
    let (dw, db) = weight_grads(x, g, (o, i), bias, out_block(o, i));
    (dx, dw, db)
}

/// `dx = g·w` of [`backward_values`] in blocks of `rb` rows.
fn input_grad<T: KFloat>(g: &[T], w: &[T], o: usize, rb: usize) -> Vec<T> {
    let i = w.len() / o.max(1);
    let n = g.len() / o.max(1);
    let fill = |dx: &mut [MaybeUninit<T>]| {
        let items: Vec<(&[T], &mut [MaybeUninit<T>])> =
            g.chunks(rb * o).zip(dx.chunks_mut(rb * i)).collect();
        run_chunks(items, |_, (gs, dxs)| {
            let rows = gs.len() / o;
            matmul_into(dxs, gs, 1, o as isize, w, 1, i as isize, rows, i, o);
        });
    };
    // SAFETY: the row blocks cover `dx`, each written whole by its GEMM.
    unsafe { written(n * i, fill) }
}

/// `(dw, db)` of [`backward_values`] in blocks of `ob` output features.
fn weight_grads<T: KFloat>(
    x: &[T],
    g: &[T],
    (o, i): (usize, usize),
    bias: bool,
    ob: usize,
) -> (Vec<T>, Vec<T>) {
    let n = x.len() / i.max(1);
    let mut dw = vec![T::zero(); o * i];
    let mut db = vec![T::zero(); if bias { o } else { 0 }];
    let blocks: Vec<(usize, &mut [T])> = dw.chunks_mut(ob * i).enumerate().collect();
    let sums = run_chunks(blocks, |_, (bi, dws)| {
        let o0 = bi * ob;
        let m = dws.len() / i;
        matmul(
            dws,
            i,
            false,
            &g[o0..],
            o as isize,
            1,
            x,
            1,
            i as isize,
            m,
            i,
            n,
        );
        let mut s = vec![T::zero(); if bias { m } else { 0 }];
        if bias {
            for row in g.chunks(o) {
                for (a, &v) in s.iter_mut().zip(&row[o0..o0 + m]) {
                    *a += v;
                }
            }
        }
        s
    });
    if bias {
        for (bi, s) in sums.into_iter().enumerate() {
            db[bi * ob..][..s.len()].copy_from_slice(&s);
        }
    }
    (dw, db)
}

/// The op without a bias (`x`, `w`) and with one (`x`, `w`, `b`).
struct Linear;

fn out_shape(l1: &Layout, l2: &Layout) -> candle_core::Result<(Shape, usize)> {
    let (n, i) = l1.shape().dims2()?;
    let (o, i2) = l2.shape().dims2()?;
    if i != i2 {
        candle_core::bail!("fused-linear: x is {n}×{i} but w is {o}×{i2}");
    }
    Ok((Shape::from((n, o)), o))
}

impl CustomOp2 for Linear {
    fn name(&self) -> &'static str {
        "fused-linear"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (shape, o) = out_shape(l1, l2)?;
        let y = match (s1, s2) {
            (CpuStorage::F32(x), CpuStorage::F32(w)) => CpuStorage::F32(forward_values(
                contiguous(x, l1)?,
                contiguous(w, l2)?,
                None,
                o,
            )),
            (CpuStorage::F64(x), CpuStorage::F64(w)) => CpuStorage::F64(forward_values(
                contiguous(x, l1)?,
                contiguous(w, l2)?,
                None,
                o,
            )),
            _ => candle_core::bail!("fused-linear: f32 or f64 operands of one dtype"),
        };
        Ok((y, shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, _) = backward(x, w, g, false)?;
        Ok((Some(dx), dw))
    }
}

impl CustomOp3 for Linear {
    fn name(&self) -> &'static str {
        "fused-linear-bias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (shape, o) = out_shape(l1, l2)?;
        let y = match (s1, s2, s3) {
            (CpuStorage::F32(x), CpuStorage::F32(w), CpuStorage::F32(b)) => {
                CpuStorage::F32(forward_values(
                    contiguous(x, l1)?,
                    contiguous(w, l2)?,
                    Some(contiguous(b, l3)?),
                    o,
                ))
            }
            (CpuStorage::F64(x), CpuStorage::F64(w), CpuStorage::F64(b)) => {
                CpuStorage::F64(forward_values(
                    contiguous(x, l1)?,
                    contiguous(w, l2)?,
                    Some(contiguous(b, l3)?),
                    o,
                ))
            }
            _ => candle_core::bail!("fused-linear: f32 or f64 operands of one dtype"),
        };
        Ok((y, shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _: &Tensor,
        _: &Tensor,
        g: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, db) = backward(x, w, g, true)?;
        Ok((Some(dx), dw, db))
    }
}

/// `(dx, dw, db)`; `dw` and `db` only when `w` is tracked.
fn backward(
    x: &Tensor,
    w: &Tensor,
    g: &Tensor,
    bias: bool,
) -> candle_core::Result<(Tensor, Option<Tensor>, Option<Tensor>)> {
    fn go<T: KFloat>(
        x: &Tensor,
        w: &Tensor,
        g: &Tensor,
        bias: bool,
        weights: bool,
    ) -> candle_core::Result<(Vec<T>, Vec<T>, Vec<T>)> {
        let o = w.dim(0)?;
        with_values::<T, _>(x, |xs| {
            with_values::<T, _>(w, |ws| {
                with_values::<T, _>(g, |gs| backward_values(xs, ws, gs, o, bias, weights))
            })
        })??
    }
    fn wrap<T: KFloat>(
        (a, b, c): (Vec<T>, Vec<T>, Vec<T>),
        x: &Tensor,
        w: &Tensor,
        bias: bool,
        weights: bool,
    ) -> candle_core::Result<(Tensor, Option<Tensor>, Option<Tensor>)> {
        let dev = x.device();
        let dw = weights
            .then(|| Tensor::from_vec(b, w.shape(), dev))
            .transpose()?;
        let db = (weights && bias)
            .then(|| Tensor::from_vec(c, w.dim(0)?, dev))
            .transpose()?;
        Ok((Tensor::from_vec(a, x.shape(), dev)?, dw, db))
    }
    let weights = w.track_op();
    match x.dtype() {
        DType::F64 => wrap(go::<f64>(x, w, g, bias, weights)?, x, w, bias, weights),
        _ => wrap(go::<f32>(x, w, g, bias, weights)?, x, w, bias, weights),
    }
}

/// `x (n × i) · wᵀ (o × i) + b (o)` on the CPU in f32/f64 (`x`, `w`, `b` of one dtype).
///
/// ```
/// use candle_core::{Device, Tensor};
/// let dev = Device::Cpu;
/// let x = Tensor::randn(0f32, 1., (300, 7), &dev).unwrap();
/// let w = Tensor::randn(0f32, 1., (5, 7), &dev).unwrap();
/// let b = Tensor::randn(0f32, 1., 5, &dev).unwrap();
/// let y = genolm::models::fused_linear::linear(&x, &w, Some(&b)).unwrap();
/// let r = x.matmul(&w.t().unwrap()).unwrap().broadcast_add(&b).unwrap();
/// let d = (y - r).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
/// assert!(d < 1e-4);
/// ```
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    let (x, w) = (x.contiguous()?, w.contiguous()?);
    Ok(match b {
        Some(b) => x.apply_op3(&w, &b.contiguous()?, Linear)?,
        None => x.apply_op2(&w, Linear)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    /// The weight gradient has the same bits whatever the output block (within `out_block`'s
    /// rule), so training does not depend on the thread count: `x` has 2 100 rows, more than
    /// one depth block of the `gemm` crate on either of its paths.
    #[test]
    fn weight_grads_do_not_depend_on_the_block_size() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let n = 2100;
        for (o, i, sizes) in [(96, 128, vec![16, 32, 48, 96]), (96, 48, vec![16, 32, 64])] {
            let x: Vec<f32> = (0..n * i).map(|_| rng.random_range(-1.0..1.0)).collect();
            let g: Vec<f32> = (0..n * o).map(|_| rng.random_range(-1.0..1.0)).collect();
            let bits = |ob: usize| {
                let (dw, db) = weight_grads(&x, &g, (o, i), true, ob);
                let b: Vec<u32> = dw.iter().chain(&db).map(|v| v.to_bits()).collect();
                b
            };
            let first = bits(sizes[0]);
            for &ob in &sizes[1..] {
                assert!(
                    bits(ob) == first,
                    "o {o}, i {i}: blocks of {ob} against {}",
                    sizes[0]
                );
            }
            assert!(sizes.contains(&out_block(o, i)) || i > 64);
        }
    }

    /// The output and the input gradient have the same bits whatever the row blocks (the
    /// fixed 256 rows of before, or one block per thread of 2, 3 or 16), with and without the
    /// bias, so training does not depend on the thread count either.
    #[test]
    fn rows_do_not_depend_on_the_block_size() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let (n, o, i) = (2100, 96, 128);
        let rnd = |rng: &mut rand_chacha::ChaCha8Rng, len: usize| -> Vec<f32> {
            (0..len).map(|_| rng.random_range(-1.0..1.0)).collect()
        };
        let (x, w, b, g) = (
            rnd(&mut rng, n * i),
            rnd(&mut rng, o * i),
            rnd(&mut rng, o),
            rnd(&mut rng, n * o),
        );
        let bits = |v: Vec<f32>| v.iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
        for bias in [None, Some(&b[..])] {
            let first = bits(forward_rows(&x, &w, bias, o, 256));
            let dx = bits(input_grad(&g, &w, o, 256));
            for rb in [n.div_ceil(2), n.div_ceil(3), n.div_ceil(16), n] {
                assert!(
                    bits(forward_rows(&x, &w, bias, o, rb)) == first,
                    "y, rows {rb}"
                );
                assert!(bits(input_grad(&g, &w, o, rb)) == dx, "dx, rows {rb}");
            }
        }
    }
}
