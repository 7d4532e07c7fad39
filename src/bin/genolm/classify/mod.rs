//! `genolm classify`: train and evaluate a classifier on labelled sequences (`genolm predict`,
//! in [`predict`](crate::predict), applies it to new sequences).

use std::path::{Path, PathBuf};

use clap::Args;
use genolm::models::{DeviceChoice, GenomicModel};
use genolm::{Error, Result};

use crate::analyses::load_model;

mod kinds;
mod results;

/// `genolm classify`.
#[derive(Args)]
pub struct ClassifyArgs {
    /// The pretrained language model: a `.safetensors` file, a run folder or `pretrained:<name>`.
    /// Without it the classifier is trained from scratch (a fresh `--preset` model, the same
    /// four cycles with every layer trainable from the start). With --generative it may be
    /// given several times (`--lm A --lm B …`): class LMs from each, their class probabilities
    /// averaged (one pretraining run is a draw; the average of several beat each of them on
    /// the promoters, docs/training.md).
    #[arg(long)]
    lm: Vec<PathBuf>,
    /// Model preset of a classifier trained from scratch (without --lm).
    #[arg(long, default_value = "awd_lstm_small")]
    preset: String,
    /// Labelled sequences: a CSV or TSV (plain or gzip) with a header naming `sequence` and
    /// `label` (class names such as `promoter` or indices 0, 1, …; other columns are ignored),
    /// a Parquet file with those columns (Hugging Face datasets), a folder with one FASTA file
    /// per class (the class is the file name), or a folder with one folder per class holding
    /// one sequence per `.txt` file or FASTA files (Genomic Benchmarks' `train/`).
    #[arg(long)]
    data: PathBuf,
    /// Output folder: metrics.json, predictions.csv, history.csv and history.svg (training
    /// curves), roc.svg and pr.svg (test curves, with the baselines' under --baselines),
    /// classifier.safetensors (the class LMs and generative.json with --generative); `genolm
    /// predict` applies it to new sequences.
    #[arg(long, short)]
    out: PathBuf,
    /// Seed of the stratified 80/20 split, the head and the batch order.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Labelled test items in the same forms as --data (CSV, Parquet, one FASTA or folder per
    /// class), with
    /// classes named as in --data: all of --data trains and these are scored (e.g. a benchmark's
    /// own train/test files, or test reads from other genomes). Without it, a stratified 20 %
    /// of --data is the test set.
    #[arg(long)]
    test: Option<PathBuf>,
    /// Epochs of the four training cycles (which layers train in each: --unfreezing).
    #[arg(long, value_delimiter = ',', default_value = "4,3,3,6")]
    epochs: Vec<usize>,
    /// Peak learning rates of the four cycles (default: the recipe's, see
    /// `UlmfitOptions::cls_lrs`).
    #[arg(long, value_delimiter = ',')]
    lrs: Option<Vec<f64>>,
    /// Run an LR range test at the start of each cycle that trains another set of layers
    /// (head-first: the head's cycle and the first cycle of every layer) and scale that cycle's
    /// and the following cycles' peak LRs to it (the loss minimum's LR ÷ 10, within 10× of the
    /// recipe's; `lrs` in metrics.json). The CNN of --baselines uses it too.
    #[arg(long)]
    lr_find: bool,
    /// Which layers train in each cycle: `head-first` (the head alone in the first cycle, then
    /// every layer at the cycle's LR; the default with --lm), `gradual` (ULMFiT's: one more
    /// layer group per cycle, discriminative LRs ÷ 2.6 per group) or `all` (every layer from the
    /// start; always without --lm).
    #[arg(long)]
    unfreezing: Option<genolm::train::Unfreezing>,
    /// The same as `--unfreezing all`.
    #[arg(long, conflicts_with = "unfreezing")]
    no_unfreeze: bool,
    /// The classifier's dropout multiplier (fastai's `drop_mult`; default: 0.5, or 0 for a
    /// model whose own multiplier is 0).
    #[arg(long)]
    drop_mult: Option<f64>,
    /// Stretches of each item's positions the classifier head pools besides last, max and mean
    /// (default 8; 0 for the three global poolings only).
    #[arg(long)]
    pool_bins: Option<usize>,
    /// Stratified fraction of the training items held out to pick the best epoch and stop
    /// cycles early (0: keep the last epoch). Held out only when every class keeps
    /// --min-valid-per-class items in it; smaller sets train every epoch on all items.
    #[arg(long, default_value_t = 0.15)]
    valid_fraction: f64,
    /// See --valid-fraction.
    #[arg(long, default_value_t = 50)]
    min_valid_per_class: usize,
    /// Average each test item's class probabilities over both strands (for labels that do not
    /// depend on the strand, such as reads' species or kingdom, or windows cut from a genome
    /// whichever strand its genes lie on); the baselines of --baselines read both strands too.
    #[arg(long)]
    both_strands: bool,
    /// Classify with class-conditional LMs instead of a classifier head: the --lm fine-tuned
    /// once per class on that class's training sequences, each test item assigned by Bayes'
    /// rule from its likelihood under each (writes class_lm_<class>.safetensors and
    /// generative.json; with several --lm, one such folder `lm_<i>` per LM and ensemble.json;
    /// --epochs, --lrs and --no-unfreeze do not apply).
    #[arg(long, requires = "lm")]
    generative: bool,
    /// With --generative: optimizer steps per class at least, and the peak learning rate.
    #[arg(long, default_value_t = 60)]
    generative_steps: usize,
    /// See --generative-steps.
    #[arg(long, default_value_t = 2e-3)]
    generative_lr: f64,
    /// With --generative: each layer group below the top fine-tunes at the learning rate of the
    /// one above ÷ this (ULMFiT's discriminative rates: 2.6; 1: every group at
    /// --generative-lr).
    #[arg(long, default_value_t = genolm::bench::generative::GenerativeOptions::default().lr_factor)]
    generative_lr_factor: f64,
    /// With --generative: first fine-tune the LM on the training items of every class together
    /// for at least this many steps (ULMFiT's second stage) and start each class LM from it;
    /// 0 starts them from --lm directly.
    #[arg(long, default_value_t = genolm::bench::generative::GenerativeOptions::default().adapt_steps)]
    generative_adapt_steps: usize,
    /// With --generative: after the class LMs, train them together for this many steps on the
    /// class posterior (discriminative training of the generative classifier), at a peak
    /// learning rate of --generative-joint-lr; 0: off.
    #[arg(long, default_value_t = genolm::bench::generative::GenerativeOptions::default().joint_steps)]
    generative_joint_steps: usize,
    /// With --generative-joint-steps: the joint stage's peak learning rate.
    #[arg(long, default_value_t = genolm::bench::generative::GenerativeOptions::default().joint_lr)]
    generative_joint_lr: f64,
    /// With --generative: share of each class's training items held out to pick each class
    /// LM's best epoch and to calibrate the class scores (e.g. 0.2; classes need at least 8
    /// items). Off by default: on the benchmark's tasks the items held out cost more accuracy
    /// than the calibration gains (docs/training.md).
    #[arg(long, default_value_t = 0.0)]
    generative_valid: f64,
    /// Classify with a linear probe of the frozen --lm instead of fine-tuning it: every layer
    /// pooled over each item (its mean and the means of 4 stretches), a logistic regression
    /// with an L2 penalty chosen on a fifth of the training items (writes probe.json,
    /// probe.safetensors and the LM as probe_lm.safetensors; --epochs, --lrs and the
    /// --generative options do not apply). Seconds instead of minutes, and on the
    /// genome-background promoters (docs/training.md) the best of the LM's classifiers.
    #[arg(long, requires = "lm", conflicts_with = "generative")]
    probe: bool,
    /// Weigh the classes equally whatever their sizes, so that probabilities are those of
    /// equal class priors: the head's loss with the training classes' log priors added to its
    /// logits (logit adjustment), the probe's loss weighted per class (scikit-learn's
    /// `class_weight="balanced"`), the class LMs' Bayes rule with equal priors, and the
    /// baselines of --baselines the same way.
    /// For data where one class is rare (promoters among genome windows), where an unweighted
    /// classifier calls most rare items the common class; `balanced_accuracy` in metrics.json
    /// is the mean of the classes' recalls.
    #[arg(long)]
    balanced: bool,
    /// Also train and score the baselines on the same training and test items: a Markov chain
    /// per class, a k-mer (1–4) logistic regression and a one-hot CNN trained from scratch with
    /// the same recipe (`baselines` in metrics.json, a table on stdout), so that whether the
    /// pretrained model helps is measured on your data.
    #[arg(long)]
    baselines: bool,
    /// No per-epoch lines while training.
    #[arg(long, short)]
    quiet: bool,
}

