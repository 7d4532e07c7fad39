//! One error type for the whole crate.
//!
//! Parse failures always name the file and the 1-based line where they happened, so a user
//! who points genolm at a broken download learns *where* it is broken:
//!
//! ```
//! use genolm::data::fasta::read_fasta_bytes;
//! let err = read_fasta_bytes(b"ACGT\n>sq0\nACGT\n", "reads.fa").unwrap_err();
//! assert_eq!(err.to_string(), "reads.fa:1: expected '>' or '@' at the start of a record, found 'A'");
//! ```

use std::path::{Path, PathBuf};

/// The result type used throughout genolm.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in genolm.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An operating-system level I/O failure on a named path.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A malformed input file: the file name and the 1-based line are always given.
    #[error("{file}:{line}: {msg}")]
    Parse {
        /// File name (or a label such as `<memory>` for in-memory input).
        file: String,
        /// 1-based line number where the problem was found (0 when the file could not be read at all).
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// A checksum recorded in a dataset manifest does not match the file on disk.
    #[error("{file}: sha256 mismatch (manifest says {expected}, file has {actual})")]
    Checksum {
        /// The file whose checksum differs.
        file: String,
        /// The checksum from the manifest.
        expected: String,
        /// The checksum of the file as read.
        actual: String,
    },
    /// An invalid configuration or option value.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An argument of the wrong shape or size (sequence too short, empty corpus, …).
    #[error("invalid input: {0}")]
    Input(String),
    /// A tensor shape mismatch.
    #[error("shape error: {0}")]
    Shape(String),
    /// An error raised by candle.
    #[error(transparent)]
    Model(#[from] candle_core::Error),
    /// Training stopped (non-finite loss, or a diverging run). The last good checkpoint, if
    /// one was written, is named so that nothing is lost.
    #[error("training stopped at epoch {epoch}, step {step}: {msg}{}", checkpoint.as_ref().map(|p| format!(" (last good checkpoint: {})", p.display())).unwrap_or_default())]
    Training {
        /// Epoch (0-based) at which training stopped.
        epoch: usize,
        /// Optimizer step at which training stopped.
        step: usize,
        /// What happened.
        msg: String,
        /// The last checkpoint written before the failure.
        checkpoint: Option<PathBuf>,
    },
    /// An error raised by polars while building a table.
    #[error(transparent)]
    Table(#[from] polars::error::PolarsError),
    /// An HDF5 file could not be written or read as expected.
    #[error("{}: HDF5: {msg}", path.display())]
    Hdf5 {
        /// The file involved.
        path: PathBuf,
        /// What went wrong (the HDF5 library's message).
        msg: String,
    },
}

impl Error {
    /// Build a [`Error::Parse`] for `file` at `line`.
    pub fn parse(file: impl Into<String>, line: usize, msg: impl Into<String>) -> Self {
        Error::Parse {
            file: file.into(),
            line,
            msg: msg.into(),
        }
    }

    /// Wrap an HDF5 error raised while working on `path`.
    pub fn hdf5(path: impl AsRef<Path>, e: impl std::fmt::Display) -> Self {
        Error::Hdf5 {
            path: path.as_ref().to_path_buf(),
            msg: e.to_string(),
        }
    }

    /// Wrap an [`std::io::Error`] raised while working on `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }
}

/// Deserialize a name through its `FromStr` (for the enums a run file names: split level,
/// kingdom, schedule, device), so the accepted spellings live in one table and serde reports
/// the same message as the parser.
pub(crate) fn deserialize_by_name<'de, D, T>(d: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr<Err = Error>,
{
    let s = <String as serde::Deserialize>::deserialize(d)?;
    s.parse().map_err(|e| {
        serde::de::Error::custom(match e {
            Error::Config(m) | Error::Input(m) => m,
            e => e.to_string(),
        })
    })
}
