//! LSTM block: stacked LSTM layers (AWD-LSTM: DropConnect on the hidden-to-hidden weights,
//! locked dropout between layers), carrying an [`RnnState`] for stateful training and
//! inference. The recurrence itself is [`layers::lstm_layer`] (the fused CPU op of
//! [`super::lstm_fused`] where it applies). Parameters: `lstm.{i}.weight_ih`, `.weight_hh`,
//! `.bias_ih`, `.bias_hh` (PyTorch's names and layouts).

use candle_core::{DType, Device, Tensor};

use super::config::ModelConfig;
use super::layers::{self, LstmWeights};
use super::model::RnnState;
use super::params::{Init, Params};
use super::pass::Pass;
use crate::{Error, Result};

/// The LSTM layers of a model (empty when `lstm_layers = 0`).
pub(crate) struct LstmStack {
    layers: Vec<LstmWeights>,
}

/// What the LSTM stack returns.
pub(crate) struct LstmOut {
    /// The last layer's output (dropout-free), `(batch, time, width)`.
    pub h: Tensor,
    /// The state after the last step.
    pub state: RnnState,
}

impl LstmStack {
    /// Register the parameters of `cfg.lstm_layers` layers reading `d_in` features; returns
    /// the stack and its output width.
    pub fn new(p: &mut Params, cfg: &ModelConfig, d_in: usize) -> Result<(Self, usize)> {
        let mut d = d_in;
        let mut lstm = Vec::new();
        for i in 0..cfg.lstm_layers {
            let h = cfg.lstm_out_dim(i);
            let a = 1.0 / (h as f64).sqrt();
            lstm.push(LstmWeights {
                w_ih: p.param(&format!("lstm.{i}.weight_ih"), (4 * h, d), Init::Uniform(a))?,
                w_hh: p.param(&format!("lstm.{i}.weight_hh"), (4 * h, h), Init::Uniform(a))?,
                b_ih: p.param(&format!("lstm.{i}.bias_ih"), 4 * h, Init::Uniform(a))?,
                b_hh: p.param(&format!("lstm.{i}.bias_hh"), 4 * h, Init::Uniform(a))?,
            });
            d = h;
        }
        Ok((LstmStack { layers: lstm }, d))
    }

    /// Number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// A zero state for `batch` rows (`None` without layers).
    pub fn zero_state(
        &self,
        cfg: &ModelConfig,
        batch: usize,
        dtype: DType,
        device: &Device,
    ) -> Result<Option<RnnState>> {
        if self.layers.is_empty() {
            return Ok(None);
        }
        let mut h = Vec::new();
        for i in 0..self.layers.len() {
            let w = cfg.lstm_out_dim(i);
            h.push(Tensor::zeros((batch, w), dtype, device)?);
        }
        Ok(Some(RnnState { c: h.clone(), h }))
    }

    /// Run the layers on `h: (batch, time, features)` from `init` (the zero state when
    /// `None`); `None` without layers.
    pub fn forward_t(
        &self,
        h: Tensor,
        init: Option<&RnnState>,
        cfg: &ModelConfig,
        dtype: DType,
        pass: &mut Pass<'_>,
    ) -> Result<Option<LstmOut>> {
        if self.layers.is_empty() {
            return Ok(None);
        }
        let b = h.dim(0)?;
        let device = h.device().clone();
        let init = match init {
            Some(s) => s.clone(),
            None => self
                .zero_state(cfg, b, dtype, &device)?
                .expect("the stack has layers"),
        };
        if init.h.len() != self.layers.len() || init.h[0].dim(0)? != b {
            return Err(Error::Shape(format!(
                "state has {} layers of {} rows; the model has {} layers and the batch {b} rows",
                init.h.len(),
                init.h.first().map(|t| t.dim(0).unwrap_or(0)).unwrap_or(0),
                self.layers.len()
            )));
        }
        let pw = cfg.p(cfg.weight_dropout);
        let mut hs = Vec::new();
        let mut cs = Vec::new();
        let mut h = h;
        for (i, w) in self.layers.iter().enumerate() {
            let w_used = match pass.rng() {
                Some(r) if pw > 0.0 => {
                    let m = layers::dropout_mask(w.w_hh.dims(), pw, r, &device, w.w_hh.dtype())?;
                    LstmWeights {
                        w_hh: (&w.w_hh * m)?,
                        ..w.clone()
                    }
                }
                _ => w.clone(),
            };
            let (out, hn, cn) = match pass.hooks.lift.as_deref() {
                Some(l) => layers::lstm_layer_lifted(
                    &h,
                    &w_used,
                    &init.h[i],
                    &init.c[i],
                    Some(l),
                    &format!("lstm.{i}"),
                )?,
                None => layers::lstm_layer(&h, &w_used, &init.h[i], &init.c[i])?,
            };
            let out = pass.layer_out(&format!("lstm.{i}"), out)?;
            hs.push(hn);
            cs.push(cn);
            h = if i + 1 == self.layers.len() {
                out
            } else {
                layers::locked_dropout(&out, cfg.p(cfg.hidden_dropout), pass.rng())?
            };
        }
        Ok(Some(LstmOut {
            h,
            state: RnnState { h: hs, c: cs },
        }))
    }
}
