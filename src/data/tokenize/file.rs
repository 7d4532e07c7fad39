//! Whole files to k-mer ids: [`tokenize_file`], streaming for gzip input and FASTQ, and
//! split between threads for plain FASTA and BGZF.

use std::mem::MaybeUninit;
use std::path::Path;

use rayon::prelude::*;

use super::{KmerTokenizer, SliceSink, StreamEncoder};
use crate::data::alphabet::{CODE, INVALID};
use crate::data::io::{detect_compression, Compression};
use crate::{Error, Result};

/// FASTA lines (60–80 bases) are gathered into blocks of this many bases before encoding, so
/// the encoder's loops run long.
const BLOCK: usize = 1 << 16;

/// Tokenize every record of a FASTA/FASTQ file (plain, gzip, bgzip), with invalid letters
/// reported by file and line. Returns `(record name, token ids)` per record.
///
/// Compressed input and FASTQ stream in one pass (constant memory beyond the token output;
/// decompression runs beside the parser, see [`crate::data::io`]). A plain FASTA file of at
/// least a mebibyte, when rayon may use more than one thread, is memory-mapped and split at
/// line boundaries between the threads: each piece's bases are counted, then each piece is
/// encoded into its own part of the record's ids, starting from the `k - 1` bases before it.
/// A BGZF file (feature `isal`, the default) whose text and ids fit in half the available
/// memory has its blocks inflated in parallel into one buffer, which is then split the same
/// way. Both ways give the same ids (the tests compare them); a file with anything unusual (an
/// invalid letter, a header noodles would not accept, a damaged block) is read the streaming
/// way, which reports it.
pub fn tokenize_file(path: impl AsRef<Path>, t: &KmerTokenizer) -> Result<Vec<(String, Vec<u32>)>> {
    let path = path.as_ref();
    if rayon::current_num_threads() > 1 {
        if let Some(out) = parallel(path, t) {
            return Ok(out);
        }
    }
    streaming(path, t)
}

/// The streaming pass.
fn streaming(path: &Path, t: &KmerTokenizer) -> Result<Vec<(String, Vec<u32>)>> {
    let mut first_capacity = first_record_capacity(path, t);
    let mut r = crate::data::fasta::SeqReader::from_path(path, Default::default())?;
    let mut out = Vec::new();
    let mut enc = StreamEncoder::new(*t);
    // Each line's start is kept to name the line of an invalid letter.
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK + 1024);
    let mut starts: Vec<(usize, usize)> = Vec::new();
    while let Some(h) = r.next_header()? {
        enc.reset();
        // The first record (a whole genome, often) gets room for the whole file at once:
        // growing a Vec of megabytes by doubling copied it and touched twice its pages.
        let mut ids = Vec::with_capacity(std::mem::take(&mut first_capacity));
        let label = r.label().to_string();
        let flush = |buf: &mut Vec<u8>,
                     starts: &mut Vec<(usize, usize)>,
                     enc: &mut StreamEncoder,
                     ids: &mut Vec<u32>|
         -> Result<()> {
            let (before, n0) = (enc.clone(), ids.len());
            let mut pushed = enc.push(buf, ids);
            if matches!(pushed, Err(b' ' | b'\t' | b'\r')) {
                // Spaces, tabs and stray carriage returns inside sequence lines are skipped,
                // as the reader of every other command skips them (and Biopython): the block
                // again without them (looked for only here, so clean input pays nothing).
                *enc = before;
                ids.truncate(n0);
                strip_blanks(buf, starts);
                pushed = enc.push(buf, ids);
            }
            if let Err(b) = pushed {
                let at = buf
                    .iter()
                    .position(|&x| CODE[x as usize] == INVALID)
                    .unwrap_or(0);
                let i = starts.partition_point(|&(start, _)| start <= at);
                let line_no = starts[i.saturating_sub(1)].1;
                return Err(Error::parse(
                    &label,
                    line_no,
                    format!(
                        "invalid nucleotide '{}' in sequence",
                        (b as char).escape_default()
                    ),
                ));
            }
            buf.clear();
            starts.clear();
            Ok(())
        };
        r.for_each_raw_line(|line, line_no| {
            starts.push((buf.len(), line_no));
            buf.extend_from_slice(line);
            if buf.len() >= BLOCK {
                flush(&mut buf, &mut starts, &mut enc, &mut ids)?;
            }
            Ok(())
        })?;
        flush(&mut buf, &mut starts, &mut enc, &mut ids)?;
        if ids.capacity() > ids.len() + ids.len() / 4 + 1024 {
            ids.shrink_to_fit(); // pages never written were never backed
        }
        out.push((h.name, ids));
    }
    Ok(out)
}

