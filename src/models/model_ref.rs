//! A model in memory or on disk.

use std::path::{Path, PathBuf};

use super::GenomicModel;

/// A model given as a notebook has it: in memory, or as a checkpoint (a `.safetensors` file or
/// a run folder) to load. Analyses that take `impl Into<ModelRef>` accept `&model`, `"runs/x"`,
/// a `&Path` or a `PathBuf`.
pub enum ModelRef<'a> {
    /// A model in memory.
    Borrowed(&'a GenomicModel),
    /// A checkpoint to load (file or run folder).
    Path(PathBuf),
}

impl<'a> From<&'a GenomicModel> for ModelRef<'a> {
    fn from(m: &'a GenomicModel) -> Self {
        ModelRef::Borrowed(m)
    }
}
impl From<&str> for ModelRef<'_> {
    fn from(p: &str) -> Self {
        ModelRef::Path(p.into())
    }
}
impl From<&String> for ModelRef<'_> {
    fn from(p: &String) -> Self {
        ModelRef::Path(p.into())
    }
}
impl From<&Path> for ModelRef<'_> {
    fn from(p: &Path) -> Self {
        ModelRef::Path(p.into())
    }
}
impl From<PathBuf> for ModelRef<'_> {
    fn from(p: PathBuf) -> Self {
        ModelRef::Path(p)
    }
}
