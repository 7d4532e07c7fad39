//! **Zero-shot variant effect**: score substitutions with no labels and no training, by
//! 1. the log-likelihood ratio `LLR = score(alt) − score(ref)` of the window around the
//!    substitution (causal LM: full-window log-likelihood; MLM: masked tokens covering the base,
//!    as in imputation 1) — by default on both strands (the window's LLR plus its reverse
//!    complement's: strand-independent, and a causal model sees both flanks), and
//! 2. the distance between the mean-pooled `body` embeddings of the ref and alt windows.
//!
//! With no clinical labels here, the benchmark uses a biological contrast every annotated genome
//! has: random substitutions inside CDS (positions in exactly one reading frame), classed by the
//! genome's genetic code as synonymous, missense or nonsense. Reported: AUROC of `−LLR` for
//! non-synonymous vs synonymous (main metric), nonsense vs missense, and of the embedding
//! distance; the Markov baseline's LLR on the same substitutions.
//!
//! Users' own variants: [`read_vcf_variants`] (VCF + FASTA, plain or gzip) and
//! [`score_variants`] give a table of LLR and distance per variant.

use std::time::Instant;

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::markov::{code, BASES};
use super::score::{markov_candidate_scores, model_candidate_scores};
use super::{BenchContext, BenchRow, Outcome};
use crate::data::alphabet::revcomp;
use crate::data::annotation::Strand;
use crate::data::genetic_code::GeneticCode;
use crate::infer::{pooled_states, RowOptions};
use crate::models::GenomicModel;
use crate::stats::auroc_test;
use crate::{Error, Result};

mod vcf;

pub use vcf::{
    read_vcf_alleles, read_vcf_variants, score_alleles, score_variants, VcfAllele, VcfAlleles,
    VcfInput, VcfOptions, VcfVariant,
};

/// Consequence of a substitution in a CDS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Consequence {
    /// Same amino acid.
    Synonymous,
    /// Another amino acid.
    Missense,
    /// A stop codon.
    Nonsense,
}

/// The consequence of changing base `p` (0-based, in the CDS's own orientation) of `codon` to
/// `alt`; `None` for a stop codon or an ambiguous codon.
pub fn consequence(
    code_table: &GeneticCode,
    codon: &[u8],
    p: usize,
    alt: u8,
) -> Option<Consequence> {
    let r = code_table.translate_codon(codon);
    if r == b'*' || r == b'X' {
        return None;
    }
    let mut c = codon.to_vec();
    c[p] = alt;
    let a = code_table.translate_codon(&c);
    Some(match a {
        b'*' => Consequence::Nonsense,
        b'X' => return None,
        a if a == r => Consequence::Synonymous,
        _ => Consequence::Missense,
    })
}

/// A substitution in a window: the window (reference bases), the centre index, the alt base.
#[derive(Debug, Clone, PartialEq)]
pub struct Substitution {
    /// Where it is (`contig:pos`, 1-based).
    pub name: String,
    /// Reference window, centred on the substitution.
    pub window: Vec<u8>,
    /// Index of the substituted base in the window.
    pub centre: usize,
    /// Alternative base.
    pub alt: u8,
}

