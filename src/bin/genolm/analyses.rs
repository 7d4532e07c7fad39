//! Subcommands that reach the analyses without writing Rust: `states`, `explain neurons`,
//! `explain attribution`, `explain depmap`, `variants`. Each parses its arguments, calls one
//! library function per input record and writes machine-readable files (CSV, HDF5, JSON) and
//! figures (SVG) into an output folder; errors exit with code 2.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use genolm::data::annotation::read_annotation;
use genolm::data::fasta::SeqRecord;
use genolm::data::tracks::{TrackOptions, Tracks};
use genolm::explain::attribution::{ism, AttributionOptions};
use genolm::explain::depmap::{dependency_map, DepMapOptions};
use genolm::explain::methods::{attribute, AttributionMethod, MethodOptions};
use genolm::explain::neurons::{identify_explainable_neurons, targets_from_tracks, NeuronOptions};
use genolm::infer::{read_states, write_states, H5Layout, PredictOptions};
use genolm::models::{DeviceChoice, GenomicModel};
use genolm::{Error, Result};

/// `genolm states`.
#[derive(Args)]
pub struct StatesArgs {
    /// Checkpoint: a `.safetensors` file or a run folder.
    model: PathBuf,
    /// FASTA or FASTQ, or GenBank / GFF3 with its sequence (plain, gzip or bgzip): one row per
    /// kept token of every record.
    seqs: PathBuf,
    /// The HDF5 file to write (atomically).
    #[arg(long, short)]
    out: PathBuf,
    /// Layers to keep (comma-separated: embed, conv.i, lstm.i, attn.i, body; default all).
    #[arg(long, value_delimiter = ',')]
    layers: Vec<String>,
    /// Keep every N-th token position.
    #[arg(long, default_value_t = 1)]
    every: usize,
    /// `genolm` (every layer, row index, sequences) or `deepg` (one layer, deepG's names).
    #[arg(long, default_value = "genolm")]
    layout: H5Layout,
    /// Also keep the LM head's log-probabilities (`log_probs`).
    #[arg(long)]
    log_probs: bool,
    /// Also read every record's reverse complement and keep its layers as `rc.<layer>`, each
    /// row aligned to the same base (a causal model's view of what lies right of each base;
    /// genolm layout only).
    #[arg(long)]
    reverse_strand: bool,
    /// Rows per forward pass.
    #[arg(long, default_value_t = 16)]
    batch_size: usize,
}

/// `genolm explain …`.
#[derive(Subcommand)]
pub enum ExplainCmd {
    /// Which neurons encode annotated features: states (HDF5 from `genolm states`) against
    /// the CDS / codon-position / amino-acid tracks of a GenBank or GFF3 file.
    Neurons(NeuronArgs),
    /// Which bases drive the model's output: a per-base (k = 1) or per-token map per record.
    Attribution(AttributionArgs),
    /// Nucleotide dependency map per record: how a substitution at i changes the prediction at j.
    Depmap(DepmapArgs),
    /// Motifs from attributions (TF-MoDISco-lite): DeepSHAP / IG / ISM / … per sequence →
    /// seqlets → clustered motifs (PWM, CWM, logos) matched to a JASPAR database with Tomtom
    /// p-values; or (`--method filters`) one PWM per first-layer convolution filter.
    Motifs(super::motifs::MotifArgs),
}

