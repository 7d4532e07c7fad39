//! The training engine on real genome tokens: learning, determinism, resume, the NaN guard,
//! checkpoints, the LR finder, freezing and the classifier head.

use std::collections::HashMap;

use candle_core::{Device, Tensor};
use genolm::data::batch::{ClassificationBatcher, LmBatcher};
use genolm::data::corpus::Corpus;
use genolm::models::{GenomicModel, Mode, ModelConfig, RnnState};
use genolm::train::{Data, Learner, LearnerOptions};
use genolm::Error;

/// 3-mer streams of one small real genome (phage lambda, 48.5 kb), split 80/20 by position.
fn lambda_streams() -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
    let corpus = Corpus::embedded().unwrap();
    let g = corpus.index_of("phage_lambda").unwrap();
    let tok = ModelConfig::tiny().tokenizer().unwrap();
    let s = corpus.token_streams(&[g], &tok, false).remove(0);
    let cut = s.len() * 4 / 5;
    (vec![s[..cut].to_vec()], vec![s[cut..].to_vec()])
}

fn quiet(seed: u64) -> LearnerOptions {
    LearnerOptions {
        seed,
        verbose: false,
        max_batches: 40,
        ..Default::default()
    }
}

fn learner(seed: u64, ckpt: Option<std::path::PathBuf>) -> Learner {
    let (tr, va) = lambda_streams();
    let train = LmBatcher::new(tr, 8, 32, true, 1).unwrap();
    let valid = LmBatcher::new(va, 8, 32, true, 1).unwrap();
    let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, seed).unwrap();
    let mut o = quiet(seed);
    o.log_dir = ckpt.clone();
    o.checkpoint_dir = ckpt;
    o.valid_max_batches = 10;
    Learner::new(model, Data::Lm(train), Some(Data::Lm(valid)), o).unwrap()
}

fn weights(m: &GenomicModel) -> Vec<f32> {
    m.params()
        .vars()
        .iter()
        .flat_map(|v| v.flatten_all().unwrap().to_vec1::<f32>().unwrap())
        .collect()
}

#[test]
fn learns_on_a_real_genome_and_is_deterministic() {
    let mut a = learner(3, None);
    a.set_max_batches(150);
    let h = a.fit_one_cycle(3, 1e-2).unwrap();
    let first = h[0].train_loss;
    let last = h.last().unwrap().valid_loss.unwrap();
    // From the uniform 3-mer guess (ln 69 = 4.23) to the stride prior and beyond.
    assert!(first < 4.3 && last < 2.0, "train {first}, valid {last}");
    let mut b = learner(3, None);
    b.set_max_batches(150);
    b.fit_one_cycle(3, 1e-2).unwrap();
    assert_eq!(
        weights(&a.model),
        weights(&b.model),
        "same seed, same weights"
    );
}

