//! The evaluation pass of a whole pre-LN transformer stack on the CPU, a few sequences at a
//! time: every layer of a group of sequences runs on one thread, its activations in that
//! thread's cache.
//!
//! The op-by-op pass (`TransformerStack::forward_t` through [`layer_norm`](super::layer_norm),
//! the fused linear op, [`self_attention`](super::self_attention) and
//! [`bias_gelu`](super::bias_gelu)) makes about fifteen passes over the activations per
//! layer, each a fresh tensor and a round of the thread pool, and merges the heads with a
//! copy. Without a backward pass to serve, none of that is needed: here a group of sequences
//! (`ROW_BLOCK` rows: the fused linear op's block) goes through every layer in buffers reused
//! from layer to layer; the heads write their `P·V` into place, the residual adds and the
//! bias + GELU run on rows still in the cache. Each value is computed by the same kernels in the
//! same order as in the op-by-op pass (the same GEMM calls over the same rows, the same row
//! functions), so the two give the same bits; `tests` in `models::attention` check it.

use super::attention::{Dims, Heads, Scratch};
use super::gelu::gelu;
use super::norm::ln_row;
use super::KFloat;
use crate::cpu::{run_chunks, simd, written};
use crate::models::fused_linear::{self, ROW_BLOCK};
use std::mem::MaybeUninit;

/// One layer's parameters (values, row-major as the model holds them).
pub(crate) struct LayerValues<'a, T> {
    pub ln1: (&'a [T], &'a [T]),
    /// `d × d` each.
    pub wq: &'a [T],
    pub wk: &'a [T],
    pub wv: &'a [T],
    pub wo: &'a [T],
    pub bo: &'a [T],
    pub ln2: (&'a [T], &'a [T]),
    /// `ff × d` and `ff`.
    pub ff1: (&'a [T], &'a [T]),
    /// `d × ff` and `d`.
    pub ff2: (&'a [T], &'a [T]),
}

/// A stack's parameters and the constants of one call.
pub(crate) struct StackValues<'a, T> {
    pub layers: Vec<LayerValues<'a, T>>,
    pub ln_f: Option<(&'a [T], &'a [T])>,
    /// `(t, hd/2)` RoPE tables.
    pub cos: &'a [T],
    pub sin: &'a [T],
    /// `(b, t)` additive key bias (padding), or none.
    pub key_bias: Option<&'a [T]>,
    pub heads: usize,
    pub causal: bool,
    /// Layer-norm epsilon.
    pub eps: f64,
}

/// Sequences per group: as many as fill the fused linear op's row block (at least one).
pub(crate) fn group_size(t: usize) -> usize {
    (ROW_BLOCK / t.max(1)).max(1)
}

/// `y (rows × o) = x (rows × i) · wᵀ (+ b)`, in the fused linear op's row blocks, each by its
/// own block function (so the same GEMM calls).
#[inline(always)]
fn linear<T: KFloat>(y: &mut [T], x: &[T], w: &[T], b: Option<&[T]>, o: usize) {
    let i = w.len() / o;
    for (ys, xs) in y.chunks_mut(ROW_BLOCK * o).zip(x.chunks(ROW_BLOCK * i)) {
        // SAFETY: `MaybeUninit<T>` has the layout of `T`; the block only writes, with values.
        let ys = unsafe { &mut *(ys as *mut [T] as *mut [MaybeUninit<T>]) };
        fused_linear::block(ys, xs, w, b, o);
    }
}

/// Every row of `x` (`d` wide) layer-normalised into `y`.
#[inline(always)]
fn norm<T: KFloat>(y: &mut [T], x: &[T], (g, b): (&[T], &[T]), eps: f64) {
    let d = g.len();
    for (xr, yr) in x.chunks(d).zip(y.chunks_mut(d)) {
        ln_row(xr, g, b, eps, |j, v| yr[j] = v);
    }
}

