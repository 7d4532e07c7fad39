//! `genolm train --config run.toml`: one TOML file names the data, the model, the schedule
//! and the output folder; the run writes a checkpoint (resumable) and `summary.json`.
//!
//! ```toml
//! output = "runs/awd"
//!
//! [data]
//! corpus = "embedded"        # or a folder (see Corpus::from_dir) or a manifest.json
//! bptt = 64
//! batch_size = 32
//!
//! [model]
//! preset = "awd_lstm_small"  # any ModelConfig field may follow and override the preset
//!
//! [train]
//! epochs = 2
//! lr = 5e-3
//! ```
//!
//! ```
//! use genolm::train::run::RunConfig;
//! let cfg = RunConfig::from_toml_str("output = \"runs/x\"\n[model]\npreset = \"tiny\"\n").unwrap();
//! assert_eq!(cfg.model.name, "tiny");
//! assert!(RunConfig::from_toml_str("output = \"x\"\n[trian]\nepochs = 1\n").is_err());
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::history::History;
use super::learner::{Data, EarlyStopping, Learner, LearnerOptions, Precision};
use super::optim::AdamWOptions;
use super::schedule::ScheduleKind;
use super::source::CorpusSource;
use crate::data::batch::{LmBatcher, MlmBatcher, MlmOptions};
use crate::data::corpus::{Corpus, GenomeMeta, Kingdom, SplitLevel, SplitOptions, Splits};
use crate::data::streams::TokenStreams;
use crate::data::tokenize::{informed_random_loss, KmerTokenizer};
use crate::models::{DeviceChoice, GenomicModel, Head, ModelConfig};
use crate::{Error, Result};

/// The `[data]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// `embedded`, a corpus folder, or a `manifest.json`.
    pub corpus: String,
    /// Kingdoms to train on (`PRO`, `EUK`, `VIR`); empty = all.
    pub kingdoms: Vec<Kingdom>,
    /// Split level: `genome` or `species`.
    pub split_level: SplitLevel,
    /// Split seed.
    pub split_seed: u64,
    /// Tokens per training window.
    pub bptt: usize,
    /// Rows per batch.
    pub batch_size: usize,
    /// Add reverse complements of the training contigs.
    pub reverse_complement: bool,
    /// Seed of the batch order.
    pub batch_seed: u64,
    /// The corpus mix: how many times each training genome of a kingdom enters an epoch's
    /// token streams (`kingdom_repeats = { EUK = 3 }`: every eukaryotic training genome three
    /// times, so a kingdom with few training bases gets a larger share of the steps); kingdoms
    /// not named count once. The benchmark counts its Markov baseline with the same repeats.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub kingdom_repeats: BTreeMap<Kingdom, usize>,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            corpus: "embedded".into(),
            kingdoms: Vec::new(),
            split_level: SplitLevel::Genome,
            split_seed: 42,
            bptt: 64,
            batch_size: 32,
            reverse_complement: false,
            batch_seed: 1,
            kingdom_repeats: BTreeMap::new(),
        }
    }
}

