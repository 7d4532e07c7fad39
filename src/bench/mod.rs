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

pub mod classification;
pub mod conservation;
pub mod cost;
pub mod importance;
pub mod impute_fragment;
pub mod impute_nucleotide;
pub mod markov;
pub mod neurons;
pub mod rare;
pub mod score;
pub mod transfer;
pub mod variants;

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::data::corpus::{Corpus, Kingdom, SampleReadsOptions};
use crate::data::tokenize::KmerTokenizer;
use crate::infer::PredictOptions;
use crate::models::{GenomicModel, Head};
use crate::plot::Figure;
use crate::table::Table;
use crate::train::run::RunSummary;
use crate::{Error, Result};
use markov::MarkovModel;

pub use transfer::transfer_matrix;

/// A benchmark task (one file each under `src/bench/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// LM quality on each kingdom's held-out genomes and reads.
    Transfer,
    /// Held-out genomes of species unseen in training vs of species seen in training.
    RareSpecies,
    /// Loss on conserved vs variable positions across strains of one species.
    Conservation,
    /// Imputation of single masked nucleotides.
    ImputeNucleotide,
    /// Imputation of a gene-sized stretch of a CDS.
    ImputeFragment,
    /// Neurons that explain amino acids.
    NeuronsAa,
    /// Neurons that explain coding sequence.
    NeuronsCds,
    /// Neuron importance by deletion.
    Importance,
    /// ULMFiT sequence classification.
    Classification,
    /// Zero-shot effect of substitutions in CDS.
    Variants,
    /// Parameters, throughput, memory, training time.
    Cost,
}

impl Task {
    /// Every task, in report order.
    pub const ALL: [Task; 11] = [
        Task::Transfer,
        Task::RareSpecies,
        Task::Conservation,
        Task::ImputeNucleotide,
        Task::ImputeFragment,
        Task::NeuronsAa,
        Task::NeuronsCds,
        Task::Importance,
        Task::Classification,
        Task::Variants,
        Task::Cost,
    ];

    /// The name used in tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Task::Transfer => "transfer",
            Task::RareSpecies => "rare_species",
            Task::Conservation => "conservation",
            Task::ImputeNucleotide => "impute_nucleotide",
            Task::ImputeFragment => "impute_fragment",
            Task::NeuronsAa => "neurons_aa",
            Task::NeuronsCds => "neurons_cds",
            Task::Importance => "importance",
            Task::Classification => "classification",
            Task::Variants => "variants",
            Task::Cost => "cost",
        }
    }

    /// Parse a name (as [`Task::name`]).
    pub fn from_name(s: &str) -> Result<Task> {
        Task::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown benchmark task {s:?}; use one of {}",
                    Task::ALL.map(|t| t.name()).join(", ")
                ))
            })
    }
}

/// Sizes and choices of a benchmark run. The defaults run the whole suite on a small model in
/// minutes on a 2-core CPU; every size scales up to full genomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BenchOptions {
    /// Tasks to run (empty = all).
    pub tasks: Vec<Task>,
    /// Corpus: `embedded`, a folder or a `manifest.json` (`None`: the run's, else embedded).
    pub corpus: Option<String>,
    /// Training genome ids (`None`: from the run's `summary.json`, else the default split).
    pub train_genomes: Option<Vec<String>>,
    /// Bases scored per held-out genome (evenly spaced chunks; 0 = the whole genome).
    pub bases_per_genome: usize,
    /// Length of each scored chunk.
    pub chunk_len: usize,
    /// 150-nt reads per held-out genome.
    pub reads_per_genome: usize,
    /// Read length.
    pub read_len: usize,
    /// Order of the Markov baseline.
    pub markov_order: usize,
    /// Masked positions per kingdom (imputation 1).
    pub impute_positions: usize,
    /// Bases either side of a masked position.
    pub impute_flank: usize,
    /// Gaps per kingdom (imputation 2).
    pub fragments: usize,
    /// Gap length (a multiple of 3).
    pub fragment_len: usize,
    /// Bases of left context before a gap.
    pub fragment_context: usize,
    /// Bases of each annotated genome used for neuron tasks (0 = all).
    pub neuron_bases: usize,
    /// Moving-average window over state rows for neuron tasks (1 = none).
    pub neuron_smooth: usize,
    /// Neurons deleted at most in the importance curve.
    pub importance_max: usize,
    /// Items per class of each classification task.
    pub classification_items: usize,
    /// Epochs of each of the four classifier cycles.
    pub classification_epochs: [usize; 4],
    /// Substitutions per held-out annotated genome.
    pub variants_per_genome: usize,
    /// Bases either side of a substitution.
    pub variant_flank: usize,
    /// Rows per forward pass.
    pub batch_size: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Print progress.
    pub verbose: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            tasks: Vec::new(),
            corpus: None,
            train_genomes: None,
            bases_per_genome: 20_000,
            chunk_len: 5_000,
            reads_per_genome: 64,
            read_len: 150,
            markov_order: 6,
            impute_positions: 150,
            impute_flank: 32,
            fragments: 6,
            fragment_len: 300,
            fragment_context: 192,
            neuron_bases: 30_000,
            neuron_smooth: 51,
            importance_max: 32,
            classification_items: 80,
            classification_epochs: [2, 1, 1, 2],
            variants_per_genome: 300,
            variant_flank: 32,
            batch_size: 32,
            seed: 42,
            verbose: true,
        }
    }
}

