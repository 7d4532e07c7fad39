//! The evaluation pass of a whole pre-LN transformer stack on the CPU, a few sequences at a
//! time: every layer of a group of sequences runs on one thread, its activations in that
//! thread's cache.
//!
//! The op-by-op pass (`TransformerStack::forward_t` through [`layer_norm`](super::layer_norm),
//! the fused linear op, [`self_attention`](super::self_attention) and
//! [`bias_gelu`](super::bias_gelu)) makes about fifteen passes over the activations per
//! layer, each a fresh tensor and a round of the thread pool, and merges the heads with a
//! copy. Without a backward pass to serve, none of that is needed: here a group of sequences
//! (up to [`GROUP_ROWS`] rows) goes through every layer in buffers reused from layer to layer;
//! each projection is one GEMM over the group's rows, the heads write their `P·V` into place,
//! the residual adds and the bias + GELU run on rows still in the cache. Each value is computed
//! by the same kernels in the same order as in the op-by-op pass (the same row functions; GEMMs
//! whose every element sums the same products in the same order: the `gemm` crate splits a
//! depth of at most 512 never, and a longer one by its length, except that a call with at most
//! 64 rows and 64 columns cuts it at 512 — which a projection of more than 512 inputs onto at
//! most 64 outputs, an unusual shape, would meet in the op-by-op pass's last partial block), so
//! the two give the same bits; `tests` in `models::attention` check it.

use super::gelu::gelu;
use super::heads::{Dims, Heads, Scratch};
use super::norm::ln_row;
use super::KFloat;
use crate::cpu::{run_chunks_with, simd, written};
use crate::models::fused_linear;
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

/// Rows of a group at most. Larger groups pack each weight matrix for the GEMM once per more
/// rows: 512 rows (four 128-position windows) ran 7 % faster than 256 on a 2-core Xeon with
/// 2 MiB of L2 per core (docs/benchmarks.md), 1 024 no faster than 512.
pub(crate) const GROUP_ROWS: usize = 512;

/// Sequences per group for `b` sequences of `t` positions on `threads` threads: as many as fit
/// in [`GROUP_ROWS`] rows, but few enough that every thread gets a group (at least one).
pub(crate) fn group_size(b: usize, t: usize, threads: usize) -> usize {
    (GROUP_ROWS / t.max(1)).min(b / threads.max(1)).max(1)
}

/// `y (rows × o) = x (rows × i) · wᵀ (+ b)`: one GEMM by the fused linear op's block function.
#[inline(always)]
fn linear<T: KFloat>(y: &mut [T], x: &[T], w: &[T], b: Option<&[T]>, o: usize) {
    // SAFETY: `MaybeUninit<T>` has the layout of `T`; the block only writes, with values.
    let ys = unsafe { &mut *(y as *mut [T] as *mut [MaybeUninit<T>]) };
    fused_linear::block(ys, x, w, b, o);
}

/// Every row of `x` (`d` wide) layer-normalised into `y`.
#[inline(always)]
fn norm<T: KFloat>(y: &mut [T], x: &[T], (g, b): (&[T], &[T]), eps: f64) {
    let d = g.len();
    for (xr, yr) in x.chunks(d).zip(y.chunks_mut(d)) {
        ln_row(xr, g, b, eps, yr, |o, v| *o = v);
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
    let per = group_size(b, t, crate::cpu::pool_threads());
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
        // one set of buffers per thread, reused from group to group
        let ff = s.layers.first().map_or(0, |l| l.ff1.1.len());
        let make = || Buffers::new(rows, d, ff, s.heads, t);
        run_chunks_with(items, make, |buf, _, (gi, hs, os, ls)| {
            simd(
                #[inline(always)]
                || group(hs, gi * per, (t, d), s, buf, os, ls),
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

/// The working buffers of one group of at most `rows` rows (`d` wide; `ff` in the feed-forward
/// block), every element written before it is read.
struct Buffers<T> {
    x: Vec<T>,
    nrm: Vec<T>,
    tmp: Vec<T>,
    y: Vec<T>,
    q: Vec<T>,
    k: Vec<T>,
    v: Vec<T>,
    f: Vec<T>,
    sc: Scratch<T>,
}

impl<T: KFloat> Buffers<T> {
    fn new(rows: usize, d: usize, ff: usize, heads: usize, t: usize) -> Self {
        let z = || vec![T::zero(); rows * d];
        Buffers {
            x: z(),
            nrm: z(),
            tmp: z(),
            y: z(),
            q: z(),
            k: z(),
            v: z(),
            f: vec![T::zero(); rows * ff],
            sc: Scratch::new(Dims {
                b: 1,
                t,
                d,
                heads,
                hd: d / heads.max(1),
            }),
        }
    }
}

/// One group: the sequences `seq0..` whose embeddings are `hs` (`n × t` rows of `d`) through
/// every layer into `out`, each layer's output into `layer_out` when given.
#[inline(always)]
fn group<T: KFloat>(
    hs: &[T],
    seq0: usize,
    (t, d): (usize, usize),
    s: &StackValues<'_, T>,
    buf: &mut Buffers<T>,
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
    let Buffers {
        x,
        nrm,
        tmp,
        y,
        q,
        k,
        v,
        f,
        sc,
    } = buf;
    let (x, nrm, tmp, y) = (
        &mut x[..len],
        &mut nrm[..len],
        &mut tmp[..len],
        &mut y[..len],
    );
    let (q, k, v, f) = (
        &mut q[..len],
        &mut k[..len],
        &mut v[..len],
        &mut f[..n * t * ff],
    );
    x.copy_from_slice(hs);
    for (li, l) in s.layers.iter().enumerate() {
        norm(nrm, x, l.ln1, s.eps);
        linear(q, nrm, l.wq, None, d);
        linear(k, nrm, l.wk, None, d);
        linear(v, nrm, l.wv, None, d);
        for bi in 0..n {
            for hi in 0..s.heads {
                let dst = &mut y[bi * t * d + hi * hd..];
                heads.forward(q, k, v, (bi, hi), None, sc, dst, d);
            }
        }
        linear(tmp, y, l.wo, Some(l.bo), d);
        for (a, &r) in x.iter_mut().zip(tmp.iter()) {
            *a += r;
        }
        norm(nrm, x, l.ln2, s.eps);
        let o = l.ff1.1.len();
        linear(f, nrm, l.ff1.0, None, o);
        for row in f.chunks_mut(o) {
            for (u, &bb) in row.iter_mut().zip(l.ff1.1) {
                *u = gelu(*u + bb);
            }
        }
        linear(tmp, f, l.ff2.0, Some(l.ff2.1), d);
        for (a, &r) in x.iter_mut().zip(tmp.iter()) {
            *a += r;
        }
        if let Some(dst) = layer_out.get_mut(li) {
            for (o, &v) in dst.iter_mut().zip(x.iter()) {
                o.write(v);
            }
        }
    }
    match s.ln_f {
        Some((g, b)) => {
            for (xr, orow) in x.chunks(d).zip(out.chunks_mut(d)) {
                ln_row(xr, g, b, s.eps, orow, |o, v| {
                    o.write(v);
                });
            }
        }
        None => {
            for (o, &v) in out.iter_mut().zip(x.iter()) {
                o.write(v);
            }
        }
    }
}
