//! The control for "does pretraining help": a model of a checkpoint's architecture and
//! tokenizer, randomly initialised (`GenomicModel::new` with the given seed), saved as a
//! checkpoint that `genolm bench` and `genolm classify --lm` read like any other. Every
//! LM-based classifier of the benchmark then trains from scratch with the pretrained model's
//! exact recipe (docs/training.md, "Promoters against their own genome").
//!
//! ```sh
//! cargo run --release --example untrained_copy -- pretrained:lstm_small_extended 1 runs/untrained/model.safetensors
//! ```
use candle_core::Device;
use genolm::models::GenomicModel;

fn main() -> genolm::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 4 {
        eprintln!("usage: untrained_copy MODEL SEED OUT.safetensors");
        std::process::exit(2);
    }
    let seed: u64 = a[2]
        .parse()
        .map_err(|_| genolm::Error::Input(format!("seed {:?} is not a number", a[2])))?;
    let trained = GenomicModel::load(&a[1], &Device::Cpu)?;
    let fresh = GenomicModel::new(trained.config().clone(), &Device::Cpu, seed)?;
    if let Some(dir) = std::path::Path::new(&a[3]).parent() {
        std::fs::create_dir_all(dir).map_err(|e| genolm::Error::io(dir, e))?;
    }
    fresh.save(&a[3])?;
    println!(
        "{}: {} (untrained, seed {seed})",
        a[3],
        trained.config().name
    );
    Ok(())
}
