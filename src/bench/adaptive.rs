//! **Adaptive transfer**: LM quality on the held-out genomes when the model keeps learning as
//! it reads each genome (dynamic evaluation, [`crate::infer::adaptive_token_scores`]), against
//! the order-k Markov chain that keeps counting as it reads
//! ([`AdaptiveMarkov`]). The same chunks and tokens as
//! `transfer`; each genome is read afresh from the model as trained (nothing learned on one
//! genome carries to the next). One row per held-out genome (`adaptive_genome`) and per
//! kingdom (`adaptive`); `extra` holds the fixed model's and the fixed chain's cross-entropy on
//! the same tokens (`fixed`) and what reading-while-learning gained each (`adaptation_gain`).
//!
//! Both scores are sequential codes (each token predicted from what was read before it), so
//! their cross-entropies compare as the fixed ones do. The chain reads each genome's chunks
//! one after another and learns from every base at once; the model reads them side by side and
//! learns every `adapt.window` tokens — the chain is the more up to date of the two.

use std::time::Instant;

use super::markov::AdaptiveMarkov;
use super::score::{lm_row, score_sequences, tally_blocks, PosScore, Tally};
use super::{BenchContext, Outcome, KINGDOMS};
use crate::infer::adaptive_token_scores;
use crate::models::Head;
use crate::Result;

/// The task.
pub fn run(ctx: &BenchContext) -> Result<Outcome> {
    if ctx.model.config().head != Head::Lm {
        return Ok(Outcome::Skipped(
            "dynamic evaluation needs a causal LM (this model is masked)".into(),
        ));
    }
    let mut rows = Vec::new();
    for k in KINGDOMS {
        let g = ctx.held_out_of(k);
        let t0 = Instant::now();
        let (mut adaptive, mut fixed) = (Tally::default(), Tally::default());
        for &gi in &g {
            let tg0 = Instant::now();
            let (a, f) = tally_genome(ctx, gi)?;
            if a.n > 0 {
                rows.push(row(
                    ctx,
                    "adaptive_genome",
                    ctx.id(gi),
                    &a,
                    &f,
                    vec![ctx.id(gi)],
                    tg0,
                ));
            }
            adaptive.merge(&a);
            fixed.merge(&f);
        }
        if adaptive.n > 0 {
            let ids = g.iter().map(|&i| ctx.id(i)).collect();
            rows.push(row(
                ctx,
                "adaptive",
                k.as_str().into(),
                &adaptive,
                &fixed,
                ids,
                t0,
            ));
        }
    }
    Ok(Outcome::from_rows(rows))
}

fn row(
    ctx: &BenchContext,
    task: &str,
    dataset: String,
    adaptive: &Tally,
    fixed: &Tally,
    genomes: Vec<String>,
    t0: Instant,
) -> super::BenchRow {
    let mut r = lm_row(
        ctx,
        task,
        dataset,
        adaptive,
        genomes,
        t0.elapsed().as_secs_f64(),
    );
    r.baseline_name = format!("Markov order {}, counting as it reads", ctx.markov.order);
    r.extra
        .push(("fixed".into(), fixed.model_ce(), fixed.markov_ce()));
    r.extra.push((
        "adaptation_gain".into(),
        fixed.model_ce() - adaptive.model_ce(),
        fixed.markov_ce() - adaptive.markov_ce(),
    ));
    r
}

/// One genome's chunks scored both ways: `(adaptive, fixed)` tallies over the same tokens.
pub fn tally_genome(ctx: &BenchContext, g: usize) -> Result<(Tally, Tally)> {
    let chunks = ctx.chunks(g);
    let up: Vec<Vec<u8>> = chunks.iter().map(|c| c.3.to_ascii_uppercase()).collect();
    let refs: Vec<&[u8]> = up.iter().map(|s| s.as_slice()).collect();
    let fixed = score_sequences(ctx, &refs)?;
    let learned = adaptive_token_scores(ctx.model, &refs, &ctx.opts.adapt)?;
    let (k, s) = (ctx.tok.k, ctx.tok.stride);
    let mut chain = AdaptiveMarkov::new(&ctx.markov);
    let block_len = ctx.opts.chunk_len.max(1);
    let (mut a, mut f) = (Tally::default(), Tally::default());
    for ((seq, fx), ad) in up.iter().zip(&fixed).zip(&learned) {
        // the chain reads every token of the chunk in order (learning from each); a token
        // enters the tallies when the fixed scoring paired it (both scorers could score it)
        // and the adaptive model scored it too
        let n_tok = ctx.tok.n_tokens(seq.len());
        let by_token: Vec<_> = (0..n_tok).map(|j| chain.read_token(seq, j, k, s)).collect();
        let mut learned_at = vec![None; n_tok];
        for (i, &j) in ad.index.iter().enumerate() {
            learned_at[j] = Some((ad.logp[i], ad.correct[i]));
        }
        let mut pairs = Vec::with_capacity(fx.len());
        for p in fx {
            let (Some((lp, ok)), Some((mlp, mok))) = (learned_at[p.token], by_token[p.token])
            else {
                continue;
            };
            pairs.push((
                *p,
                PosScore {
                    model_logp: lp as f64,
                    model_ok: ok,
                    markov_logp: mlp,
                    markov_ok: mok,
                    ..*p
                },
            ));
        }
        f.merge(&tally_blocks(pairs.iter().map(|x| x.0), block_len));
        a.merge(&tally_blocks(pairs.iter().map(|x| x.1), block_len));
    }
    Ok((a, f))
}
