//! The benchmark for genomic language models (seed 002): one call takes a trained model and
//! returns every metric, each next to a non-neural floor (a Markov chain fitted on the same
//! training genomes) and scored on exactly the same positions.
//!
//! ```no_run
//! use genolm::bench::{benchmark, transferability_test, BenchOptions, Task};
//! // everything, with the default sizes (minutes on a laptop CPU for the small presets)
//! let report = transferability_test("runs/awd_lstm_small/model.safetensors")?;
//! println!("{}", report.table()?.df);
//! report.table()?.to_csv("bench.csv")?;
//! // a subset, bigger
//! let opts = BenchOptions { tasks: vec![Task::Transfer, Task::ImputeNucleotide],
//!                           bases_per_genome: 200_000, ..Default::default() };
//! let report = benchmark("runs/awd_lstm_small", &opts)?;
//! # Ok::<(), genolm::Error>(())
//! ```
//!
//! Held-out genomes are the corpus genomes the model was not trained on: the training genomes
//! are read from the run's `summary.json` next to the checkpoint (or given in
//! [`BenchOptions::train_genomes`]); without either, the default split of the corpus is
//! assumed and the report says so. The tasks are defined in `docs/benchmark.md`.

pub mod adaptive;
pub mod baselines;
pub mod classification;
pub mod conservation;
pub mod cost;
pub mod ensemble;
pub mod generative;
pub mod importance;
pub mod impute_fragment;
pub mod impute_nucleotide;
pub mod long_context;
pub mod markov;
pub mod neurons;
pub mod probe;
pub mod rare;
pub mod score;
pub mod transfer;
pub mod variants;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::data::corpus::{Corpus, Kingdom};
use crate::models::{GenomicModel, Head};
use crate::train::run::RunSummary;
use crate::{Error, Result};
use markov::MarkovModel;

mod context;
mod options;
mod report;

pub use crate::models::ModelRef;
pub use context::{genome_chunks, BenchContext, NeuronStates};
pub use options::{BenchOptions, Task};
pub use report::{BenchRow, BenchmarkReport, DatasetRecord};
pub use transfer::transfer_matrix;

/// Seed 002's `transferabilityTest(model)`: the whole suite with default sizes, from a model
/// or a checkpoint path. An alias of [`benchmark`] with `BenchOptions::default()`.
pub fn transferability_test<'a>(model: impl Into<ModelRef<'a>>) -> Result<BenchmarkReport> {
    benchmark(model, &BenchOptions::default())
}

/// The summary of the run a checkpoint belongs to, when its folder has one (a `summary.json`
/// that does not parse is an error, not a silent fallback).
fn read_summary(ckpt: &Path) -> Result<Option<RunSummary>> {
    let dir = if ckpt.is_dir() {
        ckpt
    } else {
        ckpt.parent().unwrap_or(Path::new("."))
    };
    if !dir.join("summary.json").exists() {
        return Ok(None);
    }
    RunSummary::load(dir).map(Some)
}

/// A run's corpus as its summary names it: relative to the folder the run was trained in
/// ([`trained_in`](crate::train::run::trained_in), found from where the run's folder is now),
/// so a run can be benchmarked from any folder. A shipped model
/// ([`pretrained`](crate::models::pretrained)) was trained in genolm's source tree, so a
/// relative corpus of one resolves there: the shipped LMs can be benchmarked on your genomes
/// from any folder.
fn run_corpus_path(corpus: &str, ckpt: Option<&Path>, summary: &RunSummary) -> String {
    let mut bases = Vec::new();
    if let Some(c) = ckpt {
        let dir = if c.is_dir() {
            c
        } else {
            c.parent().unwrap_or(Path::new("."))
        };
        let out = &summary.checkpoint;
        bases.extend(crate::train::run::trained_in(dir, out));
        if out.extension().is_some() {
            bases.extend(
                out.parent()
                    .and_then(|o| crate::train::run::trained_in(dir, o)),
            );
        }
    }
    let root = crate::models::pretrained::root();
    let shipped = ckpt
        .and_then(|c| c.canonicalize().ok())
        .zip(root.canonicalize().ok())
        .is_some_and(|(c, r)| c.starts_with(r));
    if shipped {
        bases.extend(root.parent().and_then(Path::parent).map(Path::to_path_buf));
    }
    crate::train::run::corpus_path(corpus, &bases)
}

