//! Classification by a **linear probe**: the pretrained model stays frozen; each item is read
//! once, every layer of its body pooled over the item (the mean, and the mean of each of a few
//! equal stretches of positions: [`binned_states`]), and a multinomial logistic regression
//! with an L2 penalty chosen on a fifth of the training items is fitted on those features
//! ([`logreg_fit`](crate::bench::baselines::logreg_fit), the k-mer regression's fitting). This
//! is how the Nucleotide Transformer and BEND compare pretrained models: what a frozen
//! representation already knows, without the variance of fine-tuning a million weights on a
//! hundred items.
//!
//! [`LinearProbe`] is the fitted probe (what `genolm classify --probe` trains) and
//! [`ProbeClassifier`] the probe with its LM, saved to and loaded from a folder and applied to
//! new sequences by `genolm predict`.

mod classifier;

use crate::data::alphabet::revcomp;
use crate::data::tasks::LabelledSeq;
use crate::infer::{binned_states, RowOptions};
use crate::models::GenomicModel;
use crate::{Error, Result};
pub use classifier::{LinearProbe, ProbeClassifier, PROBE_JSON};

/// Settings of [`probe_probs`].
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Stretches of positions pooled besides each layer's mean over the whole item (0: the
    /// mean only).
    pub bins: usize,
    /// An item's features are the mean of its own and its reverse complement's (labels that
    /// do not depend on the strand).
    pub both_strands: bool,
    /// L2 penalties tried, on standardised features.
    pub lambdas: Vec<f64>,
    /// Bases read before each item and not pooled (0: each item from a zero state). A
    /// stateful LSTM, trained with its state carried along genomes, predicts the first tokens
    /// read from a zero state worse than after any genomic prefix; the prefix is the same for
    /// every item: the end of the training items concatenated in a seeded order, whatever
    /// their class.
    pub context: usize,
    /// Seed of the split that picks the penalty and of the context's order.
    pub seed: u64,
    /// Rows per forward pass.
    pub eval_batch_size: usize,
    /// Weigh the classes equally in the regression's loss whatever their sizes
    /// ([`balanced_class_weights`](crate::stats::regression::balanced_class_weights)): for
    /// data where one class is much rarer, such as promoters among genome windows, whose
    /// unweighted probe calls most rare items the common class.
    pub balanced: bool,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            bins: 4,
            both_strands: false,
            lambdas: vec![1e-3, 1e-2, 1e-1, 1.0],
            context: 0,
            seed: 42,
            eval_batch_size: 32,
            balanced: false,
        }
    }
}

/// The layers a probe reads: every layer of the body (convolutions, LSTM layers, attention
/// blocks), not the token embedding and not `body` (the last of them again).
pub fn probe_layers(model: &GenomicModel) -> Vec<String> {
    let names: Vec<String> = model
        .layer_names()
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n != "embed" && n != "body")
        .collect();
    if names.is_empty() {
        vec!["body".into()]
    } else {
        names
    }
}

/// Rows grouped by (token count, context tokens): item indices and token rows.
type Groups = std::collections::BTreeMap<(usize, usize), (Vec<usize>, Vec<Vec<u32>>)>;

/// Pooled features of each item ([module docs](self)), items grouped by token count so that
/// every forward pass reads rows of one length.
pub fn probe_features(
    model: &GenomicModel,
    items: &[LabelledSeq],
    prefix: &[u8],
    opts: &ProbeOptions,
) -> Result<Vec<Vec<f64>>> {
    let tok = model.config().tokenizer()?;
    let layers = probe_layers(model);
    let layers: Vec<&str> = layers.iter().map(String::as_str).collect();
    let strands = if opts.both_strands { 2 } else { 1 };
    let mut groups = Groups::new();
    for (i, x) in items.iter().enumerate() {
        let rc = opts.both_strands.then(|| revcomp(&x.seq));
        for s in std::iter::once(&x.seq[..]).chain(rc.as_deref()) {
            let ids = tok.encode(s);
            if ids.is_empty() {
                return Err(Error::Input(format!(
                    "{}: {} bases make no {}-mer token",
                    if x.origin.is_empty() {
                        format!("item {i}")
                    } else {
                        x.origin.clone()
                    },
                    x.seq.len(),
                    tok.k
                )));
            }
            let (ids, skip) = if prefix.is_empty() {
                (ids, 0)
            } else {
                let all = tok.encode(&[prefix, s].concat());
                let skip = all.len().saturating_sub(ids.len());
                (all, skip)
            };
            let g = groups.entry((ids.len(), skip)).or_default();
            g.0.push(i);
            g.1.push(ids);
        }
    }
    let mut out: Vec<Vec<f64>> = vec![Vec::new(); items.len()];
    let row_opts = RowOptions::batch(opts.eval_batch_size.max(1));
    for (&(_, skip), (idx, rows)) in &groups {
        let f = binned_states(model, rows, &layers, opts.bins, skip, &row_opts)?;
        for (&i, v) in idx.iter().zip(f) {
            let o = &mut out[i];
            if o.is_empty() {
                o.resize(v.len(), 0.0);
            }
            for (a, b) in o.iter_mut().zip(v) {
                *a += f64::from(b) / strands as f64;
            }
        }
    }
    Ok(out)
}

