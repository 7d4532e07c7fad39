//! identify_explainable_neurons on annotated genomes that a trained LM never saw.
//!
//! ```sh
//! cargo run --release --example explain_neurons -- --config configs/awd_lstm_small.toml \
//!     --genomes athaliana_chloroplast,phiX174 --every 2 --out runs/explain
//! ```
//! Prints the top neurons for CDS vs non-CDS with FDR-corrected significance, the sparse probe,
//! and the same analysis on shuffled targets; writes tables and figures to `--out`.

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use genolm::explain::neurons::{
    activation_track, identify_explainable_neurons, shift_null, shuffle_targets,
    targets_from_tracks, NeuronOptions,
};
use genolm::infer::{states, PredictOptions};
use genolm::models::GenomicModel;
use genolm::plot::TrackFeature;
use genolm::stats::format_p;
use genolm::train::run::{load_corpus, run_splits, RunConfig};

#[derive(Parser)]
struct Args {
    /// The run whose checkpoint and data split to use.
    #[arg(long, default_value = "configs/awd_lstm_small.toml")]
    config: PathBuf,
    /// Checkpoint (default: the run's output folder).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Annotated genomes to analyse (corpus ids).
    #[arg(long, default_value = "athaliana_chloroplast,phiX174")]
    genomes: String,
    /// Keep every n-th position.
    #[arg(long, default_value_t = 2)]
    every: usize,
    /// Moving-average window (rows) for a second, smoothed analysis.
    #[arg(long, default_value_t = 51)]
    smooth: usize,
    /// Output folder.
    #[arg(long, default_value = "runs/explain")]
    out: PathBuf,
}

