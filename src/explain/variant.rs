//! Variant effect for any simple allele — substitutions, multi-base substitutions,
//! insertions and deletions — with twin reference/alternative attributions aligned around the
//! variant, so a user sees which bases changed their contribution.
//!
//! Both windows share the same flanks (up to `flank` bases on each side of the reference
//! allele, fewer where the sequence ends or an ambiguous base lies closer: [`clear_flanks`]);
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
//! // near the end: the right flank is what is left of the sequence
//! let near_end = Allele { position: 55, reference: b"G", alt: b"A" };
//! let e = variant_effect(&model, seq, &near_end, &VariantOptions { flank: 20, ..Default::default() })?;
//! assert_eq!((e.left_flank, e.right_flank), (20, 3));
//! # Ok::<(), genolm::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use super::attribution::{Attribution, ModelScorer, SequenceScorer};
use super::methods::{attribute, AttributionMethod, MethodOptions};
use crate::data::alphabet::base_index;
use crate::data::input::Sequence;
use crate::infer::{token_scores_many, Objective, PredictOptions, TokenScores};
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
    /// Bases on each side of the reference allele, at most: a window stops at a sequence end
    /// and before the nearest ambiguous base (`N`, IUPAC codes), so an allele near either is
    /// scored on the context it has ([`VariantEffect::left_flank`], `right_flank`).
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
    /// The reference window (left flank + REF + right flank).
    pub ref_window: Vec<u8>,
    /// The alternative window (left flank + ALT + right flank).
    pub alt_window: Vec<u8>,
    /// Bases of context left of the allele (at most [`VariantOptions::flank`]).
    pub left_flank: usize,
    /// Bases of context right of the allele.
    pub right_flank: usize,
    /// Objective of the reference window.
    pub ref_score: f64,
    /// Objective of the alternative window.
    pub alt_score: f64,
    /// `alt_score − ref_score`.
    pub delta: f64,
    /// LM objectives of a causal LM: change of the right flank's summed log-probabilities
    /// (the tokens that start in the right flank; `None` when it holds no whole token, or when
    /// a k-mer model's tokens would not fall on the same bases in both windows: an allele
    /// length change that is not a multiple of the tokens' stride).
    pub right_flank_delta: Option<f64>,
    /// Twin attributions, reference then alternative.
    pub attributions: Option<(Attribution, Attribution)>,
    /// Flank bases aligned across the two windows: (offset from the allele — negative on the
    /// left, 0 = first base after it —, reference contribution, alternative contribution).
    /// A k-mer model's token contributions are shared equally by the bases each token covers.
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

/// The flanks of the allele at `p..end` of `seq`: up to `flank` bases on each side, stopping
/// at a sequence end and before the nearest ambiguous base (anything but A, C, G, T in either
/// case). Returns `(left, right)` base counts. Variant scoring (`genolm variants`: SNVs and
/// every allele) cuts its windows with it.
///
/// ```
/// use genolm::explain::variant::clear_flanks;
/// assert_eq!(clear_flanks(b"ACGTNACGTACGT", 7, 8, 5), (2, 5)); // an N three bases to the left
/// assert_eq!(clear_flanks(b"ACGTACGT", 6, 7, 5), (5, 1)); // one base before the end
/// assert_eq!(clear_flanks(b"ACGT", 9, 10, 5), (4, 0)); // past the end: what there is
/// ```
pub fn clear_flanks(seq: &[u8], p: usize, end: usize, flank: usize) -> (usize, usize) {
    let p = p.min(seq.len());
    let clean = |b: &&u8| base_index(**b).is_some();
    let left = seq[p.saturating_sub(flank)..p]
        .iter()
        .rev()
        .take_while(clean)
        .count();
    let right = seq[end.min(seq.len())..(end + flank).min(seq.len())]
        .iter()
        .take_while(clean)
        .count();
    (left, right)
}

