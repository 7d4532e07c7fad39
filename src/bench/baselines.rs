//! The supervised baselines every classification row reports beside the model (the field's
//! reference points in BEND, DART-Eval and Genomic Benchmarks):
//!
//! * **a Markov chain per class** (order 2), each test item assigned by the posterior of its
//!   likelihoods under the classes' chains;
//! * **k-mer logistic regression**: frequencies of every 1-, 2-, 3- and 4-mer (340 features,
//!   standardised on the training items), multinomial logistic regression with an L2 penalty
//!   chosen on a stratified 20 % of the training items from {1e-4, 1e-3, 1e-2, 1e-1}, then refit
//!   on all of them;
//! * **CNN from scratch**: a DeepBind/Basset-like convolutional network over single nucleotides
//!   (an embedding of width 8, three residual convolution layers of 64 channels, kernel 9, the
//!   classifier head's concat pooling of last, max and mean), trained with the same classifier recipe as the
//!   pretrained model but every layer trainable from the first epoch and no pretraining.
//!
//! All see exactly the training and test items the model sees, on the strands it sees them:
//! with [`ClassifyOptions::both_strands`] (reads, genome windows) the chains and the regression
//! also read each item's reverse complement, as the CNN and the LM classifiers do.
//! [`all_baselines`] runs the three (`genolm classify --baselines` on a user's labelled data,
//! the benchmark's classification rows).

use super::markov::MarkovModel;
use crate::data::alphabet::revcomp;
use crate::data::tasks::{stratified_split_indices, LabelledSeq};
use crate::models::{GenomicModel, ModelConfig};
use crate::stats::regression::{
    balanced_class_weights, standardised, weighted_softmax_regression, SoftmaxRegression,
    Standardiser,
};
use crate::train::recipes::{classify, ClassifyOptions};
use crate::Result;

const KMAX: usize = 4;

