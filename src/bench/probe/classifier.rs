//! The fitted linear probe ([`LinearProbe`]) and the probe with its frozen LM
//! ([`ProbeClassifier`]): what `genolm classify --probe` writes and `genolm predict` applies.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use super::{check_labels, context_prefix, probe_features, ProbeOptions};
use crate::bench::baselines::{logreg_fit, LogReg};
use crate::data::input::Records;
use crate::data::tasks::LabelledSeq;
use crate::infer::{scan_windows, ClassProbs, ClassProbsOptions};
use crate::models::params::{load_safetensors, save_safetensors};
use crate::models::GenomicModel;
use crate::stats::regression::{SoftmaxRegression, Standardiser};
use crate::{Error, Result};

/// The file [`ProbeClassifier::save`] writes beside the probe's weights and its LM.
pub const PROBE_JSON: &str = "probe.json";
/// The probe's weights, standardisation included (safetensors, f64).
const PROBE_WEIGHTS: &str = "probe.safetensors";
/// The frozen LM the probe reads, so that the folder is complete on its own.
const PROBE_LM: &str = "probe_lm.safetensors";

/// A linear probe fitted on a frozen LM's pooled layers ([module docs](super)); the LM is not
/// part of it: [`probs`](Self::probs) takes the LM it was fitted on.
#[derive(Debug, Clone)]
pub struct LinearProbe {
    /// Class names, in the regression's class order (`0`, `1`, … until set).
    pub classes: Vec<String>,
    /// Stretches pooled besides each layer's mean ([`ProbeOptions::bins`]).
    pub bins: usize,
    /// Features averaged over both strands ([`ProbeOptions::both_strands`]).
    pub both_strands: bool,
    /// Bases read before every item and not pooled ([`ProbeOptions::context`]).
    pub prefix: Vec<u8>,
    /// Classes weighed equally in the fit ([`ProbeOptions::balanced`]).
    pub balanced: bool,
    /// The regression, its standardisation and penalty.
    pub fit: LogReg,
    /// Rows per forward pass.
    pub eval_batch_size: usize,
}

impl LinearProbe {
    /// Fit the probe of `model` on `train` (labels below `n_classes`): each item's pooled
    /// features once, the penalty of `opts.lambdas` with the lowest log loss on a stratified
    /// fifth of the items, then the regression on all of them.
    ///
    /// ```
    /// use genolm::bench::probe::{LinearProbe, ProbeOptions};
    /// use genolm::data::tasks::LabelledSeq;
    /// use genolm::prelude::*;
    /// let item = |s: &[u8], label| LabelledSeq { seq: s.repeat(4), label, origin: String::new() };
    /// let train: Vec<_> = (0..10)
    ///     .flat_map(|_| [item(b"ATTATAAATTTATA", 0), item(b"GCCGCGGGCCCGCG", 1)])
    ///     .collect();
    /// let lm = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1)?;
    /// let probe = LinearProbe::fit(&lm, &train, 2, &ProbeOptions::default())?;
    /// let p = probe.probs(&lm, &[item(b"CGGCGCCGGGCGCC", 1)])?;
    /// assert!(p[0][1] > 0.5, "{p:?}");
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn fit(
        model: &GenomicModel,
        train: &[LabelledSeq],
        n_classes: usize,
        opts: &ProbeOptions,
    ) -> Result<Self> {
        check_labels(train, n_classes)?;
        if train.is_empty() {
            return Err(Error::Input("a probe needs training items".into()));
        }
        let prefix = context_prefix(train, opts.context, opts.seed);
        let x = probe_features(model, train, &prefix, opts)?;
        let fit = logreg_fit(
            train,
            &x,
            n_classes,
            opts.seed,
            &opts.lambdas,
            opts.balanced,
        );
        Ok(LinearProbe {
            classes: (0..n_classes).map(|c| c.to_string()).collect(),
            bins: opts.bins,
            both_strands: opts.both_strands,
            prefix,
            balanced: opts.balanced,
            fit,
            eval_batch_size: opts.eval_batch_size,
        })
    }

