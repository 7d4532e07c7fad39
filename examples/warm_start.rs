//! How much worse a stateful LM predicts a short item (57 nt, a promoter's length) read from a
//! zero state than the same tokens read after their own 300 nt of genomic context, or after an
//! unrelated 300-nt prefix of the same genome: nats per token at 256 random places of the
//! genome's first record, by target position (docs/training.md, "Short items from a zero state").
//!
//! ```sh
//! cargo run --release --example warm_start -- pretrained:lstm_small_extended2_gorilla \
//!     ../shared/data/pro/escherichia_coli_MG1655.fa.gz
//! ```
use candle_core::Device;
use genolm::infer::{predict_rows, RowOptions};
use genolm::models::GenomicModel;
use rand::{Rng, SeedableRng};

fn main() -> genolm::Result<()> {
    let a: Vec<String> = std::env::args().collect();
    if a.len() != 3 {
        eprintln!("usage: warm_start MODEL FASTA");
        std::process::exit(2);
    }
    let model = GenomicModel::load(&a[1], &Device::Cpu)?;
    let recs = genolm::data::fasta::read_fasta(&a[2])?;
    let seq: Vec<u8> = recs[0].seq.to_ascii_uppercase();
    let tok = model.config().tokenizer()?;
    let (item, pre) = (57usize, 300usize);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let n = 256;
    let starts: Vec<usize> = (0..n)
        .map(|_| rng.random_range(pre..seq.len() - item))
        .collect();
    let burn_at = rng.random_range(pre..seq.len() - item);
    let burn = &seq[burn_at - pre..burn_at];
    let rows = |f: &dyn Fn(usize) -> Vec<u8>| -> Vec<Vec<u32>> {
        starts.iter().map(|&s| tok.encode(&f(s))).collect()
    };
    let zero = rows(&|s| seq[s..s + item].to_vec());
    let own = rows(&|s| seq[s - pre..s + item].to_vec());
    let generic = rows(&|s| [burn, &seq[s..s + item]].concat());
    let t_item = zero[0].len();
    let ll = |r: &[Vec<u32>]| -> genolm::Result<Vec<f64>> {
        let lp = predict_rows(&model, r, &RowOptions::batch(64))?;
        let t = r[0].len();
        let off = t - t_item;
        let mut per = vec![0f64; t_item - 1];
        for (row, p) in r.iter().zip(&lp) {
            for j in 0..t_item - 1 {
                per[j] += p[off + j][row[off + j + 1] as usize] as f64 / r.len() as f64;
            }
        }
        Ok(per)
    };
    for (name, r) in [
        ("zero state", &zero),
        ("own 300-nt context", &own),
        ("unrelated 300-nt prefix", &generic),
    ] {
        let per = ll(r)?;
        let m = |lo: usize, hi: usize| {
            -per[lo..hi.min(per.len())].iter().sum::<f64>() / (hi.min(per.len()) - lo) as f64
        };
        println!(
            "{name:>24}: nats/token targets 1-10 {:.3}  11-30 {:.3}  31-54 {:.3}  all {:.3}",
            m(0, 10),
            m(10, 30),
            m(30, 54),
            m(0, 54)
        );
    }
    Ok(())
}
