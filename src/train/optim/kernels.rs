//! The fused in-place AdamW update on the CPU: the two moments and the weight step as candle
//! in-place ops reading the gradient where it lies (no temporaries), and the squared gradient
//! norm read in place. The updates are elementwise, so they run in blocks on candle's pool in
//! the widest vector instructions the CPU has, with the same bits as one plain loop.

use candle_core::{CpuStorage, DType, InplaceOp2, InplaceOp3, Layout, Storage, Tensor, WithDType};

use crate::cpu::{contiguous, run_chunks, simd};

/// Values per block of the elementwise updates (64 KiB of f32 per operand).
const BLOCK: usize = 1 << 14;

/// `f(dst_block, [src_block; N])` over blocks of [`BLOCK`] values of `dst` and the sources
/// (each as long as `dst`), on candle's pool (a tensor of one block runs on the calling
/// thread), compiled for the CPU's vector instructions. Elementwise `f` gives the same values
/// whatever the blocks.
fn blocks<T: Send + Sync, const N: usize>(
    dst: &mut [T],
    src: [&[T]; N],
    f: impl Fn(&mut [T], [&[T]; N]) + Sync,
) {
    let items: Vec<_> = dst.chunks_mut(BLOCK).enumerate().collect();
    run_chunks(items, |_, (i, d)| {
        let s = src.map(|x| &x[i * BLOCK..][..d.len()]);
        simd(
            #[inline(always)]
            || f(d, s),
        )
    });
}

/// Whether `t` can join the fused in-place update of `w`: both contiguous on the CPU with
/// the same float dtype (f32 or f64) and shape.
pub(super) fn fused_ok(w: &Tensor, t: &Tensor) -> bool {
    w.device().is_cpu()
        && matches!(w.dtype(), DType::F32 | DType::F64)
        && t.dtype() == w.dtype()
        && t.shape() == w.shape()
        && w.is_contiguous()
        && t.is_contiguous()
}

/// `Σ x²` in f64 of a contiguous CPU f32/f64 tensor, read in place (`None` otherwise).
pub(super) fn cpu_sum_sq(t: &Tensor) -> Option<f64> {
    if !t.device().is_cpu() {
        return None;
    }
    let (st, l) = t.storage_and_layout();
    let Storage::Cpu(c) = &*st else { return None };
    match c {
        CpuStorage::F32(v) => Some(
            contiguous(v, l)
                .ok()?
                .iter()
                .map(|&x| (x as f64) * (x as f64))
                .sum(),
        ),
        CpuStorage::F64(v) => Some(contiguous(v, l).ok()?.iter().map(|&x| x * x).sum()),
        _ => None,
    }
}

/// Floats of the fused update, with mutable access to their CPU storage.
pub(super) trait AdamFloat: WithDType + num_traits::Float + Send + Sync {
    fn slice_mut(s: &mut CpuStorage) -> candle_core::Result<&mut [Self]>;
}

impl AdamFloat for f32 {
    fn slice_mut(s: &mut CpuStorage) -> candle_core::Result<&mut [f32]> {
        match s {
            CpuStorage::F32(v) => Ok(v),
            _ => candle_core::bail!("adamw: dtype mismatch"),
        }
    }
}

impl AdamFloat for f64 {
    fn slice_mut(s: &mut CpuStorage) -> candle_core::Result<&mut [f64]> {
        match s {
            CpuStorage::F64(v) => Ok(v),
            _ => candle_core::bail!("adamw: dtype mismatch"),
        }
    }
}

/// The contiguous values of an in-place op's destination.
pub(super) fn dst_slice<'a, T: AdamFloat>(
    s: &'a mut CpuStorage,
    l: &Layout,
) -> candle_core::Result<&'a mut [T]> {
    let Some((a, b)) = l.contiguous_offsets() else {
        candle_core::bail!("adamw: non-contiguous operand")
    };
    Ok(&mut T::slice_mut(s)?[a..b])
}

/// The contiguous values of a source operand, which must be `len` long.
pub(super) fn src_slice<'a, T: AdamFloat>(
    s: &'a CpuStorage,
    l: &Layout,
    len: usize,
) -> candle_core::Result<&'a [T]> {
    let v = contiguous(T::cpu_storage_as_slice(s)?, l)?;
    if v.len() != len {
        candle_core::bail!("adamw: operand sizes differ")
    }
    Ok(v)
}

/// In place: `m ← β·m + (1 − β)·(s·g)` (or `(s·g)²` for the second moment).
pub(super) struct Moment {
    pub(super) beta: f64,
    pub(super) scale: f64,
    pub(super) square: bool,
}

impl Moment {
    fn run<T: AdamFloat>(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        let m = dst_slice::<T>(s1, l1)?;
        let g = src_slice::<T>(s2, l2, m.len())?;
        let beta = T::from(self.beta).expect("float");
        let one_m = T::from(1.0 - self.beta).expect("float");
        let s = T::from(self.scale).expect("float");
        if self.square {
            blocks(m, [g], |m, [g]| {
                for (m, &g) in m.iter_mut().zip(g) {
                    let g = g * s;
                    *m = *m * beta + g * g * one_m;
                }
            });
        } else {
            blocks(m, [g], |m, [g]| {
                for (m, &g) in m.iter_mut().zip(g) {
                    *m = *m * beta + g * s * one_m;
                }
            });
        }
        Ok(())
    }
}

