//! The analyses of the quickstart after training: the benchmark against the Markov floor on
//! held-out genomes, the states of a held-out annotated genome written to HDF5, its
//! explainable neurons next to a shift null, and the report sections that tell the story —
//! including, when a number is bad, why. Each step calls the library's one entry point for it
//! ([`benchmark`], [`write_states`], [`identify_explainable_neurons`]), as a user would.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::Report;
use crate::bench::{benchmark, BenchOptions, BenchRow, BenchmarkReport, Task};
use crate::data::corpus::Corpus;
use crate::explain::neurons::{
    activation_track, identify_explainable_neurons, shift_null, targets_from_tracks, NeuronOptions,
    NeuronReport,
};
use crate::infer::{read_states, write_states, H5Layout, PredictOptions, StatesSummary};
use crate::models::GenomicModel;
use crate::plot::{Figure, TrackFeature};
use crate::{Error, Result};

/// Options of [`analyse`].
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    /// Genomes the model (and every model it was fine-tuned from) trained on; everything else
    /// in the corpus is held out.
    pub train_genomes: Vec<String>,
    /// Folder for `states.h5` and `benchmark.json`.
    pub out: PathBuf,
    /// Held-out annotated genome for states and neurons (`None`: the largest one).
    pub genome: Option<String>,
    /// Bases of its first contig analysed.
    pub bases: usize,
    /// Bases scored per held-out genome in the benchmark.
    pub bench_bases: usize,
    /// A state row every `every` tokens.
    pub every: usize,
    /// Circular shifts of the CDS track for the null.
    pub shifts: usize,
    /// Seed of the benchmark, the probe and the null.
    pub seed: u64,
    /// Print each step.
    pub verbose: bool,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        PipelineOptions {
            train_genomes: Vec::new(),
            out: PathBuf::from("runs/quickstart"),
            genome: None,
            bases: 30_000,
            bench_bases: 20_000,
            every: 2,
            shifts: 5,
            seed: 42,
            verbose: true,
        }
    }
}

/// What [`analyse`] found.
pub struct Findings {
    /// The benchmark's transfer task: per held-out kingdom, per held-out genome and on reads,
    /// the model's cross-entropy next to the order-6 Markov chain's.
    pub bench: BenchmarkReport,
    /// The HDF5 states file.
    pub states: StatesSummary,
    /// The held-out annotated genome analysed, and how many of its bases.
    pub genome: String,
    /// Bases analysed.
    pub bases: usize,
    /// A state row every `every` tokens.
    pub every: usize,
    /// Every neuron against every annotation target.
    pub neurons: NeuronReport,
    /// Best `|AUROC − 0.5|` of any neuron for CDS under each circular shift of the track.
    pub cds_null: Vec<f64>,
    /// The three best CDS neurons along the genome, with its genes.
    pub activation: Figure,
    /// Plain-language verdicts, one per check (model vs ln 4, vs Markov, neurons vs null).
    pub verdicts: Vec<String>,
}

impl Findings {
    /// The best CDS neuron's AUROC in its better direction (`0.5 + |AUROC − 0.5|`).
    pub fn best_cds_auroc(&self) -> f64 {
        self.neurons
            .top("CDS", 1)
            .first()
            .map(|s| 0.5 + s.effect())
            .unwrap_or(f64::NAN)
    }

    /// The sparse CDS probe's held-out AUROC (NaN without one).
    pub fn probe_auroc(&self) -> f64 {
        self.neurons
            .probes
            .iter()
            .find(|p| p.target == "CDS")
            .map(|p| p.test_auroc)
            .unwrap_or(f64::NAN)
    }
}