impl BenchOptions {
    /// Tiny sizes for tests and smoke runs (seconds on a tiny model).
    pub fn quick() -> Self {
        BenchOptions {
            bases_per_genome: 2_000,
            chunk_len: 1_000,
            reads_per_genome: 8,
            impute_positions: 24,
            fragments: 2,
            fragment_len: 30,
            fragment_context: 48,
            neuron_bases: 3_000,
            neuron_smooth: 11,
            importance_max: 4,
            classification_items: 12,
            classification_epochs: [1, 0, 0, 1],
            variants_per_genome: 40,
            verbose: false,
            ..Default::default()
        }
    }

    fn wants(&self, t: Task) -> bool {
        self.tasks.is_empty() || self.tasks.contains(&t)
    }
}

/// One result: a task on a dataset, the main metric for the model and for the baseline, and
/// every other metric in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchRow {
    /// Task name.
    pub task: String,
    /// Dataset (`PRO`, `EUK_reads`, a genome id, a classification task …).
    pub dataset: String,
    /// Name of the main metric.
    pub metric: String,
    /// The model's value.
    #[serde(deserialize_with = "de_f64")]
    pub value: f64,
    /// The baseline's value on the same positions (NaN when none; `null` in JSON).
    #[serde(deserialize_with = "de_f64")]
    pub baseline: f64,
    /// Which baseline.
    pub baseline_name: String,
    /// Is a larger value better?
    pub higher_is_better: bool,
    /// Items scored (tokens, positions, sequences, neurons …).
    pub n: usize,
    /// Genomes used.
    pub genomes: Vec<String>,
    /// Further metrics: `(name, model, baseline)`.
    #[serde(deserialize_with = "de_extra")]
    pub extra: Vec<(String, f64, f64)>,
    /// Wall-clock seconds of the task on this dataset.
    pub seconds: f64,
}

// JSON has no NaN: serde_json writes it as null, read back as NaN.
fn de_f64<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

#[allow(clippy::type_complexity)]
fn de_extra<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<(String, f64, f64)>, D::Error> {
    let v: Vec<(String, Option<f64>, Option<f64>)> = Vec::deserialize(d)?;
    Ok(v.into_iter()
        .map(|(n, a, b)| (n, a.unwrap_or(f64::NAN), b.unwrap_or(f64::NAN)))
        .collect())
}

impl BenchRow {
    /// Improvement over the baseline in the direction of "better" (NaN without a baseline).
    pub fn skill(&self) -> f64 {
        if self.higher_is_better {
            self.value - self.baseline
        } else {
            self.baseline - self.value
        }
    }
}

/// A genome the benchmark used, with its role and file checksums.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetRecord {
    /// Genome id.
    pub genome: String,
    /// Kingdom.
    pub kingdom: String,
    /// `train` (Markov baseline, classification training) or `held_out`.
    pub role: String,
    /// `(path, sha256)` of its files, as in the corpus manifest.
    pub files: Vec<(String, String)>,
}

