//! Neurons for any feature type and the lead/lag analysis, on the real annotation of the
//! Arabidopsis thaliana chloroplast genome (GenBank: CDS, tRNA, rRNA, repeat_region, …).
//! The states are constructed: one neuron fires in the 100 bases before every tRNA starts
//! (strand-aware), one inside tRNAs, one is noise — so the test knows the answer.

use genolm::data::annotation::{parse_bed, read_annotation, Strand};
use genolm::explain::neurons::{feature_targets, lead_lag, start_profile, LeadLagOptions};
use genolm::infer::{LayerStates, RecordInfo, States};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[test]
fn a_neuron_that_fires_before_trna_starts_is_found_and_strands_matter() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("datasets/euk/arabidopsis_thaliana_chloroplast.gb.gz");
    let ann = read_annotation(&path, None).unwrap();
    let rec = &ann[0];
    let len = rec.seq.len();
    let trna: Vec<_> = rec
        .features
        .iter()
        .filter(|f| f.kind == "tRNA")
        .cloned()
        .collect();
    assert!(trna.len() >= 20, "{} tRNAs", trna.len());
    let mut up = vec![0f32; len];
    let mut inside = vec![0f32; len];
    for f in &trna {
        let (s, e) = f.bounds().unwrap();
        let rev = f.segments[0].strand == Strand::Reverse;
        let (a, b) = if rev {
            (e, (e + 100).min(len))
        } else {
            (s.saturating_sub(100), s)
        };
        up[a..b].iter_mut().for_each(|v| *v = 1.0);
        inside[s..e].iter_mut().for_each(|v| *v = 1.0);
    }
    let every = 5;
    let rows: Vec<usize> = (0..len).step_by(every).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut data = Vec::with_capacity(rows.len() * 3);
    for &p in &rows {
        data.push(up[p] + rng.random_range(-0.5f32..0.5));
        data.push(rng.random_range(-0.5f32..0.5));
        data.push(inside[p] + rng.random_range(-0.5f32..0.5));
    }
    let states = States {
        k: 1,
        stride: 1,
        every,
        layers: vec![LayerStates {
            name: "lstm.0".into(),
            units: 3,
            data,
        }],
        records: vec![RecordInfo {
            name: rec.name.clone(),
            length: len,
            row_offset: 0,
            n_rows: rows.len(),
        }],
        sequences: vec![rec.seq.clone()],
        record: vec![0; rows.len()],
        position: rows.iter().map(|&p| p as u64).collect(),
    };
    // targets for every feature kind present
    let t = feature_targets(&states, 0, &rec.features, &[], 50).unwrap();
    let names: Vec<&str> = t.iter().map(|x| x.name.as_str()).collect();
    for k in ["feature:tRNA", "feature:rRNA", "feature:CDS"] {
        assert!(names.contains(&k), "{names:?}");
    }
    assert!(!names.contains(&"feature:source") && !names.contains(&"feature:gene"));
    // lead/lag: unit 0 fires upstream, unit 2 inside, unit 1 nowhere
    let opts = LeadLagOptions {
        upstream: 100,
        inside: 60,
        downstream: 100,
        n_shifts: 100,
        ..Default::default()
    };
    let rep = lead_lag(&states, 0, &trna, &opts).unwrap();
    assert_eq!(rep.scores[0].unit, 0, "{:?}", &rep.scores);
    assert!(rep.scores[0].upstream_z > 5.0 && rep.scores[0].upstream_q < 0.05);
    let inside_unit = rep.scores.iter().find(|s| s.unit == 2).unwrap();
    assert!(
        inside_unit.inside_z > 5.0 && inside_unit.inside_z > inside_unit.upstream_z,
        "{inside_unit:?}"
    );
    let noise = rep.scores.iter().find(|s| s.unit == 1).unwrap();
    assert!(
        noise.upstream_z.abs() < 4.0 && noise.upstream_q > 0.05,
        "{noise:?}"
    );
    assert_eq!(rep.significant().len(), 1, "{:?}", rep.significant());
    // ignoring strands (every tRNA read as +) loses most of the upstream signal
    let flat: Vec<_> = trna
        .iter()
        .cloned()
        .map(|mut f| {
            f.segments
                .iter_mut()
                .for_each(|s| s.strand = Strand::Forward);
            f
        })
        .collect();
    let rep_flat = lead_lag(&states, 0, &flat, &opts).unwrap();
    let z_flat = rep_flat
        .scores
        .iter()
        .find(|s| s.unit == 0)
        .unwrap()
        .upstream_z;
    assert!(
        z_flat < rep.scores[0].upstream_z,
        "{z_flat} vs {}",
        rep.scores[0].upstream_z
    );
    // the profile peaks before 0
    let prof = start_profile(&states, 0, &trna, ("lstm.0", 0), 300, 300, 50).unwrap();
    let peak = prof.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
    assert!(peak.0 < 0.0 && peak.0 > -150.0, "{prof:?}");
    assert!(rep.table().unwrap().df.height() == 3);
    // BED intervals work as anchors too; bad lines name the line
    let bed: String = trna
        .iter()
        .map(|f| {
            let (s, e) = f.bounds().unwrap();
            format!(
                "{}\t{s}\t{e}\tt\t0\t{}\n",
                rec.name,
                if f.segments[0].strand == Strand::Reverse {
                    '-'
                } else {
                    '+'
                }
            )
        })
        .collect();
    let parsed: Vec<_> = parse_bed(bed.as_bytes(), "t.bed", "tRNA")
        .unwrap()
        .into_iter()
        .map(|x| x.1)
        .collect();
    let rep_bed = lead_lag(&states, 0, &parsed, &opts).unwrap();
    assert_eq!(rep_bed.scores[0].unit, 0);
    let e = parse_bed(b"chr\t5\t2\n", "t.bed", "x").unwrap_err();
    assert!(e.to_string().contains("t.bed:1"), "{e}");
}
