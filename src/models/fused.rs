//! Fused CPU kernels of the transformer block, each one candle custom op with a hand-written
//! backward pass: [`layer_norm`], [`bias_gelu`] and [`self_attention`] (RoPE, scaling, the
//! causal and padding masks, softmax, dropout on the probabilities and `P·V`, over all heads).
//!
//! Composed of candle primitives, a pre-LN transformer layer costs dozens of elementwise passes
//! over its activations in the forward pass and as many in the backward, each one allocating
//! and (on two cores) synchronising candle's thread pool; attention also splits and merges the
//! heads with transposed copies. Profiled on `transformer_mlm_small` (batch 32 × 128), the GEMMs
//! were about a tenth of a training step. These ops make one pass each way: layer norm and
//! bias + GELU row by row, attention one `(batch, head)` pair at a time (its scores, `t × t`,
//! stay in the thread's cache; the probabilities are kept for the backward pass), reading the
//! heads of `(batch, time, width)` projections in place. Work is split over candle's own CPU
//! pool in chunks whose size does not depend on the thread count, so results do not either.
//!
//! The ops run on the CPU in f32 and f64; [`layers`](super::layers) falls back to the composed
//! versions on other devices and dtypes, for trainable RoPE tables (CLEX) and for DeepLIFT.
//! `tests/gradients.rs` checks values and gradients against the composed versions and finite
//! differences (f64).
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use genolm::models::{fused, layers};
//! let dev = Device::Cpu;
//! let x = Tensor::randn(0f32, 1., (2, 5, 8), &dev).unwrap();
//! let g = Tensor::randn(1f32, 0.1, 8, &dev).unwrap();
//! let b = Tensor::randn(0f32, 0.1, 8, &dev).unwrap();
//! let a = fused::layer_norm(&x, &g, &b, 1e-5).unwrap();
//! let c = layers::layer_norm_composed(&x, &g, &b, 1e-5).unwrap();
//! let d = (a - c).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
//! assert!(d < 1e-5);
//! ```

use std::any::Any;
use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp2, CustomOp3, DType, Layout, Shape, Tensor, WithDType};
use num_traits::Float;

use crate::cpu::{contiguous, exp_f32, matmul, run_chunks, simd, with_values};
use crate::Result;

/// Rows per chunk of the row-wise kernels: fixed, so partial sums (the gradients of the
/// gains and biases) are added in the same order whatever the thread count.
const ROWS: usize = 64;

/// Scores this far below their row's maximum get probability exactly 0: `e^-60 ≈ 1e-26`
/// is far below the rounding of the row's largest term, and exact zeros keep the products
/// of the backward pass out of the (slow) subnormal range.
const CUT: f64 = -60.0;

/// Whether the fused kernels run on `x` (a CPU tensor in f32 or f64).
pub fn applies(x: &Tensor) -> bool {
    x.device().is_cpu() && matches!(x.dtype(), DType::F32 | DType::F64)
}

/// Floats the kernels run in, with their exponential and error function.
pub(crate) trait KFloat:
    WithDType + Float + std::ops::AddAssign + std::ops::MulAssign + Send + Sync
{
    fn exp_(self) -> Self;
    fn erf_(self) -> Self;
    fn cpu_vec(v: Vec<Self>) -> CpuStorage;
}

impl KFloat for f32 {
    #[inline(always)]
    fn exp_(self) -> f32 {
        exp_f32(self)
    }
    /// Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5e-7, the f32 rounding level),
    /// branch-free so that loops over it vectorise.
    #[inline(always)]
    fn erf_(self) -> f32 {
        let a = self.abs();
        let t = 1.0 / (1.0 + 0.327_591_1 * a);
        let p = t
            * (0.254_829_6
                + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152 + t * 1.061_405_4))));
        (1.0 - p * exp_f32(-a * a)).copysign(self)
    }
    fn cpu_vec(v: Vec<f32>) -> CpuStorage {
        CpuStorage::F32(v)
    }
}

