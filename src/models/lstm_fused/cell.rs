//! The gate arithmetic of one batch row and step, forward and backward, in f32 (vectorised,
//! branch-free exponential) and f64.

use crate::cpu::{exp_f32, simd};
use candle_core::WithDType;
use num_traits::Float;

use super::{ChunkSaved, Chunks};

/// Floats the fused op runs in, with their gate non-linearities.
pub(super) trait LstmFloat:
    WithDType + Float + std::ops::AddAssign + Send + Sync + crate::models::fused::KFloat
{
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
pub(super) fn fwd_row<T: LstmFloat>(
    g: &mut [T],
    cp: &[T],
    cn: &mut [T],
    hp: &mut [T],
    tc: &mut [T],
) {
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
pub(super) fn bwd_row<T: LstmFloat>(
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
