//! Language-model training throughput: tokens per second of forward + backward + AdamW, on
//! real genome tokens (the embedded corpus), for `benches/peers/compare_train.sh`. Causal LMs
//! (AWD-LSTM …) train on shuffled windows, masked LMs (`transformer_mlm_small`) on masked ones.
//!
//! `cargo bench --bench train_throughput [-- --batches N --preset NAME --batch B --bptt T]`.
//! Prints one JSON line (with the peak resident memory).
//! Under `cargo test --all-targets` it runs one batch as a smoke test.

use std::time::Instant;

use candle_core::Device;
use genolm::data::batch::{LmBatcher, MlmBatcher, MlmOptions};
use genolm::data::corpus::Corpus;
use genolm::models::{GenomicModel, Head, ModelConfig};
use genolm::train::{AdamW, AdamWOptions};

mod common;
use common::arg;

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let batches: usize = arg("--batches")
        .and_then(|s| s.parse().ok())
        .unwrap_or(if bench_mode { 20 } else { 1 });
    let warmup = if bench_mode { 3 } else { 0 };
    let preset = arg("--preset").unwrap_or_else(|| "awd_lstm_small".into());
    let bs: usize = arg("--batch").and_then(|s| s.parse().ok()).unwrap_or(32);
    let bptt: usize = arg("--bptt").and_then(|s| s.parse().ok()).unwrap_or(64);
    let cfg = ModelConfig::preset(&preset).expect("known preset");
    let corpus = Corpus::embedded().expect("embedded corpus");
    let tok = cfg.tokenizer().unwrap();
    let ids: Vec<usize> = (0..corpus.genomes.len()).collect();
    let streams = corpus.token_streams(&ids, &tok, false);
    let need = warmup + batches;
    let all: Vec<(candle_core::Tensor, candle_core::Tensor)> = if cfg.head == Head::Mlm {
        let data =
            MlmBatcher::new(streams, bs, bptt, cfg.vocab(), MlmOptions::default(), 1).unwrap();
        data.iter_epoch(0)
            .take(need)
            .map(|b| b.to_tensors(&Device::Cpu).unwrap())
            .collect()
    } else {
        let data = LmBatcher::new(streams, bs, bptt, false, 1).unwrap();
        data.iter_epoch(0)
            .take(need)
            .map(|b| b.to_tensors(&Device::Cpu).unwrap())
            .collect()
    };
    let model = GenomicModel::new(cfg.clone(), &Device::Cpu, 1).unwrap();
    let mut opt = AdamW::for_model(&model, 1e-3, AdamWOptions::default()).unwrap();
    // Seconds spent in forward, loss, backward and the optimizer (printed with --phases).
    let mut phases = [0f64; 4];
    let mut step = |(x, y): &(candle_core::Tensor, candle_core::Tensor), seed: u64| {
        let t = Instant::now();
        let out = model
            .forward(x, None, genolm::models::Mode::Train { seed })
            .unwrap();
        let t1 = Instant::now();
        let (loss, _) = model.loss(&out, y).unwrap();
        let t2 = Instant::now();
        let grads = loss.backward().unwrap();
        let t3 = Instant::now();
        opt.step(&grads, 1.0).unwrap();
        let t4 = Instant::now();
        for (p, (a, b)) in phases
            .iter_mut()
            .zip([(t, t1), (t1, t2), (t2, t3), (t3, t4)])
        {
            *p += (b - a).as_secs_f64();
        }
    };
    for (i, b) in all.iter().take(warmup).enumerate() {
        step(b, i as u64);
    }
    let t0 = Instant::now();
    for (i, b) in all.iter().skip(warmup).take(batches).enumerate() {
        step(b, i as u64);
    }
    let secs = t0.elapsed().as_secs_f64();
    if std::env::args().any(|a| a == "--phases") {
        let total: f64 = phases.iter().sum();
        let names = ["forward", "loss", "backward", "optimizer"];
        for (n, p) in names.iter().zip(phases) {
            eprintln!(
                "{n:>9}: {:6.1} ms/step ({:4.1} %)",
                1e3 * p / (warmup + batches) as f64,
                100.0 * p / total
            );
        }
    }
    let tokens = batches * bs * bptt;
    // inference: evaluation mode on the inference view (no dropout, no graph: what every
    // analysis of genolm::infer runs), the same batches
    let view = model.inference().unwrap();
    let eval = |(x, _): &(candle_core::Tensor, candle_core::Tensor)| {
        view.forward(x, None, genolm::models::Mode::Eval)
            .unwrap()
            .logits
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    };
    eval(&all[0]);
    let t1 = Instant::now();
    for b in all.iter().skip(warmup).take(batches) {
        eval(b);
    }
    let isecs = t1.elapsed().as_secs_f64();
    println!(
        "{{\"impl\": \"genolm\", \"preset\": \"{preset}\", \"params\": {}, \"batch\": {bs}, \"bptt\": {bptt}, \"batches\": {batches}, \"seconds\": {secs:.3}, \"tokens_per_s\": {:.1}, \"threads\": {}, \"peak_rss_mib\": {:.1}, \"infer_tokens_per_s\": {:.1}}}",
        model.n_params(),
        tokens as f64 / secs,
        std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)),
        genolm::cpu::peak_rss_mib(),
        tokens as f64 / isecs
    );
}
