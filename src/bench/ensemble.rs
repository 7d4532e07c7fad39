//! Class-conditional LMs from **several pretrained LMs**, averaged: each LM fine-tuned once per
//! class ([`generative_classify`]), and an item's class probabilities the mean of the LMs'.
//!
//! One pretraining run is a draw: on the 106 UCI promoters the class LMs of seven LMs of one
//! recipe scored 0.868–0.940 (mean 0.903), and the mean of their probabilities 0.954, above
//! every one of them on average and above the k-mer regression (0.936) in five seeds of six
//! (docs/training.md, "Which pretrained LM"). `genolm classify --generative --lm A --lm B …`
//! fits this ensemble; `genolm predict` applies the saved folder.

use crate::bench::generative::{generative_classify, GenerativeClassifier, GenerativeOptions};
use crate::data::input::Records;
use crate::data::tasks::LabelledSeq;
use crate::infer::{ClassProbs, ClassProbsOptions};
use crate::models::GenomicModel;
use crate::{Error, Result};
use std::path::Path;

/// The file [`GenerativeEnsemble::save`] writes beside the members' folders.
pub const ENSEMBLE_JSON: &str = "ensemble.json";

/// What [`generative_ensemble`] returns: one fitted [`GenerativeClassifier`] per pretrained LM
/// and the test items' averaged probabilities.
#[derive(Debug)]
pub struct GenerativeEnsemble {
    /// The mean over members of each test item's class probabilities.
    pub probs: Vec<Vec<f64>>,
    /// One classifier per pretrained LM, in the order given (each with its own test
    /// probabilities in `probs`).
    pub members: Vec<GenerativeClassifier>,
}

/// What `ensemble.json` records: the members' folders (each a [`GenerativeClassifier`] folder).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct SavedEnsemble {
    method: String,
    classes: Vec<String>,
    members: Vec<String>,
}

/// Fit class-conditional LMs from each of `lms` with the same options and the same seed (so
/// each member is exactly what [`generative_classify`] gives from that LM alone), and average
/// the members' class probabilities of every test item.
///
/// ```
/// use genolm::bench::ensemble::generative_ensemble;
/// use genolm::bench::generative::{generative_classify, GenerativeOptions};
/// use genolm::data::tasks::LabelledSeq;
/// use genolm::prelude::*;
/// let item = |s: &[u8], label| LabelledSeq { seq: s.repeat(6), label, origin: String::new() };
/// let train = vec![item(b"ATTATAAATTTATA", 0), item(b"GCCGCGGGCCCGCG", 1)];
/// let test = vec![item(b"TATTTAATATAAAT", 0), item(b"CGGCGCCGGGCGCC", 1)];
/// let lms = [GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1)?,
///            GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 2)?];
/// let opts = GenerativeOptions { min_steps: 10, lr: 1e-2, ..Default::default() };
/// let fit = generative_ensemble(&lms, &train, &test, 2, &opts)?;
/// // each member is the single-LM classifier; the ensemble is their mean
/// let alone = generative_classify(&lms[1], &train, &test, 2, &opts)?;
/// assert_eq!(fit.members[1].probs, alone.probs);
/// let p = (fit.members[0].probs[0][1] + alone.probs[0][1]) / 2.0;
/// assert!((fit.probs[0][1] - p).abs() < 1e-12);
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn generative_ensemble(
    lms: &[GenomicModel],
    train: &[LabelledSeq],
    test: &[LabelledSeq],
    n_classes: usize,
    opts: &GenerativeOptions,
) -> Result<GenerativeEnsemble> {
    if lms.is_empty() {
        return Err(Error::Config("an ensemble needs at least one LM".into()));
    }
    let members = lms
        .iter()
        .map(|lm| generative_classify(lm, train, test, n_classes, opts))
        .collect::<Result<Vec<_>>>()?;
    let sets: Vec<&[Vec<f64>]> = members.iter().map(|m| &m.probs[..]).collect();
    let probs = crate::stats::mean_probs(&sets).expect("members score the same test items");
    Ok(GenerativeEnsemble { probs, members })
}

impl GenerativeEnsemble {
    /// Class names in class order (the members'; `0`, `1`, … until named).
    pub fn classes(&self) -> &[String] {
        self.members.first().map_or(&[], |m| &m.classes[..])
    }

    /// Name the classes of every member.
    pub fn set_classes(&mut self, classes: &[String]) {
        for m in &mut self.members {
            m.classes = classes.to_vec();
        }
    }

    /// Class probabilities of every record (whole or in windows, [`ClassProbsOptions`]): the
    /// mean of the members' [`GenerativeClassifier::class_probs`].
    pub fn class_probs<R: Records + ?Sized>(
        &self,
        records: &R,
        opts: &ClassProbsOptions,
    ) -> Result<ClassProbs> {
        let each = self
            .members
            .iter()
            .map(|m| m.class_probs(records, opts))
            .collect::<Result<Vec<_>>>()?;
        let Some(first) = each.first() else {
            return Err(Error::Input("an ensemble without members".into()));
        };
        let rows: Vec<Vec<Vec<f64>>> = each
            .iter()
            .map(|p| p.rows.iter().map(|r| r.probs.clone()).collect())
            .collect();
        let sets: Vec<&[Vec<f64>]> = rows.iter().map(|r| &r[..]).collect();
        let mean = crate::stats::mean_probs(&sets)
            .ok_or_else(|| Error::Input("the members classify different windows".into()))?;
        let mut out = first.clone();
        for (row, p) in out.rows.iter_mut().zip(mean) {
            row.probs = p;
        }
        Ok(out)
    }

