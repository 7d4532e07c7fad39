//! Inference: one batched, bounded-memory prediction core that every analysis reuses, and
//! neuron states in memory ([`States`]) or in HDF5 ([`write_states`], [`read_states`],
//! [`StatesFile`]).
//!
//! A long sequence is tokenized with the model's tokenizer and cut into rows. A model with an
//! LSTM runs `batch_size` contiguous segments side by side, `window` tokens at a time, carrying
//! its state; each segment first reads `context` tokens before it (discarded) so that its state is
//! warm. Other models read windows of `window` tokens with `context` tokens of left context (and
//! right context when the model is bidirectional). Memory is bounded by
//! `batch_size × (window + context) × width` whatever the genome length.
//!
//! A state row belongs to one token; it is aligned to the **last nucleotide the token covers**
//! (`end_position`), the newest base a causal model has read.
//!
//! ```
//! use candle_core::Device;
//! use genolm::infer::{states, PredictOptions};
//! use genolm::models::{GenomicModel, ModelConfig};
//! let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1)?;
//! let seq = b"ATGGCGTACGATCGATCGTAGCTAGCTAGCATCGATCGACTAGCTAGCATGCATGCA".to_vec();
//! let st = states(&model, &[("demo".to_string(), seq)], &PredictOptions::default())?;
//! let body = st.layer("body").unwrap();
//! assert_eq!(body.n_rows(), st.n_rows());
//! # Ok::<(), genolm::Error>(())
//! ```

use std::path::{Path, PathBuf};

use candle_core::{DType, Tensor};
use hdf5::types::VarLenUnicode;
use serde::{Deserialize, Serialize};

use crate::data::tokenize::Special;
use crate::models::{GenomicModel, Head, Hooks, Mode};
use crate::{Error, Result};

/// Options of the prediction core.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PredictOptions {
    /// Rows per forward pass.
    pub batch_size: usize,
    /// Tokens per forward pass and row.
    pub window: usize,
    /// Tokens of context read before each row (and after, for bidirectional models), discarded.
    pub context: usize,
    /// Keep every `every`-th token position (1 = all).
    pub every: usize,
    /// Layers to keep (names as in [`GenomicModel::layer_names`]); empty = all, in model order.
    pub layers: Vec<String>,
    /// Also keep the log-probabilities of the LM/MLM head (`(rows, vocab)`).
    pub log_probs: bool,
    /// Ablations and other interventions applied in every forward pass.
    #[serde(skip)]
    pub hooks: Hooks,
}

impl Default for PredictOptions {
    fn default() -> Self {
        Self {
            batch_size: 16,
            window: 256,
            context: 128,
            every: 1,
            layers: Vec::new(),
            log_probs: false,
            hooks: Hooks::default(),
        }
    }
}

/// One layer's states: `n_rows × units`, row-major `f32`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerStates {
    /// Layer name (`embed`, `conv.0`, `lstm.1`, `attn.0`, `body`, or `log_probs`).
    pub name: String,
    /// Number of units (neurons).
    pub units: usize,
    /// Row-major values.
    pub data: Vec<f32>,
}

impl LayerStates {
    /// Number of rows (positions).
    pub fn n_rows(&self) -> usize {
        self.data.len().checked_div(self.units).unwrap_or(0)
    }
    /// One row.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.units..(i + 1) * self.units]
    }
    /// One unit's values over all rows (a column).
    pub fn unit(&self, u: usize) -> Vec<f32> {
        self.data
            .iter()
            .skip(u)
            .step_by(self.units)
            .copied()
            .collect()
    }
    /// Per-unit mean over rows.
    pub fn mean(&self) -> Vec<f32> {
        let mut m = vec![0f64; self.units];
        for r in self.data.chunks(self.units) {
            for (a, &b) in m.iter_mut().zip(r) {
                *a += b as f64;
            }
        }
        let n = self.n_rows().max(1) as f64;
        m.into_iter().map(|x| (x / n) as f32).collect()
    }
}

/// One input record (contig, read) of a state set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordInfo {
    /// Sequence name.
    pub name: String,
    /// Length in bases.
    pub length: usize,
    /// First row of this record.
    pub row_offset: usize,
    /// Number of rows of this record.
    pub n_rows: usize,
}