/// Training genome ids from a run summary: `train_genomes`, else everything not listed as
/// validation or test genomes.
fn train_from_summary(summary: &RunSummary, corpus: &Corpus) -> Vec<String> {
    if !summary.train_genomes.is_empty() {
        return summary.train_genomes.clone();
    }
    let held: Vec<&String> = summary
        .valid
        .iter()
        .chain(&summary.test)
        .flat_map(|e| &e.genomes)
        .collect();
    corpus
        .genomes
        .iter()
        .map(|g| g.meta.id.clone())
        .filter(|id| !held.contains(&id))
        .collect()
}

/// What a benchmark task produced: its rows, or the reason it cannot run on this model or
/// corpus (recorded in [`BenchmarkReport::skipped`]). A task that fails returns an error
/// instead, and the benchmark stops with it: a skip never hides a real input error.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The task's rows.
    Rows(Vec<BenchRow>),
    /// The task does not apply, and why.
    Skipped(String),
}

impl Outcome {
    /// The reason recorded when a task finds nothing to evaluate.
    pub const NO_DATA: &'static str = "no suitable held-out data";

    /// Rows, or [`Outcome::NO_DATA`] when there are none.
    pub fn from_rows(rows: Vec<BenchRow>) -> Outcome {
        if rows.is_empty() {
            Outcome::Skipped(Self::NO_DATA.into())
        } else {
            Outcome::Rows(rows)
        }
    }
}

/// What [`open_context`] gives: the tasks' shared context, the datasets it reads and where
/// the training genomes were learned from.
pub struct Opened<'a> {
    /// The context every task reads.
    pub ctx: BenchContext<'a>,
    /// Every corpus genome with its role and file checksums (the report's `datasets`).
    pub datasets: Vec<DatasetRecord>,
    /// How the training genomes were found (the report's `train_source`).
    pub train_source: String,
}

