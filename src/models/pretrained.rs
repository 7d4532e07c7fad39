//! The pretrained language model that ships with genolm, so a user can benchmark, explain and
//! fine-tune a real model without training one first.
//!
//! A shipped model is a folder `models/pretrained/<name>/` of the source tree: the run's
//! `model.safetensors`, `summary.json` (training genomes, held-out losses) and `run.toml`, and a
//! `provenance.json` with the exact training command, the commit it was trained at, the
//! checksums of the corpus files and of the checkpoint. Training again with that command gives
//! a byte-identical checkpoint on CPU, so [`verify`] (a SHA-256) proves where a file came from.
//! Everywhere a checkpoint path is taken (`genolm bench`, `explain`, `classify --lm`, notebooks'
//! [`GenomicModel::load`]) `pretrained` names the default model and `pretrained:<name>` another.
//! The folder is found at `$GENOLM_PRETRAINED_DIR`, else in the source tree genolm was built from.
//!
//! ```
//! use genolm::models::pretrained;
//! let dir = pretrained::dir(pretrained::DEFAULT).unwrap();
//! assert!(dir.join("model.safetensors").is_file());
//! let p = pretrained::provenance(pretrained::DEFAULT).unwrap();
//! assert!(p["command"].as_str().unwrap().starts_with("genolm train"));
//! pretrained::verify(pretrained::DEFAULT).unwrap(); // the checkpoint is the one recorded
//! ```

use std::path::{Path, PathBuf};

use candle_core::Device;

use super::GenomicModel;
use crate::{Error, Result};

/// The model `pretrained` names: `awd_lstm_small` trained 20 minutes on two CPU cores
/// (`configs/awd_lstm_long.toml`, docs/training.md).
pub const DEFAULT: &str = "awd_lstm_long";

/// Where shipped models live: `$GENOLM_PRETRAINED_DIR`, else `models/pretrained` of the source
/// tree genolm was built from.
pub fn root() -> PathBuf {
    match std::env::var_os("GENOLM_PRETRAINED_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("models/pretrained"),
    }
}

/// The names of the shipped models.
pub fn available() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(root())
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().join("model.safetensors").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// The folder of the shipped model `name`.
pub fn dir(name: &str) -> Result<PathBuf> {
    let d = root().join(name);
    if d.join("model.safetensors").is_file() {
        return Ok(d);
    }
    Err(Error::Input(format!(
        "no pretrained model {name:?} in {} (available: {}); set GENOLM_PRETRAINED_DIR to the \
         models/pretrained folder of a genolm checkout",
        root().display(),
        available().join(", ")
    )))
}

/// `pretrained` → the default model's folder, `pretrained:<name>` → that model's; `None` for
/// any other path (or one that exists on disk under that name).
pub fn resolve(path: &Path) -> Option<Result<PathBuf>> {
    if path.exists() {
        return None;
    }
    let s = path.to_str()?;
    if s == "pretrained" {
        Some(dir(DEFAULT))
    } else {
        s.strip_prefix("pretrained:").map(dir)
    }
}

/// Load the shipped model `name` on `device`.
pub fn load(name: &str, device: &Device) -> Result<GenomicModel> {
    GenomicModel::load(dir(name)?, device)
}

/// The model's `provenance.json`.
pub fn provenance(name: &str) -> Result<serde_json::Value> {
    let p = dir(name)?.join("provenance.json");
    let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::parse(p.display().to_string(), e.line(), e.to_string()))
}

/// Check that `model.safetensors` is the file `provenance.json` records (SHA-256).
pub fn verify(name: &str) -> Result<()> {
    let d = dir(name)?;
    let want = provenance(name)?["model_sha256"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let f = d.join("model.safetensors");
    let bytes = std::fs::read(&f).map_err(|e| Error::io(&f, e))?;
    let actual = crate::data::corpus::sha256_hex(&bytes);
    if actual != want {
        return Err(Error::Checksum {
            file: f.display().to_string(),
            expected: want,
            actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_model_loads_and_matches_its_provenance() {
        let names = available();
        assert!(names.len() >= 2, "{names:?}");
        assert!(names.contains(&DEFAULT.to_string()));
        for name in names {
            verify(&name).unwrap();
            let p = provenance(&name).unwrap();
            let model = load(&name, &Device::Cpu).unwrap();
            assert_eq!(
                p["model"].as_str(),
                Some(model.config().name.as_str()),
                "{name}"
            );
            assert_eq!(
                p["n_params"].as_u64(),
                Some(model.n_params() as u64),
                "{name}"
            );
        }
    }
}
