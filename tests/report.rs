//! Reports: the quickstart writes index.html + manifest.json, and `genolm reproduce` re-runs it
//! and finds every metric identical on CPU.

use std::process::Command;

#[test]
fn quickstart_report_reproduces_identically() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let bin = env!("CARGO_BIN_EXE_genolm");
    let st = Command::new(bin)
        .args(["quickstart", "--batches", "2", "--epochs", "1", "--out"])
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
    let m = genolm::report::Manifest::load(report.join("manifest.json")).unwrap();
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
