//! What the tasks share: scoring with the model and the Markov baseline side by side. The
//! two score exactly the same tokens (a token is counted only when both can score it):
//! genomes with context ([`score_sequence`], [`tally_genomes`]), reads alone ([`score_reads`],
//! [`tally_reads`]), the four candidate bases of a position ([`model_candidate_scores`],
//! [`markov_candidate_scores`]), and the LM-quality row ([`lm_row`]). Every model call goes
//! through [`crate::infer`].

use super::markov::{MarkovModel, BASES};
use super::{BenchContext, BenchRow};
use crate::data::tokenize::{informed_random_loss, Special};
use crate::infer::{
    mlm_masked, predict_rows, score_row, score_rows, token_scores_many, Objective, RowOptions,
};
use crate::models::Head;
use crate::{Error, Result};

/// One token scored by the model and the baseline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PosScore {
    /// Token index.
    pub token: usize,
    /// Last base the token covers (index into the scored sequence).
    pub last_base: usize,
    /// Model `ln p(token)`.
    pub model_logp: f64,
    /// Model arg-max right?
    pub model_ok: bool,
    /// Markov `ln p(new bases)`.
    pub markov_logp: f64,
    /// Markov greedy prediction right?
    pub markov_ok: bool,
}

/// Sums of scores over tokens, and over blocks of tokens the moments that give the standard
/// error of the skill (Markov − model cross-entropy): scores of neighbouring tokens are
/// correlated and held-out genomes vary along their length (a region close to a training
/// genome, a strain-specific island), so the error is estimated between blocks of
/// [`BenchOptions::chunk_len`](super::BenchOptions::chunk_len) bases, not between tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tally {
    /// Tokens.
    pub n: usize,
    /// Σ −ln p, model.
    pub model_nll: f64,
    /// Correct arg-max, model.
    pub model_ok: usize,
    /// Σ −ln p, Markov.
    pub markov_nll: f64,
    /// Correct, Markov.
    pub markov_ok: usize,
    /// Blocks folded in by [`add_block`](Self::add_block).
    pub blocks: usize,
    /// Σ over blocks of `d²`, `d·n` and `n²`, where `d` is the block's Markov − model
    /// negative log-likelihood and `n` its tokens.
    pub block_moments: [f64; 3],
}

impl Tally {
    /// Add another tally (the tokens of more genomes).
    pub fn merge(&mut self, o: &Tally) {
        self.n += o.n;
        self.model_nll += o.model_nll;
        self.model_ok += o.model_ok;
        self.markov_nll += o.markov_nll;
        self.markov_ok += o.markov_ok;
        self.blocks += o.blocks;
        for (a, b) in self.block_moments.iter_mut().zip(o.block_moments) {
            *a += b;
        }
    }

    /// Add a block of tokens (its sums, and its moments for [`skill_se`](Self::skill_se)).
    pub fn add_block(&mut self, b: &Tally) {
        if b.n == 0 {
            return;
        }
        let (d, n) = (b.markov_nll - b.model_nll, b.n as f64);
        self.merge(&Tally {
            blocks: 1,
            block_moments: [d * d, d * n, n * n],
            ..*b
        });
    }

    /// Skill: Markov − model cross-entropy (nats per token).
    pub fn skill(&self) -> f64 {
        self.markov_ce() - self.model_ce()
    }

    /// Standard error of [`skill`](Self::skill) between blocks (the ratio estimator's: √(Σ (d −
    /// skill·n)² / (B (B − 1))) / n̄ over `B` blocks); NaN with fewer than five blocks (a
    /// 5.4-kb phage is two blocks: their spread says nothing).
    pub fn skill_se(&self) -> f64 {
        let b = self.blocks as f64;
        if self.blocks < 5 || self.n == 0 {
            return f64::NAN;
        }
        let r = self.skill();
        let [d2, dn, n2] = self.block_moments;
        let ss = (d2 - 2.0 * r * dn + r * r * n2).max(0.0);
        let nbar = self.n as f64 / b;
        (ss / (b * (b - 1.0))).sqrt() / nbar
    }

    /// Add one token.
    pub fn add(&mut self, p: &PosScore) {
        self.n += 1;
        self.model_nll -= p.model_logp;
        self.model_ok += p.model_ok as usize;
        self.markov_nll -= p.markov_logp;
        self.markov_ok += p.markov_ok as usize;
    }
    /// Model cross-entropy (nats per token).
    pub fn model_ce(&self) -> f64 {
        self.model_nll / self.n.max(1) as f64
    }
    /// Markov cross-entropy.
    pub fn markov_ce(&self) -> f64 {
        self.markov_nll / self.n.max(1) as f64
    }
    /// Model accuracy.
    pub fn model_acc(&self) -> f64 {
        self.model_ok as f64 / self.n.max(1) as f64
    }
    /// Markov accuracy.
    pub fn markov_acc(&self) -> f64 {
        self.markov_ok as f64 / self.n.max(1) as f64
    }
}