/// The stage-3 recipe of the command line: `--seed`, `--lrs`, per-epoch lines unless `--quiet`.
fn recipe(a: &ClassifyArgs) -> Result<genolm::train::recipes::UlmfitOptions> {
    let mut recipe = genolm::train::recipes::UlmfitOptions::quiet(a.seed);
    recipe.learner.verbose = !a.quiet;
    recipe.cls_epochs = a.epochs.as_slice().try_into().map_err(|_| {
        Error::Config(format!(
            "--epochs takes four numbers (one per unfreezing cycle), got {}",
            a.epochs.len()
        ))
    })?;
    if let Some(lrs) = &a.lrs {
        recipe.cls_lrs = lrs.as_slice().try_into().map_err(|_| {
            Error::Config(format!(
                "--lrs takes four numbers (one per unfreezing cycle), got {}",
                lrs.len()
            ))
        })?;
    }
    recipe.valid_fraction = a.valid_fraction;
    recipe.cls_lr_find = a.lr_find;
    recipe.cls_drop_mult = a.drop_mult;
    recipe.cls_pool_bins = a.pool_bins;
    recipe.min_valid_per_class = a.min_valid_per_class;
    if let Some(u) = a.unfreezing {
        recipe.cls_unfreezing = u;
    } else if a.no_unfreeze || a.lm.is_empty() {
        // a fresh encoder gains nothing from being frozen
        recipe.cls_unfreezing = genolm::train::Unfreezing::All;
    }
    Ok(recipe)
}