fn pick_genome(corpus: &Corpus, train: &[String], want: Option<&str>) -> Result<usize> {
    let held = |i: usize| !train.contains(&corpus.genomes[i].meta.id);
    if let Some(id) = want {
        let g = corpus
            .index_of(id)
            .ok_or_else(|| Error::Input(format!("corpus {} has no genome {id:?}", corpus.name)))?;
        if !held(g) {
            return Err(Error::Input(format!(
                "{id} was used in training: neurons are found on a held-out genome"
            )));
        }
        return Ok(g);
    }
    (0..corpus.genomes.len())
        .filter(|&i| held(i) && corpus.genomes[i].is_annotated())
        .max_by_key(|&i| corpus.genomes[i].contigs[0].seq.len())
        .ok_or_else(|| Error::Input("no held-out genome is annotated".into()))
}

/// Benchmark `model` against the Markov floor, write the states of a held-out annotated genome
/// to `out/states.h5` and find its explainable neurons (see the module docs).
pub fn analyse(model: &GenomicModel, corpus: &Corpus, opts: &PipelineOptions) -> Result<Findings> {
    let say = |s: &str| {
        if opts.verbose {
            println!("{s}");
        }
    };
    std::fs::create_dir_all(&opts.out).map_err(|e| Error::io(&opts.out, e))?;
    say("\nbenchmark on the held-out genomes, next to an order-6 Markov chain fitted on the training genomes");
    let bench = benchmark(
        model,
        &BenchOptions {
            tasks: vec![Task::Transfer],
            train_genomes: Some(opts.train_genomes.clone()),
            seed: opts.seed,
            bases_per_genome: opts.bench_bases,
            chunk_len: opts.bench_bases.clamp(1, 5_000),
            verbose: false,
            ..Default::default()
        },
    )?;
    bench.save_json(opts.out.join("benchmark.json"))?;
    say(&floor_text(&bench));

    let g = pick_genome(corpus, &opts.train_genomes, opts.genome.as_deref())?;
    let genome = &corpus.genomes[g];
    let contig = &genome.contigs[0];
    let n = opts.bases.min(contig.seq.len());
    let window = (contig.name.clone(), contig.seq[..n].to_vec());
    let h5 = opts.out.join("states.h5");
    // both strands, as the benchmark's neuron tasks read them: a causal model's forward state
    // has not read the bases to its right, nor the minus strand's genes
    let popts = PredictOptions {
        every: opts.every,
        reverse_strand: true,
        ..Default::default()
    };
    let states = write_states(model, &[window], &h5, &popts, H5Layout::Genolm)?;
    say(&format!(
        "\nstates of held-out {} ({}, first {n} bp, both strands, a row every {} tokens): {} rows, layers {} → {}",
        genome.meta.id,
        contig.name,
        opts.every,
        states.n_rows,
        states
            .layers
            .iter()
            .map(|(l, u)| format!("{l} ({u})"))
            .collect::<Vec<_>>()
            .join(", "),
        h5.display()
    ));
    let st = read_states(&h5)?;
    let tracks = contig
        .tracks(&genome.track_options())
        .ok_or_else(|| Error::Input(format!("{} has no annotation", genome.meta.id)))??
        .window(0..n);
    let targets = targets_from_tracks(&st, 0, &tracks, 50)?;
    let nopts = NeuronOptions {
        smooth: 51,
        seed: opts.seed,
        ..Default::default()
    };
    let neurons = identify_explainable_neurons(&st, &targets, &nopts)?;
    let cds = targets
        .iter()
        .find(|t| t.name == "CDS")
        .ok_or_else(|| Error::Input(format!("{}: too few CDS or non-CDS bases", genome.meta.id)))?;
    let cds_null = shift_null(&st, cds, &nopts, opts.shifts, opts.seed)?;
    let top: Vec<(String, usize)> = neurons
        .top("CDS", 3)
        .iter()
        .map(|s| (s.layer.clone(), s.unit))
        .collect();
    let genes = TrackFeature::cds(contig.features.as_deref().unwrap_or(&[]));
    let activation = activation_track(&st, 0, &top, &genes, 0, n.min(12_000))?;
    let mut f = Findings {
        bench,
        states,
        genome: genome.meta.id.clone(),
        bases: n,
        every: opts.every,
        neurons,
        cds_null,
        activation,
        verdicts: Vec::new(),
    };
    say(&neuron_text(&f));
    f.verdicts = verdicts(&f);
    for v in &f.verdicts {
        say(&format!("  · {v}"));
    }
    Ok(f)
}

