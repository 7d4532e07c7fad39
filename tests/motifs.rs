//! Motif statistics: Tomtom p-values against the published tool's (memelite 0.5, which
//! reproduces MEME's tomtom; benches/peers/tomtom_memelite.py wrote the reference CSV), and
//! FIMO-style scanning.

use genolm::explain::motifs::{read_jaspar, tomtom, Pwm, TomtomOptions};

fn jaspar() -> Vec<Pwm> {
    read_jaspar(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/datasets/motifs/JASPAR2024_CORE_vertebrates.jaspar.gz"
    ))
    .unwrap()
}

/// The peer script's queries: blurred JASPAR matrices, every other one reverse-complemented.
fn queries(db: &[Pwm]) -> Vec<Pwm> {
    [
        "CTCF", "GATA1", "Spi1", "CEBPB", "FOXA1", "REST", "SOX2", "TP53",
    ]
    .iter()
    .enumerate()
    .map(|(i, n)| {
        let m = db.iter().find(|m| m.name == *n).unwrap();
        let mut q = if i % 2 == 1 { m.revcomp() } else { m.clone() };
        for c in q.probs.iter_mut() {
            for v in c.iter_mut() {
                *v = 0.7 * *v + 0.075;
            }
        }
        q.id = format!("{n}_blurred");
        q
    })
    .collect()
}

#[test]
fn tomtom_p_values_agree_with_memelite() {
    let db = jaspar();
    let reference = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/interpretation/tomtom-memelite.csv"
    ))
    .unwrap();
    let mut worst: f64 = 0.0;
    let mut n = 0;
    for q in queries(&db) {
        let hits = tomtom(&q, &db, &TomtomOptions::default());
        let mut ours_best: Vec<&str> = hits.iter().take(3).map(|h| h.target.as_str()).collect();
        let mut theirs_best = Vec::new();
        for line in reference
            .lines()
            .skip(1)
            .filter(|l| l.starts_with(&format!("{},", q.id)))
        {
            let f: Vec<&str> = line.split(',').collect();
            let (target, p_ref, strand) = (f[1], f[3].parse::<f64>().unwrap(), f[7]);
            if theirs_best.len() < 3 {
                theirs_best.push(target);
            }
            let h = hits.iter().find(|h| h.target == target).unwrap();
            let d = (h.p.max(1e-300).log10() - p_ref.max(1e-300).log10()).abs();
            eprintln!(
                "{} {} ours {:.3e} memelite {:.3e} |Δlog10| {:.3} strand {}/{}",
                q.id, target, h.p, p_ref, d, h.strand, strand
            );
            if p_ref < 0.5 {
                worst = worst.max(d);
            }
            n += 1;
        }
        ours_best.sort();
        theirs_best.sort();
        assert_eq!(
            ours_best, theirs_best,
            "{}: best three targets differ",
            q.id
        );
    }
    assert_eq!(n, 80);
    eprintln!("largest |Δlog10 p| = {worst:.3}");
    assert!(worst < 0.5, "largest |Δlog10 p| = {worst:.3}");
}

/// FIMO-style p-values: the discretised distribution lightmotif computes agrees with the exact
/// p-value by enumeration of all 4^w words (uniform background), on real sequence.
#[test]
fn scan_p_values_match_enumeration_on_a_real_genome() {
    use genolm::explain::motifs::scan::{scan, ScanOptions};
    let db = jaspar();
    let m = db
        .iter()
        .find(|m| m.len() == 8 && m.information() > 8.0)
        .unwrap()
        .clone();
    let recs = genolm::data::fasta::read_fasta(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/datasets/pro/staphylococcus_aureus_N315.fa.gz"
    ))
    .unwrap();
    let seq = recs[0].seq.clone();
    assert!(seq.len() > 50_000, "real sequence missing");
    let opts = ScanOptions {
        background: Some([0.25; 4]),
        p_threshold: 1e-3,
        ..Default::default()
    };
    let hits = scan(std::slice::from_ref(&m), &[("N315", &seq[..50_000])], &opts).unwrap();
    assert!(hits.len() > 10, "{} hits", hits.len());
    // the same log-odds in f64 (FIMO pseudocount 0.1 over n sites)
    let n = m.n_sites.max(1) as f64;
    let lo: Vec<[f64; 4]> = m
        .probs
        .iter()
        .map(|c| {
            let t: f64 = c.iter().sum();
            c.map(|p| (((p / t * n + 0.025) / (n + 0.1)) / 0.25).log2())
        })
        .collect();
    let mut all: Vec<f64> = Vec::with_capacity(1 << 16);
    for w in 0..(1usize << 16) {
        all.push((0..8).map(|i| lo[i][(w >> (2 * i)) & 3]).sum());
    }
    for h in hits.iter().step_by(hits.len() / 10) {
        let exact = all.iter().filter(|&&s| s >= h.score - 1e-4).count() as f64 / all.len() as f64;
        let ratio = h.p / exact;
        assert!(
            (0.7..1.43).contains(&ratio),
            "{}: p {} vs exact {exact}",
            h.matched,
            h.p
        );
        assert!(h.q >= h.p);
    }
}

#[test]
fn the_jaspar_database_written_in_memes_format_reads_the_same() {
    // every JASPAR 2024 vertebrate matrix, written as JASPAR's MEME export writes it (each
    // column's counts over the motif's sites, nsites the site count), read back: the same
    // motifs, ids, names and probabilities
    let text = String::from_utf8(
        genolm::data::io::read_all(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/datasets/motifs/JASPAR2024_CORE_vertebrates.jaspar.gz"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut meme = String::from("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n");
    let (mut id, mut rows) = (String::new(), Vec::<Vec<f64>>::new());
    let flush = |id: &str, rows: &mut Vec<Vec<f64>>, meme: &mut String| {
        if rows.is_empty() {
            return;
        }
        let sites: f64 = rows.iter().map(|r| r[0]).sum();
        meme.push_str(&format!(
            "MOTIF {id}\nletter-probability matrix: alength= 4 w= {} nsites= {sites} E= 0\n",
            rows[0].len()
        ));
        for j in 0..rows[0].len() {
            let col: Vec<f64> = rows.iter().map(|r| r[j]).collect();
            let n: f64 = col.iter().sum();
            let p: Vec<String> = col.iter().map(|c| format!("{}", c / n)).collect();
            meme.push_str(&format!("{}\n", p.join(" ")));
        }
        meme.push('\n');
        rows.clear();
    };
    for line in text.lines() {
        if let Some(h) = line.strip_prefix('>') {
            flush(&id, &mut rows, &mut meme);
            id = h.trim().to_string();
        } else if !line.trim().is_empty() {
            let body = line.trim()[1..].replace(['[', ']'], " ");
            rows.push(
                body.split_whitespace()
                    .map(|v| v.parse().unwrap())
                    .collect(),
            );
        }
    }
    flush(&id, &mut rows, &mut meme);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("JASPAR2024_CORE_vertebrates.meme");
    std::fs::write(&path, meme).unwrap();
    let (a, b) = (jaspar(), read_jaspar(&path).unwrap());
    assert!(a.len() > 800, "{}", a.len());
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!((&x.id, &x.name, x.len()), (&y.id, &y.name, y.len()));
        for (p, q) in x.probs.iter().zip(&y.probs) {
            for (u, v) in p.iter().zip(q) {
                // some JASPAR matrices' columns sum to different site counts, where MEME keeps
                // one nsites: the pseudocount (0.01 a base) then weighs a little differently
                assert!((u - v).abs() < 1e-3, "{}: {p:?} {q:?}", x.id);
            }
        }
    }
}
