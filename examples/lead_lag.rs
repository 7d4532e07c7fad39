//! Lead/lag of a model's neurons around the features of one annotated genome
//! (docs/interpretation.md §6): which neurons change *before* a feature starts?
//!
//! ```sh
//! cargo run --release --example lead_lag -- --model runs/notebooks/quickstart \
//!     --annotation datasets/euk/arabidopsis_thaliana_chloroplast.gb.gz --kind tRNA --out docs/interpretation
//! ```
//! Writes `lead-lag-<kind>.csv` (every neuron) and `lead-lag-<kind>.svg` (the start profile of
//! the neuron with the largest upstream |z|), and prints the top neurons and the feature
//! targets' best AUROC.

use std::path::PathBuf;

use clap::Parser;
use genolm::data::annotation::read_annotation;
use genolm::explain::neurons::features::profile_figure;
use genolm::explain::neurons::{
    feature_targets, identify_explainable_neurons, lead_lag, start_profile, LeadLagOptions,
    NeuronOptions,
};
use genolm::infer::{states, PredictOptions};
use genolm::models::GenomicModel;

#[derive(Parser)]
struct Args {
    /// Checkpoint (run folder or .safetensors).
    #[arg(long, default_value = "runs/notebooks/quickstart")]
    model: PathBuf,
    /// GenBank or GFF3 with its sequence.
    #[arg(
        long,
        default_value = "datasets/euk/arabidopsis_thaliana_chloroplast.gb.gz"
    )]
    annotation: PathBuf,
    /// Feature type whose starts anchor the windows.
    #[arg(long, default_value = "tRNA")]
    kind: String,
    /// Keep every n-th token.
    #[arg(long, default_value_t = 2)]
    every: usize,
    /// Output folder.
    #[arg(long, default_value = "docs/interpretation")]
    out: PathBuf,
}

fn main() -> genolm::Result<()> {
    let a = Args::parse();
    let model = GenomicModel::load(&a.model, &candle_core::Device::Cpu)?;
    let ann = read_annotation(&a.annotation, None)?;
    let rec = &ann[0];
    let t0 = std::time::Instant::now();
    let st = states(
        &model,
        &vec![(rec.name.clone(), rec.seq.clone())],
        &PredictOptions {
            every: a.every,
            ..Default::default()
        },
    )?;
    let t_states = t0.elapsed().as_secs_f64();
    let anchors: Vec<_> = rec
        .features
        .iter()
        .filter(|f| f.kind == a.kind)
        .cloned()
        .collect();
    let t1 = std::time::Instant::now();
    let rep = lead_lag(&st, 0, &anchors, &LeadLagOptions::default())?;
    let t_ll = t1.elapsed().as_secs_f64();
    rep.table()?
        .to_csv(a.out.join(format!("lead-lag-{}.csv", a.kind)))?;
    println!(
        "{}: {} bases, {} rows, {} {} anchors; states {t_states:.1} s, lead/lag {t_ll:.1} s; {} of {} neurons significant upstream (BH {})",
        rec.name,
        rec.seq.len(),
        st.n_rows(),
        rep.n_features,
        a.kind,
        rep.significant().len(),
        rep.scores.len(),
        rep.fdr
    );
    for s in rep.scores.iter().take(5) {
        println!(
            "  {}/{:<4} upstream {:+.3} (z {:+.1}, q {:.2e})  inside z {:+.1}  downstream z {:+.1}",
            s.layer, s.unit, s.upstream, s.upstream_z, s.upstream_q, s.inside_z, s.downstream_z
        );
    }
    if let Some(top) = rep.scores.first() {
        let prof = start_profile(&st, 0, &anchors, (&top.layer, top.unit), 400, 400, 20)?;
        profile_figure(
            &format!("{}/{} around {} starts", top.layer, top.unit, a.kind),
            &prof,
        )?
        .save(a.out.join(format!("lead-lag-{}.svg", a.kind)))?;
    }
    let targets = feature_targets(&st, 0, &rec.features, &[], 50)?;
    let nrep = identify_explainable_neurons(
        &st,
        &targets,
        &NeuronOptions {
            probe: false,
            ..Default::default()
        },
    )?;
    for t in &targets {
        if let Some(b) = nrep.top(&t.name, 1).first() {
            println!(
                "  {:<24} best neuron {} AUROC {:.3} (q {:.1e})",
                t.name,
                b.neuron(),
                b.auroc,
                b.q_bh
            );
        }
    }
    Ok(())
}
