//! **Neuron interpretability 1 (amino acids)** and **2 (CDS)**: states of every layer on
//! held-out annotated genomes (the first `neuron_bases` bases of each annotated contig), read
//! on both strands unless `neuron_reverse_strand` is off (the reverse strand's layers as
//! `rc.<layer>`, aligned to the same bases), smoothed over `neuron_smooth` rows, analysed with
//! [`identify_explainable_neurons`]
//! against the CDS track (task 2) or the 21 amino-acid tracks (task 1).
//!
//! Reported per genome: the best neuron's AUROC in either direction (`0.5 + |AUROC − 0.5|`;
//! the mean over amino acids for task 1), the number of FDR-significant neuron × target pairs,
//! and the sparse probe's held-out AUROC and accuracy (its baseline: the majority class). The
//! baseline of the best-neuron AUROC is the same analysis on targets circularly shifted by
//! five seeded offsets (which keeps their autocorrelation): what "best neuron" reaches by
//! chance on a genome. Read on both strands, each row also carries
//! `best_unit_both_strands_auroc`: the best unit when each unit's two readings are averaged
//! ([`States::strand_means`](crate::infer::States::strand_means)), with the same null.

use std::sync::Arc;
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{BenchContext, BenchRow, Outcome};
use crate::explain::neurons::{
    best_effects, identify_explainable_neurons, targets_from_tracks, NeuronOptions, NeuronReport,
    Target,
};
use crate::infer::{states, PredictOptions, States};
use crate::Result;

/// Circular shifts for the null.
pub const N_SHIFTS: usize = 5;

/// A genome's states and its annotation targets aligned to them.
pub type StatesAndTargets = (States, Vec<Target>);

/// States and targets of genome `g` (annotated contigs, truncated), computed once per
/// benchmark run and shared by both neuron tasks.
pub fn states_and_targets(ctx: &BenchContext, g: usize) -> Result<Option<Arc<StatesAndTargets>>> {
    let mut cache = ctx.neuron_states.lock().expect("neuron state cache");
    if let Some(hit) = cache.get(&g) {
        return Ok(hit.clone());
    }
    let computed = compute_states_and_targets(ctx, g)?.map(Arc::new);
    cache.insert(g, computed.clone());
    Ok(computed)
}

fn compute_states_and_targets(
    ctx: &BenchContext,
    g: usize,
) -> Result<Option<(States, Vec<Target>)>> {
    let genome = &ctx.corpus.genomes[g];
    let opts = genome.track_options();
    let mut records = Vec::new();
    let mut tracks = Vec::new();
    let mut left = if ctx.opts.neuron_bases == 0 {
        usize::MAX
    } else {
        ctx.opts.neuron_bases
    };
    for c in &genome.contigs {
        if left == 0 {
            break;
        }
        let Some(t) = c.tracks(&opts) else { continue };
        let t = t?;
        let n = c.seq.len().min(left);
        left -= n;
        records.push((c.name.clone(), c.seq[..n].to_vec()));
        tracks.push(t.prefix(n));
    }
    if records.is_empty() {
        return Ok(None);
    }
    let st = states(
        ctx.model,
        &records,
        &PredictOptions {
            batch_size: ctx.opts.batch_size,
            reverse_strand: ctx.opts.neuron_reverse_strand,
            ..Default::default()
        },
    )?;
    // targets: concatenate per-record aligned targets
    let mut by_name: Vec<Target> = Vec::new();
    for (ri, t) in tracks.iter().enumerate() {
        let ts = targets_from_tracks(&st, ri, t, 0)?;
        if ri == 0 {
            by_name = ts;
        } else {
            for (acc, x) in by_name.iter_mut().zip(ts) {
                acc.values.extend(x.values);
            }
        }
    }
    Ok(Some((st, by_name)))
}

fn best_auroc(rep: &NeuronReport, target: &str) -> f64 {
    rep.top(target, 1)
        .first()
        .map(|s| 0.5 + s.effect())
        .unwrap_or(f64::NAN)
}

