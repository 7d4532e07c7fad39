//! FASTA and FASTQ reading (noodles underneath), plain, gzip, bgzip or zstd.
//!
//! * Records come out normalised: upper case, `U` → `T`, gap letters (`-`, `.`, `*`) → `N`;
//!   other IUPAC codes are kept so that an [`AmbiguityPolicy`](super::alphabet::AmbiguityPolicy)
//!   can decide later what they mean.
//! * Lower-case soft-masking is either **kept** as a list of masked intervals or **folded**
//!   away ([`SoftMask`]).
//! * Anything that is not a nucleotide letter is an error naming file and line.
//! * [`SeqReader::read_chunk`] streams a record in bounded pieces, so a 250 Mb chromosome
//!   is processed in constant memory.
//!
//! ```
//! use genolm::data::fasta::{read_fasta_bytes, SeqReader, ReadOptions, SoftMask};
//! let recs = read_fasta_bytes(b">chr1 test\nACGTac\nGGnn\n>chr2\nTTTT\n", "<mem>").unwrap();
//! assert_eq!(recs[0].name, "chr1");
//! assert_eq!(recs[0].description.as_deref(), Some("test"));
//! assert_eq!(recs[0].seq, b"ACGTACGGNN");
//! assert_eq!(recs[0].mask, vec![4..6, 8..10]);
//!
//! // FASTQ is detected from the first byte.
//! let fq = read_fasta_bytes(b"@r1\nACGT\n+\nIIII\n", "<mem>").unwrap();
//! assert_eq!(fq[0].quality.as_deref(), Some(&b"IIII"[..]));
//! ```

use std::io::{self, BufRead};
use std::ops::Range;
use std::path::Path;

use super::io::{describe_io, open, DynBufRead, LineCounter};
use crate::{Error, Result};

/// What to do with lower-case (soft-masked) bases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SoftMask {
    /// Record lower-case stretches in [`SeqRecord::mask`] (the sequence is still upper-cased).
    #[default]
    Keep,
    /// Upper-case everything and forget the mask.
    Fold,
}

/// Options for [`SeqReader`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ReadOptions {
    /// How to treat soft-masked (lower-case) bases.
    pub soft_mask: SoftMask,
}

/// File format of a sequence file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `>`-headed FASTA.
    Fasta,
    /// Four-line FASTQ.
    Fastq,
}

/// One sequence with its name, normalised bases, soft-mask and (FASTQ) qualities.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeqRecord {
    /// The name: the header up to the first white space.
    pub name: String,
    /// The rest of the header, if any.
    pub description: Option<String>,
    /// Upper-case IUPAC bases (`U` read as `T`, gaps as `N`).
    pub seq: Vec<u8>,
    /// Soft-masked (lower-case in the file) intervals, 0-based half-open, when
    /// [`SoftMask::Keep`]; empty otherwise.
    pub mask: Vec<Range<usize>>,
    /// Phred+33 quality string for FASTQ records.
    pub quality: Option<Vec<u8>>,
}

impl SeqRecord {
    /// Number of bases.
    pub fn len(&self) -> usize {
        self.seq.len()
    }
    /// True for an empty sequence.
    pub fn is_empty(&self) -> bool {
        self.seq.is_empty()
    }
}

/// Header of a record, as returned by [`SeqReader::next_header`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Name up to the first white space.
    pub name: String,
    /// The rest of the header line.
    pub description: Option<String>,
    /// 1-based line of the header in the (decompressed) file.
    pub line: usize,
}

// Byte classes for normalisation: 0 = invalid, 1 = skip (white space), else the normalised base.
static NORM: [u8; 256] = build_norm();
const fn build_norm() -> [u8; 256] {
    let mut t = [0u8; 256];
    let letters = b"ACGTNRYKMSWBDHV";
    let mut i = 0;
    while i < letters.len() {
        t[letters[i] as usize] = letters[i];
        t[(letters[i] + 32) as usize] = letters[i];
        i += 1;
    }
    t[b'U' as usize] = b'T';
    t[b'u' as usize] = b'T';
    t[b'-' as usize] = b'N';
    t[b'.' as usize] = b'N';
    t[b'*' as usize] = b'N';
    t[b' ' as usize] = 1;
    t[b'\t' as usize] = 1;
    t[b'\r' as usize] = 1;
    t
}

