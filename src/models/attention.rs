//! Transformer block: pre-LN layers (multi-head self-attention with RoPE, GELU feed-forward),
//! causal for an LM head, padding masked otherwise, and a final layer norm. The attention
//! and normalisation kernels are in [`layers`] (composed from differentiable ops: candle's
//! fused ones have no backward), the RoPE scalings in [`rope`](super::rope) and the
//! memory-bounded attention for long windows in [`flash`](super::flash). Parameters:
//! `attn.{i}.ln1/ln2/q/k/v/o/ff1/ff2.*`, `attn.ln_f.*`, and CLEX's `rope.clex.*`.

use candle_core::{DType, Tensor};

use super::config::{Head, ModelConfig};
use super::fused::{self, stack};
use super::kv_cache::{self, KvCache};
use super::layers::{self, AttentionOptions, AttentionWeights};
use super::lift::{self, Act};
use super::params::{Init, Params};
use super::pass::Pass;
use super::rope::Rope;
use crate::data::tokenize::Special;
use crate::Result;

struct AttnLayer {
    ln1: (Tensor, Tensor),
    attn: AttentionWeights,
    ln2: (Tensor, Tensor),
    ff1: (Tensor, Tensor),
    ff2: (Tensor, Tensor),
}

/// The transformer layers of a model and their final norm (empty when `attn_layers = 0`).
pub(crate) struct TransformerStack {
    layers: Vec<AttnLayer>,
    ln_f: Option<(Tensor, Tensor)>,
    rope: Option<Rope>,
}

