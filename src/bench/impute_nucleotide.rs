//! **Imputation 1 (single nucleotides)**: hide one base in the middle of a window of
//! `2·flank + 1` clean bases of a held-out genome and predict it. A causal LM scores the four
//! candidates by the log-likelihood of the whole window; an MLM masks every token covering the
//! base and sums the log-probabilities those masked tokens give each candidate. The Markov
//! baseline scores each candidate by the likelihood of the bases it influences (the base and the
//! `order` bases after it) inside the same window. Metrics: accuracy, and the log-loss of the
//! true base under the normalised four-way posterior.

use std::time::Instant;

use candle_core::{DType, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::markov::{argmax4, code, BASES};
use super::{BenchContext, BenchRow, KINGDOMS};
use crate::data::tokenize::Special;
use crate::explain::attribution::{score_ids, Objective};
use crate::models::{layers, Head, Mode};
use crate::{Error, Result};

/// Model scores of the four bases at `centre` of each window (higher = more likely; the same
/// up to a constant per window).
pub fn model_candidate_scores(
    ctx: &BenchContext,
    windows: &[Vec<u8>],
    centre: usize,
) -> Result<Vec<[f64; 4]>> {
    let model = ctx.model;
    let tok = &ctx.tok;
    let (k, s) = (tok.k, tok.stride);
    let mut out = Vec::with_capacity(windows.len());
    let bs = ctx.opts.batch_size.max(4);
    if model.config().head == Head::Mlm {
        let covering: Vec<usize> = (0..tok.n_tokens(windows.first().map(|w| w.len()).unwrap_or(0)))
            .filter(|&j| j * s <= centre && centre < j * s + k)
            .collect();
        if covering.is_empty() {
            return Err(Error::Input(
                "no token covers the imputed base (stride > k?)".into(),
            ));
        }
        for batch in windows.chunks(bs) {
            let mut ids = Vec::new();
            for w in batch {
                let mut x = tok.encode(w);
                for &j in &covering {
                    x[j] = Special::Mask as u32;
                }
                ids.push(x);
            }
            let t = ids[0].len();
            let x = Tensor::from_vec(ids.concat(), (batch.len(), t), model.device())?;
            let lp = layers::log_softmax(
                &model
                    .forward(&x, None, Mode::Eval)?
                    .logits
                    .to_dtype(DType::F32)?,
            )?
            .to_vec3::<f32>()?;
            for (bi, w) in batch.iter().enumerate() {
                let mut sc = [0f64; 4];
                for (b, scb) in sc.iter_mut().enumerate() {
                    let mut cand = w.clone();
                    cand[centre] = BASES[b];
                    for &j in &covering {
                        let id = tok.encode(&cand[j * s..j * s + k])[0] as usize;
                        *scb += lp[bi][j][id] as f64;
                    }
                }
                out.push(sc);
            }
        }
    } else {
        let per = (bs / 4).max(1);
        for batch in windows.chunks(per) {
            let mut ids = Vec::new();
            for w in batch {
                for b in BASES {
                    let mut cand = w.clone();
                    cand[centre] = b;
                    ids.push(tok.encode(&cand));
                }
            }
            let t = ids[0].len();
            let x = Tensor::from_vec(ids.concat(), (batch.len() * 4, t), model.device())?;
            let ll = score_ids(model, &x, Objective::LogLikelihood)?;
            for c in ll.chunks(4) {
                out.push([c[0], c[1], c[2], c[3]]);
            }
        }
    }
    Ok(out)
}

/// Markov scores of the four bases at `centre` of a window.
pub fn markov_candidate_scores(ctx: &BenchContext, w: &[u8], centre: usize) -> [f64; 4] {
    let m = &ctx.markov;
    let end = (centre + m.order + 1).min(w.len());
    let mut sc = [0f64; 4];
    let mut cand = w.to_vec();
    for (b, scb) in sc.iter_mut().enumerate() {
        cand[centre] = BASES[b];
        *scb = m.span_logp(&cand, centre, end);
    }
    sc
}

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
pub fn run(ctx: &BenchContext) -> Result<Vec<BenchRow>> {
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
        });
    }
    Ok(rows)
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
