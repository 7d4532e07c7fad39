//! DeepLIFT and DeepSHAP (Shrikumar et al. 2017; Lundberg & Lee 2017) for every architecture
//! genolm builds, with dinucleotide-shuffled references and hypothetical contributions.
//!
//! A DeepLIFT pass runs the input and its references in one batch with DeepLIFT's rules in
//! place of the gradients of every non-linearity ([`crate::models::lift`]: rescale for
//! element-wise functions, the Shapley split for products of activations — LSTM and WaveNet
//! gates, attention's `QKᵀ` and `PV`, layer norm's `x̃·r` —, softmax and layer norm composed of
//! those, max pooling split between the two arg-maxes). All rules are exact, so the
//! contributions of each reference sum to `f(x) − f(ref)`; [`Convergence`] reports the
//! difference per reference and the layer whose rule is least exact.
//!
//! For likelihood objectives the observed tokens are both the model's input and what is
//! scored; both paths are attributed (the scored token through its one-hot, see
//! [`objective_lifted`]).
//!
//! ```
//! use candle_core::Device;
//! use genolm::explain::deepshap::{deep_shap, DeepShapOptions};
//! use genolm::models::{GenomicModel, ModelConfig};
//! let mut cfg = ModelConfig::tiny();
//! cfg.k = 1;
//! let model = GenomicModel::new(cfg, &Device::Cpu, 1)?;
//! let a = deep_shap(&model, b"ACGTTGCAAGGCTTACGATTACA", &DeepShapOptions { references: 4, ..Default::default() })?;
//! let c = a.convergence.as_ref().unwrap();
//! assert!(c.max_abs_delta < 1e-3, "{c:?}");
//! // the actual map is the hypothetical map at the observed bases
//! let (h, p) = (a.hypothetical.as_ref().unwrap(), a.per_base.as_ref().unwrap());
//! assert!((h[0][0] - p[0][0]).abs() < 1e-6); // position 0 is an A
//! # Ok::<(), genolm::Error>(())
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;

use candle_core::{DType, Tensor, Var, D};
use serde::{Deserialize, Serialize};

use super::attribution::{at_observed, prepare, Attribution};
use crate::data::alphabet::base_index;
use crate::data::input::Sequence;
use crate::data::shuffle::{dinucleotide_shuffle, mononucleotide_shuffle};
use crate::data::tokenize::N_SPECIAL;
use crate::infer::{objective_lifted, Objective};
use crate::models::lift::Lift;
use crate::models::{GenomicModel, Hooks, Mode};
use crate::{Error, Result};

/// How references are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceShuffle {
    /// Dinucleotide shuffles of the input (the genomics default: keeps CpG and composition).
    Dinucleotide,
    /// Shuffles of the input's bases.
    Mononucleotide,
}

/// Options of [`deep_shap`] and [`deep_lift`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeepShapOptions {
    /// The scalar explained.
    pub objective: Objective,
    /// Number of shuffled references (DeepSHAP averages over them).
    pub references: usize,
    /// How they are shuffled.
    pub shuffle: ReferenceShuffle,
    /// Seed of the shuffles.
    pub seed: u64,
    /// References per forward/backward pass (at most; fewer when a pass would not fit in
    /// [`memory_mib`](Self::memory_mib)).
    pub batch_size: usize,
    /// Memory a pass may use, in MiB (0: 70 % of what the system has available, 4 GiB where
    /// that is unknown). Attention's rescale rules keep dozens of `t × t` tensors per head and
    /// layer, so a transformer's pass grows with the square of the window: references are
    /// batched to fit, and a window whose single reference does not fit is refused with the
    /// longest one that would.
    pub memory_mib: usize,
}

impl Default for DeepShapOptions {
    fn default() -> Self {
        DeepShapOptions {
            objective: Objective::LogLikelihood,
            references: 10,
            shuffle: ReferenceShuffle::Dinucleotide,
            seed: 0,
            batch_size: 10,
            memory_mib: 0,
        }
    }
}

