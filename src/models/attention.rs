//! Transformer block: pre-LN layers (multi-head self-attention with RoPE, GELU feed-forward),
//! causal for an LM head, padding masked otherwise, and a final layer norm. The attention
//! and normalisation kernels are in [`layers`] (composed from differentiable ops: candle's
//! fused ones have no backward), the RoPE scalings in [`rope`](super::rope) and the
//! memory-bounded attention for long windows in [`flash`](super::flash). Parameters:
//! `attn.{i}.ln1/ln2/q/k/v/o/ff1/ff2.*`, `attn.ln_f.*`, and CLEX's `rope.clex.*`.

use candle_core::{DType, Tensor};

use super::config::{Head, ModelConfig};
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