impl InplaceOp2 for Moment {
    fn name(&self) -> &'static str {
        "adamw-moment"
    }
    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        match s2 {
            CpuStorage::F32(_) => self.run::<f32>(s1, l1, s2, l2),
            CpuStorage::F64(_) => self.run::<f64>(s1, l1, s2, l2),
            _ => candle_core::bail!("adamw: f32 or f64 only"),
        }
    }
}

/// In place: `w ← w·(1 − lr·λ) − lr · (m / bc1) / (√(v / bc2) + ε)`.
pub(super) struct Apply {
    pub(super) lr: f64,
    pub(super) decay: f64,
    pub(super) bc1: f64,
    pub(super) bc2: f64,
    pub(super) eps: f64,
}

impl Apply {
    #[allow(clippy::too_many_arguments)]
    fn run<T: AdamFloat>(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<()> {
        let w = dst_slice::<T>(s1, l1)?;
        let m = src_slice::<T>(s2, l2, w.len())?;
        let v = src_slice::<T>(s3, l3, w.len())?;
        let keep = T::from(1.0 - self.lr * self.decay).expect("float");
        let lr = T::from(self.lr).expect("float");
        let ibc1 = T::from(1.0 / self.bc1).expect("float");
        let ibc2 = T::from(1.0 / self.bc2).expect("float");
        let eps = T::from(self.eps).expect("float");
        blocks(w, [m, v], |w, [m, v]| {
            for ((w, &m), &v) in w.iter_mut().zip(m).zip(v) {
                *w = *w * keep - lr * (m * ibc1) / ((v * ibc2).sqrt() + eps);
            }
        });
        Ok(())
    }
}

impl InplaceOp3 for Apply {
    fn name(&self) -> &'static str {
        "adamw-apply"
    }
    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<()> {
        match s2 {
            CpuStorage::F32(_) => self.run::<f32>(s1, l1, s2, l2, s3, l3),
            CpuStorage::F64(_) => self.run::<f64>(s1, l1, s2, l2, s3, l3),
            _ => candle_core::bail!("adamw: f32 or f64 only"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// The updates in blocks on the pool (three blocks and a tail) give the bits of one plain
    /// loop over the same formulas.
    #[test]
    fn blocks_give_the_bits_of_one_loop() {
        let n = 3 * BLOCK + 7;
        let val = |i: usize, a: f32| ((i as f32 * a).sin() + 0.1) * 0.3;
        let (g0, m0, v0, w0): (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) = (
            (0..n).map(|i| val(i, 0.37)).collect(),
            (0..n).map(|i| val(i, 0.11)).collect(),
            (0..n).map(|i| val(i, 0.23).abs()).collect(),
            (0..n).map(|i| val(i, 0.05)).collect(),
        );
        let t = |v: &[f32]| Tensor::new(v, &Device::Cpu).unwrap();
        let (g, m, v, w) = (t(&g0), t(&m0), t(&v0), t(&w0));
        let (b1, b2, s) = (0.9, 0.99, 0.7);
        m.inplace_op2(
            &g,
            &Moment {
                beta: b1,
                scale: s,
                square: false,
            },
        )
        .unwrap();
        v.inplace_op2(
            &g,
            &Moment {
                beta: b2,
                scale: s,
                square: true,
            },
        )
        .unwrap();
        let a = Apply {
            lr: 0.01,
            decay: 0.1,
            bc1: 0.19,
            bc2: 0.0199,
            eps: 1e-6,
        };
        w.inplace_op3(&m, &v, &a).unwrap();
        let (b1f, b2f, sf) = (b1 as f32, b2 as f32, s as f32);
        let (o1, o2) = ((1.0 - b1) as f32, (1.0 - b2) as f32);
        let keep = (1.0 - a.lr * a.decay) as f32;
        let (lr, ibc1, ibc2, eps) = (
            a.lr as f32,
            (1.0 / a.bc1) as f32,
            (1.0 / a.bc2) as f32,
            a.eps as f32,
        );
        let bits = |x: &Tensor| -> Vec<u32> {
            x.to_vec1::<f32>()
                .unwrap()
                .into_iter()
                .map(f32::to_bits)
                .collect()
        };
        let (mut em, mut ev, mut ew) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let mi = m0[i] * b1f + g0[i] * sf * o1;
            let gs = g0[i] * sf;
            let vi = v0[i] * b2f + gs * gs * o2;
            em.push(mi.to_bits());
            ev.push(vi.to_bits());
            ew.push((w0[i] * keep - lr * (mi * ibc1) / ((vi * ibc2).sqrt() + eps)).to_bits());
        }
        assert_eq!(bits(&m), em);
        assert_eq!(bits(&v), ev);
        assert_eq!(bits(&w), ew);
    }
}