/// Position `lc` on the next sequence line of the current FASTA record (skipping line breaks)
/// and return `(line number, usable bytes)`: the bytes up to the line end or buffer end, a
/// trailing CR excluded. `None` at the next header or end of file.
fn next_seq_piece<R: BufRead>(lc: &mut LineCounter<R>) -> io::Result<Option<(usize, usize)>> {
    while let Some(b'\n' | b'\r') = lc.fill_buf()?.first() {
        lc.consume(1);
    }
    let line = lc.line();
    let buf = lc.fill_buf()?;
    if buf.is_empty() || buf[0] == b'>' {
        return Ok(None);
    }
    let mut n = memchr::memchr(b'\n', buf).unwrap_or(buf.len());
    if n > 0 && buf[n - 1] == b'\r' {
        n -= 1;
    }
    Ok(Some((line, n)))
}

/// Normalises raw sequence bytes and records the soft-mask of the current record.
#[derive(Debug, Default)]
struct Normalizer {
    keep_mask: bool,
    /// Bases emitted so far in the current record.
    pos: usize,
    mask: Vec<Range<usize>>,
}

impl Normalizer {
    fn push(&mut self, src: &[u8], buf: &mut Vec<u8>, line: usize, file: &str) -> Result<()> {
        buf.reserve(src.len());
        for &b in src {
            match NORM[b as usize] {
                0 => {
                    return Err(Error::parse(
                        file,
                        line,
                        format!(
                            "invalid nucleotide '{}' in sequence (expected IUPAC letters)",
                            (b as char).escape_default()
                        ),
                    ))
                }
                1 => continue,
                n => {
                    if self.keep_mask && b.is_ascii_lowercase() {
                        match self.mask.last_mut() {
                            Some(r) if r.end == self.pos => r.end += 1,
                            _ => self.mask.push(self.pos..self.pos + 1),
                        }
                    }
                    buf.push(n);
                    self.pos += 1;
                }
            }
        }
        Ok(())
    }
}

/// Streaming reader over a FASTA or FASTQ file.
pub struct SeqReader {
    file: String,
    format: Format,
    fasta: Option<noodles_fasta::io::Reader<LineCounter<DynBufRead>>>,
    fastq: Option<noodles_fastq::io::Reader<LineCounter<DynBufRead>>>,
    /// FASTA: inside the sequence of the current record.
    in_seq: bool,
    /// FASTQ: the pending record (header already handed out, sequence not yet).
    pending: Option<(Vec<u8>, Vec<u8>, usize)>,
    norm: Normalizer,
    records: usize,
}

impl SeqReader {
    /// Open a FASTA or FASTQ file (plain, gzip, bgzip or zstd; detected from content).
    pub fn from_path(path: impl AsRef<Path>, opts: ReadOptions) -> Result<Self> {
        let path = path.as_ref();
        let (r, _) = open(path)?;
        Self::new(r, path.display().to_string(), opts)
    }

    /// Read from any buffered reader; `label` is used in error messages.
    pub fn new(reader: DynBufRead, label: impl Into<String>, opts: ReadOptions) -> Result<Self> {
        let file = label.into();
        let mut lc = LineCounter::new(reader);
        // Skip leading blank lines, then decide the format from the first byte.
        let first = loop {
            match lc.peek() {
                Ok(Some(b'\n')) | Ok(Some(b'\r')) => lc.consume(1),
                Ok(b) => break b,
                Err(e) => return Err(Error::parse(&file, lc.line(), describe_io(&e))),
            }
        };
        let format = match first {
            Some(b'@') => Format::Fastq,
            Some(b'>') | None => Format::Fasta,
            Some(b) => {
                return Err(Error::parse(
                    &file,
                    lc.line(),
                    format!(
                        "expected '>' or '@' at the start of a record, found '{}'",
                        (b as char).escape_default()
                    ),
                ))
            }
        };
        let (fasta, fastq) = match format {
            Format::Fasta => (Some(noodles_fasta::io::Reader::new(lc)), None),
            Format::Fastq => (None, Some(noodles_fastq::io::Reader::new(lc))),
        };
        Ok(Self {
            file,
            format,
            fasta,
            fastq,
            in_seq: false,
            pending: None,
            norm: Normalizer {
                keep_mask: opts.soft_mask == SoftMask::Keep,
                ..Default::default()
            },
            records: 0,
        })
    }

