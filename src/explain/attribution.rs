//! Attributions and perturbation (seed 001 glossary): saliency maps, input × gradient,
//! integrated gradients and in-silico mutagenesis.
//!
//! Gradients are taken with respect to the **input embeddings**. For nucleotide models
//! (`k = 1`) they are mapped back to the one-hot input (`∂f/∂onehot = ∂f/∂e · Eᵀ`, since the
//! embedding of a one-hot row is that row times the embedding matrix `E`), giving a
//! `length × 4` map over A, C, G, T. For k-mer models the map is one value per token
//! (per k-mer), from the embedding gradient.
//!
//! ```
//! use candle_core::Device;
//! use genolm::explain::attribution::{integrated_gradients, AttributionOptions};
//! use genolm::models::{GenomicModel, ModelConfig};
//! let mut cfg = ModelConfig::tiny();
//! cfg.k = 1;
//! let model = GenomicModel::new(cfg, &Device::Cpu, 1)?;
//! let ig = integrated_gradients(&model, b"ACGTTGCAAGGCTTAC", &AttributionOptions { steps: 32, ..Default::default() })?;
//! // completeness: attributions sum to f(x) − f(baseline)
//! let total: f64 = ig.per_token.iter().map(|&v| v as f64).sum();
//! assert!((total - (ig.output - ig.baseline_output.unwrap())).abs() < 0.05 * ig.output.abs().max(1.0));
//! # Ok::<(), genolm::Error>(())
//! ```

use candle_core::{DType, Tensor, Var, D};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::alphabet::base_index;
use crate::data::input::Sequence;
use crate::data::tokenize::{KmerTokenizer, N_SPECIAL};
use crate::models::{GenomicModel, Hooks, Mode};
use crate::plot::Figure;
use crate::table::Table;
use crate::{Error, Result};

use crate::infer::{objective_tensor, score_rows, RowOptions};
pub use crate::infer::{score_ids, Objective};

/// An attribution map of one sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    /// `saliency`, `input_x_gradient`, `integrated_gradients`.
    pub method: String,
    /// The sequence (upper case).
    pub sequence: Vec<u8>,
    /// k of the model's tokens.
    pub k: usize,
    /// One value per token: `|∂f/∂e|₂` for saliency, `Σ_d (e − e')_d · ∂f/∂e_d` otherwise.
    pub per_token: Vec<f32>,
    /// For nucleotide models: `length × 4` (A, C, G, T) values on the one-hot input.
    pub per_base: Option<Vec<[f32; 4]>>,
    /// The objective at the input.
    pub output: f64,
    /// The objective at the baseline (integrated gradients; DeepSHAP: the references' mean).
    pub baseline_output: Option<f64>,
    /// Nucleotide models: **hypothetical contributions** `length × 4`, signed: what each base
    /// would contribute at each position (the actual map is this times the one-hot input),
    /// the input motif discovery needs. Gradient methods give the signed gradient on the
    /// one-hot input; DeepSHAP its multipliers against the references; ISM the mean-centred
    /// mutation effects.
    #[serde(default)]
    pub hypothetical: Option<Vec<[f32; 4]>>,
    /// DeepLIFT/DeepSHAP: the summation-to-delta check.
    #[serde(default)]
    pub convergence: Option<super::deepshap::Convergence>,
}

/// What every gradient attribution starts from: the model's
/// [`inference`](GenomicModel::inference) view (its weights detached, so the backward pass
/// computes gradients for the input embeddings only; and its tensors are made by this code's
/// copy of candle, which a notebook cell that made the model in an earlier cell needs, see
/// [`GenomicModel::rebuilt`]), the tokenizer, the upper-cased sequence and its token ids.
pub(super) fn prepare(
    model: &GenomicModel,
    seq: &[u8],
) -> Result<(GenomicModel, KmerTokenizer, Vec<u8>, Vec<u32>)> {
    let tok = model.config().tokenizer()?;
    let seq = seq.to_ascii_uppercase();
    let ids = tok.encode(&seq);
    if ids.len() < 2 {
        return Err(Error::Input(format!(
            "sequence of {} bases is too short for k = {}",
            seq.len(),
            tok.k
        )));
    }
    Ok((model.inference()?, tok, seq, ids))
}

/// The actual map from a hypothetical one (`L × 4`): each position keeps the value of its
/// observed base, the other three are 0 (all four for a non-ACGT base).
pub(super) fn at_observed(seq: &[u8], hyp: &[[f32; 4]]) -> Vec<[f32; 4]> {
    seq.iter()
        .zip(hyp)
        .map(|(&b, h)| {
            let mut o = [0f32; 4];
            if let Some(i) = base_index(b) {
                o[i] = h[i];
            }
            o
        })
        .collect()
}