/// Neuron states of one or more sequences, every named layer in model order.
#[derive(Debug, Clone, PartialEq)]
pub struct States {
    /// k-mer length of the model's tokens.
    pub k: usize,
    /// Token stride.
    pub stride: usize,
    /// Rows keep every `every`-th token.
    pub every: usize,
    /// Layers in model order.
    pub layers: Vec<LayerStates>,
    /// The records, in input order.
    pub records: Vec<RecordInfo>,
    /// The sequences (upper-case bases) of the records.
    pub sequences: Vec<Vec<u8>>,
    /// Record index of every row.
    pub record: Vec<u32>,
    /// 0-based first base of every row's token.
    pub position: Vec<u64>,
}

impl States {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.position.len()
    }
    /// A layer by name.
    pub fn layer(&self, name: &str) -> Option<&LayerStates> {
        self.layers.iter().find(|l| l.name == name)
    }
    /// 0-based position of the last base of every row's token (the alignment point).
    pub fn end_position(&self) -> Vec<u64> {
        self.position
            .iter()
            .map(|&p| p + self.k as u64 - 1)
            .collect()
    }
    /// A per-base track of record `record` read at each of that record's rows (aligned to
    /// [`end_position`](Self::end_position)); rows of other records are skipped.
    pub fn align_track<T: Copy + Into<f64>>(&self, record: usize, track: &[T]) -> Result<Vec<f32>> {
        let info = self
            .records
            .get(record)
            .ok_or_else(|| Error::Input(format!("no record {record}")))?;
        if track.len() != info.length {
            return Err(Error::Shape(format!(
                "track has {} positions; record {} has {} bases",
                track.len(),
                info.name,
                info.length
            )));
        }
        Ok((info.row_offset..info.row_offset + info.n_rows)
            .map(|r| track[self.position[r] as usize + self.k - 1].into() as f32)
            .collect())
    }
    /// Layers, widths and records as a table.
    pub fn summary(&self) -> Result<crate::table::Table> {
        use polars::prelude::*;
        let df = DataFrame::new(
            self.layers.len(),
            vec![
                Column::new(
                    "layer".into(),
                    self.layers
                        .iter()
                        .map(|l| l.name.clone())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "units".into(),
                    self.layers
                        .iter()
                        .map(|l| l.units as u32)
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "rows".into(),
                    self.layers
                        .iter()
                        .map(|l| l.n_rows() as u64)
                        .collect::<Vec<_>>(),
                ),
            ],
        )?;
        Ok(crate::table::Table::new("states", df))
    }

    /// evcxr display: the layer summary and the records.
    pub fn evcxr_display(&self) {
        if let Ok(t) = self.summary() {
            let recs: Vec<String> = self
                .records
                .iter()
                .map(|r| {
                    format!(
                        "{} ({} bp, {} rows)",
                        crate::plot::xml(&r.name),
                        r.length,
                        r.n_rows
                    )
                })
                .collect();
            println!(
                "EVCXR_BEGIN_CONTENT text/html\n<p>States of {} (k = {}, stride {}, every {})</p>{}\nEVCXR_END_CONTENT",
                recs.join(", "),
                self.k,
                self.stride,
                self.every,
                t.to_html()
            );
        }
    }

    /// The rows of one record as a new state set.
    pub fn select_record(&self, record: usize) -> Result<States> {
        let info = self
            .records
            .get(record)
            .ok_or_else(|| Error::Input(format!("no record {record}")))?
            .clone();
        let r0 = info.row_offset;
        let r1 = r0 + info.n_rows;
        Ok(States {
            k: self.k,
            stride: self.stride,
            every: self.every,
            layers: self
                .layers
                .iter()
                .map(|l| LayerStates {
                    name: l.name.clone(),
                    units: l.units,
                    data: l.data[r0 * l.units..r1 * l.units].to_vec(),
                })
                .collect(),
            records: vec![RecordInfo {
                row_offset: 0,
                ..info
            }],
            sequences: vec![self.sequences[record].clone()],
            record: vec![0; r1 - r0],
            position: self.position[r0..r1].to_vec(),
        })
    }
}

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

