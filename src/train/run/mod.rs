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

use std::time::Instant;

use super::learner::{Data, EarlyStopping, Learner, LearnerOptions};
use super::optim::AdamWOptions;
use super::source::CorpusSource;
use crate::data::batch::{LmBatcher, MlmBatcher, MlmOptions};
use crate::data::corpus::{Corpus, GenomeMeta, Splits};
use crate::data::streams::TokenStreams;
use crate::models::{GenomicModel, Head, ModelConfig};
use crate::{Error, Result};

mod config;
mod summary;

pub use config::{corpus_path, trained_in, DataConfig, RunConfig, TrainConfig};
pub use summary::{eval_by_kingdom, eval_source_by_kingdom, KingdomEval, RunSummary};

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

/// `d` with its batch rows halved until `streams` fill two batches, for scoring (validation,
/// the per-kingdom evaluation): small genomes (viruses, a folder of plasmids) are scored at all,
/// and the loss per token does not depend on the rows.
pub(super) fn scoring_batches(d: &DataConfig, streams: &TokenStreams) -> DataConfig {
    let total: usize = (0..streams.len())
        .map(|i| streams.stream_len(i).saturating_sub(1))
        .sum();
    let mut dd = d.clone();
    while dd.batch_size > 1 && total < dd.batch_size * dd.bptt * 2 {
        dd.batch_size /= 2;
    }
    dd
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

/// Load the corpus named in a `[data]` section (see [`Corpus::open`]).
pub fn load_corpus(d: &DataConfig) -> Result<Corpus> {
    Corpus::open(&d.corpus)
}

/// The note for a corpus whose split holds out no validation or no test genome (one or two
/// genomes of a kingdom): what a run then lacks, and how to hold one out.
fn nothing_held_out(corpus: &str, no_valid: bool, no_test: bool) -> String {
    let what = match (no_valid, no_test) {
        (true, true) => "no validation and no test genome",
        (true, false) => "no validation genome",
        _ => "no test genome",
    };
    format!(
        "note: the split of corpus {corpus} holds out {what}: a kingdom's genome-level split \
         keeps one genome for validation and one for test only from three genomes on. Training \
         runs, but {} Add genomes, or pin one with `\"split\": \"valid\"` (or \"test\") in \
         a manifest.json (docs/datasets.md).",
        if no_valid {
            "reports no validation loss and keeps the last epoch's weights."
        } else {
            "reports no test loss."
        }
    )
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

/// The name of a reduced precision asked for (`bf16`, `f16`), `None` for f32 and `auto`.
fn reduced_precision(p: crate::train::Precision) -> Option<&'static str> {
    match p {
        crate::train::Precision::Bf16 => Some("bf16"),
        crate::train::Precision::F16 => Some("f16"),
        _ => None,
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
    if ro.verbose && lead && device.is_cpu() {
        if let Some(p) = reduced_precision(cfg.train.precision) {
            eprintln!(
                "note: precision {p} is a GPU setting; on the CPU genolm trains in f32 \
                 (the same numbers as precision = \"f32\")"
            );
        }
    }
    let corpus = CorpusSource::open(&cfg.data)?;
    let splits = corpus.splits(&cfg.data)?;
    let (tr, va, te) = (&splits.train, &splits.valid, &splits.test);
    let tok = cfg.model.tokenizer()?;
    let metas = corpus.metas();
    if ro.verbose && lead && (va.is_empty() || te.is_empty()) {
        eprintln!(
            "{}",
            nothing_held_out(&cfg.data.corpus, va.is_empty(), te.is_empty())
        );
    }
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
        let d = scoring_batches(&cfg.data, &s);
        Some(lm_data(s, &cfg.model, &d, 7, stateful)?)
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
        short_epochs: cfg.train.short_epochs,
        valid_max_batches: cfg.train.valid_max_batches,
        checkpoint_dir: Some(cfg.output.clone()),
        verbose: ro.verbose && lead,
        log_dir: Some(cfg.output.clone()),
        class_balance: None,
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
        host: crate::cpu::host_summary(),
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
    use crate::data::corpus::{Kingdom, SplitLevel, SplitOptions};
    use crate::models::DeviceChoice;
    use crate::train::schedule::ScheduleKind;

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

    #[test]
    fn a_split_without_held_out_genomes_is_noted() {
        // one genome: nothing held out, and the note says what that costs and what to do
        let one = crate::data::corpus::Corpus::open("embedded").unwrap();
        let g = one.index_of("phiX174").unwrap();
        let metas = [&one.genomes[g].meta];
        let s = super::super::source::splits_of(&metas, &DataConfig::default()).unwrap();
        assert!(s.valid.is_empty() && s.test.is_empty() && s.train == [0]);
        let note = nothing_held_out("mine", true, true);
        assert!(note.contains("no validation and no test genome"), "{note}");
        assert!(note.contains("no validation loss") && note.contains("\"split\": \"valid\""));
        assert!(nothing_held_out("mine", false, true).contains("no test loss"));
    }
}
