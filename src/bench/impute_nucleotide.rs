//! **Imputation 1 (single nucleotides)**: hide one base in the middle of a window of
//! `2·flank + 1` clean bases of a held-out genome and predict it. A causal LM scores the four
//! candidates by the log-likelihood of the whole window; an MLM masks every token covering the
//! base and sums the log-probabilities those masked tokens give each candidate. The Markov
//! baseline scores each candidate by the likelihood of the bases it influences (the base and the
//! `order` bases after it) inside the same window. Metrics: accuracy, and the log-loss of the
//! true base under the normalised four-way posterior.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::markov::{argmax4, code};
use super::score::{markov_candidate_scores, model_candidate_scores};
use super::{BenchContext, BenchRow, Outcome, KINGDOMS};
use crate::Result;

/// `−ln` of the softmax of `scores` at `truth`.
pub fn posterior_nll(scores: &[f64; 4], truth: usize) -> f64 {
    let mx = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let z: f64 = scores.iter().map(|s| (s - mx).exp()).sum();
    -(scores[truth] - mx - z.ln())
}

/// Clean windows of `2·flank + 1` bases at random positions of the genomes (seeded), with
/// their genome id.
pub fn sample_windows(
    ctx: &BenchContext,
    genomes: &[usize],
    n: usize,
    flank: usize,
    seed: u64,
) -> Vec<(usize, Vec<u8>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let w = 2 * flank + 1;
    let contigs: Vec<(usize, &[u8])> = genomes
        .iter()
        .flat_map(|&g| {
            ctx.corpus.genomes[g]
                .contigs
                .iter()
                .map(move |c| (g, c.seq.as_slice()))
        })
        .filter(|(_, s)| s.len() >= w)
        .collect();
    let total: usize = contigs.iter().map(|c| c.1.len() - w + 1).sum();
    let mut out = Vec::new();
    let mut tries = 0;
    while out.len() < n && total > 0 && tries < n * 50 {
        tries += 1;
        let mut r = rng.random_range(0..total);
        for &(g, s) in &contigs {
            let span = s.len() - w + 1;
            if r < span {
                let win = s[r..r + w].to_ascii_uppercase();
                if win.iter().all(|&b| code(b) < 4) {
                    out.push((g, win));
                }
                break;
            }
            r -= span;
        }
    }
    out
}

/// The task: one row per kingdom.
pub fn run(ctx: &BenchContext) -> Result<Outcome> {
    if let Some(skip) = ctx.base_prediction_skip() {
        return Ok(skip);
    }
    let mut rows = Vec::new();
    let f = ctx.opts.impute_flank;
    for (ki, k) in KINGDOMS.into_iter().enumerate() {
        let g = ctx.held_out_of(k);
        if g.is_empty() {
            continue;
        }
        let t0 = Instant::now();
        let wins = sample_windows(
            ctx,
            &g,
            ctx.opts.impute_positions,
            f,
            ctx.opts.seed + ki as u64,
        );
        if wins.is_empty() {
            continue;
        }
        let seqs: Vec<Vec<u8>> = wins.iter().map(|w| w.1.clone()).collect();
        let ms = model_candidate_scores(ctx, &seqs, f)?;
        let (mut ok_m, mut ok_b, mut nll_m, mut nll_b) = (0usize, 0usize, 0f64, 0f64);
        for (w, sm) in seqs.iter().zip(&ms) {
            let truth = code(w[f]);
            let sb = markov_candidate_scores(ctx, w, f);
            ok_m += (argmax4(sm) == truth) as usize;
            ok_b += (argmax4(&sb) == truth) as usize;
            nll_m += posterior_nll(sm, truth);
            nll_b += posterior_nll(&sb, truth);
        }
        let n = seqs.len() as f64;
        rows.push(BenchRow {
            task: "impute_nucleotide".into(),
            dataset: k.as_str().into(),
            metric: "accuracy".into(),
            value: ok_m as f64 / n,
            baseline: ok_b as f64 / n,
            baseline_name: format!("Markov order {}", ctx.markov.order),
            higher_is_better: true,
            n: seqs.len(),
            genomes: g.iter().map(|&i| ctx.id(i)).collect(),
            extra: vec![("log_loss".into(), nll_m / n, nll_b / n)],
            seconds: t0.elapsed().as_secs_f64(),
            more_baselines: Vec::new(),
        });
    }
    Ok(Outcome::from_rows(rows))
}

#[cfg(test)]
mod tests {
    use super::posterior_nll;

    #[test]
    fn posterior_nll_by_hand() {
        // equal scores: −ln(1/4)
        assert!((posterior_nll(&[0.0; 4], 2) - 4f64.ln()).abs() < 1e-12);
        // scores ln 1, ln 2, ln 3, ln 4 → p(truth=3) = 4/10
        let s = [1f64.ln(), 2f64.ln(), 3f64.ln(), 4f64.ln()];
        assert!((posterior_nll(&s, 3) - (10f64 / 4.0).ln()).abs() < 1e-12);
    }
}