fn main() -> genolm::Result<()> {
    let a = Args::parse();
    let cfg = RunConfig::from_file(&a.config)?;
    let corpus = load_corpus(&cfg.data)?;
    let train = run_splits(&corpus, &cfg.data)?.train;
    let ckpt = a
        .model
        .clone()
        .unwrap_or_else(|| PathBuf::from(&cfg.output));
    let model = GenomicModel::load(&ckpt, &candle_core::Device::Cpu)?;
    println!(
        "model {} ({}), {} parameters",
        ckpt.display(),
        model.config().arch_label(),
        model.n_params()
    );
    std::fs::create_dir_all(&a.out).map_err(|e| genolm::Error::io(&a.out, e))?;
    let mut md = String::new();
    for id in a.genomes.split(',') {
        let gi = corpus
            .index_of(id)
            .ok_or_else(|| genolm::Error::Input(format!("no genome {id} in the corpus")))?;
        let g = &corpus.genomes[gi];
        assert!(!train.contains(&gi), "{id} was in training");
        let contig = &g.contigs[0];
        let tracks = contig
            .tracks(&g.track_options())
            .ok_or_else(|| genolm::Error::Input(format!("{id} has no annotation")))??;
        let t0 = Instant::now();
        let st = states(
            &model,
            &[(contig.name.clone(), contig.seq.clone())],
            &PredictOptions {
                every: a.every,
                ..Default::default()
            },
        )?;
        let t_states = t0.elapsed().as_secs_f64();
        let targets = targets_from_tracks(&st, 0, &tracks, 50)?;
        if !targets.iter().any(|t| t.name == "CDS") {
            println!("{id}: too few coding or non-coding positions for a CDS analysis; skipped");
            continue;
        }
        let t1 = Instant::now();
        let rep = identify_explainable_neurons(&st, &targets, &NeuronOptions::default())?;
        let t_explain = t1.elapsed().as_secs_f64();
        // The same with each neuron averaged over a window, and the GC content of that window as a
        // non-neural reference.
        let sm = identify_explainable_neurons(
            &st,
            &targets,
            &NeuronOptions {
                smooth: a.smooth,
                probe: true,
                ..Default::default()
            },
        )?;
        let cds = &targets
            .iter()
            .find(|t| t.name == "CDS")
            .expect("CDS target")
            .values;
        let gc_base: Vec<f32> = contig
            .seq
            .iter()
            .map(|&b| (b == b'G' || b == b'C') as u8 as f32)
            .collect();
        let win = a.smooth * a.every;
        let gc_win: Vec<f32> = (0..contig.seq.len())
            .map(|i| {
                let lo = i.saturating_sub(win / 2);
                let hi = (i + win / 2 + 1).min(contig.seq.len());
                gc_base[lo..hi].iter().sum::<f32>() / (hi - lo) as f32
            })
            .collect();
        let gc_rows = st.align_track(0, &gc_win)?;
        let labels: Vec<bool> = cds.iter().map(|&v| v > 0.5).collect();
        let (gc_auc, _) = genolm::stats::auroc_test(&gc_rows, &labels);
        // Calibrate with circular shifts of the CDS track (keeps the autocorrelation).
        let cds_t = targets
            .iter()
            .find(|t| t.name == "CDS")
            .expect("CDS")
            .clone();
        let mut emp = Vec::new();
        for (label, o) in [
            ("raw", NeuronOptions::default()),
            (
                "smoothed",
                NeuronOptions {
                    smooth: a.smooth,
                    ..Default::default()
                },
            ),
        ] {
            let null = shift_null(&st, &cds_t, &o, 20, 3)?;
            let obs = if label == "raw" {
                rep.top("CDS", 1)[0].effect()
            } else {
                sm.top("CDS", 1)[0].effect()
            };
            let ge = null.iter().filter(|&&x| x >= obs).count();
            let nmax = null.iter().cloned().fold(0.0, f64::max);
            emp.push(format!(
                "{label}: best |AUROC − 0.5| {obs:.3}; over 20 circular shifts of the CDS track the best neuron reaches at most {nmax:.3} (empirical p = {:.3})",
                (1 + ge) as f64 / 21.0
            ));
        }
        let l = format!("\nShift null (autocorrelation kept): {}\n", emp.join("; "));
        print!("{l}");
        md.push_str(&l);
        let shuffled = shuffle_targets(&targets, 1);
        let null = identify_explainable_neurons(
            &st,
            &shuffled,
            &NeuronOptions {
                probe: false,
                ..Default::default()
            },
        )?;
        let head = format!(
            "## {} ({}, {} bp, coding fraction {:.2}; not in training)\n\n{} rows (every {}), {} neurons, {} targets, {} tests; states {:.1} s, analysis {:.1} s.\n\n",
            id,
            g.meta.kingdom,
            contig.seq.len(),
            tracks.coding_fraction(),
            st.n_rows(),
            a.every,
            rep.n_tests / targets.len().max(1),
            targets.len(),
            rep.n_tests,
            t_states,
            t_explain
        );
        print!("{head}");
        md.push_str(&head);
        md.push_str("| neuron | AUROC | accuracy | r | q (BH) | Bonferroni p |\n|---|---|---|---|---|---|\n");
        for s in rep.top("CDS", 5) {
            md.push_str(&format!(
                "| {} | {:.3} | {:.3} | {:+.3} | {} | {} |\n",
                s.neuron(),
                s.auroc,
                s.accuracy,
                s.r,
                format_p(s.q_bh),
                format_p(s.p_bonferroni)
            ));
        }
        print!("{}", rep.print_top("CDS", 5));
        let sig_cds = rep.n_significant("CDS");
        let line = format!(
            "\nFDR-significant neurons for CDS: {sig_cds} of {}; significant neuron × target pairs: {} of {}. On shuffled targets: {} significant pairs.\n",
            rep.n_tests / targets.len().max(1),
            rep.significant().len(),
            rep.n_tests,
            null.significant().len()
        );
        print!("{line}");
        md.push_str(&line);
        for p in rep
            .probes
            .iter()
            .filter(|p| ["CDS", "CDS+", "CDS-", "codon_pos_3"].contains(&p.target.as_str()))
        {
            let l = format!(
                "Sparse probe {}: {} neurons ({}), held-out accuracy {:.3} (majority baseline {:.3}), held-out AUROC {:.3}\n",
                p.target,
                p.neurons.len(),
                p.neurons.iter().take(5).map(|n| n.0.clone()).collect::<Vec<_>>().join(", "),
                p.test_accuracy,
                p.baseline_accuracy,
                p.test_auroc
            );
            print!("{l}");
            md.push_str(&format!("\n{l}"));
        }
        md.push_str(&format!(
            "\nSmoothed over {} rows ({} bp): top CDS neurons\n\n| neuron | AUROC | accuracy | q (BH) |\n|---|---|---|---|\n",
            a.smooth, win
        ));
        for s in sm.top("CDS", 5) {
            md.push_str(&format!(
                "| {} | {:.3} | {:.3} | {} |\n",
                s.neuron(),
                s.auroc,
                s.accuracy,
                format_p(s.q_bh)
            ));
        }
        if let Some(p) = sm.probes.iter().find(|p| p.target == "CDS") {
            md.push_str(&format!(
                "\nSmoothed sparse probe CDS: {} neurons, held-out accuracy {:.3} (baseline {:.3}), AUROC {:.3}\n",
                p.neurons.len(), p.test_accuracy, p.baseline_accuracy, p.test_auroc
            ));
        }
        let l = format!(
            "\nGC content of the same {win}-bp window as a CDS predictor: AUROC {gc_auc:.3}\n\n"
        );
        md.push_str(&l);
        print!("smoothed:\n{}{}", sm.print_top("CDS", 5), l);
        let dir = a.out.join(id);
        rep.table()?.to_csv(dir.join("neurons.csv"))?;
        rep.probe_table()?.to_csv(dir.join("probes.csv"))?;
        rep.plot(30)?.save(dir.join("heatmap.svg"))?;
        let top: Vec<(String, usize)> = rep
            .top("CDS", 3)
            .iter()
            .map(|s| (s.layer.clone(), s.unit))
            .collect();
        let feats = TrackFeature::cds(contig.features.as_deref().unwrap_or(&[]));
        let to = contig.seq.len().min(20_000);
        activation_track(&st, 0, &top, &feats, 0, to)?.save(dir.join("track.svg"))?;
    }
    genolm::fsio::atomic_write(&a.out.join("report.md"), md.as_bytes())?;
    println!("wrote {}", a.out.display());
    Ok(())
}
