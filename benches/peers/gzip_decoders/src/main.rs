//! MB of decompressed output per second for each decoder, one line of JSON per decoder and
//! round, rounds alternating. The output buffer of libdeflate is allocated inside the timed
//! region (as a reader would have to), the streaming decoders read into a reused 1 MiB buffer.
//!
//! The same text is also written as BGZF twice, in memory: by noodles (libdeflate at its
//! default level, what genolm's k-mer bench reads) and with zlib-rs at level 6 (as Biopython's
//! `Bio.bgzf` and zlib-based bgzip write it), and both are decoded block by block with one
//! reused libdeflate decompressor and through noodles' reader.
use std::io::{Read, Write};
use std::time::Instant;

fn drain(mut r: impl Read) -> usize {
    let (mut n, mut buf) = (0, vec![0u8; 1 << 20]);
    loop {
        match r.read(&mut buf).expect("decode") {
            0 => return n,
            k => n += k,
        }
    }
}

/// BGZF of `text` with raw deflate at zlib `level`, 65 280-byte blocks (htslib's), then the
/// empty end-of-file block.
fn bgzf_zlib(text: &[u8], level: u32) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in text.chunks(65280).chain(std::iter::once(&[][..])) {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(chunk).expect("deflate");
        let cdata = e.finish().expect("deflate");
        let bsize = (cdata.len() + 25) as u16; // total block size − 1
        out.extend_from_slice(&[31, 139, 8, 4, 0, 0, 0, 0, 0, 255, 6, 0, b'B', b'C', 2, 0]);
        out.extend_from_slice(&bsize.to_le_bytes());
        out.extend_from_slice(&cdata);
        let mut crc = flate2::Crc::new();
        crc.update(chunk);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
    }
    out
}

/// Decode BGZF block by block with one libdeflate decompressor (or ISA-L's stateless inflate),
/// checking each CRC.
fn bgzf_blocks(comp: &[u8], isal: bool) -> usize {
    let mut d = libdeflater::Decompressor::new();
    let mut out = vec![0u8; 1 << 16];
    let (mut pos, mut n) = (0, 0);
    while pos + 18 <= comp.len() {
        let bsize = u16::from_le_bytes([comp[pos + 16], comp[pos + 17]]) as usize + 1;
        let blk = &comp[pos..pos + bsize];
        let isize = u32::from_le_bytes(blk[bsize - 4..].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(blk[bsize - 8..bsize - 4].try_into().unwrap());
        let k = if isal {
            isal::decompress_into(&blk[18..bsize - 8], &mut out[..isize], isal::Codec::Deflate)
                .expect("isal")
        } else {
            d.deflate_decompress(&blk[18..bsize - 8], &mut out[..isize])
                .expect("libdeflate")
        };
        assert_eq!(libdeflater::crc32(&out[..k]), crc, "block checksum");
        n += k;
        pos += bsize;
    }
    n
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: gzip-decoders FILE.gz [ROUNDS]");
    let rounds: usize = args.get(2).map_or(7, |s| s.parse().expect("ROUNDS"));
    let comp = std::fs::read(path).expect("read");
    let isize = u32::from_le_bytes(comp[comp.len() - 4..].try_into().unwrap()) as usize;
    let mut text = Vec::new();
    flate2::read::MultiGzDecoder::new(&comp[..])
        .read_to_end(&mut text)
        .expect("gzip");
    let mut w = noodles_bgzf::io::Writer::new(Vec::new());
    w.write_all(&text).expect("bgzf");
    let bgzf_noodles = w.finish().expect("bgzf");
    let bgzf_zlib6 = bgzf_zlib(&text, 6);
    let report = |round: usize, name: &str, n: usize, t: Instant| {
        let s = t.elapsed().as_secs_f64();
        assert_eq!(n, text.len(), "{name}: wrong length");
        println!(
            "{{\"round\": {round}, \"decoder\": \"{name}\", \"bytes\": {n}, \"mb_per_s\": {:.1}}}",
            n as f64 / s / 1e6
        );
    };
    for round in 1..=rounds {
        let t = Instant::now();
        let n = drain(flate2::read::MultiGzDecoder::new(&comp[..]));
        report(round, "zlib-rs (flate2, streaming)", n, t);
        let t = Instant::now();
        let n = drain(isal::read::GzipDecoder::new(&comp[..]));
        report(round, "ISA-L (isal-rs, streaming)", n, t);
        let t = Instant::now();
        let mut out = vec![0u8; isize];
        let n = libdeflater::Decompressor::new()
            .gzip_decompress(&comp, &mut out)
            .expect("libdeflate");
        report(round, "libdeflate (one call)", n, t);
        for threads in [1, 2] {
            let t = Instant::now();
            let dec = rapidgzip_core::Decoder::builder()
                .decoder_threads(threads)
                .build()
                .expect("rapidgzip");
            let n = drain(dec.open(path).expect("open"));
            report(round, &format!("rapidgzip-core, {threads} thread(s)"), n, t);
        }
        for (name, bgzf) in [("noodles", &bgzf_noodles), ("zlib 6", &bgzf_zlib6)] {
            for (lib, isal) in [("libdeflate", false), ("ISA-L", true)] {
                let t = Instant::now();
                let n = bgzf_blocks(bgzf, isal);
                report(
                    round,
                    &format!("BGZF written by {name}: {lib} per block"),
                    n,
                    t,
                );
            }
            let t = Instant::now();
            let n = drain(noodles_bgzf::io::Reader::new(&bgzf[..]));
            report(
                round,
                &format!("BGZF written by {name}: noodles reader"),
                n,
                t,
            );
        }
    }
    eprintln!(
        "BGZF sizes: noodles {} bytes, zlib 6 {} bytes; gzip input {} bytes",
        bgzf_noodles.len(),
        bgzf_zlib6.len(),
        comp.len()
    );
}