/// Removes spaces, tabs and carriage returns from a block of sequence lines, moving the lines'
/// start offsets (`(offset in buf, line number)`) with their bytes.
fn strip_blanks(buf: &mut Vec<u8>, starts: &mut [(usize, usize)]) {
    let mut kept = 0;
    let mut line = 0;
    for i in 0..buf.len() {
        while line < starts.len() && starts[line].0 == i {
            starts[line].0 = kept;
            line += 1;
        }
        if !matches!(buf[i], b' ' | b'\t' | b'\r') {
            buf[kept] = buf[i];
            kept += 1;
        }
    }
    for s in &mut starts[line..] {
        s.0 = kept;
    }
    buf.truncate(kept);
}

/// Token ids to reserve for a file's first record: as many as its bases could give if it
/// were the only record (plain: the file size; gzip or BGZF: four times the compressed size,
/// about what DNA compresses by), at most a quarter of the memory available.
fn first_record_capacity(path: &Path, t: &KmerTokenizer) -> usize {
    use std::io::Read;
    let Ok(mut f) = std::fs::File::open(path) else {
        return 0;
    };
    let mut head = [0u8; 18];
    let n = f.read(&mut head).unwrap_or(0);
    let len = f.metadata().map(|m| m.len()).unwrap_or(0) as f64;
    let bases = match detect_compression(&head[..n]) {
        Compression::None => len,
        _ => 4.0 * len,
    };
    let avail = crate::cpu::available_mib() * (1 << 20) as f64 / 4.0 / 4.0;
    let cap = if avail.is_nan() { 1e8 } else { avail };
    (bases / t.stride as f64).min(cap) as usize
}

/// Bytes per piece a thread takes at a time.
const PIECE: usize = 1 << 18;
/// Plain files smaller than this are not worth splitting.
const MIN_PARALLEL: u64 = 1 << 20;

/// Call `f` on each sequence line of `body` (newline and a trailing `\r` removed), found with
/// memchr; stops early, returning false, when `f` does.
fn for_each_line(body: &[u8], mut f: impl FnMut(&[u8]) -> bool) -> bool {
    let mut start = 0;
    for nl in memchr::memchr_iter(b'\n', body) {
        let l = &body[start..nl];
        if !f(l.strip_suffix(b"\r").unwrap_or(l)) {
            return false;
        }
        start = nl + 1;
    }
    let l = &body[start..];
    f(l.strip_suffix(b"\r").unwrap_or(l))
}

/// The newlines in `p` when it holds no `\r` (then its bases are the other bytes), `None`
/// otherwise (CRLF lines: the caller walks the lines). One pass with byte counters the
/// compiler vectorises, where `memchr` per line stopped at every line end.
fn count_newlines(p: &[u8]) -> Option<usize> {
    let (mut newlines, mut cr) = (0usize, 0u8);
    // Up to 255 bytes per lane before the lane counts are added up.
    for block in p.chunks(255 * 64) {
        let mut lanes = [0u8; 64];
        let mut chunks = block.chunks_exact(64);
        for c in &mut chunks {
            for (n, &b) in lanes.iter_mut().zip(c) {
                *n += (b == b'\n') as u8;
                cr |= (b == b'\r') as u8;
            }
        }
        for &b in chunks.remainder() {
            newlines += (b == b'\n') as usize;
            cr |= (b == b'\r') as u8;
        }
        newlines += lanes.iter().map(|&n| n as usize).sum::<usize>();
    }
    (cr == 0).then_some(newlines)
}