/// LLR and embedding distance of each substitution (same flank for all).
pub fn score_substitutions(
    ctx: &BenchContext,
    subs: &[Substitution],
) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let centre = subs.first().map(|s| s.centre).unwrap_or(0);
    if subs
        .iter()
        .any(|s| s.centre != centre || s.window.len() != subs[0].window.len())
    {
        return Err(Error::Input(
            "substitution windows must share one length and centre".into(),
        ));
    }
    let wins: Vec<Vec<u8>> = subs.iter().map(|s| s.window.clone()).collect();
    let mut ms = model_candidate_scores(ctx, &wins, centre)?;
    let mut bs: Vec<[f64; 4]> = subs
        .iter()
        .map(|s| markov_candidate_scores(ctx, &s.window, centre))
        .collect();
    if ctx.opts.variant_both_strands && !subs.is_empty() {
        // the reverse complement's candidate for base b is the complement of b (BASES is
        // A C G T, so index 3 − b)
        let rc: Vec<Vec<u8>> = wins.iter().map(|w| revcomp(w)).collect();
        let rc_centre = subs[0].window.len() - 1 - centre;
        let rm = model_candidate_scores(ctx, &rc, rc_centre)?;
        for ((m, b), (r, w)) in ms.iter_mut().zip(&mut bs).zip(rm.iter().zip(&rc)) {
            let rb = markov_candidate_scores(ctx, w, rc_centre);
            for (i, (mi, bi)) in m.iter_mut().zip(b.iter_mut()).enumerate() {
                *mi += r[3 - i];
                *bi += rb[3 - i];
            }
        }
    }
    let mut llr = Vec::new();
    let mut base = Vec::new();
    for ((s, m), b) in subs.iter().zip(&ms).zip(&bs) {
        let (r, a) = (code(s.window[centre]), code(s.alt));
        llr.push(m[a] - m[r]);
        base.push(b[a] - b[r]);
    }
    let dist = embedding_distances(ctx.model, subs, ctx.opts.batch_size)?;
    Ok((llr, dist, base))
}

