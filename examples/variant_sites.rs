//! Per-substitution scores of the benchmark's variant task, as CSV on stdout: for every random
//! CDS substitution of each held-out annotated genome (the task's sample: same seed, count and
//! flank), its strand, codon position, consequence, and the full-window log-likelihood of the
//! four candidate bases by the model on the forward strand (`mA…mT`) and on the reverse
//! complement (`rA…rT`, indexed by the forward base), and the same for the order-6 Markov chain
//! (`bA…`, `rbA…`). `scripts/variant-sites.py` reads it (AUROCs by codon position and score).
//!
//! ```sh
//! cargo run --release --example variant_sites -- pretrained:lstm_small_extended \
//!     datasets/extended.json 2000 256 > sites.csv
//! python3 scripts/variant-sites.py sites.csv
//! ```
use candle_core::Device;
use genolm::bench::score::{markov_candidate_scores, model_candidate_scores};
use genolm::bench::variants::sample_cds_substitutions;
use genolm::bench::{open_context, BenchOptions};
use genolm::data::alphabet::revcomp;
use genolm::models::GenomicModel;

fn main() -> genolm::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 5 {
        eprintln!("usage: variant_sites MODEL CORPUS SUBSTITUTIONS_PER_GENOME FLANK");
        std::process::exit(2);
    }
    let num = |s: &str| {
        s.parse::<usize>()
            .map_err(|_| genolm::Error::Input(format!("{s:?} is not a count")))
    };
    let model = GenomicModel::load(&a[1], &Device::Cpu)?;
    let (n, flank) = (num(&a[3])?, num(&a[4])?);
    // the benchmark's own context: its corpus, split and Markov chain
    let opts = BenchOptions {
        corpus: Some(a[2].clone()),
        ..Default::default()
    };
    let ckpt = genolm::models::model::resolve_checkpoint(std::path::Path::new(&a[1]));
    let ctx = open_context(&model, Some(&ckpt), &opts)?.ctx;
    println!("genome,pos,strand,codon_pos,consequence,ref,alt,aa_ref,aa_alt,mA,mC,mG,mT,rA,rC,rG,rT,bA,bC,bG,bT,rbA,rbC,rbG,rbT");
    for (gi, g) in ctx.annotated_held_out().into_iter().enumerate() {
        let subs = sample_cds_substitutions(&ctx, g, n, flank, ctx.opts.seed + gi as u64)?;
        let genome = &ctx.corpus.genomes[g];
        let wins: Vec<Vec<u8>> = subs.iter().map(|s| s.sub.window.clone()).collect();
        let rc: Vec<Vec<u8>> = wins.iter().map(|w| revcomp(w)).collect();
        let m = model_candidate_scores(&ctx, &wins, flank)?;
        let r = model_candidate_scores(&ctx, &rc, flank)?;
        for (i, s) in subs.iter().enumerate() {
            let (ci, p) = s.at;
            let t = genome.contigs[ci]
                .tracks(&genome.track_options())
                .unwrap()?;
            let (strand, cp) = t.single_frame(p).unwrap();
            let b = markov_candidate_scores(&ctx, &wins[i], flank);
            let rb = markov_candidate_scores(&ctx, &rc[i], flank);
            let r4 = [r[i][3], r[i][2], r[i][1], r[i][0]];
            let rb4 = [rb[3], rb[2], rb[1], rb[0]];
            let f = |x: &[f64; 4]| {
                x.iter()
                    .map(|v| format!("{v:.5}"))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            println!(
                "{},{},{:?},{},{:?},{},{},{},{},{},{},{},{}",
                ctx.id(g),
                p,
                strand,
                cp,
                s.consequence,
                s.sub.window[flank] as char,
                s.sub.alt as char,
                s.aa.0 as char,
                s.aa.1 as char,
                f(&m[i]),
                f(&r4),
                f(&b),
                f(&rb4)
            );
        }
    }
    Ok(())
}
