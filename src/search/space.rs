//! The search file: what to search over (`[space]`), around which run (`[base]`), and how
//! (`[search]`).
//!
//! ```toml
//! [search]
//! method = "asha"        # asha | hyperband | random
//! min_budget = 30        # optimizer steps of the first rung
//! max_budget = 270       # steps of the last rung (min_budget · eta^k)
//! eta = 3
//! total_budget = 3000    # optimizer steps over all trials (0 = no limit)
//! max_trials = 40
//! seed = 0
//! valid_tokens = 16384   # validation tokens per evaluation, the same for every trial
//!
//! [base.data]            # a run file without `output`; the search sets epochs and max_batches
//! batch_size = 16
//! [base.model]
//! preset = "awd_lstm_small"
//!
//! [space]
//! "train.lr" = { log_uniform = [1e-3, 3e-2] }
//! "model.drop_mult" = { uniform = [0.0, 0.6] }
//! "model.lstm_hidden" = { choice = [128, 256, 384] }
//! "data.bptt" = { int_uniform = [32, 96] }
//! "model.preset" = { choice = ["awd_lstm_small", "cnn_lstm_small"] }
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::train::run::RunConfig;
use crate::{Error, Result};

/// How trials are scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Asynchronous successive halving (Li et al. 2020): every trial starts at the first rung;
    /// the best 1/eta of each rung move up as soon as they are known.
    #[default]
    Asha,
    /// Asynchronous Hyperband: trials go round-robin into brackets that start at rungs
    /// 0, 1, …, k, each bracket an ASHA of its own (hedges against a too small first rung).
    Hyperband,
    /// Random search: every trial trains with the whole `max_budget`.
    Random,
}

/// The `[search]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchOptions {
    /// Scheduler.
    pub method: Method,
    /// Optimizer steps of the first rung (also the steps per evaluation).
    pub min_budget: usize,
    /// Optimizer steps of the last rung: `min_budget · eta^k` for an integer `k`.
    pub max_budget: usize,
    /// Reduction factor: 1/eta of a rung is promoted.
    pub eta: usize,
    /// Optimizer steps over all trials, promotions included (0 = no limit).
    pub total_budget: usize,
    /// Most trials (sampled configurations).
    pub max_trials: usize,
    /// Seed of the sampled configurations.
    pub seed: u64,
    /// A claimed job whose worker has not shown life for this long is given to another worker
    /// (a worker on the same machine whose process is gone is noticed at once).
    pub stale_after_s: f64,
    /// Validation tokens per evaluation, the same for every trial (the search sets each
    /// trial's `train.valid_max_batches` to cover this many tokens, so trials with other
    /// `data.bptt` or `data.batch_size` are compared on the same validation tokens).
    pub valid_tokens: usize,
}

impl Default for SearchOptions {
    fn default() -> Self {
        SearchOptions {
            method: Method::Asha,
            min_budget: 30,
            max_budget: 270,
            eta: 3,
            total_budget: 0,
            max_trials: 20,
            seed: 0,
            stale_after_s: 120.0,
            valid_tokens: 16384,
        }
    }
}

impl SearchOptions {
    /// Number of rungs above the first (`k` in `max_budget = min_budget · eta^k`).
    pub fn top_rung(&self) -> usize {
        let mut k = 0;
        let mut b = self.min_budget;
        while b < self.max_budget {
            b *= self.eta;
            k += 1;
        }
        k
    }
    /// Optimizer steps a trial has trained after rung `r`.
    pub fn budget(&self, rung: usize) -> usize {
        self.min_budget * self.eta.pow(rung as u32)
    }
    fn validate(&self) -> Result<()> {
        if self.min_budget == 0 || self.eta < 2 || self.max_trials == 0 {
            return Err(Error::Config(
                "search: min_budget and max_trials must be > 0 and eta ≥ 2".into(),
            ));
        }
        if self.budget(self.top_rung()) != self.max_budget {
            return Err(Error::Config(format!(
                "search: max_budget {} is not min_budget {} times a power of eta {}",
                self.max_budget, self.min_budget, self.eta
            )));
        }
        Ok(())
    }
}