    /// Class probabilities of `items` (labels ignored) read by `model`, the LM the probe was
    /// fitted on (an error if its features do not match the probe's).
    pub fn probs(&self, model: &GenomicModel, items: &[LabelledSeq]) -> Result<Vec<Vec<f64>>> {
        let opts = ProbeOptions {
            bins: self.bins,
            both_strands: self.both_strands,
            eval_batch_size: self.eval_batch_size,
            ..Default::default()
        };
        let x = probe_features(model, items, &self.prefix, &opts)?;
        if let Some(r) = x.iter().find(|r| r.len() != self.fit.model.d) {
            return Err(Error::Input(format!(
                "the LM gives {} probe features, the probe was fitted on {}: not the LM it \
                 was fitted on",
                r.len(),
                self.fit.model.d
            )));
        }
        Ok(self.fit.predict(&x))
    }
}

/// A [`LinearProbe`] with the frozen LM it reads: a classifier `genolm predict` applies.
pub struct ProbeClassifier {
    /// The frozen LM.
    pub lm: GenomicModel,
    /// The probe of its layers.
    pub probe: LinearProbe,
}

/// `probe.json`: everything of the probe but its numbers.
#[derive(Serialize, Deserialize)]
struct SavedProbe {
    method: String,
    classes: Vec<String>,
    bins: usize,
    both_strands: bool,
    /// The context bases, as text.
    prefix: String,
    balanced: bool,
    lambda: f64,
    features: usize,
    lm: String,
    weights: String,
}

impl ProbeClassifier {
    /// Class probabilities of every record of `records`, whole or in windows
    /// ([`ClassProbsOptions`]; the strands come from training, the option's `both_strands`
    /// is ignored).
    ///
    /// ```
    /// use genolm::bench::probe::{LinearProbe, ProbeClassifier, ProbeOptions};
    /// use genolm::data::tasks::LabelledSeq;
    /// use genolm::infer::ClassProbsOptions;
    /// use genolm::prelude::*;
    /// let item = |s: &[u8], label| LabelledSeq { seq: s.repeat(4), label, origin: String::new() };
    /// let train: Vec<_> = (0..10)
    ///     .flat_map(|_| [item(b"ATTATAAATTTATA", 0), item(b"GCCGCGGGCCCGCG", 1)])
    ///     .collect();
    /// let lm = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1)?;
    /// let mut probe = LinearProbe::fit(&lm, &train, 2, &ProbeOptions::default())?;
    /// probe.classes = vec!["AT".into(), "GC".into()];
    /// let fit = ProbeClassifier { lm, probe };
    /// let seq = b"ATTATAAATTTATA".repeat(4);
    /// let p = fit.class_probs(&[("r", &seq[..])], &ClassProbsOptions::default())?;
    /// assert_eq!(p.classes[p.rows[0].predicted()], "AT");
    /// // saved and loaded: the same classifier
    /// let dir = tempfile::tempdir().unwrap();
    /// fit.save(dir.path())?;
    /// let back = ProbeClassifier::load(dir.path(), &Device::Cpu)?;
    /// assert_eq!(back.class_probs(&[("r", &seq[..])], &ClassProbsOptions::default())?, p);
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn class_probs<R: Records + ?Sized>(
        &self,
        records: &R,
        opts: &ClassProbsOptions,
    ) -> Result<ClassProbs> {
        let probe = LinearProbe {
            eval_batch_size: opts.batch_size.max(1),
            ..self.probe.clone()
        };
        let k = self.lm.config().tokenizer()?.k;
        scan_windows(
            records,
            opts,
            self.probe.classes.clone(),
            k,
            |recs, part| {
                let items: Vec<LabelledSeq> = part
                    .iter()
                    .map(|&(r, a, b)| LabelledSeq {
                        seq: recs[r].1[a..b].to_vec(),
                        label: 0,
                        origin: format!("{} ({a}..{b})", recs[r].0),
                    })
                    .collect();
                probe.probs(&self.lm, &items)
            },
        )
    }