fn check_opts(opts: &PredictOptions) -> Result<()> {
    if opts.batch_size == 0 || opts.window == 0 || opts.every == 0 {
        return Err(Error::Config(
            "batch_size, window and every must be at least 1".into(),
        ));
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
    check_opts(opts)?;
    let plan = layer_plan(model, opts)?;
    let n = tokens.len();
    if n == 0 {
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
        sink(Chunk {
            first_row: first_kept / opts.every,
            tokens: &toks,
            layers,
        })
    };
    let log_probs_of = |logits: &Tensor| -> Result<Tensor> {
        crate::models::layers::log_softmax(&logits.to_dtype(DType::F32)?)
    };

    if recurrent {
        // Contiguous segments side by side, each warmed up by `context` tokens.
        let n_seg = opts.batch_size.min(n.div_ceil(opts.window)).max(1);
        let seg = n.div_ceil(n_seg);
        let segs: Vec<(usize, usize, usize)> = (0..n_seg)
            .map(|r| {
                let s = (r * seg).min(n);
                let e = ((r + 1) * seg).min(n);
                (s.saturating_sub(opts.context), s, e)
            })
            .filter(|(_, s, e)| e > s)
            .collect();
        let rows = segs.len();
        let total = segs.iter().map(|(w, _, e)| e - w).max().unwrap_or(0);
        let mut state = model.zero_state(rows)?;
        let mut c0 = 0;
        while c0 < total {
            let len = opts.window.min(total - c0);
            let mut ids = Vec::with_capacity(rows * len);
            for &(w, _, e) in &segs {
                for j in 0..len {
                    let t = w + c0 + j;
                    ids.push(if t < e { tokens[t] } else { pad });
                }
            }
            let x = Tensor::from_vec(ids, (rows, len), &dev)?;
            let out = model.forward_hooked(&x, state.as_ref(), Mode::Eval, true, &opts.hooks)?;
            let logp = if opts.log_probs {
                Some(log_probs_of(&out.logits)?)
            } else {
                None
            };
            for (r, &(w, s, e)) in segs.iter().enumerate() {
                let t0 = w + c0;
                let lo = t0.max(s);
                let hi = (t0 + len).min(e);
                if hi > lo {
                    deliver(&out.layers, logp.as_ref(), r, t0, lo, hi)?;
                }
            }
            state = out.state.map(|s| s.detach());
            c0 += len;
        }
    } else {
        // Independent windows with context on the left (and right when bidirectional).
        let right = if causal { 0 } else { opts.context };
        let wins: Vec<(usize, usize, usize, usize)> = (0..n.div_ceil(opts.window))
            .map(|i| {
                let s = i * opts.window;
                let e = (s + opts.window).min(n);
                (s.saturating_sub(opts.context), s, e, (e + right).min(n))
            })
            .collect();
        for group in wins.chunks(opts.batch_size) {
            let len = group.iter().map(|(a, _, _, b)| b - a).max().unwrap_or(0);
            let mut ids = Vec::with_capacity(group.len() * len);
            for &(a, _, _, b) in group {
                ids.extend_from_slice(&tokens[a..b]);
                ids.extend(std::iter::repeat_n(pad, len - (b - a)));
            }
            let x = Tensor::from_vec(ids, (group.len(), len), &dev)?;
            let out = model.forward_hooked(&x, None, Mode::Eval, true, &opts.hooks)?;
            let logp = if opts.log_probs {
                Some(log_probs_of(&out.logits)?)
            } else {
                None
            };
            for (r, &(a, s, e, _)) in group.iter().enumerate() {
                deliver(&out.layers, logp.as_ref(), r, a, s, e)?;
            }
        }
    }
    Ok(())
}

/// Number of kept rows for `n_tokens` tokens.
fn kept_rows(n_tokens: usize, every: usize) -> usize {
    n_tokens.div_ceil(every)
}

/// The log-probability the model gives each scored token of one sequence, and whether its
/// most probable token was right.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TokenScores {
    /// Token index of each scored token (the predicted one: `t + 1` for a causal LM reading
    /// up to `t`; the masked token itself for an MLM).
    pub index: Vec<usize>,
    /// `log p(observed token)` in nats.
    pub logp: Vec<f32>,
    /// Was the arg-max token the observed one?
    pub correct: Vec<bool>,
}

