//! Explainability on real sequences with small models: completeness of integrated gradients,
//! exact ISM of a planted motif, batched dependency maps equal unbatched ones, shuffled targets
//! give no significant neurons, deletion and motifs run end to end.

use candle_core::Device;
use genolm::data::corpus::Corpus;
use genolm::explain::attribution::{
    input_x_gradient, integrated_gradients, ism, ism_with, saliency, AttributionOptions, Baseline,
    Objective, SequenceScorer,
};
use genolm::explain::deletion::{
    deletion_curve, lm_loss, loss_with_deleted, Ablate, DeletionOptions,
};
use genolm::explain::depmap::{dependency_map, DepMapOptions};
use genolm::explain::motifs::filter_pwms;
use genolm::explain::neurons::{
    identify_explainable_neurons, shuffle_targets, targets_from_tracks, NeuronOptions,
};
use genolm::infer::{states, PredictOptions};
use genolm::models::{GenomicModel, ModelConfig};

fn phix() -> (Vec<u8>, genolm::data::tracks::Tracks) {
    let c = Corpus::embedded().unwrap();
    let g = &c.genomes[c.index_of("phiX174").unwrap()];
    let tr = g.contigs[0].tracks(&g.track_options()).unwrap().unwrap();
    (g.contigs[0].seq.clone(), tr)
}

fn nucleotide(preset: &str) -> GenomicModel {
    let mut cfg = ModelConfig::preset(preset).unwrap();
    cfg.k = 1;
    cfg.emb_dim = 16;
    if cfg.lstm_layers > 0 {
        cfg.lstm_layers = 1;
        cfg.lstm_hidden = 24;
    }
    if cfg.attn_layers > 0 {
        cfg.attn_layers = 1;
        cfg.attn_heads = 2;
    }
    if cfg.conv_layers > 0 {
        cfg.conv_layers = 2;
        cfg.conv_channels = 16;
    }
    GenomicModel::new(cfg, &Device::Cpu, 11).unwrap()
}