/// One value per base of a window of `len` bases from an attribution's per-token values:
/// the values themselves for single-nucleotide tokens, else each k-mer's value shared equally
/// by the `k` bases it covers (token `i` covers bases `i·stride ..`), so the bases' values add
/// up to the tokens'.
fn base_values(at: &Attribution, len: usize, stride: usize) -> Vec<f32> {
    let k = at.k.max(1);
    if k == 1 {
        let mut v = at.per_token.clone();
        v.resize(len, 0.0);
        return v;
    }
    let mut v = vec![0f32; len];
    for (i, &x) in at.per_token.iter().enumerate() {
        let start = i * stride.max(1);
        for b in v.iter_mut().skip(start).take(k) {
            *b += x / k as f32;
        }
    }
    v
}

/// Score (and attribute) `allele` on `seq`: windows of up to `opts.flank` bases a side (see
/// [`clear_flanks`]); an error when the REF does not match `seq`, an allele has an ambiguous
/// base, or the window is shorter than one token.
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
    if r.iter().chain(&a).any(|&b| base_index(b).is_none()) {
        return Err(Error::Input(format!(
            "the allele {} → {} has a base other than A, C, G, T",
            String::from_utf8_lossy(&r),
            String::from_utf8_lossy(&a)
        )));
    }
    let (lf, rf) = clear_flanks(&seq, p, end, opts.flank);
    let left = &seq[p - lf..p];
    let right = &seq[end..end + rf];
    let ref_window = [left, &r, right].concat();
    let alt_window = [left, &a, right].concat();
    let tok = model.config().tokenizer()?;
    if ref_window.len().min(alt_window.len()) < tok.k.max(1) {
        return Err(Error::Input(format!(
            "the allele at {p} has {} bases of context between sequence ends and ambiguous \
             bases: too few for one {}-mer token",
            lf + rf,
            tok.k
        )));
    }
    let scorer = ModelScorer {
        model,
        objective: opts.objective,
    };
    let ref_score = scorer.score(std::slice::from_ref(&ref_window))?[0];
    let alt_score = scorer.score(std::slice::from_ref(&alt_window))?[0];
    let stride = tok.stride.max(1);
    // The right flank's tokens are the same k-mers in both windows when the allele's length
    // change keeps them on the same bases (always for single bases, stride 1).
    let aligned_tokens = (r.len() as i64 - a.len() as i64).rem_euclid(stride as i64) == 0;
    let lm = model.config().head == Head::Lm && aligned_tokens && rf >= tok.k.max(1);
    let right_flank_delta = if lm && matches!(opts.objective, Objective::LogLikelihood) {
        // both windows' token scores in one batch
        let t = token_scores_many(
            model,
            &[&alt_window, &ref_window],
            &PredictOptions::default(),
        )?;
        // the scored tokens that start at base `from` or later (token i starts at i · stride)
        let sum_right = |t: &TokenScores, from: usize| -> f64 {
            t.index
                .iter()
                .zip(&t.logp)
                .filter(|(i, _)| **i * stride >= from)
                .map(|(_, &l)| l as f64)
                .sum()
        };
        Some(sum_right(&t[0], lf + a.len()) - sum_right(&t[1], lf + r.len()))
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
            // per base: a nucleotide model's tokens are bases; a k-mer model's token values
            // are spread over the bases each token covers
            let (rb, ab) = (
                base_values(&ra, ref_window.len(), tok.stride),
                base_values(&aa, alt_window.len(), tok.stride),
            );
            let mut al = Vec::with_capacity(lf + rf);
            for i in 0..lf {
                al.push((i as i64 - lf as i64, rb[i], ab[i]));
            }
            for j in 0..rf {
                let (ir, ia) = (lf + r.len() + j, lf + a.len() + j);
                al.push((j as i64, rb[ir], ab[ia]));
            }
            (Some((ra, aa)), al)
        }
        None => (None, Vec::new()),
    };
    Ok(VariantEffect {
        kind: kind(&r, &a).into(),
        ref_window,
        alt_window,
        left_flank: lf,
        right_flank: rf,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ModelConfig;
    use candle_core::Device;

    /// 200 bases of phiX174 (the embedded corpus).
    fn seq() -> Vec<u8> {
        let c = crate::data::corpus::Corpus::embedded().unwrap();
        let g = &c.genomes[c.index_of("phiX174").unwrap()];
        g.contigs[0].seq[1000..1200].to_vec()
    }

    fn lm(stride: usize) -> GenomicModel {
        let mut cfg = ModelConfig::tiny();
        cfg.stride = stride;
        GenomicModel::new(cfg, &Device::Cpu, 3).unwrap()
    }

    /// The deletion of `n` bases after base 100 of `s` (REF: base 100 and the `n` after it).
    fn deletion(s: &[u8], n: usize) -> Allele<'_> {
        Allele {
            position: 100,
            reference: &s[100..101 + n],
            alt: &s[100..101],
        }
    }

    fn scores_only(flank: usize) -> VariantOptions {
        VariantOptions {
            flank,
            attribution: None,
            ..Default::default()
        }
    }

    #[test]
    fn a_k_mer_lm_scores_the_right_flank_when_its_tokens_stay_on_the_same_bases() {
        let s = seq();
        let (del3, del1) = (deletion(&s, 3), deletion(&s, 1));
        // overlapping 3-mers: every allele
        let e = variant_effect(&lm(1), &s, &del1, &scores_only(40)).unwrap();
        assert!(e.right_flank_delta.unwrap().is_finite());
        // 3-mers at stride 3: a 3-base deletion keeps the right flank's tokens, one base does not
        let m3 = lm(3);
        assert!(variant_effect(&m3, &s, &del3, &scores_only(40))
            .unwrap()
            .right_flank_delta
            .unwrap()
            .is_finite());
        assert_eq!(
            variant_effect(&m3, &s, &del1, &scores_only(40))
                .unwrap()
                .right_flank_delta,
            None
        );
    }

    #[test]
    fn a_k_mer_model_s_twin_attributions_are_aligned_base_by_base() {
        let s = seq();
        let del = deletion(&s, 2);
        let opts = VariantOptions {
            flank: 30,
            attribution: Some(AttributionMethod::DeepShap),
            references: 2,
            ..Default::default()
        };
        let e = variant_effect(&lm(1), &s, &del, &opts).unwrap();
        assert_eq!(e.aligned.len(), 60);
        let (ra, _) = e.attributions.as_ref().unwrap();
        assert_eq!(ra.k, 3);
        // every token's value is shared by its three bases: the bases add up to the tokens
        let bases = base_values(ra, e.ref_window.len(), 1);
        let (tb, tt): (f32, f32) = (bases.iter().sum(), ra.per_token.iter().sum());
        assert!((tb - tt).abs() <= 1e-4 * tt.abs().max(1.0), "{tb} vs {tt}");
        assert!(e.aligned.iter().any(|x| x.1 != 0.0 && x.2 != 0.0));
        assert!(e.plot().is_ok());
    }

    #[test]
    fn windows_stop_at_sequence_ends_and_ambiguous_bases() {
        let mut s = seq();
        s[95] = b'N';
        let snv = |p: usize, s: &[u8]| {
            let alt = if s[p] == b'A' { b"C" } else { b"A" };
            let r = [s[p]];
            let m = lm(1);
            variant_effect(
                &m,
                s,
                &Allele {
                    position: p,
                    reference: &r,
                    alt,
                },
                &scores_only(30),
            )
        };
        let e = snv(100, &s).unwrap();
        assert_eq!((e.left_flank, e.right_flank), (4, 30));
        assert!(!e.ref_window.contains(&b'N'));
        assert_eq!(e.ref_window.len(), 35);
        assert!(e.delta.is_finite());
        // the last base: no right flank, so no right-flank score, but a window score
        let e = snv(199, &s).unwrap();
        assert_eq!((e.left_flank, e.right_flank), (30, 0));
        assert_eq!(e.right_flank_delta, None);
        assert!(e.delta.is_finite());
        // one base between two Ns: shorter than a 3-mer
        s[98] = b'N';
        s[100] = b'N';
        let e = snv(99, &s).unwrap_err();
        assert!(e.to_string().contains("too few for one 3-mer"), "{e}");
    }
}
