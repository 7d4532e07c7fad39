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
    ["CTCF", "GATA1", "Spi1", "CEBPB", "FOXA1", "REST", "SOX2", "TP53"]
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
        for line in reference.lines().skip(1).filter(|l| l.starts_with(&format!("{},", q.id))) {
            let f: Vec<&str> = line.split(',').collect();
            let (target, p_ref, strand) = (f[1], f[3].parse::<f64>().unwrap(), f[7]);
            if theirs_best.len() < 3 {
                theirs_best.push(target);
            }
            let h = hits.iter().find(|h| h.target == target).unwrap();
            let d = (h.p.max(1e-300).log10() - p_ref.max(1e-300).log10()).abs();
            eprintln!("{} {} ours {:.3e} memelite {:.3e} |Δlog10| {:.3} strand {}/{}", q.id, target, h.p, p_ref, d, h.strand, strand);
            if p_ref < 0.5 {
                worst = worst.max(d);
            }
            n += 1;
        }
        ours_best.sort();
        theirs_best.sort();
        assert_eq!(ours_best, theirs_best, "{}: best three targets differ", q.id);
    }
    assert_eq!(n, 80);
    eprintln!("largest |Δlog10 p| = {worst:.3}");
    assert!(worst < 0.5, "largest |Δlog10 p| = {worst:.3}");
}
