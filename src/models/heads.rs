//! Output heads: the LM/MLM decoder (tied to the embedding in AWD-LSTM) and the ULMFiT
//! classifier (concat pooling of last, max and mean over real positions and the means of
//! [`cls_pool_bins`](super::ModelConfig::cls_pool_bins) stretches of them, then BatchNorm →
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
                let n_in = (3 + cfg.cls_pool_bins) * d;
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
                // scaled for the three global poolings; the position bins' weights start at
                // zero, so the head starts as the three-pooling head and learns what the bins
                // add (drawn at the full scale, they slowed learning on unaligned motifs: a
                // planted-motif CNN at 0.64 instead of 0.93 after six epochs)
                let n_glob = 3 * d;
                let a1 = 1.0 / (n_glob as f64).sqrt();
                let a2 = 1.0 / (hdim as f64).sqrt();
                let lin1_init = Init::UniformLeading {
                    a: a1,
                    cols: n_glob,
                    row_len: n_in,
                };
                let lin1 = (
                    p.param("head.lin1.weight", (hdim, n_in), lin1_init)?,
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
                let mut parts = vec![last, max, mean];
                if cfg.cls_pool_bins > 0 {
                    parts.push(bin_means(h, x, cfg.cls_pool_bins)?);
                }
                let pooled = Tensor::cat(&parts, 1)?.to_dtype(DType::F32)?;
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

/// The means of `h` (batch, time, width) over `bins` equal stretches of each item's real
/// (non-padding) positions, flattened to (batch, bins × width) in position order. An item with
/// `n` real tokens puts token `i` in bin `⌊i · bins / n⌋`; a bin without tokens (an item
/// shorter than `bins`) is zero. A fixed linear map of `h`, so gradients and DeepLIFT's linear
/// rule pass through it.
pub(crate) fn bin_means(h: &Tensor, x: &Tensor, bins: usize) -> Result<Tensor> {
    let (b, t, d) = h.dims3()?;
    let pad = Special::Pad as u32;
    let ids = x.to_dtype(DType::U32)?.to_vec2::<u32>()?;
    let mut w = vec![0f32; b * bins * t];
    for (i, row) in ids.iter().enumerate() {
        let real: Vec<usize> = (0..t).filter(|&j| row[j] != pad).collect();
        let n = real.len();
        let mut count = vec![0usize; bins];
        for r in 0..n {
            count[r * bins / n] += 1;
        }
        for (r, &j) in real.iter().enumerate() {
            let k = r * bins / n;
            w[(i * bins + k) * t + j] = 1.0 / count[k] as f32;
        }
    }
    let w = Tensor::from_vec(w, (b, bins, t), h.device())?.to_dtype(h.dtype())?;
    Ok(w.matmul(&h.contiguous()?)?.reshape((b, bins * d))?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn bin_means_follow_real_positions() {
        let pad = Special::Pad as u32;
        // item 0: 4 real tokens after 2 pads; item 1: 6 real tokens
        let x = Tensor::new(&[[pad, pad, 7, 7, 7, 7], [7, 7, 7, 7, 7, 7]], &Device::Cpu).unwrap();
        let h = Tensor::arange(0f32, 12.0, &Device::Cpu)
            .unwrap()
            .reshape((2, 6, 1))
            .unwrap();
        let close = |a: &[f32], b: &[f32]| {
            assert_eq!(a.len(), b.len());
            assert!(
                a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5),
                "{a:?} vs {b:?}"
            );
        };
        let m = bin_means(&h, &x, 2).unwrap().to_vec2::<f32>().unwrap();
        close(&m[0], &[2.5, 4.5]); // (2+3)/2, (4+5)/2
        close(&m[1], &[7.0, 10.0]); // (6+7+8)/3, (9+10+11)/3
                                    // more bins than real tokens: the empty ones are zero
        let m = bin_means(&h, &x, 8).unwrap().to_vec2::<f32>().unwrap();
        close(&m[0], &[2.0, 0.0, 3.0, 0.0, 4.0, 0.0, 5.0, 0.0]);
        // the gradient of the bins' sum: 1 / (tokens in the bin) at real positions, 0 at pads
        let v = candle_core::Var::from_tensor(&h).unwrap();
        let g = bin_means(v.as_tensor(), &x, 2)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g = g
            .get(v.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let third = 1.0 / 3.0;
        close(&g[..6], &[0.0, 0.0, 0.5, 0.5, 0.5, 0.5]);
        close(&g[6..], &[third; 6]);
    }
}
