//! The GPU check (scripts/gpu-check.sh runs it on a machine with an NVIDIA GPU, built with
//! `--features cuda`): for the small AWD-LSTM and the small transformer,
//!
//! 1. the same batches on CPU and GPU in f32, dropout off: the per-step training losses must
//!    agree within `F32_TOL` (relative) over `STEPS` steps (cuBLAS sums in another order);
//! 2. bf16 and f16 (with dynamic loss scaling) on the GPU: finite losses that fall, within
//!    `HALF_TOL` of the f32 trajectory's last loss;
//! 3. tokens/s of f32 training on each device, and the speed-up.
//!
//! Prints a table and writes `gpu-check.json` (to `$OUT` when set, else the current folder).
//! Without a GPU it runs CPU against CPU (a dry run of the script's mechanics).
//!
//! ```text
//! cargo run --release --features cuda --example gpu_check
//! ```

use std::time::Instant;

use candle_core::Device;
use genolm::data::batch::LmBatcher;
use genolm::data::corpus::Corpus;
use genolm::models::{GenomicModel, ModelConfig};
use genolm::train::{Data, Learner, LearnerOptions, Precision};

const STEPS: usize = 30;
const F32_TOL: f64 = 2e-3;
const HALF_TOL: f64 = 0.05;

fn train(cfg: &ModelConfig, dev: &Device, precision: Precision, steps: usize) -> (Vec<f64>, f64) {
    let corpus = Corpus::embedded().expect("embedded corpus");
    let tok = cfg.tokenizer().expect("tokenizer");
    let ids: Vec<usize> = (0..corpus.genomes.len()).collect();
    let streams = corpus.token_streams(&ids, &tok, false);
    let batches = LmBatcher::new(streams, 32, 128, cfg.stateful, 1).expect("batcher");
    let model = GenomicModel::new(cfg.clone(), dev, 0).expect("model");
    let opts = LearnerOptions {
        verbose: false,
        precision,
        max_batches: steps,
        ..Default::default()
    };
    let mut learn = Learner::new(model, Data::Lm(batches), None, opts).expect("learner");
    let t0 = Instant::now();
    let h = learn.fit_one_cycle(1, 2e-3).expect("fit");
    let secs = t0.elapsed().as_secs_f64();
    let tokens = (steps * 32 * 128) as f64;
    (h.steps.iter().map(|s| s.loss).collect(), tokens / secs)
}

fn main() {
    let gpu = Device::cuda_if_available(0).unwrap_or(Device::Cpu);
    let on_gpu = gpu.is_cuda();
    println!(
        "device: {}",
        if on_gpu {
            "CUDA 0"
        } else {
            "no GPU: CPU vs CPU dry run"
        }
    );
    let mut report = Vec::new();
    let mut ok = true;
    for mut cfg in [
        ModelConfig::awd_lstm_small(),
        ModelConfig::transformer_small(),
    ] {
        cfg.drop_mult = 0.0;
        let (cpu_loss, cpu_tps) = train(&cfg, &Device::Cpu, Precision::F32, STEPS);
        let (gpu_loss, gpu_tps) = train(&cfg, &gpu, Precision::F32, STEPS);
        let worst = cpu_loss
            .iter()
            .zip(&gpu_loss)
            .map(|(a, b)| (a - b).abs() / a.abs().max(1e-9))
            .fold(0f64, f64::max);
        let f32_ok = worst < F32_TOL && cpu_loss.len() == gpu_loss.len();
        ok &= f32_ok;
        println!(
            "{:<24} f32: max relative loss difference CPU vs GPU {worst:.2e} over {} steps ({}); \
             {cpu_tps:.0} tokens/s CPU, {gpu_tps:.0} GPU ({:.1}×)",
            cfg.name,
            cpu_loss.len(),
            if f32_ok { "ok" } else { "FAIL" },
            gpu_tps / cpu_tps
        );
        let mut halves = Vec::new();
        if on_gpu {
            let last = *gpu_loss.last().unwrap_or(&f64::NAN);
            for p in [Precision::Bf16, Precision::F16] {
                let (l, tps) = train(&cfg, &gpu, p, STEPS);
                let end = *l.last().unwrap_or(&f64::NAN);
                let fine = l.iter().all(|x| x.is_finite())
                    && end < l[0]
                    && (end - last).abs() / last < HALF_TOL;
                ok &= fine;
                println!(
                    "{:<24} {p:?}: last loss {end:.4} vs f32 {last:.4} ({}), {tps:.0} tokens/s",
                    "",
                    if fine { "ok" } else { "FAIL" }
                );
                halves.push(serde_json::json!({
                    "precision": format!("{p:?}"), "last_loss": end, "tokens_per_s": tps, "ok": fine
                }));
            }
        }
        report.push(serde_json::json!({
            "model": cfg.name, "steps": cpu_loss.len(), "cpu_loss": cpu_loss, "gpu_loss": gpu_loss,
            "max_rel_diff": worst, "tolerance": F32_TOL, "cpu_tokens_per_s": cpu_tps,
            "gpu_tokens_per_s": gpu_tps, "half": halves, "ok": f32_ok,
        }));
    }
    let dir = std::env::var("OUT").unwrap_or_else(|_| ".".into());
    let path = std::path::Path::new(&dir).join("gpu-check.json");
    let json = serde_json::json!({ "gpu": on_gpu, "models": report, "ok": ok });
    std::fs::write(&path, serde_json::to_vec_pretty(&json).expect("json")).expect("write");
    println!(
        "{} → {}",
        if ok {
            "all checks passed"
        } else {
            "SOME CHECKS FAILED"
        },
        path.display()
    );
    if !ok {
        std::process::exit(1);
    }
}
