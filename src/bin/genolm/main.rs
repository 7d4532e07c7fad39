//! The `genolm` command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod analyses;
mod long_context;
mod motifs;
mod watch;
use genolm::data::annotation::{check_translations, read_annotation};
use genolm::data::corpus::{Corpus, SplitLevel};
use genolm::data::tokenize::{tokenize_file, KmerTokenizer, Special};
use genolm::data::tracks::{verify_tracks, TrackOptions, Tracks};

#[derive(Parser)]
#[command(
    name = "genolm",
    version,
    about = "Genomic language models: data, training, benchmark, explanations"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
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
        /// The manifest.json of a report, or the provenance.json of a shipped model
        /// (models/pretrained/NAME/provenance.json).
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
    },
    /// Benchmark a trained LM (seed 002): every task, next to a Markov baseline.
    Bench {
        /// Checkpoint: a `.safetensors` file or a run folder.
        model: PathBuf,
        /// Tasks (comma-separated; default all): transfer, rare_species, conservation,
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
    /// Fine-tune a classifier from a language model on labelled sequences (ULMFiT stage 3).
    Classify(analyses::ClassifyArgs),
    /// One HTML report of a run folder (`genolm train`'s output): configuration, corpus and
    /// split, learning curve, held-out quality, the loss along a held-out genome, and the
    /// benchmark when given.
    Report {
        /// The run folder (with run.toml, summary.json, model.safetensors).
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
    Shards {
        /// `embedded`, a folder of genomes (pro/ euk/ vir/) or a manifest.json.
        corpus: String,
        /// Output folder (shards.json + tokens-NNNNN.bin).
        #[arg(long)]
        out: PathBuf,
        /// Take k and stride from this model preset (the model that will train on them).
        #[arg(long, default_value = "awd_lstm_small")]
        preset: String,
        /// k-mer length (overrides the preset's).
        #[arg(long)]
        k: Option<usize>,
        /// Stride (overrides the preset's).
        #[arg(long)]
        stride: Option<usize>,
        /// Also store reverse complements (for runs with reverse_complement = true).
        #[arg(long)]
        reverse_complement: bool,
        /// Tokens per shard file at most.
        #[arg(long, default_value_t = 256 << 20)]
        shard_tokens: usize,
        /// Check an existing shard folder's sizes and checksums instead of building.
        #[arg(long)]
        verify: bool,
    },
    /// Tokenize a FASTA/FASTQ file into k-mer ids and report counts.
    Tokenize {
        /// FASTA or FASTQ file (plain, gzip or bgzip).
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
enum AnnCmd {
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

fn main() -> ExitCode {
    // Behave like other Unix tools when the reader goes away (`genolm … | head`).
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // Show whole tables in the terminal (set before any thread starts).
    for (k, v) in [
        ("POLARS_FMT_MAX_ROWS", "200"),
        ("POLARS_FMT_MAX_COLS", "30"),
        ("POLARS_FMT_STR_LEN", "40"),
        ("POLARS_TABLE_WIDTH", "200"),
        ("POLARS_FMT_TABLE_HIDE_DATAFRAME_SHAPE_INFORMATION", "1"),
        ("POLARS_FMT_TABLE_HIDE_COLUMN_DATA_TYPES", "1"),
    ] {
        if std::env::var_os(k).is_none() {
            std::env::set_var(k, v);
        }
    }
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> genolm::Result<ExitCode> {
    match cli.cmd {
        Cmd::Monitor(a) => {
            watch::monitor_cmd(a)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Search(a) => {
            watch::search_cmd(a)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Train {
            config,
            resume,
            epochs,
            max_batches,
            preset,
            output,
            lr,
            rope_scaling,
            rope_factor,
            distributed,
            stop_at_step,
        } => {
            let mut cfg = genolm::train::run::RunConfig::from_file(&config)?;
            if let Some(m) = rope_scaling {
                cfg.model.rope_scaling.method = genolm::models::rope::RopeMethod::parse(&m)?;
            }
            if let Some(f) = rope_factor {
                cfg.model.rope_scaling.factor = f;
            }
            cfg.model.validate()?;
            if let Some(e) = epochs {
                cfg.train.epochs = e;
            }
            if let Some(m) = max_batches {
                cfg.train.max_batches = m;
            }
            if let Some(p) = preset {
                cfg.model = genolm::models::ModelConfig::preset(&p)?;
            }
            if let Some(o) = output {
                cfg.output = o;
            }
            if let Some(lr) = lr {
                cfg.train.lr = lr;
            }
            let ro = genolm::train::run::RunOptions {
                distributed,
                stop_at_step,
                ..Default::default()
            };
            // under a launcher, only rank 0 talks
            let lead = distributed.is_none()
                || genolm::train::dist::launcher_rank().is_none_or(|(r, _)| r == 0);
            if lead {
                println!(
                    "training {} ({}), output {}",
                    cfg.model.name,
                    cfg.model.arch_label(),
                    cfg.output.display()
                );
                if let Some(mix) = cfg.data.mix_label() {
                    println!("corpus mix: each training genome of {mix} per epoch");
                }
            }
            let s = genolm::train::run::run_training_with(&cfg, resume, &ro)?;
            if lead {
                println!("{}", s.text());
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Quickstart {
            seed,
            pretrained,
            from_scratch,
            batches,
            epochs,
            lr,
            bench_bases,
            neuron_bases,
            out,
            report,
        } => {
            genolm::report::quickstart(&genolm::report::QuickstartOptions {
                seed,
                pretrained: (!from_scratch).then_some(pretrained),
                batches,
                epochs,
                lr,
                bench_bases,
                neuron_bases,
                out,
                report,
                ..Default::default()
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Reproduce { manifest, tol, out } => {
            use genolm::report::{compare_metrics, Manifest};
            if manifest.file_name().is_some_and(|n| n == "provenance.json") {
                return reproduce_checkpoint(&manifest, out);
            }
            let before = Manifest::load(&manifest)?;
            if before.command.is_empty() {
                return Err(genolm::Error::Input(format!(
                    "{}: no command recorded; this report cannot be re-run",
                    manifest.display()
                )));
            }
            let base = out.unwrap_or_else(|| {
                manifest
                    .parent()
                    .unwrap_or(std::path::Path::new("."))
                    .join("reproduced")
            });
            // the same command, writing into `base`
            let mut args = vec!["genolm".to_string()];
            let mut it = before.command.iter();
            while let Some(a) = it.next() {
                args.push(a.clone());
                if a == "--out" || a == "--report" {
                    it.next();
                    args.push(
                        base.join(if a == "--out" { "run" } else { "report" })
                            .display()
                            .to_string(),
                    );
                }
            }
            if !args.iter().any(|a| a == "--report") {
                args.push("--report".into());
                args.push(base.join("report").display().to_string());
            }
            println!("re-running: {}", args[1..].join(" "));
            let cli = Cli::try_parse_from(&args)
                .map_err(|e| genolm::Error::Input(format!("recorded command: {e}")))?;
            if matches!(cli.cmd, Cmd::Reproduce { .. }) {
                return Err(genolm::Error::Input(
                    "a manifest cannot reproduce itself".into(),
                ));
            }
            run(cli)?;
            let after = Manifest::load(base.join("report").join("manifest.json"))?;
            if before.genolm_version != after.genolm_version
                || before.git_commit != after.git_commit
            {
                println!(
                    "note: built from {} {} then, {} {} now",
                    before.genolm_version,
                    before.git_commit,
                    after.genolm_version,
                    after.git_commit
                );
            }
            let diffs = compare_metrics(&before, &after, tol);
            if diffs.is_empty() {
                println!(
                    "reproduced: all {} metrics identical{}",
                    before.metrics.len(),
                    if tol > 0.0 {
                        format!(" within {tol}")
                    } else {
                        String::new()
                    }
                );
                Ok(ExitCode::SUCCESS)
            } else {
                println!(
                    "{} of {} metrics differ:",
                    diffs.len(),
                    before.metrics.len()
                );
                for d in &diffs {
                    println!("  {:<28} {:>14.8} → {:>14.8}", d.name, d.before, d.after);
                }
                Ok(ExitCode::from(1))
            }
        }
        Cmd::Bench {
            model,
            tasks,
            sizes,
            bases_per_genome,
            corpus,
            out,
            context_lengths,
            long,
        } => {
            if !context_lengths.is_empty() {
                return long_context::run(&model, &context_lengths, &long, corpus, out);
            }
            use genolm::bench::{benchmark, BenchOptions, Task};
            let mut opts = match sizes.as_str() {
                "default" => BenchOptions::default(),
                "small" => BenchOptions::small(),
                "quick" => BenchOptions {
                    verbose: true,
                    ..BenchOptions::quick()
                },
                path => {
                    let text =
                        std::fs::read_to_string(path).map_err(|e| genolm::Error::io(path, e))?;
                    if path.ends_with(".json") {
                        serde_json::from_str(&text)
                            .map_err(|e| genolm::Error::parse(path, e.line(), e.to_string()))?
                    } else {
                        toml::from_str(&text).map_err(|e: toml::de::Error| {
                            genolm::Error::Config(format!("{path}: {}", e.message()))
                        })?
                    }
                }
            };
            opts.tasks = tasks
                .iter()
                .map(|t| Task::from_name(t.trim()))
                .collect::<genolm::Result<_>>()?;
            if let Some(b) = bases_per_genome {
                opts.bases_per_genome = b;
            }
            if corpus.is_some() {
                opts.corpus = corpus;
            }
            let rep = benchmark(model.as_path(), &opts)?;
            println!("{}", rep.table()?.df);
            for (t, why) in &rep.skipped {
                println!("skipped {t}: {why}");
            }
            println!(
                "{} ({}), training genomes from {}; {:.1} s",
                rep.model, rep.arch, rep.train_source, rep.seconds
            );
            if let Some(dir) = out {
                std::fs::create_dir_all(&dir).map_err(|e| genolm::Error::io(&dir, e))?;
                let t = rep.table()?;
                t.to_csv(dir.join("benchmark.csv"))?;
                t.to_latex_file(dir.join("benchmark.tex"))?;
                rep.metrics_table()?.to_csv(dir.join("metrics.csv"))?;
                rep.datasets_table()?.to_csv(dir.join("datasets.csv"))?;
                rep.save_json(dir.join("report.json"))?;
                rep.plot()?.save(dir.join("summary.svg"))?;
                genolm::fsio::atomic_write(
                    &dir.join("benchmark.md"),
                    rep.to_markdown().as_bytes(),
                )?;
                println!("wrote {}", dir.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Corpus { dir, level, seed } => {
            let corpus = match dir {
                Some(d) => Corpus::open(&d.to_string_lossy())?,
                None => Corpus::embedded()?,
            };
            println!("{}", genolm::report::corpus_overview(&corpus, level, seed)?);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Annotations {
            cmd: AnnCmd::Check { file, fasta, code },
        } => {
            let seqs = read_annotation(&file, fasta.as_deref())?;
            let (mut total, mut ok) = (0, 0);
            let mut failed = Vec::new();
            for s in &seqs {
                let checks = check_translations(s, code)?;
                let opts = TrackOptions {
                    default_code: code,
                    ..Default::default()
                };
                let tracks = Tracks::from_annotation(s, &opts)?;
                let disagree = verify_tracks(s, &tracks, &opts)?;
                let n_ok = checks.iter().filter(|c| c.ok).count();
                let against_tr = checks.iter().filter(|c| c.against == "translation").count();
                println!(
                    "{}: {} of {} CDS re-translate ({} against /translation, {} as clean ORFs); tracks agree for {} of {}",
                    s.name,
                    n_ok,
                    checks.len(),
                    against_tr,
                    checks.len() - against_tr,
                    checks.len() - disagree.len(),
                    checks.len()
                );
                total += checks.len();
                ok += n_ok;
                for c in checks.iter().filter(|c| !c.ok) {
                    failed.push(format!(
                        "  {}:{} {} — {}",
                        file.display(),
                        c.line,
                        c.label,
                        c.reason.clone().unwrap_or_default()
                    ));
                }
                for d in disagree {
                    failed.push(format!(
                        "  {} tracks disagree with the translation of {d}",
                        s.name
                    ));
                }
            }
            println!("total: {ok} of {total} CDS ok");
            if failed.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                println!("not ok:");
                for f in failed {
                    println!("{f}");
                }
                Ok(ExitCode::from(1))
            }
        }
        Cmd::States(a) => analyses::states(a).map(|()| ExitCode::SUCCESS),
        Cmd::Explain { cmd } => analyses::explain(cmd).map(|()| ExitCode::SUCCESS),
        Cmd::Variants(a) => analyses::variants(a).map(|()| ExitCode::SUCCESS),
        Cmd::Classify(a) => analyses::classify(a).map(|()| ExitCode::SUCCESS),
        Cmd::Report { run, bench, out } => {
            let bench = match bench {
                Some(b) if b.is_dir() => Some(genolm::bench::BenchmarkReport::load_json(
                    b.join("report.json"),
                )?),
                Some(b) => Some(genolm::bench::BenchmarkReport::load_json(&b)?),
                None => None,
            };
            // no command is recorded: the report collects a run, re-running it is `genolm train`
            let rep = genolm::report::run_report(&run, bench.as_ref())?;
            let dir = out.unwrap_or_else(|| run.join("report"));
            rep.write(&dir)?;
            println!("report: {}", dir.join("index.html").display());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Shards {
            corpus,
            out,
            preset,
            k,
            stride,
            reverse_complement,
            shard_tokens,
            verify,
        } => {
            use genolm::data::shards::{ShardOptions, TokenShards};
            let t0 = std::time::Instant::now();
            let shards = if verify {
                let s = TokenShards::open(&out)?;
                s.verify()?;
                s
            } else {
                let p = genolm::models::ModelConfig::preset(&preset)?;
                let tok = KmerTokenizer::new(k.unwrap_or(p.k), stride.unwrap_or(p.stride))?;
                let opts = ShardOptions {
                    shard_tokens,
                    reverse_complement,
                    verbose: true,
                };
                TokenShards::build(&corpus, &out, &tok, &opts)?
            };
            println!(
                "{}: {} genomes, {} streams, {} tokens in {} shard files ({:.1} s{})",
                out.display(),
                shards.genomes().len(),
                shards.streams().len(),
                shards.total_tokens(),
                shards.n_shards(),
                t0.elapsed().as_secs_f64(),
                if verify { ", checksums verified" } else { "" }
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Tokenize { file, k, stride } => {
            let tok = KmerTokenizer::new(k, stride)?;
            let t0 = std::time::Instant::now();
            let recs = tokenize_file(&file, &tok)?;
            let secs = t0.elapsed().as_secs_f64();
            for (name, ids) in &recs {
                let unk = ids.iter().filter(|&&i| i == Special::Unk as u32).count();
                println!("{name}\t{} tokens\t{unk} unk", ids.len());
            }
            eprintln!("{} records in {secs:.3} s", recs.len());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `genolm reproduce models/pretrained/NAME/provenance.json`: train again from the model's
/// recorded run file and compare the new checkpoint's SHA-256 with the recorded one (CPU runs
/// are bit-reproducible, so they must be equal).
fn reproduce_checkpoint(
    provenance: &std::path::Path,
    out: Option<PathBuf>,
) -> genolm::Result<ExitCode> {
    let dir = provenance.parent().unwrap_or(std::path::Path::new("."));
    let text = std::fs::read_to_string(provenance).map_err(|e| genolm::Error::io(provenance, e))?;
    let p: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        genolm::Error::parse(provenance.display().to_string(), e.line(), e.to_string())
    })?;
    let want = p["model_sha256"].as_str().unwrap_or_default().to_string();
    let base = out.unwrap_or_else(|| dir.join("reproduced"));
    let args = [
        "genolm",
        "train",
        "--config",
        &dir.join("run.toml").display().to_string(),
        "--output",
        &base.display().to_string(),
    ]
    .map(String::from);
    println!("re-running: {}", args[1..].join(" "));
    let cli = Cli::try_parse_from(&args)
        .map_err(|e| genolm::Error::Input(format!("recorded command: {e}")))?;
    run(cli)?;
    let f = base.join("model.safetensors");
    let bytes = std::fs::read(&f).map_err(|e| genolm::Error::io(&f, e))?;
    let got = genolm::data::corpus::sha256_hex(&bytes);
    if got == want {
        println!("reproduced: {} has SHA-256 {got}, as recorded", f.display());
        Ok(ExitCode::SUCCESS)
    } else {
        println!(
            "differs: {} has SHA-256 {got}, the record says {want} (trained at {})",
            f.display(),
            p["git_commit"].as_str().unwrap_or("?")
        );
        Ok(ExitCode::from(1))
    }
}