/// A transfer row's informed-random loss `ln(4^s)` (NaN when not recorded).
fn informed_random(r: &BenchRow) -> f64 {
    r.extra
        .iter()
        .find(|e| e.0 == "informed_random")
        .map_or(f64::NAN, |e| e.1)
}

/// The transfer rows as lines: model vs Markov vs ln 4 per kingdom and genome.
pub fn floor_text(bench: &BenchmarkReport) -> String {
    let mut s = format!(
        "  {:<26} {:>9} {:>9} {:>9} {:>8}\n",
        "held out", "model", "Markov-6", "ln 4", "tokens"
    );
    for r in bench.rows.iter().filter(|r| r.metric == "cross_entropy") {
        let ir = informed_random(r);
        let name = if r.task == "transfer_genome" {
            format!("  {}", r.dataset)
        } else {
            r.dataset.clone()
        };
        let _ = writeln!(
            s,
            "  {:<26} {:>9.4} {:>9.4} {:>9.4} {:>8}",
            name, r.value, r.baseline, ir, r.n
        );
    }
    s.trim_end().to_string()
}

/// The transfer rows as a dot plot: model and Markov cross-entropy per held-out genome,
/// kingdom and reads, with ln 4 as the reference line.
pub fn floor_figure(bench: &BenchmarkReport) -> Result<Figure> {
    let rows: Vec<_> = bench
        .rows
        .iter()
        .filter(|r| r.metric == "cross_entropy")
        .collect();
    let labels: Vec<String> = rows
        .iter()
        .map(|r| match r.task.as_str() {
            "transfer_genome" => r.dataset.clone(),
            _ if r.dataset.ends_with("_reads") => format!("{} (reads)", &r.dataset[..3]),
            _ => format!("{} (all)", r.dataset),
        })
        .collect();
    let ir = rows.first().map(|r| informed_random(r));
    Figure::dots(
        &format!("{}: held-out loss vs the Markov floor", bench.model),
        "cross-entropy (nats per token)",
        &labels,
        &[
            ("model".into(), rows.iter().map(|r| r.value).collect()),
            (
                rows.first()
                    .map(|r| r.baseline_name.clone())
                    .unwrap_or_default(),
                rows.iter().map(|r| r.baseline).collect(),
            ),
        ],
        ir.map(|x| ("ln 4", x)),
    )
}

fn neuron_text(f: &Findings) -> String {
    let null_max = f.cds_null.iter().cloned().fold(0.0, f64::max);
    format!(
        "explainable neurons of {} ({} neuron × target pairs, {} FDR-significant):\n{}\n  best CDS neuron AUROC {:.3}; best any neuron reaches with the CDS track shifted: {:.3}; sparse CDS probe held-out AUROC {:.3}",
        f.genome,
        f.neurons.n_tests,
        f.neurons.significant().len(),
        f.neurons.print_top("CDS", 5).trim_end(),
        f.best_cds_auroc(),
        0.5 + null_max,
        f.probe_auroc()
    )
}

