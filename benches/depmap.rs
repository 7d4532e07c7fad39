//! Dependency map of a 600-bp real sequence on the CPU, three ways: every variant read whole,
//! batched (`--batch` sequences per pass, the reference in each) and one pass per variant, and
//! (causal transformers) each variant read from its first changed token through the
//! reference's key/value cache. Prints one JSON line with the times and the largest
//! difference between the maps.
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
    let run = |batch_size: usize, kv_cache: bool| {
        let t = Instant::now();
        let opts = DepMapOptions {
            batch_size,
            kv_cache,
            ..Default::default()
        };
        let m = dependency_map(&model, &seq, &opts).expect("dependency map");
        (t.elapsed().as_secs_f64(), m)
    };
    let (batched, b) = run(batch, false);
    let (single, u) = run(1, false);
    let cached = model.has_kv_cache().then(|| run(1, true));
    let diff = |x: &[f32], y: &[f32]| {
        x.iter()
            .zip(y)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max)
    };
    let mut maxdiff = diff(&b.values, &u.values);
    let kv = match &cached {
        Some((s, c)) => {
            maxdiff = maxdiff.max(diff(&c.values, &u.values));
            format!("{s:.3}")
        }
        None => "null".into(),
    };
    println!(
        "{{\"bench\":\"depmap\",\"preset\":\"{preset}\",\"len\":{len},\"variants\":{},\"batch\":{batch},\"batched_s\":{batched:.3},\"passes_batched\":{},\"one_pass_per_variant_s\":{single:.3},\"kv_cache_s\":{kv},\"batching_speedup\":{:.2},\"max_abs_diff\":{maxdiff:.2e},\"threads\":{}}}",
        3 * len,
        b.passes,
        single / batched,
        rayon::current_num_threads()
    );
}
