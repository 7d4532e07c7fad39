//! Training recipes: [`fine_tune`] (fastai's) and [`ulmfit`], the three stages of seed 003 §2
//! and §5: general LM → task LM fine-tuning with discriminative LRs → classifier trained head
//! first, then every layer ([`Unfreezing`]; ULMFiT's gradual unfreezing is one of its choices).
//!
//! `fit_one_cycle` and `lr_find` are methods of [`Learner`].

use serde::{Deserialize, Serialize};

use super::best::BestEpoch;
use super::history::History;
use super::learner::{predict_proba, Data, Learner, LearnerOptions};
use crate::data::batch::ClassificationBatcher;
use crate::data::tasks::LabelledSeq;
use crate::models::layers::ClassBalance;
use crate::models::GenomicModel;
use crate::{Error, Result};

/// The ULMFiT discriminative factor (`η_{l-1} = η_l / 2.6`).
pub const DISCRIMINATIVE_FACTOR: f64 = 2.6;

/// fastai's `fine_tune`: train only the top group for `freeze_epochs` at `base_lr`, then
/// unfreeze and train everything for `epochs` with discriminative LRs peaking at `base_lr / 2`.
pub fn fine_tune(
    learn: &mut Learner,
    epochs: usize,
    base_lr: f64,
    freeze_epochs: usize,
) -> Result<History> {
    let mut out = History::default();
    if freeze_epochs > 0 {
        learn.opt.freeze_to(-1);
        learn.opt.set_lr(base_lr);
        learn.set_stage("fine_tune frozen");
        out.append(learn.fit_one_cycle(freeze_epochs, base_lr)?);
    }
    learn.opt.unfreeze();
    learn
        .opt
        .set_discriminative(base_lr / 2.0, DISCRIMINATIVE_FACTOR);
    learn.set_stage("fine_tune");
    out.append(learn.fit_one_cycle(epochs, base_lr / 2.0)?);
    Ok(out)
}

/// Which layers of a classifier train in each of the four cycles of stage 3
/// ([`UlmfitOptions::cls_unfreezing`]).
///
/// Measured on the benchmark's classification rows from `pretrained:lstm_small_extended` (3
/// seeds; docs/training.md, "Head first, then every layer"): ULMFiT's gradual unfreezing kept
/// the pretrained encoder close to where it started — its lower layers train at the cycle's
/// LR ÷ 2.6 per group, the embedding at ÷ 17.6 — and lost to a CNN trained from scratch on the
/// aligned tasks (splice junctions 0.922 against 0.952). The head first and then every layer at
/// the cycle's LR gave 0.949; with the ÷ 2.6 factor kept, 0.923 again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unfreezing {
    /// The new head alone in the first cycle (the encoder frozen, so a random head's gradients
    /// do not reach it), then every layer at the cycle's learning rate: "linear probing, then
    /// fine-tuning". The default for a pretrained encoder.
    #[default]
    HeadFirst,
    /// ULMFiT's gradual unfreezing (seed 003 §5.9): one more group per cycle (head, + last
    /// layer, + last two, everything), with discriminative LRs (÷ 2.6 per group below the top).
    Gradual,
    /// Every layer from the first cycle at the cycle's learning rate: a model trained from
    /// scratch (nothing to protect).
    All,
}

impl std::str::FromStr for Unfreezing {
    type Err = Error;
    /// `head-first` (or `head_first`), `gradual` or `all`.
    fn from_str(s: &str) -> Result<Self> {
        match s.replace('-', "_").as_str() {
            "head_first" => Ok(Unfreezing::HeadFirst),
            "gradual" => Ok(Unfreezing::Gradual),
            "all" => Ok(Unfreezing::All),
            _ => Err(Error::Config(format!(
                "unknown unfreezing {s:?} (head-first, gradual or all)"
            ))),
        }
    }
}

impl Unfreezing {
    /// Freeze and set the learning rates of `opt` for cycle `cycle` (0–3) peaking at `lr`, and
    /// name the cycle for the history.
    fn apply(self, opt: &mut super::optim::AdamW, cycle: usize, lr: f64) -> String {
        match self {
            Unfreezing::Gradual => {
                let to = [-1isize, -2, -3, 0][cycle.min(3)];
                opt.freeze_to(to);
                opt.set_discriminative(lr, DISCRIMINATIVE_FACTOR);
                format!("classifier freeze_to({to})")
            }
            Unfreezing::HeadFirst if cycle == 0 => {
                opt.freeze_to(-1);
                opt.set_lr(lr);
                "classifier head".into()
            }
            Unfreezing::HeadFirst | Unfreezing::All => {
                opt.unfreeze();
                opt.set_lr(lr);
                format!("classifier cycle {}", cycle + 1)
            }
        }
    }
}