/// `genolm explain neurons`.
#[derive(Args)]
pub struct NeuronArgs {
    /// States file written by `genolm states` (genolm layout).
    states: PathBuf,
    /// GenBank or GFF3 annotation of the sequences the states were computed on.
    #[arg(long)]
    annotation: PathBuf,
    /// FASTA of a GFF3 annotation without its own `##FASTA` section.
    #[arg(long)]
    fasta: Option<PathBuf>,
    /// Output folder: neurons.csv, probes.csv, top.txt, heatmap.svg.
    #[arg(long, short)]
    out: PathBuf,
    /// Smallest class (rows) a target needs.
    #[arg(long, default_value_t = 50)]
    min_class: usize,
    /// Genetic code for CDS without one (11 bacteria/plastids, 1 standard).
    #[arg(long, default_value_t = 11)]
    code: u8,
    /// Neurons per target in top.txt.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Skip the sparse L1 probes (faster).
    #[arg(long)]
    no_probe: bool,
    /// Average each neuron over this many rows centred on each row (within a record) before
    /// scoring, as the benchmark's neuron tasks do (51); 1 = no smoothing.
    #[arg(long, default_value_t = 1)]
    smooth: usize,
    /// Also analyse each unit read on both strands: layers `both.<layer>`, the mean of its
    /// forward and `rc.<layer>` readings at each base (states written with `--reverse-strand`).
    /// A unit that marks genes on the strand it reads then marks genes on either strand.
    #[arg(long)]
    strand_means: bool,
}

/// A model and windows of the records of a FASTA/FASTQ file, one output pair per record.
#[derive(Args)]
pub struct Windows {
    /// Checkpoint: a `.safetensors` file or a run folder.
    model: PathBuf,
    /// FASTA or FASTQ, or GenBank / GFF3 with its sequence (plain, gzip or bgzip); each record's
    /// `--start..--end` window is analysed.
    seqs: PathBuf,
    /// Output folder: `<record>.csv` and `<record>.svg` per record.
    #[arg(long, short)]
    out: PathBuf,
    /// First base of the window (0-based).
    #[arg(long, default_value_t = 0)]
    start: usize,
    /// End of the window (exclusive; default: start + 2000 for attributions, start + 200 for
    /// dependency maps, which have L² cells and score 3L variants; at most the record's end).
    #[arg(long)]
    end: Option<usize>,
}

/// `genolm explain attribution`.
#[derive(Args)]
pub struct AttributionArgs {
    #[command(flatten)]
    w: Windows,
    /// Method (DeepSHAP prints its summation-to-delta check).
    #[arg(long, value_enum, default_value = "integrated-gradients")]
    method: AttributionMethod,
    /// Integrated gradients: steps.
    #[arg(long, default_value_t = 64)]
    steps: usize,
}

/// `genolm explain depmap`.
#[derive(Args)]
pub struct DepmapArgs {
    #[command(flatten)]
    w: Windows,
}

/// `predictions.csv`: each test item's origin, label, arg-max class and class probabilities.
fn write_predictions<P: Copy + std::fmt::Display + Into<f64>>(
    out: &Path,
    classes: &[String],
    test: &[genolm::data::tasks::LabelledSeq],
    probs: &[Vec<P>],
) -> Result<()> {
    let name = |i: usize| classes[i].replace([',', '"'], "_");
    let mut csv = String::from("origin,label,predicted");
    for i in 0..classes.len() {
        csv.push_str(&format!(",p_{}", name(i)));
    }
    csv.push('\n');
    for (x, p) in test.iter().zip(probs) {
        let arg = genolm::stats::argmax(p);
        csv.push_str(&format!(
            "\"{}\",{},{}",
            x.origin.replace('"', "'"),
            name(x.label as usize),
            name(arg)
        ));
        for v in p {
            csv.push_str(&format!(",{v}"));
        }
        csv.push('\n');
    }
    genolm::fsio::atomic_write(&out.join("predictions.csv"), csv.as_bytes())
}

/// The part of `metrics.json` every classifier writes: test accuracy and the other metrics, the
/// test size, the classes and the pretrained LM.
fn test_metrics(
    (accuracy, named): (f64, Vec<(&str, f64)>),
    n_test: usize,
    classes: &[String],
    pretrained: Option<&Path>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut metrics = serde_json::Map::new();
    metrics.insert("accuracy".into(), accuracy.into());
    for (n, v) in named {
        metrics.insert(n.into(), v.into());
    }
    metrics.insert("n_test".into(), n_test.into());
    metrics.insert("classes".into(), classes.to_vec().into());
    metrics.insert(
        "pretrained".into(),
        pretrained.map(|p| p.display().to_string()).into(),
    );
    metrics
}

