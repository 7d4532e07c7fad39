//! The prediction core: a long token sequence in bounded memory, rows handed to a sink.

use candle_core::{DType, Tensor};

use super::PredictOptions;
use crate::data::tokenize::Special;
use crate::models::{GenomicModel, Head, Mode};
use crate::{Error, Result};

/// Rows of states delivered by [`predict_each`]: `n` consecutive kept token positions of one record.
#[derive(Debug)]
pub struct Chunk<'a> {
    /// Index of the kept row (within the record) of the first row.
    pub first_row: usize,
    /// Token index of each row.
    pub tokens: &'a [usize],
    /// `(layer name, n × units values)` in model order (log-probabilities last when asked).
    pub layers: Vec<(&'a str, Vec<f32>)>,
}

/// Which layers a model will deliver under `opts`, with their widths.
pub fn layer_plan(model: &GenomicModel, opts: &PredictOptions) -> Result<Vec<(String, usize)>> {
    let all = model.layer_names();
    let mut plan: Vec<(String, usize)> = if opts.layers.is_empty() {
        all.clone()
    } else {
        let mut v = Vec::new();
        for want in &opts.layers {
            match all.iter().find(|(n, _)| n == want) {
                Some(x) => v.push(x.clone()),
                None => {
                    return Err(Error::Input(format!(
                        "the model has no layer {want:?}; it has {}",
                        all.iter()
                            .map(|x| x.0.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )))
                }
            }
        }
        // keep model order
        v.sort_by_key(|(n, _)| all.iter().position(|(m, _)| m == n));
        v
    };
    if opts.log_probs {
        if model.config().head == Head::Classifier {
            return Err(Error::Input(
                "log_probs needs an LM or MLM head; this model is a classifier".into(),
            ));
        }
        plan.push(("log_probs".into(), model.config().vocab()));
    }
    Ok(plan)
}

pub(crate) fn check_opts(opts: &PredictOptions) -> Result<()> {
    let zero: Vec<&str> = [
        ("batch_size", opts.batch_size),
        ("window", opts.window),
        ("every", opts.every),
    ]
    .iter()
    .filter(|(_, v)| *v == 0)
    .map(|(name, _)| *name)
    .collect();
    if !zero.is_empty() {
        return Err(Error::Config(format!(
            "PredictOptions: {} must be at least 1 (got 0)",
            zero.join(" and ")
        )));
    }
    Ok(())
}

/// The prediction core: run `model` over the token ids of one record and hand every kept row
/// to `sink` (in no particular order of chunks; rows within a chunk are consecutive).
pub fn predict_each(
    model: &GenomicModel,
    tokens: &[u32],
    opts: &PredictOptions,
    sink: &mut dyn FnMut(Chunk<'_>) -> Result<()>,
) -> Result<()> {
    predict_records(model, &[tokens], opts, &mut |_, c| sink(c))
}

/// [`predict_each`] over several records at once: their segments (recurrent models) or
/// windows (the others) share batches, so many short records — chunks of a genome, reads —
/// fill the batch rows that one of them alone would leave empty. Each record is read exactly
/// as [`predict_each`] reads it alone; `sink` gets the record's index with each chunk.
///
/// ```
/// use candle_core::Device;
/// use genolm::infer::{predict_records, PredictOptions};
/// use genolm::models::{GenomicModel, ModelConfig};
/// let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1)?;
/// let tok = model.config().tokenizer()?;
/// let reads: Vec<Vec<u32>> = [&b"ACGTAGCTAGCATGCATCG"[..], &b"TTAGCATCGATCGATTAGCAAT"[..]]
///     .iter()
///     .map(|r| tok.encode(r))
///     .collect();
/// let refs: Vec<&[u32]> = reads.iter().map(|r| r.as_slice()).collect();
/// let mut rows = vec![0; reads.len()];
/// predict_records(&model, &refs, &PredictOptions::default(), &mut |record, chunk| {
///     rows[record] += chunk.tokens.len(); // every kept token position of that record
///     Ok(())
/// })?;
/// assert_eq!(rows, [reads[0].len(), reads[1].len()]);
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn predict_records(
    model: &GenomicModel,
    records: &[&[u32]],
    opts: &PredictOptions,
    sink: &mut dyn FnMut(usize, Chunk<'_>) -> Result<()>,
) -> Result<()> {
    check_opts(opts)?;
    let model = &model.inference()?;
    let plan = layer_plan(model, opts)?;
    if records.iter().all(|r| r.is_empty()) {
        return Ok(());
    }
    let dev = model.device().clone();
    let pad = Special::Pad as u32;
    let recurrent = model.zero_state(1)?.is_some();
    let causal = model.config().causal();
    let want: Vec<&str> = plan.iter().map(|(n, _)| n.as_str()).collect();

    // Extract the kept rows of output positions [lo, hi) (token indices) of one batch row.
    #[allow(clippy::too_many_arguments)]
    let mut deliver = |outs: &[(String, Tensor)],
                       logp: Option<&Tensor>,
                       record: usize,
                       row: usize,
                       t0: usize, // token index of column 0
                       lo: usize,
                       hi: usize|
     -> Result<()> {
        let first_kept = lo.div_ceil(opts.every) * opts.every;
        if first_kept >= hi {
            return Ok(());
        }
        let toks: Vec<usize> = (first_kept..hi).step_by(opts.every).collect();
        let cols: Vec<u32> = toks.iter().map(|&t| (t - t0) as u32).collect();
        let idx = Tensor::from_vec(cols, toks.len(), &dev)?;
        let mut layers = Vec::with_capacity(want.len());
        for name in &want {
            let t = if *name == "log_probs" {
                logp.expect("log-probs requested")
            } else {
                &outs
                    .iter()
                    .find(|(n, _)| n == name)
                    .expect("every planned layer is collected")
                    .1
            };
            let v = t
                .get(row)?
                .index_select(&idx, 0)?
                .to_dtype(DType::F32)?
                .flatten_all()?
                .to_vec1::<f32>()?;
            layers.push((*name, v));
        }
        sink(
            record,
            Chunk {
                first_row: first_kept / opts.every,
                tokens: &toks,
                layers,
            },
        )
    };
    let log_probs_of = |logits: &Tensor| -> Result<Tensor> {
        crate::models::layers::log_softmax(&logits.to_dtype(DType::F32)?)
    };

    if recurrent {
        // Contiguous segments, each at least `min_segment` tokens (0: a window) and warmed up
        // by `context` tokens: `(record, warm-up start, start, end)`. Up to `batch_size` of them
        // are read side by side (several records: longest first, so rows of a batch end
        // together; one record: in order, as always).
        let mut segs: Vec<(usize, usize, usize, usize)> = Vec::new();
        for (ri, toks) in records.iter().enumerate() {
            let n = toks.len();
            let n_seg = n
                .checked_div(opts.min_segment)
                .unwrap_or_else(|| n.div_ceil(opts.window));
            let n_seg = opts.batch_size.min(n_seg).max(1);
            let seg = n.div_ceil(n_seg);
            for r in 0..n_seg {
                let s = (r * seg).min(n);
                let e = ((r + 1) * seg).min(n);
                if e > s {
                    segs.push((ri, s.saturating_sub(opts.context), s, e));
                }
            }
        }
        if records.len() > 1 {
            segs.sort_by_key(|&(ri, w, s, e)| (std::cmp::Reverse(e - w), ri, s));
        }
        for group in segs.chunks(opts.batch_size) {
            let rows = group.len();
            let total = group.iter().map(|(_, w, _, e)| e - w).max().unwrap_or(0);
            let mut state = model.zero_state(rows)?;
            let mut c0 = 0;
            while c0 < total {
                let len = opts.window.min(total - c0);
                let mut ids = Vec::with_capacity(rows * len);
                for &(ri, w, _, e) in group {
                    for j in 0..len {
                        let t = w + c0 + j;
                        ids.push(if t < e { records[ri][t] } else { pad });
                    }
                }
                let x = Tensor::from_vec(ids, (rows, len), &dev)?;
                let out =
                    model.forward_hooked(&x, state.as_ref(), Mode::Eval, true, &opts.hooks)?;
                let logp = if opts.log_probs {
                    Some(log_probs_of(&out.logits)?)
                } else {
                    None
                };
                for (r, &(ri, w, s, e)) in group.iter().enumerate() {
                    let t0 = w + c0;
                    let lo = t0.max(s);
                    let hi = (t0 + len).min(e);
                    if hi > lo {
                        deliver(&out.layers, logp.as_ref(), ri, r, t0, lo, hi)?;
                    }
                }
                state = out.state.map(|s| s.detach());
                c0 += len;
            }
        }
    } else {
        // Independent windows with context on the left (and right when bidirectional):
        // `(record, context start, start, end, right context end)`.
        let right = if causal { 0 } else { opts.context };
        let mut wins: Vec<(usize, usize, usize, usize, usize)> = Vec::new();
        for (ri, toks) in records.iter().enumerate() {
            let n = toks.len();
            for i in 0..n.div_ceil(opts.window) {
                let s = i * opts.window;
                let e = (s + opts.window).min(n);
                wins.push((ri, s.saturating_sub(opts.context), s, e, (e + right).min(n)));
            }
        }
        for group in wins.chunks(opts.batch_size) {
            let len = group.iter().map(|(_, a, _, _, b)| b - a).max().unwrap_or(0);
            let mut ids = Vec::with_capacity(group.len() * len);
            for &(ri, a, _, _, b) in group {
                ids.extend_from_slice(&records[ri][a..b]);
                ids.extend(std::iter::repeat_n(pad, len - (b - a)));
            }
            let x = Tensor::from_vec(ids, (group.len(), len), &dev)?;
            let out = model.forward_hooked(&x, None, Mode::Eval, true, &opts.hooks)?;
            let logp = if opts.log_probs {
                Some(log_probs_of(&out.logits)?)
            } else {
                None
            };
            for (r, &(ri, a, s, e, _)) in group.iter().enumerate() {
                deliver(&out.layers, logp.as_ref(), ri, r, a, s, e)?;
            }
        }
    }
    Ok(())
}

/// Number of kept rows for `n_tokens` tokens.
pub(crate) fn kept_rows(n_tokens: usize, every: usize) -> usize {
    n_tokens.div_ceil(every)
}
