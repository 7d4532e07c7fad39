//! Does a bigger probe find more? The CDS probe of `identify_explainable_neurons` (blocked
//! 5-fold cross-validation) on the first 30 kb of the held-out chloroplast, as in the
//! benchmark's `neurons_cds` task, with at most 10, 30, 100 and 300 neurons of all layers:
//!
//! ```sh
//! cargo run --release --example probe_size -- runs/arch20/lstm_small   # ≈ 4 min on 2 cores
//! ```
use genolm::explain::neurons::{identify_explainable_neurons, targets_from_tracks, NeuronOptions};
use genolm::infer::{states, PredictOptions};
use genolm::models::GenomicModel;
use genolm::train::run::{load_corpus, RunConfig};

fn main() -> genolm::Result<()> {
    let path = std::env::args()
        .nth(1)
        .ok_or_else(|| genolm::Error::Input("usage: probe_size <model or run folder>".into()))?;
    let model = GenomicModel::load(std::path::Path::new(&path), &candle_core::Device::Cpu)?;
    let cfg = RunConfig::from_file("configs/awd_lstm_small.toml")?;
    let corpus = load_corpus(&cfg.data)?;
    let gi = corpus
        .index_of("athaliana_chloroplast")
        .ok_or_else(|| genolm::Error::Input("no chloroplast in the corpus".into()))?;
    let g = &corpus.genomes[gi];
    let c = &g.contigs[0];
    let t = c
        .tracks(&g.track_options())
        .ok_or_else(|| genolm::Error::Input("the chloroplast has no annotation".into()))??;
    let n = 30_000;
    let tracks = t.prefix(n);
    let st = states(
        &model,
        &[(c.name.clone(), c.seq[..n].to_vec())],
        &PredictOptions::default(),
    )?;
    let mut targets = targets_from_tracks(&st, 0, &tracks, 20)?;
    targets.retain(|t| t.name == "CDS");
    for (k, cand) in [(10, 64), (30, 128), (100, 256), (300, 1024)] {
        let rep = identify_explainable_neurons(
            &st,
            &targets,
            &NeuronOptions {
                smooth: 51,
                probe_max_neurons: k,
                probe_candidates: cand,
                ..Default::default()
            },
        )?;
        let p = &rep.probes[0];
        println!(
            "max {k:4} candidates {cand:5}: neurons {:4} AUROC {:.3} acc {:.3} (majority {:.3})",
            p.neurons.len(),
            p.test_auroc,
            p.test_accuracy,
            p.baseline_accuracy
        );
    }
    Ok(())
}