/// `genolm classify --generative`: class-conditional LMs fine-tuned from `--lm`.
fn classify_generative(
    a: &ClassifyArgs,
    classes: &[String],
    train: &[genolm::data::tasks::LabelledSeq],
    test: &[genolm::data::tasks::LabelledSeq],
) -> Result<()> {
    use genolm::bench::generative::{generative_classify, GenerativeOptions};
    let path = a.lm.as_ref().expect("clap requires --lm with --generative");
    let lm = load_model(path)?;
    let opts = GenerativeOptions {
        lr: a.generative_lr,
        min_steps: a.generative_steps,
        valid_fraction: a.generative_valid,
        both_strands: a.both_strands,
        seed: a.seed,
        ..Default::default()
    };
    let fit = generative_classify(&lm, train, test, classes.len(), &opts)?;
    let (probs, class_lms) = (&fit.probs, &fit.class_lms);
    out_dir(&a.out)?;
    let labels: Vec<u32> = test.iter().map(|x| x.label).collect();
    let scored = genolm::stats::class_metrics(probs, &labels);
    let accuracy = scored.0;
    let mut metrics = test_metrics(scored, test.len(), classes, Some(path));
    metrics.insert("method".into(), "class-conditional LMs".into());
    metrics.insert("n_train".into(), train.len().into());
    metrics.insert(
        "calibration".into(),
        serde_json::to_value(&fit.calibration).expect("calibration serialises"),
    );
    metrics.insert(
        "class_lm_epochs".into(),
        serde_json::json!(classes
            .iter()
            .zip(&fit.epochs)
            .map(|(c, (kept, run))| (c.clone(), serde_json::json!({"kept": kept, "run": run})))
            .collect::<serde_json::Map<_, _>>()),
    );
    let json = serde_json::to_vec_pretty(&metrics).expect("metrics serialise");
    genolm::fsio::atomic_write(&a.out.join("metrics.json"), &json)?;
    write_predictions(&a.out, classes, test, probs)?;
    for (c, m) in classes.iter().zip(class_lms) {
        m.save(a.out.join(format!("class_lm_{}.safetensors", file_stem(c))))?;
    }
    println!(
        "{} train / {} test items; class-conditional LMs; test accuracy {accuracy:.3}; wrote {}",
        train.len(),
        test.len(),
        a.out.display()
    );
    Ok(())
}

/// `genolm variants`.
#[derive(Args)]
pub struct VariantsArgs {
    /// Checkpoint: a `.safetensors` file or a run folder.
    model: PathBuf,
    /// VCF (plain, gzip or bgzip) of single-base substitutions.
    #[arg(long)]
    vcf: PathBuf,
    /// The reference the VCF is against: FASTA, or GenBank (every REF is checked).
    #[arg(long)]
    fasta: PathBuf,
    /// Output CSV: chrom, pos, ref, alt, LLR (both strands), embedding distance, Markov LLR.
    #[arg(long, short)]
    out: PathBuf,
    /// Bases on each side of the variant (a causal LM needs a long left flank to be in a gene's
    /// reading frame: docs/benchmark-results.md).
    #[arg(long, default_value_t = 256)]
    flank: usize,
    /// Also score every simple allele — indels and multi-base substitutions included — into
    /// this CSV: chrom, pos, id, ref, alt, kind, window LLR, right-flank LLR.
    #[arg(long)]
    alleles: Option<PathBuf>,
}