/// Gradients of the objective with respect to input embeddings `emb` (`(rows, t, d)`), rows sharing `ids`.
fn embedding_grads(
    model: &GenomicModel,
    ids: &[u32],
    emb: &Tensor,
    obj: Objective,
) -> Result<(Tensor, Vec<f64>)> {
    let rows = emb.dim(0)?;
    let t = ids.len();
    let dev = model.device();
    let idt = Tensor::from_vec(ids.to_vec(), (1, t), dev)?.repeat((rows, 1))?;
    let var = Var::from_tensor(&emb.to_dtype(DType::F32)?)?;
    let hooks = Hooks {
        input_embeddings: Some(var.as_tensor().clone()),
        ablate: Vec::new(),
        ..Default::default()
    };
    let out = model.forward_hooked(&idt, None, Mode::Eval, false, &hooks)?;
    let f = objective_tensor(model, &out, &idt, obj)?;
    let vals = f.to_dtype(DType::F64)?.to_vec1::<f64>()?;
    let grads = f.sum_all()?.backward()?;
    let g = grads
        .get(var.as_tensor())
        .cloned()
        .unwrap_or(var.as_tensor().zeros_like()?);
    Ok((g, vals))
}

fn embed_ids(model: &GenomicModel, ids: &[u32]) -> Result<Tensor> {
    let e = model.embedding_matrix().to_dtype(DType::F32)?;
    let idx = Tensor::from_vec(ids.to_vec(), ids.len(), model.device())?;
    Ok(e.index_select(&idx, 0)?.unsqueeze(0)?) // (1, t, d)
}

/// `(t, d)` gradient → `(t, 4)` gradient on the one-hot bases (nucleotide models).
fn to_bases(model: &GenomicModel, g: &Tensor) -> Result<Vec<[f32; 4]>> {
    let e = model.embedding_matrix().to_dtype(DType::F32)?;
    let eb = e.narrow(0, N_SPECIAL as usize, 4)?; // A C G T rows
    let gb = g.matmul(&eb.t()?)?; // (t, 4)
    Ok(gb
        .to_vec2::<f32>()?
        .into_iter()
        .map(|r| [r[0], r[1], r[2], r[3]])
        .collect())
}

/// Options of every attribution here: [`saliency`], [`input_x_gradient`],
/// [`integrated_gradients`] and [`ism`] (each reads the fields it needs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttributionOptions {
    /// The scalar explained (default: the sequence's log-likelihood).
    pub objective: Objective,
    /// Integrated gradients: where the path starts.
    pub baseline: Baseline,
    /// Integrated gradients: trapezoid steps (at least 1).
    pub steps: usize,
    /// In-silico mutagenesis: mutants per forward pass.
    pub batch_size: usize,
}

impl Default for AttributionOptions {
    fn default() -> Self {
        AttributionOptions {
            objective: Objective::LogLikelihood,
            baseline: Baseline::Zero,
            steps: 64,
            batch_size: 64,
        }
    }
}

impl AttributionOptions {
    /// Default options explaining `objective`.
    pub fn of(objective: Objective) -> Self {
        AttributionOptions {
            objective,
            ..Default::default()
        }
    }
}

/// Saliency map `|∂f/∂input|` (and, for nucleotide models, per base).
pub fn saliency(
    model: &GenomicModel,
    seq: &(impl Sequence + ?Sized),
    opts: &AttributionOptions,
) -> Result<Attribution> {
    let obj = opts.objective;
    let (model, tok, seq, ids) = prepare(model, seq.bases())?;
    let model = &model;
    let emb = embed_ids(model, &ids)?;
    let (g, vals) = embedding_grads(model, &ids, &emb, obj)?;
    let g = g.squeeze(0)?;
    let per_token = g.sqr()?.sum(D::Minus1)?.sqrt()?.to_vec1::<f32>()?;
    let signed = if tok.k == 1 {
        Some(to_bases(model, &g)?)
    } else {
        None
    };
    let per_base = signed
        .as_ref()
        .map(|s| s.iter().map(|r| r.map(f32::abs)).collect());
    Ok(Attribution {
        method: "saliency".into(),
        sequence: seq,
        k: tok.k,
        per_token,
        per_base,
        output: vals[0],
        baseline_output: None,
        hypothetical: signed,
        convergence: None,
    })
}

