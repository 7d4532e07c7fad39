//! The fused in-place AdamW update on the CPU: the two moments and the weight step as candle
//! in-place ops reading the gradient where it lies (no temporaries), and the squared gradient
//! norm read in place.

use candle_core::{CpuStorage, DType, InplaceOp2, InplaceOp3, Layout, Storage, Tensor, WithDType};

use crate::cpu::contiguous;

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
pub(super) trait AdamFloat: WithDType + num_traits::Float {
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
            for (m, &g) in m.iter_mut().zip(g) {
                let g = g * s;
                *m = *m * beta + g * g * one_m;
            }
        } else {
            for (m, &g) in m.iter_mut().zip(g) {
                *m = *m * beta + g * s * one_m;
            }
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
        for ((w, &m), &v) in w.iter_mut().zip(m).zip(v) {
            *w = *w * keep - lr * (m * ibc1) / ((v * ibc2).sqrt() + eps);
        }
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
