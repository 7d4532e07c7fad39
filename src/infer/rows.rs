//! Batched rows: many short token sequences of one length (mutagenesis candidates, reads,
//! imputation windows, variant flanks), each read on its own, in batches of `batch_size`.
//! The entry point of analyses that compare predictions across sequences rather than follow
//! one long genome ([`predict_each`](super::predict_each) does that).

use candle_core::{DType, Tensor};

use super::objective::{objective_tensor, Objective};
use crate::models::{layers, GenomicModel, Head, Hooks, Mode};
use crate::{Error, Result};

/// What [`predict_rows`] returns at each position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RowOutput {
    /// The head's raw outputs.
    Logits,
    /// Softmax probabilities over the vocabulary.
    Probs,
    /// Log-softmax (nats).
    #[default]
    LogProbs,
}

/// Options of [`predict_rows`], [`score_rows`] and [`pooled_states`].
#[derive(Debug, Clone)]
pub struct RowOptions {
    /// Rows per forward pass.
    pub batch_size: usize,
    /// What [`predict_rows`] returns.
    pub output: RowOutput,
    /// Ablations and input replacements applied in every forward pass.
    pub hooks: Hooks,
}

impl Default for RowOptions {
    fn default() -> Self {
        RowOptions {
            batch_size: 16,
            output: RowOutput::LogProbs,
            hooks: Hooks::default(),
        }
    }
}

impl RowOptions {
    /// Default options with this batch size.
    pub fn batch(batch_size: usize) -> Self {
        RowOptions {
            batch_size,
            ..Default::default()
        }
    }
}

/// Check the rows and cut them into batches; `Ok(None)` when there are none.
fn batches<'a>(
    rows: &'a [Vec<u32>],
    batch_size: usize,
) -> Result<Option<(usize, std::slice::Chunks<'a, Vec<u32>>)>> {
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let t = first.len();
    if t == 0 || rows.iter().any(|r| r.len() != t) {
        return Err(Error::Input(format!(
            "rows must be non-empty and of one length (the first has {t} tokens)"
        )));
    }
    Ok(Some((t, rows.chunks(batch_size.max(1)))))
}

fn forward_batch(
    model: &GenomicModel,
    batch: &[Vec<u32>],
    t: usize,
    collect: bool,
    hooks: &Hooks,
) -> Result<crate::models::Output> {
    let x = Tensor::from_vec(batch.concat(), (batch.len(), t), model.device())?;
    model.forward_hooked(&x, None, Mode::Eval, collect, hooks)
}

/// The model's output at every position of every row: `out[row][position][vocab]`. Rows are
/// token ids of one length; each is read alone (no context beyond itself, no state carried).
///
/// ```
/// use candle_core::Device;
/// use genolm::infer::{predict_rows, RowOptions, RowOutput};
/// use genolm::models::{GenomicModel, ModelConfig};
/// let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1)?;
/// let tok = model.config().tokenizer()?;
/// let rows = vec![tok.encode(b"ACGTACGTAC"), tok.encode(b"TTGACCATGA")];
/// let p = predict_rows(&model, &rows, &RowOptions { output: RowOutput::Probs, ..Default::default() })?;
/// assert_eq!((p.len(), p[0].len(), p[0][0].len()), (2, rows[0].len(), model.config().vocab()));
/// assert!((p[1][3].iter().sum::<f32>() - 1.0).abs() < 1e-4);
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn predict_rows(
    model: &GenomicModel,
    rows: &[Vec<u32>],
    opts: &RowOptions,
) -> Result<Vec<Vec<Vec<f32>>>> {
    let Some((t, chunks)) = batches(rows, opts.batch_size)? else {
        return Ok(Vec::new());
    };
    let model = &model.inference()?;
    if opts.output != RowOutput::Logits && model.config().head == Head::Classifier {
        return Err(Error::Input(
            "probabilities over tokens need an LM or MLM head; this model is a classifier".into(),
        ));
    }
    let mut out = Vec::with_capacity(rows.len());
    for batch in chunks {
        let logits = forward_batch(model, batch, t, false, &opts.hooks)?
            .logits
            .to_dtype(DType::F32)?;
        let v = match opts.output {
            RowOutput::Logits => logits,
            RowOutput::Probs => layers::softmax(&logits)?,
            RowOutput::LogProbs => layers::log_softmax(&logits)?,
        };
        out.extend(v.to_vec3::<f32>()?);
    }
    Ok(out)
}

