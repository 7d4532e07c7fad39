//! The quickstart: the whole pipeline in one call — the embedded corpus and its split, k-mer
//! tokens, annotation tracks, genolm's shipped pretrained LM fine-tuned briefly on the CPU (or
//! a small AWD-LSTM trained from scratch), the benchmark against the Markov floor on held-out
//! genomes, states of a held-out annotated genome in HDF5, its explainable neurons, the loss
//! along phiX174 with its genes, and one reproducible report with per-step curves.
//! `genolm quickstart` and notebook 01 call these functions, so the two cannot drift apart.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use super::pipeline::{analyse, findings_sections, Findings, PipelineOptions};
use super::{training_report, Report};
use crate::data::corpus::{Corpus, SplitLevel, SplitOptions, Splits};
use crate::data::tokenize::{informed_random_loss, KmerTokenizer};
use crate::infer::{token_scores, PredictOptions};
use crate::models::GenomicModel;
use crate::plot::{moving_mean, Figure, TrackFeature};
use crate::train::run::{run_training, train_or_load, RunConfig, RunSummary};
use crate::{Error, Result};

/// Options of [`quickstart`]; the defaults are `genolm quickstart`'s.
#[derive(Debug, Clone)]
pub struct QuickstartOptions {
    /// Seed of training, the benchmark and the neuron probe (and of the genome-level split
    /// when training from scratch; a fine-tuned model keeps its checkpoint's split).
    pub seed: u64,
    /// Start from this shipped model (`None`: train a small AWD-LSTM from scratch).
    pub pretrained: Option<String>,
    /// Epochs of fine-tuning (or of training from scratch).
    pub epochs: usize,
    /// Training batches per epoch (0 skips training, the analyses and the report).
    pub batches: usize,
    /// Peak learning rate of the fine-tuning cycle (from scratch: 1e-2).
    pub lr: f64,
    /// Bases scored per held-out genome against the Markov floor.
    pub bench_bases: usize,
    /// Bases of the held-out annotated genome whose states and neurons are analysed.
    pub neuron_bases: usize,
    /// Run folder (checkpoint, `summary.json`).
    pub out: PathBuf,
    /// Report folder (default: `out/report`).
    pub report: Option<PathBuf>,
    /// Reuse a finished run in `out` instead of training again ([`train_or_load`]), as the
    /// notebooks do; `genolm quickstart` always trains.
    pub reuse: bool,
    /// Print each stage as it happens.
    pub verbose: bool,
}

impl Default for QuickstartOptions {
    fn default() -> Self {
        QuickstartOptions {
            seed: 42,
            pretrained: Some(crate::models::pretrained::DEFAULT.to_string()),
            epochs: 1,
            batches: 200,
            lr: 1e-3,
            bench_bases: 20_000,
            neuron_bases: 30_000,
            out: PathBuf::from("runs/quickstart"),
            report: None,
            reuse: false,
            verbose: true,
        }
    }
}

/// What [`quickstart`] produced.
pub struct Quickstart {
    /// The embedded corpus.
    pub corpus: Corpus,
    /// Its genome-level split.
    pub splits: Splits,
    /// The run (see [`RunConfig::quickstart`]).
    pub config: RunConfig,
    /// The trained model and its run summary (`None` when `batches` or `epochs` is 0).
    pub trained: Option<(GenomicModel, RunSummary)>,
    /// The benchmark against the floor, the states file and the neurons.
    pub findings: Option<Findings>,
    /// The report folder, when a report was written.
    pub report_dir: Option<PathBuf>,
}

/// A text overview of a corpus and its split: the per-genome table and one summary line.
pub fn corpus_overview(corpus: &Corpus, level: SplitLevel, seed: u64) -> Result<String> {
    let splits = corpus.split(&SplitOptions {
        level,
        seed,
        ..Default::default()
    })?;
    let df = corpus.summary(Some(&splits))?;
    Ok(format!(
        "{df}\n{} genomes, {:.2} Mb; split at {:?} level (seed {seed}): {} train, {} valid, {} test genomes",
        corpus.genomes.len(),
        corpus.total_bases() as f64 / 1e6,
        level,
        splits.train.len(),
        splits.valid.len(),
        splits.test.len()
    ))
}

