//! Variant effect for any simple allele — substitutions, multi-base substitutions,
//! insertions and deletions — with twin reference/alternative attributions aligned around the
//! variant, so a user sees which bases changed their contribution.
//!
//! Both windows share the same flanks (`flank` bases on each side of the reference allele);
//! the alternative window carries the alternative allele instead. The score is the change of
//! the objective (by default the window's log-likelihood: for a causal LM the alternative
//! bases' own log-probabilities plus their effect on the right flank's predictions), and the
//! change of the right flank's log-likelihood alone (how the allele changes the model's
//! reading of the bases after it, comparable across allele lengths).
//!
//! ```
//! use candle_core::Device;
//! use genolm::explain::variant::{variant_effect, Allele, VariantOptions};
//! use genolm::models::{GenomicModel, ModelConfig};
//! let mut cfg = ModelConfig::tiny();
//! cfg.k = 1;
//! let model = GenomicModel::new(cfg, &Device::Cpu, 1)?;
//! let seq = b"ACGTTGCAAGGCTTACGATTACAGGCATCGATCGGGCTAGCTAGGCTTTAAACGCGTTA";
//! let del = Allele { position: 29, reference: b"GAT", alt: b"G" };
//! let e = variant_effect(&model, seq, &del, &VariantOptions { flank: 20, ..Default::default() })?;
//! assert_eq!(e.kind, "deletion");
//! assert_eq!(e.alt_window.len() + 2, e.ref_window.len());
//! assert_eq!(e.aligned.len(), 40); // the two flanks, base by base
//! # Ok::<(), genolm::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use super::attribution::{Attribution, ModelScorer, SequenceScorer};
use super::methods::{attribute, AttributionMethod, MethodOptions};
use crate::data::input::Sequence;
use crate::infer::{token_scores, Objective, PredictOptions};
use crate::models::{GenomicModel, Head};
use crate::plot::{Figure, Series};
use crate::table::Table;
use crate::{Error, Result};

/// One allele on a sequence (0-based `position` of the first reference base).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Allele<'a> {
    /// 0-based start of the reference allele.
    pub position: usize,
    /// Reference bases (as in a VCF REF; checked against the sequence).
    pub reference: &'a [u8],
    /// Alternative bases (VCF ALT; empty = deletion of the whole REF).
    pub alt: &'a [u8],
}

/// Options of [`variant_effect`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VariantOptions {
    /// Bases on each side of the reference allele.
    pub flank: usize,
    /// The scalar compared (LM log-likelihood, or a class logit).
    pub objective: Objective,
    /// Twin attributions with this method (`None`: scores only).
    pub attribution: Option<AttributionMethod>,
    /// DeepSHAP references / IG steps.
    pub references: usize,
    /// Seed of references and baselines.
    pub seed: u64,
}

impl Default for VariantOptions {
    fn default() -> Self {
        VariantOptions {
            flank: 100,
            objective: Objective::LogLikelihood,
            attribution: Some(AttributionMethod::DeepShap),
            references: 10,
            seed: 0,
        }
    }
}

/// A variant's effect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VariantEffect {
    /// `substitution`, `mnp`, `insertion`, `deletion` or `complex`.
    pub kind: String,
    /// The reference window (flank + REF + flank).
    pub ref_window: Vec<u8>,
    /// The alternative window (flank + ALT + flank).
    pub alt_window: Vec<u8>,
    /// Objective of the reference window.
    pub ref_score: f64,
    /// Objective of the alternative window.
    pub alt_score: f64,
    /// `alt_score − ref_score`.
    pub delta: f64,
    /// LM objectives of a causal LM: change of the right flank's summed log-probabilities.
    pub right_flank_delta: Option<f64>,
    /// Twin attributions, reference then alternative.
    pub attributions: Option<(Attribution, Attribution)>,
    /// Flank bases aligned across the two windows: (offset from the allele — negative on the
    /// left, 0 = first base after it —, reference contribution, alternative contribution).
    pub aligned: Vec<(i64, f32, f32)>,
}

fn kind(r: &[u8], a: &[u8]) -> &'static str {
    match (r.len(), a.len()) {
        (1, 1) => "substitution",
        (x, y) if x == y => "mnp",
        (x, y) if y > x && (a.starts_with(r) || a.ends_with(r)) => "insertion",
        (x, y) if x > y && (r.starts_with(a) || r.ends_with(a)) => "deletion",
        _ => "complex",
    }
}