    /// Write each member into `dir/lm_<i>` (1-based, [`GenerativeClassifier::save`]) and
    /// `ensemble.json` (classes and member folders), each file atomically.
    ///
    /// ```
    /// # use genolm::bench::ensemble::{generative_ensemble, GenerativeEnsemble};
    /// # use genolm::bench::generative::GenerativeOptions;
    /// # use genolm::data::tasks::LabelledSeq;
    /// # use genolm::infer::ClassProbsOptions;
    /// # use genolm::prelude::*;
    /// # let item = |s: &[u8], label| LabelledSeq { seq: s.repeat(6), label, origin: String::new() };
    /// # let train = vec![item(b"ATTATAAATTTATA", 0), item(b"GCCGCGGGCCCGCG", 1)];
    /// # let lms = [GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1)?,
    /// #            GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 2)?];
    /// # let opts = GenerativeOptions { min_steps: 10, lr: 1e-2, ..Default::default() };
    /// let mut fit = generative_ensemble(&lms, &train, &train, 2, &opts)?;
    /// fit.set_classes(&["AT".into(), "GC".into()]);
    /// let dir = tempfile::tempdir().unwrap();
    /// fit.save(dir.path())?;
    /// let back = GenerativeEnsemble::load(dir.path(), &Device::Cpu)?;
    /// let p = back.class_probs(&[("t", &train[0].seq[..])], &ClassProbsOptions::default())?;
    /// assert!((p.rows[0].probs[0] - fit.probs[0][0]).abs() < 1e-9);
    /// assert_eq!(p.classes, ["AT", "GC"]);
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let names: Vec<String> = (1..=self.members.len())
            .map(|i| format!("lm_{i}"))
            .collect();
        for (m, name) in self.members.iter().zip(&names) {
            m.save(&dir.join(name))?;
        }
        let saved = SavedEnsemble {
            method: "class-conditional LMs from several LMs, averaged".into(),
            classes: self.classes().to_vec(),
            members: names,
        };
        let json = serde_json::to_vec_pretty(&saved).expect("the ensemble serialises");
        crate::fsio::atomic_write(&dir.join(ENSEMBLE_JSON), &json)
    }

    /// Read an ensemble written by [`save`](Self::save). `probs` is empty: it belongs to the
    /// training run.
    pub fn load(dir: &Path, device: &candle_core::Device) -> Result<Self> {
        let path = dir.join(ENSEMBLE_JSON);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let bad = |line: usize, msg: String| Error::parse(path.display().to_string(), line, msg);
        let s: SavedEnsemble =
            serde_json::from_str(&text).map_err(|e| bad(e.line(), e.to_string()))?;
        if s.members.is_empty() {
            return Err(bad(0, "no members".into()));
        }
        let mut members = Vec::with_capacity(s.members.len());
        for m in &s.members {
            if Path::new(m).file_name() != Some(m.as_ref()) {
                return Err(bad(
                    0,
                    format!("member {m:?} is not a folder name inside {}", dir.display()),
                ));
            }
            let fit = GenerativeClassifier::load(&dir.join(m), device)?;
            if fit.classes != s.classes {
                return Err(bad(
                    0,
                    format!(
                        "member {m} has classes {:?}, the ensemble {:?}",
                        fit.classes, s.classes
                    ),
                ));
            }
            members.push(fit);
        }
        Ok(GenerativeEnsemble {
            probs: Vec::new(),
            members,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ModelConfig;

    /// A saved ensemble whose member disagrees about the classes is refused, naming the file.
    #[test]
    fn load_refuses_mismatched_members() {
        let item = |s: &[u8], label| LabelledSeq {
            seq: s.repeat(6),
            label,
            origin: String::new(),
        };
        let train = vec![item(b"ATTATAAATTTATA", 0), item(b"GCCGCGGGCCCGCG", 1)];
        let lm = GenomicModel::new(ModelConfig::tiny(), &candle_core::Device::Cpu, 1).unwrap();
        let opts = GenerativeOptions {
            min_steps: 4,
            ..Default::default()
        };
        let mut fit = generative_ensemble(&[lm], &train, &train, 2, &opts).unwrap();
        fit.set_classes(&["a".into(), "b".into()]);
        let dir = tempfile::tempdir().unwrap();
        fit.save(dir.path()).unwrap();
        assert!(GenerativeEnsemble::load(dir.path(), &candle_core::Device::Cpu).is_ok());
        let json = dir.path().join(ENSEMBLE_JSON);
        let text = std::fs::read_to_string(&json)
            .unwrap()
            .replace("\"b\"", "\"c\"");
        std::fs::write(&json, text).unwrap();
        let err = GenerativeEnsemble::load(dir.path(), &candle_core::Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ensemble.json") && err.contains("classes"),
            "{err}"
        );
        let text = std::fs::read_to_string(&json)
            .unwrap()
            .replace("\"lm_1\"", "\"../lm_1\"");
        std::fs::write(&json, text).unwrap();
        let err = GenerativeEnsemble::load(dir.path(), &candle_core::Device::Cpu)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a folder name"), "{err}");
    }

    /// No LM is a configuration error, not a panic.
    #[test]
    fn no_lms_is_an_error() {
        let r = generative_ensemble(&[], &[], &[], 2, &GenerativeOptions::default());
        assert!(r.is_err());
    }
}
