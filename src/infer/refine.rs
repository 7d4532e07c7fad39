//! Filling gaps with a masked LM by iterative refinement (mask-predict: predict the masked
//! bases, commit some, predict the rest again), reading both flanks.
//!
//! Masking a whole 300-nt gap and taking each base's most probable value at once (one forward
//! pass) asks a model trained to restore 15 % of scattered tokens for something it never saw:
//! its guesses far from the flanks carry only the base composition, whose arg-max is one base
//! repeated — on held-out chloroplast CDS the one-shot fill held 44-nt homopolymers (the
//! truth's longest run: 6 nt). Refinement instead commits, in each of `iterations` rounds,
//! `1/iterations` of the gap and predicts the rest again with those bases visible. Which bases
//! a round commits matters ([`CommitOrder`]): those nearest a flank (the default) make the fill
//! grow inward from both sides, each base predicted from real or committed neighbours as in
//! training; those the model is surest of (MaskGIT's rule) collapse into runs as long as the
//! gap, because a base that continues a run makes its neighbours easier still.
//!
//! Every forward pass reads at most `window` tokens (the length the model was trained on; a
//! model with rotary positions does not extrapolate far beyond it): a sequence longer than that
//! is read in overlapping windows, each masked token taking its prediction from the window in
//! which it sits nearest the middle. With `samples > 1` (default 32) the refinement runs that
//! many times with sampled choices and keeps the per-base majority, like the causal decoders'
//! consensus ([`Decoder::Consensus`](super::Decoder)); arg-max choices (`samples = 1`) collapse
//! into homopolymers in either order. Measured in docs/benchmark-results.md ("Gene-sized
//! imputation: decoders").
//!
//! ```
//! use candle_core::Device;
//! use genolm::infer::{refine_gaps, MaskedGap, RefineOptions};
//! use genolm::models::{GenomicModel, ModelConfig};
//! let small = ModelConfig { emb_dim: 16, attn_heads: 2, attn_layers: 1, ..ModelConfig::transformer_mlm_small() };
//! let model = GenomicModel::new(small, &Device::Cpu, 1)?;
//! let seq = b"ATGGCGTACGATCGATCGTAGCTAGCNNNNNNNNNNNNCATCGATCGACTAGCATGCA";
//! let gap = MaskedGap { seq, start: 26, len: 12 };
//! let fills = refine_gaps(&model, &[gap], &RefineOptions::default())?;
//! assert_eq!(fills[0].len(), 12);
//! assert!(fills[0].iter().all(|b| b"ACGT".contains(b)));
//! # Ok::<(), genolm::Error>(())
//! ```

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::bases::base_marginal;
use super::fill::per_base_majority;
use super::rows::{predict_rows, RowOptions, RowOutput};
use crate::data::alphabet::BASES;
use crate::data::tokenize::Special;
use crate::models::{GenomicModel, Head};
use crate::{Error, Result};

/// A gap to fill: the whole sequence (left flank, gap, right flank; the gap's own bases are
/// ignored) and where the gap lies in it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaskedGap<'a> {
    /// Left flank, gap and right flank.
    pub seq: &'a [u8],
    /// First base of the gap.
    pub start: usize,
    /// Bases in the gap.
    pub len: usize,
}

/// Which still-masked bases a round commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitOrder {
    /// Those nearest a known base: the fill grows inward from both flanks (the default).
    OutsideIn,
    /// Those the model is surest of (MaskGIT). On DNA this feeds on itself: a base that
    /// continues a run makes its neighbours easier to predict, and the fill collapses into
    /// homopolymers as long as the gap, sampled or not (docs/benchmark-results.md).
    Confidence,
}

/// Options of [`refine_gaps`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RefineOptions {
    /// Rounds of predict-and-commit (each commits about `1/iterations` of the gap).
    pub iterations: usize,
    /// Which bases a round commits.
    pub order: CommitOrder,
    /// Tokens per forward pass (longer sequences are read in overlapping windows).
    pub window: usize,
    /// Refinements per gap: 1 = arg-max choices; more = sampled choices and the per-base
    /// majority of the samples (arg-max choices collapse into homopolymers in any order).
    pub samples: usize,
    /// Softmax temperature of sampled choices (`samples > 1`).
    pub temperature: f64,
    /// Seed of sampling.
    pub seed: u64,
    /// Windows per forward pass.
    pub batch_size: usize,
}

impl Default for RefineOptions {
    fn default() -> Self {
        RefineOptions {
            iterations: 10,
            order: CommitOrder::OutsideIn,
            window: 256,
            samples: 32,
            temperature: 1.0,
            seed: 42,
            batch_size: 16,
        }
    }
}

