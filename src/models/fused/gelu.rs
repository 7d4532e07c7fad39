//! `GELU(x + bias)` (erf form): one pass forward, one backward.

use candle_core::{CpuStorage, CustomOp2, DType, Layout, Shape, Tensor};

use super::{row_blocks, t, tensor, values, KFloat};
use crate::cpu::{contiguous, simd, with_values};
use crate::Result;

struct BiasGelu;

/// `Φ(u)` and `φ(u)` of the standard normal.
#[inline(always)]
fn cdf_pdf<T: KFloat>(u: T) -> (T, T) {
    let half = t::<T>(0.5);
    let cdf = half * (T::one() + (u * t(std::f64::consts::FRAC_1_SQRT_2)).erf_());
    let pdf = (-half * u * u).exp_() * t(0.398_942_280_401_432_7);
    (cdf, pdf)
}

/// `GELU(u) = u·Φ(u)`.
#[inline(always)]
pub(super) fn gelu<T: KFloat>(u: T) -> T {
    u * cdf_pdf(u).0
}

fn gelu_fwd<T: KFloat>(x: &[T], b: &[T]) -> Vec<T> {
    let f = b.len();
    // SAFETY: every row of each block is written.
    let (y, _) = unsafe {
        row_blocks(x, x, f, |xs, _, ys| {
            simd(
                #[inline(always)]
                || {
                    let b = &b[..f];
                    for (xr, yr) in xs.chunks(f).zip(ys.chunks_mut(f)) {
                        let (xr, yr) = (&xr[..f], &mut yr[..f]);
                        for j in 0..f {
                            yr[j].write(gelu(xr[j] + b[j]));
                        }
                    }
                },
            )
        })
    };
    y
}

fn gelu_bwd<T: KFloat>(x: &[T], b: &[T], gr: &[T]) -> (Vec<T>, Vec<T>) {
    let f = b.len();
    // SAFETY: every row of each block is written.
    let (dx, parts) = unsafe {
        row_blocks(x, gr, f, |xs, gs, dxs| {
            simd(
                #[inline(always)]
                || {
                    let mut db = vec![T::zero(); f];
                    let (b, dbs) = (&b[..f], &mut db[..f]);
                    for ((xr, grr), dxr) in xs.chunks(f).zip(gs.chunks(f)).zip(dxs.chunks_mut(f)) {
                        let (xr, grr, dxr) = (&xr[..f], &grr[..f], &mut dxr[..f]);
                        for j in 0..f {
                            let u = xr[j] + b[j];
                            let (cdf, pdf) = cdf_pdf(u);
                            let g = grr[j] * (cdf + u * pdf);
                            dxr[j].write(g);
                            dbs[j] += g;
                        }
                    }
                    db
                },
            )
        })
    };
    let mut db = vec![T::zero(); f];
    for p in parts {
        for j in 0..f {
            db[j] += p[j];
        }
    }
    (dx, db)
}

impl CustomOp2 for BiasGelu {
    fn name(&self) -> &'static str {
        "fused-bias-gelu"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let y = match (s1, s2) {
            (CpuStorage::F32(x), CpuStorage::F32(b)) => {
                CpuStorage::F32(gelu_fwd(contiguous(x, l1)?, contiguous(b, l2)?))
            }
            (CpuStorage::F64(x), CpuStorage::F64(b)) => {
                CpuStorage::F64(gelu_fwd(contiguous(x, l1)?, contiguous(b, l2)?))
            }
            _ => candle_core::bail!("fused-bias-gelu: f32 or f64 operands of one dtype"),
        };
        Ok((y, l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        b: &Tensor,
        _: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        fn go<T: KFloat>(
            x: &Tensor,
            b: &Tensor,
            grad: &Tensor,
        ) -> candle_core::Result<(Tensor, Tensor)> {
            let bv = values::<T>(b)?;
            let (dx, db) = with_values::<T, _>(x, |xs| {
                with_values::<T, _>(grad, |gs| gelu_bwd(xs, &bv, gs))
            })??;
            Ok((tensor(dx, x.shape())?, tensor(db, b.shape())?))
        }
        let (dx, db) = match x.dtype() {
            DType::F64 => go::<f64>(x, b, grad)?,
            _ => go::<f32>(x, b, grad)?,
        };
        Ok((Some(dx), Some(db)))
    }
}

/// `GELU(x + bias)` (erf form) with `bias` over the last dimension of `x`, one pass each way
/// (CPU, f32/f64).
pub fn bias_gelu(x: &Tensor, bias: &Tensor) -> Result<Tensor> {
    Ok(x.contiguous()?.apply_op2(bias, BiasGelu)?)
}
