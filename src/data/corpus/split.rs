//! Genome- and species-level splits, per kingdom.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{Corpus, GenomeMeta, Kingdom};
use crate::{Error, Result};

/// Genome- or species-level splitting (`genome`, `species`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SplitLevel {
    /// Each genome is a unit: strains of a training species can be in the test set.
    #[default]
    Genome,
    /// Each species is a unit: test species are never seen in training.
    Species,
}

impl<'de> Deserialize<'de> for SplitLevel {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        crate::error::deserialize_by_name(d)
    }
}

impl std::str::FromStr for SplitLevel {
    type Err = Error;
    fn from_str(s: &str) -> Result<SplitLevel> {
        match s {
            "genome" => Ok(SplitLevel::Genome),
            "species" => Ok(SplitLevel::Species),
            o => Err(Error::Config(format!(
                "split level {o:?}: use genome or species"
            ))),
        }
    }
}

/// Options for [`Corpus::split`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SplitOptions {
    /// Unit of the split.
    pub level: SplitLevel,
    /// Fraction of units for validation (per kingdom).
    pub valid_fraction: f64,
    /// Fraction of units for test (per kingdom).
    pub test_fraction: f64,
    /// Seed of the draw.
    pub seed: u64,
}

impl Default for SplitOptions {
    fn default() -> Self {
        Self {
            level: SplitLevel::Genome,
            valid_fraction: 0.2,
            test_fraction: 0.2,
            seed: 42,
        }
    }
}

/// Genome indices of the three splits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Splits {
    /// Training genomes.
    pub train: Vec<usize>,
    /// Validation genomes.
    pub valid: Vec<usize>,
    /// Test genomes.
    pub test: Vec<usize>,
}

impl Splits {
    /// Name of the split a genome is in.
    pub fn of(&self, genome: usize) -> &'static str {
        if self.train.contains(&genome) {
            "train"
        } else if self.valid.contains(&genome) {
            "valid"
        } else if self.test.contains(&genome) {
            "test"
        } else {
            "-"
        }
    }
}

impl Corpus {
    /// Split genomes into train / valid / test, per kingdom, at genome or species level, so no
    /// test genome (or species) is seen in training. Genomes pinned by the manifest's `split`
    /// field stay where they are. Per kingdom, with `n` units: `n = 1` → train; `n = 2` →
    /// train + test; `n ≥ 3` → at least one unit in each split.
    pub fn split(&self, opts: &SplitOptions) -> Result<Splits> {
        let metas: Vec<&GenomeMeta> = self.genomes.iter().map(|g| &g.meta).collect();
        split_metas(&metas, opts)
    }
}

/// [`Corpus::split`] of genomes known by their metadata only (token shards, a corpus not
/// loaded): the same split for the same genomes in the same order.
pub fn split_metas(metas: &[&GenomeMeta], opts: &SplitOptions) -> Result<Splits> {
    {
        if !(0.0..1.0).contains(&(opts.valid_fraction + opts.test_fraction)) {
            return Err(Error::Config(
                "valid_fraction + test_fraction must be below 1".into(),
            ));
        }
        let mut s = Splits {
            train: vec![],
            valid: vec![],
            test: vec![],
        };
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
        for k in Kingdom::ALL {
            // Units: genome ids or species, each with its genome indices; BTreeMap for a stable order.
            let mut units: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for i in (0..metas.len()).filter(|&i| metas[i].kingdom == k) {
                let g = metas[i];
                if let Some(pin) = &g.split {
                    match pin.as_str() {
                        "train" => s.train.push(i),
                        "valid" | "validation" => s.valid.push(i),
                        "test" => s.test.push(i),
                        other => {
                            return Err(Error::Config(format!(
                                "genome {}: split must be train, valid or test, not '{other}'",
                                g.id
                            )))
                        }
                    }
                    continue;
                }
                let key = match opts.level {
                    SplitLevel::Genome => g.id.clone(),
                    SplitLevel::Species => g.species.clone(),
                };
                units.entry(key).or_default().push(i);
            }
            let mut units: Vec<Vec<usize>> = units.into_values().collect();
            units.shuffle(&mut rng);
            let n = units.len();
            let (n_valid, n_test) = match n {
                0 | 1 => (0, 0),
                2 => (0, 1),
                _ => {
                    let v = ((n as f64 * opts.valid_fraction).round() as usize).max(1);
                    let t = ((n as f64 * opts.test_fraction).round() as usize).max(1);
                    if v + t >= n {
                        (1, 1)
                    } else {
                        (v, t)
                    }
                }
            };
            for (j, u) in units.into_iter().enumerate() {
                let dst = if j < n_test {
                    &mut s.test
                } else if j < n_test + n_valid {
                    &mut s.valid
                } else {
                    &mut s.train
                };
                dst.extend(u);
            }
        }
        s.train.sort_unstable();
        s.valid.sort_unstable();
        s.test.sort_unstable();
        Ok(s)
    }
}
