//! Reports: the quickstart (the shipped pretrained model fine-tuned, benchmarked against the
//! Markov floor, its states and neurons) writes index.html + manifest.json, and
//! `genolm reproduce` re-runs it and finds every metric identical on CPU.

use std::process::Command;

#[test]
fn quickstart_report_reproduces_identically() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let bin = env!("CARGO_BIN_EXE_genolm");
    let st = Command::new(bin)
        .args([
            "quickstart",
            "--batches",
            "2",
            "--epochs",
            "1",
            "--bench-bases",
            "2000",
            "--neuron-bases",
            "3000",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{}",
        String::from_utf8_lossy(&st.stderr)
    );
    let report = out.join("report");
    let html = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("Held-out quality per kingdom"));
    assert!(html.contains("Against the floor") && html.contains("Explainable neurons on"));
    // the states file opens, and the benchmark's rows are there for scripts
    let st = genolm::infer::read_states(out.join("states.h5")).unwrap();
    assert!(
        st.n_rows() > 1000 && st.layers.len() >= 3,
        "{}",
        st.n_rows()
    );
    let bench = genolm::bench::BenchmarkReport::load_json(out.join("benchmark.json")).unwrap();
    assert!(bench.rows.iter().any(|r| r.task == "transfer_genome"));
    let m = genolm::report::Manifest::load(report.join("manifest.json")).unwrap();
    for k in [
        "test_PRO_loss",
        "heldout_PRO_ce",
        "heldout_VIR_markov_ce",
        "best_cds_auroc",
    ] {
        assert!(m.metrics.contains_key(k), "{k}: {:?}", m.metrics.keys());
    }
    // the pretrained model (2 fine-tuning steps) is below ln 4 and the Markov floor on the
    // held-out genomes of every kingdom
    for k in ["PRO", "EUK", "VIR"] {
        let ce = m.metrics[&format!("heldout_{k}_ce")];
        let markov = m.metrics[&format!("heldout_{k}_markov_ce")];
        assert!(
            ce < markov && ce < 4f64.ln(),
            "{k}: {ce} vs Markov {markov}"
        );
    }
    assert!(
        m.metrics.contains_key("test_PRO_loss"),
        "{:?}",
        m.metrics.keys()
    );
    assert_eq!(m.seeds["train"], 42);
    assert!(m
        .datasets
        .iter()
        .all(|d| d.files.iter().all(|f| f.1.len() == 64)));
    for f in &m.files {
        assert!(report.join(f).exists(), "{f} listed but missing");
    }
    let st = Command::new(bin)
        .args(["reproduce"])
        .arg(report.join("manifest.json"))
        .arg("--out")
        .arg(dir.path().join("again"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&st.stdout);
    assert!(
        st.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&st.stderr)
    );
    assert!(stdout.contains("metrics identical"), "{stdout}");
}
