//! Hyperparameter search over a shared folder with worker processes: one worker is killed with
//! SIGKILL in the middle of a trial, another takes its job over and the search finishes; run
//! again, the finished search trains nothing.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use genolm::search::folder::{Claim, SearchDir};
use genolm::search::scheduler::{next_job, Job};
use genolm::search::{SearchResults, SearchSpec};

const SPACE: &str = r#"
[search]
method = "asha"
min_budget = 4
max_budget = 36
eta = 3
total_budget = 120
max_trials = 9
seed = 3
stale_after_s = 30.0
valid_tokens = 512
[base.data]
bptt = 32
batch_size = 8
kingdoms = ["VIR"]
[base.model]
preset = "tiny"
[base.train]
device = "cpu"
[space]
"train.lr" = { log_uniform = [1e-3, 5e-2] }
"model.lstm_hidden" = { choice = [16, 32] }
"data.bptt" = { choice = [16, 32] }
"#;

fn genolm() -> Command {
    Command::new(env!("CARGO_BIN_EXE_genolm"))
}

fn worker(dir: &Path) -> Child {
    genolm()
        .args(["search", "--worker", "--quiet", "--out"])
        .arg(dir)
        .env("RAYON_NUM_THREADS", "1")
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

fn claims(dir: &Path) -> Vec<(PathBuf, Claim)> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(dir.join("trials"))
        .into_iter()
        .flatten()
        .flatten()
    {
        for e in std::fs::read_dir(t.path()).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "claim") {
                if let Ok(c) =
                    serde_json::from_slice::<Claim>(&std::fs::read(e.path()).unwrap_or_default())
                {
                    out.push((e.path(), c));
                }
            }
        }
    }
    out
}

fn results_stamp(dir: &Path) -> Vec<(PathBuf, SystemTime)> {
    let mut v = Vec::new();
    for t in std::fs::read_dir(dir.join("trials")).unwrap().flatten() {
        for e in std::fs::read_dir(t.path()).unwrap().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("rung") && n.ends_with(".json") {
                v.push((e.path(), e.metadata().unwrap().modified().unwrap()));
            }
        }
    }
    v.sort();
    v
}

