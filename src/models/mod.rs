//! Models: one [`ModelConfig`] builds AWD-LSTM, stateful LSTM, CNN, CNN+LSTM, dilated
//! residual CNN with skips, and a pre-LN RoPE transformer, with an LM, MLM or classifier head.
//!
//! * [`config`]: the serde configuration and its presets.
//! * [`layers`]: the blocks as differentiable functions of tensors.
//! * [`params`]: seeded parameters, buffers and atomic safetensors I/O.
//! * [`model`]: [`GenomicModel`], its forward pass, loss, layer groups and checkpoints.
//!
//! ```
//! use candle_core::Device;
//! use genolm::models::{GenomicModel, ModelConfig};
//! let m = GenomicModel::new(ModelConfig::preset("dilated_small").unwrap(), &Device::Cpu, 1).unwrap();
//! assert_eq!(m.config().arch_label(), "dilated CNN");
//! assert!(m.n_params() > 10_000);
//! ```

pub mod config;
pub mod layers;
pub mod lstm_fused;
pub mod model;
pub mod params;

pub use config::{Head, ModelConfig, PRESETS};
pub use model::{Ablation, GenomicModel, Hooks, Mode, Output, RnnState};
