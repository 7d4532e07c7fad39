//! A model's checkpoint: save and load (safetensors with the config in its metadata),
//! rebuilding, weight transfer between models and the checkpoint path of a run folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};

use crate::models::config::ModelConfig;
use crate::models::params::{self};
use crate::models::rope::RopeScaling;
use crate::{Error, Result};

use super::GenomicModel;

impl GenomicModel {
    /// A fresh copy of this model: same configuration, weights and buffers, new tensors.
    ///
    /// Gradient code (the [`Learner`](crate::train::Learner), saliency, integrated gradients)
    /// trains or differentiates a rebuilt copy. In an evcxr notebook every cell links its own
    /// static copy of candle, whose tensor ids come from a per-copy counter: a model made in one
    /// cell and differentiated in another would share ids with the new cell's tensors and
    /// back-propagation would mix them up. Rebuilding in the cell that runs the backward pass
    /// gives every tensor of the graph ids from one counter. Costs one copy of the weights.
    ///
    /// ```
    /// # use genolm::prelude::*;
    /// let m = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1)?;
    /// let c = m.rebuilt()?;
    /// assert_eq!(c.n_params(), m.n_params());
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn rebuilt(&self) -> Result<GenomicModel> {
        let mut model =
            GenomicModel::with_dtype(self.config().clone(), self.device(), self.params.dtype(), 0)?;
        model.compute_dtype = self.compute_dtype;
        let tensors: HashMap<String, Tensor> = self.params.tensors().into_iter().collect();
        model.params.assign(&tensors, true)?;
        Ok(model)
    }

    /// The same model with another RoPE scaling (seed 004: extend the context by changing
    /// only the positional encoding). Every weight is copied; parameters the new scaling adds
    /// (CLEX's ODE network) keep their initialisation from `seed`.
    ///
    /// ```
    /// # use genolm::prelude::*;
    /// use genolm::models::rope::{RopeMethod, RopeScaling};
    /// let m = GenomicModel::new(ModelConfig::transformer_mlm_small(), &Device::Cpu, 1)?;
    /// let clex = RopeScaling { method: RopeMethod::Clex, ..RopeScaling::default() };
    /// let c = m.with_rope_scaling(clex, 2)?;
    /// assert!(c.n_params() > m.n_params());
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn with_rope_scaling(&self, scaling: RopeScaling, seed: u64) -> Result<GenomicModel> {
        let mut cfg = self.cfg.clone();
        cfg.rope_scaling = scaling;
        let mut model = GenomicModel::with_dtype(cfg, &self.device, self.params.dtype(), seed)?;
        model.compute_dtype = self.compute_dtype;
        model.copy_from(
            self,
            |n| !n.starts_with("rope."),
            "tensors matched when changing the RoPE scaling",
            true,
        )?;
        Ok(model)
    }

    /// Copy the embedding and body weights (everything but the head) of `other` into this
    /// model, for ULMFiT's LM → classifier transfer. Returns how many tensors were copied.
    pub fn load_encoder_from(&self, other: &GenomicModel) -> Result<usize> {
        self.copy_from(
            other,
            |n| !n.starts_with("head."),
            "encoder tensors matched; the two configurations differ in their body",
            false,
        )
    }

    /// Copy every weight of `other` into this model (to fine-tune a trained model under
    /// another run's dropouts or schedule); the two must have the same architecture. Returns
    /// how many tensors were copied.
    ///
    /// ```
    /// # use genolm::prelude::*;
    /// let dev = candle_core::Device::Cpu;
    /// let a = GenomicModel::new(ModelConfig::tiny(), &dev, 1)?;
    /// let b = GenomicModel::new(ModelConfig::tiny(), &dev, 2)?;
    /// b.init_from(&a)?;
    /// let mut wider = ModelConfig::tiny();
    /// wider.emb_dim *= 2;
    /// assert!(GenomicModel::new(wider, &dev, 3)?.init_from(&a).is_err());
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn init_from(&self, other: &GenomicModel) -> Result<usize> {
        self.copy_from(
            other,
            |_| true,
            "tensors matched; the run's [model] and the checkpoint differ in their architecture",
            false,
        )
    }