/// The loss a language model makes along the first contig of genome `id` (101-token moving
/// mean) above that contig's CDS.
///
/// ```no_run
/// use genolm::prelude::*;
/// let corpus = Corpus::embedded()?;
/// let model = train_or_load(&RunConfig::quickstart("runs/quickstart", 42, 2, 150))?;
/// genolm::report::loss_track(&model, &corpus, "phiX174")?.save("phix_loss.svg")?;
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn loss_track(model: &GenomicModel, corpus: &Corpus, id: &str) -> Result<Figure> {
    let g = corpus
        .index_of(id)
        .ok_or_else(|| Error::Input(format!("corpus {} has no genome {id:?}", corpus.name)))?;
    let contig = &corpus.genomes[g].contigs[0];
    let scores = token_scores(model, &contig.seq, &PredictOptions::default())?;
    let loss: Vec<f64> = scores.logp.iter().map(|&l| -(l as f64)).collect();
    let pos: Vec<f64> = scores.index.iter().map(|&i| i as f64).collect();
    let genes = TrackFeature::cds(contig.features.as_deref().unwrap_or(&[]));
    Figure::track(
        &format!("{id}: loss per token (101-token mean)"),
        &pos,
        &[("loss (nats)".into(), moving_mean(&loss, 101))],
        &genes,
    )
}

/// The quickstart's report: [`training_report`] and the loss along phiX174.
pub fn quickstart_report(
    title: &str,
    corpus: &Corpus,
    cfg: &RunConfig,
    summary: &RunSummary,
    model: &GenomicModel,
) -> Result<Report> {
    let mut r = training_report(title, corpus, cfg, summary)?;
    r.heading("Loss along phiX174");
    r.figure(
        "phix_loss",
        &loss_track(model, corpus, "phiX174")?,
        "Loss per token, 101-token moving mean, with the CDS beneath.",
    );
    Ok(r)
}