impl TokenScores {
    /// Number of scored tokens.
    pub fn len(&self) -> usize {
        self.index.len()
    }
    /// True when nothing was scored.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

/// Is token `t` one of the 15 % an MLM is scored on? A fixed multiplicative-hash pattern, so
/// every call (and every ablation) scores the same positions.
pub fn mlm_scored(t: usize) -> bool {
    (t as u64).wrapping_mul(2_654_435_761) % 1000 < 150
}

/// The input of an MLM when scoring: the [`mlm_scored`] tokens replaced by the mask token.
pub fn mlm_masked(ids: &[u32]) -> Vec<u32> {
    ids.iter()
        .enumerate()
        .map(|(t, &id)| {
            if mlm_scored(t) {
                Special::Mask as u32
            } else {
                id
            }
        })
        .collect()
}

/// Score one output row: the log-probabilities `row` made at token position `pos` of `ids`.
/// Returns `(scored token index, ln p(observed), arg-max right?)`, or `None` when nothing is
/// scored there (an MLM position outside [`mlm_scored`], a causal LM's last position, an
/// unknown target token).
pub fn score_row(row: &[f32], ids: &[u32], pos: usize, mlm: bool) -> Option<(usize, f32, bool)> {
    let target = if mlm {
        mlm_scored(pos).then_some(pos)?
    } else {
        pos + 1
    };
    let y = match ids.get(target) {
        Some(&y) if y != Special::Unk as u32 => y as usize,
        _ => return None,
    };
    let arg = row
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .map(|x| x.0)
        .unwrap_or(0);
    Some((target, row[y], arg == y))
}

/// Score every token of `seq` (causal LM: each next token; MLM: the tokens chosen by
/// [`mlm_scored`], masked). Targets that are unknown tokens (ambiguous bases) are skipped.
/// Rows are in token order. `opts.hooks` may ablate neurons.
///
/// ```
/// use candle_core::Device;
/// use genolm::infer::{token_scores, PredictOptions};
/// use genolm::models::{GenomicModel, ModelConfig};
/// let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1)?;
/// let s = token_scores(&model, b"ACGTAGCTAGCATGCATCGATCGATTAGC", &PredictOptions::default())?;
/// assert_eq!(s.index[0], 1); // a causal LM never predicts token 0
/// assert!(s.logp.iter().all(|&v| v <= 0.0));
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn token_scores(
    model: &GenomicModel,
    seq: &[u8],
    opts: &PredictOptions,
) -> Result<TokenScores> {
    let head = model.config().head;
    if head == Head::Classifier {
        return Err(Error::Input("token scores need an LM or MLM head".into()));
    }
    let tok = model.config().tokenizer()?;
    let mut o = opts.clone();
    o.layers = vec!["body".into()];
    o.log_probs = true;
    o.every = 1;
    let ids = tok.encode(&seq.to_ascii_uppercase());
    let mlm = head == Head::Mlm;
    let masked: Vec<u32>;
    let input: &[u32] = if mlm {
        masked = mlm_masked(&ids);
        &masked
    } else {
        &ids
    };
    let mut rows: Vec<(usize, f32, bool)> = Vec::new();
    predict_each(model, input, &o, &mut |c| {
        let lp = &c.layers.last().expect("log-probs").1;
        let v = lp.len() / c.tokens.len();
        for (r, &t) in c.tokens.iter().enumerate() {
            if let Some(row) = score_row(&lp[r * v..(r + 1) * v], &ids, t, mlm) {
                rows.push(row);
            }
        }
        Ok(())
    })?;
    rows.sort_unstable_by_key(|r| r.0);
    Ok(TokenScores {
        index: rows.iter().map(|r| r.0).collect(),
        logp: rows.iter().map(|r| r.1).collect(),
        correct: rows.iter().map(|r| r.2).collect(),
    })
}

/// States of every record in memory (every layer unless `opts.layers` names some).
pub fn states(
    model: &GenomicModel,
    records: &[(String, Vec<u8>)],
    opts: &PredictOptions,
) -> Result<States> {
    let plan = layer_plan(model, opts)?;
    let tok = model.config().tokenizer()?;
    let mut layers: Vec<LayerStates> = plan
        .iter()
        .map(|(n, u)| LayerStates {
            name: n.clone(),
            units: *u,
            data: Vec::new(),
        })
        .collect();
    let mut infos = Vec::new();
    let mut record = Vec::new();
    let mut position = Vec::new();
    let mut sequences = Vec::new();
    for (ri, (name, seq)) in records.iter().enumerate() {
        let seq = seq.to_ascii_uppercase();
        let ids = tok.encode(&seq);
        let rows = kept_rows(ids.len(), opts.every);
        let offset = position.len();
        for l in layers.iter_mut() {
            l.data.resize((offset + rows) * l.units, 0.0);
        }
        predict_each(model, &ids, opts, &mut |c: Chunk<'_>| {
            for (l, (_, v)) in layers.iter_mut().zip(c.layers) {
                let a = (offset + c.first_row) * l.units;
                l.data[a..a + v.len()].copy_from_slice(&v);
            }
            Ok(())
        })?;
        for r in 0..rows {
            record.push(ri as u32);
            position.push((r * opts.every * tok.stride) as u64);
        }
        infos.push(RecordInfo {
            name: name.clone(),
            length: seq.len(),
            row_offset: offset,
            n_rows: rows,
        });
        sequences.push(seq);
    }
    Ok(States {
        k: tok.k,
        stride: tok.stride,
        every: opts.every,
        layers,
        records: infos,
        sequences,
        record,
        position,
    })
}

