//! The state one forward pass threads through the blocks: the dropout generator, the hooks,
//! and the layer activations collected on the way.

use candle_core::Tensor;
use rand_chacha::ChaCha8Rng;

use super::model::Hooks;
use crate::Result;

/// One forward pass's context (see the module docs).
pub(crate) struct Pass<'a> {
    /// Dropout masks come from here in training; `None` in evaluation.
    pub rng: Option<ChaCha8Rng>,
    /// Training (dropout on, BatchNorm batch statistics)?
    pub train: bool,
    /// Ablations and replaced inputs.
    pub hooks: &'a Hooks,
    /// Collect every layer's output?
    pub collect: bool,
    /// The collected `(layer name, activations)` in layer order.
    pub layers: Vec<(String, Tensor)>,
}

impl Pass<'_> {
    /// The dropout generator (training only).
    pub fn rng(&mut self) -> Option<&mut ChaCha8Rng> {
        self.rng.as_mut()
    }

    /// Apply the hooks of layer `name` to its output, and collect it when asked.
    pub fn layer_out(&mut self, name: &str, h: Tensor) -> Result<Tensor> {
        let h = self.hooks.apply(name, h)?;
        if self.collect {
            self.layers.push((name.to_string(), h.clone()));
        }
        Ok(h)
    }
}
