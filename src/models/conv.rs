//! Convolution block: a stack of 1-D convolutions (causal for an LM head), plain ReLU or
//! WaveNet-style gated (`tanh · σ`), with dilation growing per layer, residual connections and
//! skip connections whose sum becomes the body output (the dilated residual CNN).
//! Parameters: `conv.{i}.weight`, `.bias`, `.gate.*`, `.res.*`, `.skip.*`.

use candle_core::Tensor;

use super::config::ModelConfig;
use super::layers;
use super::lift::{act, mul, Act};
use super::params::{Init, Params};
use super::pass::Pass;
use crate::Result;

struct ConvLayer {
    w: Tensor,
    b: Tensor,
    gate: Option<(Tensor, Tensor)>,
    res: Option<(Tensor, Tensor)>,
    skip: Option<(Tensor, Tensor)>,
    dilation: usize,
}

/// The convolution layers of a model (empty when `conv_layers = 0`).
pub(crate) struct ConvStack {
    layers: Vec<ConvLayer>,
}

impl ConvStack {
    /// Register the parameters of `cfg.conv_layers` layers reading `d_in` channels; returns the
    /// stack and its output width.
    pub fn new(p: &mut Params, cfg: &ModelConfig, d_in: usize) -> Result<(Self, usize)> {
        let mut d = d_in;
        let mut conv = Vec::new();
        for i in 0..cfg.conv_layers {
            let c = cfg.conv_channels;
            let k = cfg.conv_kernel;
            let a = 1.0 / ((d * k) as f64).sqrt();
            let w = p.param(&format!("conv.{i}.weight"), (c, d, k), Init::Uniform(a))?;
            let b = p.param(&format!("conv.{i}.bias"), c, Init::Zeros)?;
            let gate = if cfg.conv_gated {
                Some((
                    p.param(
                        &format!("conv.{i}.gate.weight"),
                        (c, d, k),
                        Init::Uniform(a),
                    )?,
                    p.param(&format!("conv.{i}.gate.bias"), c, Init::Zeros)?,
                ))
            } else {
                None
            };
            let a1 = 1.0 / (c as f64).sqrt();
            // The last layer's residual output is unused when the body is the sum of skips.
            let last_with_skip = cfg.conv_skip && i + 1 == cfg.conv_layers;
            let res = if cfg.conv_gated && cfg.conv_residual && d == c && !last_with_skip {
                Some((
                    p.param(&format!("conv.{i}.res.weight"), (c, c), Init::Uniform(a1))?,
                    p.param(&format!("conv.{i}.res.bias"), c, Init::Zeros)?,
                ))
            } else {
                None
            };
            let skip = if cfg.conv_skip {
                Some((
                    p.param(&format!("conv.{i}.skip.weight"), (c, c), Init::Uniform(a1))?,
                    p.param(&format!("conv.{i}.skip.bias"), c, Init::Zeros)?,
                ))
            } else {
                None
            };
            let dilation = cfg.conv_dilation_growth.pow(i as u32);
            conv.push(ConvLayer {
                w,
                b,
                gate,
                res,
                skip,
                dilation,
            });
            d = c;
        }
        Ok((ConvStack { layers: conv }, d))
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// `h: (batch, time, channels)` → `(batch, time, conv_channels)`; identity without layers.
    pub fn forward_t(&self, h: Tensor, cfg: &ModelConfig, pass: &mut Pass<'_>) -> Result<Tensor> {
        if self.layers.is_empty() {
            return Ok(h);
        }
        let mut xc = h.transpose(1, 2)?.contiguous()?; // (b, c, t)
        let mut skip_sum: Option<Tensor> = None;
        let lift = pass.hooks.lift.clone();
        let lift = lift.as_deref();
        for (i, l) in self.layers.iter().enumerate() {
            let a = layers::conv1d_same(&xc, &l.w, Some(&l.b), l.dilation, cfg.causal())?;
            let act = match &l.gate {
                Some((gw, gb)) => {
                    let g = layers::conv1d_same(&xc, gw, Some(gb), l.dilation, cfg.causal())?;
                    let ta = act(lift, &format!("conv.{i}.tanh"), &a, Act::Tanh)?;
                    let sg = act(lift, &format!("conv.{i}.sigmoid"), &g, Act::Sigmoid)?;
                    mul(lift, &ta, &sg)?
                }
                None => act(lift, &format!("conv.{i}.relu"), &a, Act::Relu)?,
            };
            let act_t = act.transpose(1, 2)?; // (b, t, c)
            if let Some((sw, sb)) = &l.skip {
                let s = layers::linear(&act_t, sw, Some(sb))?;
                skip_sum = Some(match skip_sum {
                    Some(acc) => (acc + s)?,
                    None => s,
                });
            }
            let out_t = match &l.res {
                Some((rw, rb)) => (layers::linear(&act_t, rw, Some(rb))? + xc.transpose(1, 2)?)?,
                None if cfg.conv_residual && xc.dim(1)? == act.dim(1)? => {
                    (act_t + xc.transpose(1, 2)?)?
                }
                None => act_t,
            };
            let name = format!("conv.{i}");
            let out_t = pass.hooks.apply(&name, out_t.contiguous()?)?;
            let out_t = layers::locked_dropout(
                &out_t,
                if i + 1 < self.layers.len() {
                    cfg.p(cfg.hidden_dropout)
                } else {
                    0.0
                },
                pass.rng(),
            )?;
            if pass.collect {
                pass.layers.push((name, out_t.clone()));
            }
            xc = out_t.transpose(1, 2)?.contiguous()?;
        }
        Ok(match skip_sum {
            Some(s) => act(lift, "conv.skip.relu", &s, Act::Relu)?,
            None => xc.transpose(1, 2)?.contiguous()?,
        })
    }
}
