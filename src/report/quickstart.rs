//! The quickstart: the whole pipeline in one call — the embedded corpus and its split, k-mer
//! tokens, annotation tracks, a small AWD-LSTM trained on the CPU, per-kingdom held-out
//! quality, the loss along phiX174, and a reproducible report. `genolm quickstart` and
//! notebook 01 call these functions, so the two cannot drift apart.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

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
    /// Seed of the genome-level split and of training.
    pub seed: u64,
    /// Epochs of the small LM.
    pub epochs: usize,
    /// Training batches per epoch (0 skips training and the report).
    pub batches: usize,
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
            epochs: 2,
            batches: 150,
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
    let config = RunConfig::quickstart(opts.out.clone(), opts.seed, opts.epochs, opts.batches);
    let splits = crate::train::run::run_splits(&corpus, &config.data)?;
    let mut q = Quickstart {
        corpus,
        splits,
        config,
        trained: None,
        report_dir: None,
    };
    if opts.batches == 0 || opts.epochs == 0 {
        return Ok(q);
    }
    let cfg = &q.config;
    say(&format!(
        "\ntraining the small AWD-LSTM for {} × {} batches of {} × {} 3-mers",
        opts.epochs, opts.batches, cfg.data.batch_size, cfg.data.bptt
    ));
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
    let mut rep = quickstart_report(
        "genolm quickstart: a small AWD-LSTM on the embedded corpus",
        &q.corpus,
        cfg,
        &summary,
        &model,
    )?;
    let dir = opts
        .report
        .clone()
        .unwrap_or_else(|| cfg.output.join("report"));
    rep.command(&[
        "quickstart".into(),
        "--seed".into(),
        opts.seed.to_string(),
        "--batches".into(),
        opts.batches.to_string(),
        "--epochs".into(),
        opts.epochs.to_string(),
        "--out".into(),
        cfg.output.display().to_string(),
    ]);
    rep.timing("total", t0.elapsed().as_secs_f64());
    rep.write(&dir)?;
    say(&format!(
        "report: {} (re-run and compare: genolm reproduce {})",
        dir.join("index.html").display(),
        dir.join("manifest.json").display()
    ));
    q.trained = Some((model, summary));
    q.report_dir = Some(dir);
    Ok(q)
}
