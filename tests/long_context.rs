//! The long-context experiment (seed 004) on a tiny masked-LM transformer and real held-out
//! genomes: every scaling equals plain RoPE at the training length, the rows and the probe
//! are complete, fine-tuning changes the model, and the outputs are written.

use candle_core::Device;
use genolm::bench::long_context::{long_context, FinetuneOptions, LongContextOptions};
use genolm::data::corpus::Corpus;
use genolm::models::rope::RopeMethod;
use genolm::models::{GenomicModel, ModelConfig};

fn tiny_mlm() -> GenomicModel {
    let mut cfg = ModelConfig::transformer_mlm_small();
    cfg.emb_dim = 16;
    cfg.attn_layers = 1;
    cfg.attn_heads = 2;
    cfg.attn_block = 32;
    GenomicModel::new(cfg, &Device::Cpu, 7).unwrap()
}

#[test]
fn every_scaling_at_one_to_four_times_with_fine_tuning_and_the_probe() {
    let model = tiny_mlm();
    let corpus = Corpus::embedded().unwrap();
    let opts = LongContextOptions {
        train_len: 32,
        multiples: vec![1, 4],
        windows: 2,
        finetune: Some(FinetuneOptions {
            steps: 2,
            multiple: 2,
            batch_size: 2,
            lr: 1e-3,
        }),
        probe_multiple: Some(4),
        probe_every: 16,
        ..LongContextOptions::default()
    };
    let r = long_context(&model, &corpus, &opts).unwrap();
    let n = RopeMethod::ALL.len();
    assert_eq!(r.rows.len(), n * 2 * 2);
    assert_eq!(r.probe.len(), n * 2 * 2);
    let zero_shot_1x: Vec<f64> = r
        .rows
        .iter()
        .filter(|x| !x.finetuned && x.multiple == 1)
        .map(|x| x.loss)
        .collect();
    // At the training length every scaling is plain RoPE: the same loss to the last bit.
    assert!(
        zero_shot_1x.iter().all(|&l| l == zero_shot_1x[0]),
        "{zero_shot_1x:?}"
    );
    for x in &r.rows {
        assert!(x.loss.is_finite() && x.loss > 0.0 && x.masked > 10, "{x:?}");
        assert_eq!(x.len, x.multiple * 32);
        let dynamic = matches!(x.method.as_str(), "dynamic_ntk" | "clex" | "hybrid");
        let want = match (x.method.as_str(), x.finetuned) {
            ("none", _) => 1.0,
            (_, false) => x.multiple as f64,
            _ if dynamic => x.multiple as f64,
            _ => 4.0,
        };
        assert_eq!(x.scale, want, "{x:?}");
    }
    // the same masked positions in every column: the counts agree
    assert!(r.rows.iter().all(|x| x.masked == r.rows[0].masked));
    // fine-tuning moves the model
    let tuned: Vec<f64> = r
        .rows
        .iter()
        .filter(|x| x.finetuned && x.multiple == 1)
        .map(|x| x.loss)
        .collect();
    assert!(tuned.iter().zip(&zero_shot_1x).any(|(a, b)| a != b));
    for p in &r.probe {
        assert!(
            p.accuracy > 0.0 && p.accuracy <= 1.0 && p.n_test > 10,
            "{p:?}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    r.write(dir.path()).unwrap();
    for f in [
        "long_context.json",
        "long_context.csv",
        "long_context_probe.csv",
        "perplexity_vs_length.svg",
        "perplexity_vs_length_finetuned.svg",
    ] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    let back = genolm::bench::long_context::LongContextResults::load(dir.path()).unwrap();
    assert_eq!(back, r);
    let csv = std::fs::read_to_string(dir.path().join("long_context.csv")).unwrap();
    assert!(csv.starts_with("method,finetuned,multiple,len,scale,loss,perplexity"));
}

#[test]
fn an_lm_or_a_bad_option_is_refused() {
    let corpus = Corpus::embedded().unwrap();
    let lm = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1).unwrap();
    let e = long_context(&lm, &corpus, &LongContextOptions::default()).unwrap_err();
    assert!(e.to_string().contains("masked-LM transformer"), "{e}");
    let opts = LongContextOptions {
        multiples: vec![0, 2],
        ..LongContextOptions::default()
    };
    assert!(long_context(&tiny_mlm(), &corpus, &opts).is_err());
}