/// `genolm classify`.
#[derive(Args)]
pub struct ClassifyArgs {
    /// The pretrained language model: a `.safetensors` file or a run folder. Without it the
    /// classifier is trained from scratch (a fresh `--preset` model, the same recipe).
    #[arg(long)]
    lm: Option<PathBuf>,
    /// Model preset of a classifier trained from scratch (without --lm).
    #[arg(long, default_value = "awd_lstm_small")]
    preset: String,
    /// Labelled sequences: a CSV or TSV (plain or gzip) with a header naming `sequence` and
    /// `label` (class names such as `promoter` or indices 0, 1, …; other columns are ignored),
    /// or a folder with one FASTA file per class (the class is the file name).
    #[arg(long)]
    data: PathBuf,
    /// Output folder: metrics.json, predictions.csv, history.csv, classifier.safetensors.
    #[arg(long, short)]
    out: PathBuf,
    /// Seed of the stratified 80/20 split, the head and the batch order.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Labelled test items in the same forms as --data (CSV, or one FASTA per class), with
    /// classes named as in --data: all of --data trains and these are scored (e.g. a benchmark's
    /// own train/test files, or test reads from other genomes). Without it, a stratified 20 %
    /// of --data is the test set.
    #[arg(long)]
    test: Option<PathBuf>,
    /// Epochs of the four gradual-unfreezing cycles (head, +1 group, +2 groups, all).
    #[arg(long, value_delimiter = ',', default_value = "4,3,3,6")]
    epochs: Vec<usize>,
    /// Peak learning rates of the four cycles (default: the recipe's, see
    /// `UlmfitOptions::cls_lrs`).
    #[arg(long, value_delimiter = ',')]
    lrs: Option<Vec<f64>>,
    /// Train every layer from the start (no gradual unfreezing).
    #[arg(long)]
    no_unfreeze: bool,
    /// Stratified fraction of the training items held out to pick the best epoch and stop
    /// cycles early (0: keep the last epoch). Held out only when every class keeps
    /// --min-valid-per-class items in it; smaller sets train every epoch on all items.
    #[arg(long, default_value_t = 0.15)]
    valid_fraction: f64,
    /// See --valid-fraction.
    #[arg(long, default_value_t = 50)]
    min_valid_per_class: usize,
    /// Average each test item's class probabilities over both strands (for labels that do not
    /// depend on the strand, such as reads' species or kingdom).
    #[arg(long)]
    both_strands: bool,
    /// Classify with class-conditional LMs instead of a classifier head: the --lm fine-tuned
    /// once per class on that class's training sequences, each test item assigned by Bayes'
    /// rule from its likelihood under each (writes class_lm_<class>.safetensors; --epochs,
    /// --lrs and --no-unfreeze do not apply).
    #[arg(long, requires = "lm")]
    generative: bool,
    /// With --generative: optimizer steps per class at least, and the peak learning rate.
    #[arg(long, default_value_t = 60)]
    generative_steps: usize,
    /// See --generative-steps.
    #[arg(long, default_value_t = 2e-3)]
    generative_lr: f64,
    /// With --generative: share of each class's training items held out to pick each class
    /// LM's best epoch and to calibrate the class scores (e.g. 0.2; classes need at least 8
    /// items). Off by default: on the benchmark's tasks the items held out cost more accuracy
    /// than the calibration gains (docs/training.md).
    #[arg(long, default_value_t = 0.0)]
    generative_valid: f64,
}

pub(crate) fn load_model(path: &Path) -> Result<GenomicModel> {
    GenomicModel::load(path, &DeviceChoice::Auto.open()?)
}

pub(crate) fn records(path: &Path) -> Result<Vec<SeqRecord>> {
    let recs = genolm::data::input::read_sequences(path)?;
    if recs.is_empty() {
        return Err(Error::Input(format!("{}: no sequences", path.display())));
    }
    Ok(recs)
}

pub(crate) fn out_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

