//! [`GenomicModel`]: every architecture of [`ModelConfig`] behind one forward pass.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use genolm::models::{GenomicModel, ModelConfig, Mode};
//! let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 42).unwrap();
//! let x = Tensor::from_vec(vec![5u32, 9, 17, 33, 40, 7], (2, 3), &Device::Cpu).unwrap();
//! let out = model.forward(&x, None, Mode::Eval).unwrap();
//! assert_eq!(out.logits.dims(), &[2, 3, model.config().vocab()]);
//! ```

use candle_core::{DType, Device, Tensor, D};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::attention::TransformerStack;
use super::config::{Head, ModelConfig};
use super::conv::ConvStack;
use super::heads::OutputHead;
use super::layers;
use super::lstm::LstmStack;
use super::params::{Init, Params};
use super::pass::Pass;
use crate::{Error, Result};

mod io;
mod state;

pub use io::resolve_checkpoint;
pub(super) use state::select_rows;
pub use state::{Ablation, Hooks, Mode, Output, RnnState};

/// A genomic language model or classifier built from a [`ModelConfig`].
pub struct GenomicModel {
    cfg: ModelConfig,
    params: Params,
    device: Device,
    pub(super) compute_dtype: DType,
    pub(super) embed: Tensor,
    conv: ConvStack,
    lstm: LstmStack,
    pub(super) attn: TransformerStack,
    pub(super) head: OutputHead,
}

impl std::fmt::Debug for GenomicModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenomicModel")
            .field("arch", &self.cfg.arch_label())
            .field("name", &self.cfg.name)
            .field("parameters", &self.params.n_scalars())
            .field("device", &self.device)
            .finish()
    }
}

impl GenomicModel {
    /// Build a model with f32 parameters on `device`, initialised from `seed`.
    ///
    /// On the CPU, building or [loading](Self::load) the first model of a process makes the
    /// compute threads flush subnormal floats to zero ([`cpu::flush_subnormals`](crate::cpu::flush_subnormals):
    /// a trained network's saturated gates otherwise slow every step several-fold); set
    /// `GENOLM_KEEP_SUBNORMALS=1` to keep IEEE subnormals.
    pub fn new(cfg: ModelConfig, device: &Device, seed: u64) -> Result<Self> {
        Self::with_dtype(cfg, device, DType::F32, seed)
    }

    /// Build a model whose parameters have `dtype` (f64 for finite-difference checks).
    pub fn with_dtype(cfg: ModelConfig, device: &Device, dtype: DType, seed: u64) -> Result<Self> {
        if device.is_cpu() {
            crate::cpu::flush_subnormals_once();
        }
        cfg.validate()?;
        Self::assemble(cfg, Params::new(device.clone(), dtype, seed), dtype)
    }

    /// The model's blocks from `p`: registered there in this order (the seeded initialisation
    /// depends on it), or fetched when `p` already holds them.
    fn assemble(cfg: ModelConfig, mut p: Params, compute_dtype: DType) -> Result<Self> {
        let v = cfg.vocab();
        let e = cfg.emb_dim;
        let embed_init = if cfg.attn_layers > 0 {
            Init::Normal(0.02)
        } else {
            Init::Uniform(0.1)
        };
        let embed = p.param("embed.weight", (v, e), embed_init)?;
        let (conv, d) = ConvStack::new(&mut p, &cfg, e)?;
        let (lstm, d) = LstmStack::new(&mut p, &cfg, d)?;
        let attn = TransformerStack::new(&mut p, &cfg, d)?;
        let head = OutputHead::new(&mut p, &cfg, d, v)?;
        Ok(GenomicModel {
            cfg,
            device: p.device().clone(),
            params: p,
            compute_dtype,
            embed,
            conv,
            lstm,
            attn,
            head,
        })
    }