    /// The detected format.
    pub fn format(&self) -> Format {
        self.format
    }

    fn line(&self) -> usize {
        match (&self.fasta, &self.fastq) {
            (Some(r), _) => r.get_ref().line(),
            (_, Some(r)) => r.get_ref().line(),
            _ => 0,
        }
    }

    fn err(&self, line: usize, msg: impl Into<String>) -> Error {
        Error::parse(&self.file, line, msg)
    }

    /// Advance to the next record and return its header, skipping any unread sequence of
    /// the current one. `None` at end of file.
    pub fn next_header(&mut self) -> Result<Option<Header>> {
        // Drain what is left of the current record.
        let mut sink = Vec::new();
        while self.in_seq || self.pending.is_some() {
            sink.clear();
            self.read_chunk(&mut sink, 1 << 20)?;
        }
        self.norm.pos = 0;
        self.norm.mask.clear();
        match self.format {
            Format::Fasta => self.fasta_header(),
            Format::Fastq => self.fastq_header(),
        }
    }

    fn fasta_header(&mut self) -> Result<Option<Header>> {
        let line = self.line();
        let reader = self.fasta.as_mut().expect("fasta reader");
        // Skip blank lines between records.
        loop {
            match reader.get_mut().peek() {
                Ok(Some(b'\n')) | Ok(Some(b'\r')) => reader.get_mut().consume(1),
                Ok(None) => return Ok(None),
                Ok(Some(b'>')) => break,
                Ok(Some(b)) => {
                    let line = reader.get_ref().line();
                    return Err(self.err(
                        line,
                        format!(
                            "expected '>' at the start of a record, found '{}'",
                            (b as char).escape_default()
                        ),
                    ));
                }
                Err(e) => return Err(self.err(line, describe_io(&e))),
            }
        }
        let line = reader.get_ref().line();
        let mut def = noodles_fasta::record::Definition::default();
        match reader.read_definition(&mut def) {
            Ok(0) => Ok(None),
            Ok(_) => {
                let Some(name) = definition_name(&def) else {
                    return Err(self.err(line, "record header has no name"));
                };
                let description = def
                    .description()
                    .map(|d| String::from_utf8_lossy(d).into_owned());
                self.in_seq = true;
                self.records += 1;
                Ok(Some(Header {
                    name,
                    description,
                    line,
                }))
            }
            Err(e) => Err(self.err(line, format!("bad header: {}", describe_io(&e)))),
        }
    }

    fn fastq_header(&mut self) -> Result<Option<Header>> {
        let line = self.line();
        let reader = self.fastq.as_mut().expect("fastq reader");
        let mut rec = noodles_fastq::Record::default();
        match reader.read_record(&mut rec) {
            Ok(0) => Ok(None),
            Ok(_) => {
                let name = String::from_utf8_lossy(rec.name()).into_owned();
                if name.is_empty() {
                    return Err(self.err(line, "FASTQ record has no name"));
                }
                let d = rec.description();
                let description = (!d.is_empty()).then(|| String::from_utf8_lossy(d).into_owned());
                if rec.sequence().len() != rec.quality_scores().len() {
                    return Err(self.err(
                        line,
                        format!(
                            "sequence has {} bases but quality has {} scores",
                            rec.sequence().len(),
                            rec.quality_scores().len()
                        ),
                    ));
                }
                self.pending = Some((
                    rec.sequence().to_vec(),
                    rec.quality_scores().to_vec(),
                    line + 1,
                ));
                self.records += 1;
                Ok(Some(Header {
                    name,
                    description,
                    line,
                }))
            }
            Err(e) => Err(self.err(line, format!("bad FASTQ record: {}", describe_io(&e)))),
        }
    }

