//! The command line's arguments: every subcommand and its options (clap).

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use genolm::data::corpus::SplitLevel;

use crate::{analyses, classify, data, long_context, predict, watch};

#[derive(Parser)]
#[command(
    name = "genolm",
    version,
    about = "Genomic language models: data, training, benchmark, explanations"
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// The whole pipeline in about five minutes: the embedded corpus, genolm's pretrained LM
    /// fine-tuned briefly, the benchmark against the Markov floor on held-out genomes, states of
    /// a held-out annotated genome (HDF5), its explainable neurons, and one report.
    Quickstart {
        /// Seed of fine-tuning, the benchmark and the probe (from scratch: also of the split).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Shipped model to start from (see models/pretrained/).
        #[arg(long, default_value = genolm::models::pretrained::DEFAULT)]
        pretrained: String,
        /// Train a small AWD-LSTM from scratch instead (peak LR 1e-2).
        #[arg(long)]
        from_scratch: bool,
        /// Training batches per epoch (0 skips training and the analyses).
        #[arg(long, default_value_t = 200)]
        batches: usize,
        /// Epochs of fine-tuning (or training).
        #[arg(long, default_value_t = 1)]
        epochs: usize,
        /// Peak learning rate of the fine-tuning cycle.
        #[arg(long, default_value_t = 1e-3)]
        lr: f64,
        /// Bases scored per held-out genome against the Markov floor.
        #[arg(long, default_value_t = 20_000)]
        bench_bases: usize,
        /// Bases of the held-out annotated genome for states and neurons.
        #[arg(long, default_value_t = 30_000)]
        neuron_bases: usize,
        /// Where the checkpoint goes.
        #[arg(long, default_value = "runs/quickstart")]
        out: PathBuf,
        /// Where the report goes (default: OUT/report): index.html, manifest.json, figures, tables.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Re-run the command recorded in a report's manifest.json and list every metric that differs;
    /// or retrain a shipped model from its provenance.json and compare the checkpoint's SHA-256.
    Reproduce {
        /// A report (its folder or manifest.json), or a shipped model (`pretrained[:NAME]`, its
        /// folder or its provenance.json). The recorded command's relative paths are found
        /// from the folder it ran in, so this works from any folder.
        manifest: PathBuf,
        /// Relative tolerance (0: identical, the goal on CPU).
        #[arg(long, default_value_t = 0.0)]
        tol: f64,
        /// Where the re-run goes (default: a folder next to the manifest).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Train a model from a run file (data, model, schedule, output folder).
    Train {
        /// The run file (TOML; see docs/guide.md).
        #[arg(long, short)]
        config: PathBuf,
        /// Continue an interrupted run from the checkpoint in its output folder.
        #[arg(long)]
        resume: bool,
        /// Override the run file's epochs.
        #[arg(long)]
        epochs: Option<usize>,
        /// Override the run file's training batches per epoch.
        #[arg(long)]
        max_batches: Option<usize>,
        /// Replace the run file's model by this preset (see `ModelConfig::preset`).
        #[arg(long)]
        preset: Option<String>,
        /// Override the run file's output folder.
        #[arg(long)]
        output: Option<PathBuf>,
        /// Override the run file's peak learning rate.
        #[arg(long)]
        lr: Option<f64>,
        /// Set the transformer's RoPE scaling: none, pi, ntk, dynamic_ntk, yarn, gene, clex,
        /// hybrid (docs/long-context.md); the rest of `[model.rope_scaling]` stays as in the file.
        #[arg(long)]
        rope_scaling: Option<String>,
        /// Set the RoPE scale `s` of the static scalings (target length / training length).
        #[arg(long)]
        rope_factor: Option<f64>,
        /// Train data-parallel across the processes of an MPI or GPU job (docs/scaling.md):
        /// `mpirun -np 4 genolm train -c run.toml --distributed mpi`. The run file's batch
        /// size is the global batch; rank 0 writes the run folder.
        #[arg(long, value_enum)]
        distributed: Option<genolm::train::dist::Engine>,
        /// Stop at the first epoch end at or after this optimizer step, keeping the fit
        /// resumable (a job with a time limit: continue later with `--resume`).
        #[arg(long)]
        stop_at_step: Option<usize>,
        /// Override the run file's seed of initial weights and dropout masks (`[train]
        /// seed`): the same recipe with other seeds measures the spread between equal runs
        /// (the batch order stays `[data] batch_seed`).
        #[arg(long)]
        seed: Option<u64>,
        /// Override the run file's seed of the batch order (`[data] batch_seed`): which
        /// windows each epoch reads, and in which order.
        #[arg(long)]
        batch_seed: Option<u64>,
        /// Also write the run's report into this folder (what `genolm report` writes), with
        /// the command that trains the run again recorded (its run.toml, overrides applied):
        /// `genolm reproduce DIR/manifest.json` trains again and lists every metric that
        /// differs.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Benchmark a trained LM (seed 002): every task, next to a Markov baseline.
    Bench {
        /// Checkpoint: a `.safetensors` file or a run folder.
        model: PathBuf,
        /// Tasks (comma-separated; default all): transfer, adaptive, rare_species, conservation,
        /// impute_nucleotide, impute_fragment, neurons_aa, neurons_cds, importance,
        /// classification, variants, cost.
        #[arg(long, value_delimiter = ',')]
        tasks: Vec<String>,
        /// Sizes: `default`, `small` (a tenth: a first look, minutes), `quick` (smoke test) or a
        /// JSON/TOML file of BenchOptions.
        #[arg(long, default_value = "default")]
        sizes: String,
        /// Bases scored per held-out genome (overrides the sizes; 0 = whole genomes).
        #[arg(long)]
        bases_per_genome: Option<usize>,
        /// Corpus (`embedded`, a folder or a manifest; default: the run's).
        #[arg(long)]
        corpus: Option<String>,
        /// Write the table (CSV), every metric (CSV), the report (JSON), the summary figure
        /// (SVG) and the table (Markdown, LaTeX) into this folder.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run the long-context experiment instead (seed 004; an MLM transformer): evaluate
        /// at these multiples of the training length, e.g. `1,2,4,8,16`.
        #[arg(long, value_delimiter = ',')]
        context_lengths: Vec<usize>,
        #[command(flatten)]
        long: long_context::LongContextArgs,
    },
    /// Summarise a corpus: the embedded default, or a folder of your own genomes.
    Corpus {
        /// `embedded` (the default), a `manifest.json` (e.g. datasets/extended.json), or a folder
        /// with a manifest.json or pro/ euk/ vir/ sub-folders.
        dir: Option<PathBuf>,
        /// Split at `genome` or `species` level.
        #[arg(long, default_value = "genome")]
        level: SplitLevel,
        /// Seed of the split.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Work with annotation files.
    Annotations {
        #[command(subcommand)]
        cmd: AnnCmd,
    },
    /// Neuron states of a model over FASTA/FASTQ records → HDF5 (opens in h5py).
    States(analyses::StatesArgs),
    /// Explanations: explainable neurons, attributions, dependency maps.
    Explain {
        #[command(subcommand)]
        cmd: analyses::ExplainCmd,
    },
    /// Score the single-base substitutions of a VCF with a model (LLR, embedding distance).
    Variants(analyses::VariantsArgs),
    /// Train a classifier on labelled sequences: an LM fine-tuned with a head (ULMFiT stage 3),
    /// class-conditional LMs, a linear probe of the frozen LM, or a model from scratch.
    Classify(classify::ClassifyArgs),
    /// Apply a trained classifier (`genolm classify`'s output) to new sequences: each record
    /// whole, or windows scanned along it → CSV of class probabilities.
    Predict(predict::PredictArgs),
    /// One HTML report of a run folder (`genolm train`'s output): configuration, corpus and
    /// split, learning curve, held-out quality, the loss along a held-out genome, and the
    /// benchmark when given. Of a `genolm classify` folder: test metrics next to the
    /// baselines', confusion matrix, ROC / PR / training curves.
    Report {
        /// The run folder (with run.toml, summary.json, model.safetensors), or a `genolm
        /// classify` folder (with metrics.json, predictions.csv).
        run: PathBuf,
        /// A benchmark of this model: `genolm bench … --out DIR` (the folder or its report.json).
        #[arg(long)]
        bench: Option<PathBuf>,
        /// Where the report goes (default: RUN/report).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Hyperparameter search (ASHA, Hyperband or random) over run-file fields, with worker
    /// processes that share a folder (one machine or a cluster's shared filesystem).
    Search(watch::SearchArgs),
    /// A live page of training runs and searches (curves, tables), on 127.0.0.1.
    Monitor(watch::MonitorArgs),
    /// Tokenise a corpus once into on-disk token shards (for corpora larger than memory):
    /// `genolm shards CORPUS --out DIR`, then `[data] corpus = "DIR"` in a run file.
    Shards(data::ShardsArgs),
    /// Tokenize a FASTA/FASTQ file into k-mer ids and report counts.
    Tokenize {
        /// FASTA or FASTQ file, or GenBank / GFF3 with its sequence (plain, gzip, bgzip or zstd).
        file: PathBuf,
        /// k-mer length.
        #[arg(short, long, default_value_t = 3)]
        k: usize,
        /// Stride between k-mers.
        #[arg(short, long, default_value_t = 1)]
        stride: usize,
    },
}

#[derive(Subcommand)]
pub enum AnnCmd {
    /// Re-translate every CDS and compare with its /translation (or check for a clean ORF).
    ///
    /// Exits with status 1 when any CDS fails.
    Check {
        /// GenBank or GFF3 file (plain or gzip).
        file: PathBuf,
        /// FASTA with the sequences a GFF3 file annotates.
        #[arg(long)]
        fasta: Option<PathBuf>,
        /// Genetic code for CDS without /transl_table (1 standard, 11 bacterial/plastid).
        #[arg(long, default_value_t = 11)]
        code: u8,
    },
}
