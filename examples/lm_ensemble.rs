//! Class-conditional LMs from several pretrained LMs, averaged: the benchmark's promoters row
//! (the 106 UCI promoters, stratified 5-fold CV with the seed's folds, class LMs with the
//! benchmark's options) for each LM alone and for the mean of their class probabilities, next to
//! the k-mer regression on the same folds (`bench::ensemble::generative_ensemble`, which
//! `genolm classify --generative --lm A --lm B …` runs). Each LM alone reproduces the benchmark's
//! `lm_generative` accuracy for that seed (docs/training.md, "Which pretrained LM").
//!
//! ```sh
//! cargo run --release --example lm_ensemble -- 1,2,3 pretrained:lstm_small_extended runs/other_lm …
//! FINETUNE_SEEDS=3 cargo run --release --example lm_ensemble -- 1,2,3 pretrained:lstm_small_extended
//! ```
//! (`FINETUNE_SEEDS=n`: each LM's class LMs also fine-tuned with n seeds and averaged.)
use candle_core::Device;
use genolm::bench::baselines::kmer_logreg_probs;
use genolm::bench::classification::PROMOTERS_CSV;
use genolm::bench::ensemble::generative_ensemble;
use genolm::bench::generative::GenerativeOptions;
use genolm::data::tasks::{parse_labelled_csv, stratified_folds};
use genolm::models::GenomicModel;
use genolm::stats::{accuracy, mean_probs};

fn main() -> genolm::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 3 {
        eprintln!("usage: lm_ensemble SEEDS(1,2,3) LM [LM …]");
        std::process::exit(2);
    }
    let seeds: Vec<u64> = a[1]
        .split(',')
        .map(|s| s.trim().parse::<u64>())
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| genolm::Error::Input(format!("{:?} is not a list of seeds", a[1])))?;
    let lms: Vec<GenomicModel> = a[2..]
        .iter()
        .map(|p| GenomicModel::load(p, &Device::Cpu))
        .collect::<genolm::Result<_>>()?;
    let items = parse_labelled_csv(PROMOTERS_CSV, "ecoli_promoters_uci.csv")?;
    // FINETUNE_SEEDS=n: also fine-tune each LM's class LMs with n seeds (seed, seed + 1000, …)
    // and average those too ("<LM> × n fine-tunings", and the mean over every LM and seed)
    let n_ft: u64 = std::env::var("FINETUNE_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    println!("seed,method,accuracy");
    for &seed in &seeds {
        let mut labels = Vec::new();
        let mut per_lm: Vec<Vec<Vec<f64>>> = vec![Vec::new(); lms.len()];
        let mut per_lm_ft: Vec<Vec<Vec<f64>>> = vec![Vec::new(); lms.len()];
        let mut mean = Vec::new();
        let mut mean_ft = Vec::new();
        let mut kmer = Vec::new();
        for (train, test) in stratified_folds(&items, 5, seed) {
            labels.extend(test.iter().map(|x| x.label));
            kmer.extend(kmer_logreg_probs(&train, &test, 2, seed, false, false));
            let fits = (0..n_ft)
                .map(|r| {
                    let opts = GenerativeOptions {
                        seed: seed + 1000 * r,
                        ..Default::default()
                    };
                    generative_ensemble(&lms, &train, &test, 2, &opts)
                })
                .collect::<genolm::Result<Vec<_>>>()?;
            for (m, out) in fits[0].members.iter().zip(per_lm.iter_mut()) {
                out.extend(m.probs.iter().cloned());
            }
            mean.extend(fits[0].probs.iter().cloned());
            for (l, out) in per_lm_ft.iter_mut().enumerate() {
                let sets: Vec<&[Vec<f64>]> = fits.iter().map(|f| &f.members[l].probs[..]).collect();
                out.extend(mean_probs(&sets).expect("same test items"));
            }
            let sets: Vec<&[Vec<f64>]> = fits.iter().map(|f| &f.probs[..]).collect();
            mean_ft.extend(mean_probs(&sets).expect("same test items"));
        }
        for (name, p) in a[2..].iter().zip(&per_lm) {
            println!("{seed},{name},{:.4}", accuracy(p, &labels));
        }
        println!(
            "{seed},mean of {} LMs,{:.4}",
            lms.len(),
            accuracy(&mean, &labels)
        );
        if n_ft > 1 {
            for (name, p) in a[2..].iter().zip(&per_lm_ft) {
                println!(
                    "{seed},{name} x {n_ft} fine-tunings,{:.4}",
                    accuracy(p, &labels)
                );
            }
            println!(
                "{seed},mean of {} LMs x {n_ft} fine-tunings,{:.4}",
                lms.len(),
                accuracy(&mean_ft, &labels)
            );
        }
        println!("{seed},k-mer regression,{:.4}", accuracy(&kmer, &labels));
    }
    Ok(())
}