/// The [`Objective`] of every row, in batches of `opts.batch_size` (no gradient).
///
/// ```
/// use candle_core::Device;
/// use genolm::infer::{score_rows, Objective, RowOptions};
/// use genolm::models::{GenomicModel, ModelConfig};
/// let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1)?;
/// let tok = model.config().tokenizer()?;
/// let rows = vec![tok.encode(b"ACGTACGTAC"), tok.encode(b"TTGACCATGA")];
/// let ll = score_rows(&model, &rows, Objective::LogLikelihood, &RowOptions::batch(1))?;
/// assert_eq!(ll, score_rows(&model, &rows, Objective::LogLikelihood, &RowOptions::batch(2))?);
/// assert!(ll.iter().all(|&v| v < 0.0));
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn score_rows(
    model: &GenomicModel,
    rows: &[Vec<u32>],
    obj: Objective,
    opts: &RowOptions,
) -> Result<Vec<f64>> {
    let Some((t, chunks)) = batches(rows, opts.batch_size)? else {
        return Ok(Vec::new());
    };
    let model = &model.inference()?;
    let mut out = Vec::with_capacity(rows.len());
    for batch in chunks {
        let x = Tensor::from_vec(batch.concat(), (batch.len(), t), model.device())?;
        let o = model.forward_hooked(&x, None, Mode::Eval, false, &opts.hooks)?;
        let v = objective_tensor(model, &o, &x, obj)?;
        out.extend(v.to_dtype(DType::F64)?.to_vec1::<f64>()?);
    }
    Ok(out)
}

/// The mean over positions of one layer's activations for every row (`out[row][unit]`), e.g.
/// a sequence embedding from `body`.
///
/// ```
/// use candle_core::Device;
/// use genolm::infer::{pooled_states, RowOptions};
/// use genolm::models::{GenomicModel, ModelConfig};
/// let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1)?;
/// let tok = model.config().tokenizer()?;
/// let e = pooled_states(&model, &[tok.encode(b"ACGTACGTAC")], "body", &RowOptions::default())?;
/// assert_eq!(e[0].len(), model.config().body_dim());
/// assert!(pooled_states(&model, &[tok.encode(b"ACGTACGTAC")], "nope", &RowOptions::default()).is_err());
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn pooled_states(
    model: &GenomicModel,
    rows: &[Vec<u32>],
    layer: &str,
    opts: &RowOptions,
) -> Result<Vec<Vec<f32>>> {
    binned_states(model, rows, &[layer], 0, 0, opts)
}

/// Each row's activations of `layers`, pooled: for every layer in turn, its mean over all
/// positions followed by its mean over each of `bins` equal stretches of the positions (in
/// order; a row shorter than `bins` repeats positions), so `out[row]` has
/// `Σ width(layer) × (1 + bins)` values. Position bins keep where a feature was (a promoter's
/// boxes lie at fixed distances from its start), which a mean over the row loses. The first
/// `skip` positions of every row are context: read, not pooled (a stateful LSTM reads a short
/// item better after a prefix than from a zero state). The features of a linear probe
/// ([`probe_probs`](crate::bench::probe::probe_probs)).
///
/// ```
/// use candle_core::Device;
/// use genolm::infer::{binned_states, pooled_states, RowOptions};
/// use genolm::models::{GenomicModel, ModelConfig};
/// let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1)?;
/// let tok = model.config().tokenizer()?;
/// let rows = [tok.encode(b"ACGTACGTACGT")];
/// let b = binned_states(&model, &rows, &["embed", "body"], 2, 0, &RowOptions::default())?;
/// let (e, h) = (model.config().emb_dim, model.config().body_dim());
/// assert_eq!(b[0].len(), 3 * e + 3 * h);
/// // the first block of each layer is its plain mean
/// let body = pooled_states(&model, &rows, "body", &RowOptions::default())?;
/// assert_eq!(&b[0][3 * e..3 * e + h], &body[0][..]);
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn binned_states(
    model: &GenomicModel,
    rows: &[Vec<u32>],
    layers: &[&str],
    bins: usize,
    skip: usize,
    opts: &RowOptions,
) -> Result<Vec<Vec<f32>>> {
    let names = model.layer_names();
    if let Some(l) = layers.iter().find(|l| !names.iter().any(|(n, _)| n == *l)) {
        return Err(Error::Input(format!("the model has no layer {l:?}")));
    }
    let Some((t, chunks)) = batches(rows, opts.batch_size)? else {
        return Ok(Vec::new());
    };
    if skip >= t {
        return Err(Error::Input(format!(
            "{skip} context positions leave nothing of rows of {t} tokens to pool"
        )));
    }
    let model = &model.inference()?;
    let mut out: Vec<Vec<f32>> = Vec::with_capacity(rows.len());
    for batch in chunks {
        let o = forward_batch(model, batch, t, true, &opts.hooks)?;
        let mut feats = vec![Vec::new(); batch.len()];
        for layer in layers {
            let a = &o
                .layers
                .iter()
                .find(|(n, _)| n == layer)
                .expect("a layer named by layer_names is collected")
                .1
                .to_dtype(DType::F32)?
                .narrow(1, skip, t - skip)?;
            let t = t - skip;
            let mut blocks = vec![a.mean(1)?];
            for b in 0..bins {
                let (lo, hi) = (b * t / bins, ((b + 1) * t / bins).max(b * t / bins + 1));
                let lo = lo.min(t - 1);
                blocks.push(a.narrow(1, lo, hi.min(t) - lo)?.mean(1)?);
            }
            let v = Tensor::cat(&blocks, 1)?.to_vec2::<f32>()?;
            for (f, r) in feats.iter_mut().zip(v) {
                f.extend(r);
            }
        }
        out.extend(feats);
    }
    Ok(out)
}
