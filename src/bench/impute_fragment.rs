//! **Imputation 2 (gene-sized fragments)**: remove `fragment_len` bases (a multiple of 3,
//! starting on a codon boundary) from inside an annotated CDS of a held-out genome, read on the
//! CDS's own strand, and fill them. A causal LM fills left to right from `fragment_context`
//! bases of left context with `fragment_decoder` ([`fill_gaps`]: the per-base consensus of 32
//! samples by default; greedy decoding and beam search collapse into homopolymers), each step
//! keeping the k-mer consistent with the bases already there; an MLM masks every token
//! touching the gap and fills it by iterative refinement from both flanks
//! (`fragment_refine`, [`refine_gaps`]: each round commits the still-masked bases nearest the
//! known ones and predicts the rest again; it also sees `fragment_context` bases to the right).
//! The Markov baseline fills from the same left context with the causal decoder. Metrics:
//! nucleotide identity (main), codon identity and amino-acid identity of the filled stretch
//! (translated with the genome's genetic code), and the longest homopolymer of the fills next
//! to the truth's.

use std::time::Instant;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::markov::{code, MarkovModel};
use super::{BenchContext, BenchRow, Outcome};
use crate::data::alphabet::revcomp;
use crate::data::annotation::Strand;
use crate::data::genetic_code::GeneticCode;
use crate::infer::{
    decode, fill_gaps, longest_run, refine_gaps, FillOptions, MaskedGap, NextBases, RefineOptions,
};
use crate::models::Head;
use crate::{Error, Result};

/// A gap to fill: oriented sequence (CDS reads forward), gap start and length.
#[derive(Debug, Clone, PartialEq)]
pub struct Gap {
    /// Where (`contig:start-end strand`).
    pub name: String,
    /// Left context, gap (true bases) and right context, on the CDS strand.
    pub seq: Vec<u8>,
    /// Gap start in `seq`.
    pub start: usize,
    /// Gap length.
    pub len: usize,
}

/// Identity metrics of a fill against the truth: nucleotides, codons, amino acids.
pub fn identities(fill: &[u8], truth: &[u8], code_table: &GeneticCode) -> (f64, f64, f64) {
    let n = truth.len().min(fill.len());
    let nt = (0..n).filter(|&i| fill[i] == truth[i]).count() as f64 / n.max(1) as f64;
    let codons: Vec<(&[u8], &[u8])> = fill.chunks_exact(3).zip(truth.chunks_exact(3)).collect();
    let c = codons.iter().filter(|(a, b)| a == b).count() as f64 / codons.len().max(1) as f64;
    let aa = codons
        .iter()
        .filter(|(a, b)| code_table.translate_codon(a) == code_table.translate_codon(b))
        .count() as f64
        / codons.len().max(1) as f64;
    (nt, c, aa)
}

/// Gaps in single-frame CDS stretches of genome `g` (both strands), seeded.
pub fn sample_gaps(
    ctx: &BenchContext,
    g: usize,
    n: usize,
    len: usize,
    context: usize,
    seed: u64,
) -> Result<Vec<Gap>> {
    let genome = &ctx.corpus.genomes[g];
    let opts = genome.track_options();
    let mut cands: Vec<Gap> = Vec::new();
    for c in &genome.contigs {
        let Some(t) = c.tracks(&opts) else { continue };
        let t = t?;
        let nlen = c.seq.len();
        for strand in [Strand::Forward, Strand::Reverse] {
            let other_strand = match strand {
                Strand::Forward => Strand::Reverse,
                Strand::Reverse => Strand::Forward,
            };
            // codon bits of this strand and of the other one, in this strand's orientation
            let oriented = |st: Strand| -> Vec<u8> {
                match strand {
                    Strand::Forward => (0..nlen).map(|i| t.strand_codon_bits(i, st)).collect(),
                    Strand::Reverse => (0..nlen)
                        .map(|r| t.strand_codon_bits(nlen - 1 - r, st))
                        .collect(),
                }
            };
            let (codon, other) = (oriented(strand), oriented(other_strand));
            let seq = match strand {
                Strand::Forward => c.seq.to_ascii_uppercase(),
                Strand::Reverse => revcomp(&c.seq).to_ascii_uppercase(),
            };
            let mut i = context;
            while i + len + context <= nlen {
                let ok = (0..len).all(|j| codon[i + j] == 1 << (j % 3) && other[i + j] == 0)
                    && seq[i - context..i + len + context]
                        .iter()
                        .all(|&b| code(b) < 4);
                if ok {
                    let (a, b) = if strand == Strand::Forward {
                        (i, i + len)
                    } else {
                        (nlen - i - len, nlen - i)
                    };
                    cands.push(Gap {
                        name: format!(
                            "{}:{}-{} {}",
                            c.name,
                            a + 1,
                            b,
                            if strand == Strand::Forward { '+' } else { '-' }
                        ),
                        seq: seq[i - context..i + len + context].to_vec(),
                        start: context,
                        len,
                    });
                    i += len + context; // non-overlapping
                } else {
                    i += 3;
                }
            }
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    cands.shuffle(&mut rng);
    cands.truncate(n);
    Ok(cands)
}

/// Fill gaps with the model (see the module docs).
pub fn model_fill(ctx: &BenchContext, gaps: &[Gap]) -> Result<Vec<Vec<u8>>> {
    let model = ctx.model;
    let tok = &ctx.tok;
    let (k, s) = (tok.k, tok.stride);
    if s > k {
        return Err(Error::Input("imputation needs stride ≤ k".into()));
    }
    if gaps.is_empty() {
        return Ok(Vec::new());
    }
    if model.config().head == Head::Mlm {
        let masked: Vec<MaskedGap> = gaps
            .iter()
            .map(|g| MaskedGap {
                seq: &g.seq,
                start: g.start,
                len: g.len,
            })
            .collect();
        return refine_gaps(
            model,
            &masked,
            &RefineOptions {
                seed: ctx.opts.seed,
                ..ctx.opts.fragment_refine.clone()
            },
        );
    }
    let left: Vec<Vec<u8>> = gaps.iter().map(|g| g.seq[..g.start].to_vec()).collect();
    let lens: Vec<usize> = gaps.iter().map(|g| g.len).collect();
    fill_gaps(
        model,
        &left,
        &lens,
        &FillOptions {
            decoder: ctx.opts.fragment_decoder,
            context: ctx.opts.fragment_context,
            seed: ctx.opts.seed,
            ..Default::default()
        },
    )
}

/// A Markov chain as a [`NextBases`] source (one base per step).
pub struct MarkovSteps<'a>(pub &'a MarkovModel);

impl NextBases for MarkovSteps<'_> {
    fn stride(&self) -> usize {
        1
    }
    fn start(&mut self, _: &[Vec<u8>]) -> Result<()> {
        Ok(())
    }
    fn next_logp(&self, rows: &[Vec<u8>]) -> Result<Vec<Vec<f64>>> {
        Ok(rows
            .iter()
            .map(|r| {
                self.0
                    .base_probs(r, r.len())
                    .iter()
                    .map(|p| p.max(1e-300).ln())
                    .collect()
            })
            .collect())
    }
    fn advance(&mut self, _: &[Vec<u8>], _: &[usize]) -> Result<()> {
        Ok(())
    }
}

