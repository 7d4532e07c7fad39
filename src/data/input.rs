//! What analyses accept as sequences: whatever the readers give. One sequence is anything
//! [`Sequence`] (bytes, a string, a [`SeqRecord`], a [`Contig`], a named pair); several are
//! anything [`Records`] (a slice or `Vec` of those, a [`Genome`]'s contigs).
//!
//! ```
//! use genolm::data::input::{Records, Sequence};
//! use genolm::data::fasta::read_fasta;
//! assert_eq!(b"ACGT".bases(), b"ACGT");
//! assert_eq!("acgt".bases(), b"acgt");
//! let recs = vec![("a".to_string(), b"ACGT".to_vec()), ("b".to_string(), b"GG".to_vec())];
//! assert_eq!(recs.records()[1], ("b", &b"GG"[..]));
//! # Ok::<(), genolm::Error>(())
//! ```

use std::path::Path;

use super::corpus::{Contig, Genome};
use super::fasta::SeqRecord;
use crate::{Error, Result};

/// Is `path` (plain or compressed) a GenBank or GFF3 file rather than FASTA/FASTQ? Told by
/// its first bytes.
pub fn is_annotation_file(path: impl AsRef<Path>) -> Result<bool> {
    use std::io::Read;
    let path = path.as_ref();
    let mut head = Vec::new();
    super::io::open(path)?
        .0
        .take(4096)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(path, e))?;
    let first = head.iter().find(|b| !b.is_ascii_whitespace());
    Ok(!matches!(first, Some(b'>' | b'@') | None)
        && super::annotation::detect_format(&head).is_some())
}

/// The sequences of a file as users have them: FASTA or FASTQ, a GenBank file's records, or the
/// `##FASTA` section of a GFF3 file; plain, gzip, bgzip or zstd. The format is told by the first
/// bytes. An annotation file's features are not needed here (see
/// [`read_annotation`](super::annotation::read_annotation) for them).
///
/// ```
/// use genolm::data::input::read_sequences;
/// let dir = tempfile::tempdir().unwrap();
/// let gb = dir.path().join("x.gb");
/// std::fs::write(&gb, "LOCUS       X 8 bp DNA linear\nORIGIN\n        1 acgtacgt\n//\n").unwrap();
/// let recs = read_sequences(&gb)?;
/// assert_eq!((recs[0].name.as_str(), recs[0].seq.as_slice()), ("X", &b"ACGTACGT"[..]));
/// let fa = dir.path().join("x.fa");
/// std::fs::write(&fa, ">y\nGGCC\n").unwrap();
/// assert_eq!(read_sequences(&fa)?[0].seq, b"GGCC");
/// use genolm::data::input::is_annotation_file;
/// assert!(is_annotation_file(&gb)? && !is_annotation_file(&fa)?);
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn read_sequences(path: impl AsRef<Path>) -> Result<Vec<SeqRecord>> {
    let path = path.as_ref();
    if !is_annotation_file(path)? {
        return super::fasta::read_fasta(path);
    }
    Ok(super::annotation::read_annotation(path, None)?
        .into_iter()
        .map(|a| SeqRecord {
            name: a.name,
            description: a.description,
            seq: a.seq,
            mask: Vec::new(),
            quality: None,
        })
        .collect())
}

/// One named nucleotide sequence.
pub trait Sequence {
    /// The bases (any case).
    fn bases(&self) -> &[u8];
    /// Its name (`seq` when it has none).
    fn seq_name(&self) -> &str {
        "seq"
    }
}

impl Sequence for [u8] {
    fn bases(&self) -> &[u8] {
        self
    }
}
impl<const N: usize> Sequence for [u8; N] {
    fn bases(&self) -> &[u8] {
        self
    }
}
impl Sequence for Vec<u8> {
    fn bases(&self) -> &[u8] {
        self
    }
}
impl Sequence for str {
    fn bases(&self) -> &[u8] {
        self.as_bytes()
    }
}
impl Sequence for String {
    fn bases(&self) -> &[u8] {
        self.as_bytes()
    }
}
impl Sequence for SeqRecord {
    fn bases(&self) -> &[u8] {
        &self.seq
    }
    fn seq_name(&self) -> &str {
        &self.name
    }
}
impl Sequence for Contig {
    fn bases(&self) -> &[u8] {
        &self.seq
    }
    fn seq_name(&self) -> &str {
        &self.name
    }
}
impl Sequence for (String, Vec<u8>) {
    fn bases(&self) -> &[u8] {
        &self.1
    }
    fn seq_name(&self) -> &str {
        &self.0
    }
}
impl Sequence for (&str, &[u8]) {
    fn bases(&self) -> &[u8] {
        self.1
    }
    fn seq_name(&self) -> &str {
        self.0
    }
}
impl<T: Sequence + ?Sized> Sequence for &T {
    fn bases(&self) -> &[u8] {
        (**self).bases()
    }
    fn seq_name(&self) -> &str {
        (**self).seq_name()
    }
}

/// Several named sequences, in order.
pub trait Records {
    /// `(name, bases)` of each.
    fn records(&self) -> Vec<(&str, &[u8])>;
}

impl<T: Sequence> Records for [T] {
    fn records(&self) -> Vec<(&str, &[u8])> {
        self.iter().map(|s| (s.seq_name(), s.bases())).collect()
    }
}
impl<T: Sequence> Records for Vec<T> {
    fn records(&self) -> Vec<(&str, &[u8])> {
        self.as_slice().records()
    }
}
impl<T: Sequence, const N: usize> Records for [T; N] {
    fn records(&self) -> Vec<(&str, &[u8])> {
        self.as_slice().records()
    }
}
impl Records for Genome {
    fn records(&self) -> Vec<(&str, &[u8])> {
        self.contigs.records()
    }
}