impl TransformerStack {
    /// Register the parameters of `cfg.attn_layers` layers of width `d`.
    pub fn new(p: &mut Params, cfg: &ModelConfig, d: usize) -> Result<Self> {
        let mut attn = Vec::new();
        for i in 0..cfg.attn_layers {
            let f = d * cfg.attn_ff_mult;
            let sd = 0.02;
            let out_sd = 0.02 / ((2 * cfg.attn_layers) as f64).sqrt();
            let mut ln = |n: &str| -> Result<(Tensor, Tensor)> {
                Ok((
                    p.param(&format!("attn.{i}.{n}.weight"), d, Init::Ones)?,
                    p.param(&format!("attn.{i}.{n}.bias"), d, Init::Zeros)?,
                ))
            };
            let ln1 = ln("ln1")?;
            let ln2 = ln("ln2")?;
            let aw = AttentionWeights {
                wq: p.param(&format!("attn.{i}.q.weight"), (d, d), Init::Normal(sd))?,
                wk: p.param(&format!("attn.{i}.k.weight"), (d, d), Init::Normal(sd))?,
                wv: p.param(&format!("attn.{i}.v.weight"), (d, d), Init::Normal(sd))?,
                wo: p.param(&format!("attn.{i}.o.weight"), (d, d), Init::Normal(out_sd))?,
                bo: p.param(&format!("attn.{i}.o.bias"), d, Init::Zeros)?,
            };
            let ff1 = (
                p.param(&format!("attn.{i}.ff1.weight"), (f, d), Init::Normal(sd))?,
                p.param(&format!("attn.{i}.ff1.bias"), f, Init::Zeros)?,
            );
            let ff2 = (
                p.param(
                    &format!("attn.{i}.ff2.weight"),
                    (d, f),
                    Init::Normal(out_sd),
                )?,
                p.param(&format!("attn.{i}.ff2.bias"), d, Init::Zeros)?,
            );
            attn.push(AttnLayer {
                ln1,
                attn: aw,
                ln2,
                ff1,
                ff2,
            });
        }
        let ln_f = if cfg.attn_layers > 0 {
            Some((
                p.param("attn.ln_f.weight", d, Init::Ones)?,
                p.param("attn.ln_f.bias", d, Init::Zeros)?,
            ))
        } else {
            None
        };
        let rope = if cfg.attn_layers > 0 {
            Some(Rope::new(
                p,
                &cfg.rope_scaling,
                cfg.rope_theta,
                d / cfg.attn_heads.max(1),
            )?)
        } else {
            None
        };
        Ok(TransformerStack {
            layers: attn,
            ln_f,
            rope,
        })
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// `h: (batch, time, d)` of token ids `x` → `(batch, time, d)`; identity without layers.
    pub fn forward_t(
        &self,
        h: Tensor,
        x: &Tensor,
        cfg: &ModelConfig,
        pass: &mut Pass<'_>,
    ) -> Result<Tensor> {
        if self.layers.is_empty() {
            return Ok(h);
        }
        let t = x.dim(1)?;
        let key_mask = if cfg.head != Head::Lm {
            let pad = Special::Pad as u32;
            Some(x.ne(pad)?.to_dtype(DType::F32)?)
        } else {
            None
        };
        let mut h = h;
        let rope = self
            .rope
            .as_ref()
            .expect("a transformer stack has its RoPE");
        let s = if pass.train {
            rope.scaling().draw_scale(t, pass.rng())
        } else {
            rope.scaling().scale_for(t)
        };
        let (cos, sin) = rope.tables(t, 0, s, h.device())?;
        if let Some(out) = self.eval_fused(&h, cfg, (&cos, &sin), key_mask.as_ref(), pass)? {
            return Ok(out);
        }
        let ph = cfg.p(cfg.hidden_dropout);
        let lift = pass.hooks.lift.clone();
        let lift = lift.as_deref();
        let norm = |site: &str, h: &Tensor, g: &Tensor, b: &Tensor| match lift {
            Some(l) => l.layer_norm(site, h, g, b, 1e-5),
            None => layers::layer_norm(h, g, b, 1e-5),
        };
        for (i, l) in self.layers.iter().enumerate() {
            let n1 = norm(&format!("attn.{i}.ln1"), &h, &l.ln1.0, &l.ln1.1)?;
            let opts = AttentionOptions {
                heads: cfg.attn_heads,
                causal: cfg.causal(),
                key_mask: key_mask.as_ref(),
                dropout: ph,
                block: cfg.attn_block,
                lift: lift.map(|l| (l, format!("attn.{i}"))),
            };
            let a = layers::attention(&n1, &l.attn, &cos, &sin, &opts, pass.rng())?;
            h = (h + layers::dropout(&a, ph, pass.rng())?)?;
            let n2 = norm(&format!("attn.{i}.ln2"), &h, &l.ln2.0, &l.ln2.1)?;
            let f = match lift {
                Some(_) => lift::act(
                    lift,
                    &format!("attn.{i}.gelu"),
                    &layers::linear(&n2, &l.ff1.0, Some(&l.ff1.1))?,
                    Act::Gelu,
                )?,
                None => layers::bias_gelu(&layers::linear_fused(&n2, &l.ff1.0, None)?, &l.ff1.1)?,
            };
            let f = match lift {
                Some(_) => layers::linear(&f, &l.ff2.0, Some(&l.ff2.1))?,
                None => layers::linear_fused(&f, &l.ff2.0, Some(&l.ff2.1))?,
            };
            h = (h + layers::dropout(&f, ph, pass.rng())?)?;
            h = pass.layer_out(&format!("attn.{i}"), h)?;
        }
        if let Some((g, bb)) = &self.ln_f {
            h = norm("attn.ln_f", &h, g, bb)?;
        }
        Ok(h)
    }

    /// The evaluation pass of [`forward_t`](Self::forward_t) in one go
    /// ([`fused::stack`](super::fused::stack): each group of sequences through every layer on
    /// one thread, the same bits), where nothing needs the op-by-op pass: no gradient (neither
    /// the input nor a parameter tracks one), no dropout, no hook on these layers, CPU f32/f64,
    /// attention unblocked, and enough groups of sequences to keep every thread busy. `None`
    /// otherwise.
    fn eval_fused(
        &self,
        h: &Tensor,
        cfg: &ModelConfig,
        (cos, sin): (&Tensor, &Tensor),
        key_mask: Option<&Tensor>,
        pass: &mut Pass<'_>,
    ) -> Result<Option<Tensor>> {
        let (b, t, d) = h.dims3()?;
        let heads = cfg.attn_heads.max(1);
        let mut ts: Vec<&Tensor> = Vec::new();
        for l in &self.layers {
            let a = &l.attn;
            ts.extend([&l.ln1.0, &l.ln1.1, &a.wq, &a.wk, &a.wv, &a.wo, &a.bo]);
            ts.extend([&l.ln2.0, &l.ln2.1, &l.ff1.0, &l.ff1.1, &l.ff2.0, &l.ff2.1]);
        }
        if let Some((g, bb)) = &self.ln_f {
            ts.extend([g, bb]);
        }
        let applies = !pass.train
            && pass.hooks.lift.is_none()
            && !pass
                .hooks
                .ablate
                .iter()
                .any(|a| a.layer.starts_with("attn."))
            && fused::applies(h)
            && ts
                .iter()
                .chain([&h, &cos, &sin])
                .all(|w| !w.track_op() && w.dtype() == h.dtype() && w.device().is_cpu())
            && (cfg.attn_block == 0 || t <= cfg.attn_block)
            && d % heads == 0
            && (d / heads).is_multiple_of(2)
            && b >= crate::cpu::pool_threads();
        if !applies {
            return Ok(None);
        }
        #[cfg(test)]
        tests::STACK_PASSES.with(|c| c.set(c.get() + 1));
        // the additive key bias of `layers::attention`, computed the same way
        let key_bias = key_mask
            .map(|km| (km.to_dtype(h.dtype())? - 1.0)? * 1e9)
            .transpose()?;
        let mut all: Vec<Tensor> = [h, cos, sin].into_iter().cloned().collect();
        all.extend(key_bias);
        all.extend(ts.into_iter().cloned());
        let all = all
            .iter()
            .map(|x| x.contiguous())
            .collect::<candle_core::Result<Vec<_>>>()?;
        let consts = if key_mask.is_some() { 4 } else { 3 };
        let causal = cfg.causal();
        let has_ln_f = self.ln_f.is_some();
        fn run<T: fused::KFloat>(
            all: &[Tensor],
            consts: usize,
            (heads, causal, has_ln_f, collect): (usize, bool, bool, bool),
        ) -> Result<(Tensor, Vec<Tensor>)> {
            let (b, t, d) = all[0].dims3()?;
            let guards: Vec<_> = all.iter().map(|x| x.storage_and_layout()).collect();
            let v = guards
                .iter()
                .map(|(st, l)| crate::cpu::cpu_slice::<T>(st, l))
                .collect::<candle_core::Result<Vec<&[T]>>>()?;
            let w = &v[consts..];
            let layers = w
                .chunks_exact(13)
                .map(|p| stack::LayerValues {
                    ln1: (p[0], p[1]),
                    wq: p[2],
                    wk: p[3],
                    wv: p[4],
                    wo: p[5],
                    bo: p[6],
                    ln2: (p[7], p[8]),
                    ff1: (p[9], p[10]),
                    ff2: (p[11], p[12]),
                })
                .collect();
            let values = stack::StackValues {
                layers,
                ln_f: has_ln_f.then(|| (w[w.len() - 2], w[w.len() - 1])),
                cos: v[1],
                sin: v[2],
                key_bias: (consts == 4).then(|| v[3]),
                heads,
                causal,
                eps: 1e-5,
            };
            let (out, per_layer) = stack::eval(v[0], (b, t, d), &values, collect);
            let mk = |x: Vec<T>| Tensor::from_vec(x, (b, t, d), all[0].device());
            let per_layer = per_layer
                .into_iter()
                .map(mk)
                .collect::<candle_core::Result<Vec<_>>>()?;
            Ok((mk(out)?, per_layer))
        }
        let flags = (heads, causal, has_ln_f, pass.collect);
        let (out, per_layer) = match h.dtype() {
            DType::F64 => run::<f64>(&all, consts, flags)?,
            _ => run::<f32>(&all, consts, flags)?,
        };
        for (i, hl) in per_layer.into_iter().enumerate() {
            pass.layer_out(&format!("attn.{i}"), hl)?;
        }
        Ok(Some(out))
    }

    /// Evaluation pass of the new tokens' embeddings `h: (batch, n, d)` through the layers,
    /// reading earlier positions from `cache` ([`kv_cache`](super::kv_cache)).
    pub fn forward_cached(
        &self,
        h: Tensor,
        cfg: &ModelConfig,
        cache: Option<&KvCache>,
        max_len: usize,
    ) -> Result<(Tensor, KvCache)> {
        let n = h.dim(1)?;
        let offset = cache.map_or(0, |c| c.next);
        let rope = self
            .rope
            .as_ref()
            .expect("a transformer stack has its RoPE");
        let s = rope.scaling().scale_for(max_len);
        let (cos, sin) = rope.tables(n, offset, s, h.device())?;
        let (mut ks, mut vs) = (Vec::new(), Vec::new());
        let mut h = h;
        for (i, l) in self.layers.iter().enumerate() {
            let n1 = layers::layer_norm(&h, &l.ln1.0, &l.ln1.1, 1e-5)?;
            let past = cache.map(|c| (&c.k[i], &c.v[i]));
            let (a, k, v) =
                kv_cache::attention_step(&n1, &l.attn, &cos, &sin, cfg.attn_heads, past, max_len)?;
            h = (h + a)?;
            let n2 = layers::layer_norm(&h, &l.ln2.0, &l.ln2.1, 1e-5)?;
            let f = layers::bias_gelu(&layers::linear_fused(&n2, &l.ff1.0, None)?, &l.ff1.1)?;
            h = (h + layers::linear_fused(&f, &l.ff2.0, Some(&l.ff2.1))?)?;
            ks.push(k);
            vs.push(v);
        }
        if let Some((g, bb)) = &self.ln_f {
            h = layers::layer_norm(&h, g, bb, 1e-5)?;
        }
        Ok((
            h,
            KvCache {
                k: ks,
                v: vs,
                next: offset + n,
            },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::tokenize::N_SPECIAL;
    use crate::models::{GenomicModel, Hooks, Mode};
    use candle_core::Device;
    use rand::{Rng, SeedableRng};

    thread_local! {
        /// Evaluation passes that went through `fused::stack` on this thread.
        pub(super) static STACK_PASSES: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    /// The model's evaluation pass through the op-by-op graph (the trainable model: its
    /// parameters track gradients) and through `fused::stack` (its inference view) give the
    /// same bits: logits and every layer's output, over one group more than the threads take
    /// in one round, the last group partial, with padding (masked LM) or the causal mask.
    fn same_bits(cfg: ModelConfig, t: usize) {
        let dev = Device::Cpu;
        let b = (stack::GROUP_ROWS / t).max(1) * (2 * crate::cpu::pool_threads() + 1) - 1;
        let m = GenomicModel::new(cfg.clone(), &dev, 3).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let vocab = cfg.vocab() as u32;
        let ids = |rng: &mut rand_chacha::ChaCha8Rng, pad: bool| -> Tensor {
            let v: Vec<u32> = (0..b * t)
                .map(|i| {
                    let (row, pos) = (i / t, i % t);
                    if pad && row % 3 == 1 && pos >= t - 1 - row % 7 {
                        Special::Pad as u32
                    } else {
                        rng.random_range(N_SPECIAL..vocab)
                    }
                })
                .collect();
            Tensor::from_vec(v, (b, t), &dev).unwrap()
        };
        // every parameter away from its initial value (gains of 1, biases of 0): plus noise
        for v in m.params().vars() {
            let t = v.as_tensor();
            let noise: Vec<f32> = (0..t.elem_count())
                .map(|_| rng.random_range(-0.1..0.1))
                .collect();
            let noise = Tensor::from_vec(noise, t.shape(), &dev).unwrap();
            v.set(&(t + noise).unwrap()).unwrap();
        }
        let x = ids(&mut rng, cfg.head != Head::Lm);
        let hooks = Hooks::default();
        let before = STACK_PASSES.with(|c| c.get());
        let graph = m
            .forward_hooked(&x, None, Mode::Eval, true, &hooks)
            .unwrap();
        assert_eq!(
            STACK_PASSES.with(|c| c.get()),
            before,
            "the trainable model's graph pass"
        );
        let view = m.inference().unwrap();
        let fast = view
            .forward_hooked(&x, None, Mode::Eval, true, &hooks)
            .unwrap();
        assert_eq!(
            STACK_PASSES.with(|c| c.get()),
            before + 1,
            "the view's pass"
        );
        let bits = |x: &Tensor| -> Vec<u32> {
            let v = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            v.into_iter().map(f32::to_bits).collect()
        };
        assert_eq!(bits(&graph.logits), bits(&fast.logits), "logits");
        assert_eq!(graph.layers.len(), fast.layers.len());
        for ((na, a), (nb, bb)) in graph.layers.iter().zip(&fast.layers) {
            assert_eq!(na, nb);
            assert_eq!(bits(a), bits(bb), "layer {na}");
        }
    }

    #[test]
    fn stack_pass_matches_the_graph_masked_lm() {
        same_bits(ModelConfig::transformer_mlm_small(), 128);
    }

    #[test]
    fn stack_pass_matches_the_graph_causal_odd_length() {
        // 100 positions: groups of 200 rows, not the linear op's blocks (one per thread, at
        // least 256 rows)
        same_bits(ModelConfig::transformer_small(), 100);
    }

    #[test]
    fn stack_pass_matches_the_graph_long_windows() {
        // 300 positions: one sequence per group, 300 rows, against the linear op's blocks of
        // the whole batch's rows
        let cfg = ModelConfig {
            emb_dim: 32,
            attn_heads: 2,
            attn_layers: 2,
            ..ModelConfig::transformer_mlm_small()
        };
        same_bits(cfg, 300);
    }
}
