//! Multi-head self-attention as one op: RoPE, scaling, the causal and padding masks, softmax,
//! dropout on the probabilities and `P·V`, over all heads, reading the heads in place.

use std::any::Any;
use std::mem::MaybeUninit;
use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Shape, Tensor};

use super::{lane_reduce, lane_sum, t, tensor, values, KFloat, CUT};
use crate::cpu::{
    contiguous, cpu_slice, matmul, run_chunks, run_chunks_with, simd, write_all, written,
};
use crate::Result;

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
pub(super) struct Dims {
    pub b: usize,
    pub t: usize,
    pub d: usize,
    pub heads: usize,
    pub hd: usize,
}

/// Values per block of RoPE's loops. A head's half is short (16 for 32-wide heads), too short
/// for the compiler's vector loop, which wants more than one vector's worth of iterations;
/// blocks of a constant 16 (`chunks_exact`) become one AVX-512 vector each.
const ROT: usize = 16;

/// Head `hi` of batch row `bi` of `x: (b, t, d)`, rotated by RoPE and multiplied by `scale`,
/// into `out` (`t × hd`, every element written).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn rotate_into<T: KFloat>(
    out: &mut [T],
    x: &[T],
    bi: usize,
    hi: usize,
    z: Dims,
    cos: &[T],
    sin: &[T],
    scale: T,
) {
    let half = z.hd / 2;
    for s in 0..z.t {
        let row = &x[(bi * z.t + s) * z.d + hi * z.hd..][..z.hd];
        let (c, sn) = (&cos[s * half..][..half], &sin[s * half..][..half]);
        let (o1, o2) = out[s * z.hd..][..z.hd].split_at_mut(half);
        let (x1s, x2s) = row.split_at(half);
        let rot = |a: &mut [T], b: &mut [T], x1: &[T], x2: &[T], c: &[T], sn: &[T]| {
            for j in 0..a.len() {
                a[j] = (x1[j] * c[j] - x2[j] * sn[j]) * scale;
                b[j] = (x1[j] * sn[j] + x2[j] * c[j]) * scale;
            }
        };
        let whole = half - half % ROT;
        for (((((a, b), x1), x2), c), sn) in o1
            .chunks_exact_mut(ROT)
            .zip(o2.chunks_exact_mut(ROT))
            .zip(x1s.chunks_exact(ROT))
            .zip(x2s.chunks_exact(ROT))
            .zip(c.chunks_exact(ROT))
            .zip(sn.chunks_exact(ROT))
        {
            rot(a, b, x1, x2, c, sn);
        }
        rot(
            &mut o1[whole..],
            &mut o2[whole..],
            &x1s[whole..],
            &x2s[whole..],
            &c[whole..],
            &sn[whole..],
        );
    }
}

/// The gradient through [`rotate_into`]: `g (t × hd)` → the gradient of the unrotated head.
#[inline(always)]
fn unrotate<T: KFloat>(g: &mut [T], z: Dims, cos: &[T], sin: &[T], scale: T) {
    let half = z.hd / 2;
    for s in 0..z.t {
        let (c, sn) = (&cos[s * half..][..half], &sin[s * half..][..half]);
        let (r1, r2) = g[s * z.hd..][..z.hd].split_at_mut(half);
        let rot = |a: &mut [T], b: &mut [T], c: &[T], sn: &[T]| {
            for j in 0..a.len() {
                let (g1, g2) = (a[j], b[j]);
                a[j] = (g1 * c[j] + g2 * sn[j]) * scale;
                b[j] = (g2 * c[j] - g1 * sn[j]) * scale;
            }
        };
        let whole = half - half % ROT;
        for (((a, b), c), sn) in r1
            .chunks_exact_mut(ROT)
            .zip(r2.chunks_exact_mut(ROT))
            .zip(c.chunks_exact(ROT))
            .zip(sn.chunks_exact(ROT))
        {
            rot(a, b, c, sn);
        }
        rot(
            &mut r1[whole..],
            &mut r2[whole..],
            &c[whole..],
            &sn[whole..],
        );
    }
}

/// `(b, t, d)` from the heads' `t × hd` blocks (`blocks[bi * heads + hi]`), each batch row's
/// part written by one thread of the pool, without zero-filling the output first.
fn merge_heads<T: KFloat>(blocks: &[&[T]], z: Dims) -> Vec<T> {
    // SAFETY: batch row `bi`'s `t × d` chunk gets, at each of its `t` positions, the `hd` values
    // of each of its `heads` heads: `heads · hd = d` values, so every element is written.
    unsafe {
        written(z.b * z.t * z.d, |out| {
            let rows: Vec<_> = out.chunks_mut(z.t * z.d).enumerate().collect();
            run_chunks(rows, |_, (bi, ob)| {
                for hi in 0..z.heads {
                    let h = blocks[bi * z.heads + hi];
                    for s in 0..z.t {
                        let dst = &mut ob[s * z.d + hi * z.hd..][..z.hd];
                        write_all(dst, &h[s * z.hd..][..z.hd]);
                    }
                }
            });
        })
    }
}

