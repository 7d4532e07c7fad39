//! The run file's sections: `[data]` ([`DataConfig`]), `[model]` (a [`ModelConfig`] preset with
//! overrides) and `[train]` ([`TrainConfig`]), parsed into a [`RunConfig`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::corpus::{Kingdom, SplitLevel, SplitOptions};
use crate::models::{DeviceChoice, GenomicModel, ModelConfig};
use crate::train::learner::Precision;
use crate::train::schedule::ScheduleKind;
use crate::train::ShortEpochs;
use crate::{Error, Result};

use super::RunSummary;

/// The `[data]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataConfig {
    /// `embedded`, a corpus folder, or a `manifest.json`.
    pub corpus: String,
    /// Kingdoms to train on (`PRO`, `EUK`, `VIR`); empty = all.
    pub kingdoms: Vec<Kingdom>,
    /// Split level: `genome` or `species`.
    pub split_level: SplitLevel,
    /// Split seed.
    pub split_seed: u64,
    /// Tokens per training window.
    pub bptt: usize,
    /// Rows per batch.
    pub batch_size: usize,
    /// Add reverse complements of the training contigs.
    pub reverse_complement: bool,
    /// Seed of the batch order.
    pub batch_seed: u64,
    /// The corpus mix: how many times each training genome of a kingdom enters an epoch's
    /// token streams (`kingdom_repeats = { EUK = 3 }`: every eukaryotic training genome three
    /// times, so a kingdom with few training bases gets a larger share of the steps); kingdoms
    /// not named count once. The benchmark counts its Markov baseline with the same repeats.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub kingdom_repeats: BTreeMap<Kingdom, usize>,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            corpus: "embedded".into(),
            kingdoms: Vec::new(),
            split_level: SplitLevel::Genome,
            split_seed: 42,
            bptt: 64,
            batch_size: 32,
            reverse_complement: false,
            batch_seed: 1,
            kingdom_repeats: BTreeMap::new(),
        }
    }
}

/// The `[train]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Epochs.
    pub epochs: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// `one_cycle`, `cosine` or `constant`.
    pub schedule: ScheduleKind,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Gradient-norm clipping (0 = off).
    pub clip: f64,
    /// Seed of initialisation and dropout.
    pub seed: u64,
    /// `auto`, `f32`, `bf16` or `f16`.
    pub precision: Precision,
    /// Training batches per epoch (0 = all).
    pub max_batches: usize,
    /// With `max_batches` below a pass: `continue` (each epoch takes the next slice of the
    /// pass) or `restart` (the first batches of a new order, as before 2026-12-05);
    /// [`ShortEpochs`].
    pub short_epochs: ShortEpochs,
    /// Validation batches (0 = all).
    pub valid_max_batches: usize,
    /// Early-stopping patience in epochs (0 = off).
    pub early_stopping: usize,
    /// `cpu`, `cuda` or `auto`.
    pub device: DeviceChoice,
    /// Start from the weights of this checkpoint instead of a random initialisation: a
    /// `.safetensors` file, a run folder, or `pretrained` / `pretrained:<name>` (the
    /// [shipped models](crate::models::pretrained)). The run's `[model]` must have the
    /// checkpoint's architecture (dropouts may differ). Fine-tuning keeps the split of the
    /// checkpoint's run (see [`RunConfig::fine_tune`]), so its held-out genomes stay unseen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<String>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 2,
            lr: 5e-3,
            schedule: ScheduleKind::OneCycle,
            weight_decay: 1e-2,
            clip: 1.0,
            seed: 42,
            precision: Precision::Auto,
            max_batches: 0,
            short_epochs: ShortEpochs::Continue,
            valid_max_batches: 0,
            early_stopping: 0,
            device: DeviceChoice::Auto,
            init: None,
        }
    }
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunConfig {
    /// Output folder (checkpoint + summary).
    pub output: PathBuf,
    /// Data.
    pub data: DataConfig,
    /// Model.
    pub model: ModelConfig,
    /// Training.
    pub train: TrainConfig,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRun {
    output: PathBuf,
    #[serde(default)]
    data: DataConfig,
    #[serde(default)]
    model: Option<toml::Value>,
    #[serde(default)]
    train: TrainConfig,
}

impl RunConfig {
    /// Parse a run file's text.
    pub fn from_toml_str(s: &str) -> Result<Self> {
        let raw: RawRun = toml::from_str(s)
            .map_err(|e: toml::de::Error| Error::Config(format!("run config: {}", e.message())))?;
        let model = match raw.model {
            Some(v) => ModelConfig::from_toml_value(v)?,
            None => ModelConfig::default(),
        };
        Ok(RunConfig {
            output: raw.output,
            data: raw.data,
            model,
            train: raw.train,
        })
    }

    /// The run file of a finished or running run: `run.toml` in its output folder (written
    /// by [`run_training`](super::run_training); the same format `genolm train --config` reads).
    pub fn load(run: impl AsRef<Path>) -> Result<Self> {
        Self::from_file(run.as_ref().join("run.toml"))
    }

    /// This run as a run file (TOML): every model field spelled out, so it rebuilds the same
    /// run whatever the presets become.
    pub fn to_toml_string(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Config(format!("run config: {e}")))
    }

    /// Read a run file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let s = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut cfg = Self::from_toml_str(&s).map_err(|e| match e {
            Error::Config(m) => Error::Config(format!("{}: {m}", path.display())),
            e => e,
        })?;
        // A relative corpus is read from the working folder; failing that, from the folder
        // the run was trained in (a run's own run.toml, read from elsewhere), then from the
        // file's folder.
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let bases: Vec<PathBuf> = trained_in(dir, &cfg.output)
            .into_iter()
            .chain([dir.to_path_buf()])
            .collect();
        cfg.data.corpus = corpus_path(&cfg.data.corpus, &bases);
        Ok(cfg)
    }
}