impl KFloat for f64 {
    fn exp_(self) -> f64 {
        self.exp()
    }
    fn erf_(self) -> f64 {
        candle_core::cpu::erf::erf_f64(self)
    }
    fn cpu_vec(v: Vec<f64>) -> CpuStorage {
        CpuStorage::F64(v)
    }
}

/// Partial results of the kernels' reductions (sums, maxima over a row): term `i` goes to
/// partial `i % LANES`, and the partials are combined pairwise at the end. A single running sum
/// cannot vectorise (each add waits for the one before); this order can, and it is fixed, so
/// every instruction set and thread count gives the same bits.
const LANES: usize = 16;

/// `op`-reduction of `term(a[i], b[i])` over `i` (see [`LANES`]); `a` and `b` have one length.
#[inline(always)]
fn lane_reduce<T: KFloat>(
    a: &[T],
    b: &[T],
    init: T,
    term: impl Fn(T, T) -> T,
    op: impl Fn(T, T) -> T,
) -> T {
    debug_assert_eq!(a.len(), b.len());
    let mut acc = [init; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for j in 0..LANES {
            acc[j] = op(acc[j], term(x[j], y[j]));
        }
    }
    for (j, (&x, &y)) in ra.iter().zip(rb).enumerate() {
        acc[j] = op(acc[j], term(x, y));
    }
    let mut w = LANES / 2;
    while w > 0 {
        for j in 0..w {
            acc[j] = op(acc[j], acc[j + w]);
        }
        w /= 2;
    }
    acc[0]
}

/// `Σ term(a[i], b[i])` in [`LANES`] partial sums.
#[inline(always)]
fn lane_sum<T: KFloat>(a: &[T], b: &[T], term: impl Fn(T, T) -> T) -> T {
    lane_reduce(a, b, T::zero(), term, |x, y| x + y)
}

fn t<T: KFloat>(x: f64) -> T {
    T::from(x).expect("a float constant")
}

/// The values of `x` as a `Vec<T>` (contiguous, CPU).
fn values<T: KFloat>(x: &Tensor) -> candle_core::Result<Vec<T>> {
    x.contiguous()?.flatten_all()?.to_vec1::<T>()
}

fn tensor<T: KFloat>(v: Vec<T>, shape: &Shape) -> candle_core::Result<Tensor> {
    Tensor::from_vec(v, shape, &candle_core::Device::Cpu)
}

// ---------------------------------------------------------------- layer norm

struct LayerNorm {
    eps: f64,
}