/// The `[train]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Epochs.
    pub epochs: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// `one_cycle`, `cosine` or `constant`.
    pub schedule: ScheduleKind,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Gradient-norm clipping (0 = off).
    pub clip: f64,
    /// Seed of initialisation and dropout.
    pub seed: u64,
    /// `auto`, `f32`, `bf16` or `f16`.
    pub precision: Precision,
    /// Training batches per epoch (0 = all).
    pub max_batches: usize,
    /// Validation batches (0 = all).
    pub valid_max_batches: usize,
    /// Early-stopping patience in epochs (0 = off).
    pub early_stopping: usize,
    /// `cpu`, `cuda` or `auto`.
    pub device: DeviceChoice,
    /// Start from the weights of this checkpoint instead of a random initialisation: a
    /// `.safetensors` file, a run folder, or `pretrained` / `pretrained:<name>` (the
    /// [shipped models](crate::models::pretrained)). The run's `[model]` must have the
    /// checkpoint's architecture (dropouts may differ). Fine-tuning keeps the split of the
    /// checkpoint's run (see [`RunConfig::fine_tune`]), so its held-out genomes stay unseen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<String>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 2,
            lr: 5e-3,
            schedule: ScheduleKind::OneCycle,
            weight_decay: 1e-2,
            clip: 1.0,
            seed: 42,
            precision: Precision::Auto,
            max_batches: 0,
            valid_max_batches: 0,
            early_stopping: 0,
            device: DeviceChoice::Auto,
            init: None,
        }
    }
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunConfig {
    /// Output folder (checkpoint + summary).
    pub output: PathBuf,
    /// Data.
    pub data: DataConfig,
    /// Model.
    pub model: ModelConfig,
    /// Training.
    pub train: TrainConfig,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    output: PathBuf,
    #[serde(default)]
    data: DataConfig,
    #[serde(default)]
    model: Option<toml::Value>,
    #[serde(default)]
    train: TrainConfig,
}

impl RunConfig {
    /// Parse a run file's text.
    pub fn from_toml_str(s: &str) -> Result<Self> {
        let raw: RawRun = toml::from_str(s)
            .map_err(|e: toml::de::Error| Error::Config(format!("run config: {}", e.message())))?;
        let model = match raw.model {
            Some(v) => ModelConfig::from_toml_value(v)?,
            None => ModelConfig::default(),
        };
        Ok(RunConfig {
            output: raw.output,
            data: raw.data,
            model,
            train: raw.train,
        })
    }

    /// The run file of a finished or running run: `run.toml` in its output folder (written
    /// by [`run_training`]; the same format `genolm train --config` reads).
    pub fn load(run: impl AsRef<Path>) -> Result<Self> {
        Self::from_file(run.as_ref().join("run.toml"))
    }

    /// This run as a run file (TOML): every model field spelled out, so it rebuilds the same
    /// run whatever the presets become.
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Config(format!("run config: {e}")))
    }

    /// Read a run file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let s = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::from_toml_str(&s).map_err(|e| match e {
            Error::Config(m) => Error::Config(format!("{}: {m}", path.display())),
            e => e,
        })
    }
}

/// Validation quality of a language model on one kingdom's held-out genomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KingdomEval {
    /// Kingdom.
    pub kingdom: String,
    /// Genomes evaluated.
    pub genomes: Vec<String>,
    /// Tokens scored.
    pub tokens: usize,
    /// Mean cross-entropy (nats per token).
    pub loss: f64,
    /// Next-token (or masked-token) accuracy.
    pub accuracy: f64,
    /// The informed-random point `ln(4^s)` of the tokenizer.
    pub informed_random: f64,
}

/// What a run produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    /// Model name and architecture.
    pub model: String,
    /// Architecture label.
    pub arch: String,
    /// Trainable parameters.
    pub n_params: usize,
    /// Device description.
    pub device: String,
    /// Per-epoch records.
    pub history: History,
    /// Per-kingdom validation.
    pub valid: Vec<KingdomEval>,
    /// Per-kingdom test (held-out genomes never used for model selection).
    pub test: Vec<KingdomEval>,
    /// Wall-clock minutes of the run.
    pub minutes: f64,
    /// Where the checkpoint is.
    pub checkpoint: PathBuf,
    /// Ids of the training genomes (the benchmark holds out everything else).
    #[serde(default)]
    pub train_genomes: Vec<String>,
    /// The `[data]` section of the run.
    #[serde(default)]
    pub data: Option<DataConfig>,
}

fn lm_data(
    streams: TokenStreams,
    cfg: &ModelConfig,
    d: &DataConfig,
    seed: u64,
    stateful: bool,
) -> Result<Data> {
    Ok(match cfg.head {
        Head::Mlm => Data::Mlm(MlmBatcher::new(
            streams,
            d.batch_size,
            d.bptt,
            cfg.vocab(),
            MlmOptions::default(),
            seed,
        )?),
        _ => Data::Lm(LmBatcher::new(
            streams,
            d.batch_size,
            d.bptt,
            stateful,
            seed,
        )?),
    })
}

