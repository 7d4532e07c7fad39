//! Data-parallel training over MPI (feature `mpi`): `mpirun -np 2 genolm train … --distributed
//! mpi` follows the same loss trajectory as one process with the same global batch, ends with
//! the same weights, resumes exactly, and only rank 0 writes the run folder.
//!
//! Runs with `cargo test --features mpi` (scripts/test.sh does, after scripts/setup.sh has
//! installed Open MPI); without the feature this file is empty.
#![cfg(feature = "mpi")]

use std::path::{Path, PathBuf};
use std::process::Command;

use candle_core::Device;
use genolm::models::params::load_safetensors;

/// Tolerance per step: the loss is the same mean over the same targets, summed in a different
/// order (f32 partial sums per rank, then an f64 sum across ranks), and the weights that follow
/// differ by rounding only.
const TOL: f64 = 1e-5;

fn run_file(dir: &Path, batch: usize, epochs: usize, drop_mult: f64) -> PathBuf {
    let p = dir.join(format!("run-{batch}-{epochs}-{drop_mult}.toml"));
    std::fs::write(
        &p,
        format!(
            "output = \"{}\"\n[data]\ncorpus = \"embedded\"\nkingdoms = [\"VIR\"]\nbptt = 32\n\
             batch_size = {batch}\n[model]\npreset = \"lstm_small\"\nlstm_hidden = 48\nemb_dim = 24\n\
             drop_mult = {drop_mult}\n[train]\nepochs = {epochs}\nmax_batches = 10\n\
             valid_max_batches = 4\nlr = 5e-3\ndevice = \"cpu\"\n",
            dir.join("unused").display()
        ),
    )
    .unwrap();
    p
}

fn genolm(args: &[&str], ranks: usize) -> std::process::Output {
    let bin = env!("CARGO_BIN_EXE_genolm");
    let mut c = if ranks > 1 {
        let mut c = Command::new("mpirun");
        c.args(["-np", &ranks.to_string(), "--oversubscribe", bin]);
        c
    } else {
        Command::new(bin)
    };
    c.args(args)
        // containers run as root; Open MPI refuses that unless told
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("RAYON_NUM_THREADS", "1");
    let out = c
        .output()
        .expect("mpirun and genolm start (Open MPI: libopenmpi-dev)");
    assert!(
        out.status.success(),
        "{args:?} on {ranks} ranks failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn train(cfg: &Path, out: &Path, ranks: usize, extra: &[&str]) {
    let mut args = vec![
        "train",
        "-c",
        cfg.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ];
    if ranks > 1 {
        args.extend(["--distributed", "mpi"]);
    }
    args.extend(extra);
    genolm(&args, ranks);
}

/// Per step `(step, loss)` from a run's metrics.jsonl.
fn steps(dir: &Path) -> Vec<(u64, f64)> {
    std::fs::read_to_string(dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("loss").is_some() && v.get("smooth_loss").is_some())
        .map(|v| (v["step"].as_u64().unwrap(), v["loss"].as_f64().unwrap()))
        .collect()
}

fn max_weight_diff(a: &Path, b: &Path) -> f64 {
    let (ta, _) = load_safetensors(&a.join("model.safetensors"), &Device::Cpu).unwrap();
    let (tb, _) = load_safetensors(&b.join("model.safetensors"), &Device::Cpu).unwrap();
    assert_eq!(ta.len(), tb.len());
    let mut worst = 0f64;
    for (k, x) in &ta {
        let y = &tb[k];
        let d = (x - y)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        worst = worst.max(d as f64);
    }
    worst
}

fn valid_loss(dir: &Path) -> f64 {
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap();
    s["history"].as_array().unwrap().last().unwrap()["valid_loss"]
        .as_f64()
        .unwrap()
}

#[test]
fn two_ranks_follow_one_process() {
    let tmp = tempfile::tempdir().unwrap();
    // an even split (4 + 4 rows) and an uneven one (3 + 4 rows)
    for batch in [8, 7] {
        let cfg = run_file(tmp.path(), batch, 2, 0.0);
        let one = tmp.path().join(format!("one-{batch}"));
        let two = tmp.path().join(format!("two-{batch}"));
        train(&cfg, &one, 1, &[]);
        train(&cfg, &two, 2, &[]);
        let (a, b) = (steps(&one), steps(&two));
        // rank 0 alone logs: every step once
        assert_eq!(a.len(), 20, "{a:?}");
        assert_eq!(
            b.iter().map(|s| s.0).collect::<Vec<_>>(),
            (1..=20).collect::<Vec<_>>()
        );
        for ((s, x), (_, y)) in a.iter().zip(&b) {
            assert!((x - y).abs() < TOL, "batch {batch}, step {s}: {x} vs {y}");
        }
        // the loss moved: the comparison is not between two untrained models
        assert!(a[19].1 < a[0].1 - 0.05, "{a:?}");
        assert!((valid_loss(&one) - valid_loss(&two)).abs() < TOL);
        let d = max_weight_diff(&one, &two);
        assert!(d < 1e-4, "batch {batch}: weights differ by {d}");
    }
}

#[test]
fn two_ranks_resume_exactly_and_train_with_dropout() {
    let tmp = tempfile::tempdir().unwrap();
    // with dropout (each rank draws its own masks), stopped after epoch 1 of 2 and resumed
    let cfg = run_file(tmp.path(), 8, 2, 0.5);
    let full = tmp.path().join("full");
    let cut = tmp.path().join("cut");
    train(&cfg, &full, 2, &[]);
    train(&cfg, &cut, 2, &["--stop-at-step", "10"]);
    assert_eq!(steps(&cut).len(), 10);
    train(&cfg, &cut, 2, &["--resume"]);
    let (a, b) = (steps(&full), steps(&cut));
    assert_eq!(a.len(), 20);
    assert_eq!(b.len(), 20);
    for ((s, x), (_, y)) in a.iter().zip(&b) {
        assert!((x - y).abs() < 1e-9, "step {s}: {x} vs {y}");
    }
    assert_eq!(max_weight_diff(&full, &cut), 0.0);
    // rank 0 wrote the run folder; no rank left anything else behind
    for f in [
        "model.safetensors",
        "summary.json",
        "run.toml",
        "state.json",
    ] {
        assert!(full.join(f).exists(), "{f}");
    }
}

#[test]
fn a_bad_engine_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = run_file(tmp.path(), 8, 1, 0.0);
    let out = Command::new(env!("CARGO_BIN_EXE_genolm"))
        .args([
            "train",
            "-c",
            cfg.to_str().unwrap(),
            "--distributed",
            "gloo",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mpi"));
}
