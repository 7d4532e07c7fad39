//! Classification by **class-conditional language models**: the pretrained LM fine-tuned once
//! per class on that class's training sequences, a test sequence assigned by Bayes' rule from
//! its log-likelihood under each (plus the log of the class's share of the training items).
//! The per-class Markov chain of the benchmark is the same classifier with a count model in
//! place of the LM; here the pretrained LM is the starting point of every class model.

mod joint;

use crate::data::alphabet::revcomp;
use crate::data::batch::LmBatcher;
use crate::data::input::Records;
use crate::data::tasks::LabelledSeq;
use crate::infer::{
    scan_windows, score_rows, ClassProbs, ClassProbsOptions, Objective, RowOptions,
};
use crate::models::GenomicModel;
use crate::stats::calibration::ScoreCalibration;
use crate::train::learner::{Data, Learner, LearnerOptions};
use crate::{Error, Result};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::Path;

/// Settings of [`generative_probs`].
#[derive(Debug, Clone)]
pub struct GenerativeOptions {
    /// Peak learning rate of each class's one-cycle fine-tuning.
    pub lr: f64,
    /// Each layer group below the top trains at the learning rate of the group above ÷ this
    /// (ULMFiT's discriminative rates use 2.6); 1 trains every group at `lr`.
    /// The default is 1: with 2.6 the class LMs moved too little from the pretrained LM
    /// (embedding ÷ 17.6) and scored 0.01–0.03 lower on every benchmark row but the promoters
    /// over six seeds (docs/training.md, "Class LMs at one learning rate").
    pub lr_factor: f64,
    /// Optimizer steps per class at least (epochs grow on small classes).
    pub min_steps: usize,
    /// ULMFiT's second stage before the class LMs: fine-tune the LM on the training items of
    /// every class together for at least this many steps (same learning rates, one cycle),
    /// and start each class LM from that adapted LM instead of the pretrained one. 0: off.
    pub adapt_steps: usize,
    /// After the class LMs: train them together for this many steps on the cross-entropy of
    /// the class posterior (Bayes' rule over their log-likelihoods; discriminative training of
    /// the generative classifier), at `joint_lr` falling to zero on a half cosine. 0: off.
    pub joint_steps: usize,
    /// Peak learning rate of the joint stage.
    pub joint_lr: f64,
    /// Rows per training batch.
    pub batch_size: usize,
    /// Train on both strands of each sequence and average a test item's log-likelihood over
    /// its two strands (labels that do not depend on the strand: reads, species).
    pub both_strands: bool,
    /// Share of each class's training items held out as its validation split (0: none). A
    /// class LM keeps the weights of its epoch with the lowest validation loss, and the
    /// log-likelihoods of all validation items under all class LMs calibrate the scores
    /// ([`ScoreCalibration`]) — needs at least [`MIN_CLASS_ITEMS`] items in every class. Off
    /// (0) by default: on the benchmark's tasks the held-out items cost the class LMs more
    /// accuracy than the calibration gains; turn it on for calibrated probabilities.
    pub valid_fraction: f64,
    /// Standard deviation of the calibration's priors (scale around 1, biases around 0, in
    /// nats): small values trust the raw Bayes rule, large ones the validation items.
    pub calibration_prior_sd: f64,
    /// Seed of the validation split, the batches and dropout.
    pub seed: u64,
    /// Rows per forward pass when scoring.
    pub eval_batch_size: usize,
    /// Equal class priors in Bayes' rule instead of each class's share of the training items:
    /// every class weighs the same whatever its size (a rare class's items are not called the
    /// common class for its prior alone).
    pub balanced: bool,
}

/// Longest training window (tokens); items up to one token longer are read whole.
pub const MAX_WINDOW: usize = 256;

/// Fewest training items a class needs for a validation split of its own.
pub const MIN_CLASS_ITEMS: usize = 8;

