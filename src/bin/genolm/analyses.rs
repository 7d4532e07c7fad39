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
use genolm::infer::{
    class_probs, read_states, write_states, ClassProbsOptions, H5Layout, Objective, PredictOptions,
};
use genolm::models::{DeviceChoice, GenomicModel};
use genolm::{Error, Result};

/// `genolm states`.
#[derive(Args)]
pub struct StatesArgs {
    /// Checkpoint: a `.safetensors` file, a run folder, a `genolm classify` folder (its
    /// classifier) or `pretrained[:<name>]`.
    model: PathBuf,
    /// FASTA or FASTQ, or GenBank / GFF3 with its sequence (plain, gzip, bgzip or zstd): one row per
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
    /// Checkpoint: a `.safetensors` file, a run folder, a `genolm classify` folder (its
    /// classifier) or `pretrained[:<name>]`.
    model: PathBuf,
    /// FASTA or FASTQ, or GenBank / GFF3 with its sequence (plain, gzip, bgzip or zstd); each record's
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
    /// For a classifier (`genolm classify`'s output): the class whose logit is explained, by
    /// name or index. Default: the class each window is predicted as (named on stdout).
    /// Language models explain the window's log-likelihood.
    #[arg(long)]
    class: Option<String>,
}

/// `genolm explain depmap`.
#[derive(Args)]
pub struct DepmapArgs {
    #[command(flatten)]
    w: Windows,
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

/// `start..end` of every record (`end` default: `start + default_len`, cut at the record's
/// end). A record too short to hold any of the window is left out with a note on stderr (a
/// multi-record file's short records do not stop the others); none left is an error.
fn windows(
    recs: &[SeqRecord],
    start: usize,
    end: Option<usize>,
    default_len: usize,
) -> Result<Vec<(&SeqRecord, &[u8])>> {
    let mut out = Vec::new();
    let mut short = Vec::new();
    for r in recs {
        let e = end.unwrap_or(start + default_len).min(r.seq.len());
        if start < e {
            out.push((r, &r.seq[start..e]));
        } else {
            short.push(format!("{} ({} nt)", r.name, r.seq.len()));
        }
    }
    let what = format!(
        "window {start}..{}",
        end.map_or_else(|| format!("{start} + {default_len}"), |e| e.to_string())
    );
    if out.is_empty() {
        return Err(Error::Input(format!(
            "{what} is empty in every record: {}",
            short.join(", ")
        )));
    }
    if !short.is_empty() {
        eprintln!(
            "note: {what} is empty in {} record(s), left out: {}",
            short.len(),
            short.join(", ")
        );
    }
    Ok(out)
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
    let wins = windows(&recs, w.start, w.end, 2000)?;
    let named: Vec<(&str, &[u8])> = wins.iter().map(|(r, s)| (r.name.as_str(), *s)).collect();
    let objectives = explained(&model, a.class.as_deref(), &named)?;
    let labels = model.config().class_labels();
    for ((r, seq), (objective, p)) in wins.into_iter().zip(objectives) {
        let stem = w.out.join(file_stem(&r.name));
        if let (Objective::Class(c), Some(p)) = (objective, p) {
            println!(
                "{}: explaining class {} (predicted, p = {p:.3}; --class for another)",
                r.name, labels[c]
            );
        }
        let opts = MethodOptions { objective, ..opts };
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

/// A classifier's class by name or index (`--class`); an error for a language model.
pub(crate) fn class_index(model: &GenomicModel, class: &str) -> Result<usize> {
    let labels = model.config().class_labels();
    if model.config().head != genolm::models::Head::Classifier {
        return Err(Error::Input(format!(
            "--class {class}: this model is a language model (it explains each window's \
             log-likelihood); --class is for classifiers (`genolm classify`'s output)"
        )));
    }
    labels
        .iter()
        .position(|l| l == class)
        .or_else(|| class.parse::<usize>().ok().filter(|&i| i < labels.len()))
        .ok_or_else(|| {
            Error::Input(format!(
                "--class {class}: not a class of this classifier ({})",
                labels.join(", ")
            ))
        })
}

/// What each sequence's attribution explains: a language model's log-likelihood of it; a
/// classifier's logit of the `class` given (name or index, [`class_index`]), else of the
/// class it predicts for the sequence (through the one predict path, [`class_probs`]) with
/// that class's probability.
pub(crate) fn explained(
    model: &GenomicModel,
    class: Option<&str>,
    seqs: &[(&str, &[u8])],
) -> Result<Vec<(Objective, Option<f64>)>> {
    if model.config().head != genolm::models::Head::Classifier {
        if let Some(c) = class {
            class_index(model, c)?; // the error for a language model
        }
        return Ok(vec![(Objective::LogLikelihood, None); seqs.len()]);
    }
    if let Some(c) = class {
        let c = class_index(model, c)?;
        return Ok(vec![(Objective::Class(c), None); seqs.len()]);
    }
    let p = class_probs(model, seqs, &ClassProbsOptions::default())?;
    if let Some((name, len)) = p.skipped.first() {
        return Err(Error::Input(format!(
            "{name}: {len} bases, too short for this classifier"
        )));
    }
    Ok(p.rows
        .iter()
        .map(|r| {
            let c = r.predicted();
            (Objective::Class(c), Some(r.probs[c]))
        })
        .collect())
}

fn depmap(a: DepmapArgs) -> Result<()> {
    let w = &a.w;
    let model = load_model(&w.model)?;
    let recs = records(&w.seqs)?;
    out_dir(&w.out)?;
    for (r, seq) in windows(&recs, w.start, w.end, 200)? {
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

/// `genolm variants`.
pub fn variants(a: VariantsArgs) -> Result<()> {
    use genolm::bench::variants::{read_vcf_variants, score_variants, VcfOptions};
    let model = load_model(&a.model)?;
    let input = read_vcf_variants(&a.vcf, &a.fasta)?;
    let opts = VcfOptions { flank: a.flank };
    let t = score_variants(&model, &input, &opts)?;
    t.to_csv(&a.out)?;
    let (scored, short) = scored_and_short(&t, "llr", a.flank)?;
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
        let t = score_alleles(&model, &alleles, &opts)?;
        t.to_csv(path)?;
        let (scored, short) = scored_and_short(&t, "window_llr", a.flank)?;
        println!(
            "{} alleles (indels included): {scored} scored ({short} of them with under {} bases on a side), {} not ({} symbolic or ambiguous skipped) → {}",
            alleles.alleles.len(),
            a.flank,
            alleles.alleles.len() - scored,
            alleles.skipped,
            path.display()
        );
    }
    Ok(())
}

/// Of a variant table: the rows with a finite `score`, and how many of those saw fewer than
/// `flank` bases on a side (`left_flank`, `right_flank`).
fn scored_and_short(t: &genolm::table::Table, score: &str, flank: usize) -> Result<(usize, usize)> {
    let (llr, left, right) = (
        t.df.column(score)?.f64()?,
        t.df.column("left_flank")?.u64()?,
        t.df.column("right_flank")?.u64()?,
    );
    let (mut scored, mut short) = (0, 0);
    for ((l, lf), rf) in llr.iter().zip(left.iter()).zip(right.iter()) {
        if l.is_some_and(f64::is_finite) {
            scored += 1;
            short += usize::from(lf.unwrap_or(0).min(rf.unwrap_or(0)) < flank as u64);
        }
    }
    Ok((scored, short))
}
