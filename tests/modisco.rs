//! Seqlets → motifs on attributions whose answer is known: windows of a real genome with
//! CEBPB (JASPAR MA0466.4) sites planted on either strand, and contribution maps that carry
//! the motif's log-odds at the planted sites (plus noise everywhere). The pipeline must call
//! the planted stretches, cluster them into one motif across strands and match it to CEBPB
//! at rank 1 among all of JASPAR.

use genolm::data::fasta::read_fasta;
use genolm::explain::attribution::Attribution;
use genolm::explain::modisco::{discover_motifs, ModiscoOptions};
use genolm::explain::motifs::read_jaspar;
use genolm::explain::planted::{planted_motif_task, PlantOptions};
use genolm::explain::seqlets::{call_seqlets, SeqletOptions};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[test]
fn planted_sites_become_one_motif_matched_to_its_jaspar_entry() {
    let root = env!("CARGO_MANIFEST_DIR");
    let db = read_jaspar(format!(
        "{root}/datasets/motifs/JASPAR2024_CORE_vertebrates.jaspar.gz"
    ))
    .unwrap();
    let cebpb = db.iter().find(|m| m.id == "MA0466.4").unwrap().clone();
    let bg = read_fasta(format!(
        "{root}/datasets/pro/staphylococcus_aureus_N315.fa.gz"
    ))
    .unwrap();
    let task = planted_motif_task(
        &bg,
        std::slice::from_ref(&cebpb),
        &PlantOptions {
            length: 150,
            per_class: 40,
            seed: 3,
        },
    )
    .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let w = cebpb.len();
    let attrs: Vec<Attribution> = task
        .items
        .iter()
        .filter(|x| x.label == 1)
        .map(|x| {
            // site position and strand from the origin ("… MA0466.4@57-")
            let tag = x.origin.split('@').nth(1).unwrap();
            let (pos, strand) = tag.split_at(tag.len() - 1);
            let pos: usize = pos.parse().unwrap();
            let mut hyp: Vec<[f32; 4]> = (0..x.seq.len())
                .map(|_| std::array::from_fn(|_| rng.random_range(-0.05f32..0.05)))
                .collect();
            for j in 0..w {
                let col = if strand == "+" {
                    cebpb.probs[j]
                } else {
                    let c = cebpb.probs[w - 1 - j];
                    [c[3], c[2], c[1], c[0]]
                };
                hyp[pos + j] = col.map(|p| (p / 0.25).log2() as f32 * 0.5);
            }
            let per_base: Vec<[f32; 4]> = x
                .seq
                .iter()
                .zip(&hyp)
                .map(|(&b, h)| {
                    let mut o = [0f32; 4];
                    let i = b"ACGT".iter().position(|&c| c == b).unwrap();
                    o[i] = h[i];
                    o
                })
                .collect();
            Attribution {
                method: "planted".into(),
                sequence: x.seq.clone(),
                k: 1,
                per_token: per_base.iter().map(|r| r.iter().sum()).collect(),
                per_base: Some(per_base),
                output: 0.0,
                baseline_output: None,
                hypothetical: Some(hyp),
                convergence: None,
            }
        })
        .collect();
    let calls = call_seqlets(&attrs, &SeqletOptions::default()).unwrap();
    let positive: Vec<_> = calls.seqlets.iter().filter(|s| s.score > 0.0).collect();
    assert!(
        positive.len() >= 30,
        "{} positive seqlets of 40 planted sites",
        positive.len()
    );
    assert!(calls.positive_threshold.is_finite());
    let d = discover_motifs(&attrs, &db, &ModiscoOptions::default()).unwrap();
    let pos: Vec<_> = d
        .motifs
        .iter()
        .filter(|m| m.id.starts_with("pos"))
        .collect();
    assert!(!pos.is_empty(), "no motif: {:?}", d.calls.seqlets.len());
    let m = pos[0];
    assert!(m.n_seqlets >= 25, "{} seqlets", m.n_seqlets);
    // both strands were planted, and the cluster holds both orientations
    assert!(m.members.iter().any(|x| x.2 == '+') && m.members.iter().any(|x| x.2 == '-'));
    assert_eq!(m.matches[0].target, "MA0466.4", "{:?}", &m.matches[..3]);
    assert!(m.matches[0].q < 1e-3, "{}", m.matches[0].q);
    assert!(d.table().unwrap().df.height() == d.motifs.len());
    assert!(d.figure_for(0).is_ok());
}