    /// Copy the tensors of `other` whose names pass `keep` into this model; every parameter of
    /// this model that passes `keep` (and, with `buffers`, every buffer) must be matched;
    /// `what` completes the error message.
    fn copy_from(
        &self,
        other: &GenomicModel,
        keep: impl Fn(&str) -> bool,
        what: &str,
        buffers: bool,
    ) -> Result<usize> {
        let src: HashMap<String, Tensor> = other
            .params
            .tensors()
            .into_iter()
            .filter(|(n, _)| keep(n))
            .collect();
        let n = self.params.assign(&src, false)?;
        let want = self.params.names().iter().filter(|n| keep(n)).count()
            + if buffers {
                self.params.buffers().len()
            } else {
                0
            };
        if n != want {
            return Err(Error::Shape(format!("only {n} of {want} {what}")));
        }
        Ok(n)
    }

    /// Save weights (and buffers) to a safetensors file, atomically. The model configuration
    /// is stored as JSON in the header metadata (`genolm_config`), so the file alone is
    /// enough to rebuild the model; PyTorch users open it with `safetensors.torch.load_file`.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let meta = HashMap::from([
            (
                "genolm_config".to_string(),
                serde_json::to_string(&self.cfg).expect("config serialises"),
            ),
            (
                "genolm_version".to_string(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
            ("format".to_string(), "pt".to_string()),
        ]);
        params::save_safetensors(path.as_ref(), &self.params.tensors(), meta)
    }

    /// Load a model saved by [`save`](Self::save). `path` may be the `.safetensors` file, a
    /// checkpoint folder holding `model.safetensors`, a `genolm classify` folder holding
    /// `classifier.safetensors`, or `pretrained` (the
    /// [shipped model](crate::models::pretrained)).
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        if let Some(Err(e)) = crate::models::pretrained::resolve(path.as_ref()) {
            return Err(e);
        }
        if let Some(e) = no_model_in(path.as_ref()) {
            return Err(e);
        }
        let path = resolve_checkpoint(path.as_ref());
        let (tensors, meta) = params::load_safetensors(&path, device)?;
        let cfg_json = meta.get("genolm_config").ok_or_else(|| {
            Error::Input(format!(
                "{}: no genolm_config in the header; was it written by genolm?",
                path.display()
            ))
        })?;
        let cfg = ModelConfig::from_json_str(cfg_json)?;
        let model = GenomicModel::new(cfg, device, 0)?;
        model.params.assign(&tensors, true)?;
        Ok(model)
    }
}

/// `dir/model.safetensors` for a folder (a `genolm classify` folder's
/// `classifier.safetensors` when it has no `model.safetensors`), the path itself otherwise;
/// `pretrained` and `pretrained:<name>` name a [shipped model](crate::models::pretrained) (a
/// missing one stays as given, so loading it reports the path).
pub fn resolve_checkpoint(path: &Path) -> PathBuf {
    if let Some(Ok(dir)) = crate::models::pretrained::resolve(path) {
        return dir.join("model.safetensors");
    }
    if path.is_dir() {
        let run = path.join("model.safetensors");
        let classifier = path.join("classifier.safetensors");
        if !run.is_file() && classifier.is_file() {
            return classifier;
        }
        run
    } else {
        path.to_path_buf()
    }
}

/// Why a folder given as a model holds none: a `genolm classify --probe` or `--generative`
/// folder holds several models, so one of its files must be named.
fn no_model_in(dir: &Path) -> Option<Error> {
    if !dir.is_dir()
        || dir.join("model.safetensors").is_file()
        || dir.join("classifier.safetensors").is_file()
    {
        return None;
    }
    let mut several: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".safetensors") && n != "optimizer.safetensors")
        .collect();
    several.sort();
    Some(Error::Input(if several.is_empty() {
        format!(
            "{}: no model.safetensors (a run folder) or classifier.safetensors (a `genolm \
             classify` folder) in this folder",
            dir.display()
        )
    } else {
        format!(
            "{}: this folder holds several models ({}); give the file of the one you mean \
             (a --probe folder's language model is probe_lm.safetensors, a --generative \
             folder's class LMs are class_lm_<class>.safetensors)",
            dir.display(),
            several.join(", ")
        )
    }))
}