impl Default for GenerativeOptions {
    fn default() -> Self {
        GenerativeOptions {
            lr: 2e-3,
            lr_factor: 1.0,
            min_steps: 60,
            adapt_steps: 0,
            joint_steps: 0,
            joint_lr: 2e-4,
            batch_size: 16,
            both_strands: false,
            valid_fraction: 0.0,
            calibration_prior_sd: 2.0,
            seed: 42,
            eval_batch_size: 32,
            balanced: false,
        }
    }
}

/// What [`generative_classify`] returns: the fitted classifier (save it with
/// [`save`](Self::save), apply it to new sequences with [`class_probs`](Self::class_probs)) and
/// the test items' probabilities.
#[derive(Debug)]
pub struct GenerativeClassifier {
    /// Class probabilities of each test item.
    pub probs: Vec<Vec<f64>>,
    /// Class names in class order (`0`, `1`, … until named; `genolm classify` names them).
    pub classes: Vec<String>,
    /// The class LMs, in class order (each at its best validation epoch when validated).
    pub class_lms: Vec<GenomicModel>,
    /// Log of each class's share of the training items (Bayes' rule's prior).
    pub log_priors: Vec<f64>,
    /// Trained on both strands; a sequence's log-likelihood is the mean over its two strands.
    pub both_strands: bool,
    /// The calibration of the class scores fitted on the validation items (`None` without a
    /// validation split: the raw Bayes rule).
    pub calibration: Option<ScoreCalibration>,
    /// Per class: the epoch whose weights were kept (1-based) and the epochs run.
    pub epochs: Vec<(usize, usize)>,
}

/// Class probabilities of each test item (rows of `n_classes`) from class-conditional LMs
/// fine-tuned from `lm` (a causal LM); see [`generative_classify`].
pub fn generative_probs(
    lm: &GenomicModel,
    train: &[LabelledSeq],
    test: &[LabelledSeq],
    n_classes: usize,
    opts: &GenerativeOptions,
) -> Result<Vec<Vec<f64>>> {
    Ok(generative_classify(lm, train, test, n_classes, opts)?.probs)
}

/// Sequences grouped by token count for batched scoring: count → (item indices, rows).
type Groups = std::collections::BTreeMap<usize, (Vec<usize>, Vec<Vec<u32>>)>;

/// Token rows of `seqs` (and of their reverse complements with `both_strands`), grouped by
/// length. A causal LM scores the tokens after the first, so a sequence of fewer than two
/// tokens is an error, named by `name(index)`.
fn group<'a>(
    seqs: impl IntoIterator<Item = &'a [u8]>,
    tok: &crate::data::tokenize::KmerTokenizer,
    both_strands: bool,
    name: impl Fn(usize) -> String,
) -> Result<Groups> {
    let mut groups = Groups::new();
    for (i, seq) in seqs.into_iter().enumerate() {
        let n = tok.encode(seq).len();
        if n < 2 {
            return Err(Error::Input(format!(
                "{}: {} bases make {n} {}-mer token(s); class LMs score sequences of at least \
                 two tokens",
                name(i),
                seq.len(),
                tok.k
            )));
        }
        let rc = both_strands.then(|| revcomp(seq));
        for s in std::iter::once(seq).chain(rc.as_deref()) {
            let ids = tok.encode(s);
            let g = groups.entry(ids.len()).or_default();
            g.0.push(i);
            g.1.push(ids);
        }
    }
    Ok(groups)
}

/// Each item's score per class: its log-likelihood under the class's LM (the mean over its
/// strands), plus the class's log prior.
fn class_scores(
    lms: &[GenomicModel],
    log_priors: &[f64],
    groups: &Groups,
    n_items: usize,
    n_strands: f64,
    batch_size: usize,
) -> Result<Vec<Vec<f64>>> {
    let mut out = vec![vec![0f64; lms.len()]; n_items];
    for (c, (model, prior)) in lms.iter().zip(log_priors).enumerate() {
        for (items, rows) in groups.values() {
            let scores = score_rows(
                model,
                rows,
                Objective::LogLikelihood,
                &RowOptions::batch(batch_size.max(1)),
            )?;
            for (&i, s) in items.iter().zip(scores) {
                out[i][c] += s / n_strands;
            }
        }
        for row in out.iter_mut() {
            row[c] += prior;
        }
    }
    Ok(out)
}

