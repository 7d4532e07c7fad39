//! **Cost** (seed 002: end-to-end cost, not just accuracy): trainable parameters, inference
//! throughput (tokens per second of the prediction core on held-out bases, with the batch
//! size of the options; tokens *scored* per second, so an MLM counts only its 15 % masked
//! tokens), the peak resident memory of this process, the device, and — when
//! the run's `summary.json` is next to the checkpoint — training minutes, seconds per epoch
//! and the training throughput.

use std::time::Instant;

use super::{BenchContext, BenchRow, Outcome};
use crate::infer::token_scores;
use crate::Result;

pub use crate::cpu::peak_rss_mib;

/// The task.
pub fn run(ctx: &BenchContext) -> Result<Outcome> {
    // throughput on up to 20 kb of the largest held-out genome
    let g = *ctx
        .held_out
        .iter()
        .max_by_key(|&&g| ctx.corpus.genomes[g].len())
        .expect("held-out genomes exist");
    let c = ctx.corpus.genomes[g]
        .contigs
        .iter()
        .max_by_key(|c| c.seq.len())
        .expect("a contig");
    let seq = &c.seq[..c.seq.len().min(20_000)];
    let t0 = Instant::now();
    let s = token_scores(ctx.model, seq, &ctx.predict_options())?;
    let secs = t0.elapsed().as_secs_f64();
    let tps = s.len() as f64 / secs.max(1e-9);
    let mut extra = vec![
        ("n_params".into(), ctx.model.n_params() as f64, f64::NAN),
        ("peak_rss_mib".into(), peak_rss_mib(), f64::NAN),
    ];
    if let Some(sum) = &ctx.run_summary {
        extra.push(("train_minutes".into(), sum.minutes, f64::NAN));
        let h = &sum.history;
        if !h.is_empty() {
            let n = h.len() as f64;
            extra.push((
                "seconds_per_epoch".into(),
                h.iter().map(|e| e.seconds).sum::<f64>() / n,
                f64::NAN,
            ));
            extra.push((
                "train_tokens_per_s".into(),
                h.iter().map(|e| e.train_throughput).sum::<f64>() / n,
                f64::NAN,
            ));
        }
    }
    Ok(Outcome::Rows(vec![BenchRow {
        task: "cost".into(),
        dataset: format!("{:?}", ctx.model.device()),
        metric: "inference_tokens_per_s".into(),
        value: tps,
        baseline: f64::NAN,
        baseline_name: String::new(),
        higher_is_better: true,
        n: s.len(),
        genomes: vec![ctx.id(g)],
        extra,
        seconds: secs,
        more_baselines: Vec::new(),
    }]))
}