/// Checks a user reads first, each with its reason when it fails.
fn verdicts(f: &Findings) -> Vec<String> {
    let mut v = Vec::new();
    for r in f
        .bench
        .rows
        .iter()
        .filter(|r| r.task == "transfer" && !r.dataset.ends_with("_reads"))
    {
        let ir = informed_random(r);
        let vs_random = if r.value < ir {
            format!("{:.4} below ln 4", ir - r.value)
        } else {
            format!(
                "{:.4} ABOVE ln 4: it predicts these genomes worse than the 3-mer overlap alone \
                 (too little training, or genomes unlike the training ones)",
                r.value - ir
            )
        };
        let vs_markov = if r.value < r.baseline {
            format!("{:.4} below the Markov floor", r.baseline - r.value)
        } else {
            format!(
                "{:.4} ABOVE the Markov floor: an order-6 Markov chain, fitted in a second, \
                 predicts better; a small LM needs about 20 minutes of training to pass it \
                 (docs/training.md)",
                r.value - r.baseline
            )
        };
        v.push(format!(
            "{} held-out genomes: {:.4} nats/token, {vs_random}, {vs_markov}",
            r.dataset, r.value
        ));
    }
    let null_max = 0.5 + f.cds_null.iter().cloned().fold(0.0, f64::max);
    let best = f.best_cds_auroc();
    v.push(if best > null_max {
        format!(
            "a neuron tracks coding sequence on {} (AUROC {best:.3}), above anything the shifted \
             track reaches ({null_max:.3}): the model learned where genes are without being told",
            f.genome
        )
    } else {
        format!(
            "no neuron tracks coding sequence on {} better than chance: the best reaches \
             {best:.3}, a shifted track {null_max:.3} (neighbouring bases are correlated, so the \
             null is high on a short window; a better-trained model or more bases help)",
            f.genome
        )
    });
    v
}

/// The report sections of [`Findings`]: the floor table and figure, the states file, the
/// neurons (table, heatmap, activations along the genome) and the verdicts.
pub fn findings_sections(r: &mut Report, f: &Findings, states_dir: &Path) -> Result<()> {
    r.heading("Against the floor: held-out genomes");
    r.text(
        "Cross-entropy (nats per 3-mer token) on genomes no model in this run trained on, next \
         to an order-6 Markov chain fitted on the training genomes, the non-neural floor a \
         language model must pass, and ln 4, what the 3-mer overlap alone gives. Kingdom rows \
         pool their genomes; reads are 150-nt fragments scored alone.",
    );
    for (i, t) in f.verdicts.iter().enumerate() {
        r.text(format!("Finding {}: {t}.", i + 1));
    }
    r.figure(
        "benchmark",
        &floor_figure(&f.bench)?,
        "Cross-entropy per held-out genome, kingdom (pooled) and 150-nt reads: the model, the \
         order-6 Markov chain, and ln 4 (dashed). Left is better.",
    );
    r.table(
        "benchmark",
        &f.bench.table()?,
        "The benchmark's transfer task, every metric.",
    );
    r.heading(format!("Explainable neurons on {}", f.genome));
    r.text(format!(
        "States of every layer along the first {} bp of held-out {} (a row every {} tokens, \
         {} rows) are in {} (h5py: `h5py.File(path)['layers']`). Each neuron, smoothed over 51 \
         rows, is scored against the annotation (CDS, strand, codon position, amino acids) by \
         AUROC with Benjamini–Hochberg FDR; the null is the best neuron against the CDS track \
         circularly shifted ({} shifts). Best CDS neuron {:.3}, best under the null {:.3}, \
         sparse probe {:.3} on held-out rows.",
        f.bases,
        f.genome,
        f.every,
        f.states.n_rows,
        states_dir.join("states.h5").display(),
        f.cds_null.len(),
        f.best_cds_auroc(),
        0.5 + f.cds_null.iter().cloned().fold(0.0, f64::max),
        f.probe_auroc()
    ));
    r.table(
        "neurons",
        &f.neurons.table()?,
        "Every neuron × target pair, best first.",
    );
    r.figure(
        "neurons",
        &f.neurons.plot(20)?,
        "The 20 best neurons (rows) against every target (AUROC; 0.5 = no information).",
    );
    r.figure(
        "cds_neurons",
        &f.activation,
        "The three best CDS neurons along the genome, genes beneath (forward strand above).",
    );
    r.metric("best_cds_auroc", f.best_cds_auroc());
    r.metric("cds_probe_auroc", f.probe_auroc());
    for row in f.bench.rows.iter().filter(|r| r.task == "transfer") {
        r.metric(&format!("heldout_{}_ce", row.dataset), row.value);
        r.metric(&format!("heldout_{}_markov_ce", row.dataset), row.baseline);
    }
    Ok(())
}
