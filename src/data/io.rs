//! Opening sequence and annotation files: plain, gzip or BGZF (bgzip), detected from the
//! first bytes, not the file name; and a line-counting reader so that every parse error can
//! name its line.
//!
//! ```
//! use std::io::Read;
//! use genolm::data::io::{detect_compression, Compression};
//! assert_eq!(detect_compression(b">sq0\nACGT\n"), Compression::None);
//! assert_eq!(detect_compression(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
//! ```

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use crate::{Error, Result};

/// How a file is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Plain text.
    None,
    /// gzip (one or several members).
    Gzip,
    /// Blocked gzip (bgzip / BGZF), the indexed variant used by samtools and htslib.
    Bgzf,
    /// Zstandard (`.zst`, one or several frames).
    Zstd,
}

/// Detect the compression of a stream from its first bytes (at least 18 for BGZF detection).
pub fn detect_compression(head: &[u8]) -> Compression {
    if head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        // BGZF: FEXTRA flag set and the extra subfield 'B','C'.
        if head.len() >= 16 && head[3] & 0x04 != 0 && head[12] == b'B' && head[13] == b'C' {
            Compression::Bgzf
        } else {
            Compression::Gzip
        }
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Compressions recognised by their first bytes that genolm does not read, with what to do:
/// a clear error instead of a FASTA parser's complaint about binary bytes.
fn unsupported(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"BZh") {
        Some("bzip2-compressed: decompress it (`bunzip2 -k FILE`) or recompress it with gzip, bgzip or zstd")
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Some("xz-compressed: decompress it (`unxz -k FILE`) or recompress it with gzip, bgzip or zstd")
    } else if head.starts_with(b"PK\x03\x04") {
        Some("a zip archive: unzip it first (an NCBI Datasets download unzips into ncbi_dataset/)")
    } else {
        None
    }
}

/// A boxed buffered reader over the decompressed bytes of a file.
pub type DynBufRead = Box<dyn BufRead + Send>;

const BUF: usize = 1 << 17;

/// Open `path` for reading, transparently decompressing gzip, BGZF and zstd (bzip2, xz and
/// zip are clear errors).
///
/// Returns the reader and the detected compression.
pub fn open(path: impl AsRef<Path>) -> Result<(DynBufRead, Compression)> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut raw = BufReader::with_capacity(BUF, file);
    let head = raw.fill_buf().map_err(|e| Error::io(path, e))?;
    if let Some(why) = unsupported(head) {
        return Err(Error::Input(format!("{}: {why}", path.display())));
    }
    let compression = detect_compression(head);
    Ok((wrap(raw, compression), compression))
}

/// Wrap any buffered reader, decompressing according to its first bytes.
pub fn from_reader<R: BufRead + Send + 'static>(
    mut raw: R,
) -> io::Result<(DynBufRead, Compression)> {
    let head = raw.fill_buf()?;
    if let Some(why) = unsupported(head) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, why));
    }
    let compression = detect_compression(head);
    Ok((wrap(raw, compression), compression))
}

/// Decompression runs beside the parser when rayon may use more than one thread
/// (`RAYON_NUM_THREADS=1` keeps everything on the calling thread), on one thread of its own,
/// a few blocks ahead ([`Prefetch`]). gzip is inflated by ISA-L (feature `isal`, the default;
/// zlib-rs without it), and so is BGZF, whose blocks are gzip members: ISA-L inflates them at
/// about 1 GB/s on one core, as fast as the parser reads, where libdeflate decodes densely
/// written BGZF at about half that. Without the feature BGZF goes through noodles' reader,
/// its blocks inflated by libdeflate on as many workers as rayon has threads, up to four.
fn wrap<R: BufRead + Send + 'static>(raw: R, compression: Compression) -> DynBufRead {
    use crate::data::gzip::MultiGzDecoder;
    let threads = rayon::current_num_threads();
    let gzip = as_gzip_members(compression);
    match compression {
        Compression::None => Box::new(raw),
        Compression::Zstd => match zstd::stream::read::Decoder::with_buffer(raw) {
            Ok(z) if threads > 1 => Box::new(Prefetch::spawn(z)),
            Ok(z) => Box::new(BufReader::with_capacity(BUF, z)),
            // the decoder's context could not be made: the error surfaces on the first read
            Err(e) => Box::new(io::BufReader::new(FailedRead(Some(e)))),
        },
        _ if gzip && threads > 1 => Box::new(Prefetch::spawn(MultiGzDecoder::new(raw))),
        _ if gzip => Box::new(BufReader::with_capacity(BUF, MultiGzDecoder::new(raw))),
        Compression::Bgzf if threads > 1 => {
            let workers = std::num::NonZeroUsize::new(threads.min(4)).expect("threads > 1");
            Box::new(noodles_bgzf::io::MultithreadedReader::with_worker_count(
                workers, raw,
            ))
        }
        _ => Box::new(noodles_bgzf::io::Reader::new(raw)),
    }
}

