//! The GPU check (scripts/gpu-check.sh runs it on a machine with an NVIDIA GPU, built with
//! `--features cuda`): for the small AWD-LSTM and the small transformer,
//!
//! 1. the same batches on CPU and GPU in f32, dropout off: the per-step training losses must
//!    agree within `F32_TOL` (relative) over `STEPS` steps (cuBLAS sums in another order);
//! 2. bf16 and f16 (with dynamic loss scaling) on the GPU: finite losses that fall, within
//!    `HALF_TOL` of the f32 trajectory's last loss;
//! 3. tokens/s of f32 training on each device, and the speed-up;
//! 4. the fused LSTM layer on the GPU against the same layer composed of candle primitives:
//!    outputs and every gradient within `LSTM_TOL` (relative to the largest value);
//! 5. on a GPU, training tokens/s (f32, bf16) of the presets the PyTorch peers mirror, at their
//!    batch shapes (`benches/peers/*_torch.py --device cuda` measures the other side).
//!
//! Prints a table and writes `gpu-check.json` (to `$OUT` when set, else the current folder).
//! Without a GPU it runs CPU against CPU (a dry run of the script's mechanics).
//!
//! ```text
//! cargo run --release --features cuda --example gpu_check
//! ```

use std::time::Instant;

use candle_core::Device;
use genolm::data::batch::{LmBatcher, MlmBatcher, MlmOptions};
use genolm::data::corpus::Corpus;
use genolm::models::{GenomicModel, Head, ModelConfig};
use genolm::train::{Data, Learner, LearnerOptions, Precision};

const STEPS: usize = 30;
const F32_TOL: f64 = 2e-3;
const HALF_TOL: f64 = 0.05;
const LSTM_TOL: f64 = 1e-4;

/// The fused LSTM layer against the composed one on `dev`: the worst relative difference of
/// the outputs and of the gradients of x, the weights, the biases, h0 and c0.
fn lstm_fused_vs_composed(dev: &Device) -> candle_core::Result<f64> {
    use candle_core::{DType, Tensor, Var};
    use genolm::models::layers::{lstm_layer, lstm_layer_composed, LstmWeights};
    let (b, t, d, h) = (5, 33, 24, 40);
    let r = |shape: &[usize], seed: u64| -> candle_core::Result<Var> {
        let n: usize = shape.iter().product();
        let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let v: Vec<f32> = (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                ((s >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.8
            })
            .collect();
        Var::from_tensor(&Tensor::from_vec(v, shape, dev)?)
    };
    let vars = [
        r(&[b, t, d], 1)?,
        r(&[4 * h, d], 2)?,
        r(&[4 * h, h], 3)?,
        r(&[4 * h], 4)?,
        r(&[4 * h], 5)?,
        r(&[b, h], 6)?,
        r(&[b, h], 7)?,
    ];
    let w = LstmWeights {
        w_ih: vars[1].as_tensor().clone(),
        w_hh: vars[2].as_tensor().clone(),
        b_ih: vars[3].as_tensor().clone(),
        b_hh: vars[4].as_tensor().clone(),
    };
    let probe = r(&[b, t, h], 8)?.as_tensor().detach();
    let probe_hc = r(&[b, h], 9)?.as_tensor().detach();
    let run = |fused: bool| -> candle_core::Result<Vec<Vec<f32>>> {
        let (x, h0, c0) = (
            vars[0].as_tensor(),
            vars[5].as_tensor(),
            vars[6].as_tensor(),
        );
        let (o, hn, cn) = if fused {
            lstm_layer(x, &w, h0, c0)
        } else {
            lstm_layer_composed(x, &w, h0, c0)
        }
        .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        let loss = ((&o * &probe)?.sum_all()?
            + (&hn * &probe_hc)?.sum_all()?
            + (cn.sqr()?.sum_all()? * 0.5)?)?;
        let grads = loss.backward()?;
        let mut all = vec![o.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?];
        for v in &vars {
            let g = grads
                .get(v.as_tensor())
                .expect("every input gets a gradient");
            all.push(g.flatten_all()?.to_vec1()?);
        }
        Ok(all)
    };
    let (a, c) = (run(true)?, run(false)?);
    let mut worst = 0f64;
    for (x, y) in a.iter().zip(&c) {
        let scale = y.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6) as f64;
        let diff = x.iter().zip(y).fold(0f32, |m, (p, q)| m.max((p - q).abs())) as f64;
        worst = worst.max(diff / scale);
    }
    Ok(worst)
}