#[test]
fn integrated_gradients_are_complete_for_every_architecture() {
    let (seq, _) = phix();
    let s = &seq[1000..1060];
    for preset in [
        "awd_lstm_small",
        "transformer_small",
        "cnn_small",
        "transformer_mlm_small",
    ] {
        let m = nucleotide(preset);
        for base in [Baseline::Zero, Baseline::Shuffled(3)] {
            let ig = integrated_gradients(
                &m,
                s,
                &AttributionOptions {
                    baseline: base,
                    steps: 64,
                    ..Default::default()
                },
            )
            .unwrap();
            let gap = ig.output - ig.baseline_output.unwrap();
            let err = (ig.total() - gap).abs();
            assert!(
                err <= 0.02 * gap.abs().max(1.0),
                "{preset} {base:?}: Σ attributions {:.4} vs f(x) − f(x') {:.4}",
                ig.total(),
                gap
            );
            // per-base map sums to the same total for nucleotide models
            let pb: f64 = ig
                .per_base
                .as_ref()
                .unwrap()
                .iter()
                .flatten()
                .map(|&v| v as f64)
                .sum();
            assert!(
                (pb - ig.total()).abs() < 1e-3 * ig.total().abs().max(1.0),
                "{preset}: {pb} vs {}",
                ig.total()
            );
        }
    }
    // k-mer model: one attribution per token
    let m = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 2).unwrap();
    let ig = integrated_gradients(
        &m,
        s,
        &AttributionOptions {
            baseline: Baseline::Zero,
            steps: 64,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(ig.per_token.len(), s.len() - 2);
    assert!(ig.per_base.is_none());
    let gap = ig.output - ig.baseline_output.unwrap();
    assert!((ig.total() - gap).abs() <= 0.02 * gap.abs().max(1.0));
}

#[test]
fn saliency_and_input_x_gradient_agree_with_the_gradient() {
    let (seq, _) = phix();
    let m = nucleotide("awd_lstm_small");
    let s = &seq[200..240];
    let sal = saliency(&m, s, &AttributionOptions::of(Objective::TokenLogProb(20))).unwrap();
    let ixg =
        input_x_gradient(&m, s, &AttributionOptions::of(Objective::TokenLogProb(20))).unwrap();
    // a causal model's prediction at token 20 ignores later tokens
    assert!(sal.per_token[21..].iter().all(|&v| v == 0.0));
    assert!(sal.per_token[..20].iter().any(|&v| v > 0.0));
    // input × gradient on the one-hot equals it on the embedding (linear embedding)
    let pb = ixg.per_base.as_ref().unwrap();
    for (t, v) in ixg.per_token.iter().enumerate() {
        let b: f32 = pb[t].iter().sum();
        assert!(
            (b - v).abs() < 1e-4 * v.abs().max(1.0),
            "token {t}: {b} vs {v}"
        );
    }
}

/// A synthetic model: the log-odds score of a PWM at a fixed planted position.
struct PlantedPwm {
    at: usize,
    w: Vec<[f64; 4]>,
}

impl SequenceScorer for PlantedPwm {
    fn score(&self, seqs: &[Vec<u8>]) -> genolm::Result<Vec<f64>> {
        Ok(seqs
            .iter()
            .map(|s| {
                self.w
                    .iter()
                    .enumerate()
                    .map(|(j, row)| {
                        let b = b"ACGT".iter().position(|&x| x == s[self.at + j]).unwrap();
                        row[b]
                    })
                    .sum()
            })
            .collect())
    }
}

#[test]
fn ism_recovers_a_planted_motif_exactly() {
    let (seq, _) = phix();
    let mut s = seq[500..560].to_vec();
    s[20..26].copy_from_slice(b"TATAAT"); // −10 box
    let w: Vec<[f64; 4]> = b"TATAAT"
        .iter()
        .map(|&b| {
            let mut r = [-1.5, -1.0, -0.5, -2.0];
            r[b"ACGT".iter().position(|&x| x == b).unwrap()] = 2.0;
            r
        })
        .collect();
    let sc = PlantedPwm {
        at: 20,
        w: w.clone(),
    };
    for bs in [1, 7, 500] {
        let r = ism_with(&sc, &s, bs).unwrap();
        for (p, d) in r.delta.iter().enumerate() {
            for b in 0..4 {
                let expect = if (20..26).contains(&p) {
                    let refb = b"ACGT".iter().position(|&x| x == s[p]).unwrap();
                    w[p - 20][b] - w[p - 20][refb]
                } else {
                    0.0
                };
                assert_eq!(d[b], expect, "position {p} base {b} (batch {bs})");
            }
        }
    }
    // with a real model, batched ISM equals scoring each mutant alone
    let m = nucleotide("transformer_small");
    let one = AttributionOptions {
        batch_size: 1,
        ..Default::default()
    };
    let a = ism(&m, &s[..30], &one).unwrap();
    let b = ism(&m, &s[..30], &AttributionOptions::default()).unwrap();
    for (x, y) in a.delta.iter().zip(&b.delta) {
        for i in 0..4 {
            assert!((x[i] - y[i]).abs() < 1e-3, "{x:?} vs {y:?}");
        }
    }
}

#[test]
fn batched_dependency_map_equals_one_pass_per_variant() {
    let (seq, _) = phix();
    let s = &seq[3000..3040];
    for preset in [
        "transformer_small",
        "transformer_mlm_small",
        "awd_lstm_small",
    ] {
        let m = nucleotide(preset);
        let whole = |batch_size| DepMapOptions {
            batch_size,
            kv_cache: false,
            ..Default::default()
        };
        let a = dependency_map(&m, s, &whole(1)).unwrap();
        let b = dependency_map(&m, s, &whole(50)).unwrap();
        // the default: a causal transformer reads each variant through the reference's cache
        let c = dependency_map(&m, s, &DepMapOptions::default()).unwrap();
        assert_eq!(a.passes, 3 * 40 + 1);
        assert!(b.passes < 10);
        assert_eq!(c.passes == 40 + 1, m.has_kv_cache(), "{preset}");
        for ((x, y), z) in a.values.iter().zip(&b.values).zip(&c.values) {
            assert!(
                (x - y).abs() < 1e-3 * x.abs().max(1.0) && (x - z).abs() < 1e-3 * x.abs().max(1.0),
                "{preset}: {x} vs {y} vs {z}"
            );
        }
        let causal = preset != "transformer_mlm_small";
        if causal {
            // substituting base i cannot change predictions at j ≤ i: exactly 0, batched or
            // not (each variant is compared with the reference of its own pass)
            for i in 0..40 {
                for j in 0..=i {
                    for map in [&a, &b, &c] {
                        assert_eq!(map.get(i, j), 0.0, "{preset} ({i}, {j})");
                    }
                }
            }
        }
        assert!(b.values.iter().any(|&v| v > 0.0));
        // a region's rows in the full window: the same rows, nothing else, fewer passes
        let r = dependency_map(
            &m,
            s,
            &DepMapOptions {
                rows: Some((10, 20)),
                ..whole(50)
            },
        )
        .unwrap();
        assert!(r.passes < b.passes);
        let rc = dependency_map(
            &m,
            s,
            &DepMapOptions {
                rows: Some((10, 20)),
                ..Default::default()
            },
        )
        .unwrap();
        for (x, y) in r.values.iter().zip(&rc.values) {
            assert!(
                (x - y).abs() < 1e-3 * x.abs().max(1.0),
                "{preset}: {x} vs {y}"
            );
        }
        for i in 0..40 {
            for j in 0..40 {
                let want = if (10..20).contains(&i) {
                    b.get(i, j)
                } else {
                    0.0
                };
                assert!((r.get(i, j) - want).abs() < 1e-3, "{preset} ({i}, {j})");
            }
        }
        assert_eq!(r.by_distance().len(), 39);
        assert!(dependency_map(
            &m,
            s,
            &DepMapOptions {
                rows: Some((30, 50)),
                ..Default::default()
            }
        )
        .is_err());
    }
    // a k-mer transformer through its cache: the same map as reading every variant whole
    let mut cfg = ModelConfig::preset("transformer_small").unwrap();
    (cfg.k, cfg.emb_dim, cfg.attn_layers, cfg.attn_heads) = (3, 16, 1, 2);
    let m = GenomicModel::new(cfg, &Device::Cpu, 4).unwrap();
    let c = dependency_map(&m, s, &DepMapOptions::default()).unwrap();
    let whole = DepMapOptions {
        kv_cache: false,
        ..Default::default()
    };
    let w = dependency_map(&m, s, &whole).unwrap();
    assert_eq!(c.passes, 40 + 1);
    for (x, y) in w.values.iter().zip(&c.values) {
        assert!((x - y).abs() < 1e-3 * x.abs().max(1.0), "k = 3: {x} vs {y}");
    }
    assert!(c.values.iter().any(|&v| v > 0.01));
    // k-mer models: predictions marginalised to bases
    let m = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 4).unwrap();
    let d = dependency_map(&m, s, &DepMapOptions::default()).unwrap();
    assert_eq!(d.len(), 40);
    assert!(d.plot().unwrap().svg().contains("max |Δ log2 odds|"));
}