/// The whole pipeline on the embedded corpus (see the module docs). With `opts.verbose` it
/// prints what `genolm quickstart` prints.
///
/// ```no_run
/// use genolm::report::{quickstart, QuickstartOptions};
/// let q = quickstart(&QuickstartOptions { reuse: true, ..Default::default() })?;
/// println!("report in {:?}", q.report_dir);
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn quickstart(opts: &QuickstartOptions) -> Result<Quickstart> {
    let t0 = Instant::now();
    let say = |s: &str| {
        if opts.verbose {
            println!("{s}");
        }
    };
    let corpus = Corpus::embedded()?;
    say(&format!(
        "genolm {} — embedded corpus '{}' (checksums verified)\n",
        env!("CARGO_PKG_VERSION"),
        corpus.name
    ));
    say(&corpus_overview(&corpus, SplitLevel::Genome, opts.seed)?);
    let tok = KmerTokenizer::new(3, 1)?;
    let all: Vec<usize> = (0..corpus.genomes.len()).collect();
    let n: usize = corpus
        .token_streams(&all, &tok, false)
        .iter()
        .map(Vec::len)
        .sum();
    say(&format!(
        "3-mer tokens (stride 1): {n}; vocabulary {}; informed-random loss ln(4^1) = {:.3}",
        tok.vocab_size(),
        informed_random_loss(1)
    ));
    let mut annotated = 0;
    let mut lines = String::new();
    for g in corpus.genomes.iter().filter(|g| g.is_annotated()) {
        for c in &g.contigs {
            if let Some(t) = c.tracks(&g.track_options()) {
                let t = t?;
                annotated += 1;
                let _ = writeln!(
                    lines,
                    "  tracks {:<12} {:>8} bp, {:5.1} % coding",
                    c.name,
                    t.len(),
                    100.0 * t.coding_fraction()
                );
            }
        }
    }
    say(lines.trim_end());
    say(&format!(
        "{annotated} annotated contigs; loaded in {:.2} s",
        t0.elapsed().as_secs_f64()
    ));
    let config = match &opts.pretrained {
        Some(name) => {
            let init = format!("pretrained:{name}");
            crate::models::pretrained::verify(name)?;
            let prov = crate::models::pretrained::provenance(name)?;
            say(&format!(
                "\npretrained model {name}: {} trained {} min on {} genomes (commit {}); SHA-256 verified",
                prov["arch"].as_str().unwrap_or("?"),
                prov["training"]["minutes_wall_clock"],
                prov["training"]["train_genomes"]
                    .as_array()
                    .map_or(0, Vec::len),
                prov["git_commit"].as_str().unwrap_or("?").get(..7).unwrap_or("?"),
            ));
            RunConfig::fine_tune(
                opts.out.clone(),
                &init,
                opts.seed,
                opts.epochs,
                opts.batches,
                opts.lr,
            )?
        }
        None => RunConfig::quickstart(opts.out.clone(), opts.seed, opts.epochs, opts.batches),
    };
    let splits = crate::train::run::run_splits(&corpus, &config.data)?;
    let mut q = Quickstart {
        corpus,
        splits,
        config,
        trained: None,
        findings: None,
        report_dir: None,
    };
    if opts.batches == 0 || opts.epochs == 0 {
        return Ok(q);
    }
    let cfg = &q.config;
    say(&match &opts.pretrained {
        Some(name) => format!(
            "\nfine-tuning {name} for {} × {} batches of {} × {} 3-mers (one cycle, peak LR {})",
            opts.epochs, opts.batches, cfg.data.batch_size, cfg.data.bptt, opts.lr
        ),
        None => format!(
            "\ntraining the small AWD-LSTM from scratch for {} × {} batches of {} × {} 3-mers",
            opts.epochs, opts.batches, cfg.data.batch_size, cfg.data.bptt
        ),
    });
    let (model, summary) = if opts.reuse {
        let model = train_or_load(cfg)?;
        (model, RunSummary::load(&cfg.output)?)
    } else {
        let summary = run_training(cfg, false)?;
        let model = GenomicModel::load(
            cfg.output.join("model.safetensors"),
            &cfg.train.device.open()?,
        )?;
        (model, summary)
    };
    say(&summary.text());
    let findings = analyse(
        &model,
        &q.corpus,
        &PipelineOptions {
            train_genomes: summary.train_genomes.clone(),
            out: cfg.output.clone(),
            bases: opts.neuron_bases,
            bench_bases: opts.bench_bases,
            seed: opts.seed,
            verbose: opts.verbose,
            ..Default::default()
        },
    )?;
    let title = match &opts.pretrained {
        Some(name) => format!("genolm quickstart: the pretrained {name}, fine-tuned and explained"),
        None => "genolm quickstart: a small AWD-LSTM on the embedded corpus".to_string(),
    };
    let mut rep = quickstart_report(&title, &q.corpus, cfg, &summary, &model)?;
    findings_sections(&mut rep, &findings, &cfg.output)?;
    let dir = opts
        .report
        .clone()
        .unwrap_or_else(|| cfg.output.join("report"));
    let mut args: Vec<String> = vec![
        "quickstart".into(),
        "--seed".into(),
        opts.seed.to_string(),
        "--batches".into(),
        opts.batches.to_string(),
        "--epochs".into(),
        opts.epochs.to_string(),
        "--lr".into(),
        opts.lr.to_string(),
        "--bench-bases".into(),
        opts.bench_bases.to_string(),
        "--neuron-bases".into(),
        opts.neuron_bases.to_string(),
        "--out".into(),
        cfg.output.display().to_string(),
    ];
    match &opts.pretrained {
        Some(name) => args.extend(["--pretrained".into(), name.clone()]),
        None => args.push("--from-scratch".into()),
    }
    rep.command(&args);
    rep.timing("total", t0.elapsed().as_secs_f64());
    rep.write(&dir)?;
    say(&format!(
        "\ndone in {:.0} s. report: {} (re-run and compare: genolm reproduce {})",
        t0.elapsed().as_secs_f64(),
        dir.join("index.html").display(),
        dir.join("manifest.json").display()
    ));
    q.trained = Some((model, summary));
    q.findings = Some(findings);
    q.report_dir = Some(dir);
    Ok(q)
}