fn ln_fwd<T: KFloat>(x: &[T], g: &[T], b: &[T], eps: f64) -> Vec<T> {
    let d = g.len();
    let mut y = vec![T::zero(); x.len()];
    let chunks: Vec<(&[T], &mut [T])> = x.chunks(ROWS * d).zip(y.chunks_mut(ROWS * d)).collect();
    run_chunks(chunks, |_, (xs, ys)| {
        simd(
            #[inline(always)]
            || {
                for (xr, yr) in xs.chunks(d).zip(ys.chunks_mut(d)) {
                    let (mean, rstd) = moments(xr, eps);
                    for j in 0..d {
                        yr[j] = (xr[j] - mean) * rstd * g[j] + b[j];
                    }
                }
            },
        )
    });
    y
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
    let mut dx = vec![T::zero(); x.len()];
    let chunks: Vec<_> = x
        .chunks(ROWS * d)
        .zip(gr.chunks(ROWS * d))
        .zip(dx.chunks_mut(ROWS * d))
        .collect();
    let parts = run_chunks(chunks, |_, ((xs, gs), dxs)| {
        simd(
            #[inline(always)]
            || {
                let mut dg = vec![T::zero(); d];
                let mut db = vec![T::zero(); d];
                let mut xhat = vec![T::zero(); d];
                let mut dxh = vec![T::zero(); d];
                for ((xr, grr), dxr) in xs.chunks(d).zip(gs.chunks(d)).zip(dxs.chunks_mut(d)) {
                    let (mean, rstd) = moments(xr, eps);
                    for j in 0..d {
                        xhat[j] = (xr[j] - mean) * rstd;
                        dxh[j] = grr[j] * g[j];
                        dg[j] += grr[j] * xhat[j];
                        db[j] += grr[j];
                    }
                    let a = lane_sum(&dxh, &dxh, |v, _| v) / n;
                    let bq = lane_sum(&dxh, &xhat, |v, xh| v * xh) / n;
                    for j in 0..d {
                        dxr[j] = rstd * (dxh[j] - a - xhat[j] * bq);
                    }
                }
                (dg, db)
            },
        )
    });
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

// ---------------------------------------------------------------- bias + GELU

struct BiasGelu;

/// `Φ(u)` and `φ(u)` of the standard normal.
#[inline(always)]
fn cdf_pdf<T: KFloat>(u: T) -> (T, T) {
    let half = t::<T>(0.5);
    let cdf = half * (T::one() + (u * t(std::f64::consts::FRAC_1_SQRT_2)).erf_());
    let pdf = (-half * u * u).exp_() * t(0.398_942_280_401_432_7);
    (cdf, pdf)
}

fn gelu_fwd<T: KFloat>(x: &[T], b: &[T]) -> Vec<T> {
    let f = b.len();
    let mut y = vec![T::zero(); x.len()];
    let chunks: Vec<_> = x.chunks(ROWS * f).zip(y.chunks_mut(ROWS * f)).collect();
    run_chunks(chunks, |_, (xs, ys)| {
        simd(
            #[inline(always)]
            || {
                for (xr, yr) in xs.chunks(f).zip(ys.chunks_mut(f)) {
                    for j in 0..f {
                        let u = xr[j] + b[j];
                        yr[j] = u * cdf_pdf(u).0;
                    }
                }
            },
        )
    });
    y
}

fn gelu_bwd<T: KFloat>(x: &[T], b: &[T], gr: &[T]) -> (Vec<T>, Vec<T>) {
    let f = b.len();
    let mut dx = vec![T::zero(); x.len()];
    let chunks: Vec<_> = x
        .chunks(ROWS * f)
        .zip(gr.chunks(ROWS * f))
        .zip(dx.chunks_mut(ROWS * f))
        .collect();
    let parts = run_chunks(chunks, |_, ((xs, gs), dxs)| {
        simd(
            #[inline(always)]
            || {
                let mut db = vec![T::zero(); f];
                for ((xr, grr), dxr) in xs.chunks(f).zip(gs.chunks(f)).zip(dxs.chunks_mut(f)) {
                    for j in 0..f {
                        let u = xr[j] + b[j];
                        let (cdf, pdf) = cdf_pdf(u);
                        dxr[j] = grr[j] * (cdf + u * pdf);
                        db[j] += dxr[j];
                    }
                }
                db
            },
        )
    });
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

// ---------------------------------------------------------------- self-attention

/// The attention op: its constant inputs (RoPE tables, key bias, dropout mask) and the
/// probabilities its forward pass keeps for the backward.
struct Attention {
    heads: usize,
    causal: bool,
    /// `(t, hd/2)` RoPE tables.
    cos: Tensor,
    sin: Tensor,
    /// `(b, t)` additive key bias (0, or a large negative number for padding).
    bias: Option<Tensor>,
    /// `(b, heads, t, t)` inverted-dropout mask of the probabilities.
    mask: Option<Tensor>,
    /// Keep the probabilities (a backward pass will follow).
    keep: bool,
    /// `Vec<Vec<T>>`: the probabilities of each `(batch, head)`, `t × t`.
    saved: Mutex<Option<Box<dyn Any + Send>>>,
}

/// Shapes of one attention call.
#[derive(Clone, Copy)]
struct Dims {
    b: usize,
    t: usize,
    d: usize,
    heads: usize,
    hd: usize,
}

/// Head `hi` of batch row `bi` of `x: (b, t, d)`, rotated by RoPE and multiplied by `scale`:
/// `t × hd`.
#[inline(always)]
fn rotate<T: KFloat>(
    x: &[T],
    bi: usize,
    hi: usize,
    z: Dims,
    cos: &[T],
    sin: &[T],
    scale: T,
) -> Vec<T> {
    let half = z.hd / 2;
    let mut out = vec![T::zero(); z.t * z.hd];
    for s in 0..z.t {
        let row = &x[(bi * z.t + s) * z.d + hi * z.hd..][..z.hd];
        let (c, sn) = (&cos[s * half..][..half], &sin[s * half..][..half]);
        let o = &mut out[s * z.hd..][..z.hd];
        for i in 0..half {
            let (x1, x2) = (row[i], row[half + i]);
            o[i] = (x1 * c[i] - x2 * sn[i]) * scale;
            o[half + i] = (x1 * sn[i] + x2 * c[i]) * scale;
        }
    }
    out
}

/// The gradient through [`rotate`]: `g (t × hd)` → the gradient of the unrotated head.
#[inline(always)]
fn unrotate<T: KFloat>(g: &mut [T], z: Dims, cos: &[T], sin: &[T], scale: T) {
    let half = z.hd / 2;
    for s in 0..z.t {
        let (c, sn) = (&cos[s * half..][..half], &sin[s * half..][..half]);
        let r = &mut g[s * z.hd..][..z.hd];
        for i in 0..half {
            let (g1, g2) = (r[i], r[half + i]);
            r[i] = (g1 * c[i] + g2 * sn[i]) * scale;
            r[half + i] = (g2 * c[i] - g1 * sn[i]) * scale;
        }
    }
}

/// Write the `t × hd` head `h` of batch row `bi` into `out: (b, t, d)`.
fn scatter<T: KFloat>(out: &mut [T], h: &[T], bi: usize, hi: usize, z: Dims) {
    for s in 0..z.t {
        out[(bi * z.t + s) * z.d + hi * z.hd..][..z.hd].copy_from_slice(&h[s * z.hd..][..z.hd]);
    }
}

/// Rows per block of causal attention's products: the masked half of the score matrix is
/// skipped block by block (a quarter of the length, at most this many rows).
const CAUSAL_BLOCK: usize = 64;

impl Attention {
    /// Blocks of query rows `(r0, r1, keys)`: the rows `r0..r1` need the keys `0..keys` (all of
    /// them without the causal mask; `0..r1` with it).
    fn row_blocks(&self, t: usize) -> Vec<(usize, usize, usize)> {
        if !self.causal {
            return vec![(0, t, t)];
        }
        let bs = (t / 4).clamp(1, CAUSAL_BLOCK);
        (0..t)
            .step_by(bs)
            .map(|r0| (r0, (r0 + bs).min(t), (r0 + bs).min(t)))
            .collect()
    }

    /// Blocks of key columns `(c0, c1, first query)`: the keys `c0..c1` are seen by the queries
    /// from `first query` on (`c0` with the causal mask, 0 without).
    fn col_blocks(&self, t: usize) -> Vec<(usize, usize, usize)> {
        self.row_blocks(t)
            .into_iter()
            .map(|(c0, c1, _)| (c0, c1, if self.causal { c0 } else { 0 }))
            .collect()
    }

    fn dims(&self, shape: &Shape) -> candle_core::Result<Dims> {
        let (b, t, d) = shape.dims3()?;
        Ok(Dims {
            b,
            t,
            d,
            heads: self.heads,
            hd: d / self.heads,
        })
    }

    fn fwd<T: KFloat>(&self, q: &[T], k: &[T], v: &[T], z: Dims) -> candle_core::Result<Vec<T>> {
        let (cos, sin) = (values::<T>(&self.cos)?, values::<T>(&self.sin)?);
        let bias = self.bias.as_ref().map(values::<T>).transpose()?;
        let mask = self.mask.as_ref().map(values::<T>).transpose()?;
        let scale = t::<T>(1.0 / (z.hd as f64).sqrt());
        let tt = z.t * z.t;
        let items: Vec<usize> = (0..z.b * z.heads).collect();
        let res = run_chunks(items, |_, item| {
            simd(
                #[inline(always)]
                || {
                    let (bi, hi) = (item / z.heads, item % z.heads);
                    let qs = rotate(q, bi, hi, z, &cos, &sin, scale);
                    let kr = rotate(k, bi, hi, z, &cos, &sin, T::one());
                    let mut p = vec![T::zero(); tt];
                    for (r0, r1, kend) in self.row_blocks(z.t) {
                        matmul(
                            &mut p[r0 * z.t..],
                            z.t,
                            false,
                            &qs[r0 * z.hd..],
                            1,
                            z.hd as isize,
                            &kr,
                            z.hd as isize,
                            1,
                            r1 - r0,
                            kend,
                            z.hd,
                        );
                    }
                    let cut = t::<T>(CUT);
                    for i in 0..z.t {
                        let row = &mut p[i * z.t..][..z.t];
                        // causal: the keys after the query get probability 0 (not exp of a large
                        // negative number: products of such tiny values go subnormal, which slows
                        // every following multiplication by orders of magnitude)
                        let (live, dead) = row.split_at_mut(if self.causal { i + 1 } else { z.t });
                        dead.fill(T::zero());
                        if let Some(bias) = &bias {
                            for (r, &bb) in live.iter_mut().zip(&bias[bi * z.t..]) {
                                *r += bb;
                            }
                        }
                        let m = lane_reduce(live, live, T::neg_infinity(), |v, _| v, Float::max);
                        for r in live.iter_mut() {
                            let e = *r - m;
                            *r = if e < cut { T::zero() } else { e.exp_() };
                        }
                        let sum = lane_sum(live, live, |v, _| v);
                        let inv = T::one() / sum;
                        for r in live.iter_mut() {
                            *r *= inv;
                        }
                    }
                    let pd: std::borrow::Cow<[T]> = match &mask {
                        Some(m) => p
                            .iter()
                            .zip(&m[item * tt..][..tt])
                            .map(|(&a, &b)| a * b)
                            .collect(),
                        None => std::borrow::Cow::Borrowed(&p),
                    };
                    let mut o = vec![T::zero(); z.t * z.hd];
                    let vh = &v[bi * z.t * z.d + hi * z.hd..];
                    for (r0, r1, kend) in self.row_blocks(z.t) {
                        matmul(
                            &mut o[r0 * z.hd..],
                            z.hd,
                            false,
                            &pd[r0 * z.t..],
                            1,
                            z.t as isize,
                            vh,
                            1,
                            z.d as isize,
                            r1 - r0,
                            z.hd,
                            kend,
                        );
                    }
                    drop(pd);
                    (o, p)
                },
            )
        });
        let mut out = vec![T::zero(); z.b * z.t * z.d];
        let mut probs = Vec::with_capacity(if self.keep { res.len() } else { 0 });
        for (item, (o, p)) in res.into_iter().enumerate() {
            scatter(&mut out, &o, item / z.heads, item % z.heads, z);
            if self.keep {
                probs.push(p);
            }
        }
        if self.keep {
            *self.saved.lock().expect("attention probabilities") = Some(Box::new(probs));
        }
        Ok(out)
    }

    #[allow(clippy::type_complexity)]
    fn bwd<T: KFloat>(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
        let z = self.dims(q.shape())?;
        let saved = self.saved.lock().expect("attention probabilities").take();
        let Some(probs) = saved.and_then(|s| s.downcast::<Vec<Vec<T>>>().ok()) else {
            candle_core::bail!(
                "fused attention: backward without a forward pass that kept its probabilities"
            )
        };
        let (q, k, v, gr) = (
            values::<T>(q)?,
            values::<T>(k)?,
            values::<T>(v)?,
            values::<T>(grad)?,
        );
        let (cos, sin) = (values::<T>(&self.cos)?, values::<T>(&self.sin)?);
        let mask = self.mask.as_ref().map(values::<T>).transpose()?;
        let scale = t::<T>(1.0 / (z.hd as f64).sqrt());
        let tt = z.t * z.t;
        let items: Vec<(usize, Vec<T>)> = probs.into_iter().enumerate().collect();
        let res = run_chunks(items, |_, (item, p)| {
            simd(
                #[inline(always)]
                || {
                    let (bi, hi) = (item / z.heads, item % z.heads);
                    let off = bi * z.t * z.d + hi * z.hd;
                    let (go, vh) = (&gr[off..], &v[off..]);
                    let m = mask.as_ref().map(|m| &m[item * tt..][..tt]);
                    let pd: std::borrow::Cow<[T]> = match m {
                        Some(m) => p.iter().zip(m).map(|(&a, &b)| a * b).collect(),
                        None => std::borrow::Cow::Borrowed(&p),
                    };
                    // dV = Pdᵀ · dO (a causal key j gets gradient from the queries i ≥ j only)
                    let mut dv = vec![T::zero(); z.t * z.hd];
                    for (c0, c1, i0) in self.col_blocks(z.t) {
                        matmul(
                            &mut dv[c0 * z.hd..],
                            z.hd,
                            false,
                            &pd[i0 * z.t + c0..],
                            z.t as isize,
                            1,
                            &go[i0 * z.d..],
                            1,
                            z.d as isize,
                            c1 - c0,
                            z.hd,
                            z.t - i0,
                        );
                    }
                    drop(pd);
                    // dP = (dO · Vᵀ) ⊙ M; dS = P ⊙ (dP − rowsum(P ⊙ dP))
                    let mut ds = vec![T::zero(); tt];
                    for (r0, r1, kend) in self.row_blocks(z.t) {
                        matmul(
                            &mut ds[r0 * z.t..],
                            z.t,
                            false,
                            &go[r0 * z.d..],
                            1,
                            z.d as isize,
                            vh,
                            z.d as isize,
                            1,
                            r1 - r0,
                            kend,
                            z.hd,
                        );
                    }
                    if let Some(m) = m {
                        for (a, &b) in ds.iter_mut().zip(m) {
                            *a *= b;
                        }
                    }
                    for i in 0..z.t {
                        // a causal row's probabilities after the query are exact zeros
                        let live = if self.causal { i + 1 } else { z.t };
                        let (pr, dr) = (&p[i * z.t..][..live], &mut ds[i * z.t..][..z.t]);
                        let (dr, dead) = dr.split_at_mut(live);
                        let delta = lane_sum(pr, dr, |x, y| x * y);
                        for (d, &pp) in dr.iter_mut().zip(pr) {
                            *d = pp * (*d - delta);
                        }
                        dead.fill(T::zero());
                    }
                    // S = (c·Qr)·Krᵀ: dQr = c·dS·Kr, dKr = dSᵀ·(c·Qr)
                    let qs = rotate(&q, bi, hi, z, &cos, &sin, scale);
                    let kr = rotate(&k, bi, hi, z, &cos, &sin, T::one());
                    let mut dq = vec![T::zero(); z.t * z.hd];
                    for (r0, r1, kend) in self.row_blocks(z.t) {
                        matmul(
                            &mut dq[r0 * z.hd..],
                            z.hd,
                            false,
                            &ds[r0 * z.t..],
                            1,
                            z.t as isize,
                            &kr,
                            1,
                            z.hd as isize,
                            r1 - r0,
                            z.hd,
                            kend,
                        );
                    }
                    let mut dk = vec![T::zero(); z.t * z.hd];
                    for (c0, c1, i0) in self.col_blocks(z.t) {
                        matmul(
                            &mut dk[c0 * z.hd..],
                            z.hd,
                            false,
                            &ds[i0 * z.t + c0..],
                            z.t as isize,
                            1,
                            &qs[i0 * z.hd..],
                            1,
                            z.hd as isize,
                            c1 - c0,
                            z.hd,
                            z.t - i0,
                        );
                    }
                    unrotate(&mut dq, z, &cos, &sin, scale);
                    unrotate(&mut dk, z, &cos, &sin, T::one());
                    (dq, dk, dv)
                },
            )
        });
        let n = z.b * z.t * z.d;
        let (mut dq, mut dk, mut dv) = (vec![T::zero(); n], vec![T::zero(); n], vec![T::zero(); n]);
        for (item, (a, b, c)) in res.into_iter().enumerate() {
            let (bi, hi) = (item / z.heads, item % z.heads);
            scatter(&mut dq, &a, bi, hi, z);
            scatter(&mut dk, &b, bi, hi, z);
            scatter(&mut dv, &c, bi, hi, z);
        }
        let sh = Shape::from((z.b, z.t, z.d));
        Ok((tensor(dq, &sh)?, tensor(dk, &sh)?, tensor(dv, &sh)?))
    }
}

impl CustomOp3 for Attention {
    fn name(&self) -> &'static str {
        "fused-attention"
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
        let z = self.dims(l1.shape())?;
        let out = match (s1, s2, s3) {
            (CpuStorage::F32(q), CpuStorage::F32(k), CpuStorage::F32(v)) => {
                f32::cpu_vec(self.fwd(
                    contiguous(q, l1)?,
                    contiguous(k, l2)?,
                    contiguous(v, l3)?,
                    z,
                )?)
            }
            (CpuStorage::F64(q), CpuStorage::F64(k), CpuStorage::F64(v)) => {
                f64::cpu_vec(self.fwd(
                    contiguous(q, l1)?,
                    contiguous(k, l2)?,
                    contiguous(v, l3)?,
                    z,
                )?)
            }
            _ => candle_core::bail!("fused-attention: f32 or f64 operands of one dtype"),
        };
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        _: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dq, dk, dv) = match q.dtype() {
            DType::F64 => self.bwd::<f64>(q, k, v, grad)?,
            _ => self.bwd::<f32>(q, k, v, grad)?,
        };
        Ok((Some(dq), Some(dk), Some(dv)))
    }
}