impl RunSummary {
    /// A text summary: the model, then validation and test loss per kingdom against the
    /// informed-random point, time and checkpoint (what `genolm train` prints).
    pub fn text(&self) -> String {
        let mut out = format!(
            "\n{} ({}, {} parameters) on {}:\n{:<6} {:<5} {:>9} {:>8} {:>9} {:>16}\n",
            self.model,
            self.arch,
            self.n_params,
            self.device,
            "split",
            "king.",
            "tokens",
            "loss",
            "accuracy",
            "ln(4^s) − loss"
        );
        for (split, rows) in [("valid", &self.valid), ("test", &self.test)] {
            for r in rows.iter() {
                out.push_str(&format!(
                    "{split:<6} {:<5} {:>9} {:>8.4} {:>9.4} {:>16.4}\n",
                    r.kingdom,
                    r.tokens,
                    r.loss,
                    r.accuracy,
                    r.informed_random - r.loss
                ));
            }
        }
        out.push_str(&format!(
            "{:.2} minutes; checkpoint in {} (model.safetensors, optimizer.safetensors, state.json, summary.json)",
            self.minutes,
            self.checkpoint.display()
        ));
        out
    }

    /// Read the `summary.json` of a run folder (or of the folder holding a checkpoint file).
    ///
    /// ```no_run
    /// let s = genolm::train::run::RunSummary::load("runs/quickstart")?;
    /// println!("{} epochs, test loss {:?}", s.history.len(), s.test.iter().map(|k| k.loss).collect::<Vec<_>>());
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn load(run: impl AsRef<Path>) -> Result<RunSummary> {
        let run = run.as_ref();
        let dir = if run.is_file() {
            run.parent().unwrap_or(Path::new("."))
        } else {
            run
        };
        let path = dir.join("summary.json");
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::parse(
                path.display().to_string(),
                e.line(),
                format!("not a genolm run summary: {e}"),
            )
        })
    }
}

impl RunConfig {
    /// The quickstart run: the small AWD-LSTM on the embedded corpus (default split with
    /// `seed`), `epochs` × `batches` training batches on the CPU, checkpoint and summary in `output`.
    /// `genolm quickstart` and the notebooks train exactly this.
    ///
    /// ```
    /// let cfg = genolm::train::run::RunConfig::quickstart("runs/quickstart", 42, 2, 150);
    /// assert_eq!(cfg.train.max_batches, 150);
    /// ```
    pub fn quickstart(
        output: impl Into<PathBuf>,
        seed: u64,
        epochs: usize,
        batches: usize,
    ) -> RunConfig {
        RunConfig {
            output: output.into(),
            data: DataConfig {
                split_seed: seed,
                ..Default::default()
            },
            model: ModelConfig::awd_lstm_small(),
            train: TrainConfig {
                epochs,
                lr: 1e-2,
                max_batches: batches,
                valid_max_batches: 40,
                seed,
                device: DeviceChoice::Cpu,
                ..Default::default()
            },
        }
    }
}

