//! Output heads: the LM/MLM decoder (tied to the embedding in AWD-LSTM) and the ULMFiT
//! classifier (concat pooling of last, max and mean over real positions, then BatchNorm →
//! dropout → linear → ReLU → BatchNorm → dropout → linear). Parameters: `head.decoder.*`,
//! `head.bn1/lin1/bn2/lin2.*` (+ running statistics as buffers).

use candle_core::{DType, Tensor, Var};

use super::config::{Head, ModelConfig};
use super::layers;
use super::params::{Init, Params};
use super::pass::Pass;
use crate::data::tokenize::Special;
use crate::Result;

pub(crate) struct ClsHead {
    bn1: (Tensor, Tensor, Var, Var),
    lin1: (Tensor, Tensor),
    bn2: (Tensor, Tensor, Var, Var),
    lin2: (Tensor, Tensor),
}

/// A model's head.
pub(crate) enum OutputHead {
    /// Token logits: `(weight, or the embedding when tied; bias)`.
    Decoder(Option<Tensor>, Tensor),
    /// Class logits.
    Classifier(Box<ClsHead>),
}

impl OutputHead {
    /// Register the head's parameters for a body of width `d` and a vocabulary of `v`.
    pub fn new(p: &mut Params, cfg: &ModelConfig, d: usize, v: usize) -> Result<Self> {
        Ok(match cfg.head {
            Head::Lm | Head::Mlm => {
                let w = if cfg.tie_weights {
                    None
                } else {
                    let a = 1.0 / (d as f64).sqrt();
                    Some(p.param("head.decoder.weight", (v, d), Init::Uniform(a))?)
                };
                let b = p.param("head.decoder.bias", v, Init::Zeros)?;
                OutputHead::Decoder(w, b)
            }
            Head::Classifier => {
                let n_in = 3 * d;
                let hdim = cfg.cls_hidden;
                let mut bn = |n: &str, width: usize| -> Result<(Tensor, Tensor, Var, Var)> {
                    Ok((
                        p.param(&format!("head.{n}.weight"), width, Init::Ones)?,
                        p.param(&format!("head.{n}.bias"), width, Init::Zeros)?,
                        p.buffer(&format!("head.{n}.running_mean"), width, Init::Zeros)?,
                        p.buffer(&format!("head.{n}.running_var"), width, Init::Ones)?,
                    ))
                };
                let bn1 = bn("bn1", n_in)?;
                let bn2 = bn("bn2", hdim)?;
                let a1 = 1.0 / (n_in as f64).sqrt();
                let a2 = 1.0 / (hdim as f64).sqrt();
                let lin1 = (
                    p.param("head.lin1.weight", (hdim, n_in), Init::Uniform(a1))?,
                    p.param("head.lin1.bias", hdim, Init::Uniform(a1))?,
                );
                let lin2 = (
                    p.param("head.lin2.weight", (cfg.n_classes, hdim), Init::Uniform(a2))?,
                    p.param("head.lin2.bias", cfg.n_classes, Init::Uniform(a2))?,
                );
                OutputHead::Classifier(Box::new(ClsHead {
                    bn1,
                    lin1,
                    bn2,
                    lin2,
                }))
            }
        })
    }

    /// The logits: from `dropped` (the body output after output dropout) for the decoder; from
    /// `h` (before it) pooled over the non-padding positions of token ids `x` for the
    /// classifier. `embed` is the tied decoder weight.
    pub fn forward_t(
        &self,
        h: &Tensor,
        dropped: &Tensor,
        x: &Tensor,
        embed: &Tensor,
        cfg: &ModelConfig,
        pass: &mut Pass<'_>,
    ) -> Result<Tensor> {
        match self {
            OutputHead::Decoder(w, bias) => {
                let w = w.as_ref().unwrap_or(embed);
                layers::linear(dropped, w, Some(bias))
            }
            OutputHead::Classifier(head) => {
                let t = x.dim(1)?;
                let po = cfg.p(cfg.output_dropout);
                // Pool over real (non-padding) positions: last, max, mean (seed 003 §3.4.2).
                let pad = Special::Pad as u32;
                let mask = x.ne(pad)?.to_dtype(h.dtype())?.unsqueeze(2)?; // (b, t, 1)
                let last = h.narrow(1, t - 1, 1)?.squeeze(1)?;
                let n = mask.sum(1)?.clamp(1.0, f64::MAX)?;
                let mean = h.broadcast_mul(&mask)?.sum(1)?.broadcast_div(&n)?;
                let neg = ((mask.ones_like()? - &mask)? * 1e4)?;
                let lift = pass.hooks.lift.clone();
                let masked = h.broadcast_sub(&neg)?;
                let max = match lift.as_deref() {
                    Some(l) => l.max_over_time("head.max_pool", &masked)?,
                    None => masked.max(1)?,
                };
                let pooled = Tensor::cat(&[last, max, mean], 1)?.to_dtype(DType::F32)?;
                let (g1, b1, m1, v1) = &head.bn1;
                let z = layers::batch_norm(&pooled, g1, b1, m1, v1, pass.train)?;
                let z = layers::dropout(&z, po, pass.rng())?;
                let z = layers::linear(&z, &head.lin1.0, Some(&head.lin1.1))?;
                let z = super::lift::act(lift.as_deref(), "head.relu", &z, super::lift::Act::Relu)?;
                let (g2, b2, m2, v2) = &head.bn2;
                let z = layers::batch_norm(&z, g2, b2, m2, v2, pass.train)?;
                // Output dropout before the first linear layer, a lighter one (0.1 at drop_mult 0.5) before the second.
                let z = layers::dropout(&z, cfg.p(0.2), pass.rng())?;
                layers::linear(&z, &head.lin2.0, Some(&head.lin2.1))
            }
        }
    }
}
