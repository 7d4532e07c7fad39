//! **Genome conservation**: across the strains of one species, a position of a held-out strain
//! is *conserved* when the 16-mer centred on it occurs (either strand) in every other strain of
//! the species in the corpus, and *variable* otherwise. The model's per-token loss (on the
//! token whose last base is the position) is compared between the classes: mean loss of each,
//! and the AUROC of loss as a detector of variable positions — for the model and the Markov
//! baseline on the same tokens. Needs a species with at least two genomes, one held out.

use std::collections::HashSet;
use std::time::Instant;

use super::markov::code;
use super::score::score_sequences;
use super::{BenchContext, BenchRow, Outcome};
use crate::stats::auroc_test;
use crate::Result;

/// k-mer length of the conservation test.
pub const K: usize = 16;

/// Every clean 16-mer of `seq` as `(index of its last base, canonical 2-bit code)`: the smaller
/// of the k-mer and its reverse complement. k-mers with an ambiguous base are skipped.
fn canonical_kmers(seq: &[u8]) -> impl Iterator<Item = (usize, u32)> + '_ {
    let (mut fw, mut rc, mut clean) = (0u32, 0u32, 0usize);
    seq.iter().enumerate().filter_map(move |(i, &b)| {
        let c = code(b);
        if c == 4 {
            clean = 0;
            return None;
        }
        fw = (fw << 2) | c as u32; // 16 bases fill the 32 bits exactly
        rc = (rc >> 2) | (((3 - c) as u32) << (2 * (K - 1)));
        clean += 1;
        (clean >= K).then(|| (i, fw.min(rc)))
    })
}

/// Per-base labels of `seq`: `Some(true)` variable, `Some(false)` conserved, `None` where no
/// clean 16-mer is centred on the base.
pub fn conservation_labels(seq: &[u8], others: &[HashSet<u32>]) -> Vec<Option<bool>> {
    let mut out = vec![None; seq.len()];
    for (i, kmer) in canonical_kmers(seq) {
        let centre = i + 1 - K + K / 2;
        out[centre] = Some(!others.iter().all(|s| s.contains(&kmer)));
    }
    out
}

/// The task: one row per held-out genome of a species with other strains in the corpus.
pub fn run(ctx: &BenchContext) -> Result<Outcome> {
    let mut rows = Vec::new();
    for &g in &ctx.held_out {
        let sp = ctx.corpus.genomes[g].meta.species.clone();
        let others: Vec<usize> = (0..ctx.corpus.genomes.len())
            .filter(|&o| o != g && ctx.corpus.genomes[o].meta.species == sp)
            .collect();
        if others.is_empty() {
            continue;
        }
        let t0 = Instant::now();
        let sets: Vec<HashSet<u32>> = others
            .iter()
            .map(|&o| {
                ctx.corpus.genomes[o]
                    .contigs
                    .iter()
                    .flat_map(|c| canonical_kmers(&c.seq).map(|(_, k)| k))
                    .collect::<HashSet<u32>>()
            })
            .collect();
        let genome = &ctx.corpus.genomes[g];
        let labels: Vec<Vec<Option<bool>>> = genome
            .contigs
            .iter()
            .map(|c| conservation_labels(&c.seq, &sets))
            .collect();
        let (mut lm, mut lb, mut var) = (Vec::new(), Vec::new(), Vec::new());
        let chunks = ctx.chunks(g);
        let seqs: Vec<&[u8]> = chunks.iter().map(|c| c.3.as_slice()).collect();
        for ((_, ci, start, _), scores) in chunks.iter().zip(score_sequences(ctx, &seqs)?) {
            let (ci, start) = (*ci, *start);
            for p in scores {
                if let Some(Some(v)) = labels[ci].get(start + p.last_base) {
                    lm.push(-p.model_logp);
                    lb.push(-p.markov_logp);
                    var.push(*v);
                }
            }
        }
        let nv = var.iter().filter(|&&v| v).count();
        if nv == 0 || nv == var.len() {
            continue;
        }
        let mean = |x: &[f64], want: bool| {
            let s: Vec<f64> = x
                .iter()
                .zip(&var)
                .filter(|(_, &v)| v == want)
                .map(|(a, _)| *a)
                .collect();
            s.iter().sum::<f64>() / s.len() as f64
        };
        let f32s = |x: &[f64]| x.iter().map(|&v| v as f32).collect::<Vec<f32>>();
        let (am, pm) = auroc_test(&f32s(&lm), &var);
        let (ab, pb) = auroc_test(&f32s(&lb), &var);
        let mut ids = vec![ctx.id(g)];
        ids.extend(others.iter().map(|&o| ctx.id(o)));
        rows.push(BenchRow {
            task: "conservation".into(),
            dataset: ctx.id(g),
            metric: "auroc_loss_variable".into(),
            value: am,
            baseline: ab,
            baseline_name: format!("Markov order {}", ctx.markov.order),
            higher_is_better: true,
            n: var.len(),
            genomes: ids,
            extra: vec![
                ("loss_conserved".into(), mean(&lm, false), mean(&lb, false)),
                ("loss_variable".into(), mean(&lm, true), mean(&lb, true)),
                (
                    "loss_gap".into(),
                    mean(&lm, true) - mean(&lm, false),
                    mean(&lb, true) - mean(&lb, false),
                ),
                (
                    "fraction_variable".into(),
                    nv as f64 / var.len() as f64,
                    f64::NAN,
                ),
                ("p_mann_whitney".into(), pm, pb),
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
    fn a_snp_makes_the_centred_kmers_variable() {
        let a = b"ACGTTGCATGCATCGATCGGATCGATTACGATCGGCTAGCTAGGATCCATCG".to_vec();
        let mut b = a.clone();
        b[30] = if b[30] == b'A' { b'C' } else { b'A' };
        let s: HashSet<u32> = canonical_kmers(&b).map(|x| x.1).collect();
        let lab = conservation_labels(&a, &[s]);
        // the 16 k-mers containing base 30 are centred on 30-16+1+8 ..= 30+8
        for (i, l) in lab.iter().enumerate() {
            if let Some(v) = l {
                assert_eq!(*v, (23..=38).contains(&i), "position {i}");
            }
        }
        // a reverse-complemented strain is the same strain
        let rc = crate::data::alphabet::revcomp(&a);
        let s: HashSet<u32> = canonical_kmers(&rc).map(|x| x.1).collect();
        assert!(conservation_labels(&a, &[s]).iter().flatten().all(|v| !v));
    }
}