/// The summation-to-delta check of one DeepLIFT/DeepSHAP attribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Convergence {
    /// Per reference: `Σ contributions − (f(x) − f(reference))`.
    pub deltas: Vec<f64>,
    /// Per reference: `f(x) − f(reference)`.
    pub output_deltas: Vec<f64>,
    /// `max |delta|`.
    pub max_abs_delta: f64,
    /// `max |f|` over the input and the references (rounding of `f` itself scales with it).
    pub output_scale: f64,
    /// Largest local residual `|Δy − m·Δx|` of each layer's rule (the layer to suspect when
    /// the sum does not hold).
    pub residuals: BTreeMap<String, f64>,
}

impl Convergence {
    /// The layer whose rule has the largest local residual, with it.
    pub fn worst_site(&self) -> Option<(&str, f64)> {
        self.residuals
            .iter()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map(|(k, v)| (k.as_str(), *v))
    }

    /// Does summation-to-delta hold within `tol` relative to the largest `|f(x) − f(ref)|`,
    /// allowing single-precision rounding of `f` itself (10⁻⁵ · `max(1, |f|)`)?
    pub fn holds(&self, tol: f64) -> bool {
        let scale = self.output_deltas.iter().fold(0f64, |m, v| m.max(v.abs()));
        self.max_abs_delta <= tol * scale + 1e-5 * self.output_scale.max(1.0)
    }
}

/// DeepSHAP: DeepLIFT against `opts.references` shuffles of `seq`, averaged (contributions,
/// hypothetical contributions for nucleotide models, and the convergence check).
pub fn deep_shap(
    model: &GenomicModel,
    seq: &(impl Sequence + ?Sized),
    opts: &DeepShapOptions,
) -> Result<Attribution> {
    let seq = seq.bases().to_ascii_uppercase();
    if opts.references == 0 {
        return Err(Error::Input("DeepSHAP needs at least one reference".into()));
    }
    let refs: Vec<Vec<u8>> = (0..opts.references as u64)
        .map(|r| {
            let s = opts.seed.wrapping_mul(1_000_003).wrapping_add(r);
            match opts.shuffle {
                ReferenceShuffle::Dinucleotide => dinucleotide_shuffle(&seq, s),
                ReferenceShuffle::Mononucleotide => mononucleotide_shuffle(&seq, s),
            }
        })
        .collect();
    let mut a = lift_against(model, &seq, &refs, opts)?;
    a.method = "deepshap".into();
    Ok(a)
}

/// DeepLIFT of `seq` against one `reference` of the same length (e.g. a wild type).
pub fn deep_lift(
    model: &GenomicModel,
    seq: &(impl Sequence + ?Sized),
    reference: &[u8],
    opts: &DeepShapOptions,
) -> Result<Attribution> {
    let seq = seq.bases().to_ascii_uppercase();
    let mut a = lift_against(model, &seq, &[reference.to_ascii_uppercase()], opts)?;
    a.method = "deeplift".into();
    Ok(a)
}

/// Running sums over references.
struct Sums {
    per_token: Vec<f64>,
    hyp: Vec<[f64; 4]>,
    f_in: f64,
    f_ref: f64,
    conv: Convergence,
}

fn lift_against(
    model: &GenomicModel,
    seq: &[u8],
    refs: &[Vec<u8>],
    opts: &DeepShapOptions,
) -> Result<Attribution> {
    let (model, tok, seq, ids) = prepare(model, seq)?;
    let t = ids.len();
    let mut sums = Sums {
        per_token: vec![0.0; t],
        hyp: vec![[0.0; 4]; seq.len()],
        f_in: 0.0,
        f_ref: 0.0,
        conv: Convergence {
            deltas: Vec::new(),
            output_deltas: Vec::new(),
            max_abs_delta: 0.0,
            output_scale: 0.0,
            residuals: BTreeMap::new(),
        },
    };
    let mut ref_ids = Vec::with_capacity(refs.len());
    for r in refs {
        let rid = tok.encode(r);
        if rid.len() != t {
            return Err(Error::Input(format!(
                "reference of {} bases does not match the input's {} bases",
                r.len(),
                seq.len()
            )));
        }
        ref_ids.push(rid);
    }
    let per_batch = refs_per_pass(&model, t, opts)?;
    for (chunk, rid) in refs.chunks(per_batch).zip(ref_ids.chunks(per_batch)) {
        one_batch(&model, &ids, chunk, rid, tok.k, opts.objective, &mut sums)?;
    }
    let n = refs.len() as f64;
    let per_token: Vec<f32> = sums.per_token.iter().map(|v| (v / n) as f32).collect();
    let (per_base, hypothetical) = if tok.k == 1 {
        let hyp: Vec<[f32; 4]> = sums.hyp.iter().map(|r| r.map(|v| (v / n) as f32)).collect();
        let actual = at_observed(&seq, &hyp);
        (Some(actual), Some(hyp))
    } else {
        (None, None)
    };
    sums.conv.max_abs_delta = sums.conv.deltas.iter().fold(0f64, |m, d| m.max(d.abs()));
    Ok(Attribution {
        method: "deeplift".into(),
        sequence: seq,
        k: tok.k,
        per_token,
        per_base,
        output: sums.f_in / n,
        baseline_output: Some(sums.f_ref / n),
        hypothetical,
        convergence: Some(sums.conv),
    })
}

