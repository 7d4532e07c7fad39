//! Models: one [`ModelConfig`] builds AWD-LSTM, stateful LSTM, CNN, CNN+LSTM, dilated
//! residual CNN with skips, and a pre-LN RoPE transformer, with an LM, MLM or classifier head.
//!
//! * [`config`]: the serde configuration and its presets.
//! * [`device`]: the device a run names (`cpu`, `cuda`, `auto`).
//! * [`layers`]: the differentiable functions of tensors the blocks are made of.
//! * blocks, one file each in candle's style (a struct, a constructor registering its
//!   parameters, `forward_t`): `conv` (plain, gated, dilated, residual, skips), `lstm`
//!   (AWD-LSTM), `attention` (pre-LN RoPE transformer), `heads` (decoder, classifier).
//! * [`fused`]: fused CPU kernels of the transformer (layer norm, bias + GELU, attention).
//! * [`fused_linear`]: the CPU linear layer as one op on candle's CPU pool.
//! * [`kv_cache`]: the key/value cache of causal transformers (generation reads new tokens only).
//! * [`lift`]: DeepLIFT's rules as forward operations (a DeepLIFT pass through any block).
//! * [`params`]: seeded parameters, buffers and atomic safetensors I/O.
//! * [`model`]: [`GenomicModel`], its forward pass, loss, layer groups and checkpoints.
//! * [`pretrained`]: the language model that ships with genolm (`pretrained` as a checkpoint path).
//!
//! ```
//! use candle_core::Device;
//! use genolm::models::{GenomicModel, ModelConfig};
//! let m = GenomicModel::new(ModelConfig::preset("dilated_small").unwrap(), &Device::Cpu, 1).unwrap();
//! assert_eq!(m.config().arch_label(), "dilated CNN");
//! assert!(m.n_params() > 10_000);
//! ```

mod attention;
pub mod config;
mod conv;
pub mod device;
pub mod flash;
pub mod fused;
pub mod fused_linear;
mod heads;
pub mod kv_cache;
pub mod layers;
pub mod lift;
mod lstm;
pub mod lstm_fused;
pub mod model;
mod model_ref;
pub mod params;
mod pass;
pub mod pretrained;
pub mod rope;

pub use config::{Head, ModelConfig, PRESETS};
pub use device::{parse_device, DeviceChoice};
pub use kv_cache::KvCache;
pub use model::{Ablation, GenomicModel, Hooks, Mode, Output, RnnState};
pub use model_ref::ModelRef;