/// Settings of the [`ulmfit`] recipe (defaults follow seed 003 §5.7–5.9, scaled down for CPU).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UlmfitOptions {
    /// Epochs of general-domain LM training (stage 1; skipped when no general data is given).
    pub lm_epochs: usize,
    /// Peak LR of stage 1 (constant across groups).
    pub lm_lr: f64,
    /// Epochs of task-LM fine-tuning (stage 2; 0 skips it).
    pub finetune_epochs: usize,
    /// Peak LR of stage 2 (discriminative below it).
    pub finetune_lr: f64,
    /// Epochs of each of the four unfreezing cycles of stage 3.
    pub cls_epochs: [usize; 4],
    /// Peak LRs of the four cycles.
    pub cls_lrs: [f64; 4],
    /// Which layers train in each cycle: the head first, then all (the default), ULMFiT's
    /// gradual unfreezing, or all from the start (a classifier trained from scratch).
    pub cls_unfreezing: Unfreezing,
    /// Seed of the classifier head's initialisation.
    pub seed: u64,
    /// Learner options for every stage.
    pub learner: LearnerOptions,
    /// Stage 3 without a validation set holds out this stratified fraction of the training
    /// items for model selection (0: none; every epoch is trained and the last one kept).
    pub valid_fraction: f64,
    /// The validation part is held out only when each class keeps at least this many items in
    /// it: on smaller sets the validation loss of a dozen items picks epochs by noise (it
    /// restored the untrained head in some seeds), and the fixed schedule of every cycle is
    /// trained on all items instead.
    pub min_valid_per_class: usize,
    /// Stage 3 with validation data ends a cycle after this many epochs without a new lowest
    /// validation loss (0: never early); the best epoch's weights are restored at the end.
    pub patience: usize,
    /// Each stage-3 cycle runs at least this many optimizer steps: a cycle's epochs grow on
    /// small data sets (a hundred items are a handful of batches per epoch).
    pub min_steps: usize,
    /// The classifier's dropout multiplier (seed 003 §4.4's classification dropouts times this;
    /// fastai's `drop_mult`). `None`: the recipe's, 0.5, or 0 for a model whose `drop_mult`
    /// is 0 ([`ModelConfig::to_classifier`](crate::models::ModelConfig::to_classifier)). On the
    /// splice junctions the plain LSTM (`pretrained:lstm_small_extended`, trained without
    /// dropout) did better with the recipe's 0.5 than with none (0.947 against 0.931).
    pub cls_drop_mult: Option<f64>,
    /// Position bins of the classifier head
    /// ([`ModelConfig::cls_pool_bins`](crate::models::ModelConfig::cls_pool_bins)); `None`: the
    /// recipe's, [`CLS_POOL_BINS`](crate::models::config::CLS_POOL_BINS).
    pub cls_pool_bins: Option<usize>,
    /// Stage 3 runs an LR range test ([`Learner::lr_find`]) at the start of each cycle that
    /// trains another set of layers than the cycle before (head-first: the head's cycle and the
    /// first cycle of every layer; gradual: every cycle; all: the first) and runs that cycle,
    /// and the cycles after it with the same layers, at [`cls_lrs`](Self::cls_lrs) scaled by
    /// `found / recipe's`. The found rate is the minimum of the smoothed loss ÷ 10 (fastai's
    /// rule of thumb; the sweep's first tenth left out, as fastai's suggestions leave it out:
    /// [`Learner::lr_find_skipping`]), kept within 10× of the recipe's rate either way.
    pub cls_lr_find: bool,
}

impl Default for UlmfitOptions {
    fn default() -> Self {
        UlmfitOptions {
            lm_epochs: 2,
            lm_lr: 5e-3,
            finetune_epochs: 2,
            finetune_lr: 2e-3,
            cls_epochs: [4, 3, 3, 6],
            cls_lrs: [2e-2, 1e-2, 5e-3, 1e-3],
            cls_unfreezing: Unfreezing::default(),
            seed: 42,
            learner: LearnerOptions::default(),
            valid_fraction: 0.15,
            min_valid_per_class: 50,
            patience: 3,
            min_steps: 30,
            cls_drop_mult: None,
            cls_pool_bins: None,
            cls_lr_find: false,
        }
    }
}