/// Layout of a states file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum H5Layout {
    /// genolm's layout (see `docs/states-hdf5.md`): every layer, row index, sequences.
    #[default]
    Genolm,
    /// deepG's `predict_model` layout: one layer as `states`, 1-based `sample_end_position`.
    DeepG,
}

/// What [`write_states`] wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatesSummary {
    /// The file.
    pub path: PathBuf,
    /// Rows written.
    pub n_rows: usize,
    /// Layers and widths, in model order.
    pub layers: Vec<(String, usize)>,
    /// Records.
    pub records: Vec<RecordInfo>,
}

fn h5<T>(path: &Path, r: hdf5::Result<T>) -> Result<T> {
    r.map_err(|e| Error::hdf5(path, e))
}

fn vlu(path: &Path, s: &str) -> Result<VarLenUnicode> {
    s.parse::<VarLenUnicode>()
        .map_err(|e| Error::hdf5(path, format!("string {s:?}: {e}")))
}

fn write_str_attr(path: &Path, loc: &hdf5::Location, name: &str, v: &str) -> Result<()> {
    let a = h5(path, loc.new_attr::<VarLenUnicode>().create(name))?;
    h5(path, a.write_scalar(&vlu(path, v)?))
}

fn write_u64_attr(path: &Path, loc: &hdf5::Location, name: &str, v: u64) -> Result<()> {
    let a = h5(path, loc.new_attr::<u64>().create(name))?;
    h5(path, a.write_scalar(&v))
}

