//! What a forward pass takes and returns besides the tokens: the mode, the recurrent state,
//! the output, ablations and hooks.

use candle_core::{Tensor, D};

use crate::{Error, Result};

/// Training (with dropout masks drawn from `seed`) or evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// No dropout; BatchNorm uses running statistics.
    Eval,
    /// Dropout on; every mask of this forward pass comes from a generator seeded by `seed`.
    Train {
        /// Seed of this pass's dropout masks.
        seed: u64,
    },
}

impl Mode {
    /// Is this a training pass?
    pub fn is_train(self) -> bool {
        matches!(self, Mode::Train { .. })
    }
}

/// Hidden and cell state of every LSTM layer (each `batch × width`).
#[derive(Debug, Clone)]
pub struct RnnState {
    /// Hidden states, one per LSTM layer.
    pub h: Vec<Tensor>,
    /// Cell states, one per LSTM layer.
    pub c: Vec<Tensor>,
}

/// Rows `rows` (in that order, repeats allowed) of each `(batch, …)` tensor: a carried state
/// or cache following its beams.
pub(in crate::models) fn select_rows(v: &[Tensor], rows: &[usize]) -> Result<Vec<Tensor>> {
    let Some(first) = v.first() else {
        return Ok(Vec::new());
    };
    let b = first.dim(0)?;
    if let Some(&r) = rows.iter().find(|&&r| r >= b) {
        return Err(Error::Input(format!("row {r} out of range (batch of {b})")));
    }
    let idx = Tensor::from_vec(
        rows.iter().map(|&r| r as u32).collect::<Vec<_>>(),
        rows.len(),
        first.device(),
    )?;
    v.iter()
        .map(|t| Ok(t.contiguous()?.index_select(&idx, 0)?))
        .collect()
}

impl RnnState {
    /// Cut the graph (truncated BPTT): the values stay, the history goes.
    pub fn detach(&self) -> RnnState {
        RnnState {
            h: self.h.iter().map(Tensor::detach).collect(),
            c: self.c.iter().map(Tensor::detach).collect(),
        }
    }

    /// The state of rows `rows` of this one, in that order (beams that descend from them).
    pub fn select(&self, rows: &[usize]) -> Result<RnnState> {
        Ok(RnnState {
            h: select_rows(&self.h, rows)?,
            c: select_rows(&self.c, rows)?,
        })
    }

    /// Zero the rows flagged in `reset` (a new contig starts in those rows).
    pub fn reset_rows(&self, reset: &[bool]) -> Result<RnnState> {
        if !reset.iter().any(|&r| r) {
            return Ok(self.clone());
        }
        let Some(first) = self.h.first() else {
            return Ok(self.clone());
        };
        let keep: Vec<f32> = reset.iter().map(|&r| if r { 0.0 } else { 1.0 }).collect();
        let keep = Tensor::from_vec(keep, (reset.len(), 1), first.device())?;
        let z = |v: &Vec<Tensor>| -> Result<Vec<Tensor>> {
            v.iter()
                .map(|t| Ok(t.broadcast_mul(&keep.to_dtype(t.dtype())?)?))
                .collect()
        };
        Ok(RnnState {
            h: z(&self.h)?,
            c: z(&self.c)?,
        })
    }
}

/// The result of a forward pass.
#[derive(Debug, Clone)]
pub struct Output {
    /// `(batch, time, vocab)` for LM/MLM heads, `(batch, classes)` for a classifier.
    pub logits: Tensor,
    /// AR + TAR penalty to add to the loss (training passes with `ar`/`tar` > 0).
    pub penalty: Option<Tensor>,
    /// The LSTM state after the last step (models with LSTMs).
    pub state: Option<RnnState>,
    /// Per-layer activations `(name, (batch, time, width))` in layer order, when asked for.
    pub layers: Vec<(String, Tensor)>,
}

/// Neurons to silence in one named layer (`embed`, `conv.i`, `lstm.i`, `attn.i`, `body`).
#[derive(Debug, Clone, PartialEq)]
pub struct Ablation {
    /// Layer name as in [`GenomicModel::layer_names`](super::GenomicModel::layer_names).
    pub layer: String,
    /// Units (neurons) of that layer to replace.
    pub units: Vec<usize>,
    /// Replacement value per unit (e.g. its mean activation); `None` sets them to zero.
    pub values: Option<Vec<f32>>,
}

/// Interventions in a forward pass: input embeddings to use instead of looking up the
/// token ids (attributions), and neuron ablations (deletion analyses).
///
/// ```
/// use candle_core::{Device, Tensor};
/// use genolm::models::{Ablation, GenomicModel, Hooks, Mode, ModelConfig};
/// let m = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1).unwrap();
/// let x = Tensor::from_vec(vec![5u32, 9, 17, 33], (1, 4), &Device::Cpu).unwrap();
/// let hooks = Hooks { ablate: vec![Ablation { layer: "body".into(), units: vec![0, 1], values: None }],
///                     ..Default::default() };
/// let out = m.forward_hooked(&x, None, Mode::Eval, true, &hooks).unwrap();
/// let body = &out.layers.last().unwrap().1;
/// assert_eq!(body.get(0).unwrap().get(2).unwrap().get(1).unwrap().to_scalar::<f32>().unwrap(), 0.0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    /// `(batch, time, emb_dim)` embeddings replacing the lookup of the token ids.
    pub input_embeddings: Option<Tensor>,
    /// Neurons to silence.
    pub ablate: Vec<Ablation>,
    /// A DeepLIFT pass (inputs then references in one batch; see [`lift`](crate::models::lift)):
    /// every non-linearity uses DeepLIFT's rules for its gradient.
    pub lift: Option<std::sync::Arc<crate::models::lift::Lift>>,
}

impl Hooks {
    /// Apply the ablations registered for `layer` to its output `(batch, time, units)`.
    pub fn apply(&self, layer: &str, h: Tensor) -> Result<Tensor> {
        let mut h = h;
        for a in self.ablate.iter().filter(|a| a.layer == layer) {
            let units = h.dim(D::Minus1)?;
            let mut keep = vec![1f32; units];
            let mut add = vec![0f32; units];
            for (j, &u) in a.units.iter().enumerate() {
                if u >= units {
                    return Err(Error::Input(format!(
                        "layer {layer} has {units} units; cannot ablate unit {u}"
                    )));
                }
                keep[u] = 0.0;
                add[u] = a
                    .values
                    .as_ref()
                    .and_then(|v| v.get(j).copied())
                    .unwrap_or(0.0);
            }
            let dev = h.device().clone();
            let dt = h.dtype();
            let keep = Tensor::from_vec(keep, units, &dev)?.to_dtype(dt)?;
            let add = Tensor::from_vec(add, units, &dev)?.to_dtype(dt)?;
            h = h.broadcast_mul(&keep)?.broadcast_add(&add)?;
        }
        Ok(h)
    }
}
