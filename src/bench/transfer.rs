//! **General transferability**: LM quality — cross-entropy (nats per token), perplexity,
//! next-token accuracy and the improvement over the informed-random point `ln(4^s)` — on each
//! kingdom's held-out genomes (evenly spaced chunks, scored with context) and on 150-nt reads
//! of the same genomes (each read alone), and the same per held-out genome (task
//! `transfer_genome`, dataset = the genome id; seed 002's transferability is per dataset: a
//! pooled kingdom row can hide a genome the model does not transfer to). The kingdom row is the
//! sum of its genomes' rows. [`transfer_matrix`] crosses several models (e.g. trained on PRO,
//! on EUK) with the test kingdoms.

use std::time::Instant;

use super::score::{lm_row, tally_genomes, tally_reads};
use super::{BenchContext, BenchOptions, Outcome, KINGDOMS};
use crate::models::GenomicModel;
use crate::table::Table;
use crate::Result;

/// The task: one row per kingdom for genomes and one for reads, and one per held-out genome.
pub fn run(ctx: &BenchContext) -> Result<Outcome> {
    let mut rows = Vec::new();
    for k in KINGDOMS {
        let g = ctx.held_out_of(k);
        if g.is_empty() {
            continue;
        }
        let ids: Vec<String> = g.iter().map(|&i| ctx.id(i)).collect();
        let t0 = Instant::now();
        let mut t = super::score::Tally::default();
        for &gi in &g {
            let tg0 = Instant::now();
            let tg = tally_genomes(ctx, &[gi])?;
            if tg.n > 0 {
                rows.push(lm_row(
                    ctx,
                    "transfer_genome",
                    ctx.id(gi),
                    &tg,
                    vec![ctx.id(gi)],
                    tg0.elapsed().as_secs_f64(),
                ));
            }
            t.merge(&tg);
        }
        if t.n > 0 {
            rows.push(lm_row(
                ctx,
                "transfer",
                k.as_str().into(),
                &t,
                ids.clone(),
                t0.elapsed().as_secs_f64(),
            ));
        }
        let t0 = Instant::now();
        let t = tally_reads(ctx, &g)?;
        if t.n > 0 {
            rows.push(lm_row(
                ctx,
                "transfer",
                format!("{}_reads", k.as_str()),
                &t,
                ids,
                t0.elapsed().as_secs_f64(),
            ));
        }
    }
    Ok(Outcome::from_rows(rows))
}

/// The train-kingdom × test-kingdom matrix: each `(label, model)` (label e.g. `"trained on
/// PRO"`) is scored on every kingdom's genomes that none of the models trained on
/// (`opts.train_genomes` = the union of their training genomes). Columns: model, test
/// kingdom, cross-entropy, accuracy, Markov cross-entropy.
///
/// ```no_run
/// # use genolm::prelude::*;
/// # use genolm::bench::{transfer_matrix, BenchOptions};
/// # let dev = candle_core::Device::Cpu;
/// // e.g. two checkpoints trained with `kingdoms = ["PRO"]` and `kingdoms = ["EUK"]`
/// let pro = GenomicModel::load("runs/pro_only", &dev)?;
/// let euk = GenomicModel::load("runs/euk_only", &dev)?;
/// let opts = BenchOptions { train_genomes: Some(vec!["hpylori_ELS37".into(), "scerevisiae_chrI".into()]),
///                           ..Default::default() };
/// let m = transfer_matrix(&[("PRO", &pro), ("EUK", &euk)], &opts)?;
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn transfer_matrix(models: &[(&str, &GenomicModel)], opts: &BenchOptions) -> Result<Table> {
    use polars::prelude::*;
    let (mut m, mut k, mut ce, mut acc, mut base) = (vec![], vec![], vec![], vec![], vec![]);
    for (label, model) in models {
        let o = BenchOptions {
            tasks: vec![super::Task::Transfer],
            ..opts.clone()
        };
        let rep = super::benchmark(*model, &o)?;
        for r in rep
            .rows
            .iter()
            .filter(|r| r.task == "transfer" && !r.dataset.ends_with("_reads"))
        {
            m.push(label.to_string());
            k.push(r.dataset.clone());
            ce.push(r.value);
            acc.push(
                r.extra
                    .iter()
                    .find(|e| e.0 == "accuracy")
                    .map(|e| e.1)
                    .unwrap_or(f64::NAN),
            );
            base.push(r.baseline);
        }
    }
    let df = df!("trained_on" => m, "tested_on" => k, "cross_entropy" => ce, "accuracy" => acc, "markov_cross_entropy" => base)?;
    Ok(Table::new("transfer_matrix", df))
}