impl RunConfig {
    /// A run that fine-tunes checkpoint `init` (a path, a run folder, or `pretrained` /
    /// `pretrained:<name>`) for `epochs` × `batches` batches at peak learning rate `lr` (one
    /// cycle): its architecture and dropouts, and — so the held-out genomes stay unseen — the
    /// data section (split, BPTT, batch size) of the run that trained it, read from the
    /// `summary.json` beside the checkpoint (the default split when there is none). This is
    /// what `genolm quickstart` trains.
    ///
    /// ```
    /// let cfg = genolm::train::run::RunConfig::fine_tune("runs/ft", "pretrained", 42, 1, 100, 1e-3)?;
    /// assert_eq!(cfg.train.init.as_deref(), Some("pretrained"));
    /// assert_eq!(cfg.model.name, "awd_lstm_small");
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn fine_tune(
        output: impl Into<PathBuf>,
        init: &str,
        seed: u64,
        epochs: usize,
        batches: usize,
        lr: f64,
    ) -> Result<RunConfig> {
        let from = GenomicModel::load(init, &candle_core::Device::Cpu)?;
        let ckpt = crate::models::model::resolve_checkpoint(Path::new(init));
        let data = RunSummary::load(&ckpt)
            .ok()
            .and_then(|s| s.data)
            .unwrap_or_default();
        Ok(RunConfig {
            output: output.into(),
            data,
            model: from.config().clone(),
            train: TrainConfig {
                epochs,
                lr,
                max_batches: batches,
                valid_max_batches: 40,
                seed,
                device: DeviceChoice::Cpu,
                init: Some(init.to_string()),
                ..Default::default()
            },
        })
    }
}

/// The trained model of run `cfg`: loaded from `cfg.output` when that run finished before
/// (its `summary.json` exists), otherwise trained now with [`run_training`] (resuming an
/// interrupted run from its checkpoint). Notebooks call this so that re-running a cell, or a
/// later notebook, reuses the model instead of training it again. A finished run whose
/// training genomes differ from the ones `cfg` would train on now (another corpus version,
/// split or seed) is trained again from scratch, with a message, instead of being reused.
///
/// ```no_run
/// use genolm::train::run::{train_or_load, RunConfig};
/// let model = train_or_load(&RunConfig::quickstart("runs/quickstart", 42, 2, 150))?;
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn train_or_load(cfg: &RunConfig) -> Result<GenomicModel> {
    let device = cfg.train.device.open()?;
    let ckpt = cfg.output.join("model.safetensors");
    let summary = cfg.output.join("summary.json");
    if summary.exists() && ckpt.exists() {
        let done = RunSummary::load(&cfg.output)?;
        let corpus = load_corpus(&cfg.data)?;
        let mut now = corpus.ids(&run_splits(&corpus, &cfg.data)?.train);
        let mut then = done.train_genomes;
        now.sort();
        then.sort();
        if then.is_empty() || then == now {
            return GenomicModel::load(&ckpt, &device);
        }
        eprintln!(
            "{}: trained on [{}], the config now trains on [{}]: training again",
            cfg.output.display(),
            then.join(", "),
            now.join(", ")
        );
        run_training(cfg, false)?;
    } else {
        let resume = cfg.output.join("state.json").exists();
        run_training(cfg, resume)?;
    }
    GenomicModel::load(&ckpt, &device)
}

/// Per-kingdom evaluation of `model` on the genomes `ids` of `corpus`.
pub fn eval_by_kingdom(
    model: &GenomicModel,
    corpus: &Corpus,
    ids: &[usize],
    d: &DataConfig,
    max_batches: usize,
) -> Result<Vec<KingdomEval>> {
    let tok: KmerTokenizer = model.config().tokenizer()?;
    let metas: Vec<&GenomeMeta> = corpus.genomes.iter().map(|g| &g.meta).collect();
    eval_kingdoms(model, &metas, ids, d, max_batches, |g| {
        Ok(corpus.token_streams(g, &tok, false).into())
    })
}

/// [`eval_by_kingdom`] over a [`CorpusSource`] (memory or token shards).
pub fn eval_source_by_kingdom(
    model: &GenomicModel,
    src: &CorpusSource,
    ids: &[usize],
    d: &DataConfig,
    max_batches: usize,
) -> Result<Vec<KingdomEval>> {
    let tok: KmerTokenizer = model.config().tokenizer()?;
    eval_kingdoms(model, &src.metas(), ids, d, max_batches, |g| {
        src.streams(g, &tok, false)
    })
}

