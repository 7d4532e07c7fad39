//! Gap filling with a causal transformer: through its key/value cache (one token per step)
//! vs re-reading the last `context` bases at every step, alternating rounds in one run, on
//! the CPU. The shape of the benchmark suite's gene-sized imputation: 300-base fills after a
//! 192-base context, rows of real phiX174 sequence, sampled. Prints one JSON line per round
//! and a summary with the median times, their ratio and how often the two fills agree.
//!
//! `cargo bench --bench fill [-- --rows 64 --len 300 --rounds 3 --preset transformer_small]`.
//! Under `cargo test --all-targets` it runs a small smoke test.

use std::time::Instant;

use candle_core::Device;
use genolm::data::corpus::Corpus;
use genolm::infer::{fill_gaps, Decoder, FillOptions};
use genolm::models::{GenomicModel, ModelConfig};

mod common;
use common::arg;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let num = |name: &str, full: usize, smoke: usize| -> usize {
        arg(name)
            .and_then(|s| s.parse().ok())
            .unwrap_or(if bench_mode { full } else { smoke })
    };
    let (rows, len, rounds) = (
        num("--rows", 64, 4),
        num("--len", 300, 12),
        num("--rounds", 3, 1),
    );
    let context = num("--context", 192, 48);
    let preset = arg("--preset").unwrap_or_else(|| "transformer_small".into());
    let cfg = ModelConfig::preset(&preset).expect("known preset");
    let model = GenomicModel::new(cfg, &Device::Cpu, 1).expect("model");
    let corpus = Corpus::embedded().expect("corpus");
    let g = &corpus.genomes[corpus.index_of("phiX174").expect("phiX174")];
    let seq = &g.contigs[0].seq;
    let left: Vec<Vec<u8>> = (0..rows)
        .map(|i| seq[i * 53..i * 53 + context].to_vec())
        .collect();
    let lens = vec![len; rows];
    let opts = |carry_state| FillOptions {
        decoder: Decoder::Sample { temperature: 1.0 },
        context,
        seed: 7,
        carry_state,
    };
    let (mut cached, mut reread) = (Vec::new(), Vec::new());
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        for carry in [true, false] {
            let t = Instant::now();
            let f = fill_gaps(&model, &left, &lens, &opts(carry)).expect("fill");
            let s = t.elapsed().as_secs_f64();
            println!("{{\"round\":{round},\"kv_cache\":{carry},\"seconds\":{s:.3}}}");
            if carry {
                cached.push(s);
                a = f;
            } else {
                reread.push(s);
                b = f;
            }
        }
    }
    let same = a
        .iter()
        .flatten()
        .zip(b.iter().flatten())
        .filter(|(x, y)| x == y)
        .count() as f64
        / (rows * len) as f64;
    let (c, r) = (median(cached), median(reread));
    println!(
        "{{\"bench\":\"fill\",\"preset\":\"{preset}\",\"rows\":{rows},\"len\":{len},\"context\":{context},\"rounds\":{rounds},\"kv_cache_s\":{c:.3},\"reread_s\":{r:.3},\"speedup\":{:.2},\"same_bases\":{same:.4},\"threads\":{}}}",
        r / c,
        rayon::current_num_threads()
    );
}
