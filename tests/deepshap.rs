//! DeepLIFT / DeepSHAP: summation-to-delta on every architecture and head genolm builds,
//! hypothetical contributions consistent with the actual map, and agreement with exact
//! Shapley values where they are known.

use candle_core::{DType, Device};
use genolm::explain::deepshap::{deep_lift, deep_shap, DeepShapOptions, ReferenceShuffle};
use genolm::infer::Objective;
use genolm::models::{GenomicModel, Head, ModelConfig, PRESETS};

/// The lac promoter and the start of lacI of E. coli K-12 (U00096.3).
const SEQ: &[u8] =
    b"TTTACACTTTATGCTTCCGGCTCGTATGTTGTGTGGAATTGTGAGCGGATAACAATTTCACACAGGAAACAGCTATGACCATGATTACG";

mod common;

/// A preset shrunk for the test, as a nucleotide model (k = 1: per-base maps).
fn small(c: ModelConfig) -> ModelConfig {
    let mut c = common::small(c);
    c.k = 1;
    c
}

/// A randomly initialised transformer barely depends on its input (embeddings ~ N(0, 0.02));
/// scale them up so the test has something to attribute.
fn sharpen(model: &GenomicModel) {
    let mut t: std::collections::HashMap<String, candle_core::Tensor> =
        model.params().tensors().into_iter().collect();
    let e = t.get("embed.weight").unwrap();
    let e = (e * 30.0).unwrap();
    t.insert("embed.weight".into(), e);
    model.params().assign(&t, true).unwrap();
}

#[test]
fn summation_to_delta_holds_on_every_architecture_and_head() {
    let opts = DeepShapOptions {
        references: 3,
        batch_size: 2, // two passes: the sums run over batches
        ..Default::default()
    };
    for p in PRESETS.iter().filter(|p| **p != "ulmfit_paper") {
        let base = small(ModelConfig::preset(p).unwrap());
        let mut cls = base.clone();
        cls.head = Head::Classifier;
        cls.n_classes = 3;
        cls.tie_weights = false;
        for (cfg, obj) in [
            (base.clone(), Objective::LogLikelihood),
            (base, Objective::TokenLogProb(30)),
            (cls, Objective::Class(1)),
        ] {
            // f64: the rules are exact, so the sums hold to rounding
            let model = GenomicModel::with_dtype(cfg.clone(), &Device::Cpu, DType::F64, 7).unwrap();
            sharpen(&model);
            let a = deep_shap(
                &model,
                SEQ,
                &DeepShapOptions {
                    objective: obj,
                    ..opts
                },
            )
            .unwrap();
            let c = a.convergence.as_ref().unwrap();
            assert!(c.max_abs_delta < 1e-6, "{p} {obj:?} in f64: {c:?}"); // the classifier head runs in f32
                                                                          // f32 (how models run): within rounding
            let m32 = GenomicModel::new(cfg, &Device::Cpu, 7).unwrap();
            sharpen(&m32);
            let c32 = deep_shap(
                &m32,
                SEQ,
                &DeepShapOptions {
                    objective: obj,
                    ..opts
                },
            )
            .unwrap()
            .convergence
            .unwrap();
            assert!(c32.holds(1e-3), "{p} {obj:?} in f32: {c32:?}");
            assert_eq!(c.deltas.len(), 3);
            assert!(
                c.holds(1e-3),
                "{p} {obj:?}: deltas {:?} of {:?}; worst layer {:?}",
                c.deltas,
                c.output_deltas,
                c.worst_site()
            );
            assert!(
                c.output_deltas.iter().any(|d| d.abs() > 1e-6),
                "{p} {obj:?}: no signal"
            );
            // mean contributions sum to f(x) − mean f(ref)
            let total = a.total();
            let want = a.output - a.baseline_output.unwrap();
            assert!(
                (total - want).abs() <= 1e-3 * want.abs().max(1e-3),
                "{p}: {total} vs {want}"
            );
            // actual = hypothetical at the observed base, per position
            let (h, pb) = (
                a.hypothetical.as_ref().unwrap(),
                a.per_base.as_ref().unwrap(),
            );
            for (i, &b) in SEQ.iter().enumerate() {
                let j = b"ACGT".iter().position(|&x| x == b).unwrap();
                assert!((h[i][j] - pb[i][j]).abs() < 1e-5);
                assert!(
                    (pb[i].iter().sum::<f32>() - a.per_token[i]).abs()
                        < 1e-4 * (1.0 + a.per_token[i].abs())
                );
            }
        }
    }
}