/// Fine-tune one copy of `lm` (a causal LM) per class on that class's training sequences
/// (one-cycle at `lr`, every layer group at it unless [`lr_factor`](GenerativeOptions::lr_factor)
/// says otherwise, at least `min_steps` steps; with a validation
/// split, the epoch of lowest validation loss is kept) and score every test item under each:
/// Bayes' rule with the classes' shares of `train` as priors, calibrated on the validation
/// items when there are enough ([`GenerativeOptions::valid_fraction`]).
///
/// ```
/// use genolm::bench::generative::{generative_classify, GenerativeOptions};
/// use genolm::data::tasks::LabelledSeq;
/// use genolm::prelude::*;
/// let item = |s: &[u8], label| LabelledSeq { seq: s.repeat(6), label, origin: String::new() };
/// let train = vec![item(b"ATTATAAATTTATA", 0), item(b"AATATTTATAATAT", 0),
///                  item(b"GCCGCGGGCCCGCG", 1), item(b"GGCGCCCGCGGCGC", 1)];
/// let test = vec![item(b"TATTTAATATAAAT", 0), item(b"CGGCGCCGGGCGCC", 1)];
/// let lm = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1)?;
/// let opts = GenerativeOptions { min_steps: 20, lr: 1e-2, ..Default::default() };
/// let fit = generative_classify(&lm, &train, &test, 2, &opts)?;
/// assert_eq!((fit.probs.len(), fit.class_lms.len()), (2, 2));
/// assert!(fit.calibration.is_none()); // no validation split by default
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn generative_classify(
    lm: &GenomicModel,
    train: &[LabelledSeq],
    test: &[LabelledSeq],
    n_classes: usize,
    opts: &GenerativeOptions,
) -> Result<GenerativeClassifier> {
    if !lm.config().causal() {
        return Err(Error::Config(format!(
            "class-conditional LMs start from a causal LM; this model has a {:?} head (an MLM \
             or a classifier scores no sequence likelihood)",
            lm.config().head
        )));
    }
    if !(0.0..1.0).contains(&opts.valid_fraction) {
        return Err(Error::Config(format!(
            "generative valid_fraction must be in [0, 1), not {}",
            opts.valid_fraction
        )));
    }
    let tok = lm.config().tokenizer()?;
    let strands = |seq: &[u8]| -> Vec<Vec<u8>> {
        if opts.both_strands {
            vec![seq.to_vec(), revcomp(seq)]
        } else {
            vec![seq.to_vec()]
        }
    };
    // each class's items, shuffled, the first `valid_fraction` held out
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut by_class: Vec<Vec<&LabelledSeq>> = vec![Vec::new(); n_classes];
    for x in train {
        let c = x.label as usize;
        if c >= n_classes {
            return Err(Error::Input(format!(
                "label {c} of a training item is not below {n_classes} classes"
            )));
        }
        by_class[c].push(x);
    }
    if let Some(c) = by_class.iter().position(Vec::is_empty) {
        return Err(Error::Input(format!("class {c} has no training item")));
    }
    let validate = opts.valid_fraction > 0.0 && by_class.iter().all(|v| v.len() >= MIN_CLASS_ITEMS);
    let mut fit_items = Vec::with_capacity(n_classes);
    let mut valid_items: Vec<&LabelledSeq> = Vec::new();
    for items in &mut by_class {
        items.shuffle(&mut rng);
        let n_valid = if validate {
            ((items.len() as f64 * opts.valid_fraction).round() as usize).clamp(1, items.len() - 1)
        } else {
            0
        };
        valid_items.extend(items.drain(..n_valid));
        fit_items.push(std::mem::take(items));
    }
    let n_strands = if opts.both_strands { 2.0 } else { 1.0 };
    let mut class_lms = Vec::with_capacity(n_classes);
    let mut log_priors = Vec::with_capacity(n_classes);
    let mut epochs_kept = Vec::with_capacity(n_classes);
    let n_fit: usize = fit_items.iter().map(Vec::len).sum();
    let encode = |items: &[&LabelledSeq]| -> Vec<Vec<u32>> {
        items
            .iter()
            .flat_map(|x| strands(&x.seq))
            .map(|s| tok.encode(&s))
            .filter(|ids| ids.len() > 2)
            .collect()
    };
    let batcher = |streams: Vec<Vec<u32>>, seed: u64| -> Result<Option<LmBatcher>> {
        let Some(shortest) = streams.iter().map(Vec::len).min() else {
            return Ok(None);
        };
        // whole items as windows while they are short (a shorter window would drop
        // each item's tail, or the whole item when its random offset leaves no window)
        let bptt = MAX_WINDOW.min(shortest.saturating_sub(1)).max(1);
        let batch = opts.batch_size.min(streams.len()).max(1);
        Ok(Some(LmBatcher::new(streams, batch, bptt, false, seed)?))
    };
    // ULMFiT's second stage: the LM adapted to every class's items together
    let adapted = if opts.adapt_steps > 0 {
        let all: Vec<&LabelledSeq> = fit_items.iter().flatten().copied().collect();
        let seed = opts.seed + n_classes as u64;
        let Some(data) = batcher(encode(&all), seed)? else {
            return Err(Error::Input(
                "no training sequence of more than two tokens to adapt the LM to".into(),
            ));
        };
        let epochs = opts
            .adapt_steps
            .div_ceil(data.iter_epoch(0).len().max(1))
            .max(1);
        let lo = LearnerOptions {
            seed,
            verbose: false,
            ..Default::default()
        };
        let mut learn = Learner::new(lm.rebuilt()?, Data::Lm(data), None, lo)?;
        learn.opt.set_discriminative(opts.lr, opts.lr_factor);
        learn.set_stage("adapted LM");
        learn.fit_one_cycle(epochs, opts.lr)?;
        Some(learn.model)
    } else {
        None
    };
    let start = adapted.as_ref().unwrap_or(lm);
    for (c, items) in fit_items.iter().enumerate() {
        let seed = opts.seed + c as u64;
        let Some(data) = batcher(encode(items), seed)? else {
            return Err(Error::Input(format!(
                "class {c} has no training sequence of more than two tokens"
            )));
        };
        let own_valid: Vec<&LabelledSeq> = valid_items
            .iter()
            .copied()
            .filter(|x| x.label as usize == c)
            .collect();
        let valid = batcher(encode(&own_valid), seed)?;
        let per_epoch = data.iter_epoch(0).len().max(1);
        let epochs = opts.min_steps.div_ceil(per_epoch).max(1);
        let lo = LearnerOptions {
            seed,
            verbose: false,
            ..Default::default()
        };
        let has_valid = valid.is_some();
        let mut learn = Learner::new(start.rebuilt()?, Data::Lm(data), valid.map(Data::Lm), lo)?;
        learn.opt.set_discriminative(opts.lr, opts.lr_factor);
        learn.set_stage("class LM");
        if has_valid {
            learn.keep_best(0);
        }
        learn.fit_one_cycle(epochs, opts.lr)?;
        let kept = match learn.restore_best()? {
            Some(best) => best.epoch_index + 1,
            None => epochs,
        };
        epochs_kept.push((kept, epochs));
        log_priors.push(if opts.balanced {
            -(n_classes as f64).ln()
        } else {
            (items.len() as f64 / n_fit as f64).ln()
        });
        class_lms.push(learn.model);
    }
    if opts.joint_steps > 0 {
        let rows: Vec<(Vec<u32>, u32)> = fit_items
            .iter()
            .flatten()
            .flat_map(|x| {
                strands(&x.seq)
                    .into_iter()
                    .map(|s| (tok.encode(&s), x.label))
            })
            .collect();
        joint::joint_finetune(
            &mut class_lms,
            &log_priors,
            &rows,
            opts.joint_steps,
            opts.joint_lr,
            opts.batch_size,
            opts.seed + 1000 + n_classes as u64,
        )?;
    }
    let scores = |items: &[&LabelledSeq]| {
        let n = items.len();
        let seqs = items.iter().map(|x| &x.seq[..]);
        let groups = group(seqs, &tok, opts.both_strands, |i| match &items[i].origin {
            o if o.is_empty() => format!("item {i}"),
            o => o.clone(),
        })?;
        class_scores(
            &class_lms,
            &log_priors,
            &groups,
            n,
            n_strands,
            opts.eval_batch_size,
        )
    };
    let ll = scores(&test.iter().collect::<Vec<_>>())?;
    let valid_ll = scores(&valid_items)?;
    let valid_labels: Vec<u32> = valid_items.iter().map(|x| x.label).collect();
    let calibration = if validate {
        ScoreCalibration::fit(
            &valid_ll,
            &valid_labels,
            n_classes,
            opts.calibration_prior_sd,
        )
    } else {
        None
    };
    let probs = match &calibration {
        Some(cal) => ll.iter().map(|l| cal.probs(l)).collect(),
        None => ll.iter().map(|l| crate::stats::posterior(l)).collect(),
    };
    Ok(GenerativeClassifier {
        probs,
        classes: (0..n_classes).map(|c| c.to_string()).collect(),
        class_lms,
        log_priors,
        both_strands: opts.both_strands,
        calibration,
        epochs: epochs_kept,
    })
}

