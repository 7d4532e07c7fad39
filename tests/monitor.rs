//! `genolm monitor`'s server: it serves only what is under its folders, follows runs as they
//! are written and deleted, and stays up under 100 concurrent clients.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use genolm::monitor::{Monitor, MonitorOptions};
use genolm::train::history::StepRecord;
use genolm::train::metrics_log::MetricsLog;

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).unwrap();
    let code = buf
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = buf
        .split_once("\r\n\r\n")
        .map(|b| b.1.to_string())
        .unwrap_or_default();
    (code, body)
}

fn step(n: usize) -> StepRecord {
    StepRecord {
        step: n,
        epoch: 0,
        stage: "fit".into(),
        loss: 1.4 - n as f64 * 1e-3,
        smooth_loss: 1.4,
        lr: 1e-3,
        momentum: 0.9,
        grad_norm: 0.3,
        targets: 100,
        units_per_s: 1e4,
        rss_mib: 100.0,
        time: 1.7e9 + n as f64,
    }
}

fn start(root: &Path) -> Monitor {
    Monitor::start(
        &[root.to_path_buf()],
        &MonitorOptions {
            port: 0,
            ..Default::default()
        },
    )
    .unwrap()
}

#[test]
fn serves_only_its_runs_and_follows_them() {
    let tmp = tempfile::tempdir().unwrap();
    let watched = tmp.path().join("runs");
    let run = watched.join("a");
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(tmp.path().join("secret.txt"), "do not serve").unwrap();
    let mut log = MetricsLog::open(&run, 0).unwrap();
    for i in 1..=3 {
        log.step(&step(i)).unwrap();
    }
    let m = start(&watched);
    assert!(m.addr().ip().is_loopback(), "loopback by default");
    let a = m.addr();

    let (code, page) = get(a, "/");
    assert_eq!(code, 200);
    assert!(page.contains("genolm monitor"));
    let (code, body) = get(a, "/api/runs");
    assert_eq!(code, 200);
    let l: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(l["runs"][0]["name"], "runs/a");

    // nothing outside the folders, however the path is spelled
    for bad in [
        "/../secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/api/metrics?run=../../secret.txt",
        "/api/metrics?run=7",
        "/api/metrics?run=-1",
        "/runs/a/metrics.jsonl",
        "/etc/passwd",
    ] {
        let (code, body) = get(a, bad);
        assert_eq!(code, 404, "{bad}");
        assert!(
            !body.contains("do not serve") && !body.contains("root:"),
            "{bad}"
        );
    }

    // incremental reads: only what is new, then what is appended while it runs
    let (_, body) = get(a, "/api/metrics?run=0&from=0");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["records"].as_array().unwrap().len(), 3);
    let off = v["offset"].as_u64().unwrap();
    log.step(&step(4)).unwrap();
    let (_, body) = get(a, &format!("/api/metrics?run=0&from={off}"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["records"][0]["step"], 4);
    assert_eq!(v["records"].as_array().unwrap().len(), 1);
    // a resumed run rewrites its log shorter: the client is told to start again
    drop(log);
    let _log = MetricsLog::open(&run, 2).unwrap();
    let (_, body) = get(a, &format!("/api/metrics?run=0&from={off}"));
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["reset"], true);
    assert_eq!(v["records"].as_array().unwrap().len(), 2);

    // a run deleted while watched is gone from the listing; the server goes on
    std::fs::remove_dir_all(&run).unwrap();
    let (code, body) = get(a, "/api/runs");
    assert_eq!(code, 200);
    assert!(!body.contains("runs/a"), "{body}");
    assert_eq!(get(a, "/api/metrics?run=0&from=0").0, 404);
    m.stop();
}

#[test]
fn stays_up_under_a_hundred_concurrent_clients() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("r");
    let mut log = MetricsLog::open(&run, 0).unwrap();
    for i in 1..=2000 {
        log.step(&step(i)).unwrap();
    }
    let m = start(tmp.path());
    let a = m.addr();
    let (ok, bad) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let until = Instant::now() + Duration::from_secs(3);
    let clients: Vec<_> = (0..100)
        .map(|i| {
            let (ok, bad) = (ok.clone(), bad.clone());
            std::thread::spawn(move || {
                let paths = ["/", "/api/runs", "/api/metrics?run=0&from=0"];
                let mut k = i;
                while Instant::now() < until {
                    let (code, _) = get(a, paths[k % 3]);
                    k += 1;
                    if code == 200 { &ok } else { &bad }.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let (ok, bad) = (ok.load(Ordering::Relaxed), bad.load(Ordering::Relaxed));
    assert_eq!(bad, 0, "{bad} failed requests");
    assert!(ok >= 100, "every client was answered at least once: {ok}");
    assert_eq!(get(a, "/api/runs").0, 200, "still up");
    eprintln!("monitor load test: {ok} requests answered by 100 clients in 3 s, 0 failed");
}