/// A reader whose first read fails with the error it holds.
struct FailedRead(Option<io::Error>);

impl Read for FailedRead {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(self
            .0
            .take()
            .unwrap_or_else(|| io::Error::other("decoder unavailable")))
    }
}

/// Whether [`crate::data::gzip::MultiGzDecoder`] reads this input: gzip, and BGZF (whose blocks
/// are gzip members) when ISA-L inflates (feature `isal`); otherwise BGZF goes to noodles.
fn as_gzip_members(compression: Compression) -> bool {
    compression == Compression::Gzip || (compression == Compression::Bgzf && cfg!(feature = "isal"))
}

/// A [`BufRead`] whose source is read on a thread of its own, up to [`Prefetch::DEPTH`]
/// blocks of [`Prefetch::BLOCK`] bytes ahead: gzip decompression (one core's work, not
/// splittable) then overlaps with whatever parses the bytes. Errors reach the reader in order;
/// dropping the reader stops the thread at its next block.
///
/// ```
/// use std::io::Read;
/// let text = b">chr\nACGT\n".repeat(100_000);
/// let mut r = genolm::data::io::Prefetch::spawn(std::io::Cursor::new(text.clone()));
/// let mut back = Vec::new();
/// r.read_to_end(&mut back)?;
/// assert_eq!(back, text);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Prefetch {
    rx: std::sync::mpsc::Receiver<io::Result<Vec<u8>>>,
    recycle: std::sync::mpsc::SyncSender<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Prefetch {
    /// Bytes per block handed from the reading thread.
    pub const BLOCK: usize = 1 << 18;
    /// Blocks read ahead at most.
    pub const DEPTH: usize = 4;

    /// Start reading `src` on a new thread.
    pub fn spawn<R: Read + Send + 'static>(mut src: R) -> Self {
        use std::sync::mpsc::sync_channel;
        let (tx, rx) = sync_channel::<io::Result<Vec<u8>>>(Self::DEPTH);
        let (recycle, back) = sync_channel::<Vec<u8>>(Self::DEPTH + 2);
        std::thread::spawn(move || loop {
            let mut b = back.try_recv().unwrap_or_default();
            b.resize(Self::BLOCK, 0);
            let mut n = 0;
            let res = loop {
                match src.read(&mut b[n..]) {
                    Ok(0) => break Ok(()),
                    Ok(m) => {
                        n += m;
                        if n == b.len() {
                            break Ok(());
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => break Err(e),
                }
            };
            b.truncate(n);
            // An empty block marks the end: a thread that stopped without it (a panic in the
            // decoder) is an error for the reader, never a silently shorter stream.
            let last = n == 0 || res.is_err();
            if (n > 0 || res.is_ok()) && tx.send(Ok(b)).is_err() {
                return; // the reader is gone
            }
            if let Err(e) = res {
                let _ = tx.send(Err(e));
            }
            if last {
                return;
            }
        });
        Self {
            rx,
            recycle,
            buf: Vec::new(),
            pos: 0,
            done: false,
        }
    }
}

impl Read for Prefetch {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = self.fill_buf()?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Prefetch {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.buf.len() && !self.done {
            match self.rx.recv() {
                Ok(Ok(b)) if b.is_empty() => self.done = true,
                Ok(Ok(b)) => {
                    let old = std::mem::replace(&mut self.buf, b);
                    let _ = self.recycle.try_send(old);
                    self.pos = 0;
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Err(io::Error::other(
                        "the decompression thread stopped before the end of the stream",
                    ));
                }
            }
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }
}

/// Read a whole (possibly compressed) file into memory.
pub fn read_all(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    let (mut r, _) = open(path)?;
    let mut buf = Vec::new();
    r.read_to_end(&mut buf)
        .map_err(|e| Error::parse(path.display().to_string(), 0, describe_io(&e)))?;
    Ok(buf)
}

/// Decompress an in-memory buffer (plain bytes are returned as they are).
pub fn decompress(bytes: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    if let Some(why) = unsupported(bytes) {
        return Err(io::Error::new(io::ErrorKind::InvalidData, why));
    }
    match detect_compression(bytes) {
        Compression::None => return Ok(bytes.to_vec()),
        Compression::Zstd => return zstd::stream::decode_all(bytes),
        c if as_gzip_members(c) => {
            crate::data::gzip::MultiGzDecoder::new(bytes).read_to_end(&mut out)?
        }
        _ => noodles_bgzf::io::Reader::new(bytes).read_to_end(&mut out)?,
    };
    Ok(out)
}

/// A human wording for I/O errors that arise while decoding (truncated gzip and the like).
pub fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            "unexpected end of file (truncated or corrupt gzip/bgzip stream?)".to_string()
        }
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput => {
            format!("corrupt or invalid data: {e}")
        }
        _ => e.to_string(),
    }
}