fn eval_kingdoms(
    model: &GenomicModel,
    metas: &[&GenomeMeta],
    ids: &[usize],
    d: &DataConfig,
    max_batches: usize,
    streams_of: impl Fn(&[usize]) -> Result<TokenStreams>,
) -> Result<Vec<KingdomEval>> {
    let mut out = Vec::new();
    for k in [Kingdom::Pro, Kingdom::Euk, Kingdom::Vir] {
        let g: Vec<usize> = ids
            .iter()
            .copied()
            .filter(|&i| metas[i].kingdom == k)
            .collect();
        if g.is_empty() {
            continue;
        }
        let streams = streams_of(&g)?;
        let total: usize = (0..streams.len())
            .map(|i| streams.stream_len(i).saturating_sub(1))
            .sum();
        // Small genomes (viruses) get smaller batches so that they can be scored at all.
        let mut dd = d.clone();
        while dd.batch_size > 1 && total < dd.batch_size * dd.bptt * 2 {
            dd.batch_size /= 2;
        }
        let data = lm_data(streams, model.config(), &dd, 7, model.config().stateful)?;
        let r = super::learner::evaluate(model, &data, max_batches)?;
        out.push(KingdomEval {
            kingdom: k.as_str().into(),
            genomes: g.iter().map(|&i| metas[i].id.clone()).collect(),
            tokens: r.n,
            loss: r.loss,
            accuracy: r.accuracy,
            informed_random: informed_random_loss(model.config().stride),
        });
    }
    Ok(out)
}

/// Load the corpus named in a `[data]` section (see [`Corpus::open`]).
pub fn load_corpus(d: &DataConfig) -> Result<Corpus> {
    Corpus::open(&d.corpus)
}

impl DataConfig {
    /// The split options of this `[data]` section.
    pub fn split_options(&self) -> SplitOptions {
        SplitOptions {
            level: self.split_level,
            seed: self.split_seed,
            ..SplitOptions::default()
        }
    }

