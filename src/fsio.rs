//! Bottom layer: writing files so that nothing is lost, and escaping text for XML/HTML.
//!
//! Every checkpoint, log, table, figure and report genolm writes goes through
//! [`atomic_write`]: a temporary file beside the target, `fsync`, then a rename, so a crash or
//! an interrupted kernel leaves either the old file or the new one, never half of one.
//!
//! ```
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("sub/out.txt");
//! genolm::fsio::atomic_write(&path, b"ACGT")?;
//! assert_eq!(std::fs::read(&path)?, b"ACGT");
//! assert_eq!(genolm::fsio::xml("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The temporary path beside `path` that an atomic write renames into place (its folder is
/// created).
pub fn temp_path_for(path: &Path) -> Result<PathBuf> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    Ok(dir.join(format!(".{name}.tmp{}", std::process::id())))
}

/// Write bytes to `path` atomically: a temporary file beside it, `fsync`, then rename.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = temp_path_for(path)?;
    let mut f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    f.sync_all().map_err(|e| Error::io(&tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
    Ok(())
}

/// Escape text for XML and HTML (element content and double-quoted attributes).
pub fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// This machine's name (Linux `/proc/sys/kernel/hostname`; `localhost` elsewhere): in
/// TensorBoard file names and in a hyperparameter search's claims.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "localhost".into())
}

/// serde: read a JSON number, or `null` as NaN (JSON has no NaN: serde_json writes NaN as
/// `null`), so files genolm wrote with a NaN in them load back.
pub(crate) fn f64_or_nan<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<f64, D::Error> {
    use serde::Deserialize;
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// serde: [`f64_or_nan`] for every value of a map.
pub(crate) fn f64_map_or_nan<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<std::collections::BTreeMap<String, f64>, D::Error> {
    use serde::Deserialize;
    let m: std::collections::BTreeMap<String, Option<f64>> = Deserialize::deserialize(d)?;
    Ok(m.into_iter()
        .map(|(k, v)| (k, v.unwrap_or(f64::NAN)))
        .collect())
}