fn pair(
    markov: &MarkovModel,
    seq: &[u8],
    k: usize,
    s: usize,
    j: usize,
    lp: f32,
    ok: bool,
) -> Option<PosScore> {
    let (mlp, mok) = markov.token_logp(seq, j, k, s)?;
    Some(PosScore {
        token: j,
        last_base: j * s + k - 1,
        model_logp: lp as f64,
        model_ok: ok,
        markov_logp: mlp,
        markov_ok: mok,
    })
}

/// Score one (long) sequence with the prediction core (windows with context, LSTM state
/// carried) and the baseline.
pub fn score_sequence(ctx: &BenchContext, seq: &[u8]) -> Result<Vec<PosScore>> {
    Ok(score_sequences(ctx, &[seq])?.pop().unwrap_or_default())
}

/// [`score_sequence`] of several sequences (the chunks of a genome), read in shared batches.
pub fn score_sequences(ctx: &BenchContext, seqs: &[&[u8]]) -> Result<Vec<Vec<PosScore>>> {
    let up: Vec<Vec<u8>> = seqs.iter().map(|s| s.to_ascii_uppercase()).collect();
    let refs: Vec<&[u8]> = up.iter().map(|s| s.as_slice()).collect();
    let all = token_scores_many(ctx.model, &refs, &ctx.predict_options())?;
    let (k, s) = (ctx.tok.k, ctx.tok.stride);
    Ok(all
        .iter()
        .zip(&up)
        .map(|(ts, up)| {
            (0..ts.len())
                .filter_map(|i| {
                    pair(
                        &ctx.markov,
                        up,
                        k,
                        s,
                        ts.index[i],
                        ts.logp[i],
                        ts.correct[i],
                    )
                })
                .collect()
        })
        .collect())
}

/// Score short sequences (reads) independently, each with no context beyond itself, in
/// batches of equal length.
pub fn score_reads(ctx: &BenchContext, reads: &[Vec<u8>]) -> Result<Vec<Vec<PosScore>>> {
    let model = ctx.model;
    let mlm = model.config().head == Head::Mlm;
    let (k, s) = (ctx.tok.k, ctx.tok.stride);
    let mut out = vec![Vec::new(); reads.len()];
    // group by length
    let mut order: Vec<usize> = (0..reads.len()).collect();
    order.sort_by_key(|&i| reads[i].len());
    for group in order.chunk_by(|&a, &b| reads[a].len() == reads[b].len()) {
        for batch in group.chunks(ctx.opts.batch_size.max(1)) {
            let seqs: Vec<Vec<u8>> = batch
                .iter()
                .map(|&i| reads[i].to_ascii_uppercase())
                .collect();
            let ids: Vec<Vec<u32>> = seqs.iter().map(|x| ctx.tok.encode(x)).collect();
            let t = ids[0].len();
            if t < 2 {
                continue;
            }
            let masked: Vec<Vec<u32>>;
            let input: &[Vec<u32>] = if mlm {
                masked = ids.iter().map(|r| mlm_masked(r)).collect();
                &masked
            } else {
                &ids
            };
            let lp = predict_rows(model, input, &RowOptions::batch(input.len()))?;
            for (bi, &ri) in batch.iter().enumerate() {
                for (pos, row) in lp[bi].iter().enumerate() {
                    let Some((target, logp, ok)) = score_row(row, &ids[bi], pos, mlm) else {
                        continue;
                    };
                    if let Some(p) = pair(&ctx.markov, &seqs[bi], k, s, target, logp, ok) {
                        out[ri].push(p);
                    }
                }
            }
        }
    }
    Ok(out)
}

/// A benchmark row of LM quality from a tally.
pub fn lm_row(
    ctx: &BenchContext,
    task: &str,
    dataset: String,
    t: &Tally,
    genomes: Vec<String>,
    secs: f64,
) -> BenchRow {
    let ir = informed_random_loss(ctx.tok.stride);
    BenchRow {
        task: task.into(),
        dataset,
        metric: "cross_entropy".into(),
        value: t.model_ce(),
        baseline: t.markov_ce(),
        baseline_name: format!("Markov order {}", ctx.markov.order),
        higher_is_better: false,
        n: t.n,
        genomes,
        extra: vec![
            ("perplexity".into(), t.model_ce().exp(), t.markov_ce().exp()),
            ("accuracy".into(), t.model_acc(), t.markov_acc()),
            (
                "gain_over_random".into(),
                ir - t.model_ce(),
                ir - t.markov_ce(),
            ),
            ("informed_random".into(), ir, ir),
            ("skill_se".into(), t.skill_se(), f64::NAN),
        ],
        seconds: secs,
        more_baselines: Vec::new(),
    }
}