/// What `generative.json` records beside the class LMs (see [`GenerativeClassifier::save`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct SavedClassifier {
    method: String,
    classes: Vec<String>,
    files: Vec<String>,
    log_priors: Vec<f64>,
    both_strands: bool,
    calibration: Option<ScoreCalibration>,
}

/// The file `save` writes beside the class LMs.
pub const GENERATIVE_JSON: &str = "generative.json";

impl GenerativeClassifier {
    /// Class probabilities of every record of `records`, whole or in windows
    /// ([`ClassProbsOptions`]; `both_strands` comes from training, the option's is ignored):
    /// the same Bayes' rule (and calibration) as the test items'.
    ///
    /// ```
    /// use genolm::bench::generative::{generative_classify, GenerativeClassifier, GenerativeOptions};
    /// use genolm::data::tasks::LabelledSeq;
    /// use genolm::infer::ClassProbsOptions;
    /// use genolm::prelude::*;
    /// let item = |s: &[u8], label| LabelledSeq { seq: s.repeat(6), label, origin: String::new() };
    /// let train = vec![item(b"ATTATAAATTTATA", 0), item(b"GCCGCGGGCCCGCG", 1)];
    /// let test = vec![item(b"TATTTAATATAAAT", 0)];
    /// let lm = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1)?;
    /// let opts = GenerativeOptions { min_steps: 10, lr: 1e-2, ..Default::default() };
    /// let mut fit = generative_classify(&lm, &train, &test, 2, &opts)?;
    /// fit.classes = vec!["AT".into(), "GC".into()];
    /// // the test item again, as a record: the same probabilities
    /// let p = fit.class_probs(&[("t", &test[0].seq[..])], &ClassProbsOptions::default())?;
    /// assert!((p.rows[0].probs[0] - fit.probs[0][0]).abs() < 1e-9);
    /// // a sequence too short to score (one token) gets no probability: it is listed instead
    /// let short = fit.class_probs(&[("s", &b"A"[..])], &ClassProbsOptions::default())?;
    /// assert!(short.rows.is_empty() && short.skipped == [("s".to_string(), 1)]);
    /// // saved and loaded: the same classifier
    /// let dir = tempfile::tempdir().unwrap();
    /// fit.save(dir.path())?;
    /// let back = GenerativeClassifier::load(dir.path(), &Device::Cpu)?;
    /// assert_eq!(back.class_probs(&[("t", &test[0].seq[..])], &ClassProbsOptions::default())?, p);
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn class_probs<R: Records + ?Sized>(
        &self,
        records: &R,
        opts: &ClassProbsOptions,
    ) -> Result<ClassProbs> {
        let first = self
            .class_lms
            .first()
            .ok_or_else(|| Error::Input("a classifier without class LMs".into()))?;
        let tok = first.config().tokenizer()?;
        let n_strands = if self.both_strands { 2.0 } else { 1.0 };
        // class LMs score a sequence from its second token on
        let min_bases = tok.k + tok.stride;
        scan_windows(
            records,
            opts,
            self.classes.clone(),
            min_bases,
            |recs, part| {
                let seqs: Vec<&[u8]> = part.iter().map(|&(r, a, b)| &recs[r].1[a..b]).collect();
                let groups = group(seqs, &tok, self.both_strands, |i| {
                    let (r, a, b) = part[i];
                    format!("{} ({a}..{b})", recs[r].0)
                })?;
                let ll = class_scores(
                    &self.class_lms,
                    &self.log_priors,
                    &groups,
                    part.len(),
                    n_strands,
                    opts.batch_size,
                )?;
                Ok(ll
                    .iter()
                    .map(|l| match &self.calibration {
                        Some(cal) => cal.probs(l),
                        None => crate::stats::posterior(l),
                    })
                    .collect())
            },
        )
    }

