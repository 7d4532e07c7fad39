//! Checkpoints that resume: the model, the optimizer moments and the interrupted fit,
//! each written atomically.

use std::collections::HashMap;
use std::path::Path;

use candle_core::Device;

use super::data::Data;
use super::learner::{CheckpointState, Learner};
use crate::fsio::atomic_write;
use crate::models::params;
use crate::models::GenomicModel;
use crate::{Error, Result};

impl Learner {
    /// Write `model.safetensors`, `optimizer.safetensors` and `state.json` into `dir`, each
    /// atomically (`state.json` last, so a complete `state.json` means a complete checkpoint).
    pub fn save_checkpoint(&mut self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        self.model.save(dir.join("model.safetensors"))?;
        params::save_safetensors(
            &dir.join("optimizer.safetensors"),
            &self.opt.state_tensors()?,
            HashMap::from([("step".to_string(), self.opt.steps().to_string())]),
        )?;
        let st = CheckpointState {
            genolm_version: env!("CARGO_PKG_VERSION").into(),
            step: self.opt.steps(),
            fit: self.fit_state.clone(),
            history: self.history.clone(),
            options: self.opts.clone(),
            groups: self.opt.describe(),
            loss_scale: self.loss_scale,
            steps: self.history.steps.clone(),
            smoother: self.smoother,
        };
        let json = serde_json::to_vec_pretty(&st).expect("state serialises");
        atomic_write(&dir.join("state.json"), &json)?;
        self.last_checkpoint = Some(dir.to_path_buf());
        Ok(())
    }

    /// Rebuild a learner from a checkpoint folder: model, optimizer moments and step, group
    /// settings, history, and the interrupted fit. Call [`fit`](Self::fit) with the same
    /// epochs and schedule to finish it; the result equals an uninterrupted run on CPU.
    pub fn resume(dir: &Path, train: Data, valid: Option<Data>, device: &Device) -> Result<Self> {
        let state_path = dir.join("state.json");
        let bytes = std::fs::read(&state_path).map_err(|e| Error::io(&state_path, e))?;
        let st: CheckpointState = serde_json::from_slice(&bytes).map_err(|e| {
            Error::parse(
                state_path.display().to_string(),
                e.line(),
                format!("not a genolm checkpoint state: {e}"),
            )
        })?;
        let model = GenomicModel::load(dir.join("model.safetensors"), device)?;
        let mut l = Learner::new(model, train, valid, st.options.clone())?;
        let (t, _) = params::load_safetensors(&dir.join("optimizer.safetensors"), device)?;
        l.opt.load_state(&t, st.step)?;
        l.opt.apply_description(&st.groups);
        l.history = st.history;
        l.history.steps = st.steps;
        l.smoother = st.smoother;
        if let Some(f) = &st.fit {
            l.stage = f.stage.clone();
        }
        l.fit_state = st.fit;
        l.loss_scale = st.loss_scale;
        l.last_checkpoint = Some(dir.to_path_buf());
        Ok(l)
    }
}