/// The benchmark's context for `model` (loaded from `ckpt` when given: its run's
/// `summary.json` names the corpus and the training genomes): the corpus, the training and
/// held-out genomes, the Markov baseline fitted on the training genomes, and `opts` — what
/// [`benchmark`] runs its tasks on, for analyses of single tasks' scores.
pub fn open_context<'a>(
    model: &'a GenomicModel,
    ckpt: Option<&Path>,
    opts: &BenchOptions,
) -> Result<Opened<'a>> {
    let summary = match ckpt {
        Some(c) => read_summary(c)?,
        None => None,
    };
    // the corpus the run trained on (its summary), and the one benchmarked on
    let run_corpus = summary
        .as_ref()
        .and_then(|s| Some(run_corpus_path(&s.data.as_ref()?.corpus, ckpt, s)));
    let corpus_name = opts.corpus.clone().or_else(|| run_corpus.clone());
    let mut corpus = Corpus::open(corpus_name.as_deref().unwrap_or("embedded"))?;
    let (train_ids, mut train_source) = if let Some(t) = &opts.train_genomes {
        (
            t.clone(),
            "given in BenchOptions::train_genomes".to_string(),
        )
    } else if let Some(s) = &summary {
        (
            train_from_summary(s, &corpus),
            "the run's summary.json".to_string(),
        )
    } else {
        // the split a default run file makes (the same function the trainer calls)
        let s = crate::train::run::run_splits(&corpus, &crate::train::run::DataConfig::default())?;
        (
            corpus.ids(&s.train),
            "assumed: the default genome-level split (seed 42); pass train_genomes to be sure"
                .to_string(),
        )
    };
    // Benchmarking a run on another corpus (your own genomes): the training genomes it lacks
    // come from the run's own corpus, for the Markov chain that counts what the model saw, and
    // every genome of the given corpus is held out.
    let run_corpus = run_corpus.unwrap_or_else(|| "embedded".into());
    let lacking: Vec<&String> = train_ids
        .iter()
        .filter(|id| corpus.index_of(id).is_none())
        .collect();
    if !lacking.is_empty()
        && opts.train_genomes.is_none()
        && corpus_name.as_deref() != Some(run_corpus.as_str())
    {
        let own = Corpus::open(&run_corpus).map_err(|e| {
            Error::Input(format!(
                "the model's training genomes ({}) are not in corpus {}, and its own corpus {run_corpus:?} cannot be read for them: {e}",
                lacking.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                corpus.name
            ))
        })?;
        for id in lacking {
            if let Some(i) = own.index_of(id) {
                corpus.genomes.push(own.genomes[i].clone());
            }
        }
        train_source = format!(
            "{train_source}; those not in corpus {}, read from the run's corpus {run_corpus:?}; the genomes of {} it did not train on are held out",
            corpus.name, corpus.name
        );
    }
    let mut listed = Vec::new();
    for id in &train_ids {
        match corpus.index_of(id) {
            Some(i) => listed.push(i),
            None => {
                return Err(Error::Input(format!(
                    "training genome {id:?} is not in corpus {}",
                    corpus.name
                )))
            }
        }
    }
    // a genome named twice is counted twice by the chain, used once everywhere else
    let mut train: Vec<usize> = Vec::new();
    for &g in &listed {
        if !train.contains(&g) {
            train.push(g);
        }
    }
    // a genome whose sequence the model trained on under another name is not held out (a
    // contig of 200 bases or more identical to a training contig)
    let fingerprint = |g: usize| -> Vec<(usize, u64)> {
        use std::hash::{Hash, Hasher};
        corpus.genomes[g]
            .contigs
            .iter()
            .filter(|c| c.seq.len() >= 200)
            .map(|c| {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                c.seq.hash(&mut h);
                (c.seq.len(), h.finish())
            })
            .collect()
    };
    let seen: Vec<(usize, Vec<(usize, u64)>)> =
        train.iter().map(|&g| (g, fingerprint(g))).collect();
    let mut held_out = Vec::new();
    let mut copies = Vec::new();
    for i in (0..corpus.genomes.len()).filter(|i| !train.contains(i)) {
        let f = fingerprint(i);
        match seen.iter().find(|(_, t)| f.iter().any(|c| t.contains(c))) {
            Some(&(t, _)) => copies.push(format!(
                "{} (a contig of training genome {})",
                corpus.genomes[i].meta.id, corpus.genomes[t].meta.id
            )),
            None => held_out.push(i),
        }
    }
    if !copies.is_empty() {
        train_source = format!(
            "{train_source}; not held out, as the model trained on their sequence under another name: {}",
            copies.join(", ")
        );
    }
    if held_out.is_empty() {
        return Err(Error::Input(
            "every corpus genome was used in training: nothing is held out to benchmark on".into(),
        ));
    }
    // the chain counts what the model trained on: with the run's corpus mix, if it had one
    let data = match (&opts.train_genomes, &summary) {
        (None, Some(s)) => s.data.clone().unwrap_or_default(),
        _ => crate::train::run::DataConfig::default(),
    };
    let counted = data.repeated(&listed, |g| corpus.genomes[g].meta.kingdom)?;
    let train_source = match data.mix_label() {
        None => train_source,
        Some(mix) => format!(
            "{train_source}; the Markov chain counts them as the run's kingdom_repeats did ({mix})"
        ),
    };
    let markov = MarkovModel::fit(
        counted
            .iter()
            .flat_map(|&g| corpus.genomes[g].contigs.iter().map(|c| c.seq.as_slice())),
        opts.markov_order,
        true,
    )?;
    let datasets = (0..corpus.genomes.len())
        .map(|i| {
            let g = &corpus.genomes[i];
            DatasetRecord {
                genome: g.meta.id.clone(),
                kingdom: g.meta.kingdom.as_str().into(),
                role: if train.contains(&i) {
                    "train"
                } else {
                    "held_out"
                }
                .into(),
                files: g.file_checksums(),
            }
        })
        .collect();
    let ctx = BenchContext {
        model,
        tok: model.config().tokenizer()?,
        corpus,
        train,
        held_out,
        markov,
        opts: opts.clone(),
        run_summary: summary,
        neuron_states: Default::default(),
    };
    Ok(Opened {
        ctx,
        datasets,
        train_source,
    })
}

