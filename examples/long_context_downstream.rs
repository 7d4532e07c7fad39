//! Downstream at the extended length (seed 004, docs/long-context.md): the dependency map of a
//! region read inside a 512-nt window and inside a 4-kb window, with the chosen RoPE scaling,
//! and the scaled checkpoint for `genolm bench --tasks variants` at a long flank.
//!
//! ```sh
//! cargo run --example long_context_downstream -- --model runs/long_context_mlm \
//!     --method dynamic_ntk --multiple 8 --out docs/long-context
//! ```
//! Writes `depmap-<method>.json` (mean dependency by distance, both windows) into `--out` and
//! the scaled model (with the run's summary.json) into `runs/long_context_mlm_<method>/`.

use std::path::PathBuf;

use clap::Parser;
use genolm::data::corpus::{Corpus, SplitOptions};
use genolm::explain::depmap::{dependency_map, DepMapOptions};
use genolm::models::rope::{RopeMethod, RopeScaling};
use genolm::models::{DeviceChoice, GenomicModel};

#[derive(Parser)]
struct Args {
    /// The pre-trained MLM transformer (run folder or .safetensors).
    #[arg(long, default_value = "runs/long_context_mlm")]
    model: PathBuf,
    /// RoPE scaling for the long window.
    #[arg(long, default_value = "dynamic_ntk")]
    method: String,
    /// The long window in multiples of the training length.
    #[arg(long, default_value_t = 8)]
    multiple: usize,
    /// Training length in tokens.
    #[arg(long, default_value_t = 512)]
    train_len: usize,
    /// Substituted positions at the window's centre.
    #[arg(long, default_value_t = 24)]
    rows: usize,
    /// Output folder of the JSON.
    #[arg(long, default_value = "docs/long-context")]
    out: PathBuf,
}

fn bins(profile: &[f64]) -> Vec<(String, f64)> {
    let edges = [1usize, 4, 16, 64, 256, 1024, 4096];
    edges
        .windows(2)
        .filter(|w| w[0] <= profile.len())
        .map(|w| {
            let xs: Vec<f64> = (w[0]..w[1].min(profile.len() + 1))
                .map(|d| profile[d - 1])
                .filter(|v| v.is_finite())
                .collect();
            let m = xs.iter().sum::<f64>() / xs.len().max(1) as f64;
            (format!("{}-{}", w[0], w[1] - 1), m)
        })
        .collect()
}

fn main() -> genolm::Result<()> {
    let a = Args::parse();
    let device = DeviceChoice::Auto.open()?;
    let base = GenomicModel::load(&a.model, &device)?;
    let method = RopeMethod::parse(&a.method)?;
    let long = a.multiple * a.train_len;
    let scaled = base.with_rope_scaling(
        RopeScaling {
            method,
            factor: a.multiple as f64,
            train_len: a.train_len,
            ..RopeScaling::default()
        },
        0,
    )?;
    // a held-out annotated window of `long` bases, its centre region substituted
    let corpus = Corpus::embedded()?;
    let split = corpus.split(&SplitOptions::default())?;
    let (g, c) = split
        .test
        .iter()
        .chain(&split.valid)
        .find_map(|&g| {
            corpus.genomes[g]
                .contigs
                .iter()
                .find(|c| c.seq.len() >= long && c.features.is_some())
                .map(|c| (g, c))
        })
        .ok_or_else(|| {
            genolm::Error::Input("no held-out annotated contig is long enough".into())
        })?;
    let s0 = (c.seq.len() - long) / 2;
    let window = &c.seq[s0..s0 + long];
    let mid = long / 2 - a.rows / 2;
    let short0 = long / 2 - a.train_len / 2;
    let short = &window[short0..short0 + a.train_len];
    let opts = |lo: usize| DepMapOptions {
        batch_size: 8,
        rows: Some((lo, lo + a.rows)),
        ..DepMapOptions::default()
    };
    let d_short = dependency_map(&base, short, &opts(mid - short0))?;
    let d_long = dependency_map(&scaled, window, &opts(mid))?;
    let (p_short, p_long) = (d_short.by_distance(), d_long.by_distance());
    let out = serde_json::json!({
        "genome": corpus.genomes[g].meta.id,
        "contig": c.name,
        "window_start": s0,
        "method": a.method,
        "rows": a.rows,
        "short_window": a.train_len,
        "long_window": long,
        "short_by_distance": bins(&p_short),
        "long_by_distance": bins(&p_long),
        "short_seconds": d_short.seconds,
        "long_seconds": d_long.seconds,
    });
    std::fs::create_dir_all(&a.out).map_err(|e| genolm::Error::io(&a.out, e))?;
    let path = a.out.join(format!("depmap-{}.json", a.method));
    genolm::fsio::atomic_write(
        &path,
        serde_json::to_string_pretty(&out).unwrap().as_bytes(),
    )?;
    println!("{}", serde_json::to_string_pretty(&out).unwrap());
    // the scaled checkpoint, next to the run's summary (genolm bench reads its training genomes)
    let dir = PathBuf::from(format!("runs/long_context_mlm_{}", a.method));
    std::fs::create_dir_all(&dir).map_err(|e| genolm::Error::io(&dir, e))?;
    scaled.save(dir.join("model.safetensors"))?;
    let summary =
        genolm::models::model::resolve_checkpoint(&a.model).with_file_name("summary.json");
    if summary.exists() {
        std::fs::copy(&summary, dir.join("summary.json"))
            .map_err(|e| genolm::Error::io(&summary, e))?;
    }
    println!("wrote {} and {}", path.display(), dir.display());
    Ok(())
}
