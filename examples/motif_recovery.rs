//! The planted-motif check of issue 16 (docs/interpretation.md): JASPAR motifs planted into
//! windows of real bacterial genomes, a CNN classifier trained from scratch to say which motif
//! a window carries, and attributions → seqlets → motifs → Tomtom against all of JASPAR with
//! DeepSHAP, integrated gradients, ISM, input × gradient and saliency.
//!
//! ```sh
//! cargo run --release --example motif_recovery -- --out docs/interpretation
//! ```
//! Writes `motif-recovery.csv` (one row per method and planted motif), `discovered.csv` (every
//! discovered motif), `classifier.json` (test accuracy), CWM logos `logo-<method>-<motif>.svg`
//! and the classifier (`planted-classifier.safetensors`).

use std::path::PathBuf;

use clap::Parser;
use genolm::data::fasta::read_fasta;
use genolm::data::tasks::{stratified_split, LabelledSet};
use genolm::explain::motifs::read_jaspar;
use genolm::explain::planted::{motif_recovery, planted_motif_task, PlantOptions, RecoveryOptions};
use genolm::models::{GenomicModel, ModelConfig};
use genolm::train::recipes::{classify, ClassifyOptions, UlmfitOptions};

#[derive(Parser)]
struct Args {
    /// Planted JASPAR matrices (ids).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "MA0139.2,MA0106.3,MA0466.4"
    )]
    motifs: Vec<String>,
    /// Background genomes.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "datasets/pro/staphylococcus_aureus_N315.fa.gz,datasets/pro/vibrio_cholerae_O395.fa.gz"
    )]
    genomes: Vec<PathBuf>,
    /// Windows per class (background + one per motif); 80 % train, 20 % test.
    #[arg(long, default_value_t = 800)]
    per_class: usize,
    /// Window length.
    #[arg(long, default_value_t = 200)]
    length: usize,
    /// Epochs of each of the four training cycles.
    #[arg(long, value_delimiter = ',', default_value = "4,3,3,6")]
    epochs: Vec<usize>,
    /// Test windows attributed per planted class.
    #[arg(long, default_value_t = 60)]
    attributed: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Output folder.
    #[arg(long, default_value = "docs/interpretation")]
    out: PathBuf,
}

fn main() -> genolm::Result<()> {
    let a = Args::parse();
    std::fs::create_dir_all(&a.out)
        .map_err(|e| genolm::Error::Input(format!("{}: {e}", a.out.display())))?;
    let db = read_jaspar("datasets/motifs/JASPAR2024_CORE_vertebrates.jaspar.gz")?;
    let planted: Vec<_> = a
        .motifs
        .iter()
        .map(|id| {
            db.iter()
                .find(|m| &m.id == id)
                .cloned()
                .ok_or_else(|| genolm::Error::Input(format!("{id} is not in JASPAR")))
        })
        .collect::<genolm::Result<_>>()?;
    let mut bg = Vec::new();
    for g in &a.genomes {
        bg.extend(read_fasta(g)?);
    }
    let task = planted_motif_task(
        &bg,
        &planted,
        &PlantOptions {
            length: a.length,
            per_class: a.per_class,
            seed: a.seed,
        },
    )?;
    let (train, test) = stratified_split(&task.items, a.seed);
    eprintln!(
        "{} train / {} test windows of {} nt",
        train.len(),
        test.len(),
        a.length
    );

    let mut cfg = ModelConfig::cnn_small();
    cfg.k = 1;
    let lm = GenomicModel::new(cfg, &candle_core::Device::Cpu, a.seed)?;
    let mut ulm = UlmfitOptions::quiet(a.seed);
    ulm.cls_unfreezing = genolm::train::Unfreezing::All;
    for (i, e) in a.epochs.iter().take(4).enumerate() {
        ulm.cls_epochs[i] = *e;
    }
    let t0 = std::time::Instant::now();
    let opts = ClassifyOptions {
        ulmfit: ulm,
        batch_size: 32,
        ..Default::default()
    };
    let c = classify(&lm, &train, &test, &opts)?;
    let (acc, metrics) = c.metrics();
    let train_s = t0.elapsed().as_secs_f64();
    eprintln!("classifier: test accuracy {acc:.3} after {train_s:.0} s");
    c.classifier
        .save(a.out.join("planted-classifier.safetensors"))?;
    let summary = serde_json::json!({
        "motifs": a.motifs, "genomes": a.genomes, "per_class": a.per_class, "length": a.length,
        "epochs": a.epochs, "seed": a.seed, "test_accuracy": acc,
        "metrics": metrics.iter().map(|(k, v)| (k.to_string(), *v)).collect::<std::collections::BTreeMap<_, _>>(),
        "train_seconds": train_s,
    });
    genolm::fsio::atomic_write(
        &a.out.join("classifier.json"),
        serde_json::to_string_pretty(&summary)
            .unwrap_or_default()
            .as_bytes(),
    )?;

    let test_set = LabelledSet {
        items: test,
        classes: task.classes.clone(),
    };
    let ropts = RecoveryOptions {
        per_class: a.attributed,
        seed: a.seed,
        ..Default::default()
    };
    let rec = motif_recovery(&c.classifier, &test_set, &planted, &db, &ropts)?;
    rec.table()?.to_csv(a.out.join("motif-recovery.csv"))?;
    let mut all = Vec::new();
    for d in &rec.discoveries {
        all.push(d.table()?);
        for (i, m) in d.motifs.iter().enumerate() {
            if m.id.starts_with("pos") {
                d.figure_for(i)?
                    .save(a.out.join(format!("logo-{}-{}.svg", d.method, m.id)))?;
            }
        }
    }
    let mut disc = all.remove(0);
    for t in all {
        disc.df = disc.df.vstack(&t.df)?;
    }
    disc.to_csv(a.out.join("discovered.csv"))?;
    for r in &rec.rows {
        println!(
            "{:<22} {:<16} {:>4} seqlets  {:<22} best {} {} (q {:.1e}) rank {:?}/{:?} {}",
            r.method,
            format!("{} {}", r.planted, r.planted_name),
            r.seqlets,
            r.consensus,
            r.best_match,
            r.best_match_name,
            r.q,
            r.rank,
            r.rank_by_name,
            if r.recovered() { "recovered" } else { "MISSED" }
        );
    }
    Ok(())
}