    /// Write the class LMs (`class_lm_<class>.safetensors`) and `generative.json` (classes,
    /// files, priors, strands, calibration) into `dir`, each atomically; [`load`](Self::load)
    /// reads them back.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut files: Vec<String> = Vec::with_capacity(self.classes.len());
        for (c, name) in self.classes.iter().enumerate() {
            let stem: String = name
                .chars()
                .map(|ch| {
                    if ch.is_ascii_alphanumeric() || "._-".contains(ch) {
                        ch
                    } else {
                        '_'
                    }
                })
                .collect();
            let mut file = format!("class_lm_{stem}.safetensors");
            if files.contains(&file) {
                file = format!("class_lm_{stem}_{c}.safetensors");
            }
            files.push(file);
        }
        for (m, f) in self.class_lms.iter().zip(&files) {
            m.save(dir.join(f))?;
        }
        let saved = SavedClassifier {
            method: "class-conditional LMs".into(),
            classes: self.classes.clone(),
            files,
            log_priors: self.log_priors.clone(),
            both_strands: self.both_strands,
            calibration: self.calibration.clone(),
        };
        let json = serde_json::to_vec_pretty(&saved).expect("the classifier serialises");
        crate::fsio::atomic_write(&dir.join(GENERATIVE_JSON), &json)
    }

    /// Read a classifier written by [`save`](Self::save) (a `genolm classify --generative`
    /// output folder). `probs` and `epochs` are empty: they belong to the training run.
    pub fn load(dir: &Path, device: &candle_core::Device) -> Result<Self> {
        let path = dir.join(GENERATIVE_JSON);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let s: SavedClassifier = serde_json::from_str(&text)
            .map_err(|e| Error::parse(path.display().to_string(), e.line(), e.to_string()))?;
        let n = s.classes.len();
        if n < 2 || s.files.len() != n || s.log_priors.len() != n {
            return Err(Error::parse(
                path.display().to_string(),
                0,
                format!(
                    "{n} classes, {} class LMs and {} priors; each class needs one of each",
                    s.files.len(),
                    s.log_priors.len()
                ),
            ));
        }
        if let Some(f) = s
            .files
            .iter()
            .find(|f| Path::new(f).file_name() != Some(f.as_ref()))
        {
            return Err(Error::parse(
                path.display().to_string(),
                0,
                format!(
                    "class LM file {f:?} is not a file name inside {}",
                    dir.display()
                ),
            ));
        }
        let class_lms = s
            .files
            .iter()
            .map(|f| GenomicModel::load(dir.join(f), device))
            .collect::<Result<Vec<_>>>()?;
        Ok(GenerativeClassifier {
            probs: Vec::new(),
            classes: s.classes,
            class_lms,
            log_priors: s.log_priors,
            both_strands: s.both_strands,
            calibration: s.calibration,
            epochs: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ModelConfig;
    use rand::{Rng, SeedableRng};

    /// Mechanics on synthetic sequences: two classes drawn from different base compositions
    /// (AT-rich, GC-rich) are told apart by their class LMs, and the probabilities are
    /// distributions.
    #[test]
    fn class_lms_separate_two_compositions() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut draw = |label: u32, n: usize| -> Vec<LabelledSeq> {
            let w = if label == 0 { 0.8 } else { 0.2 }; // share of A/T
            (0..n)
                .map(|i| LabelledSeq {
                    origin: format!("s{label}_{i}"),
                    seq: (0..90)
                        .map(|_| {
                            let at = rng.random::<f64>() < w;
                            let second = rng.random::<bool>();
                            match (at, second) {
                                (true, false) => b'A',
                                (true, true) => b'T',
                                (false, false) => b'C',
                                (false, true) => b'G',
                            }
                        })
                        .collect(),
                    label,
                })
                .collect()
        };
        let train: Vec<LabelledSeq> = draw(0, 24).into_iter().chain(draw(1, 24)).collect();
        let test: Vec<LabelledSeq> = draw(0, 6).into_iter().chain(draw(1, 6)).collect();
        let lm = GenomicModel::new(ModelConfig::tiny(), &candle_core::Device::Cpu, 1).unwrap();
        let opts = GenerativeOptions {
            min_steps: 30,
            lr: 1e-2,
            both_strands: true,
            ..Default::default()
        };
        let probs = generative_probs(&lm, &train, &test, 2, &opts).unwrap();
        let fit_with =
            |o: GenerativeOptions| generative_classify(&lm, &train, &test, 2, &o).unwrap();
        let right_of = |probs: &[Vec<f64>]| {
            probs
                .iter()
                .zip(&test)
                .filter(|(p, x)| (p[1] > p[0]) == (x.label == 1))
                .count()
        };
        let right = right_of(&probs);
        assert!(probs
            .iter()
            .all(|p| (p.iter().sum::<f64>() - 1.0).abs() < 1e-9));
        assert!(right >= 11, "{right} of 12 right");
        // with a validation split: the best epoch kept, the scores calibrated
        let fit = fit_with(GenerativeOptions {
            valid_fraction: 0.25,
            ..opts.clone()
        });
        let cal = fit
            .calibration
            .expect("24 items per class are enough to calibrate");
        assert!(cal.scale > 0.0 && cal.bias.len() == 2, "{cal:?}");
        assert!(fit
            .epochs
            .iter()
            .all(|&(kept, run)| kept >= 1 && kept <= run));
        let right = right_of(&fit.probs);
        assert!(right >= 11, "calibrated: {right} of 12 right");
        // ULMFiT's second stage first: the class LMs start from the adapted LM, so their
        // weights move (the probabilities of these well-separated items are 0 and 1 either
        // way), and the classes still separate
        let fit_adapted = fit_with(GenerativeOptions {
            adapt_steps: 20,
            ..opts.clone()
        });
        let plain = fit_with(opts.clone());
        let moved = (fit_adapted.class_lms[0].embedding_matrix()
            - plain.class_lms[0].embedding_matrix())
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
        assert!(moved > 1e-6, "adapting moved no weight");
        let adapted = fit_adapted.probs;
        let right = right_of(&adapted);
        assert!(right >= 11, "adapted: {right} of 12 right");
        // an MLM has no likelihood to compare
        let mlm = GenomicModel::new(
            ModelConfig {
                emb_dim: 16,
                attn_heads: 2,
                attn_layers: 1,
                ..ModelConfig::transformer_mlm_small()
            },
            &candle_core::Device::Cpu,
            1,
        )
        .unwrap();
        assert!(generative_probs(&mlm, &train, &test, 2, &opts).is_err());
    }
}