/// Rows per block of causal attention's products: the masked half of the score matrix is
/// skipped block by block (a quarter of the length, at most this many rows).
const CAUSAL_BLOCK: usize = 64;

/// Blocks of query rows `(r0, r1, keys)`: the rows `r0..r1` need the keys `0..keys` (all of
/// them without the causal mask; `0..r1` with it).
fn query_blocks(causal: bool, t: usize) -> Vec<(usize, usize, usize)> {
    if !causal {
        return vec![(0, t, t)];
    }
    let bs = (t / 4).clamp(1, CAUSAL_BLOCK);
    (0..t)
        .step_by(bs)
        .map(|r0| (r0, (r0 + bs).min(t), (r0 + bs).min(t)))
        .collect()
}

/// Scratch of one `(batch, head)` pair's forward pass: the rotated head's queries (scaled) and
/// keys (`t × hd` each) and the probabilities (`t × t`), reused from pair to pair.
pub(super) struct Scratch<T> {
    qs: Vec<T>,
    kr: Vec<T>,
    pub p: Vec<T>,
}

impl<T: KFloat> Scratch<T> {
    pub fn new(z: Dims) -> Self {
        Scratch {
            qs: vec![T::zero(); z.t * z.hd],
            kr: vec![T::zero(); z.t * z.hd],
            p: vec![T::zero(); z.t * z.t],
        }
    }
}

/// What every `(batch, head)` pair of one attention call reads besides its projections: the
/// shapes, RoPE tables `(t, hd/2)`, the causal mask and the additive key bias `(b, t)`.
pub(super) struct Heads<'a, T> {
    pub z: Dims,
    pub cos: &'a [T],
    pub sin: &'a [T],
    pub causal: bool,
    pub bias: Option<&'a [T]>,
}