/// `t × t` tensors of 4 bytes that a DeepLIFT pass keeps per attention head and layer for each
/// row (an input or a reference), forward and backward: measured 7.8 GB peak for 20 rows of
/// 300 tokens through 4 layers of 4 heads, i.e. ≈ 68, rounded up; other layers are linear in
/// `t` and small next to it.
const ATTN_LIFT_TENSORS: f64 = 72.0;

/// Estimated MiB of one DeepLIFT pass row of `t` tokens (attention's share; 0 without it).
fn lift_row_mib(model: &GenomicModel, t: usize) -> f64 {
    let c = model.config();
    let t = t as f64;
    ATTN_LIFT_TENSORS * (c.attn_layers * c.attn_heads) as f64 * t * t * 4.0 / (1024.0 * 1024.0)
}

/// References per pass: `opts.batch_size`, fewer when the pass would exceed the memory
/// budget; an error naming the longest window that fits when one reference does not.
fn refs_per_pass(model: &GenomicModel, t: usize, opts: &DeepShapOptions) -> Result<usize> {
    let budget = if opts.memory_mib > 0 {
        opts.memory_mib as f64
    } else {
        let avail = crate::cpu::available_mib();
        if avail.is_finite() {
            0.7 * avail
        } else {
            4096.0
        }
    };
    let per_ref = 2.0 * lift_row_mib(model, t);
    if per_ref > budget {
        // the longest window whose one reference fits: per_ref ∝ t²
        let fits = (t as f64 * (budget / per_ref).sqrt()).floor() as usize;
        return Err(Error::Input(format!(
            "DeepLIFT through {} attention layers over {t} tokens needs ≈ {:.1} GiB for a \
             single reference (its rescale rules keep t × t tensors per head), more than the \
             {:.1} GiB it may use (DeepShapOptions::memory_mib; by default 70 % of the \
             memory available): explain a window of at most ≈ {fits} tokens, or use \
             integrated gradients",
            model.config().attn_layers,
            per_ref / 1024.0,
            budget / 1024.0
        )));
    }
    let fit = if per_ref > 0.0 {
        (budget / per_ref).floor() as usize
    } else {
        usize::MAX
    };
    Ok(opts.batch_size.max(1).min(fit.max(1)))
}

