//! The interpretation pipeline's quality bar, small enough for CI: CTCF and CEBPB (JASPAR)
//! planted into windows of the real S. aureus genome, a CNN classifier trained from scratch,
//! then DeepSHAP → seqlets → motifs → Tomtom against all 879 JASPAR matrices must give each
//! planted motif back as its own entry at rank 1. (The full check with five attribution
//! methods: `cargo run --release --example motif_recovery`, docs/interpretation.md.)

use genolm::data::fasta::read_fasta;
use genolm::data::tasks::{stratified_split, LabelledSet};
use genolm::explain::methods::AttributionMethod;
use genolm::explain::motifs::read_jaspar;
use genolm::explain::planted::{motif_recovery, planted_motif_task, PlantOptions, RecoveryOptions};
use genolm::models::{GenomicModel, ModelConfig};
use genolm::train::recipes::{classify, ClassifyOptions, UlmfitOptions};

#[test]
fn deepshap_motifs_of_a_trained_cnn_match_the_planted_jaspar_entries() {
    let root = env!("CARGO_MANIFEST_DIR");
    let db = read_jaspar(format!(
        "{root}/datasets/motifs/JASPAR2024_CORE_vertebrates.jaspar.gz"
    ))
    .unwrap();
    let planted: Vec<_> = ["MA0139.2", "MA0466.4"]
        .iter()
        .map(|id| db.iter().find(|m| &m.id == id).unwrap().clone())
        .collect();
    let bg = read_fasta(format!(
        "{root}/datasets/pro/staphylococcus_aureus_N315.fa.gz"
    ))
    .unwrap();
    let task = planted_motif_task(
        &bg,
        &planted,
        &PlantOptions {
            length: 120,
            per_class: 200,
            seed: 0,
        },
    )
    .unwrap();
    let (train, test) = stratified_split(&task.items, 0);
    let mut cfg = ModelConfig::cnn_small();
    cfg.k = 1;
    cfg.conv_channels = 48;
    cfg.conv_layers = 3;
    let fresh = GenomicModel::new(cfg, &candle_core::Device::Cpu, 0).unwrap();
    let mut ulm = UlmfitOptions::quiet(0);
    ulm.cls_unfreezing = genolm::train::Unfreezing::All;
    ulm.cls_epochs = [6, 0, 0, 0];
    ulm.cls_lrs = [5e-3, 0.0, 0.0, 0.0];
    let opts = ClassifyOptions {
        ulmfit: ulm,
        batch_size: 32,
        ..Default::default()
    };
    let c = classify(&fresh, &train, &test, &opts).unwrap();
    let (acc, _) = c.metrics();
    assert!(
        acc > 0.8,
        "the classifier did not learn the motifs: accuracy {acc}"
    );
    let set = LabelledSet {
        items: test,
        classes: task.classes,
    };
    let ropts = RecoveryOptions {
        methods: vec![AttributionMethod::DeepShap],
        per_class: 20,
        references: 5,
        ..Default::default()
    };
    let rec = motif_recovery(&c.classifier, &set, &planted, &db, &ropts).unwrap();
    for r in &rec.rows {
        assert!(
            r.recovered(),
            "{} {} not recovered: {r:?}",
            r.planted,
            r.planted_name
        );
        assert!(r.q < 1e-3, "{r:?}");
    }
}
