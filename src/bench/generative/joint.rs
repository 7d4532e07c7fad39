//! Discriminative fine-tuning of class-conditional LMs: after each class LM has been fine-tuned
//! on its own class (a density model of that class), the class LMs are trained together on what
//! the classifier decides, the class posterior of Bayes' rule. A training item's score under
//! class `c` is its log-likelihood under class `c`'s LM plus the class's log prior; the loss is
//! the cross-entropy of the true class over those scores (maximum mutual information training,
//! as in speech recognition's discriminative training of generative models). Each class LM
//! then gains likelihood where it separates the classes, not where it models what every class
//! shares.

use std::collections::BTreeMap;

use candle_core::{DType, Tensor};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::models::{layers, GenomicModel, Mode};
use crate::train::optim::{AdamW, AdamWOptions};
use crate::{Error, Result};

/// Train `lms` (one per class, in class order) together for `steps` AdamW steps on the
/// cross-entropy of each training row's class posterior (`rows`: token ids and class), with
/// `log_priors` added to every class's log-likelihood. Each step draws up to `batch` rows of
/// one length (a length drawn in proportion to its rows), reads them in training mode from the
/// zero state, as they are scored, and steps every class LM; the learning rate falls from `lr`
/// to zero on a half cosine. Returns the loss of every step.
pub(super) fn joint_finetune(
    lms: &mut [GenomicModel],
    log_priors: &[f64],
    rows: &[(Vec<u32>, u32)],
    steps: usize,
    lr: f64,
    batch: usize,
    seed: u64,
) -> Result<Vec<f64>> {
    if lms.len() != log_priors.len() {
        return Err(Error::Config(format!(
            "{} class LMs, {} priors",
            lms.len(),
            log_priors.len()
        )));
    }
    let mut by_len: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, (ids, label)) in rows.iter().enumerate() {
        if *label as usize >= lms.len() {
            return Err(Error::Input(format!(
                "label {label} is not below {} classes",
                lms.len()
            )));
        }
        if ids.len() >= 2 {
            by_len.entry(ids.len()).or_default().push(i);
        }
    }
    let groups: Vec<(usize, Vec<usize>)> = by_len.into_iter().collect();
    if groups.is_empty() || steps == 0 {
        return Ok(Vec::new());
    }
    let weights: Vec<usize> = groups.iter().map(|(_, v)| v.len()).collect();
    let total: usize = weights.iter().sum();
    let mut opts = lms
        .iter()
        .map(|m| AdamW::for_model(m, lr, AdamWOptions::default()))
        .collect::<Result<Vec<_>>>()?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let device = lms[0].device().clone();
    let mut losses = Vec::with_capacity(steps);
    for step in 0..steps {
        // the group: a row drawn uniformly picks its length
        let mut r = rng.random_range(0..total);
        let g = weights
            .iter()
            .position(|&w| {
                if r < w {
                    true
                } else {
                    r -= w;
                    false
                }
            })
            .expect("r < total");
        let (len, members) = &groups[g];
        let picked: Vec<usize> = if members.len() <= batch {
            let mut m = members.clone();
            m.shuffle(&mut rng);
            m
        } else {
            members.choose_multiple(&mut rng, batch).copied().collect()
        };
        let b = picked.len();
        let t = len - 1;
        let mut x = Vec::with_capacity(b * t);
        let mut y = Vec::with_capacity(b * t);
        let mut labels = Vec::with_capacity(b);
        for &i in &picked {
            let (ids, label) = &rows[i];
            x.extend_from_slice(&ids[..t]);
            y.extend_from_slice(&ids[1..]);
            labels.push(*label);
        }
        let x = Tensor::from_vec(x, (b, t), &device)?;
        let y = Tensor::from_vec(y, (b, t, 1), &device)?;
        let labels = Tensor::from_vec(labels, b, &device)?;
        let pass_seed: u64 = rng.random();
        let mut scores = Vec::with_capacity(lms.len());
        for (c, (m, prior)) in lms.iter().zip(log_priors).enumerate() {
            let out = m.forward(
                &x,
                None,
                Mode::Train {
                    seed: pass_seed.wrapping_add(c as u64),
                },
            )?;
            let lp = layers::log_softmax(&out.logits.to_dtype(DType::F32)?)?;
            let ll = lp.gather(&y, 2)?.squeeze(2)?.sum(1)?; // (b,)
            scores.push((ll + *prior)?);
        }
        let scores = Tensor::stack(&scores, 1)?; // (b, classes)
        let loss = layers::cross_entropy(&scores, &labels)?;
        losses.push(f64::from(loss.to_scalar::<f32>()?));
        let grads = loss.backward()?;
        let at = lr * 0.5 * (1.0 + (std::f64::consts::PI * step as f64 / steps as f64).cos());
        for o in &mut opts {
            o.set_lr(at);
            o.step(&grads, 1.0)?;
        }
    }
    Ok(losses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ModelConfig;

    /// Two copies of one untrained LM score every row alike (the posterior is the prior, a
    /// loss of ln 2); trained together on rows of two compositions, they come apart.
    #[test]
    fn joint_training_separates_identical_class_lms() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let tok = ModelConfig::tiny().tokenizer().unwrap();
        let rows: Vec<(Vec<u32>, u32)> = (0..32)
            .map(|i| {
                let label = (i % 2) as u32;
                let bases: &[u8] = if label == 0 { b"AT" } else { b"GC" };
                let seq: Vec<u8> = (0..40)
                    .map(|_| {
                        if rng.random::<f64>() < 0.7 {
                            *bases.choose(&mut rng).unwrap()
                        } else {
                            *b"ACGT".choose(&mut rng).unwrap()
                        }
                    })
                    .collect();
                (tok.encode(&seq), label)
            })
            .collect();
        let lm = GenomicModel::new(ModelConfig::tiny(), &candle_core::Device::Cpu, 1).unwrap();
        let mut lms = vec![lm.rebuilt().unwrap(), lm.rebuilt().unwrap()];
        let priors = [0.5f64.ln(); 2];
        let losses = joint_finetune(&mut lms, &priors, &rows, 40, 1e-2, 8, 7).unwrap();
        assert_eq!(losses.len(), 40);
        assert!(
            (losses[0] - 2f64.ln()).abs() < 0.2,
            "first loss {}",
            losses[0]
        );
        let last = losses[35..].iter().sum::<f64>() / 5.0;
        assert!(last < 0.35, "last losses {:?}", &losses[35..]);
        // a label past the class LMs is an input error
        let bad = vec![(rows[0].0.clone(), 2)];
        assert!(joint_finetune(&mut lms, &priors, &bad, 1, 1e-2, 8, 7).is_err());
    }
}