/// Remove the files by which `genolm predict` would take an earlier run's classifier of another
/// kind in `out` for this run's (it prefers ensemble.json, then generative.json, then
/// probe.json, then classifier.safetensors).
fn forget_other_classifiers(out: &Path, names: &[&str]) -> Result<()> {
    for n in names {
        let p = out.join(n);
        if p.is_file() {
            std::fs::remove_file(&p).map_err(|e| Error::io(&p, e))?;
        }
    }
    Ok(())
}

/// A note for training classes of very unequal sizes (the largest at least 3 times the
/// smallest) classified without `--balanced`: every classifier then learns the imbalance as a
/// prior, and at p > 0.5 calls many items of the rare class the common one.
fn imbalance_hint(
    train: &[genolm::data::tasks::LabelledSeq],
    classes: &[String],
    balanced: bool,
) -> Option<String> {
    let counts = genolm::stats::class_counts(train.iter().map(|x| x.label), classes.len());
    let (lo, hi) = counts.iter().enumerate().fold((0, 0), |(lo, hi), (i, &n)| {
        (
            if n < counts[lo] { i } else { lo },
            if n > counts[hi] { i } else { hi },
        )
    });
    (!balanced && counts[lo] > 0 && counts[hi] >= 3 * counts[lo]).then(|| {
        format!(
            "note: the training classes are unbalanced ({} items of class {}, {} of class {}); \
             without --balanced the classifier learns that as a prior and tends to call items of \
             class {} class {} (docs/training.md, \"Rare classes\")",
            counts[hi], classes[hi], counts[lo], classes[lo], classes[lo], classes[hi]
        )
    })
}

