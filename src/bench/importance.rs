//! **Neuron importance**: neurons of the `body` layer (what the LM head reads) are ranked by
//! how much deleting each alone (zeroing it) raises the LM loss on a *ranking* set (the first
//! 500 bases of each held-out genome); the deletion curve — loss after deleting the top-k
//! ranked neurons versus k random neurons (3 draws), k = 1, 2, 4, … up to `importance_max` — is
//! measured on a separate *evaluation* set (2,000 bases from the middle of each genome). The
//! main metric is the area between the curves (nats × k, trapezoid); the baseline row value is
//! the loss increase of random deletion at the largest k.

use std::time::Instant;

use super::{BenchContext, BenchRow, Outcome};
use crate::explain::deletion::{
    deletion_curve, lm_loss, rank_by_deletion, Ablate, DeletionOptions,
};
use crate::infer::PredictOptions;
use crate::Result;

/// The task: one row over all held-out genomes.
pub fn run(ctx: &BenchContext) -> Result<Outcome> {
    let t0 = Instant::now();
    let (mut rank_set, mut eval_set) = (Vec::new(), Vec::new());
    for &g in &ctx.held_out {
        let Some(c) = ctx.corpus.genomes[g]
            .contigs
            .iter()
            .max_by_key(|c| c.seq.len())
        else {
            continue;
        };
        if c.seq.len() < 3_000 {
            continue;
        }
        rank_set.push((format!("{}:rank", ctx.id(g)), c.seq[..500].to_vec()));
        let mid = c.seq.len() / 2;
        eval_set.push((
            format!("{}:eval", ctx.id(g)),
            c.seq[mid - 1_000..mid + 1_000].to_vec(),
        ));
    }
    if rank_set.is_empty() {
        return Ok(Outcome::from_rows(Vec::new()));
    }
    let mut opts = DeletionOptions {
        layer: "body".into(),
        ablate: Ablate::Zero,
        n_random: 3,
        seed: ctx.opts.seed,
        ks: Vec::new(),
    };
    let ranked = rank_by_deletion(ctx.model, &rank_set, &opts)?;
    let order: Vec<usize> = ranked.iter().map(|r| r.0).collect();
    let mut ks = vec![];
    let mut k = 1;
    while k <= ctx.opts.importance_max.min(order.len()) {
        ks.push(k);
        k *= 2;
    }
    opts.ks = ks.clone();
    let curve = deletion_curve(ctx.model, &eval_set, &order, &opts)?;
    let base = lm_loss(ctx.model, &eval_set, &PredictOptions::default())?;
    let kmax = *ks.last().unwrap_or(&1);
    let top = curve
        .ranked
        .last()
        .map(|r| r.1.loss - base.loss)
        .unwrap_or(f64::NAN);
    let rnd = curve
        .random
        .last()
        .map(|r| r.1 - base.loss)
        .unwrap_or(f64::NAN);
    Ok(Outcome::Rows(vec![BenchRow {
        task: "importance".into(),
        dataset: "held_out".into(),
        metric: "deletion_area".into(),
        value: curve.area,
        baseline: f64::NAN,
        baseline_name: "random neurons (the area is relative to them)".into(),
        higher_is_better: true,
        n: order.len(),
        genomes: ctx.held_out.iter().map(|&g| ctx.id(g)).collect(),
        extra: vec![
            (format!("loss_increase_top{kmax}"), top, rnd),
            ("base_loss".into(), base.loss, f64::NAN),
        ],
        seconds: t0.elapsed().as_secs_f64(),
        more_baselines: Vec::new(),
    }]))
}