/// Input × gradient: `Σ_d e_d · ∂f/∂e_d` per token; per base for nucleotide models (the
/// observed base's one-hot times its gradient).
pub fn input_x_gradient(
    model: &GenomicModel,
    seq: &(impl Sequence + ?Sized),
    opts: &AttributionOptions,
) -> Result<Attribution> {
    let obj = opts.objective;
    let (model, tok, seq, ids) = prepare(model, seq.bases())?;
    let model = &model;
    let emb = embed_ids(model, &ids)?;
    let (g, vals) = embedding_grads(model, &ids, &emb, obj)?;
    let per_token = (g.squeeze(0)? * emb.squeeze(0)?)?
        .sum(D::Minus1)?
        .to_vec1::<f32>()?;
    let gb = if tok.k == 1 {
        Some(to_bases(model, &g.squeeze(0)?)?)
    } else {
        None
    };
    let per_base = gb.as_ref().map(|gb| at_observed(&seq, gb));
    Ok(Attribution {
        method: "input_x_gradient".into(),
        sequence: seq,
        k: tok.k,
        per_token,
        per_base,
        output: vals[0],
        baseline_output: None,
        hypothetical: gb,
        convergence: None,
    })
}

/// Baseline of integrated gradients.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Baseline {
    /// All-zero embeddings (the zero one-hot for nucleotide models).
    Zero,
    /// The same bases shuffled (seeded).
    Shuffled(u64),
}

/// Integrated gradients with `opts.steps` trapezoid steps from `opts.baseline` to the input,
/// batched (16 path points per forward/backward pass).
/// Completeness: `Σ per_token ≈ output − baseline_output`.
pub fn integrated_gradients(
    model: &GenomicModel,
    seq: &(impl Sequence + ?Sized),
    opts: &AttributionOptions,
) -> Result<Attribution> {
    let (obj, baseline) = (opts.objective, opts.baseline);
    let (model, tok, seq, ids) = prepare(model, seq.bases())?;
    let model = &model;
    let steps = opts.steps.max(1);
    let x = embed_ids(model, &ids)?; // (1, t, d)
                                     // the shuffled baseline's bases (None for the zero baseline), drawn once
    let base_seq: Option<Vec<u8>> = match baseline {
        Baseline::Zero => None,
        Baseline::Shuffled(s) => {
            let mut b = seq.clone();
            b.shuffle(&mut ChaCha8Rng::seed_from_u64(s));
            Some(b)
        }
    };
    let base = match &base_seq {
        None => x.zeros_like()?,
        Some(b) => embed_ids(model, &tok.encode(b))?,
    };
    let diff = (&x - &base)?;
    let alphas: Vec<f32> = (0..=steps).map(|i| i as f32 / steps as f32).collect();
    let a = Tensor::from_vec(alphas.clone(), (steps + 1, 1, 1), model.device())?;
    let path = base.broadcast_add(&diff.broadcast_mul(&a)?)?; // (steps+1, t, d)
                                                              // chunk the path to bound memory
    let mut gsum = Tensor::zeros(diff.squeeze(0)?.dims(), DType::F32, model.device())?;
    let mut vals = vec![0f64; steps + 1];
    let chunk = 16;
    let mut i0 = 0;
    while i0 <= steps {
        let n = chunk.min(steps + 1 - i0);
        let (g, v) = embedding_grads(model, &ids, &path.narrow(0, i0, n)?, obj)?;
        // trapezoid weights
        let w: Vec<f32> = (i0..i0 + n)
            .map(|i| if i == 0 || i == steps { 0.5 } else { 1.0 })
            .collect();
        let wt = Tensor::from_vec(w, (n, 1, 1), model.device())?;
        gsum = (gsum + g.broadcast_mul(&wt)?.sum(0)?)?;
        vals[i0..i0 + n].copy_from_slice(&v);
        i0 += n;
    }
    let avg = (gsum / steps as f64)?;
    let attr = (avg.clone() * diff.squeeze(0)?)?; // (t, d)
    let per_token = attr.sum(D::Minus1)?.to_vec1::<f32>()?;
    let avg_bases = if tok.k == 1 {
        Some(to_bases(model, &avg)?)
    } else {
        None
    };
    // on the one-hot input: (x − x') ⊙ avg grad; with a zero baseline only the observed base
    let per_base = avg_bases.as_ref().map(|gb| {
        seq.iter()
            .enumerate()
            .map(|(p, &b)| {
                let mut o = [0f32; 4];
                if let Some(i) = base_index(b) {
                    o[i] += gb[p][i];
                }
                if let Some(bs) = &base_seq {
                    if let Some(j) = bs.get(p).and_then(|&c| base_index(c)) {
                        o[j] -= gb[p][j];
                    }
                }
                o
            })
            .collect()
    });
    Ok(Attribution {
        method: "integrated_gradients".into(),
        sequence: seq,
        k: tok.k,
        per_token,
        per_base,
        output: vals[steps],
        baseline_output: Some(vals[0]),
        hypothetical: avg_bases,
        convergence: None,
    })
}