impl UlmfitOptions {
    /// The default recipe with `seed` for the classifier head and every learner, and no
    /// per-epoch printing (benchmarks and repeated experiments).
    ///
    /// ```
    /// let o = genolm::train::UlmfitOptions::quiet(3);
    /// assert_eq!((o.seed, o.learner.seed, o.learner.verbose), (3, 3, false));
    /// ```
    pub fn quiet(seed: u64) -> Self {
        UlmfitOptions {
            seed,
            learner: LearnerOptions {
                seed,
                verbose: false,
                ..Default::default()
            },
            ..Default::default()
        }
    }
}

/// The outcome of [`ulmfit`].
pub struct UlmfitResult {
    /// The (general, then task-fine-tuned) language model.
    pub lm: GenomicModel,
    /// The classifier.
    pub classifier: GenomicModel,
    /// Every epoch of every stage, labelled by stage.
    pub history: History,
}

/// The data of the three ULMFiT stages (see [`ulmfit`]).
pub struct UlmfitData {
    /// Stage 1, the general-domain LM: `(train, valid)` batches (`None` skips it: `lm` is
    /// already pretrained).
    pub general: Option<(Data, Option<Data>)>,
    /// Stage 2, the target-task LM on the task's own sequences (`None` skips it).
    pub task_lm: Option<(Data, Option<Data>)>,
    /// Stage 3, the classifier's training items.
    pub cls_train: ClassificationBatcher,
    /// Its validation items.
    pub cls_valid: Option<ClassificationBatcher>,
    /// Number of classes.
    pub n_classes: usize,
}

/// Train `lm` on the general corpus (if `data.general` is given), fine-tune it on the task's
/// sequences (if `data.task_lm` is given), then build a classifier with `data.n_classes` from
/// its encoder and train it in four one-cycle runs as `opts.cls_unfreezing` says (the head,
/// then every layer, by default).
pub fn ulmfit(lm: GenomicModel, data: UlmfitData, opts: &UlmfitOptions) -> Result<UlmfitResult> {
    let UlmfitData {
        general,
        task_lm,
        cls_train,
        cls_valid,
        n_classes,
    } = data;
    let mut history = History::default();
    let mut lm = lm;
    // (train, valid, stage name, epochs, peak LR, discriminative?)
    type Stage<'a> = (Data, Option<Data>, &'a str, usize, f64, bool);
    let mut stages: Vec<Stage> = Vec::new();
    if let Some((t, v)) = general {
        stages.push((t, v, "general LM", opts.lm_epochs, opts.lm_lr, false));
    }
    if let Some((t, v)) = task_lm {
        stages.push((
            t,
            v,
            "task LM",
            opts.finetune_epochs,
            opts.finetune_lr,
            true,
        ));
    }
    for (t, v, name, epochs, lr, discr) in stages {
        if epochs == 0 {
            continue;
        }
        let mut learn = Learner::new(lm, t, v, opts.learner.clone())?;
        if discr {
            learn.opt.set_discriminative(lr, DISCRIMINATIVE_FACTOR);
        } else {
            learn.opt.set_lr(lr);
        }
        learn.set_stage(name);
        history.append(learn.fit_one_cycle(epochs, lr)?);
        lm = learn.model;
    }
    let classifier = build_classifier(&lm, n_classes, opts)?;
    let fit = train_classifier(classifier, cls_train, cls_valid, opts)?;
    history.append(fit.history);
    let classifier = fit.model;
    Ok(UlmfitResult {
        lm,
        classifier,
        history,
    })
}

/// A classifier with `n_classes` whose embedding and body are copied from `lm`.
pub fn classifier_from_lm(lm: &GenomicModel, n_classes: usize, seed: u64) -> Result<GenomicModel> {
    build_classifier(lm, n_classes, &UlmfitOptions::quiet(seed))
}

/// [`classifier_from_lm`] with the recipe's seed and [`cls_drop_mult`](UlmfitOptions::cls_drop_mult).
fn build_classifier(
    lm: &GenomicModel,
    n_classes: usize,
    opts: &UlmfitOptions,
) -> Result<GenomicModel> {
    let mut cfg = lm.config().to_classifier(n_classes);
    if let Some(m) = opts.cls_drop_mult {
        cfg.drop_mult = m;
    }
    if let Some(b) = opts.cls_pool_bins {
        cfg.cls_pool_bins = b;
    }
    let clf = GenomicModel::new(cfg, lm.device(), opts.seed)?;
    clf.load_encoder_from(lm)?;
    Ok(clf)
}

