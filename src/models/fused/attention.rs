//! Multi-head self-attention as one op: RoPE, scaling, the causal and padding masks, softmax,
//! dropout on the probabilities and `P·V`, over all heads, reading the heads in place; each
//! `(batch, head)` pair's arithmetic is [`Heads`]' (`heads.rs`).

use std::any::Any;
use std::mem::MaybeUninit;
use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Shape, Tensor};

use super::heads::{Dims, Heads, Scratch};
use super::{tensor, values, KFloat};
use crate::cpu::{contiguous, cpu_slice, run_chunks, run_chunks_with, simd, write_all, written};
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

impl Attention {
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
        let ops = (vals[0], vals[1], vals[2], vals[3]);
        let (cos, sin) = (values::<T>(&self.cos)?, values::<T>(&self.sin)?);
        let mask = self.mask.as_ref().map(values::<T>).transpose()?;
        let heads = Heads {
            z,
            cos: &cos,
            sin: &sin,
            causal: self.causal,
            bias: None,
        };
        let tt = z.t * z.t;
        let mask_of = |item: usize| mask.as_ref().map(|m| &m[item * tt..][..tt]);
        let n = z.b * z.t * z.d;
        let (dq, dk, dv) = if z.b >= crate::cpu::pool_threads() {
            // One batch row per item: its heads write their gradients into the row's part of
            // `dq, dk, dv` in place, one scratch set per thread reused from head to head.
            let mut probs = probs.into_iter();
            let per_row: Vec<Vec<Vec<T>>> = (0..z.b)
                .map(|_| probs.by_ref().take(z.heads).collect())
                .collect();
            let (mut dk, mut dv) = (Vec::new(), Vec::new());
            // SAFETY: each row's parts are zeroed whole before the heads write their columns.
            let dq = unsafe {
                written(n, |dq| {
                    dk = written(n, |dk| {
                        dv = written(n, |dv| {
                            let rows: Vec<_> = dq
                                .chunks_mut(z.t * z.d)
                                .zip(dk.chunks_mut(z.t * z.d))
                                .zip(dv.chunks_mut(z.t * z.d))
                                .zip(per_row)
                                .enumerate()
                                .collect();
                            let make = || Scratch::new(z);
                            run_chunks_with(rows, make, |sc, _, (bi, (((q_, k_), v_), ps))| {
                                simd(
                                    #[inline(always)]
                                    || {
                                        let [gq, gk, gv] = [q_, k_, v_].map(|o| {
                                            for x in o.iter_mut() {
                                                x.write(T::zero());
                                            }
                                            // SAFETY: every element was just initialised.
                                            &mut *(o as *mut [MaybeUninit<T>] as *mut [T])
                                        });
                                        for (hi, p) in ps.iter().enumerate() {
                                            let c = hi * z.hd;
                                            heads.backward(
                                                ops,
                                                (bi, hi),
                                                p,
                                                mask_of(bi * z.heads + hi),
                                                sc,
                                                (&mut gq[c..], &mut gk[c..], &mut gv[c..]),
                                                z.d,
                                            );
                                        }
                                    },
                                )
                            });
                        })
                    })
                })
            };
            (dq, dk, dv)
        } else {
            // Fewer rows than threads (one long window): one (row, head) pair per item, the
            // heads merged after.
            let items: Vec<(usize, Vec<T>)> = probs.into_iter().enumerate().collect();
            let make = || Scratch::new(z);
            let res = run_chunks_with(items, make, |sc, _, (item, p)| {
                simd(
                    #[inline(always)]
                    || {
                        let zero = || vec![T::zero(); z.t * z.hd];
                        let (mut gq, mut gk, mut gv) = (zero(), zero(), zero());
                        let pair = (item / z.heads, item % z.heads);
                        let out = (&mut gq[..], &mut gk[..], &mut gv[..]);
                        heads.backward(ops, pair, &p, mask_of(item), sc, out, z.hd);
                        (gq, gk, gv)
                    },
                )
            });
            let merge = |part: fn(&(Vec<T>, Vec<T>, Vec<T>)) -> &[T]| {
                merge_heads(&res.iter().map(part).collect::<Vec<_>>(), z)
            };
            (merge(|r| &r.0), merge(|r| &r.1), merge(|r| &r.2))
        };
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

    /// A batch of at least as many rows as threads (one row per item, heads written in place)
    /// and each of its rows alone (one `(row, head)` pair per item, merged after, wherever
    /// the pool has two threads or more) give the same bits, values and the gradients of
    /// `q, k, v`, causal or not, with a key bias and a dropout mask.
    #[test]
    fn rows_and_pairs_give_the_same_bits() {
        let dev = candle_core::Device::Cpu;
        let (b, t, d, heads) = (crate::cpu::pool_threads() + 1, 37, 16, 4);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let mut rand = |shape: &[usize]| {
            let v: Vec<f32> = (0..shape.iter().product())
                .map(|_| rng.random_range(-1.5..1.5))
                .collect();
            Tensor::from_vec(v, shape, &dev).unwrap()
        };
        let (q, k, v, r) = (
            rand(&[b, t, d]),
            rand(&[b, t, d]),
            rand(&[b, t, d]),
            rand(&[b, t, d]),
        );
        // inverted dropout at rate 1/2: 0 or 2
        let mask = rand(&[b, heads, t, t]).ge(0.0).unwrap();
        let mask = (mask.to_dtype(DType::F32).unwrap() * 2.0).unwrap();
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
        // values and the gradients of `(out · r).sum()` with respect to `q, k, v`
        let run = |[q, k, v, r, kb, mask]: [&Tensor; 6], causal: bool| {
            let vars = [q, k, v].map(|x| candle_core::Var::from_tensor(x).unwrap());
            let (q, k, v) = (
                vars[0].as_tensor(),
                vars[1].as_tensor(),
                vars[2].as_tensor(),
            );
            let out =
                self_attention(q, k, v, heads, &cos, &sin, causal, Some(kb), Some(mask)).unwrap();
            let g = (&out * r).unwrap().sum_all().unwrap().backward().unwrap();
            let grads = vars.map(|x| g.get(x.as_tensor()).unwrap().clone());
            (out, grads)
        };
        for causal in [false, true] {
            let (all, all_g) = run([&q, &k, &v, &r, &kb, &mask], causal);
            for bi in 0..b {
                let row = |x: &Tensor| x.narrow(0, bi, 1).unwrap().copy().unwrap();
                let xs = [&q, &k, &v, &r, &kb, &mask].map(row);
                let (one, one_g) = run(xs.each_ref(), causal);
                assert_eq!(bits(&row(&all)), bits(&one), "row {bi}, causal {causal}");
                for (a, o) in all_g.iter().zip(&one_g) {
                    assert_eq!(
                        bits(&row(a)),
                        bits(o),
                        "gradient, row {bi}, causal {causal}"
                    );
                }
            }
        }
    }
}
