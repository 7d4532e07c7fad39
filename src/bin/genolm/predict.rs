//! `genolm predict`: a `genolm classify` classifier applied to new sequences, whole or in
//! windows along them.

use std::path::PathBuf;

use clap::Args;
use genolm::infer::{class_probs, ClassProbs, ClassProbsOptions};
use genolm::models::DeviceChoice;
use genolm::{Error, Result};

use crate::analyses::{load_model, records};

/// `genolm predict`.
#[derive(Args)]
pub struct PredictArgs {
    /// The classifier: a `genolm classify` output folder (its classifier.safetensors, the probe
    /// of --probe, or the class LMs of --generative, from one LM or several) or a classifier
    /// `.safetensors` file.
    classifier: PathBuf,
    /// Sequences: FASTA/FASTQ, or GenBank / GFF3 with its sequence (plain, gzip, bgzip or zstd).
    seqs: PathBuf,
    /// Output CSV: record, start, end (0-based, end exclusive), predicted class, p_<class>….
    #[arg(long, short)]
    out: PathBuf,
    /// Scan windows of this many bases along each record (e.g. the length of the training
    /// items), one row per window; 0 classifies each record whole.
    #[arg(long, default_value_t = 0)]
    window: usize,
    /// Bases between window starts (default: the window, windows side by side); a last window
    /// ends at each record's end.
    #[arg(long, default_value_t = 0)]
    step: usize,
    /// Average each window's class probabilities over both strands (a classifier head; class
    /// LMs and a probe read both strands when they were trained so, `classify --both-strands`).
    #[arg(long)]
    both_strands: bool,
    /// Also draw the result (SVG): the probabilities along the first scanned record, or how
    /// many records each class got.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Windows per forward pass.
    #[arg(long, default_value_t = ClassProbsOptions::default().batch_size)]
    batch_size: usize,
}

/// `genolm predict`.
pub fn predict(a: PredictArgs) -> Result<()> {
    use genolm::bench::ensemble::{GenerativeEnsemble, ENSEMBLE_JSON};
    use genolm::bench::generative::{GenerativeClassifier, GENERATIVE_JSON};
    use genolm::bench::probe::{ProbeClassifier, PROBE_JSON};
    let recs = records(&a.seqs)?;
    let opts = ClassProbsOptions {
        window: a.window,
        step: a.step,
        both_strands: a.both_strands,
        batch_size: a.batch_size,
    };
    let generative = a.classifier.join(GENERATIVE_JSON);
    let probs: ClassProbs = if a.classifier.join(ENSEMBLE_JSON).is_file() {
        let fit = GenerativeEnsemble::load(&a.classifier, &DeviceChoice::Auto.open()?)?;
        fit.class_probs(&recs, &opts)?
    } else if generative.is_file() {
        let fit = GenerativeClassifier::load(&a.classifier, &DeviceChoice::Auto.open()?)?;
        fit.class_probs(&recs, &opts)?
    } else if a.classifier.join(PROBE_JSON).is_file() {
        let fit = ProbeClassifier::load(&a.classifier, &DeviceChoice::Auto.open()?)?;
        fit.class_probs(&recs, &opts)?
    } else {
        // a classify folder's classifier.safetensors, as every command that reads a model
        let path = genolm::models::model::resolve_checkpoint(&a.classifier);
        if !path.is_file() {
            return Err(Error::Input(format!(
                "{}: neither a classifier checkpoint nor a `genolm classify` folder \
                 (classifier.safetensors, {GENERATIVE_JSON}, {ENSEMBLE_JSON} or {PROBE_JSON})",
                a.classifier.display()
            )));
        }
        let model = load_model(&path)?;
        class_probs(&model, &recs, &opts)?
    };
    if !probs.skipped.is_empty() {
        let names: Vec<String> = probs
            .skipped
            .iter()
            .take(5)
            .map(|(n, len)| format!("{n} ({len} nt)"))
            .collect();
        eprintln!(
            "note: {} record(s) too short for this classifier, no rows for them: {}{}",
            probs.skipped.len(),
            names.join(", "),
            if probs.skipped.len() > 5 { ", …" } else { "" }
        );
    }
    probs.table()?.to_csv(&a.out)?;
    if let Some(p) = &a.plot {
        probs.plot()?.save(p)?;
    }
    let counts = probs.counts();
    let what = if a.window > 0 { "windows" } else { "records" };
    println!(
        "{} {what} of {} records classified: {} → {}",
        probs.rows.len(),
        recs.len(),
        probs
            .classes
            .iter()
            .zip(&counts)
            .map(|(c, n)| format!("{c} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        a.out.display()
    );
    Ok(())
}
