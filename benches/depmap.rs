//! Dependency map of a 600-bp real sequence: batched (`3L + 1` sequences in batches) vs one
//! forward pass per variant, on CPU. Prints one JSON line with both times and their ratio.
//!
//! `cargo bench --bench depmap [-- --len 600 --preset transformer_small --batch 64]`.
//! Under `cargo test --all-targets` it runs a 40-bp smoke test.

use std::time::Instant;

use candle_core::Device;
use genolm::data::corpus::Corpus;
use genolm::explain::depmap::{dependency_map, DepMapOptions};
use genolm::models::{GenomicModel, ModelConfig};

mod common;
use common::arg;

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let len: usize = arg("--len")
        .and_then(|s| s.parse().ok())
        .unwrap_or(if bench_mode { 600 } else { 40 });
    let batch: usize = arg("--batch").and_then(|s| s.parse().ok()).unwrap_or(16);
    let preset = arg("--preset").unwrap_or_else(|| "transformer_small".into());
    let mut cfg = ModelConfig::preset(&preset).expect("known preset");
    cfg.k = 1; // dependency maps are per nucleotide
    let model = GenomicModel::new(cfg, &Device::Cpu, 1).expect("model");
    let corpus = Corpus::embedded().expect("corpus");
    let g = &corpus.genomes[corpus.index_of("phiX174").expect("phiX174")];
    let seq = g.contigs[0].seq[1000..1000 + len].to_vec();
    let t = Instant::now();
    let b = dependency_map(
        &model,
        &seq,
        &DepMapOptions {
            batch_size: batch,
            ..Default::default()
        },
    )
    .expect("batched");
    let batched = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let u = dependency_map(
        &model,
        &seq,
        &DepMapOptions {
            batch_size: 1,
            ..Default::default()
        },
    )
    .expect("unbatched");
    let single = t.elapsed().as_secs_f64();
    let maxdiff = b
        .values
        .iter()
        .zip(&u.values)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    println!(
        "{{\"bench\":\"depmap\",\"preset\":\"{preset}\",\"len\":{len},\"variants\":{},\"batch\":{batch},\"batched_s\":{batched:.3},\"passes_batched\":{},\"one_pass_per_variant_s\":{single:.3},\"speedup\":{:.2},\"max_abs_diff\":{maxdiff:.2e},\"threads\":{}}}",
        3 * len,
        b.passes,
        single / batched,
        rayon::current_num_threads()
    );
}