/// Plain FASTA (a mebibyte or more) or BGZF split between threads, the file opened and
/// memory-mapped once; `None` sends the file down the streaming path (gzip, FASTQ, small, or
/// anything unusual in it).
fn parallel(path: &Path, t: &KmerTokenizer) -> Option<Vec<(String, Vec<u32>)>> {
    let file = std::fs::File::open(path).ok()?;
    // SAFETY: the map is read-only; a file truncated while mapped would fault (SIGBUS), the
    // usual caveat of memory-mapped input, as for the token shards.
    let map = unsafe { memmap2::Mmap::map(&file) }.ok()?;
    match detect_compression(&map[..map.len().min(18)]) {
        Compression::None if map.len() as u64 >= MIN_PARALLEL => parallel_text(&map, t),
        #[cfg(feature = "isal")]
        Compression::Bgzf => parallel_bgzf(&map, t),
        _ => None,
    }
}

/// A BGZF file whose text fits in memory: its blocks (each one's size in its own header, its
/// text's size in its trailer) inflated in parallel into one buffer, which is then split
/// between the threads as a plain file is. gzip's single stream cannot be cut this way;
/// BGZF's independent blocks can, and one core's inflate would otherwise bound the whole pass.
/// `None` (the streaming path, which reports errors by line) for anything else: not BGZF, a
/// block that does not inflate to its size and CRC, text and ids over half the available
/// memory, or anything [`parallel_text`] declines.
#[cfg(feature = "isal")]
fn parallel_bgzf(file: &[u8], t: &KmerTokenizer) -> Option<Vec<(String, Vec<u32>)>> {
    use crate::data::gzip::{bgzf_blocks, BgzfBlock, BlockInflater};
    let blocks = bgzf_blocks(file)?;
    let total: usize = blocks.iter().map(|b| b.len).sum();
    // the text and the ids it gives (4 bytes per token) within half the available memory
    let avail = crate::cpu::available_mib() * (1 << 20) as f64;
    let need = total as f64 * (1.0 + 4.0 / t.stride as f64);
    // (no reading of the available memory: `avail` is NaN, and nothing fits)
    if (total as u64) < MIN_PARALLEL || avail.is_nan() || need > avail / 2.0 {
        return None;
    }
    let mut text = vec![0u8; total];
    let mut parts: Vec<(&BgzfBlock, &mut [u8])> = Vec::with_capacity(blocks.len());
    let mut rest = &mut text[..];
    for b in &blocks {
        let (head, tail) = rest.split_at_mut(b.len);
        parts.push((b, head));
        rest = tail;
    }
    // The blocks up to the first with text first: FASTQ (or anything but FASTA) goes the
    // streaming way before the rest is inflated for nothing.
    let first = blocks.iter().position(|b| b.len > 0)?;
    let later = parts.split_off(first + 1);
    let mut inf = BlockInflater::new();
    for (block, out) in parts {
        if !inf.inflate(file, block, out) || out.first().is_some_and(|&c| c != b'>') {
            return None;
        }
    }
    let ok = later
        .into_par_iter()
        .map_init(BlockInflater::new, |inf, (block, out)| {
            inf.inflate(file, block, out)
        })
        .all(|ok| ok);
    if !ok {
        return None;
    }
    parallel_text(&text, t)
}

/// A whole plain FASTA text split between threads (see [`tokenize_file`]).
fn parallel_text(text: &[u8], t: &KmerTokenizer) -> Option<Vec<(String, Vec<u32>)>> {
    if text.first() != Some(&b'>') {
        return None;
    }
    // Records: a '>' at the start of a line, looked for in pieces on the pool (one scan of
    // the whole text on one thread took 4–10 % of a BGZF genome's time on two).
    let n_chunks = text.len().div_ceil(PIECE);
    let found: Vec<Vec<usize>> = (0..n_chunks)
        .into_par_iter()
        .map(|c| {
            // "\n>" pairs whose newline is in this chunk (the pair may end in the next one).
            let (from, to) = (c * PIECE, ((c + 1) * PIECE).min(text.len()));
            let end = (to + 1).min(text.len());
            memchr::memmem::find_iter(&text[from..end], b"\n>")
                .map(|i| from + i + 1)
                .collect()
        })
        .collect();
    let mut starts: Vec<usize> = std::iter::once(0)
        .chain(found.into_iter().flatten())
        .collect();
    starts.push(text.len());
    let mut out = Vec::with_capacity(starts.len() - 1);
    for w in starts.windows(2) {
        let rec = &text[w[0]..w[1]];
        let eol = memchr::memchr(b'\n', rec).unwrap_or(rec.len());
        // The header as the streaming reader parses it (noodles).
        let mut def = noodles_fasta::record::Definition::default();
        let mut hr = noodles_fasta::io::Reader::new(&rec[..(eol + 1).min(rec.len())]);
        hr.read_definition(&mut def).ok()?;
        let name = crate::data::fasta::definition_name(&def)?;
        let body = &rec[(eol + 1).min(rec.len())..];
        out.push((name, encode_body(body, t)?));
    }
    Some(out)
}