/// One searched parameter's distribution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Param {
    /// Uniform real in `[lo, hi]`.
    Uniform([f64; 2]),
    /// Log-uniform real in `[lo, hi]` (learning rates, weight decay).
    LogUniform([f64; 2]),
    /// Uniform integer in `[lo, hi]` (widths, depths, BPTT).
    IntUniform([i64; 2]),
    /// One of a list (architectures, k-mer sizes, booleans).
    Choice(Vec<toml::Value>),
}

impl Param {
    fn sample(&self, rng: &mut impl Rng) -> toml::Value {
        match self {
            Param::Uniform([lo, hi]) => toml::Value::Float(rng.random_range(*lo..=*hi)),
            Param::LogUniform([lo, hi]) => {
                toml::Value::Float(rng.random_range(lo.ln()..=hi.ln()).exp())
            }
            Param::IntUniform([lo, hi]) => toml::Value::Integer(rng.random_range(*lo..=*hi)),
            Param::Choice(v) => v[rng.random_range(0..v.len())].clone(),
        }
    }
}

/// A whole search file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSpec {
    /// How.
    #[serde(default)]
    pub search: SearchOptions,
    /// The run every trial starts from (sections `data`, `model`, `train`).
    #[serde(default)]
    pub base: toml::Table,
    /// What varies: dotted run-file keys (`train.lr`, `model.lstm_hidden`, `data.bptt`, …).
    pub space: BTreeMap<String, Param>,
}

/// Sampled values of one trial, by dotted key.
pub type Assignment = BTreeMap<String, toml::Value>;

impl SearchSpec {
    /// Parse and check a search file's text: every key must name a run-file field, and the
    /// base run with each parameter at one of its values must be a valid run.
    pub fn from_toml_str(s: &str) -> Result<Self> {
        let spec: SearchSpec = toml::from_str(s)
            .map_err(|e: toml::de::Error| Error::Config(format!("search file: {}", e.message())))?;
        spec.search.validate()?;
        if spec.space.is_empty() {
            return Err(Error::Config(
                "search file: [space] names no parameter".into(),
            ));
        }
        for (k, p) in &spec.space {
            if !matches!(k.split('.').next(), Some("data" | "model" | "train")) || !k.contains('.')
            {
                return Err(Error::Config(format!(
                    "search file: `{k}` is not a run-file key (data.*, model.* or train.*)"
                )));
            }
            let bad = match p {
                Param::Uniform([a, b]) => {
                    a.partial_cmp(b) != Some(std::cmp::Ordering::Less) && a != b
                }
                Param::LogUniform([a, b]) => !(*a > 0.0 && a <= b),
                Param::IntUniform([a, b]) => a > b,
                Param::Choice(v) => v.is_empty(),
            };
            if bad {
                return Err(Error::Config(format!(
                    "search file: `{k}` has an empty range"
                )));
            }
        }
        // one draw: every key lands in the run file and makes a valid run
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let a: Assignment = spec
            .space
            .iter()
            .map(|(k, p)| (k.clone(), p.sample(&mut rng)))
            .collect();
        spec.run_config(&a, Path::new("check"), 1, 1)?;
        for (k, p) in &spec.space {
            if let Param::Choice(values) = p {
                for v in values {
                    let mut b = a.clone();
                    b.insert(k.clone(), v.clone());
                    spec.run_config(&b, Path::new("check"), 1, 1)
                        .map_err(|e| Error::Config(format!("search file: {k} = {v}: {e}")))?;
                }
            }
        }
        Ok(spec)
    }

    /// Read a search file.
    pub fn from_file(path: &Path) -> Result<Self> {
        let s = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut spec = Self::from_toml_str(&s).map_err(|e| match e {
            Error::Config(m) => Error::Config(format!("{}: {m}", path.display())),
            e => e,
        })?;
        spec.anchor_corpus(path)?;
        Ok(spec)
    }

    /// `base.data.corpus` as an absolute path: every worker (a process started in another
    /// folder, a task of a cluster's job array) and every trial's run file then name the same
    /// corpus, and `best.toml` trains from any folder. A relative path is read from the
    /// working folder, else from the search file's folder; one found in neither is an error
    /// now rather than a failure of every trial.
    fn anchor_corpus(&mut self, file: &Path) -> Result<()> {
        let Some(toml::Value::Table(data)) = self.base.get_mut("data") else {
            return Ok(());
        };
        let Some(toml::Value::String(corpus)) = data.get_mut("corpus") else {
            return Ok(());
        };
        if corpus.as_str() == "embedded" || Path::new(corpus.as_str()).is_absolute() {
            return Ok(());
        }
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let found = crate::train::run::corpus_path(corpus, &[dir.to_path_buf()]);
        let p = Path::new(&found);
        if !p.exists() {
            return Err(Error::Config(format!(
                "{}: base.data.corpus \"{corpus}\" is neither in the working folder nor in {}",
                file.display(),
                dir.display()
            )));
        }
        *corpus = p
            .canonicalize()
            .map_err(|e| Error::io(p, e))?
            .display()
            .to_string();
        Ok(())
    }

