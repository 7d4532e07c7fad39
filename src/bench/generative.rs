//! Classification by **class-conditional language models**: the pretrained LM fine-tuned once
//! per class on that class's training sequences, a test sequence assigned by Bayes' rule from
//! its log-likelihood under each (plus the log of the class's share of the training items).
//! The per-class Markov chain of the benchmark is the same classifier with a count model in
//! place of the LM; here the pretrained LM is the starting point of every class model.

use crate::data::alphabet::revcomp;
use crate::data::batch::LmBatcher;
use crate::data::tasks::LabelledSeq;
use crate::infer::{score_rows, Objective, RowOptions};
use crate::models::GenomicModel;
use crate::train::learner::{Data, Learner, LearnerOptions};
use crate::train::recipes::DISCRIMINATIVE_FACTOR;
use crate::{Error, Result};

/// Settings of [`generative_probs`].
#[derive(Debug, Clone)]
pub struct GenerativeOptions {
    /// Peak learning rate of each class's one-cycle fine-tuning (discriminative below it).
    pub lr: f64,
    /// Optimizer steps per class at least (epochs grow on small classes).
    pub min_steps: usize,
    /// Rows per training batch.
    pub batch_size: usize,
    /// Train on both strands of each sequence and average a test item's log-likelihood over
    /// its two strands (labels that do not depend on the strand: reads, species).
    pub both_strands: bool,
    /// Seed of the batches and dropout.
    pub seed: u64,
    /// Rows per forward pass when scoring.
    pub eval_batch_size: usize,
}

impl Default for GenerativeOptions {
    fn default() -> Self {
        GenerativeOptions {
            lr: 2e-3,
            min_steps: 60,
            batch_size: 16,
            both_strands: false,
            seed: 42,
            eval_batch_size: 32,
        }
    }
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
    Ok(generative_classify(lm, train, test, n_classes, opts)?.0)
}

/// Fine-tune one copy of `lm` (a causal LM) per class on that class's training sequences
/// (one-cycle, discriminative learning rates, at least `min_steps` steps) and score every test
/// item under each: the class probabilities of each test item (Bayes' rule with the classes'
/// shares of `train` as priors) and the class LMs, in class order.
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
/// let (probs, class_lms) = generative_classify(&lm, &train, &test, 2, &opts)?;
/// assert_eq!((probs.len(), class_lms.len()), (2, 2));
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn generative_classify(
    lm: &GenomicModel,
    train: &[LabelledSeq],
    test: &[LabelledSeq],
    n_classes: usize,
    opts: &GenerativeOptions,
) -> Result<(Vec<Vec<f64>>, Vec<GenomicModel>)> {
    if !lm.config().causal() {
        return Err(Error::Config(format!(
            "class-conditional LMs start from a causal LM; this model has a {:?} head (an MLM \
             or a classifier scores no sequence likelihood)",
            lm.config().head
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
    // test rows, grouped by length for batched scoring: length → (items, rows)
    type Group = (Vec<usize>, Vec<Vec<u32>>);
    let mut groups: std::collections::BTreeMap<usize, Group> = Default::default();
    for (i, x) in test.iter().enumerate() {
        for s in strands(&x.seq) {
            let ids = tok.encode(&s);
            let g = groups.entry(ids.len()).or_default();
            g.0.push(i);
            g.1.push(ids);
        }
    }
    let n_strands = if opts.both_strands { 2.0 } else { 1.0 };
    let mut ll = vec![vec![0f64; n_classes]; test.len()];
    let mut class_lms = Vec::with_capacity(n_classes);
    for c in 0..n_classes {
        let items: Vec<&LabelledSeq> = train.iter().filter(|x| x.label as usize == c).collect();
        if items.is_empty() {
            return Err(Error::Input(format!("class {c} has no training item")));
        }
        let streams: Vec<Vec<u32>> = items
            .iter()
            .flat_map(|x| strands(&x.seq))
            .map(|s| tok.encode(&s))
            .filter(|ids| ids.len() > 2)
            .collect();
        let shortest = streams.iter().map(Vec::len).min().unwrap_or(0);
        let bptt = 64.min(shortest.saturating_sub(1)).max(1);
        let batch = opts.batch_size.min(streams.len()).max(1);
        let data = LmBatcher::new(streams, batch, bptt, false, opts.seed + c as u64)?;
        let per_epoch = data.iter_epoch(0).len().max(1);
        let epochs = opts.min_steps.div_ceil(per_epoch).max(1);
        let lo = LearnerOptions {
            seed: opts.seed + c as u64,
            verbose: false,
            ..Default::default()
        };
        let mut learn = Learner::new(lm.rebuilt()?, Data::Lm(data), None, lo)?;
        learn.opt.set_discriminative(opts.lr, DISCRIMINATIVE_FACTOR);
        learn.set_stage("class LM");
        learn.fit_one_cycle(epochs, opts.lr)?;
        let model = learn.model;
        let prior = (items.len() as f64 / train.len() as f64).ln();
        for (items, rows) in groups.values() {
            let scores = score_rows(
                &model,
                rows,
                Objective::LogLikelihood,
                &RowOptions::batch(opts.eval_batch_size.max(1)),
            )?;
            for (&i, s) in items.iter().zip(scores) {
                ll[i][c] += s / n_strands;
            }
        }
        for row in ll.iter_mut() {
            row[c] += prior;
        }
        class_lms.push(model);
    }
    let probs = ll.iter().map(|l| crate::stats::posterior(l)).collect();
    Ok((probs, class_lms))
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
        let right = probs
            .iter()
            .zip(&test)
            .filter(|(p, x)| (p[1] > p[0]) == (x.label == 1))
            .count();
        assert!(probs
            .iter()
            .all(|p| (p.iter().sum::<f64>() - 1.0).abs() < 1e-9));
        assert!(right >= 11, "{right} of 12 right");
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