#[test]
fn shuffled_targets_leave_no_significant_neuron() {
    let (seq, tracks) = phix();
    let m = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 9).unwrap();
    let st = states(
        &m,
        &[("phiX174".to_string(), seq)],
        &PredictOptions {
            every: 3,
            ..Default::default()
        },
    )
    .unwrap();
    let targets = targets_from_tracks(&st, 0, &tracks, 30).unwrap();
    assert!(targets.iter().any(|t| t.name == "CDS"));
    let opts = NeuronOptions {
        probe: false,
        ..Default::default()
    };
    for seed in 0..3 {
        let shuffled = shuffle_targets(&targets, seed);
        let rep = identify_explainable_neurons(&st, &shuffled, &opts).unwrap();
        assert_eq!(
            rep.significant().len(),
            0,
            "seed {seed}: {:?}",
            &rep.significant()[..rep.significant().len().min(3)]
        );
    }
    // the real targets: the report, table, plot and probe all work on real tracks
    let rep = identify_explainable_neurons(&st, &targets[..4], &NeuronOptions::default()).unwrap();
    let width: usize = st
        .layers
        .iter()
        .filter(|l| l.name != "embed")
        .map(|l| l.units)
        .sum();
    assert_eq!(rep.n_tests, 4 * width);
    assert!(rep.table().unwrap().height() == rep.n_tests);
    assert!(rep.plot(10).unwrap().svg().contains("Explainable neurons"));
    assert!(rep.print_top("CDS", 3).contains("Neuron "));
}