#[test]
fn resume_equals_an_uninterrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut full = learner(5, None);
    full.fit_one_cycle(3, 5e-3).unwrap();

    // Interrupt after the first epoch: a callback stops the loop, as a crash would.
    struct StopAfterOne;
    impl genolm::train::Callback for StopAfterOne {
        fn on_epoch_end(
            &mut self,
            _r: &genolm::train::EpochRecord,
            _h: &[genolm::train::EpochRecord],
        ) -> genolm::train::Control {
            genolm::train::Control::Stop
        }
    }
    let mut part = learner(5, Some(dir.path().to_path_buf()));
    part.add_callback(Box::new(StopAfterOne));
    // The learner records the interrupted fit in its checkpoint before the callback stops it.
    part.fit_one_cycle(3, 5e-3).unwrap();
    assert_eq!(part.history.len(), 1);
    // A crash after the checkpoint: the dying process had logged five more steps.
    let mut late = part.history.steps.last().unwrap().clone();
    drop(part);
    let log = dir.path().join("metrics.jsonl");
    let mut text = std::fs::read_to_string(&log).unwrap();
    for _ in 0..5 {
        late.step += 1;
        late.loss = 99.0;
        let line = genolm::train::metrics_log::LogRecord::Step(late.clone());
        text.push_str(&format!("{}\n", serde_json::to_string(&line).unwrap()));
    }
    std::fs::write(&log, text).unwrap();

    let (tr, va) = lambda_streams();
    let mut resumed = Learner::resume(
        dir.path(),
        Data::Lm(LmBatcher::new(tr, 8, 32, true, 1).unwrap()),
        Some(Data::Lm(LmBatcher::new(va, 8, 32, true, 1).unwrap())),
        &Device::Cpu,
    )
    .unwrap();
    let rest = resumed.fit_one_cycle(3, 5e-3).unwrap();
    assert_eq!(rest.len(), 2, "the two remaining epochs run");
    assert_eq!(resumed.history.len(), 3);
    assert_eq!(weights(&full.model), weights(&resumed.model));
    // … and the same checkpoint file, byte for byte, so a checksum proves provenance
    let (fa, fb) = (
        dir.path().join("full.safetensors"),
        dir.path().join("resumed.safetensors"),
    );
    full.model.save(&fa).unwrap();
    resumed.model.save(&fb).unwrap();
    assert_eq!(std::fs::read(&fa).unwrap(), std::fs::read(&fb).unwrap());

    // The per-step log and the TensorBoard events: every step once, the same numbers as the
    // uninterrupted run, epochs equal to the history.
    let logged = genolm::train::metrics_log::read_metrics(dir.path()).unwrap();
    let steps: Vec<usize> = logged.steps.iter().map(|s| s.step).collect();
    assert_eq!(steps, (1..=120).collect::<Vec<_>>());
    assert_eq!(logged.epochs, resumed.history.epochs);
    assert_eq!(logged.steps, resumed.history.steps);
    let losses = |h: &[genolm::train::StepRecord]| h.iter().map(|s| s.loss).collect::<Vec<_>>();
    assert_eq!(losses(&logged.steps), losses(&full.history.steps));
    for e in &logged.epochs {
        let (mut sum, mut n) = (0.0, 0.0);
        for s in logged.steps.iter().filter(|s| s.epoch == e.epoch) {
            sum += s.loss * s.targets as f64;
            n += s.targets as f64;
        }
        assert!((sum / n - e.train_loss).abs() < 1e-12, "epoch {}", e.epoch);
    }
    let events: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("events.out.tfevents.")
        })
        .collect();
    assert_eq!(events.len(), 1, "one event file after resume");
    let tb = genolm::train::tensorboard::read_scalars(&events[0].path()).unwrap();
    let tag = |t: &str| {
        tb.iter()
            .filter(|s| s.0 == t)
            .map(|s| (s.1, s.2))
            .collect::<Vec<_>>()
    };
    let tb_loss = tag("train/loss");
    assert_eq!(tb_loss.len(), 120);
    assert!(tb_loss
        .iter()
        .zip(&logged.steps)
        .all(|(t, s)| t.0 as usize == s.step && t.1 == s.loss as f32));
    let tb_valid = tag("valid/loss");
    let want: Vec<(i64, f32)> = logged
        .epochs
        .iter()
        .map(|e| (e.step as i64, e.valid_loss.unwrap() as f32))
        .collect();
    assert_eq!(tb_valid, want);

    // Notebook chunks: a zero-second budget runs one epoch per call and continues the same fit.
    let mut chunked = learner(5, None);
    let sched = genolm::train::Schedule::OneCycle { lr_max: 5e-3 };
    assert!(!chunked.fit_for(3, sched, 0.0).unwrap());
    assert_eq!(chunked.history.len(), 1);
    assert!(!chunked.fit_for(3, sched, 0.0).unwrap());
    assert!(
        chunked.fit_for(3, sched, 0.0).unwrap(),
        "third chunk finishes"
    );
    assert_eq!(chunked.history.len(), 3);
    assert_eq!(weights(&full.model), weights(&chunked.model));
}

#[test]
fn nan_loss_stops_with_a_message_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut l = learner(1, Some(dir.path().to_path_buf()));
    l.fit_one_cycle(1, 5e-3).unwrap();
    let good = weights(&l.model);
    // An absurd learning rate makes the weights overflow within a few steps.
    let err = l
        .fit(2, genolm::train::Schedule::Constant { lr: 1e38 })
        .unwrap_err();
    match &err {
        Error::Training {
            checkpoint, msg, ..
        } => {
            assert_eq!(checkpoint.as_deref(), Some(dir.path()));
            assert!(
                msg.contains("learning rate") || msg.contains("gradient"),
                "{msg}"
            );
        }
        e => panic!("expected a training error, got {e}"),
    }
    assert!(err.to_string().contains("last good checkpoint"));
    let back = GenomicModel::load(dir.path(), &Device::Cpu).unwrap();
    assert_eq!(weights(&back), good);
}