    /// Write `probe.json` (classes, pooling, strands, context, penalty), `probe.safetensors`
    /// (`weight` classes × features, `bias`, and the standardisation's `mean` and `sd`, f64)
    /// and the LM as `probe_lm.safetensors` into `dir`, each atomically; [`load`](Self::load)
    /// reads them back.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let p = &self.probe;
        let (k, d) = (p.fit.model.b.len(), p.fit.model.d);
        let cpu = Device::Cpu;
        let tensors = vec![
            (
                "weight".to_string(),
                Tensor::from_slice(&p.fit.model.w, (k, d), &cpu)?,
            ),
            ("bias".into(), Tensor::from_slice(&p.fit.model.b, k, &cpu)?),
            (
                "mean".into(),
                Tensor::from_slice(&p.fit.scaler.mean, d, &cpu)?,
            ),
            ("sd".into(), Tensor::from_slice(&p.fit.scaler.sd, d, &cpu)?),
        ];
        save_safetensors(&dir.join(PROBE_WEIGHTS), &tensors, HashMap::new())?;
        self.lm.save(dir.join(PROBE_LM))?;
        let saved = SavedProbe {
            method: "linear probe".into(),
            classes: p.classes.clone(),
            bins: p.bins,
            both_strands: p.both_strands,
            prefix: String::from_utf8_lossy(&p.prefix).into_owned(),
            balanced: p.balanced,
            lambda: p.fit.lambda,
            features: d,
            lm: PROBE_LM.into(),
            weights: PROBE_WEIGHTS.into(),
        };
        let json = serde_json::to_vec_pretty(&saved).expect("the probe serialises");
        crate::fsio::atomic_write(&dir.join(PROBE_JSON), &json)
    }

    /// Read a classifier written by [`save`](Self::save) (a `genolm classify --probe` output
    /// folder), its LM on `device`.
    pub fn load(dir: &Path, device: &Device) -> Result<Self> {
        let path = dir.join(PROBE_JSON);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let name = path.display().to_string();
        let s: SavedProbe = serde_json::from_str(&text)
            .map_err(|e| Error::parse(name.clone(), e.line(), e.to_string()))?;
        let bad = |msg: String| Error::parse(name.clone(), 0, msg);
        for f in [&s.lm, &s.weights] {
            if Path::new(f).file_name() != Some(f.as_ref()) {
                return Err(bad(format!(
                    "{f:?} is not a file name inside {}",
                    dir.display()
                )));
            }
        }
        let (t, _) = load_safetensors(&dir.join(&s.weights), &Device::Cpu)?;
        let get = |n: &str| -> Result<Vec<f64>> {
            let v = t
                .get(n)
                .ok_or_else(|| bad(format!("{} has no tensor {n:?}", s.weights)))?;
            Ok(v.flatten_all()?
                .to_dtype(candle_core::DType::F64)?
                .to_vec1()?)
        };
        let (w, b, mean, sd) = (get("weight")?, get("bias")?, get("mean")?, get("sd")?);
        let (k, d) = (s.classes.len(), s.features);
        if k < 2 || b.len() != k || w.len() != k * d || mean.len() != d || sd.len() != d {
            return Err(bad(format!(
                "{k} classes and {d} features, but {} weights, {} biases, {} means and {} \
                 standard deviations",
                w.len(),
                b.len(),
                mean.len(),
                sd.len()
            )));
        }
        let lm = GenomicModel::load(dir.join(&s.lm), device)?;
        Ok(ProbeClassifier {
            lm,
            probe: LinearProbe {
                classes: s.classes,
                bins: s.bins,
                both_strands: s.both_strands,
                prefix: s.prefix.into_bytes(),
                balanced: s.balanced,
                fit: LogReg {
                    scaler: Standardiser { mean, sd },
                    model: SoftmaxRegression { w, b, d },
                    lambda: s.lambda,
                },
                eval_batch_size: ProbeOptions::default().eval_batch_size,
            },
        })
    }
}