/// A [`BufRead`] adapter that counts the newlines consumed so far, so that parsers built on
/// noodles (which do not track lines) can report the line of an error.
pub struct LineCounter<R> {
    inner: R,
    lines: usize,
}

impl<R: BufRead> LineCounter<R> {
    /// Wrap a reader; the first line is line 1.
    pub fn new(inner: R) -> Self {
        Self { inner, lines: 0 }
    }
    /// The 1-based number of the line the reader is positioned on.
    pub fn line(&self) -> usize {
        self.lines + 1
    }
    /// Consume `amt` bytes the caller knows contain no newline (skips the count).
    pub fn consume_within_line(&mut self, amt: usize) {
        self.inner.consume(amt);
    }
    /// Peek at the next byte without consuming it.
    pub fn peek(&mut self) -> io::Result<Option<u8>> {
        Ok(self.inner.fill_buf()?.first().copied())
    }
}

impl<R: BufRead> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let src = self.fill_buf()?;
        let n = src.len().min(buf.len());
        buf[..n].copy_from_slice(&src[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for LineCounter<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        if amt > 0 {
            // The buffer is still filled, so this does no I/O.
            if let Ok(buf) = self.inner.fill_buf() {
                let upto = amt.min(buf.len());
                self.lines += memchr::memchr_iter(b'\n', &buf[..upto]).count();
            }
        }
        self.inner.consume(amt);
    }
}