    /// Append up to `max` normalised bases of the current record to `buf`; returns how many
    /// were appended. 0 means the record's sequence is finished.
    pub fn read_chunk(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<usize> {
        match self.format {
            Format::Fasta => self.fasta_chunk(buf, max),
            Format::Fastq => {
                let Some((seq, _, line)) = self.pending.take() else {
                    return Ok(0);
                };
                let before = buf.len();
                self.norm.push(&seq, buf, line, &self.file)?;
                Ok(buf.len() - before)
            }
        }
    }

    fn fasta_chunk(&mut self, buf: &mut Vec<u8>, max: usize) -> Result<usize> {
        let start = buf.len();
        let mut norm = std::mem::take(&mut self.norm);
        let file = self.file.clone();
        let r = self.walk_fasta(max, |src, line| norm.push(src, buf, line, &file));
        self.norm = norm;
        r?;
        Ok(buf.len() - start)
    }

    /// Walk the current FASTA record's sequence in raw pieces (each within one line, at most
    /// `budget` bytes in all), handing each piece and its line number to `f`.
    fn walk_fasta(
        &mut self,
        mut budget: usize,
        mut f: impl FnMut(&[u8], usize) -> Result<()>,
    ) -> Result<()> {
        while self.in_seq && budget > 0 {
            let lc = self.fasta.as_mut().expect("fasta reader").get_mut();
            let (line, n) = match next_seq_piece(lc) {
                Ok(Some(x)) => x,
                Ok(None) => {
                    self.in_seq = false;
                    break;
                }
                Err(e) => return Err(Error::parse(&self.file, lc.line(), describe_io(&e))),
            };
            let take = n.min(budget);
            let src = lc
                .fill_buf()
                .map_err(|e| Error::parse(&self.file, line, describe_io(&e)))?;
            f(&src[..take], line)?;
            lc.consume_within_line(take);
            budget -= take;
        }
        Ok(())
    }

    /// Soft-masked intervals seen so far in the current record.
    pub fn current_mask(&self) -> &[Range<usize>] {
        &self.norm.mask
    }

    /// Read the next whole record.
    pub fn next_record(&mut self) -> Result<Option<SeqRecord>> {
        let Some(h) = self.next_header()? else {
            return Ok(None);
        };
        let quality = self.pending.as_ref().map(|(_, q, _)| q.clone());
        let mut seq = Vec::new();
        while self.read_chunk(&mut seq, usize::MAX)? > 0 {}
        Ok(Some(SeqRecord {
            name: h.name,
            description: h.description,
            seq,
            mask: std::mem::take(&mut self.norm.mask),
            quality,
        }))
    }

    /// Hand each raw line of the current FASTA record's sequence (newlines removed, not
    /// normalised or validated) to `f`. This is the zero-copy fast path used by tokenizers
    /// that validate as they encode; FASTQ records are passed in one piece.
    pub fn for_each_raw_line(
        &mut self,
        mut f: impl FnMut(&[u8], usize) -> Result<()>,
    ) -> Result<()> {
        match self.format {
            Format::Fastq => {
                if let Some((seq, _, line)) = self.pending.take() {
                    f(&seq, line)?;
                }
            }
            Format::Fasta => self.walk_fasta(usize::MAX, f)?,
        }
        Ok(())
    }

    /// The file label used in error messages.
    pub fn label(&self) -> &str {
        &self.file
    }
}

/// A FASTA record's name from its parsed header: the text up to the first white space, `None`
/// when empty. The one rule for record names (the streaming reader and the parallel tokenizer).
pub(crate) fn definition_name(def: &noodles_fasta::record::Definition) -> Option<String> {
    let name = String::from_utf8_lossy(def.name()).into_owned();
    (!name.is_empty()).then_some(name)
}

impl Iterator for SeqReader {
    type Item = Result<SeqRecord>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// Read every record of a FASTA/FASTQ file (plain, gzip, bgzip or zstd) into memory.
pub fn read_fasta(path: impl AsRef<Path>) -> Result<Vec<SeqRecord>> {
    SeqReader::from_path(path, ReadOptions::default())?.collect()
}

/// Read every record from in-memory bytes (plain or compressed); `label` names the source in errors.
pub fn read_fasta_bytes(bytes: &[u8], label: &str) -> Result<Vec<SeqRecord>> {
    let (r, _) = super::io::from_reader(io::Cursor::new(bytes.to_vec()))
        .map_err(|e| Error::parse(label, 0, describe_io(&e)))?;
    SeqReader::new(r, label, ReadOptions::default())?.collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(b: &[u8]) -> Result<Vec<SeqRecord>> {
        read_fasta_bytes(b, "t.fa")
    }

    #[test]
    fn masks_and_normalisation() {
        let r = read(b">a\nacgU\nNN-*\n\n>b desc here\r\nAC\r\nGT\r\n").unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].seq, b"ACGTNNNN");
        assert_eq!(r[0].mask, vec![0..3]);
        assert_eq!(r[1].seq, b"ACGT");
        assert_eq!(r[1].description.as_deref(), Some("desc here"));
    }