/// A file name for a record (its name with path separators and odd characters replaced).
pub(crate) fn file_stem(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `start..end` of a record, checked.
fn window(r: &SeqRecord, start: usize, end: Option<usize>, default_len: usize) -> Result<&[u8]> {
    let end = end.unwrap_or(start + default_len).min(r.seq.len());
    if start >= end {
        return Err(Error::Input(format!(
            "{}: window {start}..{end} is empty (the record has {} bases)",
            r.name,
            r.seq.len()
        )));
    }
    Ok(&r.seq[start..end])
}

/// `genolm states`.
pub fn states(a: StatesArgs) -> Result<()> {
    let model = load_model(&a.model)?;
    let recs = records(&a.seqs)?;
    let opts = PredictOptions {
        batch_size: a.batch_size,
        every: a.every,
        layers: a.layers,
        log_probs: a.log_probs,
        reverse_strand: a.reverse_strand,
        ..Default::default()
    };
    let s = write_states(&model, &recs, &a.out, &opts, a.layout)?;
    println!(
        "wrote {}: {} rows of {} records; layers {}",
        s.path.display(),
        s.n_rows,
        s.records.len(),
        s.layers
            .iter()
            .map(|(n, w)| format!("{n} ({w})"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// `genolm explain …`.
pub fn explain(cmd: ExplainCmd) -> Result<()> {
    match cmd {
        ExplainCmd::Neurons(a) => neurons(a),
        ExplainCmd::Attribution(a) => attribution(a),
        ExplainCmd::Depmap(a) => depmap(a),
        ExplainCmd::Motifs(a) => super::motifs::motifs(a),
    }
}

fn neurons(a: NeuronArgs) -> Result<()> {
    let mut st = read_states(&a.states)?;
    if a.strand_means {
        let both = st.strand_means().ok_or_else(|| {
            Error::Input(format!(
                "{}: --strand-means needs reverse-strand layers (rc.<layer>); write the states \
                 with `genolm states --reverse-strand`",
                a.states.display()
            ))
        })?;
        st.layers.extend(both.layers);
    }
    let ann = read_annotation(&a.annotation, a.fasta.as_deref())?;
    let topts = TrackOptions {
        default_code: a.code,
        ..Default::default()
    };
    // the first annotated sequence the states file holds: by name, else by identical bases
    // (a FASTA written with a header of its own)
    let by_name = |s: &&genolm::data::annotation::AnnotatedSequence| {
        st.records.iter().position(|r| r.name == s.name)
    };
    let by_bases = |s: &&genolm::data::annotation::AnnotatedSequence| {
        st.sequences
            .iter()
            .position(|q| q.eq_ignore_ascii_case(&s.seq))
    };
    let (record, seq) = ann
        .iter()
        .find_map(|s| by_name(&s).map(|i| (i, s)))
        .or_else(|| ann.iter().find_map(|s| by_bases(&s).map(|i| (i, s))))
        .ok_or_else(|| {
            Error::Input(format!(
                "none of the sequences of {} ({}) is in {} ({}), by name or by its bases",
                a.annotation.display(),
                ann.iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                a.states.display(),
                st.records
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
    let tracks = Tracks::from_annotation(seq, &topts)?;
    let targets = targets_from_tracks(&st, record, &tracks, a.min_class)?;
    if targets.is_empty() {
        return Err(Error::Input(format!(
            "{}: no target has {} rows in each class",
            seq.name, a.min_class
        )));
    }
    let rep = identify_explainable_neurons(
        &st,
        &targets,
        &NeuronOptions {
            probe: !a.no_probe,
            smooth: a.smooth,
            ..Default::default()
        },
    )?;
    out_dir(&a.out)?;
    rep.table()?.to_csv(a.out.join("neurons.csv"))?;
    if !a.no_probe {
        rep.probe_table()?.to_csv(a.out.join("probes.csv"))?;
    }
    rep.plot(30)?.save(a.out.join("heatmap.svg"))?;
    let top: Vec<String> = targets
        .iter()
        .map(|t| rep.print_top(&t.name, a.top))
        .collect();
    genolm::fsio::atomic_write(&a.out.join("top.txt"), top.join("\n").as_bytes())?;
    println!(
        "{}: {} targets, {} significant neuron–target pairs; wrote {}",
        seq.name,
        targets.len(),
        rep.significant().len(),
        a.out.display()
    );
    Ok(())
}

fn attribution(a: AttributionArgs) -> Result<()> {
    let w = &a.w;
    let model = load_model(&w.model)?;
    let recs = records(&w.seqs)?;
    out_dir(&w.out)?;
    let opts = MethodOptions {
        method: a.method,
        steps: a.steps,
        seed: 1,
        ..Default::default()
    };
    for r in &recs {
        let seq = window(r, w.start, w.end, 2000)?;
        let stem = w.out.join(file_stem(&r.name));
        let (table, fig) = if a.method == AttributionMethod::Ism {
            // ISM keeps its own table and heatmap (every substitution's effect)
            let m = ism(&model, seq, &AttributionOptions::of(opts.objective))?;
            (m.table()?, m.plot()?)
        } else {
            let at = attribute(&model, seq, &opts)?;
            if let Some(c) = &at.convergence {
                let (site, res) = c.worst_site().unwrap_or(("-", 0.0));
                println!(
                    "{}: summation-to-delta max |Δ| = {:.2e} over {} references{}",
                    r.name,
                    c.max_abs_delta,
                    c.deltas.len(),
                    if c.holds(1e-3) {
                        String::new()
                    } else {
                        format!(" — NOT within 1e-3; least exact layer {site} ({res:.1e})")
                    }
                );
            }
            (at.table()?, at.plot()?)
        };
        table.to_csv(stem.with_extension("csv"))?;
        fig.save(stem.with_extension("svg"))?;
        println!(
            "{}: {} bases → {}.csv/.svg",
            r.name,
            seq.len(),
            stem.display()
        );
    }
    Ok(())
}

fn depmap(a: DepmapArgs) -> Result<()> {
    let w = &a.w;
    let model = load_model(&w.model)?;
    let recs = records(&w.seqs)?;
    out_dir(&w.out)?;
    for r in &recs {
        let seq = window(r, w.start, w.end, 200)?;
        let dm = dependency_map(&model, seq, &DepMapOptions::default())?;
        let stem = w.out.join(file_stem(&r.name));
        dm.table()?.to_csv(stem.with_extension("csv"))?;
        dm.plot()?.save(stem.with_extension("svg"))?;
        println!(
            "{}: {} bases, {} passes in {:.1} s → {}.csv/.svg",
            r.name,
            seq.len(),
            dm.passes,
            dm.seconds,
            stem.display()
        );
    }
    Ok(())
}

/// `genolm classify`.
pub fn classify(a: ClassifyArgs) -> Result<()> {
    use genolm::data::tasks::{read_labelled, stratified_split};
    use genolm::train::recipes::{classify, ClassifyOptions, UlmfitOptions};
    let cls_epochs: [usize; 4] = a.epochs.as_slice().try_into().map_err(|_| {
        Error::Config(format!(
            "--epochs takes four numbers (one per unfreezing cycle), got {}",
            a.epochs.len()
        ))
    })?;
    let mut recipe = UlmfitOptions::quiet(a.seed);
    if let Some(lrs) = &a.lrs {
        recipe.cls_lrs = lrs.as_slice().try_into().map_err(|_| {
            Error::Config(format!(
                "--lrs takes four numbers (one per unfreezing cycle), got {}",
                lrs.len()
            ))
        })?;
    }
    let mut set = read_labelled(&a.data)?;
    if set.classes.len() < 2 {
        return Err(Error::Input(format!(
            "{}: one class only ({}); a classifier needs at least two",
            a.data.display(),
            set.classes.join(", ")
        )));
    }
    let (train, test) = match &a.test {
        Some(p) => {
            let test = read_labelled(p)?.relabelled(&set.classes, &p.display().to_string())?;
            if test.is_empty() {
                return Err(Error::Input(format!("{}: no test items", p.display())));
            }
            (std::mem::take(&mut set.items), test)
        }
        None => {
            let (train, test) = stratified_split(&set.items, a.seed);
            if test.is_empty() {
                return Err(Error::Input(format!(
                    "{}: {} items are too few to hold out a fifth of each class for testing; \
                     add items or give a test set with --test",
                    a.data.display(),
                    set.items.len()
                )));
            }
            (train, test)
        }
    };
    if a.generative {
        return classify_generative(&a, &set.classes, &train, &test);
    }
    let lm = match &a.lm {
        Some(p) => load_model(p)?,
        None => GenomicModel::new(
            genolm::models::ModelConfig::preset(&a.preset)?,
            &DeviceChoice::Auto.open()?,
            a.seed,
        )?,
    };
    let fit = classify(
        &lm,
        &train,
        &test,
        &ClassifyOptions {
            ulmfit: UlmfitOptions {
                cls_epochs,
                valid_fraction: a.valid_fraction,
                min_valid_per_class: a.min_valid_per_class,
                ..recipe
            },
            gradual: !a.no_unfreeze,
            both_strands: a.both_strands,
            ..Default::default()
        },
    )?;
    out_dir(&a.out)?;
    let scored = fit.metrics();
    let accuracy = scored.0;
    let mut metrics = test_metrics(scored, test.len(), &set.classes, a.lm.as_deref());
    metrics.insert("n_train".into(), fit.n_train.into());
    metrics.insert("n_valid".into(), fit.n_valid.into());
    metrics.insert(
        "best_epoch".into(),
        fit.best
            .as_ref()
            .map(|b| {
                serde_json::json!({"stage": b.stage, "epoch_index": b.epoch_index, "valid_loss": b.loss})
            })
            .into(),
    );
    let json = serde_json::to_vec_pretty(&metrics).expect("metrics serialise");
    genolm::fsio::atomic_write(&a.out.join("metrics.json"), &json)?;
    write_predictions(&a.out, &set.classes, &test, &fit.probs)?;
    fit.history.table()?.to_csv(a.out.join("history.csv"))?;
    fit.classifier.save(a.out.join("classifier.safetensors"))?;
    println!(
        "{} train / {} test items; test accuracy {accuracy:.3}; wrote {}",
        train.len(),
        test.len(),
        a.out.display()
    );
    Ok(())
}

/// `genolm variants`.
pub fn variants(a: VariantsArgs) -> Result<()> {
    use genolm::bench::variants::{read_vcf_variants, score_variants, VcfOptions};
    let model = load_model(&a.model)?;
    let input = read_vcf_variants(&a.vcf, &a.fasta)?;
    let opts = VcfOptions { flank: a.flank };
    let t = score_variants(&model, &input, &opts)?;
    t.to_csv(&a.out)?;
    let (llr, left, right) = (
        t.df.column("llr")?.f64()?,
        t.df.column("left_flank")?.u64()?,
        t.df.column("right_flank")?.u64()?,
    );
    let (mut scored, mut short) = (0, 0);
    for ((l, lf), rf) in llr.iter().zip(left.iter()).zip(right.iter()) {
        if l.is_some_and(f64::is_finite) {
            scored += 1;
            short += usize::from(lf.unwrap_or(0).min(rf.unwrap_or(0)) < a.flank as u64);
        }
    }
    println!(
        "{} substitutions: {scored} scored ({short} of them with under {} bases on a side: a contig end or an ambiguous base nearby), {} not ({} other alleles skipped) → {}",
        input.variants.len(),
        a.flank,
        input.variants.len() - scored,
        input.skipped,
        a.out.display()
    );
    if let Some(path) = &a.alleles {
        use genolm::bench::variants::{read_vcf_alleles, score_alleles};
        let alleles = read_vcf_alleles(&a.vcf, &a.fasta)?;
        score_alleles(&model, &alleles, &opts)?.to_csv(path)?;
        println!(
            "{} alleles (indels included) scored ({} symbolic or ambiguous skipped) → {}",
            alleles.alleles.len(),
            alleles.skipped,
            path.display()
        );
    }
    Ok(())
}