#[test]
fn checkpoints_are_self_describing_and_strict() {
    let dir = tempfile::tempdir().unwrap();
    let m = GenomicModel::new(ModelConfig::dilated_small(), &Device::Cpu, 2).unwrap();
    let p = dir.path().join("m.safetensors");
    m.save(&p).unwrap();
    let back = GenomicModel::load(&p, &Device::Cpu).unwrap();
    assert_eq!(back.config(), m.config());
    assert_eq!(weights(&back), weights(&m));
    // No temp files are left behind.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(names, vec!["m.safetensors"]);
    // The file is plain safetensors: header length, JSON header with dtype/shape/offsets.
    let bytes = std::fs::read(&p).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    assert_eq!(header["conv.0.weight"]["dtype"], "F32");
    assert!(header["__metadata__"]["genolm_config"]
        .as_str()
        .unwrap()
        .contains("dilated"));
    // Loading into a different architecture is a clear error.
    let other = GenomicModel::new(ModelConfig::cnn_small(), &Device::Cpu, 2).unwrap();
    let (t, _) = genolm::models::params::load_safetensors(&p, &Device::Cpu).unwrap();
    assert!(other.params().assign(&t, true).is_err());
    // A missing file names the path.
    let e = GenomicModel::load(dir.path().join("nope.safetensors"), &Device::Cpu).unwrap_err();
    assert!(e.to_string().contains("nope.safetensors"));
}

#[test]
fn python_reads_the_checkpoint_with_the_standard_library() {
    // What `safetensors.torch.load_file` does, in plain Python, when python3 is present.
    let Ok(out) = std::process::Command::new("python3")
        .arg("--version")
        .output()
    else {
        eprintln!("python3 not found; skipping the Python read-back");
        return;
    };
    if !out.status.success() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let m = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 2).unwrap();
    let p = dir.path().join("m.safetensors");
    m.save(&p).unwrap();
    let w = m
        .params()
        .get("lstm.0.weight_hh")
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    let script = r#"
import json, struct, sys
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
t = h['lstm.0.weight_hh']
s, e = t['data_offsets']
vals = struct.unpack('<%df' % ((e - s) // 4), b[8 + n + s:8 + n + e])
print(t['dtype'], t['shape'], vals[0], vals[-1], json.loads(h['__metadata__']['genolm_config'])['name'])
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&p)
        .output()
        .unwrap();
    let s = String::from_utf8_lossy(&out.stdout).to_string();
    let f: Vec<&str> = s.split_whitespace().collect();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(f[0], "F32");
    assert_eq!(f.last().unwrap(), &"tiny");
    let first: f32 = f[f.len() - 3].parse().unwrap();
    assert_eq!(first, w[0]);
}

#[test]
fn lr_find_restores_weights_and_suggests_a_rate() {
    let mut l = learner(4, None);
    let before = weights(&l.model);
    let r = l.lr_find(1e-6, 1.0, 40).unwrap();
    assert_eq!(weights(&l.model), before);
    assert!(r.lrs.len() >= 10);
    assert!(r.lrs.windows(2).all(|w| w[1] > w[0]));
    assert!(
        r.suggestion > 1e-6 && r.suggestion < 1.0,
        "{}",
        r.suggestion
    );
}

#[test]
fn frozen_groups_do_not_move_and_discriminative_rates_follow_the_cycle() {
    let mut l = learner(6, None);
    let names = l.model.layer_groups();
    assert_eq!(names.first().unwrap().0, "lstm.0");
    assert_eq!(names.last().unwrap().0, "head");
    l.opt.freeze_to(-1);
    let snapshot = |m: &GenomicModel| -> HashMap<String, Vec<f32>> {
        m.params()
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    v.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                )
            })
            .collect()
    };
    let before = snapshot(&l.model);
    l.opt.set_discriminative(1e-2, 2.6);
    let lrs = l.opt.lrs();
    assert!((lrs[0] * 2.6 - lrs[1]).abs() < 1e-12);
    l.fit_one_cycle(1, 1e-2).unwrap();
    let after = snapshot(&l.model);
    assert_eq!(before["lstm.0.weight_ih"], after["lstm.0.weight_ih"]);
    assert_ne!(before["head.decoder.bias"], after["head.decoder.bias"]);
    let lrs = l.opt.lrs();
    assert!((lrs[0] * 2.6 - lrs[1]).abs() < 1e-9 * lrs[1].max(1e-30));
}