    /// This model for inference: the same weights (shared, not copied; later training shows
    /// through), detached from autograd. Its forward passes record no operation on the
    /// weights, so an evaluation keeps no graph alive (intermediates are freed as soon as they
    /// are used) and a backward pass to the inputs (attributions) computes no weight
    /// gradients. Every analysis of [`crate::infer`] and [`crate::explain`] runs on it; train
    /// the original, not the view (its weights receive no gradient). Cheap: no weight is
    /// copied (only the few batch-norm statistics of a classifier head).
    ///
    /// ```
    /// # use genolm::prelude::*;
    /// use candle_core::Tensor;
    /// use genolm::models::Mode;
    /// let m = GenomicModel::new(ModelConfig::preset("awd_lstm_small")?, &Device::Cpu, 1)?;
    /// let x = Tensor::new(&[[1u32, 2, 3]], &Device::Cpu)?;
    /// let view = m.inference()?;
    /// let (a, b) = (m.forward(&x, None, Mode::Eval)?, view.forward(&x, None, Mode::Eval)?);
    /// assert!(a.logits.track_op() && !b.logits.track_op()); // no graph behind the view's output
    /// let d = (a.logits - b.logits)?.abs()?.max_all()?.to_scalar::<f32>()?;
    /// assert_eq!(d, 0.0);
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn inference(&self) -> Result<GenomicModel> {
        Self::assemble(
            self.cfg.clone(),
            self.params.detached_view(),
            self.compute_dtype,
        )
    }

    /// The configuration.
    pub fn config(&self) -> &ModelConfig {
        &self.cfg
    }

    /// Name a classifier's classes in output order (stored in its checkpoint by
    /// [`save`](Self::save); see [`ModelConfig::class_names`]).
    ///
    /// ```
    /// # use genolm::prelude::*;
    /// let cfg = ModelConfig { head: Head::Classifier, ..ModelConfig::tiny() };
    /// let mut clf = GenomicModel::new(cfg, &Device::Cpu, 1)?;
    /// clf.set_class_names(vec!["background".into(), "promoter".into()])?;
    /// assert_eq!(clf.config().class_labels()[1], "promoter");
    /// assert!(clf.set_class_names(vec!["one".into()]).is_err()); // two outputs, one name
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn set_class_names(&mut self, names: Vec<String>) -> Result<()> {
        let mut cfg = self.cfg.clone();
        cfg.class_names = names;
        cfg.validate()?;
        self.cfg = cfg;
        Ok(())
    }

    /// The parameters (names, vars, buffers).
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The device the model lives on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The dtype activations are computed in (parameters stay in their own dtype).
    pub fn compute_dtype(&self) -> DType {
        self.compute_dtype
    }

    /// Compute activations in `dtype` (bf16/f16 for mixed precision on a GPU); the master
    /// weights keep their dtype and receive gradients in it.
    pub fn set_compute_dtype(&mut self, dtype: DType) {
        self.compute_dtype = dtype;
    }

    /// Use blocked (memory-bounded) attention for windows longer than `block` tokens; 0 =
    /// always the plain `L × L` attention ([`ModelConfig::attn_block`]). No weights change.
    pub fn set_attn_block(&mut self, block: usize) {
        self.cfg.attn_block = block;
    }

    /// Number of trainable scalars.
    pub fn n_params(&self) -> usize {
        self.params.n_scalars()
    }