/// A classifier trained by [`train_classifier`].
pub struct ClassifierFit {
    /// The classifier: the best validated epoch's weights when there was validation data.
    pub model: GenomicModel,
    /// Every epoch of the four cycles.
    pub history: History,
    /// The epoch whose weights were kept (`None` without validation data: the last one).
    pub best: Option<BestEpoch>,
    /// Training and validation items (validation held out of `train` when none was given).
    pub n_train: usize,
    /// See `n_train`.
    pub n_valid: usize,
    /// The peak learning rate each cycle ran at (0 for a cycle of no epochs): the recipe's, or
    /// as the LR range tests of [`UlmfitOptions::cls_lr_find`] scaled them.
    pub lrs: [f64; 4],
}

/// Batches of each LR range test of [`UlmfitOptions::cls_lr_find`].
pub const CLS_LR_FIND_ITERS: usize = 100;

/// Whether a cycle trains another set of layers than `prev`, the last cycle that trained
/// (`None`: none did).
fn new_layer_set(u: Unfreezing, prev: Option<usize>) -> bool {
    match (u, prev) {
        (_, None) | (Unfreezing::Gradual, _) => true,
        (Unfreezing::HeadFirst, Some(p)) => p == 0,
        (Unfreezing::All, _) => false,
    }
}

/// Stage 3 of ULMFiT on an already-built classifier: the four one-cycle runs of
/// `opts.cls_epochs`/`cls_lrs`, each training the layers [`cls_unfreezing`](UlmfitOptions::cls_unfreezing)
/// says (for a classifier trained from scratch, [`Unfreezing::All`]).
///
/// The recipe adapts to the data's size: without `valid`, a stratified
/// [`valid_fraction`](UlmfitOptions::valid_fraction) of `train` is held out when every class
/// keeps [`min_valid_per_class`](UlmfitOptions::min_valid_per_class) items in it; a cycle runs at
/// least [`min_steps`](UlmfitOptions::min_steps) optimizer steps (more epochs on small sets),
/// ends after [`patience`](UlmfitOptions::patience) epochs without a new lowest validation
/// loss, and the weights of the best epoch over all cycles are restored at the end.
pub fn train_classifier(
    model: GenomicModel,
    train: ClassificationBatcher,
    valid: Option<ClassificationBatcher>,
    opts: &UlmfitOptions,
) -> Result<ClassifierFit> {
    if train.is_empty() {
        return Err(Error::Input("no classification training items".into()));
    }
    if !(0.0..1.0).contains(&opts.valid_fraction) {
        return Err(Error::Config(format!(
            "valid_fraction must be in [0, 1), got {}",
            opts.valid_fraction
        )));
    }
    let (train, valid) = match valid {
        Some(v) => (train, Some(v)),
        None if opts.valid_fraction > 0.0 => {
            match train.split_valid(opts.valid_fraction, opts.min_valid_per_class, opts.seed) {
                Some((t, v)) => (t, Some(v)),
                None => (train, None),
            }
        }
        None => (train, None),
    };
    let (n_train, n_valid) = (train.len(), valid.as_ref().map_or(0, |v| v.len()));
    let mut per_epoch = train.n_batches().max(1);
    if opts.learner.max_batches > 0 {
        per_epoch = per_epoch.min(opts.learner.max_batches);
    }
    let select = valid.is_some();
    let mut learn = Learner::new(
        model,
        Data::Cls(train),
        valid.map(Data::Cls),
        opts.learner.clone(),
    )?;
    if select {
        learn.keep_best(opts.patience);
    }
    let mut history = History::default();
    let mut lrs = [0f64; 4];
    let mut scale = 1.0;
    let mut prev = None;
    for (i, (&epochs, &lr)) in opts.cls_epochs.iter().zip(&opts.cls_lrs).enumerate() {
        if epochs == 0 {
            continue;
        }
        let epochs = epochs.max(opts.min_steps.div_ceil(per_epoch));
        let mut stage = opts.cls_unfreezing.apply(&mut learn.opt, i, lr * scale);
        if opts.cls_lr_find && new_layer_set(opts.cls_unfreezing, prev) {
            let f = learn.lr_find_skipping(
                lr * 1e-4,
                lr * 1e2,
                CLS_LR_FIND_ITERS,
                CLS_LR_FIND_ITERS / 10,
            )?;
            scale = f.min_div_10.clamp(lr / 10.0, lr * 10.0) / lr;
            stage = opts.cls_unfreezing.apply(&mut learn.opt, i, lr * scale);
            if opts.learner.verbose {
                println!(
                    "{stage}: LR range test over {} batches, loss minimum at {:.2e}: peak LR {:.2e} (the recipe's {lr:.2e})",
                    f.lrs.len(),
                    f.min_div_10 * 10.0,
                    lr * scale
                );
            }
        }
        prev = Some(i);
        lrs[i] = lr * scale;
        learn.set_stage(stage);
        history.append(learn.fit_one_cycle(epochs, lr * scale)?);
    }
    let best = learn.restore_best()?;
    Ok(ClassifierFit {
        model: learn.model,
        history,
        best,
        n_train,
        n_valid,
        lrs,
    })
}