#[test]
fn stateful_state_resets_per_row() {
    let m = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1).unwrap();
    let x = Tensor::from_vec((0..12u32).map(|i| 5 + i).collect(), (2, 6), &Device::Cpu).unwrap();
    let out = m.forward(&x, None, Mode::Eval).unwrap();
    let s: RnnState = out.state.unwrap().reset_rows(&[true, false]).unwrap();
    let h = s.h[0].to_vec2::<f32>().unwrap();
    assert!(h[0].iter().all(|&v| v == 0.0));
    assert!(h[1].iter().any(|&v| v != 0.0));
    // Carrying the state changes the output; a zero state equals no state.
    let a = m.forward(&x, Some(&s), Mode::Eval).unwrap().logits;
    let b = m.forward(&x, None, Mode::Eval).unwrap().logits;
    let row = |t: &Tensor, r: usize| {
        t.get(r)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap()
    };
    assert_eq!(row(&a, 0), row(&b, 0));
    assert_ne!(row(&a, 1), row(&b, 1));
}

#[test]
fn classifier_learns_a_planted_signal_and_rejects_mismatched_data() {
    // Real lambda windows; class 1 has TATAAT planted in the middle (a -10 box).
    let corpus = Corpus::embedded().unwrap();
    let g = &corpus.genomes[corpus.index_of("phage_lambda").unwrap()];
    let seq = &g.contigs[0].seq;
    let tok = ModelConfig::tiny().tokenizer().unwrap();
    let items: Vec<(Vec<u32>, u32)> = (0..160)
        .map(|i| {
            let mut w = seq[i * 60..i * 60 + 60].to_vec();
            let label = (i % 2) as u32;
            if label == 1 {
                w[27..33].copy_from_slice(b"TATAAT");
            }
            (tok.encode(&w), label)
        })
        .collect();
    let (train, test) = items.split_at(120);
    let cfg = ModelConfig::tiny().to_classifier(2);
    let model = GenomicModel::new(cfg, &Device::Cpu, 1).unwrap();
    let tr = ClassificationBatcher::new(train.to_vec(), 16, true, 1).unwrap();
    let te = ClassificationBatcher::new(test.to_vec(), 40, false, 1).unwrap();
    let mut l = Learner::new(
        model,
        Data::Cls(tr.clone()),
        Some(Data::Cls(te.clone())),
        quiet(1),
    )
    .unwrap();
    let h = l.fit_one_cycle(8, 1e-2).unwrap();
    assert!(
        h.last().unwrap().valid_accuracy.unwrap() >= 0.8,
        "{:?}",
        h.last()
    );
    // By default a validation part of 9 items per class is too small to pick epochs by: every
    // item is trained on and the last epoch kept.
    use genolm::train::recipes::{train_classifier, UlmfitOptions};
    let fresh = GenomicModel::new(ModelConfig::tiny().to_classifier(2), &Device::Cpu, 1).unwrap();
    let small = UlmfitOptions {
        cls_epochs: [1, 0, 0, 0],
        cls_unfreezing: genolm::train::Unfreezing::All,
        ..UlmfitOptions::quiet(1)
    };
    let fit = train_classifier(fresh, tr.clone(), None, &small).unwrap();
    assert_eq!((fit.n_train, fit.n_valid), (120, 0));
    assert!(fit.best.is_none());
    // Allowed to, the recipe holds out 15 % of the training items (9 per class), keeps the
    // best validated epoch, and still finds the signal.
    let fresh = GenomicModel::new(ModelConfig::tiny().to_classifier(2), &Device::Cpu, 1).unwrap();
    let opts = UlmfitOptions {
        cls_epochs: [2, 0, 0, 4],
        min_valid_per_class: 9,
        cls_unfreezing: genolm::train::Unfreezing::All,
        ..UlmfitOptions::quiet(1)
    };
    let fit = train_classifier(fresh, tr.clone(), None, &opts).unwrap();
    assert_eq!((fit.n_train, fit.n_valid), (102, 18));
    let best = fit.best.expect("a validated epoch");
    let at = &fit.history[best.epoch_index];
    assert_eq!(at.valid_loss, Some(best.loss));
    let min = fit
        .history
        .iter()
        .filter_map(|e| e.valid_loss)
        .fold(f64::INFINITY, f64::min);
    assert_eq!(best.loss, min);
    let te = ClassificationBatcher::new(test.to_vec(), 40, false, 1).unwrap();
    let r = genolm::train::evaluate(&fit.model, &Data::Cls(te), 0).unwrap();
    assert!(r.accuracy >= 0.8, "{r:?}");
    assert_eq!(fit.lrs, [opts.cls_lrs[0], 0.0, 0.0, opts.cls_lrs[3]]);
    // With LR range tests, head first: one for the head's cycle and one for the first cycle
    // of every layer, whose factor the later cycles keep; each within 10× of the recipe's.
    let lm = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1).unwrap();
    let clf = genolm::train::recipes::classifier_from_lm(&lm, 2, 1).unwrap();
    let found = UlmfitOptions {
        cls_epochs: [1, 1, 1, 1],
        cls_lr_find: true,
        ..UlmfitOptions::quiet(1)
    };
    let fit = train_classifier(clf, tr.clone(), None, &found).unwrap();
    let r = |i: usize| fit.lrs[i] / found.cls_lrs[i];
    for i in 0..4 {
        assert!((0.1..=10.0).contains(&r(i)), "{:?}", fit.lrs);
    }
    assert!((r(2) - r(1)).abs() < 1e-9 && (r(3) - r(1)).abs() < 1e-9);
    assert_ne!(fit.lrs, found.cls_lrs, "the range tests moved no rate");
    // LM data for a classifier is refused with a clear message.
    let (lm_tr, _) = lambda_streams();
    let lm = Data::Lm(LmBatcher::new(lm_tr, 4, 8, false, 1).unwrap());
    let m2 = GenomicModel::new(ModelConfig::tiny().to_classifier(2), &Device::Cpu, 1).unwrap();
    let e = Learner::new(m2, lm, None, quiet(1)).unwrap_err();
    assert!(e.to_string().contains("head"), "{e}");
}

