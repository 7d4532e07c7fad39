//! ULMFiT on real labels: a classifier initialised from a pretrained genomic LM against the same
//! classifier trained from scratch, over several seeds, on
//!
//! 1. the UCI E. coli promoters (`labelled/ecoli_promoters_uci.csv` in the shared data), and
//! 2. coding vs intergenic 99-nt windows of yeast chromosome I (from its GFF3 tracks).
//!
//! ```text
//! cargo run --release --example ulmfit_check -- --lm runs/awd_lstm_small [--seeds 5] [--tasks all|promoters|coding]
//!     [--promoters ../shared/data/labelled/ecoli_promoters_uci.csv]
//!     [--valid-fraction 0.15] [--patience 3] [--min-steps 30]   # the recipe's model selection
//! ```
//! Prints a markdown table (mean ± sd of accuracy, precision, recall, specificity, MCC, F1,
//! AUROC) and writes it to `runs/ulmfit_check.md`.

use std::path::PathBuf;
use std::time::Instant;

use candle_core::Device;
use genolm::data::batch::{ClassificationBatcher, LmBatcher};
use genolm::data::corpus::Corpus;
use genolm::data::tasks::{coding_vs_intergenic, read_labelled_csv, stratified_split, LabelledSeq};
use genolm::models::GenomicModel;
use genolm::stats::{mean_sd, BinaryMetrics};
use genolm::train::recipes::{classifier_from_lm, train_classifier, UlmfitOptions};
use genolm::train::{predict_proba, Data, Learner};

fn arg(name: &str) -> Option<String> {
    let a: Vec<String> = std::env::args().collect();
    a.iter()
        .position(|x| x == name)
        .and_then(|i| a.get(i + 1).cloned())
}

fn main() -> genolm::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let lm_path = PathBuf::from(arg("--lm").unwrap_or_else(|| "runs/awd_lstm_small".into()));
    let seeds: u64 = arg("--seeds").and_then(|s| s.parse().ok()).unwrap_or(5);
    let promoters = arg("--promoters")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/data/labelled/ecoli_promoters_uci.csv"));
    let which = arg("--tasks").unwrap_or_else(|| "all".into());
    let dev = Device::Cpu;
    let lm = GenomicModel::load(&lm_path, &dev)?;
    let tok = lm.config().tokenizer()?;
    println!(
        "pretrained LM: {} ({} params) from {}",
        lm.config().name,
        lm.n_params(),
        lm_path.display()
    );

    let corpus = Corpus::embedded()?;
    let yeast = &corpus.genomes[corpus
        .index_of("scerevisiae_chrI")
        .expect("yeast in corpus")];
    let mut tasks: Vec<(String, Vec<LabelledSeq>)> = Vec::new();
    if which == "all" || which == "promoters" {
        match read_labelled_csv(&promoters) {
            Ok(p) => tasks.push(("E. coli promoters (UCI, 106 × 57 nt)".into(), p)),
            Err(e) => eprintln!("skipping promoters: {e}"),
        }
    }
    if which == "all" || which == "coding" {
        tasks.push((
            "yeast chrI coding vs intergenic (2 × 100 × 99 nt)".into(),
            coding_vs_intergenic(yeast, 99, 100, 1)?,
        ));
    }

    let mut report = String::from(
        "| task | init | accuracy | precision | recall | specificity | MCC | F1 | AUROC |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    let t_all = Instant::now();
    for (task, items) in &tasks {
        let mut results: [Vec<BinaryMetrics>; 2] = [Vec::new(), Vec::new()];
        for seed in 0..seeds {
            // Stratified 80/20 split per seed.
            let (tr, te) = stratified_split(items, seed);
            let enc = |v: &[LabelledSeq]| -> Vec<(Vec<u32>, u32)> {
                v.iter().map(|i| (tok.encode(&i.seq), i.label)).collect()
            };
            let (train, test) = (enc(&tr), enc(&te));
            let labels: Vec<bool> = test.iter().map(|(_, l)| *l == 1).collect();
            let mut opts = UlmfitOptions::quiet(seed);
            // the recipe's model-selection settings, to compare (e.g. `--valid-fraction 0`)
            if let Some(v) = arg("--valid-fraction").and_then(|s| s.parse().ok()) {
                opts.valid_fraction = v;
            }
            if let Some(v) = arg("--patience").and_then(|s| s.parse().ok()) {
                opts.patience = v;
            }
            if let Some(v) = arg("--min-steps").and_then(|s| s.parse().ok()) {
                opts.min_steps = v;
            }
            for (k, pretrained) in [(0, true), (1, false)] {
                let t0 = Instant::now();
                let clf = if pretrained {
                    // Stage 2: fine-tune the LM on the task's training sequences.
                    let streams: Vec<Vec<u32>> = train.iter().map(|(x, _)| x.clone()).collect();
                    let data = LmBatcher::new(streams, 8, 32, false, seed)?;
                    let lm_copy = GenomicModel::load(&lm_path, &dev)?;
                    let mut learn =
                        Learner::new(lm_copy, Data::Lm(data), None, opts.learner.clone())?;
                    learn.opt.set_discriminative(2e-3, 2.6);
                    learn.fit_one_cycle(2, 2e-3)?;
                    classifier_from_lm(&learn.model, 2, seed)?
                } else {
                    GenomicModel::new(lm.config().to_classifier(2), &dev, seed)?
                };
                let tr = ClassificationBatcher::new(train.clone(), 16, true, seed)?;
                let opts = UlmfitOptions {
                    cls_unfreezing: if pretrained {
                        opts.cls_unfreezing
                    } else {
                        genolm::train::Unfreezing::All
                    },
                    ..opts.clone()
                };
                let clf = train_classifier(clf, tr, None, &opts)?.model;
                let te = ClassificationBatcher::new(test.clone(), 32, false, 0)?;
                let probs = predict_proba(&clf, &te)?;
                let scores: Vec<f64> = probs.iter().map(|p| p[1] as f64).collect();
                let m = BinaryMetrics::compute(&scores, &labels);
                println!(
                    "{task} seed {seed} {}: acc {:.3} MCC {:.3} AUROC {:.3} ({:.0} s)",
                    if pretrained { "pretrained" } else { "scratch" },
                    m.accuracy,
                    m.mcc,
                    m.auroc,
                    t0.elapsed().as_secs_f64()
                );
                results[k].push(m);
            }
        }
        for (k, name) in [(0, "pretrained LM (ULMFiT)"), (1, "from scratch")] {
            let col = |f: fn(&BinaryMetrics) -> f64| {
                let v: Vec<f64> = results[k].iter().map(f).collect();
                let (m, s) = mean_sd(&v);
                format!("{m:.3} ± {s:.3}")
            };
            report.push_str(&format!(
                "| {task} | {name} | {} | {} | {} | {} | {} | {} | {} |\n",
                col(|m| m.accuracy),
                col(|m| m.precision),
                col(|m| m.recall),
                col(|m| m.specificity),
                col(|m| m.mcc),
                col(|m| m.f1),
                col(|m| m.auroc)
            ));
        }
    }
    report.push_str(&format!(
        "\n{seeds} seeds (stratified 80/20 splits), {:.1} minutes on this machine.\n",
        t_all.elapsed().as_secs_f64() / 60.0
    ));
    println!("\n{report}");
    let out = PathBuf::from("runs/ulmfit_check.md");
    genolm::fsio::atomic_write(&out, report.as_bytes())?;
    Ok(())
}