/// A sequence file's stem and kind from its name, whatever its case and compression suffix:
/// `NC_1.fna.gz` → (`nc_1`, `fasta`); kinds `fasta` (FASTA and FASTQ), `genbank`, `gff3` and
/// `other`. How a corpus folder and a GFF3 file find the files that go together.
pub(crate) fn file_kind(p: &Path) -> (String, &'static str) {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".bgz"))
        .unwrap_or(&name)
        .to_string();
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) => (s.to_string(), e.to_string()),
        None => (name.clone(), String::new()),
    };
    let kind = match ext.as_str() {
        "fa" | "fasta" | "fna" | "fas" | "ffn" | "fastq" | "fq" => "fasta",
        "gb" | "gbk" | "gbff" | "genbank" => "genbank",
        "gff" | "gff3" => "gff3",
        _ => "other",
    };
    (stem, kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn zstd_reads_and_bzip2_xz_zip_are_named() {
        let text = b">chr\nACGT\n".repeat(50_000);
        let dir = tempfile::tempdir().unwrap();
        let zst = dir.path().join("x.fa.zst");
        // two frames, as `zstd` writes a concatenated file
        let mut bytes = zstd::stream::encode_all(&text[..200_000], 3).unwrap();
        bytes.extend(zstd::stream::encode_all(&text[200_000..], 3).unwrap());
        std::fs::write(&zst, &bytes).unwrap();
        assert_eq!(read_all(&zst).unwrap(), text);
        assert_eq!(open(&zst).unwrap().1, Compression::Zstd);
        assert_eq!(decompress(&bytes).unwrap(), text);
        for (name, head, word) in [
            ("x.fa.bz2", &b"BZh91AY&SY"[..], "bzip2"),
            (
                "x.fa.xz",
                &[0xfd, b'7', b'z', b'X', b'Z', 0, 0, 4][..],
                "xz",
            ),
            ("x.zip", &b"PK\x03\x04\x14\x00"[..], "zip"),
        ] {
            let p = dir.path().join(name);
            std::fs::write(&p, head).unwrap();
            let e = open(&p).err().unwrap().to_string();
            assert!(e.contains(word) && e.contains(name), "{e}");
            assert!(decompress(head).is_err());
        }
    }

    #[test]
    fn gzip_and_bgzf_round_trip() {
        let text = b">a\nACGT\n>b\nGG\n".repeat(1000);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&text).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(detect_compression(&gz), Compression::Gzip);
        assert_eq!(decompress(&gz).unwrap(), text);

        let mut w = noodles_bgzf::io::Writer::new(Vec::new());
        w.write_all(&text).unwrap();
        let bgz = w.finish().unwrap();
        assert_eq!(detect_compression(&bgz), Compression::Bgzf);
        assert_eq!(decompress(&bgz).unwrap(), text);
    }

    #[test]
    fn truncated_gzip_is_an_error() {
        let text = b">a\nACGTACGTACGTAAAACCCGGGTTT\n".repeat(5000);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&text).unwrap();
        let gz = gz.finish().unwrap();
        let cut = &gz[..gz.len() / 2];
        assert!(decompress(cut).is_err());
    }

    #[test]
    fn prefetch_keeps_bytes_and_errors_in_order() {
        // Several blocks' worth, so the reading thread runs ahead and recycles buffers.
        let text: Vec<u8> = (0..3 * Prefetch::BLOCK + 12_345)
            .map(|i| b"ACGT\n"[(i * 7 + i / 13) % 5])
            .collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&text).unwrap();
        let gz = gz.finish().unwrap();
        let mut back = Vec::new();
        let mut r = Prefetch::spawn(flate2::read::MultiGzDecoder::new(io::Cursor::new(
            gz.clone(),
        )));
        r.read_to_end(&mut back).unwrap();
        assert_eq!(back, text);
        // A truncated stream: every byte decoded before the cut arrives, then the error.
        let mut r = Prefetch::spawn(flate2::read::MultiGzDecoder::new(io::Cursor::new(
            gz[..gz.len() * 2 / 3].to_vec(),
        )));
        let mut got = Vec::new();
        let err = r.read_to_end(&mut got).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(!got.is_empty() && text.starts_with(&got));
        // A reader thread that dies (a panicking decoder) is an error, not a shorter stream.
        struct Dies(usize);
        impl Read for Dies {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                assert!(self.0 < 3, "decoder bug");
                self.0 += 1;
                out[0] = b'A';
                Ok(1)
            }
        }
        let mut got = Vec::new();
        let err = Prefetch::spawn(Dies(0)).read_to_end(&mut got).unwrap_err();
        assert!(err.to_string().contains("stopped before the end"), "{err}");
        // Through `from_reader`, whichever path the thread count picks.
        let (mut r, c) = from_reader(io::Cursor::new(gz)).unwrap();
        assert_eq!(c, Compression::Gzip);
        back.clear();
        r.read_to_end(&mut back).unwrap();
        assert_eq!(back, text);
    }

    #[test]
    fn line_counter_counts() {
        let mut r = LineCounter::new(&b"a\nb\nc"[..]);
        let mut s = String::new();
        r.read_line(&mut s).unwrap();
        assert_eq!(r.line(), 2);
        r.read_line(&mut s).unwrap();
        r.read_line(&mut s).unwrap();
        assert_eq!(r.line(), 3);
    }
}