/// Write states of `records` to an HDF5 file (atomically: a temporary file renamed at the end).
///
/// [`H5Layout::Genolm`] writes every requested layer (all by default, in model order) under
/// `/layers/<name>` with the row index and the sequences; [`H5Layout::DeepG`] writes one layer
/// (the last requested, `body` by default) as deepG's `predict_model` does. Rows are streamed
/// to disk chunk by chunk: memory stays bounded for whole genomes.
pub fn write_states(
    model: &GenomicModel,
    records: &[(String, Vec<u8>)],
    path: impl AsRef<Path>,
    opts: &PredictOptions,
    layout: H5Layout,
) -> Result<StatesSummary> {
    let path = path.as_ref();
    let mut opts = opts.clone();
    if layout == H5Layout::DeepG && opts.layers.len() != 1 {
        let last = opts
            .layers
            .last()
            .cloned()
            .unwrap_or_else(|| "body".to_string());
        opts.layers = vec![last];
    }
    let plan = layer_plan(model, &opts)?;
    let tok = model.config().tokenizer()?;
    let tmp = crate::models::params::temp_path_for(path)?;

    // Rows per record are known before running the model.
    let seqs: Vec<Vec<u8>> = records
        .iter()
        .map(|(_, s)| s.to_ascii_uppercase())
        .collect();
    let mut infos = Vec::new();
    let mut total = 0usize;
    for ((name, _), s) in records.iter().zip(&seqs) {
        let rows = kept_rows(tok.n_tokens(s.len()), opts.every);
        infos.push(RecordInfo {
            name: name.clone(),
            length: s.len(),
            row_offset: total,
            n_rows: rows,
        });
        total += rows;
    }

    let result = (|| -> Result<()> {
        let file = h5(&tmp, hdf5::File::create(&tmp))?;
        let chunk_rows = 1024.min(total.max(1));
        let mut dsets = Vec::new();
        match layout {
            H5Layout::Genolm => {
                write_str_attr(&tmp, &file, "format", "genolm-states")?;
                write_u64_attr(&tmp, &file, "format_version", 1)?;
                write_str_attr(&tmp, &file, "genolm_version", env!("CARGO_PKG_VERSION"))?;
                write_u64_attr(&tmp, &file, "k", tok.k as u64)?;
                write_u64_attr(&tmp, &file, "stride", tok.stride as u64)?;
                write_u64_attr(&tmp, &file, "every", opts.every as u64)?;
                let cfg = serde_json::to_string(model.config())
                    .map_err(|e| Error::Config(e.to_string()))?;
                write_str_attr(&tmp, &file, "model_config", &cfg)?;
                let order: Vec<&str> = plan.iter().map(|(n, _)| n.as_str()).collect();
                write_str_attr(&tmp, &file, "layer_order", &order.join(","))?;
                let g = h5(&tmp, file.create_group("layers"))?;
                for (n, u) in &plan {
                    let ds = h5(
                        &tmp,
                        g.new_dataset::<f32>()
                            .shape((total, *u))
                            .chunk((chunk_rows, *u))
                            .create(n.as_str()),
                    )?;
                    dsets.push(ds);
                }
                let idx = h5(&tmp, file.create_group("index"))?;
                let mut rec = Vec::with_capacity(total);
                let mut pos = Vec::with_capacity(total);
                for (ri, info) in infos.iter().enumerate() {
                    for r in 0..info.n_rows {
                        rec.push(ri as u32);
                        pos.push((r * opts.every * tok.stride) as u64);
                    }
                }
                let end: Vec<u64> = pos.iter().map(|p| p + tok.k as u64 - 1).collect();
                h5(
                    &tmp,
                    idx.new_dataset_builder()
                        .with_data(&rec[..])
                        .create("record"),
                )?;
                h5(
                    &tmp,
                    idx.new_dataset_builder()
                        .with_data(&pos[..])
                        .create("position"),
                )?;
                h5(
                    &tmp,
                    idx.new_dataset_builder()
                        .with_data(&end[..])
                        .create("end_position"),
                )?;
                let rg = h5(&tmp, file.create_group("records"))?;
                let names: Vec<VarLenUnicode> = infos
                    .iter()
                    .map(|i| vlu(&tmp, &i.name))
                    .collect::<Result<_>>()?;
                let seq_s: Vec<VarLenUnicode> = seqs
                    .iter()
                    .map(|s| vlu(&tmp, &String::from_utf8_lossy(s)))
                    .collect::<Result<_>>()?;
                let mut offs: Vec<u64> = infos.iter().map(|i| i.row_offset as u64).collect();
                offs.push(total as u64);
                let lens: Vec<u64> = infos.iter().map(|i| i.length as u64).collect();
                h5(
                    &tmp,
                    rg.new_dataset_builder()
                        .with_data(&names[..])
                        .create("name"),
                )?;
                h5(
                    &tmp,
                    rg.new_dataset_builder()
                        .with_data(&seq_s[..])
                        .create("sequence"),
                )?;
                h5(
                    &tmp,
                    rg.new_dataset_builder()
                        .with_data(&offs[..])
                        .create("row_offset"),
                )?;
                h5(
                    &tmp,
                    rg.new_dataset_builder()
                        .with_data(&lens[..])
                        .create("length"),
                )?;
            }
            H5Layout::DeepG => {
                let (n, u) = &plan[0];
                write_str_attr(&tmp, &file, "layer_name", n)?;
                let ds = h5(
                    &tmp,
                    file.new_dataset::<f32>()
                        .shape((total, *u))
                        .chunk((chunk_rows, *u))
                        .create("states"),
                )?;
                dsets.push(ds);
                // 1-based position of the last base each state has read, per record.
                let mut end = Vec::with_capacity(total);
                for info in &infos {
                    for r in 0..info.n_rows {
                        end.push((r * opts.every * tok.stride + tok.k) as i64);
                    }
                }
                h5(
                    &tmp,
                    file.new_dataset_builder()
                        .with_data(&end[..])
                        .create("sample_end_position"),
                )?;
                let multi = (infos.len() > 1) as u8;
                h5(
                    &tmp,
                    file.new_dataset_builder()
                        .with_data(&[multi][..])
                        .create("multi_entries"),
                )?;
                if infos.len() == 1 {
                    let s = vlu(&tmp, &String::from_utf8_lossy(&seqs[0]))?;
                    h5(
                        &tmp,
                        file.new_dataset_builder()
                            .with_data(&[s][..])
                            .create("sequence"),
                    )?;
                } else {
                    // deepG's multi-entry files: the entry of each row and each entry's 1-based first row.
                    let names: Vec<VarLenUnicode> = infos
                        .iter()
                        .map(|i| vlu(&tmp, &i.name))
                        .collect::<Result<_>>()?;
                    let start: Vec<i64> = infos.iter().map(|i| i.row_offset as i64 + 1).collect();
                    let seq_s: Vec<VarLenUnicode> = seqs
                        .iter()
                        .map(|s| vlu(&tmp, &String::from_utf8_lossy(s)))
                        .collect::<Result<_>>()?;
                    h5(
                        &tmp,
                        file.new_dataset_builder()
                            .with_data(&names[..])
                            .create("entry_names"),
                    )?;
                    h5(
                        &tmp,
                        file.new_dataset_builder()
                            .with_data(&start[..])
                            .create("start_ind"),
                    )?;
                    h5(
                        &tmp,
                        file.new_dataset_builder()
                            .with_data(&seq_s[..])
                            .create("sequence"),
                    )?;
                }
            }
        }
        for (info, s) in infos.iter().zip(&seqs) {
            let ids = tok.encode(s);
            predict_each(model, &ids, &opts, &mut |c: Chunk<'_>| {
                let r0 = info.row_offset + c.first_row;
                for (ds, (_, v)) in dsets.iter().zip(&c.layers) {
                    let u = ds.shape()[1];
                    let rows = v.len() / u;
                    let arr = ndarray::ArrayView2::from_shape((rows, u), v)
                        .map_err(|e| Error::Shape(e.to_string()))?;
                    h5(&tmp, ds.write_slice(arr, ndarray::s![r0..r0 + rows, ..]))?;
                }
                Ok(())
            })?;
        }
        h5(&tmp, file.flush())?;
        drop(dsets);
        h5(&tmp, file.close())?;
        Ok(())
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    Ok(StatesSummary {
        path: path.to_path_buf(),
        n_rows: total,
        layers: plan,
        records: infos,
    })
}

/// A states file opened lazily: metadata is read at once, states only when asked
/// (a row range or one unit at a time), so files larger than memory can be analysed.
#[derive(Debug)]
pub struct StatesFile {
    path: PathBuf,
    file: hdf5::File,
    /// k-mer length.
    pub k: usize,
    /// Token stride.
    pub stride: usize,
    /// Every-th token kept.
    pub every: usize,
    /// Layers and widths, in model order.
    pub layers: Vec<(String, usize)>,
    /// Records.
    pub records: Vec<RecordInfo>,
    /// Total rows.
    pub n_rows: usize,
}

fn read_u64_attr(path: &Path, loc: &hdf5::Location, name: &str) -> Result<u64> {
    let a = h5(path, loc.attr(name))?;
    h5(path, a.read_scalar::<u64>())
}

fn read_str_attr(path: &Path, loc: &hdf5::Location, name: &str) -> Result<String> {
    let a = h5(path, loc.attr(name))?;
    Ok(h5(path, a.read_scalar::<VarLenUnicode>())?
        .as_str()
        .to_string())
}

impl StatesFile {
    /// Open a file written by [`write_states`] with [`H5Layout::Genolm`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if !path.exists() {
            return Err(Error::io(
                &path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            ));
        }
        let file = h5(&path, hdf5::File::open(&path))?;
        let fmt = read_str_attr(&path, &file, "format").unwrap_or_default();
        if fmt != "genolm-states" {
            return Err(Error::hdf5(
                &path,
                "not a genolm states file (no format=\"genolm-states\" attribute); deepG \
                 layouts are written for deepG and read with h5py",
            ));
        }
        let k = read_u64_attr(&path, &file, "k")? as usize;
        let stride = read_u64_attr(&path, &file, "stride")? as usize;
        let every = read_u64_attr(&path, &file, "every")? as usize;
        let order = read_str_attr(&path, &file, "layer_order")?;
        let mut layers = Vec::new();
        for n in order.split(',').filter(|s| !s.is_empty()) {
            let ds = h5(&path, file.dataset(&format!("layers/{n}")))?;
            let sh = ds.shape();
            layers.push((n.to_string(), sh.get(1).copied().unwrap_or(0)));
        }
        let names: Vec<VarLenUnicode> =
            h5(&path, h5(&path, file.dataset("records/name"))?.read_raw())?;
        let offs: Vec<u64> = h5(
            &path,
            h5(&path, file.dataset("records/row_offset"))?.read_raw(),
        )?;
        let lens: Vec<u64> = h5(&path, h5(&path, file.dataset("records/length"))?.read_raw())?;
        let records = names
            .iter()
            .enumerate()
            .map(|(i, n)| RecordInfo {
                name: n.as_str().to_string(),
                length: lens[i] as usize,
                row_offset: offs[i] as usize,
                n_rows: (offs[i + 1] - offs[i]) as usize,
            })
            .collect();
        let n_rows = *offs.last().unwrap_or(&0) as usize;
        Ok(Self {
            path,
            file,
            k,
            stride,
            every,
            layers,
            records,
            n_rows,
        })
    }

    /// Rows `[a, b)` of one layer, row-major.
    pub fn read_rows(&self, layer: &str, a: usize, b: usize) -> Result<LayerStates> {
        let units = self.units(layer)?;
        let b = b.min(self.n_rows);
        let ds = h5(&self.path, self.file.dataset(&format!("layers/{layer}")))?;
        let arr: ndarray::Array2<f32> =
            h5(&self.path, ds.read_slice_2d(ndarray::s![a..b.max(a), ..]))?;
        Ok(LayerStates {
            name: layer.to_string(),
            units,
            data: arr.into_raw_vec_and_offset().0,
        })
    }

    /// One unit of one layer over all rows.
    pub fn read_unit(&self, layer: &str, unit: usize) -> Result<Vec<f32>> {
        let units = self.units(layer)?;
        if unit >= units {
            return Err(Error::Input(format!(
                "{layer} has {units} units, not {}",
                unit + 1
            )));
        }
        let ds = h5(&self.path, self.file.dataset(&format!("layers/{layer}")))?;
        let arr: ndarray::Array1<f32> = h5(&self.path, ds.read_slice_1d(ndarray::s![.., unit]))?;
        Ok(arr.to_vec())
    }

    fn units(&self, layer: &str) -> Result<usize> {
        self.layers
            .iter()
            .find(|(n, _)| n == layer)
            .map(|x| x.1)
            .ok_or_else(|| Error::Input(format!("{}: no layer {layer:?}", self.path.display())))
    }

    /// The sequence of record `i`.
    pub fn sequence(&self, i: usize) -> Result<Vec<u8>> {
        let ds = h5(&self.path, self.file.dataset("records/sequence"))?;
        let v: ndarray::Array1<VarLenUnicode> =
            h5(&self.path, ds.read_slice_1d(ndarray::s![i..i + 1]))?;
        Ok(v[0].as_str().as_bytes().to_vec())
    }

    /// Load everything into memory as [`States`].
    pub fn load(&self) -> Result<States> {
        let mut layers = Vec::new();
        for (n, _) in &self.layers {
            layers.push(self.read_rows(n, 0, self.n_rows)?);
        }
        let record: Vec<u32> = h5(
            &self.path,
            h5(&self.path, self.file.dataset("index/record"))?.read_raw(),
        )?;
        let position: Vec<u64> = h5(
            &self.path,
            h5(&self.path, self.file.dataset("index/position"))?.read_raw(),
        )?;
        let sequences = (0..self.records.len())
            .map(|i| self.sequence(i))
            .collect::<Result<_>>()?;
        Ok(States {
            k: self.k,
            stride: self.stride,
            every: self.every,
            layers,
            records: self.records.clone(),
            sequences,
            record,
            position,
        })
    }
}

/// Read a genolm states file into memory (use [`StatesFile::open`] for a lazy view).
pub fn read_states(path: impl AsRef<Path>) -> Result<States> {
    StatesFile::open(path)?.load()
}