#[test]
fn workers_share_a_folder_survive_a_kill_and_resume_without_rework() {
    let tmp = tempfile::tempdir().unwrap();
    let space = tmp.path().join("space.toml");
    std::fs::write(&space, SPACE).unwrap();
    let dir = tmp.path().join("search");
    // set the folder up, then start workers as a cluster would
    let st = genolm()
        .args(["search", "--workers", "0", "--space"])
        .arg(&space)
        .arg("--out")
        .arg(&dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let mut victim = worker(&dir);
    let mut other = worker(&dir);

    // kill the first worker while it holds a claim (mid-trial)
    let t0 = Instant::now();
    let killed_claim = loop {
        if let Some((p, _)) = claims(&dir).into_iter().find(|(_, c)| c.pid == victim.id()) {
            break p;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the worker never claimed a job"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // at once: a worker's first job includes loading the corpus (a second or more), so the
    // claim seen is still unfinished when the signal lands
    victim.kill().unwrap();
    victim.wait().unwrap();
    assert!(
        !killed_claim.with_extension("json").exists(),
        "the killed worker had finished its job before the signal"
    );
    let mut third = worker(&dir);
    assert!(other.wait().unwrap().success());
    assert!(third.wait().unwrap().success());

    // the killed job was taken over and finished; the search is complete
    let result = killed_claim.with_extension("json");
    assert!(
        result.exists(),
        "{} was not finished by another worker",
        result.display()
    );
    let r: genolm::search::folder::RungResult =
        serde_json::from_slice(&std::fs::read(&result).unwrap()).unwrap();
    assert_ne!(
        r.worker,
        format!("{}:{}", genolm::search::folder::host_name(), victim.id())
    );
    let spec = SearchSpec::from_file(&dir.join("search.toml")).unwrap();
    let d = SearchDir::new(&dir);
    let trials = d.scan(spec.search.stale_after_s).unwrap();
    assert_eq!(next_job(&spec, &trials), Job::Done);
    assert!(claims(&dir).is_empty(), "no claim is left behind");
    let res = SearchResults::load(&dir).unwrap();
    assert!(res.steps() <= 120, "budget respected: {}", res.steps());
    let best = res.best().unwrap();
    // 9 trials at rung 0 → 3 promoted to rung 1 → 1 to rung 2 (84 steps ≤ 120)
    assert_eq!(best.last().unwrap().rung, 2, "a trial reached the top rung");
    // every rung's steps were trained once: a run's log has each step once, up to its budget
    for t in &trials {
        let log = genolm::train::metrics_log::read_metrics(&d.run_dir(t.params.id)).unwrap();
        let steps: Vec<usize> = log.steps.iter().map(|s| s.step).collect();
        assert_eq!(
            steps,
            (1..=t.last().unwrap().steps).collect::<Vec<_>>(),
            "trial {}",
            t.params.id
        );
    }

    // run again: nothing is trained twice, the results are written
    let before = results_stamp(&dir);
    let out = genolm()
        .args(["search", "--workers", "2", "--quiet", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        results_stamp(&dir),
        before,
        "finished rungs were not run again"
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Asha search: 9 trials"), "{text}");
    for f in [
        "trials.csv",
        "best.toml",
        "loss_vs_budget.svg",
        "importance.svg",
    ] {
        assert!(dir.join(f).exists(), "{f}");
    }
    let best_cfg = genolm::train::run::RunConfig::from_file(dir.join("best.toml")).unwrap();
    assert_eq!(best_cfg.train.epochs * best_cfg.train.max_batches, 36);

    // another search file into the same folder is refused
    let other_space = tmp.path().join("other.toml");
    std::fs::write(&other_space, SPACE.replace("seed = 3", "seed = 4")).unwrap();
    let o = genolm()
        .args(["search", "--space"])
        .arg(&other_space)
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("different search"));
}

#[test]
fn a_search_names_its_corpus_the_same_for_every_worker() {
    // A relative corpus is anchored when the search file is read (from the working folder,
    // else the file's folder): workers started elsewhere, every trial's run file and
    // best.toml then name the same corpus.
    let tmp = tempfile::tempdir().unwrap();
    let vir = tmp.path().join("proj/mine/vir");
    std::fs::create_dir_all(&vir).unwrap();
    let phix = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/vir/phiX174.gbk");
    std::fs::copy(phix, vir.join("phiX174.gbk")).unwrap();
    let text = SPACE.replace("[base.data]\n", "[base.data]\ncorpus = \"mine\"\n");
    let file = tmp.path().join("proj/space.toml");
    std::fs::write(&file, &text).unwrap();
    let spec = SearchSpec::from_file(&file).unwrap();
    let run = spec
        .run_config(&spec.sample(0), Path::new("t/0"), 1, 4)
        .unwrap();
    let corpus = Path::new(&run.data.corpus);
    assert!(corpus.is_absolute(), "{}", run.data.corpus);
    assert_eq!(corpus, vir.parent().unwrap().canonicalize().unwrap());
    // the folder's copy reads back the same, from anywhere
    let copy = tmp.path().join("copy.toml");
    std::fs::write(&copy, toml::to_string(&spec).unwrap()).unwrap();
    assert_eq!(SearchSpec::from_file(&copy).unwrap(), spec);
    // a corpus that is nowhere is refused when the file is read, not by every trial
    std::fs::write(&file, text.replace("\"mine\"", "\"yours\"")).unwrap();
    let e = SearchSpec::from_file(&file).unwrap_err().to_string();
    assert!(e.contains("base.data.corpus") && e.contains("yours"), "{e}");
}