    #[test]
    fn fold_forgets_mask() {
        let (rd, _) =
            crate::data::io::from_reader(io::Cursor::new(b">a\nacGT\n".to_vec())).unwrap();
        let mut r = SeqReader::new(
            rd,
            "x",
            ReadOptions {
                soft_mask: SoftMask::Fold,
            },
        )
        .unwrap();
        let rec = r.next_record().unwrap().unwrap();
        assert!(rec.mask.is_empty());
        assert_eq!(rec.seq, b"ACGT");
    }

    #[test]
    fn errors_name_the_line() {
        let e = read(b">a\nACGT\nAC1T\n").unwrap_err().to_string();
        assert!(e.starts_with("t.fa:3:"), "{e}");
        let e = read(b"\n\nACGT\n").unwrap_err().to_string();
        assert!(e.starts_with("t.fa:3:"), "{e}");
        let e = read(b">\nACGT\n").unwrap_err().to_string();
        assert!(e.contains("t.fa:1:"), "{e}");
        let e = read(b"@r\nACGT\n+\nII\n").unwrap_err().to_string();
        assert!(e.starts_with("t.fa:1:"), "{e}");
    }

    #[test]
    fn chunked_streaming_matches_whole_reads() {
        let mut text = Vec::new();
        for i in 0..5 {
            text.extend_from_slice(format!(">r{i}\n").as_bytes());
            for j in 0..37 {
                text.extend_from_slice(&b"ACGTacgtNN"[..(i + j) % 10 + 1]);
                text.push(b'\n');
            }
        }
        let whole = read(&text).unwrap();
        let (rd, _) = crate::data::io::from_reader(io::Cursor::new(text.clone())).unwrap();
        let mut r = SeqReader::new(rd, "x", ReadOptions::default()).unwrap();
        let mut i = 0;
        while let Some(h) = r.next_header().unwrap() {
            assert_eq!(h.name, format!("r{i}"));
            let mut seq = Vec::new();
            let mut chunk = Vec::new();
            loop {
                chunk.clear();
                let n = r.read_chunk(&mut chunk, 7).unwrap();
                if n == 0 {
                    break;
                }
                assert!(n <= 7);
                seq.extend_from_slice(&chunk);
            }
            assert_eq!(seq, whole[i].seq);
            assert_eq!(r.current_mask(), &whole[i].mask[..]);
            i += 1;
        }
        assert_eq!(i, 5);
    }

    #[test]
    fn skipping_records_by_header() {
        let mut r = SeqReader::new(
            Box::new(io::Cursor::new(b">a\nAAAA\nCC\n>b\nGG\n".to_vec())),
            "x",
            ReadOptions::default(),
        )
        .unwrap();
        assert_eq!(r.next_header().unwrap().unwrap().name, "a");
        let h = r.next_header().unwrap().unwrap();
        assert_eq!((h.name.as_str(), h.line), ("b", 4));
        assert!(r.next_header().unwrap().is_none());
    }
}