/// `genolm classify`.
pub fn classify(a: ClassifyArgs) -> Result<()> {
    use genolm::data::tasks::{read_labelled, stratified_split};
    use genolm::train::recipes::{classify, ClassifyOptions};
    let recipe = recipe(&a)?;
    let mut set = read_labelled(&a.data)?;
    if set.classes.len() < 2 {
        return Err(Error::Input(format!(
            "{}: one class only ({}); a classifier needs at least two",
            a.data.display(),
            set.classes.join(", ")
        )));
    }
    let (train, test) = match &a.test {
        Some(p) => {
            let test = read_labelled(p)?.relabelled(&set.classes, &p.display().to_string())?;
            if test.is_empty() {
                return Err(Error::Input(format!("{}: no test items", p.display())));
            }
            (std::mem::take(&mut set.items), test)
        }
        None => {
            let (train, test) = stratified_split(&set.items, a.seed);
            if test.is_empty() {
                return Err(Error::Input(format!(
                    "{}: {} items are too few to hold out a fifth of each class for testing; \
                     add items or give a test set with --test",
                    a.data.display(),
                    set.items.len()
                )));
            }
            (train, test)
        }
    };
    if let Some(hint) = imbalance_hint(&train, &set.classes, a.balanced) {
        eprintln!("{hint}");
    }
    if a.generative {
        return kinds::classify_generative(&a, &set.classes, &train, &test);
    }
    if a.probe {
        if a.lm.len() > 1 {
            return Err(Error::Input(format!(
                "{} --lm given: a probe reads one LM",
                a.lm.len()
            )));
        }
        return kinds::classify_probe(&a, &set.classes, &train, &test);
    }
    if a.lm.len() > 1 {
        return Err(Error::Input(format!(
            "{} --lm given: several LMs make an ensemble of class-conditional LMs \
             (--generative); a classifier head fine-tunes one LM",
            a.lm.len()
        )));
    }
    let lm = match a.lm.first() {
        Some(p) => load_model(p)?,
        None => GenomicModel::new(
            genolm::models::ModelConfig::preset(&a.preset)?,
            &DeviceChoice::Auto.open()?,
            a.seed,
        )?,
    };
    let fit = classify(
        &lm,
        &train,
        &test,
        &ClassifyOptions {
            ulmfit: recipe,
            both_strands: a.both_strands,
            balanced: a.balanced,
            ..Default::default()
        },
    )?;
    let mut extra = serde_json::Map::new();
    extra.insert("n_train".into(), fit.n_train.into());
    extra.insert("n_valid".into(), fit.n_valid.into());
    extra.insert("lrs".into(), fit.lrs.to_vec().into());
    extra.insert(
        "best_epoch".into(),
        fit.best
            .as_ref()
            .map(|b| {
                serde_json::json!({"stage": b.stage, "epoch_index": b.epoch_index, "valid_loss": b.loss})
            })
            .into(),
    );
    let name = if !a.lm.is_empty() {
        "pretrained + head"
    } else {
        "from scratch"
    };
    let accuracy = results::write_results(
        &a,
        &set.classes,
        (&train, &test),
        (name, &fit.probs),
        extra,
        lm.device(),
    )?;
    fit.history.table()?.to_csv(a.out.join("history.csv"))?;
    fit.history.plot()?.save(a.out.join("history.svg"))?;
    let mut classifier = fit.classifier;
    classifier.set_class_names(set.classes.clone())?;
    forget_other_classifiers(
        &a.out,
        &[
            genolm::bench::generative::GENERATIVE_JSON,
            genolm::bench::ensemble::ENSEMBLE_JSON,
            genolm::bench::probe::PROBE_JSON,
        ],
    )?;
    classifier.save(a.out.join("classifier.safetensors"))?;
    println!(
        "{} train / {} test items; test accuracy {accuracy:.3}; wrote {}",
        train.len(),
        test.len(),
        a.out.display()
    );
    Ok(())
}