/// Score (and attribute) `allele` on `seq`.
pub fn variant_effect(
    model: &GenomicModel,
    seq: &(impl Sequence + ?Sized),
    allele: &Allele<'_>,
    opts: &VariantOptions,
) -> Result<VariantEffect> {
    let seq = seq.bases().to_ascii_uppercase();
    let (p, r, a) = (
        allele.position,
        allele.reference.to_ascii_uppercase(),
        allele.alt.to_ascii_uppercase(),
    );
    if r.is_empty() {
        return Err(Error::Input(
            "a reference allele needs at least one base".into(),
        ));
    }
    let end = p + r.len();
    if seq.get(p..end) != Some(&r[..]) {
        return Err(Error::Input(format!(
            "REF {} does not match the sequence at {p} ({})",
            String::from_utf8_lossy(&r),
            String::from_utf8_lossy(seq.get(p..end.min(seq.len())).unwrap_or(&[]))
        )));
    }
    if p < opts.flank || end + opts.flank > seq.len() {
        return Err(Error::Input(format!(
            "the allele at {p} is closer than the flank of {} to a sequence end",
            opts.flank
        )));
    }
    let left = &seq[p - opts.flank..p];
    let right = &seq[end..end + opts.flank];
    let ref_window = [left, &r, right].concat();
    let alt_window = [left, &a, right].concat();
    let scorer = ModelScorer {
        model,
        objective: opts.objective,
    };
    let ref_score = scorer.score(std::slice::from_ref(&ref_window))?[0];
    let alt_score = scorer.score(std::slice::from_ref(&alt_window))?[0];
    let lm = model.config().head == Head::Lm && model.config().k == 1;
    let right_flank_delta = if lm && matches!(opts.objective, Objective::LogLikelihood) {
        let po = PredictOptions::default();
        let sum_right = |w: &[u8], from: usize| -> Result<f64> {
            let t = token_scores(model, w, &po)?;
            Ok(t.index
                .iter()
                .zip(&t.logp)
                .filter(|(i, _)| **i >= from)
                .map(|(_, &l)| l as f64)
                .sum())
        };
        Some(
            sum_right(&alt_window, opts.flank + a.len())?
                - sum_right(&ref_window, opts.flank + r.len())?,
        )
    } else {
        None
    };
    let (attributions, aligned) = match opts.attribution {
        Some(method) => {
            let mo = MethodOptions {
                method,
                objective: opts.objective,
                references: opts.references,
                seed: opts.seed,
                ..Default::default()
            };
            let ra = attribute(model, &ref_window, &mo)?;
            let aa = attribute(model, &alt_window, &mo)?;
            let mut al = Vec::with_capacity(2 * opts.flank);
            if ra.k == 1 {
                for i in 0..opts.flank {
                    al.push((
                        i as i64 - opts.flank as i64,
                        ra.per_token[i],
                        aa.per_token[i],
                    ));
                }
                for j in 0..opts.flank {
                    let (ir, ia) = (opts.flank + r.len() + j, opts.flank + a.len() + j);
                    al.push((j as i64, ra.per_token[ir], aa.per_token[ia]));
                }
            }
            (Some((ra, aa)), al)
        }
        None => (None, Vec::new()),
    };
    Ok(VariantEffect {
        kind: kind(&r, &a).into(),
        ref_window,
        alt_window,
        ref_score,
        alt_score,
        delta: alt_score - ref_score,
        right_flank_delta,
        attributions,
        aligned,
    })
}

impl VariantEffect {
    /// The aligned flank contributions (`offset`, `ref`, `alt`, `change`).
    pub fn table(&self) -> Result<Table> {
        use polars::prelude::*;
        let a = &self.aligned;
        let df = DataFrame::new(
            a.len(),
            vec![
                Column::new("offset".into(), a.iter().map(|x| x.0).collect::<Vec<_>>()),
                Column::new("ref".into(), a.iter().map(|x| x.1).collect::<Vec<_>>()),
                Column::new("alt".into(), a.iter().map(|x| x.2).collect::<Vec<_>>()),
                Column::new(
                    "change".into(),
                    a.iter().map(|x| x.2 - x.1).collect::<Vec<_>>(),
                ),
            ],
        )?;
        Ok(Table::new("variant_attribution", df))
    }

    /// Reference and alternative contributions along the aligned flanks.
    pub fn plot(&self) -> Result<Figure> {
        let x: Vec<f64> = self.aligned.iter().map(|v| v.0 as f64).collect();
        Figure::lines(
            &format!("{} (Δ = {:.3})", self.kind, self.delta),
            "offset from the allele",
            "contribution",
            &[
                Series::new(
                    "reference",
                    x.clone(),
                    self.aligned.iter().map(|v| v.1 as f64).collect(),
                ),
                Series::new(
                    "alternative",
                    x.clone(),
                    self.aligned.iter().map(|v| v.2 as f64).collect(),
                ),
                Series::new(
                    "change",
                    x,
                    self.aligned.iter().map(|v| (v.2 - v.1) as f64).collect(),
                ),
            ],
            &[],
        )
    }

    /// evcxr display: the plot.
    pub fn evcxr_display(&self) {
        if let Ok(f) = self.plot() {
            f.evcxr_display();
        }
    }
}