impl Attribution {
    /// Sum of the per-token attributions.
    pub fn total(&self) -> f64 {
        self.per_token.iter().map(|&v| v as f64).sum()
    }

    /// A logo of the per-base map (nucleotide models) or a one-row-per-token bar-like logo of
    /// the observed k-mers' first bases (k-mer models).
    pub fn plot(&self) -> Result<Figure> {
        let m: Vec<[f64; 4]> = match &self.per_base {
            Some(pb) => pb.iter().map(|r| r.map(|v| v as f64)).collect(),
            None => self
                .per_token
                .iter()
                .enumerate()
                .map(|(t, &v)| {
                    let mut o = [0f64; 4];
                    if let Some(i) = self.sequence.get(t).and_then(|&b| base_index(b)) {
                        o[i] = v as f64;
                    }
                    o
                })
                .collect(),
        };
        Figure::logo(
            &format!("{} (f = {:.3})", self.method, self.output),
            &m,
            false,
        )
    }

    /// Per-token values as a table (`token`, `position`, `value`).
    pub fn table(&self) -> Result<Table> {
        use polars::prelude::*;
        let n = self.per_token.len();
        let df = DataFrame::new(
            n,
            vec![
                Column::new("token".into(), (0..n as u32).collect::<Vec<_>>()),
                Column::new(
                    "kmer".into(),
                    (0..n)
                        .map(|t| {
                            String::from_utf8_lossy(
                                self.sequence
                                    .get(t..(t + self.k).min(self.sequence.len()))
                                    .unwrap_or(&[]),
                            )
                            .to_string()
                        })
                        .collect::<Vec<_>>(),
                ),
                Column::new("value".into(), self.per_token.clone()),
            ],
        )?;
        Ok(Table::new(self.method.clone(), df))
    }

    /// evcxr display: the logo.
    pub fn evcxr_display(&self) {
        if let Ok(f) = self.plot() {
            f.evcxr_display();
        }
    }
}

/// Anything that scores a batch of equal-length sequences (a model with an [`Objective`], or
/// a hand-made scorer in tests).
pub trait SequenceScorer {
    /// One score per sequence.
    fn score(&self, seqs: &[Vec<u8>]) -> Result<Vec<f64>>;
}

/// A model and an objective as a [`SequenceScorer`].
pub struct ModelScorer<'a> {
    /// The model.
    pub model: &'a GenomicModel,
    /// What to score.
    pub objective: Objective,
}

impl SequenceScorer for ModelScorer<'_> {
    fn score(&self, seqs: &[Vec<u8>]) -> Result<Vec<f64>> {
        let tok = self.model.config().tokenizer()?;
        let ids: Vec<Vec<u32>> = seqs.iter().map(|s| tok.encode(s)).collect();
        score_rows(
            self.model,
            &ids,
            self.objective,
            &RowOptions::batch(ids.len()),
        )
    }
}

/// In-silico mutagenesis result: `delta[p][b] = f(seq with base b at p) − f(seq)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ism {
    /// The sequence.
    pub sequence: Vec<u8>,
    /// `f` of the reference sequence.
    pub reference: f64,
    /// `length × 4` (A, C, G, T); 0 at the reference base.
    pub delta: Vec<[f64; 4]>,
}

impl Ism {
    /// The effects as an [`Attribution`] (method `ism`) for motif discovery: hypothetical
    /// contributions `delta[p][b] − mean_b' delta[p][b']` (what base `b` adds over the average
    /// base at `p`), and the actual map that at the observed base.
    pub fn attribution(&self) -> Attribution {
        let hyp: Vec<[f32; 4]> = self
            .delta
            .iter()
            .map(|r| {
                let m = r.iter().sum::<f64>() / 4.0;
                r.map(|v| (v - m) as f32)
            })
            .collect();
        let per_base = at_observed(&self.sequence, &hyp);
        Attribution {
            method: "ism".into(),
            sequence: self.sequence.clone(),
            k: 1,
            per_token: per_base.iter().map(|r| r.iter().sum()).collect(),
            per_base: Some(per_base),
            output: self.reference,
            baseline_output: None,
            hypothetical: Some(hyp),
            convergence: None,
        }
    }
}

