//! FASTA(.gz) → k-mer ids throughput, end to end (open, decompress, parse, validate,
//! tokenize): plain, gzip and BGZF input. Decompression runs beside the parser on the other
//! cores (`RAYON_NUM_THREADS=1` keeps it all on one thread).
//!
//! `cargo bench --bench kmer_throughput [-- FILE.fa.gz]`; default: the E. coli MG1655 genome
//! in `../shared/data`. Prints one JSON line per case for `benches/peers/compare_kmer.sh`.

use std::path::PathBuf;
use std::time::Instant;

use genolm::data::tokenize::{tokenize_file, KmerTokenizer};

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this once as a smoke test.
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let arg = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let gz = match arg {
        Some(a) => PathBuf::from(a),
        None => {
            let ecoli = root.join("../shared/data/pro/escherichia_coli_MG1655.fa.gz");
            if ecoli.exists() {
                ecoli
            } else {
                eprintln!(
                    "E. coli genome not found next to the repo; using the shipped H. pylori G27"
                );
                root.join("datasets/pro/helicobacter_pylori_G27.fa.gz")
            }
        }
    };
    if !gz.exists() {
        eprintln!(
            "no input genome at {}; pass a FASTA(.gz) path",
            gz.display()
        );
        std::process::exit(2);
    }
    let text = genolm::data::io::read_all(&gz).expect("readable genome");
    let dir = std::env::temp_dir().join(format!("genolm-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let plain = dir.join("genome.fa");
    std::fs::write(&plain, &text).unwrap();
    let reps: usize = if bench_mode {
        std::env::var("GENOLM_BENCH_REPS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(11)
    } else {
        1
    };
    // The same text as BGZF (bgzip): its blocks decompress in parallel.
    let bgz = dir.join("genome.fa.bgz");
    {
        use std::io::Write;
        let mut w = noodles_bgzf::io::Writer::new(std::fs::File::create(&bgz).unwrap());
        w.write_all(&text).unwrap();
        w.finish().unwrap();
    }
    for (label, path) in [("plain", &plain), ("gzip", &gz), ("bgzf", &bgz)] {
        for (k, s) in [(3usize, 1usize), (6, 1), (6, 3)] {
            let t = KmerTokenizer::new(k, s).unwrap();
            // One untimed warm-up run (page cache, allocator, CPU frequency).
            std::hint::black_box(tokenize_file(path, &t).unwrap());
            let mut times = Vec::new();
            let mut n_tokens = 0;
            for _ in 0..reps {
                let t0 = Instant::now();
                let out = tokenize_file(path, &t).unwrap();
                times.push(t0.elapsed().as_secs_f64());
                n_tokens = out.iter().map(|r| r.1.len()).sum::<usize>();
                std::hint::black_box(&out);
            }
            times.sort_by(|a, b| a.partial_cmp(b).unwrap());
            let med = times[times.len() / 2];
            // Throughput in MB of uncompressed FASTA text per second.
            let mbs = text.len() as f64 / 1e6 / med;
            println!(
                "{{\"tool\":\"genolm\",\"input\":\"{label}\",\"k\":{k},\"stride\":{s},\"fasta_mb\":{:.3},\"median_s\":{med:.5},\"mb_per_s\":{mbs:.1},\"tokens\":{n_tokens}}}",
                text.len() as f64 / 1e6
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