/// k-mer frequencies (k = 1..4, each k normalised to sum 1) of a sequence; k-mers with
/// ambiguous bases are skipped.
///
/// ```
/// let f = genolm::bench::baselines::kmer_features(b"ACGT");
/// assert_eq!(f.len(), 4 + 16 + 64 + 256);
/// assert_eq!(&f[..4], &[0.25, 0.25, 0.25, 0.25]);
/// ```
pub fn kmer_features(seq: &[u8]) -> Vec<f64> {
    let mut out = Vec::with_capacity(340);
    for k in 1..=KMAX {
        let mut counts = vec![0f64; 1 << (2 * k)];
        let mut n = 0.0;
        for w in seq.windows(k) {
            let mut code = 0usize;
            let mut ok = true;
            for &b in w {
                match crate::data::alphabet::base_index(b) {
                    Some(i) => code = code * 4 + i,
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                counts[code] += 1.0;
                n += 1.0;
            }
        }
        if n > 0.0 {
            counts.iter_mut().for_each(|c| *c /= n);
        }
        out.extend(counts);
    }
    out
}

/// Mean log loss, weighted by `w` when given (`Σ wᵢ (−log pᵢ) / Σ wᵢ`).
fn log_loss(p: &[Vec<f64>], y: &[u32], w: Option<&[f64]>) -> f64 {
    let nll = p
        .iter()
        .zip(y)
        .map(|(p, &y)| -(p[y as usize].max(1e-12)).ln());
    match w {
        None => nll.sum::<f64>() / y.len().max(1) as f64,
        Some(w) => nll.zip(w).map(|(l, w)| l * w).sum::<f64>() / w.iter().sum::<f64>().max(1e-300),
    }
}

/// Order of the per-class Markov chains of [`markov_per_class_probs`].
pub const MARKOV_CLASS_ORDER: usize = 2;

/// Class probabilities of the test items from one order-2 Markov chain per class, fitted on
/// that class's training items (Bayes' rule with equal priors on the items' likelihoods). With
/// `both_strands` each chain also counts its items' reverse complements and an item's
/// log-likelihood is the mean over its two strands, as the class-conditional LMs score it (for
/// data whose class does not depend on the strand, such as reads).
///
/// ```
/// use genolm::bench::baselines::markov_per_class_probs;
/// use genolm::data::tasks::LabelledSeq;
/// let item = |s: &str, label| LabelledSeq { seq: s.as_bytes().to_vec(), label, origin: String::new() };
/// let train = [item("ACACACACACACACAC", 0), item("GTTGGTTGGTTGGTTG", 1)];
/// let p = markov_per_class_probs(&train, &[item("CACACACA", 0)], 2, false).unwrap();
/// assert!(p[0][0] > 0.9);
/// // on both strands an item and its reverse complement get the same probabilities
/// let fwd = markov_per_class_probs(&train, &[item("CACACAGT", 0)], 2, true).unwrap();
/// let rev = markov_per_class_probs(&train, &[item("ACTGTGTG", 0)], 2, true).unwrap();
/// assert!((fwd[0][0] - rev[0][0]).abs() < 1e-12);
/// ```
pub fn markov_per_class_probs(
    train: &[LabelledSeq],
    test: &[LabelledSeq],
    n_classes: usize,
    both_strands: bool,
) -> Result<Vec<Vec<f64>>> {
    let models: Vec<MarkovModel> = (0..n_classes as u32)
        .map(|c| {
            MarkovModel::fit(
                train
                    .iter()
                    .filter(|x| x.label == c)
                    .map(|x| x.seq.as_slice()),
                MARKOV_CLASS_ORDER,
                both_strands,
            )
        })
        .collect::<Result<_>>()?;
    Ok(test
        .iter()
        .map(|x| {
            let rc = both_strands.then(|| revcomp(&x.seq));
            let ll: Vec<f64> = models
                .iter()
                .map(|m| match &rc {
                    Some(rc) => {
                        (m.span_logp(&x.seq, 0, x.seq.len()) + m.span_logp(rc, 0, rc.len())) / 2.0
                    }
                    None => m.span_logp(&x.seq, 0, x.seq.len()),
                })
                .collect();
            crate::stats::posterior(&ll)
        })
        .collect())
}

/// Class probabilities of the test items from a k-mer logistic regression fitted on `train`.
/// With `both_strands` an item's features are the mean of its own and its reverse complement's
/// (the regression then cannot tell the strands apart); with `balanced` every class weighs the
/// same in the fit ([`logreg_fit`]).
pub fn kmer_logreg_probs(
    train: &[LabelledSeq],
    test: &[LabelledSeq],
    k: usize,
    seed: u64,
    both_strands: bool,
    balanced: bool,
) -> Vec<Vec<f64>> {
    let item_features = |seq: &[u8]| {
        let mut f = kmer_features(seq);
        if both_strands {
            for (a, b) in f.iter_mut().zip(kmer_features(&revcomp(seq))) {
                *a = (*a + b) / 2.0;
            }
        }
        f
    };
    let feats = |v: &[LabelledSeq]| v.iter().map(|x| item_features(&x.seq)).collect::<Vec<_>>();
    let lambdas = [1e-4, 1e-3, 1e-2, 1e-1];
    logreg_fit(train, &feats(train), k, seed, &lambdas, balanced).predict(&feats(test))
}

/// A fitted [`logreg_fit`]: the training items' standardisation, the regression and its
/// penalty.
#[derive(Debug, Clone, PartialEq)]
pub struct LogReg {
    /// Column means and standard deviations of the training features.
    pub scaler: Standardiser,
    /// The regression on standardised features.
    pub model: SoftmaxRegression,
    /// The L2 penalty chosen.
    pub lambda: f64,
}

impl LogReg {
    /// Class probabilities of feature rows (raw, standardised here).
    pub fn predict(&self, rows: &[Vec<f64>]) -> Vec<Vec<f64>> {
        self.model.predict(&self.scaler.apply(rows))
    }
}

/// A multinomial logistic regression on the training items' features `x_train` (one row per
/// item of `train`, whose labels and classes the penalty's stratified split reads),
/// standardised on them, with the L2 penalty of `lambdas` that has the lowest log loss on a
/// stratified fifth of the items (fitted on the other four fifths), refitted on all of them:
/// the k-mer regression's and the LM's linear probe's fit. With
/// `balanced` every class weighs the same in the loss and in the penalty's validation loss
/// ([`balanced_class_weights`]): for sets where one class is much rarer than the other.
pub fn logreg_fit(
    train: &[LabelledSeq],
    x_train: &[Vec<f64>],
    k: usize,
    seed: u64,
    lambdas: &[f64],
    balanced: bool,
) -> LogReg {
    let y_train: Vec<u32> = train.iter().map(|x| x.label).collect();
    let rows = |idx: &[usize]| idx.iter().map(|&i| x_train[i].clone()).collect::<Vec<_>>();
    let ys = |idx: &[usize]| idx.iter().map(|&i| y_train[i]).collect::<Vec<_>>();
    let weights = |y: &[u32]| balanced.then(|| balanced_class_weights(y, k));
    // the penalty, chosen on a held-out fifth of the training items
    let (fit, val) = stratified_split_indices(train, seed ^ 0x5eed);
    let mut lambda = lambdas.get(lambdas.len() / 2).copied().unwrap_or(1e-2);
    if !fit.is_empty() && !val.is_empty() && lambdas.len() > 1 {
        let (xf, xv) = standardised(&rows(&fit), &rows(&val));
        let d = xf.len() / fit.len();
        let (yf, yv) = (ys(&fit), ys(&val));
        let (wf, wv) = (weights(&yf), weights(&yv));
        let mut best = f64::INFINITY;
        for &l in lambdas {
            let m = weighted_softmax_regression(&xf, d, &yf, k, l, 300, wf.as_deref());
            let loss = log_loss(&m.predict(&xv), &yv, wv.as_deref());
            if loss < best {
                best = loss;
                lambda = l;
            }
        }
    }
    let scaler = Standardiser::fit(x_train);
    let xt = scaler.apply(x_train);
    let d = xt.len() / train.len().max(1);
    let w = weights(&y_train);
    let model = weighted_softmax_regression(&xt, d, &y_train, k, lambda, 300, w.as_deref());
    LogReg {
        scaler,
        model,
        lambda,
    }
}

/// The one-hot CNN trained from scratch ([module docs](self)).
pub fn onehot_cnn() -> ModelConfig {
    ModelConfig {
        name: "cnn_onehot_scratch".into(),
        k: 1,
        stride: 1,
        emb_dim: 8,
        conv_layers: 3,
        conv_channels: 64,
        conv_kernel: 9,
        ..ModelConfig::cnn_small()
    }
}

/// Class probabilities of the test items from [`onehot_cnn`] trained on `train` with `opts`'
/// classifier recipe, every layer trainable from the start.
pub fn cnn_scratch_probs(
    train: &[LabelledSeq],
    test: &[LabelledSeq],
    opts: &ClassifyOptions,
    device: &candle_core::Device,
) -> Result<Vec<Vec<f64>>> {
    let model = GenomicModel::new(onehot_cnn(), device, opts.ulmfit.seed)?;
    let fit = classify(
        &model,
        train,
        test,
        &ClassifyOptions {
            ulmfit: crate::train::UlmfitOptions {
                cls_unfreezing: crate::train::Unfreezing::All,
                ..opts.ulmfit.clone()
            },
            ..opts.clone()
        },
    )?;
    Ok(fit
        .probs
        .iter()
        .map(|p| p.iter().map(|&v| v as f64).collect())
        .collect())
}

/// Each baseline's name and its class probabilities for every test item.
pub type NamedProbs = Vec<(&'static str, Vec<Vec<f64>>)>;

/// The three baselines on the same items, by name: `markov_per_class`
/// ([`markov_per_class_probs`]), `kmer_logreg` ([`kmer_logreg_probs`], its penalty chosen with
/// `opts`' seed) and `cnn_scratch` ([`cnn_scratch_probs`] with `opts`' recipe); all three
/// on both strands when `opts.both_strands`.
pub fn all_baselines(
    train: &[LabelledSeq],
    test: &[LabelledSeq],
    n_classes: usize,
    opts: &ClassifyOptions,
    device: &candle_core::Device,
) -> Result<NamedProbs> {
    Ok(vec![
        (
            "markov_per_class",
            markov_per_class_probs(train, test, n_classes, opts.both_strands)?,
        ),
        (
            "kmer_logreg",
            kmer_logreg_probs(
                train,
                test,
                n_classes,
                opts.ulmfit.seed,
                opts.both_strands,
                opts.balanced,
            ),
        ),
        ("cnn_scratch", cnn_scratch_probs(train, test, opts, device)?),
    ])
}