    /// The values of trial `id` (a function of the search seed and the id only, so every
    /// worker that creates trial `id` draws the same configuration).
    pub fn sample(&self, id: usize) -> Assignment {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
            self.search.seed ^ (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        self.space
            .iter()
            .map(|(k, p)| (k.clone(), p.sample(&mut rng)))
            .collect()
    }

    /// The run file of a trial: the base with the assignment written in, `output`, and the
    /// search's stepping: `steps_per_epoch` batches per epoch (one evaluation and checkpoint
    /// each) for `epochs` epochs.
    pub fn run_config(
        &self,
        a: &Assignment,
        output: &Path,
        epochs: usize,
        steps_per_epoch: usize,
    ) -> Result<RunConfig> {
        let mut t = self.base.clone();
        t.insert(
            "output".into(),
            toml::Value::String(output.display().to_string()),
        );
        for (key, v) in a {
            let (section, field) = key.split_once('.').expect("checked keys are dotted");
            let sec = t
                .entry(section.to_string())
                .or_insert_with(|| toml::Value::Table(Default::default()));
            let toml::Value::Table(sec) = sec else {
                return Err(Error::Config(format!(
                    "search file: base.{section} is not a table"
                )));
            };
            sec.insert(field.to_string(), v.clone());
        }
        let train = t
            .entry("train".to_string())
            .or_insert_with(|| toml::Value::Table(Default::default()));
        if let toml::Value::Table(train) = train {
            train.insert("epochs".into(), toml::Value::Integer(epochs as i64));
            train.insert(
                "max_batches".into(),
                toml::Value::Integer(steps_per_epoch as i64),
            );
        }
        let text = toml::to_string(&t).map_err(|e| Error::Config(format!("search: {e}")))?;
        let mut cfg = RunConfig::from_toml_str(&text)?;
        let per_batch = (cfg.data.batch_size * cfg.data.bptt).max(1);
        cfg.train.valid_max_batches = self.search.valid_tokens.div_ceil(per_batch).max(1);
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_samples_and_rejects() {
        let spec = SearchSpec::from_toml_str(
            "[search]\nmin_budget = 10\nmax_budget = 90\n[base.model]\npreset = \"tiny\"\n\
             [space]\n\"train.lr\" = { log_uniform = [1e-3, 1e-1] }\n\
             \"model.lstm_hidden\" = { choice = [16, 32] }\n",
        )
        .unwrap();
        assert_eq!(spec.search.top_rung(), 2);
        assert_eq!(spec.sample(3), spec.sample(3), "same id, same draw");
        assert_ne!(spec.sample(3), spec.sample(4));
        let cfg = spec
            .run_config(&spec.sample(1), Path::new("x"), 9, 10)
            .unwrap();
        let lr = spec.sample(1)["train.lr"].as_float().unwrap();
        assert!((1e-3..=1e-1).contains(&lr) && cfg.train.lr == lr);
        assert_eq!((cfg.train.epochs, cfg.train.max_batches), (9, 10));
        // the same validation tokens whatever the window: 16384 / (32 · 64) batches
        assert_eq!(cfg.train.valid_max_batches, 8);
        for bad in [
            "[search]\nmax_budget = 100\n[space]\n\"train.lr\" = { uniform = [0.1, 0.2] }",
            "[space]\n\"lr\" = { uniform = [0.1, 0.2] }",
            "[space]\n\"train.lrr\" = { uniform = [0.1, 0.2] }",
            "[space]\n\"train.lr\" = { log_uniform = [0.0, 0.2] }",
            "[space]\n\"model.preset\" = { choice = [\"nope\"] }",
        ] {
            assert!(SearchSpec::from_toml_str(bad).is_err(), "{bad}");
        }
    }
}