/// One DeepLIFT pass: the input repeated against `refs`, accumulated into `sums`.
fn one_batch(
    model: &GenomicModel,
    ids: &[u32],
    refs: &[Vec<u8>],
    ref_ids: &[Vec<u32>],
    k: usize,
    obj: Objective,
    sums: &mut Sums,
) -> Result<()> {
    let r = refs.len();
    let t = ids.len();
    let dev = model.device();
    let mut all: Vec<u32> = Vec::with_capacity(2 * r * t);
    for _ in 0..r {
        all.extend_from_slice(ids);
    }
    for rid in ref_ids {
        all.extend_from_slice(rid);
    }
    let idt = Tensor::from_vec(all.clone(), (2 * r, t), dev)?;
    let e = crate::models::layers::upcast(model.embedding_matrix())?;
    let flat = Tensor::from_vec(all.clone(), 2 * r * t, dev)?;
    let emb = Var::from_tensor(&e.index_select(&flat, 0)?.reshape((2 * r, t, ()))?)?;
    let vocab = model.config().vocab();
    let scored = !matches!(obj, Objective::Class(_));
    let onehot = if scored {
        let mut oh = vec![0f32; 2 * r * t * vocab];
        for (i, &id) in all.iter().enumerate() {
            oh[i * vocab + id as usize] = 1.0;
        }
        let oh = Tensor::from_vec(oh, (2 * r, t, vocab), dev)?.to_dtype(e.dtype())?;
        Some(Var::from_tensor(&oh)?)
    } else {
        None
    };
    let lift = Arc::new(Lift::new(r));
    let hooks = Hooks {
        input_embeddings: Some(emb.as_tensor().clone()),
        lift: Some(lift.clone()),
        ..Default::default()
    };
    let out = model.forward_hooked(&idt, None, Mode::Eval, false, &hooks)?;
    let f = objective_lifted(
        model,
        &out,
        &idt,
        obj,
        onehot.as_ref().map(|o| (lift.as_ref(), o.as_tensor())),
    )?;
    let fv = f.to_dtype(DType::F64)?.to_vec1::<f64>()?;
    let grads = f.narrow(0, 0, r)?.sum_all()?.backward()?;
    let half = |x: &Tensor, i: usize| -> Result<Tensor> { Ok(x.narrow(0, i * r, r)?) };
    // Embedding path: per token Σ_d m·Δe; per base m·E_b.
    let ge = grads
        .get(emb.as_tensor())
        .cloned()
        .unwrap_or(emb.as_tensor().zeros_like()?);
    let ge = half(&ge, 0)?;
    let de = (half(emb.as_tensor(), 0)? - half(emb.as_tensor(), 1)?)?;
    let mut tok_c = (&ge * &de)?.sum(D::Minus1)?; // (r, t)
    let mut m_base = if k == 1 {
        let eb = e.narrow(0, N_SPECIAL as usize, 4)?; // A C G T rows
        Some(ge.broadcast_matmul(&eb.t()?)?) // (r, t, 4)
    } else {
        None
    };
    // Target path (likelihood objectives).
    if let Some(oh) = &onehot {
        let go = grads
            .get(oh.as_tensor())
            .cloned()
            .unwrap_or(oh.as_tensor().zeros_like()?);
        let go = half(&go, 0)?;
        let doh = (half(oh.as_tensor(), 0)? - half(oh.as_tensor(), 1)?)?;
        tok_c = (tok_c + (&go * &doh)?.sum(D::Minus1)?)?;
        if let Some(m) = m_base.as_mut() {
            *m = (&*m + go.narrow(2, N_SPECIAL as usize, 4)?)?;
        }
    }
    let tok_c = tok_c.to_dtype(DType::F64)?.to_vec2::<f64>()?;
    let m_base = match m_base {
        Some(m) => Some(m.to_dtype(DType::F64)?.to_vec3::<f64>()?),
        None => None,
    };
    for j in 0..r {
        let (fi, fr) = (fv[j], fv[r + j]);
        let total: f64 = tok_c[j].iter().sum();
        sums.conv.deltas.push(total - (fi - fr));
        sums.conv.output_deltas.push(fi - fr);
        sums.conv.output_scale = sums.conv.output_scale.max(fi.abs()).max(fr.abs());
        sums.f_in += fi;
        sums.f_ref += fr;
        for (s, c) in sums.per_token.iter_mut().zip(&tok_c[j]) {
            *s += c;
        }
        if let Some(m) = &m_base {
            for (p, h) in sums.hyp.iter_mut().enumerate() {
                let mr = &m[j][p];
                let at_ref = refs[j]
                    .get(p)
                    .and_then(|&b| base_index(b))
                    .map(|i| mr[i])
                    .unwrap_or(0.0);
                for b in 0..4 {
                    h[b] += mr[b] - at_ref;
                }
            }
        }
    }
    for (site, v) in lift.residuals() {
        let e = sums.conv.residuals.entry(site).or_insert(0.0);
        *e = e.max(v);
    }
    Ok(())
}