/// The stack on `h: (b, t, d)`: the final output (after the final norm) and, when `collect`,
/// every layer's output, `(b, t, d)` each.
pub(crate) fn eval<T: KFloat>(
    h: &[T],
    (b, t, d): (usize, usize, usize),
    s: &StackValues<'_, T>,
    collect: bool,
) -> (Vec<T>, Vec<Vec<T>>) {
    let per = group_size(t);
    let rows = per * t;
    let n_layers = if collect { s.layers.len() } else { 0 };
    let mut layer_outs: Vec<Vec<MaybeUninit<T>>> = (0..n_layers)
        .map(|_| {
            let mut v = Vec::with_capacity(b * t * d);
            // SAFETY: `MaybeUninit` needs no initialisation; every element is written below.
            unsafe { v.set_len(b * t * d) };
            v
        })
        .collect();
    let fill = |out: &mut [MaybeUninit<T>]| {
        let mut per_layer: Vec<std::slice::ChunksMut<'_, MaybeUninit<T>>> = layer_outs
            .iter_mut()
            .map(|v| v.chunks_mut(rows * d))
            .collect();
        let items: Vec<_> = h
            .chunks(rows * d)
            .zip(out.chunks_mut(rows * d))
            .enumerate()
            .map(|(gi, (hs, os))| {
                let ls: Vec<&mut [MaybeUninit<T>]> = per_layer
                    .iter_mut()
                    .map(|c| c.next().expect("a chunk per group"))
                    .collect();
                (gi, hs, os, ls)
            })
            .collect();
        run_chunks(items, |_, (gi, hs, os, ls)| {
            simd(
                #[inline(always)]
                || group(hs, gi * per, (t, d), s, os, ls),
            )
        });
    };
    // SAFETY: the groups cover the output, and `group` writes every element of its part.
    let out = unsafe { written(b * t * d, fill) };
    let layers = layer_outs
        .into_iter()
        .map(|v| {
            let mut v = std::mem::ManuallyDrop::new(v);
            // SAFETY: every group wrote its rows of every layer's output; `MaybeUninit<T>`
            // has the layout of `T` and the allocation is handed over whole.
            unsafe { Vec::from_raw_parts(v.as_mut_ptr() as *mut T, v.len(), v.capacity()) }
        })
        .collect();
    (out, layers)
}

/// One group: the sequences `seq0..` whose embeddings are `hs` (`n × t` rows of `d`) through
/// every layer into `out`, each layer's output into `layer_out` when given.
#[inline(always)]
fn group<T: KFloat>(
    hs: &[T],
    seq0: usize,
    (t, d): (usize, usize),
    s: &StackValues<'_, T>,
    out: &mut [MaybeUninit<T>],
    mut layer_out: Vec<&mut [MaybeUninit<T>]>,
) {
    let len = hs.len();
    let n = len / (t * d);
    let hd = d / s.heads;
    let z = Dims {
        b: n,
        t,
        d,
        heads: s.heads,
        hd,
    };
    let heads = Heads {
        z,
        cos: s.cos,
        sin: s.sin,
        causal: s.causal,
        bias: s.key_bias.map(|kb| &kb[seq0 * t..][..n * t]),
    };
    let ff = s.layers.first().map_or(0, |l| l.ff1.1.len());
    let mut x = hs.to_vec();
    let (mut nrm, mut tmp, mut y) = (
        vec![T::zero(); len],
        vec![T::zero(); len],
        vec![T::zero(); len],
    );
    let (mut q, mut k, mut v) = (
        vec![T::zero(); len],
        vec![T::zero(); len],
        vec![T::zero(); len],
    );
    let mut f = vec![T::zero(); n * t * ff];
    let mut sc = Scratch::new(z);
    for (li, l) in s.layers.iter().enumerate() {
        norm(&mut nrm, &x, l.ln1, s.eps);
        linear(&mut q, &nrm, l.wq, None, d);
        linear(&mut k, &nrm, l.wk, None, d);
        linear(&mut v, &nrm, l.wv, None, d);
        for bi in 0..n {
            for hi in 0..s.heads {
                let dst = &mut y[bi * t * d + hi * hd..];
                heads.forward(&q, &k, &v, (bi, hi), None, &mut sc, dst, d);
            }
        }
        linear(&mut tmp, &y, l.wo, Some(l.bo), d);
        for (a, &r) in x.iter_mut().zip(&tmp) {
            *a += r;
        }
        norm(&mut nrm, &x, l.ln2, s.eps);
        let o = l.ff1.1.len();
        linear(&mut f, &nrm, l.ff1.0, None, o);
        for row in f.chunks_mut(o) {
            for (u, &bb) in row.iter_mut().zip(l.ff1.1) {
                *u = gelu(*u + bb);
            }
        }
        linear(&mut tmp, &f, l.ff2.0, Some(l.ff2.1), d);
        for (a, &r) in x.iter_mut().zip(&tmp) {
            *a += r;
        }
        if let Some(dst) = layer_out.get_mut(li) {
            for (o, &v) in dst.iter_mut().zip(&x) {
                o.write(v);
            }
        }
    }
    match s.ln_f {
        Some((g, b)) => {
            for (xr, orow) in x.chunks(d).zip(out.chunks_mut(d)) {
                ln_row(xr, g, b, s.eps, |j, v| {
                    orow[j].write(v);
                });
            }
        }
        None => {
            for (o, &v) in out.iter_mut().zip(&x) {
                o.write(v);
            }
        }
    }
}