/// Class probabilities of each test item (rows of `n_classes`) from a linear probe of the
/// frozen `model` fitted on `train` ([module docs](self)).
///
/// ```
/// use genolm::bench::probe::{probe_probs, ProbeOptions};
/// use genolm::data::tasks::LabelledSeq;
/// use genolm::prelude::*;
/// let item = |s: &[u8], label| LabelledSeq { seq: s.repeat(4), label, origin: String::new() };
/// let train: Vec<_> = (0..10)
///     .flat_map(|_| [item(b"ATTATAAATTTATA", 0), item(b"GCCGCGGGCCCGCG", 1)])
///     .collect();
/// let test = vec![item(b"TATTTAATATAAAT", 0), item(b"CGGCGCCGGGCGCC", 1)];
/// let lm = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1)?;
/// let p = probe_probs(&lm, &train, &test, 2, &ProbeOptions::default())?;
/// assert!(p[0][0] > 0.5 && p[1][1] > 0.5, "{p:?}");
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn probe_probs(
    model: &GenomicModel,
    train: &[LabelledSeq],
    test: &[LabelledSeq],
    n_classes: usize,
    opts: &ProbeOptions,
) -> Result<Vec<Vec<f64>>> {
    check_labels(test, n_classes)?;
    LinearProbe::fit(model, train, n_classes, opts)?.probs(model, test)
}

/// An error naming the first item whose label is not below `n_classes`.
fn check_labels(items: &[LabelledSeq], n_classes: usize) -> Result<()> {
    match items.iter().find(|x| x.label as usize >= n_classes) {
        Some(x) => Err(Error::Input(format!(
            "label {} is not below {n_classes} classes",
            x.label
        ))),
        None => Ok(()),
    }
}

/// The last `bases` bases of the training items concatenated in a seeded order (their classes
/// ignored): the context read before every item with [`ProbeOptions::context`].
pub fn context_prefix(train: &[LabelledSeq], bases: usize, seed: u64) -> Vec<u8> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    if bases == 0 {
        return Vec::new();
    }
    let mut order: Vec<usize> = (0..train.len()).collect();
    order.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed ^ 0xc0de));
    let mut out: Vec<u8> = Vec::new();
    for i in order {
        out.extend_from_slice(&train[i].seq);
        if out.len() >= bases {
            break;
        }
    }
    out.split_off(out.len().saturating_sub(bases))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ModelConfig;
    use candle_core::Device;

    fn item(s: &[u8], label: u32) -> LabelledSeq {
        LabelledSeq {
            seq: s.to_vec(),
            label,
            origin: String::new(),
        }
    }

    #[test]
    fn the_context_is_the_same_training_bases_for_every_call() {
        let train = [
            item(b"AAAACCCC", 0),
            item(b"GGGGTTTT", 1),
            item(b"ACGTACGT", 0),
        ];
        let p = context_prefix(&train, 12, 3);
        assert_eq!(p.len(), 12);
        assert_eq!(p, context_prefix(&train, 12, 3));
        assert!(context_prefix(&train, 0, 3).is_empty());
        // more bases than the items have: all of them
        assert_eq!(context_prefix(&train, 100, 3).len(), 24);
    }

    #[test]
    fn context_is_read_but_not_pooled() {
        let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1).unwrap();
        let items = [item(b"ACGTTGCAAGTCCATG", 0), item(b"TTGACATATAATGCGC", 1)];
        let opts = ProbeOptions::default();
        let plain = probe_features(&model, &items, &[], &opts).unwrap();
        let warm = probe_features(&model, &items, b"GATTACAGATTACA", &opts).unwrap();
        assert_eq!(plain[0].len(), warm[0].len());
        // the tiny model is an LSTM: the state the context leaves changes the item's features
        assert_ne!(plain[0], warm[0]);
    }
}
