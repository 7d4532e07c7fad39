//! MB of decompressed output per second for each decoder, one line of JSON per decoder and
//! round, rounds alternating. The output buffer of libdeflate is allocated inside the timed
//! region (as a reader would have to), the streaming decoders read into a reused 1 MiB buffer.
use std::io::Read;
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

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = args.get(1).expect("usage: gzip-decoders FILE.gz [ROUNDS]");
    let rounds: usize = args.get(2).map_or(7, |s| s.parse().expect("ROUNDS"));
    let comp = std::fs::read(path).expect("read");
    let isize = u32::from_le_bytes(comp[comp.len() - 4..].try_into().unwrap()) as usize;
    let report = |round: usize, name: &str, n: usize, t: Instant| {
        let s = t.elapsed().as_secs_f64();
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
    }
}
