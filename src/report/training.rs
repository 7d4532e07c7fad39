//! The report of a training run.

use super::Report;
use crate::data::corpus::Corpus;
use crate::table::Table;
use crate::train::run::{run_splits, RunConfig, RunSummary};
use crate::Result;

/// The report of a training run: configuration, corpus and split, learning curve, per-kingdom
/// validation and test quality against the informed-random point, seeds, checksums, timings.
pub fn training_report(
    title: &str,
    corpus: &Corpus,
    cfg: &RunConfig,
    summary: &RunSummary,
) -> Result<Report> {
    use polars::prelude::*;
    let mut r = Report::new(title);
    r.device(summary.device.clone());
    r.seed("split", cfg.data.split_seed)
        .seed("batches", cfg.data.batch_seed)
        .seed("train", cfg.train.seed);
    r.config("model", &cfg.model)
        .config("data", &cfg.data)
        .config("train", &cfg.train);
    r.datasets(corpus, None);
    r.timing("training", summary.minutes * 60.0);
    r.heading("Data");
    r.text(format!(
        "Corpus '{}': {} genomes, {:.2} Mb; trained on {} genomes ({}), evaluated on held-out genomes never trained on.",
        corpus.name,
        corpus.genomes.len(),
        corpus.total_bases() as f64 / 1e6,
        summary.train_genomes.len(),
        summary.train_genomes.join(", ")
    ));
    let splits = run_splits(corpus, &cfg.data)?;
    r.table(
        "corpus",
        &Table::new("corpus", corpus.summary(Some(&splits))?),
        "Genomes and split.",
    );
    r.heading("Training");
    r.text(format!(
        "{} ({}, {} trainable parameters), {} epoch(s) on {} in {:.2} minutes.",
        summary.model,
        summary.arch,
        summary.n_params,
        summary.history.len(),
        summary.device,
        summary.minutes
    ));
    // summary.json keeps the epochs; the steps are in the run's metrics.jsonl
    let mut history = summary.history.clone();
    if history.steps.is_empty() {
        if let Ok(logged) = crate::train::metrics_log::read_metrics(&cfg.output) {
            history.steps = logged.steps;
        }
    }
    let h = &history;
    let ir = crate::data::tokenize::informed_random_loss(cfg.model.stride);
    r.figure(
        "loss",
        &crate::train::display::history_figure(h, Some(ir))?,
        if h.steps.is_empty() {
            "Training and validation loss after each epoch, and the informed-random point."
        } else {
            "Training loss of every step (thin) and smoothed, validation loss after each epoch \
             (points), and the informed-random point."
        },
    );
    r.table(
        "history",
        &crate::train::display::history_table(h)?,
        "Per-epoch history.",
    );
    for (i, e) in h.iter().enumerate() {
        r.metric(&format!("epoch{}_train_loss", i + 1), e.train_loss);
        if let Some(v) = e.valid_loss {
            r.metric(&format!("epoch{}_valid_loss", i + 1), v);
        }
    }
    r.heading("Held-out quality per kingdom");
    let (mut sp, mut k, mut g, mut n, mut l, mut a, mut gain) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for (split, rows) in [("valid", &summary.valid), ("test", &summary.test)] {
        for e in rows.iter() {
            sp.push(split.to_string());
            k.push(e.kingdom.clone());
            g.push(e.genomes.join(" "));
            n.push(e.tokens as u64);
            l.push(e.loss);
            a.push(e.accuracy);
            gain.push(e.informed_random - e.loss);
            r.metric(&format!("{split}_{}_loss", e.kingdom), e.loss);
            r.metric(&format!("{split}_{}_accuracy", e.kingdom), e.accuracy);
        }
    }
    let df = df!("split" => sp, "kingdom" => k, "genomes" => g, "tokens" => n, "loss" => l, "accuracy" => a, "gain_over_ln4s" => gain)?;
    r.table("kingdoms", &Table::new("kingdoms", df), "Cross-entropy (nats/token) and next-token accuracy on held-out genomes; gain_over_ln4s > 0 means the model beats the informed-random point.");
    Ok(r)
}

/// The report of a run folder written by `genolm train` (or [`crate::train::run::run_training`]):
/// [`training_report`] from its `run.toml` and `summary.json`, the loss along the smallest
/// annotated held-out genome with its genes (when the corpus has one), and the benchmark's
/// table and figure when `bench` is given (a `BenchmarkReport` of this model). What
/// `genolm report RUN_DIR` writes.
pub fn run_report(
    run: &std::path::Path,
    bench: Option<&crate::bench::BenchmarkReport>,
) -> Result<Report> {
    if let Some(e) = not_a_run(run) {
        return Err(e);
    }
    let cfg = RunConfig::load(run)?;
    let summary = RunSummary::load(run)?;
    let corpus = Corpus::open(&cfg.data.corpus)?;
    let title = format!("genolm run {} ({})", run.display(), summary.arch);
    let mut r = training_report(&title, &corpus, &cfg, &summary)?;
    let splits = run_splits(&corpus, &cfg.data)?;
    // the smallest annotated held-out genome: a readable track, seconds to score
    let annotated = splits
        .valid
        .iter()
        .chain(&splits.test)
        .copied()
        .filter(|&g| corpus.genomes[g].is_annotated())
        .min_by_key(|&g| corpus.genomes[g].len());
    if let Some(g) = annotated {
        let model = crate::models::GenomicModel::load(run, &cfg.train.device.open()?)?;
        let id = corpus.genomes[g].meta.id.clone();
        r.heading(format!("Loss along {id}"));
        r.figure(
            "genome_loss",
            &super::loss_track(&model, &corpus, &id)?,
            format!("Loss per token along {id} (held out), 101-token moving mean, with the CDS beneath."),
        );
    }
    if let Some(b) = bench {
        r.heading("Benchmark");
        r.text(format!(
            "{} tasks next to their baselines on held-out genomes (training genomes from {}).",
            b.rows.len(),
            b.train_source
        ));
        r.table(
            "benchmark",
            &b.table()?,
            "One row per task and dataset: the model's value, the baseline's, and the difference.",
        );
        r.figure("benchmark", &b.plot()?, "The model against each baseline.");
        for row in &b.rows {
            r.metric(
                &format!("bench_{}_{}_{}", row.task, row.dataset, row.metric),
                row.value,
            );
        }
    }
    Ok(r)
}

/// What a folder given as a run is instead, when it is the output of another command: a
/// `genolm classify` folder or a search folder (which hold their own results, not a run).
fn not_a_run(dir: &std::path::Path) -> Option<crate::Error> {
    if dir.join("run.toml").exists() || !dir.is_dir() {
        return None;
    }
    let what = if dir.join("search.toml").is_file() {
        format!(
            "a search folder (genolm search): its results are trials.csv, best.toml and the \
             figures; each trial is a run, e.g. `genolm report {}`",
            dir.join("trials/0000/run").display()
        )
    } else if super::is_classifier_folder(dir) {
        "a `genolm classify` folder: its report is `classifier_report`".to_string()
    } else {
        return None;
    };
    Some(crate::Error::Input(format!(
        "{}: not a training run (no run.toml) but {what}; `genolm report` takes a folder \
         that `genolm train` wrote",
        dir.display()
    )))
}