/// Everything a benchmark run measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchmarkReport {
    /// Model name.
    pub model: String,
    /// Architecture label.
    pub arch: String,
    /// Trainable parameters.
    pub n_params: usize,
    /// Device.
    pub device: String,
    /// Where the checkpoint came from, if from a file.
    pub checkpoint: Option<PathBuf>,
    /// Where the training genomes came from.
    pub train_source: String,
    /// One row per task × dataset.
    pub rows: Vec<BenchRow>,
    /// Tasks that could not run here, with the reason.
    pub skipped: Vec<(String, String)>,
    /// Genomes used, with checksums.
    pub datasets: Vec<DatasetRecord>,
    /// The options.
    pub options: BenchOptions,
    /// Seconds for the whole suite.
    pub seconds: f64,
    /// genolm version.
    pub version: String,
}

/// A model to benchmark: borrowed, or loaded from a checkpoint path.
pub enum ModelRef<'a> {
    /// A model in memory.
    Borrowed(&'a GenomicModel),
    /// A checkpoint to load (file or run folder).
    Path(PathBuf),
}

impl<'a> From<&'a GenomicModel> for ModelRef<'a> {
    fn from(m: &'a GenomicModel) -> Self {
        ModelRef::Borrowed(m)
    }
}
impl From<&str> for ModelRef<'_> {
    fn from(p: &str) -> Self {
        ModelRef::Path(p.into())
    }
}
impl From<&String> for ModelRef<'_> {
    fn from(p: &String) -> Self {
        ModelRef::Path(p.into())
    }
}
impl From<&Path> for ModelRef<'_> {
    fn from(p: &Path) -> Self {
        ModelRef::Path(p.into())
    }
}
impl From<PathBuf> for ModelRef<'_> {
    fn from(p: PathBuf) -> Self {
        ModelRef::Path(p)
    }
}

/// Seed 002's `transferabilityTest(model)`: the whole suite with default sizes, from a model
/// or a checkpoint path. An alias of [`benchmark`] with `BenchOptions::default()`.
pub fn transferability_test<'a>(model: impl Into<ModelRef<'a>>) -> Result<BenchmarkReport> {
    benchmark(model, &BenchOptions::default())
}

/// What the tasks share: the model, the corpus with its training / held-out genomes, the
/// Markov baseline and the options.
pub struct BenchContext<'a> {
    /// The model.
    pub model: &'a GenomicModel,
    /// Its tokenizer.
    pub tok: KmerTokenizer,
    /// The corpus.
    pub corpus: Corpus,
    /// Training genomes (indices into the corpus).
    pub train: Vec<usize>,
    /// Genomes not used in training.
    pub held_out: Vec<usize>,
    /// The Markov baseline fitted on `train`.
    pub markov: MarkovModel,
    /// Options.
    pub opts: BenchOptions,
    /// Summary of the training run, when known (`summary.json`).
    pub run_summary: Option<RunSummary>,
    /// States and annotation targets per genome, computed once and shared by the two neuron
    /// tasks.
    pub neuron_states: NeuronStates,
}

/// The cache of [`BenchContext::neuron_states`].
pub type NeuronStates = std::sync::Mutex<
    std::collections::HashMap<usize, Option<std::sync::Arc<neurons::StatesAndTargets>>>,
>;