/// Options of [`classify`].
#[derive(Debug, Clone)]
pub struct ClassifyOptions {
    /// The stage-3 recipe: epochs and LRs of the four unfreezing cycles, seeds, learner.
    pub ulmfit: UlmfitOptions,
    /// Training batch size.
    pub batch_size: usize,
    /// Batch size when predicting the test items.
    pub eval_batch_size: usize,
    /// Score each test item on both strands and average the class probabilities: for labels
    /// that do not depend on the strand (reads of either strand, species, kingdom, windows cut
    /// from a genome whichever strand its genes lie on); off for strand-specific ones
    /// (promoters, genes on the given strand). The baselines of
    /// `bench::baselines::all_baselines` given these options read both
    /// strands too.
    pub both_strands: bool,
    /// Weigh the classes equally whatever their sizes: the training classes' log priors added
    /// to the logits inside the loss ([`ClassBalance::LogitAdjustment`]), in training and in
    /// the validation loss that picks the epoch, so that the classifier's probabilities are
    /// those of equal priors — for sets where one class is much rarer, such as promoters
    /// among genome windows. The baselines of `all_baselines` weigh the classes equally too
    /// (the Markov chains always do; the k-mer regression by class weights).
    pub balanced: bool,
}

impl Default for ClassifyOptions {
    fn default() -> Self {
        ClassifyOptions {
            ulmfit: UlmfitOptions::default(),
            batch_size: 16,
            eval_batch_size: 32,
            both_strands: false,
            balanced: false,
        }
    }
}

/// What [`classify`] produced.
pub struct Classification {
    /// The trained classifier.
    pub classifier: GenomicModel,
    /// Its four unfreezing cycles.
    pub history: History,
    /// The epoch whose weights were kept (see [`train_classifier`]).
    pub best: Option<BestEpoch>,
    /// Items trained on and held out for validation (from `train`).
    pub n_train: usize,
    /// See `n_train`.
    pub n_valid: usize,
    /// The peak learning rate of each cycle (see [`ClassifierFit::lrs`]).
    pub lrs: [f64; 4],
    /// Class probabilities of each test item.
    pub probs: Vec<Vec<f32>>,
    /// The test items' labels.
    pub labels: Vec<u32>,
}