fn train(cfg: &ModelConfig, dev: &Device, precision: Precision, steps: usize) -> (Vec<f64>, f64) {
    train_shape(cfg, dev, precision, steps, 32, 128)
}

/// `steps` optimiser steps at batch `bs` × `bptt`: per-step losses and tokens/s (the first two
/// steps, which compile kernels and fill caches, are not timed).
fn train_shape(
    cfg: &ModelConfig,
    dev: &Device,
    precision: Precision,
    steps: usize,
    bs: usize,
    bptt: usize,
) -> (Vec<f64>, f64) {
    let corpus = Corpus::embedded().expect("embedded corpus");
    let tok = cfg.tokenizer().expect("tokenizer");
    let ids: Vec<usize> = (0..corpus.genomes.len()).collect();
    let streams = corpus.token_streams(&ids, &tok, false);
    let data = if cfg.head == Head::Mlm {
        let opts = MlmOptions::default();
        Data::Mlm(MlmBatcher::new(streams, bs, bptt, cfg.vocab(), opts, 1).expect("batcher"))
    } else {
        Data::Lm(LmBatcher::new(streams, bs, bptt, cfg.stateful, 1).expect("batcher"))
    };
    let model = GenomicModel::new(cfg.clone(), dev, 0).expect("model");
    let opts = LearnerOptions {
        verbose: false,
        precision,
        max_batches: steps,
        ..Default::default()
    };
    let mut learn = Learner::new(model, data, None, opts).expect("learner");
    let t0 = Instant::now();
    let h = learn.fit_one_cycle(1, 2e-3).expect("fit");
    let secs = t0.elapsed().as_secs_f64();
    // Each step's loss is read back to the host before its record is stamped, so the clock
    // includes the GPU's work; with more than three steps, the first two are not timed.
    let n = h.steps.len();
    let tps = if n > 3 {
        ((n - 2) * bs * bptt) as f64 / (h.steps[n - 1].time - h.steps[1].time).max(1e-9)
    } else {
        (n * bs * bptt) as f64 / secs
    };
    (h.steps.iter().map(|s| s.loss).collect(), tps)
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
    let lstm = lstm_fused_vs_composed(&gpu).expect("fused LSTM check");
    let lstm_ok = lstm < LSTM_TOL;
    ok &= lstm_ok;
    println!(
        "fused LSTM layer vs composed on {}: worst relative difference of outputs and gradients {lstm:.2e} ({})",
        if on_gpu { "GPU" } else { "CPU" },
        if lstm_ok { "ok" } else { "FAIL" }
    );
    // Training throughput at the PyTorch peers' shapes (their `--device cuda` runs beside this).
    let mut throughput = Vec::new();
    if on_gpu {
        for (preset, bptt) in [
            ("awd_lstm_small", 64),
            ("ulmfit_paper", 64),
            ("transformer_mlm_small", 128),
        ] {
            let cfg = ModelConfig::preset(preset).expect("preset");
            let mut row = serde_json::json!({ "preset": preset, "batch": 32, "bptt": bptt });
            for p in [Precision::F32, Precision::Bf16] {
                let (_, tps) = train_shape(&cfg, &gpu, p, 40, 32, bptt);
                row[format!("{p:?}_tokens_per_s").to_lowercase()] = serde_json::json!(tps);
                println!("{preset:<24} {p:?} training at 32 × {bptt}: {tps:.0} tokens/s");
            }
            throughput.push(row);
        }
    }
    let dir = std::env::var("OUT").unwrap_or_else(|_| ".".into());
    let path = std::path::Path::new(&dir).join("gpu-check.json");
    let json = serde_json::json!({ "gpu": on_gpu, "models": report, "throughput": throughput,
            "lstm_fused_vs_composed": lstm, "ok": ok });
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