impl BenchContext<'_> {
    /// The skip of tasks that predict single bases: with a stride larger than k, some bases
    /// are covered by no token and never predicted.
    pub fn base_prediction_skip(&self) -> Option<Outcome> {
        (self.tok.stride > self.tok.k).then(|| {
            Outcome::Skipped(format!(
                "predicting single bases needs stride ≤ k (this tokenizer: k = {}, stride = {})",
                self.tok.k, self.tok.stride
            ))
        })
    }

    /// Prediction options for scoring.
    pub fn predict_options(&self) -> PredictOptions {
        PredictOptions {
            batch_size: self.opts.batch_size,
            ..PredictOptions::default()
        }
    }

    /// Held-out genomes of a kingdom.
    pub fn held_out_of(&self, k: Kingdom) -> Vec<usize> {
        self.held_out
            .iter()
            .copied()
            .filter(|&i| self.corpus.genomes[i].meta.kingdom == k)
            .collect()
    }

    /// Held-out genomes with annotation.
    pub fn annotated_held_out(&self) -> Vec<usize> {
        self.held_out
            .iter()
            .copied()
            .filter(|&i| self.corpus.genomes[i].is_annotated())
            .collect()
    }

    /// Genome id.
    pub fn id(&self, g: usize) -> String {
        self.corpus.genomes[g].meta.id.clone()
    }

    /// Evenly spaced chunks of `chunk_len` bases of genome `g`, `bases_per_genome` in all
    /// (0 = every base), as `(name, contig index, start, bases)`.
    pub fn chunks(&self, g: usize) -> Vec<(String, usize, usize, Vec<u8>)> {
        genome_chunks(
            &self.corpus.genomes[g],
            self.opts.bases_per_genome,
            self.opts.chunk_len,
        )
    }

    /// Reads of the given genomes.
    pub fn reads(&self, genomes: &[usize]) -> Result<Vec<crate::data::corpus::Read>> {
        self.corpus.sample_reads(
            genomes,
            &SampleReadsOptions {
                len: self.opts.read_len,
                per_genome: Some(self.opts.reads_per_genome),
                seed: self.opts.seed,
                ..SampleReadsOptions::default()
            },
        )
    }

    fn log(&self, msg: &str) {
        if self.opts.verbose {
            eprintln!("[bench] {msg}");
        }
    }
}

/// Evenly spaced chunks of a genome (see [`BenchContext::chunks`]).
pub fn genome_chunks(
    genome: &crate::data::corpus::Genome,
    total: usize,
    chunk_len: usize,
) -> Vec<(String, usize, usize, Vec<u8>)> {
    let len = genome.len();
    let chunk_len = chunk_len.max(1);
    let mut out = Vec::new();
    if total == 0 || total >= len {
        for (ci, c) in genome.contigs.iter().enumerate() {
            out.push((c.name.clone(), ci, 0, c.seq.clone()));
        }
        return out;
    }
    let n = total.div_ceil(chunk_len);
    let step = len / n;
    for i in 0..n {
        // global start → (contig, local start), clipped to the contig
        let mut g0 = i * step;
        for (ci, c) in genome.contigs.iter().enumerate() {
            if g0 < c.seq.len() {
                let end = (g0 + chunk_len).min(c.seq.len());
                if end > g0 {
                    out.push((
                        format!("{}:{}-{}", c.name, g0 + 1, end),
                        ci,
                        g0,
                        c.seq[g0..end].to_vec(),
                    ));
                }
                break;
            }
            g0 -= c.seq.len();
        }
    }
    out
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

    /// The rows (empty when skipped).
    pub fn rows(self) -> Vec<BenchRow> {
        match self {
            Outcome::Rows(r) => r,
            Outcome::Skipped(_) => Vec::new(),
        }
    }
}

