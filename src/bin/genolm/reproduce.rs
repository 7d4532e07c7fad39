//! `genolm reproduce`: re-run a report's recorded command and compare its metrics, or
//! retrain a shipped model from its provenance and compare the checkpoint's SHA-256.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Cmd};

/// `genolm reproduce MANIFEST`: re-run the command a report's manifest.json records (into
/// `out`) and list every metric that differs by more than `tol`; a shipped model's
/// provenance.json goes to [`reproduce_checkpoint`].
pub fn reproduce(manifest: &Path, tol: f64, out: Option<PathBuf>) -> genolm::Result<ExitCode> {
    use genolm::report::{compare_metrics, Manifest};
    let manifest = &record_file(manifest)?;
    if manifest.file_name().is_some_and(|n| n == "provenance.json") {
        return reproduce_checkpoint(manifest, out);
    }
    let before = Manifest::load(manifest)?;
    if before.command.is_empty() {
        return Err(genolm::Error::Input(format!(
            "{}: no command recorded; this report cannot be re-run",
            manifest.display()
        )));
    }
    let base = out.unwrap_or_else(|| {
        manifest
            .parent()
            .unwrap_or(Path::new("."))
            .join("reproduced")
    });
    // the same command, writing into `base`
    // the flags that name where a command writes, redirected into `base`
    const WRITES: [&str; 3] = ["--out", "--output", "--report"];
    let dest = |flag: &str| {
        let sub = if flag == "--report" { "report" } else { "run" };
        base.join(sub).display().to_string()
    };
    let mut args = vec!["genolm".to_string()];
    let command = find_paths(&before.command, before.cwd.as_deref(), manifest);
    let mut it = command.iter();
    while let Some(a) = it.next() {
        // `--out=DIR` is `--out DIR`
        if let Some((flag, _)) = a.split_once('=').filter(|(f, _)| WRITES.contains(f)) {
            args.push(format!("{flag}={}", dest(flag)));
            continue;
        }
        args.push(a.clone());
        if WRITES.contains(&a.as_str()) {
            it.next();
            args.push(dest(a));
        }
    }
    let given = |args: &[String], flag: &str| {
        args.iter()
            .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
    };
    // a training run writes into its run file's output folder unless told otherwise: never
    // over the run being reproduced
    if args.get(1).is_some_and(|c| c == "train") && !given(&args, "--output") {
        args.extend(["--output".into(), dest("--output")]);
    }
    if !given(&args, "--report") {
        args.extend(["--report".into(), dest("--report")]);
    }
    println!("re-running: {}", args[1..].join(" "));
    let cli = Cli::try_parse_from(&args)
        .map_err(|e| genolm::Error::Input(format!("recorded command: {e}")))?;
    if matches!(cli.cmd, Cmd::Reproduce { .. }) {
        return Err(genolm::Error::Input(
            "a manifest cannot reproduce itself".into(),
        ));
    }
    crate::run(cli)?;
    let after = Manifest::load(base.join("report").join("manifest.json"))?;
    if before.genolm_version != after.genolm_version || before.git_commit != after.git_commit {
        println!(
            "note: built from {} {} then, {} {} now",
            before.genolm_version, before.git_commit, after.genolm_version, after.git_commit
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

/// The record `genolm reproduce` was given: a report's `manifest.json` or a shipped model's
/// `provenance.json` as named, the folder holding one (a report folder, a shipped model's
/// folder), or `pretrained` / `pretrained:NAME` (that model's provenance).
fn record_file(given: &Path) -> genolm::Result<PathBuf> {
    if let Some(dir) = genolm::models::pretrained::resolve(given) {
        return Ok(dir?.join("provenance.json"));
    }
    if !given.is_dir() {
        return Ok(given.to_path_buf());
    }
    ["manifest.json", "provenance.json"]
        .iter()
        .map(|f| given.join(f))
        .find(|f| f.is_file())
        .ok_or_else(|| {
            genolm::Error::Input(format!(
                "{}: neither a report folder (manifest.json) nor a shipped model's folder \
                 (provenance.json)",
                given.display()
            ))
        })
}

/// The recorded command with its relative paths found from here: a value that names no file
/// or folder from the current folder but does from the folder the command ran in (`cwd`), or
/// else from a folder above the manifest (a report under its run folder, moved with it), is
/// replaced by that path. Other values stay as recorded.
fn find_paths(command: &[String], cwd: Option<&str>, manifest: &Path) -> Vec<String> {
    let manifest = std::path::absolute(manifest).unwrap_or_else(|_| manifest.to_path_buf());
    let roots: Vec<PathBuf> = cwd
        .map(PathBuf::from)
        .into_iter()
        .chain(manifest.ancestors().skip(1).map(Path::to_path_buf))
        .collect();
    let find = |v: &str| -> String {
        let p = Path::new(v);
        // numbers (`--seed 7`) are never paths, whatever files the folder holds
        if v.is_empty()
            || v.starts_with('-')
            || v.parse::<f64>().is_ok()
            || p.is_absolute()
            || p.exists()
        {
            return v.to_string();
        }
        roots
            .iter()
            .map(|r| r.join(p))
            .find(|c| c.exists())
            .map_or_else(|| v.to_string(), |c| c.display().to_string())
    };
    // the subcommand (`train`, …) first, as recorded
    command
        .iter()
        .enumerate()
        .map(|(i, a)| match a.split_once('=') {
            _ if i == 0 => a.clone(),
            Some((flag, v)) if flag.starts_with("--") => format!("{flag}={}", find(v)),
            _ => find(a),
        })
        .collect()
}

/// `genolm reproduce models/pretrained/NAME/provenance.json`: train again from the model's
/// recorded run file and compare the new checkpoint's SHA-256 with the recorded one (CPU runs
/// are bit-reproducible on the same kind of host, so they must be equal there; on a mismatch
/// the recorded and the current host are printed).
pub fn reproduce_checkpoint(provenance: &Path, out: Option<PathBuf>) -> genolm::Result<ExitCode> {
    let dir = provenance.parent().unwrap_or(Path::new("."));
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
    crate::run(cli)?;
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
        let here = genolm::cpu::host_summary();
        match p["host"].as_str().filter(|h| !h.is_empty()) {
            Some(there) if there != here => println!(
                "  recorded on: {there}\n  this host:   {here}\n  the hosts differ: the matrix \
                 products size their blocks from the CPU's caches and instruction set, so a \
                 retrained checkpoint is the same bytes only on the same kind of host"
            ),
            Some(_) => println!("  on the same kind of host as recorded ({here})"),
            None => println!(
                "  the record does not say which host it was trained on; this one: {here} (the \
                 matrix products size their blocks from the CPU's caches and instruction set)"
            ),
        }
        Ok(ExitCode::from(1))
    }
}