    /// Names of the layer groups from the bottom (embedding) to the top (head), and the
    /// parameter names in each: the units of discriminative learning rates and gradual
    /// unfreezing. With tied weights the embedding sits in the head group (as in fastai),
    /// because the decoder uses it.
    pub fn layer_groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        let tied_lm = self.cfg.tie_weights && self.cfg.head != Head::Classifier;
        let mut prefixes: Vec<String> = Vec::new();
        if !tied_lm {
            prefixes.push("embed.".into());
        }
        prefixes.extend((0..self.cfg.conv_layers).map(|i| format!("conv.{i}.")));
        prefixes.extend((0..self.cfg.lstm_layers).map(|i| format!("lstm.{i}.")));
        prefixes.extend((0..self.cfg.attn_layers).map(|i| format!("attn.{i}.")));
        for pre in prefixes {
            let names: Vec<String> = self
                .params
                .names()
                .iter()
                .filter(|n| n.starts_with(&pre))
                .cloned()
                .collect();
            groups.push((pre.trim_end_matches('.').to_string(), names));
        }
        let top: Vec<String> = self
            .params
            .names()
            .iter()
            .filter(|n| {
                n.starts_with("head.")
                    || n.starts_with("attn.ln_f.")
                    || n.starts_with("rope.")
                    || (tied_lm && n.starts_with("embed."))
            })
            .cloned()
            .collect();
        groups.push(("head".into(), top));
        groups
    }

    /// A zero LSTM state for `batch` rows (None when the model has no LSTM).
    pub fn zero_state(&self, batch: usize) -> Result<Option<RnnState>> {
        self.lstm
            .zero_state(&self.cfg, batch, self.compute_dtype, &self.device)
    }

    /// Forward pass on token ids `x: (batch, time)` (u32). `state` continues a stateful LSTM.
    pub fn forward(&self, x: &Tensor, state: Option<&RnnState>, mode: Mode) -> Result<Output> {
        self.forward_hooked(x, state, mode, false, &Hooks::default())
    }

    /// The embedding matrix `(vocab, emb_dim)` (the input layer; tied to the decoder in AWD-LSTM).
    pub fn embedding_matrix(&self) -> &Tensor {
        &self.embed
    }

    /// Names of the layers [`forward_collect`](Self::forward_collect) returns, in order, with
    /// their widths.
    pub fn layer_names(&self) -> Vec<(String, usize)> {
        let cfg = &self.cfg;
        let mut out = vec![("embed".to_string(), cfg.emb_dim)];
        for i in 0..self.conv.len() {
            out.push((format!("conv.{i}"), cfg.conv_channels));
        }
        for i in 0..self.lstm.len() {
            out.push((format!("lstm.{i}"), cfg.lstm_out_dim(i)));
        }
        for i in 0..self.attn.len() {
            out.push((format!("attn.{i}"), cfg.body_dim()));
        }
        out.push(("body".to_string(), cfg.body_dim()));
        out
    }

    /// As [`forward`](Self::forward), also returning every layer's activations in order
    /// (`embed`, `conv.i`, `lstm.i`, `attn.i`, `body`).
    pub fn forward_collect(
        &self,
        x: &Tensor,
        state: Option<&RnnState>,
        mode: Mode,
    ) -> Result<Output> {
        self.forward_hooked(x, state, mode, true, &Hooks::default())
    }

    /// `x` as `(batch, time)` u32 token ids of this model's vocabulary, or a clear error.
    pub(super) fn checked_ids(&self, x: &Tensor) -> Result<(usize, usize, Tensor)> {
        let cfg = &self.cfg;
        let (b, t) = x.dims2().map_err(|_| {
            Error::Shape(format!(
                "token ids must be (batch, time); got {:?}",
                x.dims()
            ))
        })?;
        if t == 0 || b == 0 {
            return Err(Error::Input("empty batch".into()));
        }
        let x = x.to_dtype(DType::U32)?;
        let max_id = x.max_all()?.to_scalar::<u32>()? as usize;
        if max_id >= cfg.vocab() {
            return Err(Error::Input(format!(
                "token id {max_id} is outside the vocabulary of {} (k = {}); was the data \
                 tokenized with the model's tokenizer?",
                cfg.vocab(),
                cfg.k
            )));
        }
        Ok((b, t, x))
    }

    /// As [`forward`](Self::forward) with [`Hooks`]: replace the input embeddings (for
    /// gradients with respect to the input) and ablate neurons of named layers.
    pub fn forward_hooked(
        &self,
        x: &Tensor,
        state: Option<&RnnState>,
        mode: Mode,
        collect: bool,
        hooks: &Hooks,
    ) -> Result<Output> {
        let cfg = &self.cfg;
        let (b, t, x) = self.checked_ids(x)?;
        let mut rng = match mode {
            Mode::Train { seed } => Some(ChaCha8Rng::seed_from_u64(seed)),
            Mode::Eval => None,
        };
        let train = mode.is_train();
        let dt = self.compute_dtype;

        // Embedding with embedding dropout (whole rows, one mask per batch).
        let pe = cfg.p(cfg.embed_dropout);
        let emb_w = match rng.as_mut() {
            Some(r) if pe > 0.0 => {
                let m = layers::dropout_mask(
                    &[cfg.vocab(), 1],
                    pe,
                    r,
                    &self.device,
                    self.embed.dtype(),
                )?;
                self.embed.broadcast_mul(&m)?
            }
            _ => self.embed.clone(),
        };
        let mut h = match &hooks.input_embeddings {
            Some(e) => {
                if e.dims() != [b, t, cfg.emb_dim] {
                    return Err(Error::Shape(format!(
                        "input embeddings must be ({b}, {t}, {}); got {:?}",
                        cfg.emb_dim,
                        e.dims()
                    )));
                }
                e.to_dtype(dt)?
            }
            None => layers::embedding(&x, &emb_w)?.to_dtype(dt)?,
        };
        let mut pass = Pass {
            rng,
            train,
            hooks,
            collect,
            layers: Vec::new(),
        };
        h = pass.layer_out("embed", h)?;
        h = layers::locked_dropout(&h, cfg.p(cfg.input_dropout), pass.rng())?;

        // The body: convolutions, LSTMs, transformer layers (each block is empty or not).
        h = self.conv.forward_t(h, cfg, &mut pass)?;
        let lstm = self.lstm.forward_t(h.clone(), state, cfg, dt, &mut pass)?;
        let (mut h, raw_last, new_state) = match lstm {
            Some(o) => (o.h.clone(), Some(o.h), Some(o.state)),
            None => (h, None, None),
        };
        h = self.attn.forward_t(h, &x, cfg, &mut pass)?;
        h = pass.layer_out("body", h)?;

        // Output dropout, AR/TAR.
        let po = cfg.p(cfg.output_dropout);
        let dropped = layers::locked_dropout(&h, po, pass.rng())?;
        let mut penalty = None;
        if train && (cfg.ar > 0.0 || cfg.tar > 0.0) && cfg.head != Head::Classifier {
            let raw = raw_last.unwrap_or_else(|| h.clone()).to_dtype(DType::F32)?;
            let mut p = (dropped.to_dtype(DType::F32)?.sqr()?.mean_all()? * cfg.ar)?;
            if t > 1 && cfg.tar > 0.0 {
                let diff = (raw.narrow(1, 1, t - 1)? - raw.narrow(1, 0, t - 1)?)?;
                p = (p + (diff.sqr()?.mean_all()? * cfg.tar)?)?;
            }
            penalty = Some(p);
        }
        let logits = self
            .head
            .forward_t(&h, &dropped, &x, &self.embed, cfg, &mut pass)?;
        Ok(Output {
            logits,
            penalty,
            state: new_state,
            layers: pass.layers,
        })
    }

    /// The training loss of a batch: cross-entropy (LM: every position; MLM: the masked
    /// positions; classifier: one label per row) plus the AR/TAR penalty.
    /// Returns `(loss with penalty, cross-entropy alone)`.
    pub fn loss(&self, out: &Output, targets: &Tensor) -> Result<(Tensor, Tensor)> {
        self.loss_balanced(out, targets, None)
    }

    /// [`loss`](Self::loss) with a classifier's cross-entropy under a [`ClassBalance`]
    /// (class weights or logit adjustment); LM and MLM heads ignore it.
    ///
    /// [`ClassBalance`]: layers::ClassBalance
    pub fn loss_balanced(
        &self,
        out: &Output,
        targets: &Tensor,
        balance: Option<&layers::ClassBalance>,
    ) -> Result<(Tensor, Tensor)> {
        let ce = match self.cfg.head {
            Head::Lm => {
                let v = out.logits.dim(D::Minus1)?;
                layers::cross_entropy(&out.logits.reshape(((), v))?, &targets.flatten_all()?)?
            }
            Head::Mlm => {
                let v = out.logits.dim(D::Minus1)?;
                layers::masked_cross_entropy(
                    &out.logits.reshape(((), v))?,
                    &targets.flatten_all()?,
                )?
                .0
            }
            Head::Classifier => match balance {
                Some(b) => b.cross_entropy(&out.logits, &targets.flatten_all()?)?,
                None => layers::cross_entropy(&out.logits, &targets.flatten_all()?)?,
            },
        };
        let total = match &out.penalty {
            Some(p) => (&ce + p)?,
            None => ce.clone(),
        };
        Ok((total, ce))
    }
}