/// Run the tasks of `opts` on a model, a run folder or a checkpoint (the benchmark's one entry
/// point; [`transferability_test`] is it with default options).
pub fn benchmark<'a>(
    model: impl Into<ModelRef<'a>>,
    opts: &BenchOptions,
) -> Result<BenchmarkReport> {
    let t0 = Instant::now();
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
    let summary = match ckpt.as_deref() {
        Some(c) => read_summary(c)?,
        None => None,
    };
    let corpus_name = opts.corpus.clone().or_else(|| {
        summary
            .as_ref()
            .and_then(|s| Some(s.data.as_ref()?.corpus.clone()))
    });
    let corpus = Corpus::open(corpus_name.as_deref().unwrap_or("embedded"))?;
    let (train_ids, train_source) = if let Some(t) = &opts.train_genomes {
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
    let mut train = Vec::new();
    for id in &train_ids {
        match corpus.index_of(id) {
            Some(i) => train.push(i),
            None => {
                return Err(Error::Input(format!(
                    "training genome {id:?} is not in corpus {}",
                    corpus.name
                )))
            }
        }
    }
    let held_out: Vec<usize> = (0..corpus.genomes.len())
        .filter(|i| !train.contains(i))
        .collect();
    if held_out.is_empty() {
        return Err(Error::Input(
            "every corpus genome was used in training: nothing is held out to benchmark on".into(),
        ));
    }
    let markov = MarkovModel::fit(
        train
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
    let mut rows = Vec::new();
    let mut skipped = Vec::new();
    type TaskFn = fn(&BenchContext) -> Result<Outcome>;
    let tasks: [(Task, TaskFn); 11] = [
        (Task::Transfer, transfer::run),
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
    for (task, f) in tasks {
        if !opts.wants(task) {
            continue;
        }
        let t = Instant::now();
        ctx.log(&format!("{} …", task.name()));
        match f(&ctx)? {
            Outcome::Rows(r) => rows.extend(r),
            Outcome::Skipped(why) => skipped.push((task.name().to_string(), why)),
        }
        ctx.log(&format!(
            "{} done in {:.1} s",
            task.name(),
            t.elapsed().as_secs_f64()
        ));
    }
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
    })
}

impl BenchmarkReport {
    /// One row per task × dataset: main metric for the model and the baseline, the skill
    /// (improvement in the better direction), items, seconds and the other metrics.
    pub fn table(&self) -> Result<Table> {
        use polars::prelude::*;
        let r = &self.rows;
        let details: Vec<String> = r
            .iter()
            .map(|x| {
                x.extra
                    .iter()
                    .map(|(n, m, b)| {
                        if b.is_nan() {
                            format!("{n}={m:.4}")
                        } else {
                            format!("{n}={m:.4} (base {b:.4})")
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .collect();
        let df = df!(
            "model" => r.iter().map(|_| self.model.clone()).collect::<Vec<_>>(),
            "task" => r.iter().map(|x| x.task.clone()).collect::<Vec<_>>(),
            "dataset" => r.iter().map(|x| x.dataset.clone()).collect::<Vec<_>>(),
            "metric" => r.iter().map(|x| x.metric.clone()).collect::<Vec<_>>(),
            "value" => r.iter().map(|x| x.value).collect::<Vec<_>>(),
            "baseline" => r.iter().map(|x| x.baseline).collect::<Vec<_>>(),
            "baseline_name" => r.iter().map(|x| x.baseline_name.clone()).collect::<Vec<_>>(),
            "skill" => r.iter().map(|x| x.skill()).collect::<Vec<_>>(),
            "n" => r.iter().map(|x| x.n as u64).collect::<Vec<_>>(),
            "seconds" => r.iter().map(|x| x.seconds).collect::<Vec<_>>(),
            "details" => details,
        )?;
        Ok(Table::new(format!("benchmark_{}", self.model), df))
    }

    /// Every metric in long format: model, task, dataset, metric, value, baseline.
    pub fn metrics_table(&self) -> Result<Table> {
        use polars::prelude::*;
        let (mut t, mut d, mut m, mut v, mut b) = (vec![], vec![], vec![], vec![], vec![]);
        for r in &self.rows {
            t.push(r.task.clone());
            d.push(r.dataset.clone());
            m.push(r.metric.clone());
            v.push(r.value);
            b.push(r.baseline);
            for (name, mv, bv) in &r.extra {
                t.push(r.task.clone());
                d.push(r.dataset.clone());
                m.push(name.clone());
                v.push(*mv);
                b.push(*bv);
            }
        }
        let df = df!(
            "model" => t.iter().map(|_| self.model.clone()).collect::<Vec<_>>(),
            "task" => t, "dataset" => d, "metric" => m, "value" => v, "baseline" => b,
        )?;
        Ok(Table::new(format!("benchmark_metrics_{}", self.model), df))
    }

    /// The genomes used (role and checksums).
    pub fn datasets_table(&self) -> Result<Table> {
        use polars::prelude::*;
        let d = &self.datasets;
        let df = df!(
            "genome" => d.iter().map(|x| x.genome.clone()).collect::<Vec<_>>(),
            "kingdom" => d.iter().map(|x| x.kingdom.clone()).collect::<Vec<_>>(),
            "role" => d.iter().map(|x| x.role.clone()).collect::<Vec<_>>(),
            "files" => d.iter().map(|x| x.files.iter().map(|f| f.0.clone()).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>(),
            "sha256" => d.iter().map(|x| x.files.iter().map(|f| f.1.clone()).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>(),
        )?;
        Ok(Table::new("benchmark_datasets", df))
    }

    /// The row of a task on a dataset.
    pub fn get(&self, task: &str, dataset: &str) -> Option<&BenchRow> {
        self.rows
            .iter()
            .find(|r| r.task == task && r.dataset == dataset)
    }

    /// Summary figure: the skill over the baseline of every row with one (bars; positive =
    /// better than the Markov / null baseline).
    pub fn plot(&self) -> Result<Figure> {
        let rows: Vec<&BenchRow> = self.rows.iter().filter(|r| r.skill().is_finite()).collect();
        let labels: Vec<String> = rows
            .iter()
            .map(|r| format!("{} {}", short_task(&r.task), r.dataset))
            .collect();
        let values: Vec<f64> = rows.iter().map(|r| r.skill()).collect();
        Figure::bars(
            &format!("{} vs baselines", self.model),
            "improvement over baseline",
            &labels,
            &values,
            None,
        )
    }

    /// Write the report as JSON (atomically).
    pub fn save_json(&self, path: impl AsRef<Path>) -> Result<()> {
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Input(format!("report does not serialise: {e}")))?;
        crate::fsio::atomic_write(path.as_ref(), &json)
    }

    /// Read a report written by [`save_json`](Self::save_json).
    pub fn load_json(path: impl AsRef<Path>) -> Result<Self> {
        let p = path.as_ref();
        let s = std::fs::read_to_string(p).map_err(|e| Error::io(p, e))?;
        serde_json::from_str(&s)
            .map_err(|e| Error::parse(p.display().to_string(), e.line(), e.to_string()))
    }

    /// Markdown of the main table (for docs and reports).
    pub fn to_markdown(&self) -> String {
        let mut s = String::from(
            "| task | dataset | metric | model | baseline | skill | n |\n|---|---|---|---|---|---|---|\n",
        );
        for r in &self.rows {
            s.push_str(&format!(
                "| {} | {} | {} | {:.4} | {} | {} | {} |\n",
                r.task,
                r.dataset,
                r.metric,
                r.value,
                if r.baseline.is_nan() {
                    "–".into()
                } else {
                    format!("{:.4} ({})", r.baseline, r.baseline_name)
                },
                if r.skill().is_nan() {
                    "–".into()
                } else {
                    format!("{:+.4}", r.skill())
                },
                r.n
            ));
        }
        for (t, why) in &self.skipped {
            s.push_str(&format!("| {t} | – | skipped: {why} | | | | |\n"));
        }
        s
    }

    /// Inline display in evcxr: the table, the skipped tasks and the summary figure.
    pub fn evcxr_display(&self) {
        let mut html = format!(
            "<h4>{} ({}, {} parameters) — {:.0} s; training genomes: {}</h4>",
            crate::fsio::xml(&self.model),
            crate::fsio::xml(&self.arch),
            self.n_params,
            self.seconds,
            crate::fsio::xml(&self.train_source)
        );
        if let Ok(t) = self.table() {
            html.push_str(&t.to_html());
        }
        for (t, why) in &self.skipped {
            html.push_str(&format!(
                "<p>skipped {}: {}</p>",
                crate::fsio::xml(t),
                crate::fsio::xml(why)
            ));
        }
        if let Ok(f) = self.plot() {
            html.push_str(f.svg());
        }
        println!("EVCXR_BEGIN_CONTENT text/html\n{html}\nEVCXR_END_CONTENT");
    }
}

fn short_task(t: &str) -> &str {
    match t {
        "impute_nucleotide" => "imp1",
        "impute_fragment" => "imp2",
        "rare_species" => "rare",
        "conservation" => "cons",
        "classification" => "cls",
        "importance" => "del",
        other => other,
    }
}

/// Kingdoms in report order.
pub const KINGDOMS: [Kingdom; 3] = [Kingdom::Pro, Kingdom::Euk, Kingdom::Vir];