    /// The corpus mix in words (`EUK × 3`), or `None` without one.
    pub fn mix_label(&self) -> Option<String> {
        (!self.kingdom_repeats.is_empty()).then(|| {
            self.kingdom_repeats
                .iter()
                .map(|(k, n)| format!("{} × {n}", k.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }

    /// `genomes` with each one repeated as [`kingdom_repeats`](Self::kingdom_repeats) asks
    /// for its kingdom (`kingdom(g)`), in their order: the training genomes whose streams an
    /// epoch walks, and the counts of the benchmark's Markov baseline.
    ///
    /// ```
    /// use genolm::data::corpus::Kingdom;
    /// use genolm::train::run::DataConfig;
    /// let mut d = DataConfig::default();
    /// d.kingdom_repeats.insert(Kingdom::Euk, 3);
    /// let kingdom = |g: usize| if g == 1 { Kingdom::Euk } else { Kingdom::Pro };
    /// assert_eq!(d.repeated(&[0, 1, 2], kingdom)?, vec![0, 1, 1, 1, 2]);
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn repeated(
        &self,
        genomes: &[usize],
        kingdom: impl Fn(usize) -> Kingdom,
    ) -> Result<Vec<usize>> {
        if let Some((k, _)) = self.kingdom_repeats.iter().find(|(_, &n)| n == 0) {
            return Err(Error::Config(format!(
                "kingdom_repeats: {} = 0 would drop the kingdom; leave it out of `kingdoms` instead",
                k.as_str()
            )));
        }
        Ok(genomes
            .iter()
            .flat_map(|&g| {
                let n = self.kingdom_repeats.get(&kingdom(g)).copied().unwrap_or(1);
                std::iter::repeat_n(g, n)
            })
            .collect())
    }
}

/// The training, validation and test genomes of a run: the corpus split of `d` after its
/// kingdom filter (genomes of other kingdoms are in none of the three). The one place the
/// split of a run is decided: the trainer, [`train_or_load`], the training report and the
/// benchmark all call it.
pub fn run_splits(corpus: &Corpus, d: &DataConfig) -> Result<Splits> {
    let metas: Vec<&GenomeMeta> = corpus.genomes.iter().map(|g| &g.meta).collect();
    super::source::splits_of(&metas, d)
}

/// Run a whole training job: load data, build (or resume) the model, train with checkpoints
/// in `cfg.output`, evaluate per kingdom on validation and test genomes, write `summary.json`.
pub fn run_training(cfg: &RunConfig, resume: bool) -> Result<RunSummary> {
    run_training_with(cfg, resume, &RunOptions::default())
}

/// How [`run_training_with`] runs a job.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    /// Stop at the first epoch end at or after this optimizer step (the checkpoint keeps the
    /// unfinished fit, so a later call with a larger stop continues it exactly: how a
    /// hyperparameter search promotes a trial to a larger budget).
    pub stop_at_step: Option<usize>,
    /// Evaluate per kingdom on the validation and test genomes at the end.
    pub kingdom_eval: bool,
    /// Print progress.
    pub verbose: bool,
    /// Train data-parallel across the processes of this job ([`super::dist`]): each rank
    /// trains on its rows of every batch; rank 0 writes the checkpoints, logs and summary.
    pub distributed: Option<super::dist::Engine>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            stop_at_step: None,
            kingdom_eval: true,
            verbose: true,
            distributed: None,
        }
    }
}

struct StopAtStep(usize);

impl super::callbacks::Callback for StopAtStep {
    fn on_epoch_end(
        &mut self,
        r: &super::history::EpochRecord,
        _h: &[super::history::EpochRecord],
    ) -> super::callbacks::Control {
        if r.step >= self.0 {
            super::callbacks::Control::Stop
        } else {
            super::callbacks::Control::Continue
        }
    }
}

/// [`run_training`] with [`RunOptions`].
pub fn run_training_with(cfg: &RunConfig, resume: bool, ro: &RunOptions) -> Result<RunSummary> {
    let t0 = Instant::now();
    let mut device = cfg.train.device.open()?;
    let collective = match ro.distributed {
        Some(engine) => {
            std::fs::create_dir_all(&cfg.output).map_err(|e| Error::io(&cfg.output, e))?;
            if engine == super::dist::Engine::Nccl && device.is_cuda() {
                // one GPU per rank on a node
                device = candle_core::Device::new_cuda(super::dist::local_rank())?;
            }
            Some(super::dist::connect(engine, &device, &cfg.output)?)
        }
        None => None,
    };
    let lead = collective.as_ref().is_none_or(|c| c.rank() == 0);
    if lead {
        crate::fsio::atomic_write(
            &cfg.output.join("run.toml"),
            cfg.to_toml_string()?.as_bytes(),
        )?;
    }
    let corpus = CorpusSource::open(&cfg.data)?;
    let splits = corpus.splits(&cfg.data)?;
    let (tr, va, te) = (&splits.train, &splits.valid, &splits.test);
    let tok = cfg.model.tokenizer()?;
    let metas = corpus.metas();
    let mix = cfg.data.repeated(tr, |g| metas[g].kingdom)?;
    let train_streams = corpus.streams(&mix, &tok, cfg.data.reverse_complement)?;
    let stateful = cfg.model.stateful && cfg.model.lstm_layers > 0;
    let train = lm_data(
        train_streams,
        &cfg.model,
        &cfg.data,
        cfg.data.batch_seed,
        stateful,
    )?;
    let valid = if va.is_empty() {
        None
    } else {
        let s = corpus.streams(va, &tok, false)?;
        Some(lm_data(s, &cfg.model, &cfg.data, 7, stateful)?)
    };
    let opts = LearnerOptions {
        seed: cfg.train.seed,
        adamw: AdamWOptions {
            weight_decay: cfg.train.weight_decay,
            clip: cfg.train.clip,
            ..AdamWOptions::default()
        },
        precision: cfg.train.precision,
        max_batches: cfg.train.max_batches,
        valid_max_batches: cfg.train.valid_max_batches,
        checkpoint_dir: Some(cfg.output.clone()),
        verbose: ro.verbose && lead,
        log_dir: Some(cfg.output.clone()),
    };
    let ckpt_state = cfg.output.join("state.json");
    let mut learn = if resume && ckpt_state.exists() {
        if ro.verbose && lead {
            println!("resuming from {}", cfg.output.display());
        }
        Learner::resume(&cfg.output, train, valid, &device)?
    } else {
        let model = GenomicModel::new(cfg.model.clone(), &device, cfg.train.seed)?;
        if let Some(init) = &cfg.train.init {
            let from = GenomicModel::load(init, &device)?;
            let n = model.init_from(&from)?;
            if ro.verbose && lead {
                println!("starting from {init} ({n} tensors)");
            }
        }
        Learner::new(model, train, valid, opts)?
    };
    if let Some(c) = collective {
        if ro.verbose && lead {
            println!(
                "data-parallel over {} ranks ({}): {} rows of each batch per rank",
                c.world_size(),
                c.engine(),
                cfg.data.batch_size as f64 / c.world_size() as f64
            );
        }
        learn.set_collective(c);
    }
    if cfg.train.early_stopping > 0 {
        learn.add_callback(Box::new(EarlyStopping::new(cfg.train.early_stopping, 1e-4)));
    }
    if let Some(n) = ro.stop_at_step {
        learn.add_callback(Box::new(StopAtStep(n)));
    }
    let schedule = cfg.train.schedule.with_lr(cfg.train.lr);
    // a resumed run already at its stop (killed after its checkpoint) trains no further
    if ro.stop_at_step.is_none_or(|n| learn.opt.steps() < n) {
        learn.fit(cfg.train.epochs, schedule)?;
    }
    let vmax = cfg.train.valid_max_batches;
    let (valid, test) = if ro.kingdom_eval && lead {
        (
            eval_source_by_kingdom(&learn.model, &corpus, va, &cfg.data, vmax)?,
            eval_source_by_kingdom(&learn.model, &corpus, te, &cfg.data, vmax)?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let summary = RunSummary {
        model: learn.model.config().name.clone(),
        arch: learn.model.config().arch_label(),
        n_params: learn.model.n_params(),
        device: format!("{device:?}"),
        history: learn.history.clone(),
        valid,
        test,
        minutes: t0.elapsed().as_secs_f64() / 60.0,
        checkpoint: cfg.output.clone(),
        train_genomes: corpus.ids(tr),
        data: Some(cfg.data.clone()),
    };
    if lead {
        let json = serde_json::to_vec_pretty(&summary).expect("summary serialises");
        crate::fsio::atomic_write(&cfg.output.join("summary.json"), &json)?;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_sections_read_the_same_toml() {
        let cfg = RunConfig::from_toml_str(
            "output = \"x\"\n[data]\nkingdoms = [\"PRO\", \"viral\"]\nsplit_level = \"species\"\n\
             [train]\nschedule = \"onecycle\"\ndevice = \"cpu\"\n",
        )
        .unwrap();
        assert_eq!(cfg.data.kingdoms, vec![Kingdom::Pro, Kingdom::Vir]);
        assert_eq!(cfg.data.split_level, SplitLevel::Species);
        assert_eq!(cfg.train.schedule, ScheduleKind::OneCycle);
        assert_eq!(cfg.train.device, DeviceChoice::Cpu);
        // written back as before: strings a Python user can read
        let j = serde_json::to_value(&cfg.data).unwrap();
        assert_eq!(j["kingdoms"], serde_json::json!(["PRO", "VIR"]));
        assert_eq!(j["split_level"], "species");
        assert_eq!(
            serde_json::to_value(cfg.train.schedule).unwrap(),
            "one_cycle"
        );
        for bad in [
            "[data]\nsplit_level = \"strain\"",
            "[data]\nkingdoms = [\"plants\"]",
            "[train]\nschedule = \"linear\"",
            "[train]\ndevice = \"tpu\"",
        ] {
            let e = RunConfig::from_toml_str(&format!("output = \"x\"\n{bad}\n")).unwrap_err();
            assert!(matches!(e, Error::Config(_)), "{bad}: {e}");
        }
    }

    #[test]
    fn committed_run_files_load() {
        // every run file under configs/ (the docs' commands run them) parses, with a known
        // preset and a model that validates
        let mut dirs = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("configs")];
        let mut n = 0;
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                if p.is_dir() {
                    dirs.push(p);
                } else if p.extension().is_some_and(|x| x == "toml") {
                    let cfg = RunConfig::from_file(&p).unwrap_or_else(|e| panic!("{e}"));
                    cfg.model
                        .validate()
                        .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                    n += 1;
                }
            }
        }
        assert!(n >= 11, "only {n} run files found");
    }

    #[test]
    fn run_files_round_trip() {
        let mut cfg = RunConfig::quickstart("runs/x", 7, 2, 10);
        cfg.data.kingdoms = vec![Kingdom::Euk];
        cfg.model.lstm_hidden = 77;
        let back = RunConfig::from_toml_str(&cfg.to_toml_string().unwrap()).unwrap();
        assert_eq!(back, cfg);
        // a corpus mix is written only when there is one (older run files stay byte-identical)
        assert!(!cfg.to_toml_string().unwrap().contains("kingdom_repeats"));
        cfg.data.kingdom_repeats.insert(Kingdom::Euk, 3);
        let text = cfg.to_toml_string().unwrap();
        assert_eq!(RunConfig::from_toml_str(&text).unwrap(), cfg);
        let inline = RunConfig::from_toml_str(
            "output = \"x\"\n[data]\nkingdom_repeats = { eukaryotes = 3, PRO = 1 }\n",
        )
        .unwrap();
        assert_eq!(inline.data.kingdom_repeats[&Kingdom::Euk], 3);
        let zero =
            RunConfig::from_toml_str("output = \"x\"\n[data]\nkingdom_repeats = { VIR = 0 }\n")
                .unwrap();
        let e = zero.data.repeated(&[0], |_| Kingdom::Vir).unwrap_err();
        assert!(e.to_string().contains("VIR = 0"), "{e}");
    }

    #[test]
    fn kingdom_repeats_change_the_training_streams_not_the_split() {
        let corpus = Corpus::embedded().unwrap();
        let mut d = DataConfig::default();
        let s = run_splits(&corpus, &d).unwrap();
        d.kingdom_repeats.insert(Kingdom::Euk, 2);
        assert_eq!(run_splits(&corpus, &d).unwrap(), s);
        let kingdom = |g: usize| corpus.genomes[g].meta.kingdom;
        let mix = d.repeated(&s.train, kingdom).unwrap();
        let euk = s
            .train
            .iter()
            .filter(|&&g| kingdom(g) == Kingdom::Euk)
            .count();
        assert!(euk > 0);
        assert_eq!(mix.len(), s.train.len() + euk);
        for &g in &s.train {
            let n = mix.iter().filter(|&&h| h == g).count();
            assert_eq!(n, if kingdom(g) == Kingdom::Euk { 2 } else { 1 });
        }
    }

    #[test]
    fn run_splits_apply_the_kingdom_filter() {
        let corpus = Corpus::embedded().unwrap();
        let all = run_splits(&corpus, &DataConfig::default()).unwrap();
        assert_eq!(all, corpus.split(&SplitOptions::default()).unwrap());
        let vir = run_splits(
            &corpus,
            &DataConfig {
                kingdoms: vec![Kingdom::Vir],
                ..Default::default()
            },
        )
        .unwrap();
        for g in vir.train.iter().chain(&vir.valid).chain(&vir.test) {
            assert_eq!(corpus.genomes[*g].meta.kingdom, Kingdom::Vir);
        }
        assert!(vir.train.iter().all(|g| all.train.contains(g)));
    }
}