/// The folder a run was trained in (the working folder of `genolm train`), from where the
/// run's folder is now and the `output` it was trained with: `/home/me/proj/runs/a`, trained
/// with `output = "runs/a"`, was trained in `/home/me/proj`. A run file's relative paths
/// (its corpus) are relative to that folder. `None` when `output` is absolute or is not how
/// the folder's path ends.
///
/// ```
/// use std::path::Path;
/// use genolm::train::run::trained_in;
/// let dir = std::env::temp_dir().join("genolm-doc-trained-in/runs/a");
/// std::fs::create_dir_all(&dir)?;
/// let base = trained_in(&dir, Path::new("runs/a")).unwrap();
/// assert!(base.ends_with("genolm-doc-trained-in"));
/// assert_eq!(trained_in(&dir, Path::new("runs/b")), None);
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn trained_in(run_dir: &Path, output: &Path) -> Option<PathBuf> {
    use std::path::Component;
    if output.is_absolute() {
        return None;
    }
    let parts: Vec<Component> = output
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    if parts.is_empty() || parts.iter().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    // the path as given (made absolute), then with its links resolved
    let candidates = [
        std::path::absolute(run_dir).ok(),
        run_dir.canonicalize().ok(),
    ];
    candidates.into_iter().flatten().find_map(|dir| {
        let mut base = dir.as_path();
        for c in parts.iter().rev() {
            if base.file_name() != Some(c.as_os_str()) {
                return None;
            }
            base = base.parent()?;
        }
        Some(base.to_path_buf())
    })
}

/// A corpus as run files name it (`embedded`, a folder, a manifest or a shard folder), as a
/// path that opens from the working folder: as written when it does (or is `embedded` or
/// absolute), else joined to the first of `bases` where it exists; as written when none has
/// it (opening it then names the path that is missing).
pub fn corpus_path(corpus: &str, bases: &[PathBuf]) -> String {
    let p = Path::new(corpus);
    if corpus.is_empty() || corpus == "embedded" || p.is_absolute() || p.exists() {
        return corpus.to_string();
    }
    bases
        .iter()
        .map(|b| b.join(p))
        .find(|q| q.exists())
        .map_or_else(
            || corpus.to_string(),
            |q| q.canonicalize().unwrap_or(q).display().to_string(),
        )
}