/// Multi-head self-attention on the projections `q, k, v: (batch, time, width)` (heads side
/// by side in the width): RoPE from the tables `cos, sin: (time, head_dim/2)` on the queries
/// and keys, scores scaled by `1/√head_dim`, the future hidden when `causal`, an additive
/// `key_bias: (batch, time)` (0, or a large negative number for padding), softmax, the
/// inverted-dropout `mask: (batch, heads, time, time)` on the probabilities, and `P·V`;
/// returns `(batch, time, width)` with the heads side by side. Memory: the `t × t`
/// probabilities of every head are kept for the backward pass (use
/// [`blocked_attention`](super::flash::blocked_attention) for long inputs).
#[allow(clippy::too_many_arguments)]
pub fn self_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    heads: usize,
    cos: &Tensor,
    sin: &Tensor,
    causal: bool,
    key_bias: Option<&Tensor>,
    mask: Option<&Tensor>,
) -> Result<Tensor> {
    let (_, _, d) = q.dims3()?;
    if heads == 0 || d % heads != 0 || !(d / heads).is_multiple_of(2) {
        return Err(crate::Error::Config(format!(
            "fused attention: width {d} must split into {heads} heads of an even size"
        )));
    }
    let keep = [q, k, v].iter().any(|x| x.track_op());
    let op = Attention {
        heads,
        causal,
        cos: cos.detach().to_dtype(q.dtype())?,
        sin: sin.detach().to_dtype(q.dtype())?,
        bias: key_bias
            .map(|b| b.detach().to_dtype(q.dtype()))
            .transpose()?,
        mask: mask.map(|m| m.detach().to_dtype(q.dtype())).transpose()?,
        keep,
        saved: Mutex::new(None),
    };
    let (q, k, v) = (q.contiguous()?, k.contiguous()?, v.contiguous()?);
    Ok(q.apply_op3(&k, &v, op)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_erf_is_within_f32_rounding_of_the_exact_one() {
        for i in -400..=400 {
            let x = i as f32 / 50.0;
            let e = candle_core::cpu::erf::erf_f64(x as f64);
            assert!((x.erf_() as f64 - e).abs() < 3e-7, "erf({x})");
        }
    }
}