#[test]
fn deleting_neurons_changes_the_loss_and_the_curve_has_both_arms() {
    let (seq, _) = phix();
    let m = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 5).unwrap();
    let recs = vec![("phix".to_string(), seq[..1500].to_vec())];
    let base = lm_loss(&m, &recs, &PredictOptions::default()).unwrap();
    assert!(base.loss.is_finite() && base.loss > 1.0, "{}", base.loss);
    let all: Vec<usize> = (0..16).collect(); // tiny: the last LSTM has emb_dim units (tied decoder)
    let zero = DeletionOptions::layer("lstm.0");
    let gone = loss_with_deleted(&m, &recs, &all, &zero).unwrap();
    assert!(gone.loss != base.loss);
    let by_mean = DeletionOptions {
        ablate: Ablate::Mean,
        ..zero.clone()
    };
    let mean = loss_with_deleted(&m, &recs, &all[..4], &by_mean).unwrap();
    assert!(mean.loss.is_finite());
    let curve_opts = DeletionOptions {
        ks: vec![0, 2, 8],
        n_random: 2,
        ..zero
    };
    let c = deletion_curve(&m, &recs, &all, &curve_opts).unwrap();
    assert_eq!(c.ranked[0].1.loss, base.loss);
    assert_eq!(c.random.len(), 3);
    assert!(c.table().unwrap().height() == 3);
}

#[test]
fn filter_pwms_have_the_receptive_field_width() {
    let (seq, _) = phix();
    let m = nucleotide("cnn_small");
    let pwms = filter_pwms(&m, &[seq[..3000].to_vec()], 0.5, 100).unwrap();
    assert_eq!(pwms.len(), 16);
    let k = m.config().conv_kernel;
    assert!(pwms.iter().all(|p| p.len() == k));
    assert!(pwms.iter().any(|p| p.n_sites > 0));
    for p in &pwms {
        for c in &p.probs {
            assert!((c.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        }
    }
}

/// The shipped LM (overlapping 3-mers) reads a frameshift in the bases after it: on a genome it
/// never saw (the A. thaliana chloroplast, held out of its training), 1-base deletions inside
/// long CDS lower the right flank's log-likelihood more than 3-base (in-frame) deletions at the
/// same places. The window LLR cannot tell them apart this way (it also counts the deleted
/// bases' own log-probabilities), which is why the right flank is scored: before 2026-12-07 it
/// was NaN for every k-mer model. Full run (150 pairs, 256-base flanks):
/// `scripts/frameshift-check.py`, docs/interpretation.md §5.
#[test]
fn the_shipped_lm_reads_frameshifts_in_the_right_flank_of_a_held_out_genome() {
    use genolm::data::annotation::read_annotation;
    use genolm::explain::variant::{variant_effect, Allele, VariantOptions};
    use rand::{Rng, SeedableRng};
    let model = GenomicModel::load("pretrained", &Device::Cpu).unwrap();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("datasets/euk/arabidopsis_thaliana_chloroplast.gb.gz");
    let rec = read_annotation(&path, None).unwrap().remove(0);
    let long: Vec<_> = rec
        .features
        .iter()
        .filter(|f| f.is_cds() && f.segments.len() == 1 && f.segments[0].len() >= 800)
        .map(|f| f.segments[0])
        .collect();
    assert!(long.len() >= 20, "{} long CDS", long.len());
    let opts = VariantOptions {
        flank: 128,
        attribution: None,
        ..Default::default()
    };
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let (mut lower, mut pairs, mut sum_fs, mut sum_if) = (0, 0, 0.0, 0.0);
    while pairs < 40 {
        let s = long[rng.random_range(0..long.len())];
        let p = rng.random_range(s.start + 20..s.end - 150);
        let r = &rec.seq[p..p + 4];
        if r.iter().any(|b| !b"ACGT".contains(b)) {
            continue;
        }
        let score = |len: usize| {
            let a = Allele {
                position: p,
                reference: &r[..len],
                alt: &r[..1],
            };
            variant_effect(&model, &rec.seq, &a, &opts)
                .unwrap()
                .right_flank_delta
                .unwrap()
        };
        let (fs, inf) = (score(2), score(4));
        lower += usize::from(fs < inf);
        sum_fs += fs;
        sum_if += inf;
        pairs += 1;
    }
    eprintln!(
        "frameshift lower in {lower} of {pairs} pairs; mean right-flank LLR {:.3} against {:.3}",
        sum_fs / pairs as f64,
        sum_if / pairs as f64
    );
    assert!(lower >= 26, "frameshift lower in {lower} of {pairs} pairs");
    assert!(sum_fs < sum_if - pairs as f64, "{sum_fs} vs {sum_if}");
}