impl Classification {
    /// Arg-max accuracy and the binary metrics (macro one-vs-rest for more than two classes),
    /// see [`crate::stats::class_metrics`].
    pub fn metrics(&self) -> (f64, Vec<(&'static str, f64)>) {
        let p: Vec<Vec<f64>> = self
            .probs
            .iter()
            .map(|r| r.iter().map(|&v| v as f64).collect())
            .collect();
        crate::stats::class_metrics(&p, &self.labels)
    }
}

/// ULMFiT stage 3 on labelled sequences: a classifier built from `lm`'s encoder, trained on
/// `train` in the four cycles of `opts.ulmfit` (model selection on a stratified part of
/// `train`, see [`train_classifier`]), then scored on `test` (on both strands with
/// [`both_strands`](ClassifyOptions::both_strands)).
pub fn classify(
    lm: &GenomicModel,
    train: &[LabelledSeq],
    test: &[LabelledSeq],
    opts: &ClassifyOptions,
) -> Result<Classification> {
    let n_classes = train.iter().chain(test).map(|x| x.label).max().unwrap_or(0) as usize + 1;
    if n_classes < 2 {
        return Err(Error::Input(
            "classification needs at least two classes".into(),
        ));
    }
    let tok = lm.config().tokenizer()?;
    let enc = |v: &[LabelledSeq]| -> Vec<(Vec<u32>, u32)> {
        v.iter().map(|x| (tok.encode(&x.seq), x.label)).collect()
    };
    let seed = opts.ulmfit.seed;
    let clf = build_classifier(lm, n_classes, &opts.ulmfit)?;
    let tr = ClassificationBatcher::new(enc(train), opts.batch_size, true, seed)?;
    let mut ulmfit = opts.ulmfit.clone();
    if opts.balanced {
        let counts = crate::stats::class_counts(train.iter().map(|x| x.label), n_classes);
        ulmfit.learner.class_balance = Some(ClassBalance::logit_adjustment(&counts));
    }
    let fit = train_classifier(clf, tr, None, &ulmfit)?;
    let te = ClassificationBatcher::new(enc(test), opts.eval_batch_size.max(1), false, 0)?;
    let mut probs = predict_proba(&fit.model, &te)?;
    if opts.both_strands {
        let rc: Vec<(Vec<u32>, u32)> = test
            .iter()
            .map(|x| (tok.encode(&crate::data::alphabet::revcomp(&x.seq)), x.label))
            .collect();
        let te = ClassificationBatcher::new(rc, opts.eval_batch_size.max(1), false, 0)?;
        for (p, q) in probs.iter_mut().zip(predict_proba(&fit.model, &te)?) {
            for (a, b) in p.iter_mut().zip(q) {
                *a = 0.5 * (*a + b);
            }
        }
    }
    Ok(Classification {
        classifier: fit.model,
        history: fit.history,
        best: fit.best,
        n_train: fit.n_train,
        n_valid: fit.n_valid,
        lrs: fit.lrs,
        probs,
        labels: test.iter().map(|x| x.label).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::optim::{AdamW, AdamWOptions};
    use candle_core::{Device, Var};

    fn four_groups() -> AdamW {
        let v = || Var::zeros(2, candle_core::DType::F32, &Device::Cpu).unwrap();
        let groups = ["embed", "lstm.0", "lstm.1", "head"]
            .iter()
            .map(|g| (g.to_string(), vec![(format!("{g}.w"), v())]))
            .collect();
        AdamW::new(groups, 1.0, AdamWOptions::default())
    }

    fn frozen(opt: &AdamW) -> Vec<bool> {
        opt.groups().iter().map(|g| g.frozen).collect()
    }

    #[test]
    fn unfreezing_schedules() {
        let mut opt = four_groups();
        // head first: the head alone, then every group at the cycle's LR
        Unfreezing::HeadFirst.apply(&mut opt, 0, 0.02);
        assert_eq!(frozen(&opt), [true, true, true, false]);
        assert_eq!(opt.lrs(), [0.02; 4]);
        for cycle in 1..4 {
            Unfreezing::HeadFirst.apply(&mut opt, cycle, 0.01);
            assert_eq!(frozen(&opt), [false; 4]);
            assert_eq!(opt.lrs(), [0.01; 4]);
        }
        // gradual: one more group per cycle, ÷ 2.6 per group below the top
        for (cycle, n_frozen) in [(0, 3), (1, 2), (2, 1), (3, 0)] {
            Unfreezing::Gradual.apply(&mut opt, cycle, 0.026);
            let f = frozen(&opt);
            assert_eq!(f.iter().filter(|&&x| x).count(), n_frozen);
            assert!(f[..n_frozen].iter().all(|&x| x));
            let lrs = opt.lrs();
            assert!((lrs[3] - 0.026).abs() < 1e-12 && (lrs[2] - 0.01).abs() < 1e-12);
        }
        Unfreezing::All.apply(&mut opt, 0, 0.02);
        assert_eq!(frozen(&opt), [false; 4]);
        assert_eq!(opt.lrs(), [0.02; 4]);
        assert_eq!(
            "head-first".parse::<Unfreezing>().unwrap(),
            Unfreezing::HeadFirst
        );
        assert!("sideways".parse::<Unfreezing>().is_err());
    }

    /// The range tests run where the trained layers change: with the head first, the head's
    /// cycle and the next cycle that trains (whichever it is); gradually, every cycle; with
    /// everything from the start, the first cycle that trains.
    #[test]
    fn range_tests_where_the_layers_change() {
        use Unfreezing::*;
        assert!(new_layer_set(HeadFirst, None));
        assert!(new_layer_set(HeadFirst, Some(0)));
        assert!(!new_layer_set(HeadFirst, Some(1)));
        assert!(!new_layer_set(HeadFirst, Some(2)));
        assert!(new_layer_set(Gradual, Some(2)));
        assert!(new_layer_set(All, None));
        assert!(!new_layer_set(All, Some(0)));
    }
}
