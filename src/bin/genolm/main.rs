//! The `genolm` command line: `main` and the dispatch of each subcommand (arguments in
//! args.rs; the longer commands in their own files).

use std::process::ExitCode;

use clap::Parser;

mod analyses;
mod args;
mod classify;
mod data;
mod long_context;
mod motifs;
mod predict;
mod reproduce;
mod watch;
use args::{AnnCmd, Cli, Cmd};
use genolm::data::corpus::Corpus;

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

/// The command a run's report records for `genolm reproduce`: train again from the run's
/// `run.toml` (the run file with every command-line override applied, so `--resume` and the
/// overrides need not be repeated), writing the report into `report`.
fn retrain_command(run: &std::path::Path, report: &std::path::Path) -> Vec<String> {
    let d = |p: &std::path::Path| p.display().to_string();
    vec![
        "train".into(),
        "--config".into(),
        d(&run.join("run.toml")),
        "--output".into(),
        d(run),
        "--report".into(),
        d(report),
    ]
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
            seed,
            batch_seed,
            report,
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
            if let Some(seed) = seed {
                cfg.train.seed = seed;
            }
            if let Some(b) = batch_seed {
                cfg.data.batch_seed = b;
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
                if let Some(dir) = report {
                    let mut rep = genolm::report::run_report(&cfg.output, None)?;
                    let mut cmd = retrain_command(&cfg.output, &dir);
                    if let Some(n) = stop_at_step {
                        cmd.extend(["--stop-at-step".into(), n.to_string()]);
                    }
                    rep.command(&cmd);
                    rep.write(&dir)?;
                    println!("report: {}", dir.join("index.html").display());
                }
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
        Cmd::Reproduce { manifest, tol, out } => reproduce::reproduce(&manifest, tol, out),
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
            print!("{}", rep.text());
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
        } => data::check_annotations(&file, fasta.as_deref(), code),
        Cmd::States(a) => analyses::states(a).map(|()| ExitCode::SUCCESS),
        Cmd::Explain { cmd } => analyses::explain(cmd).map(|()| ExitCode::SUCCESS),
        Cmd::Variants(a) => analyses::variants(a).map(|()| ExitCode::SUCCESS),
        Cmd::Classify(a) => classify::classify(a).map(|()| ExitCode::SUCCESS),
        Cmd::Predict(a) => predict::predict(a).map(|()| ExitCode::SUCCESS),
        Cmd::Report { run, bench, out } => {
            let classifier =
                !run.join("run.toml").exists() && genolm::report::is_classifier_folder(&run);
            if classifier && bench.is_some() {
                return Err(genolm::Error::Input(format!(
                    "{}: a `genolm classify` folder, whose report `genolm report` writes \
                     without --bench (a benchmark is of a language model's run)",
                    run.display()
                )));
            }
            let bench = match bench {
                Some(b) if b.is_dir() => Some(genolm::bench::BenchmarkReport::load_json(
                    b.join("report.json"),
                )?),
                Some(b) => Some(genolm::bench::BenchmarkReport::load_json(&b)?),
                None => None,
            };
            let dir = out.unwrap_or_else(|| run.join("report"));
            let rep = if classifier {
                genolm::report::classifier_report(&run)?
            } else {
                let mut rep = genolm::report::run_report(&run, bench.as_ref())?;
                // re-creating the report is training the run again from its run.toml (the
                // effective run file, overrides applied); with a benchmark, re-running it too
                // is `genolm bench`, so such a report records no command
                if bench.is_none() {
                    rep.command(&retrain_command(&run, &dir));
                }
                rep
            };
            rep.write(&dir)?;
            println!("report: {}", dir.join("index.html").display());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Shards(a) => data::shards(a),
        Cmd::Tokenize { file, k, stride } => data::tokenize(&file, k, stride),
    }
}