/// Fill every gap with a masked LM (see the module docs); returns the filled bases of each gap.
pub fn refine_gaps(
    model: &GenomicModel,
    gaps: &[MaskedGap],
    opts: &RefineOptions,
) -> Result<Vec<Vec<u8>>> {
    if model.config().head != Head::Mlm {
        return Err(Error::Input(
            "iterative refinement needs a masked LM (a causal LM fills left to right: fill_gaps)"
                .into(),
        ));
    }
    let tok = model.config().tokenizer()?;
    if tok.stride > tok.k {
        return Err(Error::Input("gap filling needs stride ≤ k".into()));
    }
    if opts.iterations == 0 || opts.window < 2 * tok.k || opts.samples == 0 {
        return Err(Error::Input(format!(
            "refinement needs iterations ≥ 1, samples ≥ 1 and a window of at least {} tokens",
            2 * tok.k
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut out = Vec::with_capacity(gaps.len());
    for (i, g) in gaps.iter().enumerate() {
        if g.len == 0 || g.start + g.len > g.seq.len() {
            return Err(Error::Input(format!(
                "gap {i}: bases {}..{} do not lie inside its sequence of {} bases",
                g.start,
                g.start + g.len,
                g.seq.len()
            )));
        }
        if opts.samples == 1 {
            out.push(refine_one(model, &tok, g, opts, None)?);
            continue;
        }
        let fills = (0..opts.samples)
            .map(|_| refine_one(model, &tok, g, opts, Some(&mut rng)))
            .collect::<Result<Vec<_>>>()?;
        out.push(per_base_majority(&fills, g.len));
    }
    Ok(out)
}

/// One refinement of one gap; `rng` = sampled choices, `None` = arg-max.
fn refine_one(
    model: &GenomicModel,
    tok: &crate::data::tokenize::KmerTokenizer,
    g: &MaskedGap,
    opts: &RefineOptions,
    mut rng: Option<&mut ChaCha8Rng>,
) -> Result<Vec<u8>> {
    let (k, s) = (tok.k, tok.stride);
    let mut cur = g.seq.to_ascii_uppercase();
    let (lo, hi) = (g.start, g.start + g.len);
    let mut open = vec![true; g.len];
    let n_tok = tok.n_tokens(cur.len());
    if n_tok == 0 {
        return Err(Error::Input(format!(
            "a sequence of {} bases holds no {k}-mer",
            cur.len()
        )));
    }
    let w = opts.window.min(n_tok);
    for it in 0..opts.iterations {
        let remaining = open.iter().filter(|&&o| o).count();
        if remaining == 0 {
            break;
        }
        // after this round, (T − it − 1)/T of the gap stays masked
        let keep = g.len * (opts.iterations - it - 1) / opts.iterations;
        let commit = remaining.saturating_sub(keep).max(1);
        let mut ids = tok.encode(&cur);
        // tokens touching a still-masked base
        let masked: Vec<usize> = (0..n_tok)
            .filter(|&j| {
                let (a, b) = ((j * s).max(lo), (j * s + k).min(hi));
                (a..b).any(|p| open[p - lo])
            })
            .collect();
        for &j in &masked {
            ids[j] = Special::Mask as u32;
        }
        // each masked token reads from the window (on a grid of w/4) where it sits most central
        let q = (w / 4).max(1);
        let start_of = |j: usize| -> usize {
            let a = (j as f64 - w as f64 / 2.0) / q as f64;
            ((a.round().max(0.0) as usize) * q).min(n_tok - w)
        };
        let mut starts: Vec<usize> = masked.iter().map(|&j| start_of(j)).collect();
        starts.sort_unstable();
        starts.dedup();
        let rows: Vec<Vec<u32>> = starts.iter().map(|&a| ids[a..a + w].to_vec()).collect();
        let probs = predict_rows(
            model,
            &rows,
            &RowOptions {
                batch_size: opts.batch_size,
                output: RowOutput::Probs,
                ..Default::default()
            },
        )?;
        // per open base: Σ over its masked tokens of ln P(base at that offset)
        let mut score = vec![[0f64; 4]; g.len];
        for &j in &masked {
            let a = start_of(j);
            let row = &probs[starts.binary_search(&a).unwrap_or(0)][j - a];
            for off in 0..k {
                let p = j * s + off;
                if p < lo || p >= hi || !open[p - lo] {
                    continue;
                }
                let m = base_marginal(row, k, off);
                for b in 0..4 {
                    score[p - lo][b] += (m[b] as f64).max(1e-30).ln();
                }
            }
        }
        let mut cand: Vec<(f64, usize, usize)> = Vec::with_capacity(remaining);
        for (p, sc) in score.iter().enumerate() {
            if !open[p] {
                continue;
            }
            let t = if rng.is_some() {
                opts.temperature.max(1e-6)
            } else {
                1.0
            };
            let mx = sc.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = sc.iter().map(|x| ((x - mx) / t).exp()).collect();
            let z: f64 = e.iter().sum();
            let b = match &mut rng {
                Some(r) => {
                    let mut u = r.random::<f64>() * z;
                    (0..4)
                        .find(|&b| {
                            u -= e[b];
                            u <= 0.0
                        })
                        .unwrap_or(3)
                }
                None => (0..4).fold(0, |b, j| if e[j] > e[b] { j } else { b }),
            };
            let priority = match opts.order {
                // nearest a flank (known bases) first; ties: the left side first
                CommitOrder::OutsideIn => -(((p + 1).min(g.len - p)) as f64),
                CommitOrder::Confidence => e[b] / z,
            };
            cand.push((priority, p, b));
        }
        cand.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
        for &(_, p, b) in cand.iter().take(commit) {
            cur[lo + p] = BASES[b];
            open[p] = false;
        }
    }
    Ok(cur[lo..hi].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ModelConfig;
    use candle_core::Device;

    fn mlm(k: usize) -> GenomicModel {
        let cfg = ModelConfig {
            k,
            emb_dim: 16,
            attn_heads: 2,
            attn_layers: 1,
            ..ModelConfig::transformer_mlm_small()
        };
        GenomicModel::new(cfg, &Device::Cpu, 3).unwrap()
    }

    #[test]
    fn windows_cover_long_sequences_and_results_are_deterministic() {
        let seq: Vec<u8> = (0..700).map(|i| b"ACGGTCAT"[(i * 7 + i / 5) % 8]).collect();
        for k in [1, 3] {
            let model = mlm(k);
            let gap = MaskedGap {
                seq: &seq,
                start: 200,
                len: 300,
            };
            let opts = RefineOptions {
                window: 64,
                samples: 2,
                ..Default::default()
            };
            let a = refine_gaps(&model, &[gap], &opts).unwrap();
            assert_eq!(a[0].len(), 300);
            assert_eq!(a, refine_gaps(&model, &[gap], &opts).unwrap());
            // one window holding the whole sequence reads every token at once
            let whole = RefineOptions {
                window: 1000,
                samples: 3,
                ..Default::default()
            };
            let b = refine_gaps(&model, &[gap], &whole).unwrap();
            assert_eq!(b[0].len(), 300);
            assert_eq!(b, refine_gaps(&model, &[gap], &whole).unwrap());
        }
    }

    #[test]
    fn one_iteration_is_the_one_shot_arg_max() {
        // with one round every base is chosen from the fully masked gap at once
        let model = mlm(1);
        let seq = b"ACGTTGCAACGTAAAAAAAAAAAAGGCATTACG";
        let gap = MaskedGap {
            seq,
            start: 12,
            len: 12,
        };
        let one = RefineOptions {
            iterations: 1,
            samples: 1,
            ..Default::default()
        };
        let fill = refine_gaps(&model, &[gap], &one).unwrap().remove(0);
        let tok = model.config().tokenizer().unwrap();
        let mut ids = tok.encode(seq);
        for id in &mut ids[12..24] {
            *id = Special::Mask as u32;
        }
        let p = predict_rows(
            &model,
            &[ids],
            &RowOptions {
                output: RowOutput::Probs,
                ..Default::default()
            },
        )
        .unwrap()
        .remove(0);
        let want: Vec<u8> = (12..24)
            .map(|j| {
                let m = base_marginal(&p[j], 1, 0);
                BASES[(0..4).fold(0, |b, i| if m[i] > m[b] { i } else { b })]
            })
            .collect();
        assert_eq!(fill, want);
    }

    #[test]
    fn bad_input_is_an_error() {
        let model = mlm(1);
        let seq = b"ACGTACGTACGT";
        let out_of_range = MaskedGap {
            seq,
            start: 8,
            len: 10,
        };
        let e = refine_gaps(&model, &[out_of_range], &RefineOptions::default()).unwrap_err();
        assert!(e.to_string().contains("do not lie inside"), "{e}");
        let causal = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1).unwrap();
        let gap = MaskedGap {
            seq,
            start: 4,
            len: 4,
        };
        assert!(refine_gaps(&causal, &[gap], &RefineOptions::default()).is_err());
    }
}