impl RunConfig {
    /// The quickstart run: the small AWD-LSTM on the embedded corpus (default split with
    /// `seed`), `epochs` × `batches` training batches on the CPU, checkpoint and summary in `output`.
    /// `genolm quickstart` and the notebooks train exactly this.
    ///
    /// ```
    /// let cfg = genolm::train::run::RunConfig::quickstart("runs/quickstart", 42, 2, 150);
    /// assert_eq!(cfg.train.max_batches, 150);
    /// ```
    pub fn quickstart(
        output: impl Into<PathBuf>,
        seed: u64,
        epochs: usize,
        batches: usize,
    ) -> RunConfig {
        RunConfig {
            output: output.into(),
            data: DataConfig {
                split_seed: seed,
                ..Default::default()
            },
            model: ModelConfig::awd_lstm_small(),
            train: TrainConfig {
                epochs,
                lr: 1e-2,
                max_batches: batches,
                valid_max_batches: 40,
                seed,
                device: DeviceChoice::Cpu,
                ..Default::default()
            },
        }
    }
}

impl RunConfig {
    /// A run that fine-tunes checkpoint `init` (a path, a run folder, or `pretrained` /
    /// `pretrained:<name>`) for `epochs` × `batches` batches at peak learning rate `lr` (one
    /// cycle): its architecture and dropouts, and — so the held-out genomes stay unseen — the
    /// data section (split, BPTT, batch size) of the run that trained it, read from the
    /// `summary.json` beside the checkpoint (the default split when there is none). This is
    /// what `genolm quickstart` trains.
    ///
    /// ```
    /// let cfg = genolm::train::run::RunConfig::fine_tune("runs/ft", "pretrained", 42, 1, 100, 1e-3)?;
    /// assert_eq!(cfg.train.init.as_deref(), Some("pretrained"));
    /// assert_eq!(cfg.model.name, "awd_lstm_small");
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn fine_tune(
        output: impl Into<PathBuf>,
        init: &str,
        seed: u64,
        epochs: usize,
        batches: usize,
        lr: f64,
    ) -> Result<RunConfig> {
        let from = GenomicModel::load(init, &candle_core::Device::Cpu)?;
        let ckpt = crate::models::model::resolve_checkpoint(Path::new(init));
        let data = RunSummary::load(&ckpt)
            .ok()
            .and_then(|s| s.data)
            .unwrap_or_default();
        Ok(RunConfig {
            output: output.into(),
            data,
            model: from.config().clone(),
            train: TrainConfig {
                epochs,
                lr,
                max_batches: batches,
                valid_max_batches: 40,
                seed,
                device: DeviceChoice::Cpu,
                init: Some(init.to_string()),
                ..Default::default()
            },
        })
    }
}

impl DataConfig {
    /// The split options of this `[data]` section.
    pub fn split_options(&self) -> SplitOptions {
        SplitOptions {
            level: self.split_level,
            seed: self.split_seed,
            ..SplitOptions::default()
        }
    }

    /// The corpus mix in words (`EUK × 3`), or `None` without one.
    pub fn mix_label(&self) -> Option<String> {
        (!self.kingdom_repeats.is_empty()).then(|| {
            self.kingdom_repeats
                .iter()
                .map(|(k, n)| format!("{} × {n}", k.as_str()))
                .collect::<Vec<_>>()
                .join(", ")
        })
    }

    /// `genomes` with each one repeated as [`kingdom_repeats`](Self::kingdom_repeats) asks
    /// for its kingdom (`kingdom(g)`), in their order: the training genomes whose streams an
    /// epoch walks, and the counts of the benchmark's Markov baseline.
    ///
    /// ```
    /// use genolm::data::corpus::Kingdom;
    /// use genolm::train::run::DataConfig;
    /// let mut d = DataConfig::default();
    /// d.kingdom_repeats.insert(Kingdom::Euk, 3);
    /// let kingdom = |g: usize| if g == 1 { Kingdom::Euk } else { Kingdom::Pro };
    /// assert_eq!(d.repeated(&[0, 1, 2], kingdom)?, vec![0, 1, 1, 1, 2]);
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn repeated(
        &self,
        genomes: &[usize],
        kingdom: impl Fn(usize) -> Kingdom,
    ) -> Result<Vec<usize>> {
        if let Some((k, _)) = self.kingdom_repeats.iter().find(|(_, &n)| n == 0) {
            return Err(Error::Config(format!(
                "kingdom_repeats: {} = 0 would drop the kingdom; leave it out of `kingdoms` instead",
                k.as_str()
            )));
        }
        Ok(genomes
            .iter()
            .flat_map(|&g| {
                let n = self.kingdom_repeats.get(&kingdom(g)).copied().unwrap_or(1);
                std::iter::repeat_n(g, n)
            })
            .collect())
    }
}
