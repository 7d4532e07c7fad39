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
use genolm::bench::markov::MarkovModel;
use genolm::bench::score::{markov_candidate_scores, model_candidate_scores};
use genolm::bench::variants::sample_cds_substitutions;
use genolm::bench::{BenchContext, BenchOptions};
use genolm::data::alphabet::revcomp;
use genolm::data::corpus::Corpus;
use genolm::models::GenomicModel;
use genolm::train::run::{run_splits, DataConfig};

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
    let corpus = Corpus::open(&a[2])?;
    let (n, flank) = (num(&a[3])?, num(&a[4])?);
    let d = DataConfig {
        corpus: a[2].clone(),
        ..Default::default()
    };
    let s = run_splits(&corpus, &d)?;
    let train: Vec<usize> = corpus
        .ids(&s.train)
        .iter()
        .map(|id| corpus.index_of(id).unwrap())
        .collect();
    let held_out: Vec<usize> = (0..corpus.genomes.len())
        .filter(|i| !train.contains(i))
        .collect();
    let markov = MarkovModel::fit(
        train
            .iter()
            .flat_map(|&g| corpus.genomes[g].contigs.iter().map(|c| c.seq.as_slice())),
        6,
        true,
    )?;
    let ctx = BenchContext {
        model: &model,
        tok: model.config().tokenizer()?,
        corpus,
        train,
        held_out,
        markov,
        opts: BenchOptions::default(),
        run_summary: None,
        neuron_states: Default::default(),
    };
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