/// Euclidean distance between the mean-pooled `body` activations of ref and alt windows.
pub fn embedding_distances(
    model: &GenomicModel,
    subs: &[Substitution],
    batch_size: usize,
) -> Result<Vec<f64>> {
    let tok = model.config().tokenizer()?;
    let mut rows = Vec::with_capacity(2 * subs.len());
    for s in subs {
        let mut alt = s.window.clone();
        alt[s.centre] = s.alt;
        rows.push(tok.encode(&s.window));
        rows.push(tok.encode(&alt));
    }
    // ref and alt of `batch_size / 2` substitutions per forward pass
    let pairs_per_pass = (batch_size / 2).max(1);
    let pooled = pooled_states(model, &rows, "body", &RowOptions::batch(2 * pairs_per_pass))?;
    let out = pooled
        .chunks(2)
        .map(|pair| {
            pair[0]
                .iter()
                .zip(&pair[1])
                .map(|(a, b)| ((a - b) as f64).powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    Ok(out)
}

/// A substitution sampled inside a CDS.
#[derive(Debug, Clone, PartialEq)]
pub struct CdsSubstitution {
    /// The substitution (forward-strand window).
    pub sub: Substitution,
    /// Its consequence.
    pub consequence: Consequence,
    /// Contig index and 0-based position.
    pub at: (usize, usize),
    /// Reference and alternative amino acids (one-letter, `*` for stop).
    pub aa: (u8, u8),
    /// Position of the substituted base in its codon (0, 1 or 2, in the CDS's orientation).
    pub codon_position: usize,
}

/// Random substitutions in single-frame CDS positions of genome `g`, with consequences.
pub fn sample_cds_substitutions(
    ctx: &BenchContext,
    g: usize,
    n: usize,
    flank: usize,
    seed: u64,
) -> Result<Vec<CdsSubstitution>> {
    let genome = &ctx.corpus.genomes[g];
    let gc = GeneticCode::new(genome.meta.genetic_code)?;
    let opts = genome.track_options();
    let mut cand: Vec<(usize, usize)> = Vec::new(); // (contig, pos)
    let mut tracks = Vec::new();
    for (ci, c) in genome.contigs.iter().enumerate() {
        let t = match c.tracks(&opts) {
            Some(t) => Some(t?),
            None => None,
        };
        if let Some(t) = &t {
            for i in flank..c.seq.len().saturating_sub(flank + 2) {
                if t.single_frame(i).is_some() {
                    cand.push((ci, i));
                }
            }
        }
        tracks.push(t);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    cand.shuffle(&mut rng);
    let mut out = Vec::new();
    for (ci, i) in cand {
        if out.len() >= n {
            break;
        }
        let seq = &genome.contigs[ci].seq;
        let win = seq[i - flank..=i + flank].to_ascii_uppercase();
        if win.iter().any(|&b| code(b) == 4) {
            continue;
        }
        let (strand, p) = tracks[ci]
            .as_ref()
            .and_then(|t| t.single_frame(i))
            .expect("candidates are single-frame CDS positions");
        let (codon, pos_in_codon, alt_fw) = {
            let alts: Vec<u8> = BASES.iter().copied().filter(|&b| b != win[flank]).collect();
            let alt = alts[rng.random_range(0..3)];
            match strand {
                Strand::Forward => (seq[i - p..i - p + 3].to_ascii_uppercase(), p, alt),
                Strand::Reverse => {
                    // codon position p sits at forward i; the codon spans i+p-2 ..= i+p
                    if i + p < 2 || i + p >= seq.len() {
                        continue;
                    }
                    (
                        revcomp(&seq[i + p - 2..=i + p]).to_ascii_uppercase(),
                        p,
                        alt,
                    )
                }
            }
        };
        let alt_on_cds = match strand {
            Strand::Forward => alt_fw,
            Strand::Reverse => revcomp(&[alt_fw])[0],
        };
        let Some(cons) = consequence(&gc, &codon, pos_in_codon, alt_on_cds) else {
            continue;
        };
        let mut alt_codon = codon.clone();
        alt_codon[pos_in_codon] = alt_on_cds;
        out.push(CdsSubstitution {
            sub: Substitution {
                name: format!("{}:{}", genome.contigs[ci].name, i + 1),
                window: win,
                centre: flank,
                alt: alt_fw,
            },
            consequence: cons,
            at: (ci, i),
            aa: (gc.translate_codon(&codon), gc.translate_codon(&alt_codon)),
            codon_position: pos_in_codon,
        });
    }
    Ok(out)
}

/// The task: one row per held-out annotated genome.
pub fn run(ctx: &BenchContext) -> Result<Outcome> {
    if let Some(skip) = ctx.base_prediction_skip() {
        return Ok(skip);
    }
    let mut rows = Vec::new();
    for (gi, g) in ctx.annotated_held_out().into_iter().enumerate() {
        let t0 = Instant::now();
        let subs = sample_cds_substitutions(
            ctx,
            g,
            ctx.opts.variants_per_genome,
            ctx.opts.variant_flank,
            ctx.opts.seed + gi as u64,
        )?;
        let nonsyn: Vec<bool> = subs
            .iter()
            .map(|s| s.consequence != Consequence::Synonymous)
            .collect();
        let n_syn = nonsyn.iter().filter(|&&x| !x).count();
        if subs.len() < 10 || n_syn == 0 || n_syn == subs.len() {
            continue;
        }
        let only: Vec<Substitution> = subs.iter().map(|s| s.sub.clone()).collect();
        let (llr, dist, base) = score_substitutions(ctx, &only)?;
        let neg = |x: &[f64]| x.iter().map(|&v| -v as f32).collect::<Vec<f32>>();
        let auc = |x: &[f32], lab: &[bool]| auroc_test(x, lab).0;
        let main_m = auc(&neg(&llr), &nonsyn);
        let main_b = auc(&neg(&base), &nonsyn);
        let dist32: Vec<f32> = dist.iter().map(|&v| v as f32).collect();
        // nonsense vs missense
        let idx: Vec<usize> = (0..subs.len())
            .filter(|&i| subs[i].consequence != Consequence::Synonymous)
            .collect();
        let lab: Vec<bool> = idx
            .iter()
            .map(|&i| subs[i].consequence == Consequence::Nonsense)
            .collect();
        let nn = lab.iter().filter(|&&x| x).count();
        let (nm, nb) = if nn > 0 && nn < lab.len() {
            let pick = |x: &[f64]| idx.iter().map(|&i| -x[i] as f32).collect::<Vec<f32>>();
            (auc(&pick(&llr), &lab), auc(&pick(&base), &lab))
        } else {
            (f64::NAN, f64::NAN)
        };
        // nonsense vs synonymous (the sharpest contrast), and every score with the Markov
        // chain's LLR subtracted: what the model knows beyond local base composition
        // `third`: only substitutions at codon position 3, where synonymous and missense changes
        // share a site class (elsewhere the two differ in how predictable the site is)
        let pair_at = |x: &[f64], a: Consequence, b: Consequence, third: bool| {
            let idx: Vec<usize> = (0..subs.len())
                .filter(|&i| subs[i].consequence == a || subs[i].consequence == b)
                .filter(|&i| !third || subs[i].codon_position == 2)
                .collect();
            let lab: Vec<bool> = idx.iter().map(|&i| subs[i].consequence == a).collect();
            let n = lab.iter().filter(|&&v| v).count();
            if n == 0 || n == lab.len() {
                return f64::NAN;
            }
            auc(
                &idx.iter().map(|&i| -x[i] as f32).collect::<Vec<f32>>(),
                &lab,
            )
        };
        let pair = |x: &[f64], a: Consequence, b: Consequence| pair_at(x, a, b, false);
        let adjusted: Vec<f64> = llr.iter().zip(&base).map(|(m, b)| m - b).collect();
        let (ns, sy, mi) = (
            Consequence::Nonsense,
            Consequence::Synonymous,
            Consequence::Missense,
        );
        let count = |c: Consequence| subs.iter().filter(|s| s.consequence == c).count() as f64;
        rows.push(BenchRow {
            task: "variants".into(),
            dataset: ctx.id(g),
            metric: "auroc_nonsyn_vs_syn".into(),
            value: main_m,
            baseline: main_b,
            baseline_name: format!("Markov order {} LLR", ctx.markov.order),
            higher_is_better: true,
            n: subs.len(),
            genomes: vec![ctx.id(g)],
            extra: vec![
                ("auroc_nonsense_vs_missense".into(), nm, nb),
                (
                    "auroc_nonsense_vs_synonymous".into(),
                    pair(&llr, ns, sy),
                    pair(&base, ns, sy),
                ),
                (
                    "auroc_missense_vs_synonymous".into(),
                    pair(&llr, mi, sy),
                    pair(&base, mi, sy),
                ),
                (
                    "auroc_missense_vs_synonymous_codon_position_3".into(),
                    pair_at(&llr, mi, sy, true),
                    pair_at(&base, mi, sy, true),
                ),
                (
                    "auroc_nonsyn_vs_syn_markov_adjusted".into(),
                    auc(&neg(&adjusted), &nonsyn),
                    f64::NAN,
                ),
                (
                    "auroc_nonsense_vs_synonymous_markov_adjusted".into(),
                    pair(&adjusted, ns, sy),
                    f64::NAN,
                ),
                (
                    "auroc_embedding_distance".into(),
                    auc(&dist32, &nonsyn),
                    f64::NAN,
                ),
                (
                    "n_synonymous".into(),
                    count(Consequence::Synonymous),
                    f64::NAN,
                ),
                ("n_missense".into(), count(Consequence::Missense), f64::NAN),
                ("n_nonsense".into(), count(Consequence::Nonsense), f64::NAN),
            ],
            seconds: t0.elapsed().as_secs_f64(),
            more_baselines: Vec::new(),
        });
    }
    Ok(Outcome::from_rows(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consequences_by_hand() {
        let g = GeneticCode::standard();
        // CTT (Leu) → CTC (Leu): synonymous; → CAT (His): missense; TGG (Trp) → TAG: nonsense
        assert_eq!(
            consequence(&g, b"CTT", 2, b'C'),
            Some(Consequence::Synonymous)
        );
        assert_eq!(
            consequence(&g, b"CTT", 1, b'A'),
            Some(Consequence::Missense)
        );
        assert_eq!(
            consequence(&g, b"TGG", 1, b'A'),
            Some(Consequence::Nonsense)
        );
        assert_eq!(consequence(&g, b"TAA", 0, b'C'), None); // stop-lost is not scored
                                                            // table 4: TGA is Trp
        let m = GeneticCode::new(4).unwrap();
        assert_eq!(
            consequence(&m, b"TGG", 2, b'A'),
            Some(Consequence::Synonymous)
        );
    }
}
