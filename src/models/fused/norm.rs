//! Layer normalisation over the last dimension: one pass forward, one backward.

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Shape, Tensor};

use super::{lane_sum, row_blocks, t, tensor, values, KFloat};
use crate::cpu::{contiguous, simd, with_values};
use crate::Result;

struct LayerNorm {
    eps: f64,
}

fn ln_fwd<T: KFloat>(x: &[T], g: &[T], b: &[T], eps: f64) -> Vec<T> {
    let d = g.len();
    // SAFETY: every row of each block is written.
    let (y, _) = unsafe {
        row_blocks(x, x, d, |xs, _, ys| {
            simd(
                #[inline(always)]
                || {
                    for (xr, yr) in xs.chunks(d).zip(ys.chunks_mut(d)) {
                        ln_row(xr, g, b, eps, yr, |o, v| {
                            o.write(v);
                        });
                    }
                },
            )
        })
    };
    y
}

/// One row `xr` normalised, scaled by `g` and shifted by `b`, into `out` (`put(&mut out[j],
/// y_j)` for every `j`).
///
/// Here and in the other row loops, every slice is zipped or cut to the row's length first:
/// then no index needs a bounds check and the loops vectorise (with the checks, or with the
/// output written through a captured slice, they ran one float at a time).
#[inline(always)]
pub(super) fn ln_row<T: KFloat, O>(
    xr: &[T],
    g: &[T],
    b: &[T],
    eps: f64,
    out: &mut [O],
    put: impl Fn(&mut O, T),
) {
    let (mean, rstd) = moments(xr, eps);
    for (((o, &x), &gj), &bj) in out.iter_mut().zip(xr).zip(g).zip(b) {
        put(o, (x - mean) * rstd * gj + bj);
    }
}

/// Mean and `1/√(var + eps)` of a row.
#[inline(always)]
fn moments<T: KFloat>(xr: &[T], eps: f64) -> (T, T) {
    let n = t::<T>(xr.len() as f64);
    let mean = lane_sum(xr, xr, |v, _| v) / n;
    let var = lane_sum(xr, xr, |v, _| (v - mean) * (v - mean)) / n;
    (mean, T::one() / (var + t(eps)).sqrt())
}

/// `(dx, dgamma, dbeta)` of a layer norm.
fn ln_bwd<T: KFloat>(x: &[T], g: &[T], gr: &[T], eps: f64) -> (Vec<T>, Vec<T>, Vec<T>) {
    let d = g.len();
    let n = t::<T>(d as f64);
    // SAFETY: every row of each block is written.
    let (dx, parts) = unsafe {
        row_blocks(x, gr, d, |xs, gs, dxs| {
            simd(
                #[inline(always)]
                || {
                    let mut dg = vec![T::zero(); d];
                    let mut db = vec![T::zero(); d];
                    let mut xhat = vec![T::zero(); d];
                    let mut dxh = vec![T::zero(); d];
                    let (g, dgs, dbs) = (&g[..d], &mut dg[..d], &mut db[..d]);
                    let (xhat, dxh) = (&mut xhat[..d], &mut dxh[..d]);
                    for ((xr, grr), dxr) in xs.chunks(d).zip(gs.chunks(d)).zip(dxs.chunks_mut(d)) {
                        let (xr, grr, dxr) = (&xr[..d], &grr[..d], &mut dxr[..d]);
                        let (mean, rstd) = moments(xr, eps);
                        for j in 0..d {
                            xhat[j] = (xr[j] - mean) * rstd;
                            dxh[j] = grr[j] * g[j];
                            dgs[j] += grr[j] * xhat[j];
                            dbs[j] += grr[j];
                        }
                        let a = lane_sum(dxh, dxh, |v, _| v) / n;
                        let bq = lane_sum(dxh, xhat, |v, xh| v * xh) / n;
                        for j in 0..d {
                            dxr[j].write(rstd * (dxh[j] - a - xhat[j] * bq));
                        }
                    }
                    (dg, db)
                },
            )
        })
    };
    let mut dg = vec![T::zero(); d];
    let mut db = vec![T::zero(); d];
    for (pg, pb) in parts {
        for j in 0..d {
            dg[j] += pg[j];
            db[j] += pb[j];
        }
    }
    (dx, dg, db)
}

impl CustomOp3 for LayerNorm {
    fn name(&self) -> &'static str {
        "fused-layer-norm"
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
        let y = match (s1, s2, s3) {
            (CpuStorage::F32(x), CpuStorage::F32(g), CpuStorage::F32(b)) => {
                CpuStorage::F32(ln_fwd(
                    contiguous(x, l1)?,
                    contiguous(g, l2)?,
                    contiguous(b, l3)?,
                    self.eps,
                ))
            }
            (CpuStorage::F64(x), CpuStorage::F64(g), CpuStorage::F64(b)) => {
                CpuStorage::F64(ln_fwd(
                    contiguous(x, l1)?,
                    contiguous(g, l2)?,
                    contiguous(b, l3)?,
                    self.eps,
                ))
            }
            _ => candle_core::bail!("fused-layer-norm: f32 or f64 operands of one dtype"),
        };
        Ok((y, l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        g: &Tensor,
        _: &Tensor,
        _: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        fn go<T: KFloat>(
            x: &Tensor,
            g: &Tensor,
            grad: &Tensor,
            eps: f64,
        ) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
            let gv = values::<T>(g)?;
            let (dx, dg, db) = with_values::<T, _>(x, |xs| {
                with_values::<T, _>(grad, |gs| ln_bwd(xs, &gv, gs, eps))
            })??;
            Ok((
                tensor(dx, x.shape())?,
                tensor(dg, g.shape())?,
                tensor(db, g.shape())?,
            ))
        }
        let (dx, dg, db) = match x.dtype() {
            DType::F64 => go::<f64>(x, g, grad, self.eps)?,
            _ => go::<f32>(x, g, grad, self.eps)?,
        };
        Ok((Some(dx), Some(dg), Some(db)))
    }
}

/// Layer normalisation over the last dimension of `x` with gain `gamma` and bias `beta`
/// (each of that size), one pass forward and one backward (CPU, f32/f64).
pub fn layer_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f64) -> Result<Tensor> {
    Ok(x.contiguous()?.apply_op3(gamma, beta, LayerNorm { eps })?)
}
