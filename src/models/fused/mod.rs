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

use candle_core::{CpuStorage, DType, Shape, Tensor, WithDType};
use num_traits::Float;

use crate::cpu::exp_f32;

mod attention;
mod gelu;
mod heads;
mod norm;
pub(crate) mod stack;

pub use attention::self_attention;
pub use gelu::bias_gelu;
pub use norm::layer_norm;

/// Rows per chunk of the row-wise kernels: fixed, so partial sums (the gradients of the
/// gains and biases) are added in the same order whatever the thread count.
const ROWS: usize = 64;

/// `f(x_rows, g_rows, out_rows)` over blocks of [`ROWS`] rows of `d` values of `x` and of `g`
/// (the same length as `x`; pass `x` again where there is no second operand), on candle's
/// pool, into a fresh output of `x.len()` values that is not zero-filled first (a serial
/// `memset` on the main thread otherwise). Returns the output and each block's result, in
/// block order (so partial sums are added in a fixed order).
///
/// # Safety
/// `f` must write every element of the output rows it is given.
unsafe fn row_blocks<T: Copy + Send + Sync, R: Send>(
    x: &[T],
    g: &[T],
    d: usize,
    f: impl Fn(&[T], &[T], &mut [std::mem::MaybeUninit<T>]) -> R + Sync,
) -> (Vec<T>, Vec<R>) {
    let mut parts = Vec::new();
    // SAFETY: the blocks cover the output and `f` writes all of each (the caller's contract).
    let out = unsafe {
        crate::cpu::written(x.len(), |out| {
            let blocks: Vec<_> = x
                .chunks(ROWS * d)
                .zip(g.chunks(ROWS * d))
                .zip(out.chunks_mut(ROWS * d))
                .collect();
            parts = crate::cpu::run_chunks(blocks, |_, ((xs, gs), os)| f(xs, gs, os));
        })
    };
    (out, parts)
}

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