/// The Markov chain's fills of `gaps` from the same left context, with the same decoder.
pub fn markov_fill(ctx: &BenchContext, gaps: &[Gap]) -> Result<Vec<Vec<u8>>> {
    let left: Vec<Vec<u8>> = gaps.iter().map(|g| g.seq[..g.start].to_vec()).collect();
    let lens: Vec<usize> = gaps.iter().map(|g| g.len).collect();
    decode(
        &mut MarkovSteps(&ctx.markov),
        &left,
        &lens,
        ctx.opts.fragment_decoder,
        ctx.opts.seed,
    )
}

/// The task: one row per held-out annotated genome.
pub fn run(ctx: &BenchContext) -> Result<Outcome> {
    if let Some(skip) = ctx.base_prediction_skip() {
        return Ok(skip);
    }
    let mut rows = Vec::new();
    let len = ctx.opts.fragment_len / 3 * 3;
    if len == 0 {
        return Err(Error::Config("fragment_len must be at least 3".into()));
    }
    if ctx.model.config().head == Head::Lm && !crate::infer::carries_state(ctx.model) {
        ctx.log(
            "impute_fragment: this model re-reads its left context for every generated base \
             (no state carried from base to base), which is slow on a CPU with the default \
             32-sample decoder; leave the task out (--tasks) or set a cheaper fragment_decoder",
        );
    }
    for (gi, g) in ctx.annotated_held_out().into_iter().enumerate() {
        let t0 = Instant::now();
        let gaps = sample_gaps(
            ctx,
            g,
            ctx.opts.fragments,
            len,
            ctx.opts.fragment_context,
            ctx.opts.seed + gi as u64,
        )?;
        if gaps.is_empty() {
            continue;
        }
        let gc = GeneticCode::new(ctx.corpus.genomes[g].meta.genetic_code)?;
        let fills = model_fill(ctx, &gaps)?;
        let markov = markov_fill(ctx, &gaps)?;
        let (mut m, mut b) = ([0f64; 4], [0f64; 4]);
        let mut truth_run = 0.0;
        for ((gap, fill), mf) in gaps.iter().zip(&fills).zip(&markov) {
            let truth = &gap.seq[gap.start..gap.start + gap.len];
            let im = identities(fill, truth, &gc);
            let ib = identities(mf, truth, &gc);
            let rm = longest_run(fill) as f64;
            let rb = longest_run(mf) as f64;
            for (acc, v) in m.iter_mut().zip([im.0, im.1, im.2, rm]) {
                *acc += v;
            }
            for (acc, v) in b.iter_mut().zip([ib.0, ib.1, ib.2, rb]) {
                *acc += v;
            }
            truth_run += longest_run(truth) as f64;
        }
        let n = gaps.len() as f64;
        rows.push(BenchRow {
            task: "impute_fragment".into(),
            dataset: ctx.id(g),
            metric: "nucleotide_identity".into(),
            value: m[0] / n,
            baseline: b[0] / n,
            baseline_name: format!("Markov order {}", ctx.markov.order),
            higher_is_better: true,
            n: gaps.len(),
            genomes: vec![ctx.id(g)],
            extra: vec![
                ("codon_identity".into(), m[1] / n, b[1] / n),
                ("aa_identity".into(), m[2] / n, b[2] / n),
                ("longest_homopolymer".into(), m[3] / n, b[3] / n),
                (
                    "truth_longest_homopolymer".into(),
                    truth_run / n,
                    truth_run / n,
                ),
                ("gap_len".into(), len as f64, len as f64),
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
    fn identities_by_hand() {
        let g = GeneticCode::standard();
        // truth CTT GGA; fill CTC GGA: 5/6 nt, 1/2 codons, 2/2 amino acids (CTC is Leu too)
        let (nt, c, aa) = identities(b"CTCGGA", b"CTTGGA", &g);
        assert!((nt - 5.0 / 6.0).abs() < 1e-12);
        assert!((c - 0.5).abs() < 1e-12);
        assert!((aa - 1.0).abs() < 1e-12);
    }
}