/// One record's sequence lines, in pieces on the rayon pool.
fn encode_body(body: &[u8], t: &KmerTokenizer) -> Option<Vec<u32>> {
    // Pieces end just after a newline.
    let mut bounds = vec![0];
    while *bounds.last().expect("non-empty") < body.len() {
        let from = bounds.last().expect("non-empty") + PIECE;
        let end = if from >= body.len() {
            body.len()
        } else {
            memchr::memchr(b'\n', &body[from..]).map_or(body.len(), |i| from + i + 1)
        };
        bounds.push(end);
    }
    let pieces: Vec<&[u8]> = bounds.windows(2).map(|w| &body[w[0]..w[1]]).collect();
    let bases: Vec<usize> = pieces
        .par_iter()
        .map(|p| match count_newlines(p) {
            Some(newlines) => p.len() - newlines,
            None => {
                let mut n = 0;
                for_each_line(p, |l| {
                    n += l.len();
                    true
                });
                n
            }
        })
        .collect();
    let mut offsets = vec![0usize];
    for b in &bases {
        offsets.push(offsets.last().expect("non-empty") + b);
    }
    let total = t.n_tokens(*offsets.last().expect("non-empty"));
    let mut ids: Vec<u32> = Vec::with_capacity(total);
    // Each piece's share of the ids: the tokens that end inside it.
    let mut slots: Vec<&mut [MaybeUninit<u32>]> = Vec::with_capacity(pieces.len());
    let mut rest = &mut ids.spare_capacity_mut()[..total];
    for w in offsets.windows(2) {
        let n = t.n_tokens(w[1]) - t.n_tokens(w[0]);
        let (head, tail) = rest.split_at_mut(n);
        slots.push(head);
        rest = tail;
    }
    let ok = pieces
        .par_iter()
        .zip(slots)
        .enumerate()
        .all(|(i, (piece, slot))| {
            let o = offsets[i];
            // The k - 1 bases before the piece (walking back over line ends).
            let w = o.min(t.k - 1);
            let mut warm = Vec::with_capacity(w);
            for &b in body[..bounds[i]].iter().rev() {
                if warm.len() == w {
                    break;
                }
                if b != b'\n' && b != b'\r' {
                    warm.push(b);
                }
            }
            warm.reverse();
            let mut enc = StreamEncoder::at_offset(*t, o - w);
            let mut discard = Vec::new();
            if enc.push(&warm, &mut discard).is_err() {
                return false;
            }
            let mut sink = SliceSink::new(slot);
            let mut buf = Vec::with_capacity(BLOCK + 1024);
            let clean = for_each_line(piece, |line| {
                buf.extend_from_slice(line);
                if buf.len() >= BLOCK {
                    if enc.push_slice(&buf, &mut sink).is_err() {
                        return false;
                    }
                    buf.clear();
                }
                true
            });
            clean && enc.push_slice(&buf, &mut sink).is_ok() && sink.is_full()
        });
    if !ok {
        return None;
    }
    // SAFETY: every piece filled its slot (`is_full`), and the slots tile `..total`.
    unsafe { ids.set_len(total) };
    Some(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three records, two of them several pieces long, with N runs across piece ends, lower
    /// case, short and long lines, blank lines and CRLF in one record.
    fn three_records() -> Vec<u8> {
        let mut x = 11u64;
        let mut next = move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x >> 33
        };
        let mut text = Vec::new();
        for (name, len, width, crlf) in [
            ("chr1 first", 2_500_000usize, 70usize, false),
            ("plasmid", 999, 60, false),
            ("chr2", 1_300_000, 61, true),
        ] {
            text.extend_from_slice(format!(">{name}\n").as_bytes());
            let seq: Vec<u8> = (0..len)
                .map(|_| match next() % 5000 {
                    0..=2 => b'N',
                    r => b"ACGTacgt"[(r % 8) as usize],
                })
                .collect();
            for (i, line) in seq.chunks(width).enumerate() {
                text.extend_from_slice(line);
                text.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
                if i == 7 {
                    text.push(b'\n'); // a blank line
                }
            }
        }
        text
    }

    /// Both ways give the same records and ids for every k and stride.
    fn same_as_streaming(par: &[(String, Vec<u32>)], path: &Path, t: &KmerTokenizer) {
        let seq = streaming(path, t).unwrap();
        assert_eq!(par.len(), 3);
        assert_eq!(seq.len(), 3);
        for (p, q) in par.iter().zip(&seq) {
            assert_eq!(p.0, q.0);
            assert_eq!(p.1.len(), q.1.len(), "k={} s={} {}", t.k, t.stride, p.0);
            assert!(p.1 == q.1, "k={} s={} {}: ids differ", t.k, t.stride, p.0);
        }
    }

    #[test]
    fn parallel_pieces_give_the_streaming_ids() {
        // The parallel path must take the file and give the streaming path's ids.
        let text = three_records();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.fa");
        std::fs::write(&path, &text).unwrap();
        for (k, s) in [(1, 1), (3, 1), (6, 1), (6, 3), (4, 7), (15, 2)] {
            let t = KmerTokenizer::new(k, s).unwrap();
            let par = parallel(&path, &t).expect("plain FASTA takes the parallel path");
            same_as_streaming(&par, &path, &t);
        }
        // An invalid letter: the parallel path declines, the streaming path names the line.
        let mut bad = text.clone();
        let at = 1_000_000;
        assert!(bad[at].is_ascii_alphabetic());
        bad[at] = b'!';
        std::fs::write(&path, &bad).unwrap();
        let t = KmerTokenizer::new(3, 1).unwrap();
        assert!(parallel(&path, &t).is_none());
        let line = 1 + bad[..at].iter().filter(|&&b| b == b'\n').count();
        let err = tokenize_file(&path, &t).unwrap_err().to_string();
        assert!(
            err.contains(&format!(":{line}")) && err.contains("'!'"),
            "{err}"
        );
    }

    /// Spaces, tabs and carriage returns inside sequence lines are skipped, as the sequence
    /// reader of the other commands skips them: the same ids as the clean file's and as
    /// tokenising what that reader reads.
    #[test]
    fn whitespace_inside_sequence_lines_is_skipped_as_the_reader_skips_it() {
        let dir = tempfile::tempdir().unwrap();
        let (clean, spaced) = (dir.path().join("clean.fa"), dir.path().join("spaced.fa"));
        std::fs::write(&clean, ">a\nACGTACGTNNAC\nGGTT\n>b\nACGTA\n").unwrap();
        std::fs::write(&spaced, ">a\nACGT ACGT\tNNAC \r\nGG\rTT\n>b\n AC GTA\n").unwrap();
        let t = KmerTokenizer::new(3, 1).unwrap();
        let want = tokenize_file(&clean, &t).unwrap();
        assert_eq!(tokenize_file(&spaced, &t).unwrap(), want);
        let mut r = crate::data::fasta::SeqReader::from_path(&spaced, Default::default()).unwrap();
        let mut read = Vec::new();
        while let Some(rec) = r.next_record().unwrap() {
            read.push((rec.name, t.encode(&rec.seq)));
        }
        assert_eq!(read, want);
        // A letter that is not a base, after blanks, is still named at its line.
        std::fs::write(&spaced, ">a\nAC GT\nACGT\nAC!T\n").unwrap();
        let err = tokenize_file(&spaced, &t).unwrap_err().to_string();
        assert!(err.contains(":4") && err.contains("'!'"), "{err}");
    }

    #[test]
    fn many_records_across_the_scan_pieces() {
        // Thousands of records of 1–700 bases, so record starts fall on and around the ends of
        // the pieces the record scan splits the text into.
        let mut x = 5u64;
        let mut next = move || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) as usize
        };
        let mut text = Vec::new();
        let mut i = 0;
        while text.len() < 5 * PIECE {
            // Every piece's first byte starts a record: the previous record is padded up to it.
            let next_piece = (text.len() / PIECE + 1) * PIECE;
            if next_piece - text.len() < 1000 {
                text.resize(next_piece - 1, b'C');
                text.push(b'\n');
            }
            text.extend_from_slice(format!(">r{i}\n").as_bytes());
            let len = 1 + next() % 700;
            for j in 0..len {
                text.push(b"ACGT"[next() % 4]);
                if j % 60 == 59 {
                    text.push(b'\n');
                }
            }
            text.push(b'\n');
            i += 1;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("many.fa");
        std::fs::write(&path, &text).unwrap();
        let t = KmerTokenizer::new(3, 1).unwrap();
        let par = parallel(&path, &t).expect("plain FASTA takes the parallel path");
        let seq = streaming(&path, &t).unwrap();
        assert_eq!(par.len(), i);
        assert!(par == seq, "records or ids differ");
    }

    #[test]
    fn newline_count_is_the_line_walk() {
        let mut p: Vec<u8> = (0..100_000)
            .map(|i| if i % 61 == 60 { b'\n' } else { b'A' })
            .collect();
        let walk = |p: &[u8]| {
            let mut n = 0;
            for_each_line(p, |l| {
                n += l.len();
                true
            });
            n
        };
        for len in [0, 1, 63, 64, 65, 255 * 64, 255 * 64 + 7, 100_000] {
            let q = &p[..len];
            assert_eq!(q.len() - count_newlines(q).unwrap(), walk(q), "{len}");
        }
        p[77] = b'\r';
        assert_eq!(count_newlines(&p), None);
    }

    #[cfg(feature = "isal")]
    #[test]
    fn bgzf_blocks_inflated_in_parallel_give_the_streaming_ids() {
        use std::io::Write;
        let text = three_records();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("g.fa.bgz");
        let bgzf = |text: &[u8]| {
            let mut w = noodles_bgzf::io::Writer::new(Vec::new());
            w.write_all(text).unwrap();
            w.finish().unwrap()
        };
        let good = bgzf(&text);
        std::fs::write(&path, &good).unwrap();
        for (k, s) in [(1, 1), (3, 1), (6, 3), (15, 2)] {
            let t = KmerTokenizer::new(k, s).unwrap();
            let par = parallel(&path, &t).expect("BGZF takes the parallel path");
            same_as_streaming(&par, &path, &t);
        }
        let t = KmerTokenizer::new(3, 1).unwrap();
        // FASTQ in BGZF is not split (its first block tells).
        let fastq: Vec<u8> = (0..40_000)
            .flat_map(|i| format!("@r{i}\nACGTTGCAACGTTGCA\n+\nIIIIIIIIIIIIIIII\n").into_bytes())
            .collect();
        std::fs::write(&path, bgzf(&fastq)).unwrap();
        assert!(parallel(&path, &t).is_none());
        assert_eq!(tokenize_file(&path, &t).unwrap().len(), 40_000);
        // Plain gzip (one member without BGZF's extra field) is not split.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&text).unwrap();
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        assert!(parallel(&path, &t).is_none());
        // A damaged block (a CRC, a deflate byte) or a truncated file: the parallel path
        // declines, and the streaming path reports the damage.
        let blocks = crate::data::gzip::bgzf_blocks(&good).unwrap();
        let b = blocks[blocks.len() / 2];
        // (b.data + 22: the block's 40th byte, its header being 18)
        for at in [b.end - 6, b.data + 22] {
            let mut bad = good.clone();
            bad[at] ^= 0x55;
            std::fs::write(&path, &bad).unwrap();
            assert!(parallel(&path, &t).is_none(), "byte {at} changed");
            assert!(tokenize_file(&path, &t).is_err(), "byte {at} changed");
        }
        std::fs::write(&path, &good[..b.end - 3]).unwrap();
        assert!(parallel(&path, &t).is_none());
        assert!(tokenize_file(&path, &t).is_err());
    }
}
