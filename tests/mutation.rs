//! Mutation testing of the parsers' entry points (the same ones the cargo-fuzz targets in
//! `fuzz/` drive): real files are cut, spliced and bit-flipped thousands of times; every
//! outcome must be `Ok` or a typed error — never a panic.

use std::path::Path;

use genolm::data::annotation::{check_translations, parse_genbank_bytes, parse_gff3_bytes};
use genolm::data::fasta::read_fasta_bytes;
use genolm::data::tracks::Tracks;
use rand::{Rng, SeedableRng};

fn ds(p: &str) -> Vec<u8> {
    let raw = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("datasets")
            .join(p),
    )
    .unwrap();
    genolm::data::io::decompress(&raw).unwrap()
}

fn mutate(src: &[u8], rng: &mut impl Rng) -> Vec<u8> {
    let mut v = src.to_vec();
    for _ in 0..rng.random_range(1..6) {
        if v.is_empty() {
            break;
        }
        let i = rng.random_range(0..v.len());
        match rng.random_range(0..6) {
            0 => v[i] = rng.random(),
            1 => v.truncate(i),
            2 => {
                let j = rng.random_range(i..v.len().min(i + 200) + 1).min(v.len());
                v.drain(i..j);
            }
            3 => {
                let tok: &[u8] = [
                    &b"\n"[..],
                    b"\t",
                    b">",
                    b"@",
                    b"..",
                    b"join(",
                    b")",
                    b"-1",
                    b"999999999",
                    b"//\n",
                    b"\r\n",
                    b"+",
                    b"=",
                ][rng.random_range(0..13)];
                v.splice(i..i, tok.iter().copied());
            }
            4 => v[i] ^= 1 << rng.random_range(0..8),
            _ => {
                let j = rng.random_range(0..v.len());
                let piece: Vec<u8> = v[j..v.len().min(j + 50)].to_vec();
                v.splice(i..i, piece);
            }
        }
    }
    v
}

fn run(name: &str, seed: &[u8], n: usize, f: impl Fn(&[u8])) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0xF022);
    for _ in 0..n {
        let input = mutate(seed, &mut rng);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&input)));
        if r.is_err() {
            let path = std::env::temp_dir().join(format!("genolm-crash-{name}.bin"));
            std::fs::write(&path, &input).unwrap();
            panic!(
                "{name}: panic on a mutated input, saved to {}",
                path.display()
            );
        }
    }
}

#[test]
fn fasta_never_panics() {
    let mut seed = ds("vir/enterobacteria_phage_lambda.fa.gz")[..6000].to_vec();
    seed.extend_from_slice(b"\n>r2 x\nACGTNNacgt\n@q\nACGT\n+\nIIII\n");
    run("fasta", &seed, 30_000, |b| {
        if let Ok(recs) = read_fasta_bytes(b, "m.fa") {
            for r in recs {
                assert!(r.mask.iter().all(|m| m.end <= r.seq.len()));
            }
        }
        let _ = read_fasta_bytes(&[b"@r\n".as_slice(), b].concat(), "m.fq");
    });
}

#[test]
fn genbank_never_panics() {
    let seed = ds("vir/phiX174.gbk");
    run("genbank", &seed, 15_000, |b| {
        if let Ok(seqs) = parse_genbank_bytes(b, "m.gb") {
            for s in seqs {
                let _ = check_translations(&s, 11);
                let _ = Tracks::from_annotation(&s, &Default::default());
            }
        }
    });
}

#[test]
fn gff3_never_panics() {
    let gff = ds("euk/saccharomyces_cerevisiae_chrI.gff3.gz");
    let fa = ds("euk/saccharomyces_cerevisiae_chrI.fa.gz");
    // First ~40 rows plus an embedded FASTA with the first 30 kb of chrI.
    let head: Vec<&[u8]> = gff.split(|&b| b == b'\n').take(40).collect();
    let mut seed = head.join(&b'\n');
    seed.extend_from_slice(b"\n##FASTA\n>chrI\n");
    let body: Vec<u8> = fa
        .split(|&b| b == b'\n')
        .skip(1)
        .flatten()
        .copied()
        .take(30_000)
        .collect();
    seed.extend_from_slice(&body);
    seed.push(b'\n');
    run("gff3", &seed, 15_000, |b| {
        if let Ok(seqs) = parse_gff3_bytes(b, "m.gff3", None) {
            for s in seqs {
                let _ = check_translations(&s, 1);
                let _ = Tracks::from_annotation(&s, &Default::default());
            }
        }
    });
}