fn run_targets(ctx: &BenchContext, task: &str, pick: fn(&str) -> bool) -> Result<Vec<BenchRow>> {
    let mut rows = Vec::new();
    for g in ctx.annotated_held_out() {
        let t0 = Instant::now();
        let Some(cached) = states_and_targets(ctx, g)? else {
            continue;
        };
        let (st, all) = &*cached;
        let min_class = 20;
        let targets: Vec<Target> = all
            .iter()
            .filter(|t| pick(&t.name))
            .filter(|t| {
                let p = t.values.iter().filter(|&&v| v > 0.5).count();
                p >= min_class && t.values.len() - p >= min_class
            })
            .cloned()
            .collect();
        if targets.is_empty() {
            continue;
        }
        let opts = NeuronOptions {
            smooth: ctx.opts.neuron_smooth,
            seed: ctx.opts.seed,
            ..NeuronOptions::default()
        };
        let rep = identify_explainable_neurons(st, &targets, &opts)?;
        let names: Vec<String> = targets.iter().map(|t| t.name.clone()).collect();
        let mean = |v: Vec<f64>| {
            let v: Vec<f64> = v.into_iter().filter(|x| x.is_finite()).collect();
            v.iter().sum::<f64>() / v.len().max(1) as f64
        };
        let best = mean(names.iter().map(|n| best_auroc(&rep, n)).collect());
        // shift null: all targets shifted by the same offsets; sets[0] holds them unshifted
        let mut rng = ChaCha8Rng::seed_from_u64(ctx.opts.seed ^ 0x5eed);
        let n = st.n_rows();
        let mut sets: Vec<Vec<Target>> = (0..N_SHIFTS)
            .map(|_| {
                let off = rng.random_range(n / 10..n - n / 10);
                targets.iter().map(|t| t.shifted(off)).collect()
            })
            .collect();
        sets.insert(0, targets);
        // per set: the mean over its targets of the best neuron's AUROC
        let best_per_set = |s: &States, sets: &[Vec<Target>]| -> Result<Vec<f64>> {
            Ok(best_effects(s, sets, &opts)?
                .into_iter()
                .map(|e| mean(e.into_iter().map(|e| 0.5 + e).collect()))
                .collect())
        };
        let null = best_per_set(st, &sets[1..])?;
        // each unit read on both strands (the mean of its two readings), against the same sets
        let both = match st.strand_means() {
            Some(pooled) => {
                let v = best_per_set(&pooled, &sets)?;
                (v[0], v[1..].iter().sum::<f64>() / (v.len() - 1) as f64)
            }
            None => (f64::NAN, f64::NAN),
        };
        let probe_auc = mean(rep.probes.iter().map(|p| p.test_auroc).collect());
        let probe_acc = mean(rep.probes.iter().map(|p| p.test_accuracy).collect());
        let probe_base = mean(rep.probes.iter().map(|p| p.baseline_accuracy).collect());
        let n_sig: usize = names.iter().map(|nm| rep.n_significant(nm)).sum();
        rows.push(BenchRow {
            task: task.into(),
            dataset: ctx.id(g),
            metric: "best_neuron_auroc".into(),
            value: best,
            baseline: null.iter().sum::<f64>() / null.len() as f64,
            baseline_name: format!("circular-shift null ({N_SHIFTS} shifts)"),
            higher_is_better: true,
            n,
            genomes: vec![ctx.id(g)],
            extra: vec![
                ("n_significant".into(), n_sig as f64, f64::NAN),
                ("n_tests".into(), rep.n_tests as f64, f64::NAN),
                ("n_targets".into(), names.len() as f64, f64::NAN),
                ("best_unit_both_strands_auroc".into(), both.0, both.1),
                ("probe_auroc".into(), probe_auc, 0.5),
                ("probe_accuracy".into(), probe_acc, probe_base),
            ],
            seconds: t0.elapsed().as_secs_f64(),
            more_baselines: Vec::new(),
        });
    }
    Ok(rows)
}

/// Task "neurons_aa": the amino-acid targets.
pub fn run_aa(ctx: &BenchContext) -> Result<Outcome> {
    run_targets(ctx, "neurons_aa", |n| n.starts_with("aa_")).map(Outcome::from_rows)
}

/// Task "neurons_cds": the CDS target.
pub fn run_cds(ctx: &BenchContext) -> Result<Outcome> {
    run_targets(ctx, "neurons_cds", |n| n == "CDS").map(Outcome::from_rows)
}