/// In-silico mutagenesis of `seq` by `model`: every single substitution scored by
/// `opts.objective`, `opts.batch_size` mutants per forward pass.
pub fn ism(
    model: &GenomicModel,
    seq: &(impl Sequence + ?Sized),
    opts: &AttributionOptions,
) -> Result<Ism> {
    let scorer = ModelScorer {
        model,
        objective: opts.objective,
    };
    ism_with(&scorer, seq.bases(), opts.batch_size)
}

/// [`ism`] with any [`SequenceScorer`]: all single substitutions of `seq`, scored in batches
/// of `batch_size`.
pub fn ism_with(scorer: &dyn SequenceScorer, seq: &[u8], batch_size: usize) -> Result<Ism> {
    let seq = seq.to_ascii_uppercase();
    let reference = scorer.score(std::slice::from_ref(&seq))?[0];
    let mut muts: Vec<(usize, usize)> = Vec::new();
    for (p, &b) in seq.iter().enumerate() {
        for (bi, &nb) in b"ACGT".iter().enumerate() {
            if nb != b {
                muts.push((p, bi));
            }
        }
    }
    let mut delta = vec![[0f64; 4]; seq.len()];
    for chunk in muts.chunks(batch_size.max(1)) {
        let seqs: Vec<Vec<u8>> = chunk
            .iter()
            .map(|&(p, bi)| {
                let mut s = seq.clone();
                s[p] = b"ACGT"[bi];
                s
            })
            .collect();
        let sc = scorer.score(&seqs)?;
        for (&(p, bi), v) in chunk.iter().zip(sc) {
            delta[p][bi] = v - reference;
        }
    }
    Ok(Ism {
        sequence: seq,
        reference,
        delta,
    })
}

impl Ism {
    /// Logo of the mean effect of mutating each position (the importance of the observed base,
    /// `−mean_b delta[p][b]`, drawn as the observed letter).
    pub fn plot(&self) -> Result<Figure> {
        let m: Vec<[f64; 4]> = self
            .sequence
            .iter()
            .zip(&self.delta)
            .map(|(&b, d)| {
                let mut o = [0f64; 4];
                if let Some(i) = base_index(b) {
                    o[i] = -(d.iter().sum::<f64>()) / 3.0;
                }
                o
            })
            .collect();
        Figure::logo(
            "in-silico mutagenesis (importance of the observed base)",
            &m,
            false,
        )
    }

    /// Heatmap `base × position` of the deltas.
    pub fn heatmap(&self) -> Result<Figure> {
        let cols: Vec<String> = self
            .sequence
            .iter()
            .map(|&b| (b as char).to_string())
            .collect();
        let rows: Vec<String> = ["A", "C", "G", "T"].iter().map(|s| s.to_string()).collect();
        let mut v = vec![0f64; 4 * cols.len()];
        for (p, d) in self.delta.iter().enumerate() {
            for b in 0..4 {
                v[b * cols.len() + p] = d[b];
            }
        }
        Figure::heatmap("in-silico mutagenesis", &rows, &cols, &v, "Δ score", true)
    }

    /// Table: `position`, `ref`, `alt`, `delta`.
    pub fn table(&self) -> Result<Table> {
        use polars::prelude::*;
        let mut pos = Vec::new();
        let mut rf = Vec::new();
        let mut alt = Vec::new();
        let mut d = Vec::new();
        for (p, (&b, row)) in self.sequence.iter().zip(&self.delta).enumerate() {
            for (bi, &nb) in b"ACGT".iter().enumerate() {
                if nb != b {
                    pos.push(p as u32);
                    rf.push((b as char).to_string());
                    alt.push((nb as char).to_string());
                    d.push(row[bi]);
                }
            }
        }
        let df = DataFrame::new(
            pos.len(),
            vec![
                Column::new("position".into(), pos),
                Column::new("ref".into(), rf),
                Column::new("alt".into(), alt),
                Column::new("delta".into(), d),
            ],
        )?;
        Ok(Table::new("ism", df))
    }

    /// evcxr display: the heatmap.
    pub fn evcxr_display(&self) {
        if let Ok(f) = self.heatmap() {
            f.evcxr_display();
        }
    }
}