#[test]
fn deeplift_against_one_reference_and_seeds() {
    let cfg = small(ModelConfig::preset("cnn_small").unwrap());
    let model = GenomicModel::new(cfg, &Device::Cpu, 3).unwrap();
    let mut wt = SEQ.to_vec();
    wt[40] = b'A';
    wt[41] = b'A';
    let opts = DeepShapOptions::default();
    let a = deep_lift(&model, SEQ, &wt, &opts).unwrap();
    // only the two changed bases carry contributions
    for (i, v) in a.per_token.iter().enumerate() {
        if i != 40 && i != 41 {
            assert!(v.abs() < 1e-6, "position {i}: {v}");
        }
    }
    assert!(a.per_token[40].abs() + a.per_token[41].abs() > 1e-6);
    // same seed → same numbers; another seed → other references
    let o = DeepShapOptions {
        references: 4,
        ..opts
    };
    let x = deep_shap(&model, SEQ, &o).unwrap();
    assert_eq!(x, deep_shap(&model, SEQ, &o).unwrap());
    let y = deep_shap(&model, SEQ, &DeepShapOptions { seed: 9, ..o }).unwrap();
    assert_ne!(x.per_token, y.per_token);
    let m = deep_shap(
        &model,
        SEQ,
        &DeepShapOptions {
            shuffle: ReferenceShuffle::Mononucleotide,
            ..o
        },
    )
    .unwrap();
    assert!(m.convergence.unwrap().holds(1e-3));
    // wrong-length reference: a clear error
    assert!(deep_lift(&model, SEQ, b"ACGT", &opts).is_err());
}

#[test]
fn kmer_models_get_per_token_contributions() {
    let mut cfg = small(ModelConfig::preset("awd_lstm_small").unwrap());
    cfg.k = 3;
    let model = GenomicModel::new(cfg, &Device::Cpu, 5).unwrap();
    let a = deep_shap(
        &model,
        SEQ,
        &DeepShapOptions {
            references: 2,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(a.per_base.is_none() && a.hypothetical.is_none());
    assert!(a.convergence.unwrap().holds(1e-3));
}

/// A transformer's pass grows with the square of the window: references are batched to fit the
/// memory budget (the same attributions as small batches), and a window whose one reference
/// does not fit is refused with the longest one that would, instead of exhausting memory.
#[test]
fn deepshap_fits_its_passes_in_the_memory_budget() {
    let mut cfg = small(ModelConfig::preset("transformer_small").unwrap());
    cfg.attn_layers = 2;
    cfg.attn_heads = 4;
    let model = GenomicModel::new(cfg, &Device::Cpu, 5).unwrap();
    sharpen(&model);
    // 89 tokens, 2 layers × 4 heads: ≈ 35 MiB per reference by the estimate
    let o = |batch_size, memory_mib| DeepShapOptions {
        references: 4,
        batch_size,
        memory_mib,
        ..Default::default()
    };
    let one_at_a_time = deep_shap(&model, SEQ, &o(1, 1 << 20)).unwrap();
    let budgeted = deep_shap(&model, SEQ, &o(4, 50)).unwrap(); // room for one per pass
    for (a, b) in one_at_a_time.per_token.iter().zip(&budgeted.per_token) {
        assert!((a - b).abs() <= 1e-5 * (1.0 + a.abs()), "{a} vs {b}");
    }
    let err = deep_shap(&model, SEQ, &o(4, 10)).unwrap_err().to_string();
    assert!(
        err.contains("single reference") && err.contains("at most ≈ 47 tokens"),
        "{err}"
    );
}
