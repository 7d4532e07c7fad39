//! One `(batch, head)` pair of multi-head self-attention, forward and backward: RoPE on the
//! queries and keys, scaled scores, the causal and padding masks, softmax, dropout on the
//! probabilities and `P·V`, reading the heads of `(batch, time, width)` projections in place
//! and writing a head's columns of an output at any row stride. The attention op
//! (`attention.rs`) and the stack's evaluation pass (`stack.rs`) run it over the
//! pairs of a batch on candle's pool.

use super::{lane_reduce, lane_sum, t, KFloat, CUT};
use crate::cpu::matmul;

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

/// The gradient through [`rotate_into`]: `g` (`t` rows of `hd` values at row stride `rs`) →
/// the gradient of the unrotated head, in place.
#[inline(always)]
fn unrotate<T: KFloat>(g: &mut [T], rs: usize, z: Dims, cos: &[T], sin: &[T], scale: T) {
    let half = z.hd / 2;
    for s in 0..z.t {
        let (c, sn) = (&cos[s * half..][..half], &sin[s * half..][..half]);
        let (r1, r2) = g[s * rs..][..z.hd].split_at_mut(half);
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

/// Blocks of key columns `(c0, c1, first query)`: the keys `c0..c1` are seen by the queries
/// from `first query` on (`c0` with the causal mask, 0 without).
fn key_blocks(causal: bool, t: usize) -> Vec<(usize, usize, usize)> {
    query_blocks(causal, t)
        .into_iter()
        .map(|(c0, c1, _)| (c0, c1, if causal { c0 } else { 0 }))
        .collect()
}

/// Scratch of one `(batch, head)` pair: the rotated head's queries (scaled) and keys (`t × hd`
/// each) and a `t × t` matrix (the probabilities in the forward pass, `dS` in the backward),
/// reused from pair to pair.
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

    /// The gradient of [`forward`](Self::forward) for head `hi` of batch row `bi`: from the
    /// output's gradient `go: (b, t, d)` and the pair's probabilities `p` (`t × t`, as the
    /// forward pass left them in `sc.p`, before dropout) to the head's columns of `dq, dk, dv`
    /// (`t` rows of `hd` values at row stride `rs`, every element written). `sc.p` holds `dS`
    /// here; every element read is written first.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub fn backward(
        &self,
        (q, k, v, go): (&[T], &[T], &[T], &[T]),
        (bi, hi): (usize, usize),
        p: &[T],
        mask: Option<&[T]>,
        sc: &mut Scratch<T>,
        (dq, dk, dv): (&mut [T], &mut [T], &mut [T]),
        rs: usize,
    ) {
        let z = self.z;
        let scale = t::<T>(1.0 / (z.hd as f64).sqrt());
        let off = bi * z.t * z.d + hi * z.hd;
        let (go, vh) = (&go[off..], &v[off..]);
        let pd: std::borrow::Cow<[T]> = match mask {
            Some(m) => p.iter().zip(m).map(|(&a, &b)| a * b).collect(),
            None => std::borrow::Cow::Borrowed(p),
        };
        // dV = Pdᵀ · dO (a causal key j gets gradient from the queries i ≥ j only)
        for (c0, c1, i0) in key_blocks(self.causal, z.t) {
            matmul(
                &mut dv[c0 * rs..],
                rs,
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
        let ds = &mut sc.p;
        for (r0, r1, kend) in query_blocks(self.causal, z.t) {
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
        if let Some(m) = mask {
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
        rotate_into(&mut sc.qs, q, bi, hi, z, self.cos, self.sin, scale);
        rotate_into(&mut sc.kr, k, bi, hi, z, self.cos, self.sin, T::one());
        let ds = &sc.p;
        for (r0, r1, kend) in query_blocks(self.causal, z.t) {
            matmul(
                &mut dq[r0 * rs..],
                rs,
                false,
                &ds[r0 * z.t..],
                1,
                z.t as isize,
                &sc.kr,
                1,
                z.hd as isize,
                r1 - r0,
                z.hd,
                kend,
            );
        }
        for (c0, c1, i0) in key_blocks(self.causal, z.t) {
            matmul(
                &mut dk[c0 * rs..],
                rs,
                false,
                &ds[i0 * z.t + c0..],
                z.t as isize,
                1,
                &sc.qs[i0 * z.hd..],
                1,
                z.hd as isize,
                c1 - c0,
                z.hd,
                z.t - i0,
            );
        }
        unrotate(dq, rs, z, self.cos, self.sin, scale);
        unrotate(dk, rs, z, self.cos, self.sin, T::one());
    }
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
                unrotate(&mut g, hd, z, &cos, &sin, scale);
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
}