/// Score genomes (chunks) into a tally, in blocks of `chunk_len` bases for the standard error.
pub fn tally_genomes(ctx: &BenchContext, genomes: &[usize]) -> Result<Tally> {
    let block_len = ctx.opts.chunk_len.max(1);
    let mut t = Tally::default();
    for &g in genomes {
        let chunks = ctx.chunks(g);
        let seqs: Vec<&[u8]> = chunks.iter().map(|c| c.3.as_slice()).collect();
        for scores in score_sequences(ctx, &seqs)? {
            t.merge(&tally_blocks(scores, block_len));
        }
    }
    Ok(t)
}

/// The scores of one sequence's tokens (in order) as a tally of blocks of `block_len` bases
/// (by each token's last base), for the standard error.
pub fn tally_blocks(scores: impl IntoIterator<Item = PosScore>, block_len: usize) -> Tally {
    let mut t = Tally::default();
    let mut block = (0, Tally::default());
    for p in scores {
        let b = p.last_base / block_len.max(1);
        if b != block.0 {
            t.add_block(&block.1);
            block = (b, Tally::default());
        }
        block.1.add(&p);
    }
    t.add_block(&block.1);
    t
}

/// Score reads of genomes into a tally (a read is a block for the standard error).
pub fn tally_reads(ctx: &BenchContext, genomes: &[usize]) -> Result<Tally> {
    let reads: Vec<Vec<u8>> = ctx.reads(genomes)?.into_iter().map(|r| r.seq).collect();
    let mut t = Tally::default();
    for r in score_reads(ctx, &reads)? {
        let mut read = Tally::default();
        for p in &r {
            read.add(p);
        }
        t.add_block(&read);
    }
    Ok(t)
}

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
        let mut ids = Vec::with_capacity(windows.len());
        for w in windows {
            let mut x = tok.encode(w);
            for &j in &covering {
                x[j] = Special::Mask as u32;
            }
            ids.push(x);
        }
        let lp = predict_rows(model, &ids, &RowOptions::batch(bs))?;
        for (w, lp) in windows.iter().zip(&lp) {
            let mut sc = [0f64; 4];
            for (b, scb) in sc.iter_mut().enumerate() {
                let mut cand = w.clone();
                cand[centre] = BASES[b];
                for &j in &covering {
                    let id = tok.encode(&cand[j * s..j * s + k])[0] as usize;
                    *scb += lp[j][id] as f64;
                }
            }
            out.push(sc);
        }
    } else {
        // four candidates per window, `per` windows per forward pass
        let per = (bs / 4).max(1);
        let mut ids = Vec::with_capacity(windows.len() * 4);
        for w in windows {
            for b in BASES {
                let mut cand = w.clone();
                cand[centre] = b;
                ids.push(tok.encode(&cand));
            }
        }
        let ll = score_rows(
            model,
            &ids,
            Objective::LogLikelihood,
            &RowOptions::batch(per * 4),
        )?;
        for c in ll.chunks(4) {
            out.push([c[0], c[1], c[2], c[3]]);
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

#[cfg(test)]
mod tests {
    use super::Tally;

    fn block(n: usize, model_nll: f64, markov_nll: f64) -> Tally {
        Tally {
            n,
            model_nll,
            markov_nll,
            ..Default::default()
        }
    }

    #[test]
    fn skill_se_is_the_spread_between_blocks() {
        // five blocks of 10 tokens whose skills are 0.1 … 0.5 nats per token
        let mut t = Tally::default();
        for d in [1.0, 2.0, 3.0, 4.0, 5.0] {
            t.add_block(&block(10, 13.0, 13.0 + d));
        }
        assert_eq!((t.n, t.blocks), (50, 5));
        assert!((t.skill() - 0.3).abs() < 1e-12);
        // equal blocks: the standard error of the mean of 0.1 … 0.5 = sd / √5
        let sd = (0.1f64 / 4.0).sqrt(); // Σ (x − 0.3)² = 0.1 over 5 − 1
        assert!((t.skill_se() - sd / 5f64.sqrt()).abs() < 1e-12);
        // merging tallies keeps the moments: two parts give the same error as one
        let (mut a, mut b) = (Tally::default(), Tally::default());
        a.add_block(&block(10, 13.0, 14.0));
        a.add_block(&block(10, 13.0, 15.0));
        for d in [3.0, 4.0, 5.0] {
            b.add_block(&block(10, 13.0, 13.0 + d));
        }
        a.merge(&b);
        assert!((a.skill_se() - t.skill_se()).abs() < 1e-12);
        // the same skill in every block: no spread
        let mut same = Tally::default();
        for n in [10, 20, 30, 40, 50] {
            same.add_block(&block(n, 1.3 * n as f64, 1.5 * n as f64));
        }
        assert!(same.skill_se().abs() < 1e-9);
        // fewer than five blocks: no estimate; an empty block is no block
        let mut few = Tally::default();
        for _ in 0..4 {
            few.add_block(&block(10, 13.0, 15.0));
        }
        few.add_block(&Tally::default());
        assert_eq!(few.blocks, 4);
        assert!(few.skill_se().is_nan());
    }
}