impl<T: KFloat> Heads<'_, T> {
    /// Head `hi` of batch row `bi` of the projections `q, k, v: (b, t, d)`: RoPE, scaled scores,
    /// masks, softmax (the probabilities are left in `sc.p`), the inverted-dropout `mask`
    /// (`t × t`) and `P·V`, written into `out` (`t` rows of `hd` values, row stride `out_rs`).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        q: &[T],
        k: &[T],
        v: &[T],
        (bi, hi): (usize, usize),
        mask: Option<&[T]>,
        sc: &mut Scratch<T>,
        out: &mut [T],
        out_rs: usize,
    ) {
        let z = self.z;
        let scale = t::<T>(1.0 / (z.hd as f64).sqrt());
        rotate_into(&mut sc.qs, q, bi, hi, z, self.cos, self.sin, scale);
        rotate_into(&mut sc.kr, k, bi, hi, z, self.cos, self.sin, T::one());
        let p = &mut sc.p;
        for (r0, r1, kend) in query_blocks(self.causal, z.t) {
            matmul(
                &mut p[r0 * z.t..],
                z.t,
                false,
                &sc.qs[r0 * z.hd..],
                1,
                z.hd as isize,
                &sc.kr,
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
            // causal: the keys after the query get probability 0 (not exp of a large negative
            // number: products of such tiny values go subnormal, which slows every following
            // multiplication by orders of magnitude)
            let (live, dead) = row.split_at_mut(if self.causal { i + 1 } else { z.t });
            dead.fill(T::zero());
            if let Some(bias) = self.bias {
                for (r, &bb) in live.iter_mut().zip(&bias[bi * z.t..]) {
                    *r += bb;
                }
            }
            // the larger of two by a plain comparison, which vectorises (`Float::max`'s NaN
            // rule does not; a NaN score makes the row NaN either way)
            let m = lane_reduce(
                live,
                live,
                T::neg_infinity(),
                |v, _| v,
                |a, b| {
                    if b > a {
                        b
                    } else {
                        a
                    }
                },
            );
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
        let pd: std::borrow::Cow<[T]> = match mask {
            Some(m) => p.iter().zip(m).map(|(&a, &b)| a * b).collect(),
            None => std::borrow::Cow::Borrowed(&p[..]),
        };
        let vh = &v[bi * z.t * z.d + hi * z.hd..];
        for (r0, r1, kend) in query_blocks(self.causal, z.t) {
            matmul(
                &mut out[r0 * out_rs..],
                out_rs,
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
    }
}

impl Attention {
    /// Blocks of query rows: [`query_blocks`] of this call's mask.
    fn row_blocks(&self, t: usize) -> Vec<(usize, usize, usize)> {
        query_blocks(self.causal, t)
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
        let tt = z.t * z.t;
        let heads = Heads {
            z,
            cos: &cos,
            sin: &sin,
            causal: self.causal,
            bias: bias.as_deref(),
        };
        let mask_of = |item: usize| mask.as_ref().map(|m| &m[item * tt..][..tt]);
        let (out, probs) = if z.b >= crate::cpu::pool_threads() {
            // One batch row per item: its heads write their `P·V` into the row's part of the
            // output, the rotated heads' scratch reused from head to head.
            let mut probs = Vec::new();
            // SAFETY: each row's part is written whole (zeros, then every head's columns).
            let out = unsafe {
                written(z.b * z.t * z.d, |out| {
                    let rows: Vec<_> = out.chunks_mut(z.t * z.d).enumerate().collect();
                    let res = run_chunks(rows, |_, (bi, ob)| {
                        simd(
                            #[inline(always)]
                            || {
                                for o in ob.iter_mut() {
                                    o.write(T::zero());
                                }
                                // SAFETY: every element was just initialised.
                                let ob = &mut *(ob as *mut [MaybeUninit<T>] as *mut [T]);
                                let mut sc = Scratch::new(z);
                                let mut kept = Vec::new();
                                for hi in 0..z.heads {
                                    if sc.p.is_empty() {
                                        sc.p = vec![T::zero(); tt];
                                    }
                                    let m = mask_of(bi * z.heads + hi);
                                    let dst = &mut ob[hi * z.hd..];
                                    heads.forward(q, k, v, (bi, hi), m, &mut sc, dst, z.d);
                                    if self.keep {
                                        kept.push(std::mem::take(&mut sc.p));
                                    }
                                }
                                kept
                            },
                        )
                    });
                    probs = res.into_iter().flatten().collect::<Vec<Vec<T>>>();
                })
            };
            (out, probs)
        } else {
            // Fewer rows than threads (one long window): one (row, head) pair per item, the
            // heads merged after.
            let items: Vec<usize> = (0..z.b * z.heads).collect();
            let res = run_chunks(items, |_, item| {
                simd(
                    #[inline(always)]
                    || {
                        let mut sc = Scratch::new(z);
                        let mut o = vec![T::zero(); z.t * z.hd];
                        let pair = (item / z.heads, item % z.heads);
                        heads.forward(q, k, v, pair, mask_of(item), &mut sc, &mut o, z.hd);
                        (o, sc.p)
                    },
                )
            });
            let blocks: Vec<&[T]> = res.iter().map(|(o, _)| o.as_slice()).collect();
            let out = merge_heads(&blocks, z);
            (out, res.into_iter().map(|(_, p)| p).collect())
        };
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
        // the projections and the gradient read in place, not copied out of candle
        let conts = [q, k, v, grad]
            .into_iter()
            .map(|x| x.contiguous())
            .collect::<candle_core::Result<Vec<_>>>()?;
        let guards: Vec<_> = conts.iter().map(|x| x.storage_and_layout()).collect();
        let vals = guards
            .iter()
            .map(|(st, l)| cpu_slice::<T>(st, l))
            .collect::<candle_core::Result<Vec<&[T]>>>()?;
        let (q, k, v, gr) = (vals[0], vals[1], vals[2], vals[3]);
        let (cos, sin) = (values::<T>(&self.cos)?, values::<T>(&self.sin)?);
        let mask = self.mask.as_ref().map(values::<T>).transpose()?;
        let scale = t::<T>(1.0 / (z.hd as f64).sqrt());
        let tt = z.t * z.t;
        let items: Vec<(usize, Vec<T>)> = probs.into_iter().enumerate().collect();
        // scratch for `dS` and the rotated heads, one set per thread, reused from item to item;
        // every element read is written first for each item
        let make = || {
            let z0 = || vec![T::zero(); z.t * z.hd];
            (vec![T::zero(); tt], z0(), z0())
        };
        let res = run_chunks_with(items, make, |(ds, qs, kr), _, (item, p)| {
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
                    // rows `r0..r1` up to `kend` here, the causal rest zeroed below
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
                    rotate_into(qs, q, bi, hi, z, &cos, &sin, scale);
                    rotate_into(kr, k, bi, hi, z, &cos, &sin, T::one());
                    let mut dq = vec![T::zero(); z.t * z.hd];
                    for (r0, r1, kend) in self.row_blocks(z.t) {
                        matmul(
                            &mut dq[r0 * z.hd..],
                            z.hd,
                            false,
                            &ds[r0 * z.t..],
                            1,
                            z.t as isize,
                            kr,
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
        let merge = |part: fn(&(Vec<T>, Vec<T>, Vec<T>)) -> &[T]| {
            merge_heads(&res.iter().map(part).collect::<Vec<_>>(), z)
        };
        let dq = merge(|r| &r.0);
        let dk = merge(|r| &r.1);
        let dv = merge(|r| &r.2);
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
/// [`blocked_attention`](crate::models::flash::blocked_attention) for long inputs).
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
    use rand::{Rng, SeedableRng};

    /// RoPE's rotation and its gradient, in blocks of [`ROT`] and a tail, equal the plain
    /// per-element formulas to the bit, for heads narrower than a block, of whole blocks and
    /// with a tail (half-widths 4, 16 and 20).
    #[test]
    fn rope_blocks_match_the_plain_loop() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for hd in [8, 32, 40] {
            let (b, t, heads) = (2, 5, 3);
            let d = hd * heads;
            let z = Dims { b, t, d, heads, hd };
            let half = hd / 2;
            let mut r =
                |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-2.0..2.0)).collect() };
            let (x, cos, sin, g0) = (r(b * t * d), r(t * half), r(t * half), r(t * hd));
            let scale = 0.37f32;
            for (bi, hi) in [(0, 0), (1, 2)] {
                let mut out = vec![0f32; t * hd];
                rotate_into(&mut out, &x, bi, hi, z, &cos, &sin, scale);
                let mut g = g0.clone();
                unrotate(&mut g, z, &cos, &sin, scale);
                for s in 0..t {
                    let row = &x[(bi * t + s) * d + hi * hd..];
                    for i in 0..half {
                        let (c, sn) = (cos[s * half + i], sin[s * half + i]);
                        let (x1, x2) = (row[i], row[half + i]);
                        assert_eq!(
                            out[s * hd + i].to_bits(),
                            ((x1 * c - x2 * sn) * scale).to_bits()
                        );
                        assert_eq!(
                            out[s * hd + half + i].to_bits(),
                            ((x1 * sn + x2 * c) * scale).to_bits()
                        );
                        let (g1, g2) = (g0[s * hd + i], g0[s * hd + half + i]);
                        assert_eq!(
                            g[s * hd + i].to_bits(),
                            ((g1 * c + g2 * sn) * scale).to_bits()
                        );
                        assert_eq!(
                            g[s * hd + half + i].to_bits(),
                            ((g2 * c - g1 * sn) * scale).to_bits()
                        );
                    }
                }
            }
        }
    }

    /// A batch of at least as many rows as threads (one row per item, heads written in place)
    /// and each of its rows alone (one `(row, head)` pair per item, merged after, wherever
    /// the pool has two threads or more) give the same bits, causal or not, with a key bias.
    #[test]
    fn rows_and_pairs_give_the_same_bits() {
        let dev = candle_core::Device::Cpu;
        let (b, t, d, heads) = (crate::cpu::pool_threads() + 1, 37, 16, 4);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let mut rand = |shape: (usize, usize, usize)| {
            let v: Vec<f32> = (0..shape.0 * shape.1 * shape.2)
                .map(|_| rng.random_range(-1.5..1.5))
                .collect();
            Tensor::from_vec(v, shape, &dev).unwrap()
        };
        let (q, k, v) = (rand((b, t, d)), rand((b, t, d)), rand((b, t, d)));
        let kb: Vec<f32> = (0..b * t)
            .map(|i| if i % 11 == 3 { -1e9 } else { 0.0 })
            .collect();
        let kb = Tensor::from_vec(kb, (b, t), &dev).unwrap();
        let (cos, sin) =
            crate::models::layers::rope_tables(t, 0, d / heads, 100.0, 1.0, &dev).unwrap();
        let bits = |x: &Tensor| -> Vec<u32> {
            let v = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            v.into_iter().map(f32::to_bits).collect()
        };
        for causal in [false, true] {
            let all =
                self_attention(&q, &k, &v, heads, &cos, &sin, causal, Some(&kb), None).unwrap();
            for bi in 0..b {
                let row = |x: &Tensor| x.narrow(0, bi, 1).unwrap();
                let one = self_attention(
                    &row(&q),
                    &row(&k),
                    &row(&v),
                    heads,
                    &cos,
                    &sin,
                    causal,
                    Some(&row(&kb)),
                    None,
                )
                .unwrap();
                assert_eq!(bits(&row(&all)), bits(&one), "row {bi}, causal {causal}");
            }
        }
    }
}
