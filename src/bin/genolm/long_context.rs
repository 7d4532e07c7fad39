//! `genolm bench MODEL --context-lengths 1,2,4,8,16`: the long-context experiment (seed 004).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use genolm::bench::long_context::{long_context, FinetuneOptions, LongContextOptions};
use genolm::data::corpus::Corpus;
use genolm::models::rope::RopeMethod;

/// Options of the long-context experiment (with `--context-lengths`).
#[derive(Debug, Args)]
pub struct LongContextArgs {
    /// RoPE scalings to compare (default all): none, pi, ntk, dynamic_ntk, yarn, gene, clex,
    /// hybrid.
    #[arg(long, value_delimiter = ',')]
    rope_methods: Vec<String>,
    /// The model's training length in tokens.
    #[arg(long, default_value_t = 512)]
    train_len: usize,
    /// Held-out windows at the longest length.
    #[arg(long, default_value_t = 4)]
    windows: usize,
    /// Fine-tuning steps per method at the longer length (0 = zero-shot only).
    #[arg(long, default_value_t = 40)]
    finetune_steps: usize,
    /// Fine-tuning windows, in multiples of the training length.
    #[arg(long, default_value_t = 4)]
    finetune_multiple: usize,
    /// The coding-strand probe at this multiple (0 = skip).
    #[arg(long, default_value_t = 8)]
    probe_multiple: usize,
    /// Attention block size for long windows (0 = plain `L × L` attention, to compare memory;
    /// default: the model's).
    #[arg(long)]
    attn_block: Option<usize>,
    /// Seed of masks and fine-tuning.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// Run the experiment and write its outputs into `out`.
pub fn run(
    model: &Path,
    multiples: &[usize],
    a: &LongContextArgs,
    corpus: Option<String>,
    out: Option<PathBuf>,
) -> genolm::Result<ExitCode> {
    let mut model =
        genolm::models::GenomicModel::load(model, &genolm::models::DeviceChoice::Auto.open()?)?;
    if let Some(b) = a.attn_block {
        model.set_attn_block(b);
    }
    let corpus = match corpus {
        Some(c) => Corpus::open(&c)?,
        None => Corpus::embedded()?,
    };
    let methods = if a.rope_methods.is_empty() {
        RopeMethod::ALL.to_vec()
    } else {
        a.rope_methods
            .iter()
            .map(|m| RopeMethod::parse(m.trim()))
            .collect::<genolm::Result<_>>()?
    };
    let opts = LongContextOptions {
        train_len: a.train_len,
        multiples: multiples.to_vec(),
        methods,
        windows: a.windows,
        finetune: (a.finetune_steps > 0).then(|| FinetuneOptions {
            steps: a.finetune_steps,
            multiple: a.finetune_multiple,
            ..FinetuneOptions::default()
        }),
        probe_multiple: (a.probe_multiple > 0).then_some(a.probe_multiple),
        seed: a.seed,
        verbose: true,
        ..LongContextOptions::default()
    };
    let r = long_context(&model, &corpus, &opts)?;
    print!("{}", r.table()?.to_text());
    if !r.probe.is_empty() {
        print!("{}", r.probe_table()?.to_text());
    }
    if let Some(dir) = out {
        r.write(&dir)?;
        println!("wrote {}", dir.display());
    }
    Ok(ExitCode::SUCCESS)
}