/// `train_or_load` reuses a finished run, and trains again when the run's training genomes
/// are not the ones its config selects now (another corpus version, split or seed).
#[test]
fn train_or_load_reuses_only_matching_runs() {
    use genolm::train::run::{train_or_load, RunConfig, RunSummary};
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = RunConfig::quickstart(dir.path().join("run"), 42, 1, 2);
    cfg.model = ModelConfig::tiny();
    cfg.data.batch_size = 4;
    cfg.data.bptt = 16;
    cfg.train.valid_max_batches = 1;
    train_or_load(&cfg).unwrap();
    let first = RunSummary::load(&cfg.output).unwrap();
    assert!(first.train_genomes.contains(&"vcholerae_O395".to_string()));
    // Reused: the summary is not rewritten.
    train_or_load(&cfg).unwrap();
    let again = std::fs::read_to_string(cfg.output.join("summary.json")).unwrap();
    assert_eq!(
        RunSummary::load(&cfg.output).unwrap().minutes,
        first.minutes
    );
    // A run recorded with other training genomes is trained again.
    let stale = again.replace("\"vcholerae_O395\"", "\"some_old_genome\"");
    assert_ne!(stale, again);
    std::fs::write(cfg.output.join("summary.json"), stale).unwrap();
    train_or_load(&cfg).unwrap();
    let redone = RunSummary::load(&cfg.output).unwrap();
    assert_eq!(redone.train_genomes, first.train_genomes);
}

/// `both_strands` averages the class probabilities of each test item and its reverse
/// complement: the same classifier (same seed) scores exactly the mean of its forward and
/// reverse-complement predictions.
#[test]
fn classify_on_both_strands_averages_the_strands() {
    use genolm::data::alphabet::revcomp;
    use genolm::data::tasks::{parse_labelled_csv, stratified_split, LabelledSeq};
    use genolm::train::recipes::{classify, ClassifyOptions, UlmfitOptions};
    let csv = include_bytes!("../datasets/labelled/ecoli_promoters_uci.csv");
    let items = parse_labelled_csv(csv, "promoters.csv").unwrap();
    let (train, test) = stratified_split(&items, 1);
    let rc: Vec<LabelledSeq> = test
        .iter()
        .map(|x| LabelledSeq {
            seq: revcomp(&x.seq),
            ..x.clone()
        })
        .collect();
    let lm = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1).unwrap();
    let run = |test: &[LabelledSeq], both: bool| {
        let opts = ClassifyOptions {
            ulmfit: UlmfitOptions {
                cls_epochs: [1, 0, 0, 1],
                min_steps: 2,
                ..UlmfitOptions::quiet(1)
            },
            both_strands: both,
            ..Default::default()
        };
        classify(&lm, &train, test, &opts).unwrap().probs
    };
    let (fwd, rev, both) = (run(&test, false), run(&rc, false), run(&test, true));
    assert_ne!(fwd, rev, "the strands score differently");
    for ((f, r), b) in fwd.iter().zip(&rev).zip(&both) {
        for c in 0..2 {
            assert!(
                (b[c] - 0.5 * (f[c] + r[c])).abs() < 1e-6,
                "{f:?} {r:?} {b:?}"
            );
        }
    }
}