/// Run the tasks of `opts` on a model, a run folder or a checkpoint (the benchmark's one entry
/// point; [`transferability_test`] is it with default options).
pub fn benchmark<'a>(
    model: impl Into<ModelRef<'a>>,
    opts: &BenchOptions,
) -> Result<BenchmarkReport> {
    let t0 = Instant::now();
    // a misspelt dataset fails now, not after the tasks before it
    classification::check_datasets(&opts.classification_datasets)?;
    let owned;
    let (model, ckpt): (&GenomicModel, Option<PathBuf>) = match model.into() {
        ModelRef::Borrowed(m) => (m, None),
        ModelRef::Path(p) => {
            let dev = crate::models::DeviceChoice::Auto.open()?;
            owned = GenomicModel::load(&p, &dev)?;
            (&owned, Some(crate::models::model::resolve_checkpoint(&p)))
        }
    };
    if model.config().head == Head::Classifier {
        return Err(Error::Input(
            "the benchmark needs a language model (LM or MLM head), not a classifier".into(),
        ));
    }
    let Opened {
        ctx,
        datasets,
        train_source,
    } = open_context(model, ckpt.as_deref(), opts)?;
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    type TaskFn = fn(&BenchContext) -> Result<Outcome>;
    let tasks: [(Task, TaskFn); 12] = [
        (Task::Transfer, transfer::run),
        (Task::Adaptive, adaptive::run),
        (Task::RareSpecies, rare::run),
        (Task::Conservation, conservation::run),
        (Task::ImputeNucleotide, impute_nucleotide::run),
        (Task::ImputeFragment, impute_fragment::run),
        (Task::NeuronsAa, neurons::run_aa),
        (Task::NeuronsCds, neurons::run_cds),
        (Task::Importance, importance::run),
        (Task::Classification, classification::run),
        (Task::Variants, variants::run),
        (Task::Cost, cost::run),
    ];
    let wanted: Vec<(Task, TaskFn)> = tasks.into_iter().filter(|(t, _)| opts.wants(*t)).collect();
    // a bar on a terminal; the task lines below otherwise
    let mut bar = crate::progress::Progress::new("benchmark", wanted.len(), false);
    for (task, f) in wanted {
        let t = Instant::now();
        ctx.log(&format!("{} …", task.name()));
        let outcome = f(&ctx)?;
        bar.inc(1, task.name());
        match outcome {
            Outcome::Rows(r) => rows.extend(r),
            Outcome::Skipped(why) => skipped.push((task.name().to_string(), why)),
        }
        ctx.log(&format!(
            "{} done in {:.1} s",
            task.name(),
            t.elapsed().as_secs_f64()
        ));
    }
    bar.finish();
    Ok(BenchmarkReport {
        model: model.config().name.clone(),
        arch: model.config().arch_label(),
        n_params: model.n_params(),
        device: format!("{:?}", model.device()),
        checkpoint: ckpt,
        train_source,
        rows,
        skipped,
        datasets,
        options: opts.clone(),
        seconds: t0.elapsed().as_secs_f64(),
        version: env!("CARGO_PKG_VERSION").into(),
        host: crate::cpu::host_summary(),
    })
}

/// Kingdoms in report order.
pub const KINGDOMS: [Kingdom; 3] = [Kingdom::Pro, Kingdom::Euk, Kingdom::Vir];
