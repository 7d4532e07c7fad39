//! Gradient checks: every trainable parameter of every architecture receives a finite,
//! non-zero gradient, and every block's analytic gradient matches central finite
//! differences in f64.

use candle_core::{DType, Device, Tensor, Var};
use genolm::models::layers::{self, AttentionWeights, LstmWeights};
use genolm::models::{GenomicModel, Head, Mode, ModelConfig, PRESETS};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

mod common;
use common::small;

fn ids(b: usize, t: usize, vocab: usize, seed: u64) -> Tensor {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let v: Vec<u32> = (0..b * t)
        .map(|_| r.random_range(5..vocab as u32))
        .collect();
    Tensor::from_vec(v, (b, t), &Device::Cpu).unwrap()
}

fn check_all_params(cfg: ModelConfig) {
    let name = format!("{} ({:?} head)", cfg.name, cfg.head);
    let model = GenomicModel::new(cfg.clone(), &Device::Cpu, 3).unwrap();
    let (b, t) = (4, 12);
    let x = ids(b, t, cfg.vocab(), 1);
    let y = match cfg.head {
        Head::Lm => ids(b, t, cfg.vocab(), 2),
        Head::Mlm => {
            let v: Vec<i64> = (0..b * t)
                .map(|i| if i % 3 == 0 { 5 + (i % 4) as i64 } else { -100 })
                .collect();
            Tensor::from_vec(v, (b, t), &Device::Cpu).unwrap()
        }
        Head::Classifier => Tensor::from_vec(vec![0u32, 1, 1, 0], b, &Device::Cpu).unwrap(),
    };
    let out = model.forward(&x, None, Mode::Train { seed: 5 }).unwrap();
    let (loss, _) = model.loss(&out, &y).unwrap();
    let grads = loss.backward().unwrap();
    for (pname, var) in model.params().iter() {
        let g = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("{name}: {pname} has no gradient"));
        let v: Vec<f32> = g.flatten_all().unwrap().to_vec1().unwrap();
        assert!(
            v.iter().all(|x| x.is_finite()),
            "{name}: {pname} has a non-finite gradient"
        );
        let norm: f32 = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!(norm > 0.0, "{name}: {pname} has a zero gradient");
    }
}

#[test]
fn every_parameter_of_every_architecture_gets_a_gradient() {
    for p in PRESETS {
        let cfg = small(ModelConfig::preset(p).unwrap());
        check_all_params(cfg.clone());
        if cfg.head != Head::Classifier {
            let mut c = cfg.to_classifier(3);
            c.name = format!("{p} classifier");
            check_all_params(c);
        }
    }
    // Untied LM decoder.
    let mut c = small(ModelConfig::awd_lstm_small());
    c.tie_weights = false;
    c.lstm_hidden = 20;
    check_all_params(c);
}

/// Central finite differences of `f` at each input against candle's gradients.
fn fd_check(name: &str, inputs: &[Var], f: &dyn Fn(&[Tensor]) -> Tensor) {
    let ts: Vec<Tensor> = inputs.iter().map(|v| v.as_tensor().clone()).collect();
    let y = f(&ts);
    let grads = y.backward().unwrap();
    let eps = 1e-6;
    let mut r = ChaCha8Rng::seed_from_u64(9);
    for (k, var) in inputs.iter().enumerate() {
        let g = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("{name}: input {k} has no gradient"))
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let base = var
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        let n = base.len();
        let picks: Vec<usize> = if n <= 24 {
            (0..n).collect()
        } else {
            (0..24).map(|_| r.random_range(0..n)).collect()
        };
        for i in picks {
            let eval = |d: f64| {
                let mut v = base.clone();
                v[i] += d;
                let t = Tensor::from_vec(v, var.shape(), &Device::Cpu).unwrap();
                let mut args = ts.clone();
                args[k] = t;
                f(&args).to_scalar::<f64>().unwrap()
            };
            let num = (eval(eps) - eval(-eps)) / (2.0 * eps);
            let tol = 1e-5 * (1.0 + num.abs().max(g[i].abs()));
            assert!(
                (num - g[i]).abs() < tol,
                "{name}: input {k}[{i}]: finite difference {num} vs analytic {}",
                g[i]
            );
        }
    }
}

fn rvar(shape: &[usize], scale: f64, seed: u64) -> Var {
    let mut r = ChaCha8Rng::seed_from_u64(seed);
    let n: usize = shape.iter().product();
    let v: Vec<f64> = (0..n).map(|_| r.random_range(-scale..scale)).collect();
    Var::from_tensor(&Tensor::from_vec(v, shape, &Device::Cpu).unwrap()).unwrap()
}

/// A fixed random projection to a scalar, so that every output element matters.
fn project(y: &Tensor, seed: u64) -> Tensor {
    let p = rvar(y.dims(), 1.0, seed).as_tensor().detach();
    (y * p).unwrap().sum_all().unwrap()
}

/// Input, weights and initial state of an LSTM layer: `[x, w_ih, w_hh, b_ih, b_hh, h0, c0]`.
fn lstm_vars(b: usize, t: usize, i: usize, h: usize) -> [Var; 7] {
    [
        rvar(&[b, t, i], 1.0, 1),
        rvar(&[4 * h, i], 0.5, 2),
        rvar(&[4 * h, h], 0.5, 3),
        rvar(&[4 * h], 0.5, 4),
        rvar(&[4 * h], 0.5, 5),
        rvar(&[b, h], 0.5, 6),
        rvar(&[b, h], 0.5, 7),
    ]
}

/// A tensor's values as f64, flattened.
fn values(t: &Tensor) -> Vec<f64> {
    t.to_dtype(DType::F64)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1()
        .unwrap()
}

/// The gradient of each of `vars` in `g`, as f64 values.
fn grads_of(g: &candle_core::backprop::GradStore, vars: &[Var]) -> Vec<Vec<f64>> {
    vars.iter()
        .map(|x| values(g.get(x.as_tensor()).unwrap()))
        .collect()
}

/// The weights among [`lstm_vars`]' tensors.
fn lstm_weights(a: &[Tensor]) -> LstmWeights {
    LstmWeights {
        w_ih: a[1].clone(),
        w_hh: a[2].clone(),
        b_ih: a[3].clone(),
        b_hh: a[4].clone(),
    }
}

type LstmFn =
    fn(&Tensor, &LstmWeights, &Tensor, &Tensor) -> genolm::Result<(Tensor, Tensor, Tensor)>;

/// A scalar of every output of an LSTM layer run on [`lstm_vars`]' tensors.
fn lstm_scalar(layer: LstmFn, a: &[Tensor]) -> Tensor {
    let (out, hn, cn) = layer(&a[0], &lstm_weights(a), &a[5], &a[6]).unwrap();
    (project(&out, 11) + project(&hn, 12) + project(&cn, 13)).unwrap()
}

#[test]
fn finite_differences_lstm_cell() {
    let vars = lstm_vars(2, 4, 3, 5);
    fd_check("lstm (composed)", &vars, &|a| {
        lstm_scalar(layers::lstm_layer_composed, a)
    });
    fd_check("lstm (fused)", &vars, &|a| {
        lstm_scalar(layers::lstm_layer, a)
    });
}

#[test]
fn fused_lstm_matches_the_composed_one() {
    let v = lstm_vars(3, 7, 4, 6);
    let ts: Vec<Tensor> = v.iter().map(|x| x.as_tensor().clone()).collect();
    let w = lstm_weights(&ts);
    let run = |layer: LstmFn| {
        let (o, _, _) = layer(&ts[0], &w, &ts[5], &ts[6]).unwrap();
        let g = lstm_scalar(layer, &ts).backward().unwrap();
        (values(&o), grads_of(&g, &v))
    };
    let (o1, g1) = run(layers::lstm_layer);
    let (o2, g2) = run(layers::lstm_layer_composed);
    let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-10);
    assert!(close(&o1, &o2));
    for (k, (a, b)) in g1.iter().zip(&g2).enumerate() {
        assert!(close(a, b), "gradient of input {k} differs");
    }
    // One time step works too.
    let x1 = v[0].as_tensor().narrow(1, 0, 1).unwrap();
    let a = layers::lstm_layer(&x1, &w, v[5].as_tensor(), v[6].as_tensor())
        .unwrap()
        .0;
    let b2 = layers::lstm_layer_composed(&x1, &w, v[5].as_tensor(), v[6].as_tensor())
        .unwrap()
        .0;
    assert!(close(&values(&a), &values(&b2)));
}

/// The f32 path (fast vectorised gate functions, rows split into one chunk per thread) gives
/// the composed f64 values and gradients to f32 precision, in 1 and 3 chunks.
#[test]
fn fused_lstm_f32_in_chunks_matches_f64() {
    let v = lstm_vars(7, 9, 5, 16);
    let ts64: Vec<Tensor> = v.iter().map(|x| x.as_tensor().clone()).collect();
    let (o64, g64) = {
        let g = lstm_scalar(layers::lstm_layer_composed, &ts64)
            .backward()
            .unwrap();
        let o = layers::lstm_layer_composed(&ts64[0], &lstm_weights(&ts64), &ts64[5], &ts64[6])
            .unwrap()
            .0;
        (values(&o), grads_of(&g, &v))
    };
    for chunks in [1, 3] {
        genolm::models::lstm_fused::with_chunk_count(chunks, || {
            let v32: Vec<Var> = ts64
                .iter()
                .map(|t| Var::from_tensor(&t.to_dtype(DType::F32).unwrap()).unwrap())
                .collect();
            let ts: Vec<Tensor> = v32.iter().map(|x| x.as_tensor().clone()).collect();
            let (o, hn, cn) =
                layers::lstm_layer(&ts[0], &lstm_weights(&ts), &ts[5], &ts[6]).unwrap();
            let o32 = values(&o);
            let close = |a: &[f64], b: &[f64], tol: f64| {
                a.iter()
                    .zip(b)
                    .all(|(x, y)| (x - y).abs() <= tol * (1.0 + y.abs()))
            };
            assert!(close(&o32, &o64, 1e-5), "outputs differ ({chunks} chunks)");
            let s = (project(&o.to_dtype(DType::F64).unwrap(), 11)
                + project(&hn.to_dtype(DType::F64).unwrap(), 12)
                + project(&cn.to_dtype(DType::F64).unwrap(), 13))
            .unwrap();
            let g = s.backward().unwrap();
            for (k, a) in grads_of(&g, &v32).iter().enumerate() {
                assert!(
                    close(a, &g64[k], 1e-4),
                    "gradient {k} differs ({chunks} chunks)"
                );
            }
        });
    }
}

#[test]
fn finite_differences_attention_and_rope() {
    let (b, t, d, heads) = (2, 5, 8, 2);
    let (cos, sin) = layers::rope_tables(t, 0, d / heads, 10_000.0, 1.0, &Device::Cpu).unwrap();
    let (cos, sin) = (
        cos.to_dtype(DType::F64).unwrap(),
        sin.to_dtype(DType::F64).unwrap(),
    );
    let vars = [
        rvar(&[b, t, d], 1.0, 1),
        rvar(&[d, d], 0.4, 2),
        rvar(&[d, d], 0.4, 3),
        rvar(&[d, d], 0.4, 4),
        rvar(&[d, d], 0.4, 5),
        rvar(&[d], 0.4, 6),
    ];
    for causal in [true, false] {
        fd_check(&format!("attention causal={causal}"), &vars, &|a| {
            let w = AttentionWeights {
                wq: a[1].clone(),
                wk: a[2].clone(),
                wv: a[3].clone(),
                wo: a[4].clone(),
                bo: a[5].clone(),
            };
            let opts = layers::AttentionOptions {
                heads,
                causal,
                ..Default::default()
            };
            let y = layers::attention(&a[0], &w, &cos, &sin, &opts, None).unwrap();
            project(&y, 21)
        });
    }
    let x = [rvar(&[1, 2, t, 4], 1.0, 8)];
    let (c4, s4) = layers::rope_tables(t, 3, 4, 100.0, 1.0, &Device::Cpu).unwrap();
    let (c4, s4) = (
        c4.to_dtype(DType::F64).unwrap(),
        s4.to_dtype(DType::F64).unwrap(),
    );
    fd_check("rope", &x, &|a| {
        project(&layers::rope(&a[0], &c4, &s4).unwrap(), 22)
    });
    // RoPE is a rotation: it keeps norms.
    let r = layers::rope(x[0].as_tensor(), &c4, &s4).unwrap();
    let n0 = x[0]
        .as_tensor()
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    let n1 = r
        .sqr()
        .unwrap()
        .sum_all()
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    assert!((n0 - n1).abs() < 1e-6 * n0);
}

#[test]
fn finite_differences_conv_norms_and_heads() {
    let vars = [
        rvar(&[2, 3, 9], 1.0, 1),
        rvar(&[4, 3, 3], 0.5, 2),
        rvar(&[4], 0.5, 3),
    ];
    for (dil, causal) in [(1, true), (2, true), (4, false)] {
        fd_check(
            &format!("conv dilation {dil} causal {causal}"),
            &vars,
            &|a| {
                project(
                    &layers::conv1d_same(&a[0], &a[1], Some(&a[2]), dil, causal).unwrap(),
                    31,
                )
            },
        );
    }
    let ln = [
        rvar(&[3, 6], 1.0, 4),
        rvar(&[6], 1.0, 5),
        rvar(&[6], 1.0, 6),
    ];
    fd_check("layer_norm", &ln, &|a| {
        project(&layers::layer_norm(&a[0], &a[1], &a[2], 1e-5).unwrap(), 32)
    });
    // Classifier head pieces: batch norm (training statistics), linear, cross-entropy.
    let rm = Var::from_tensor(&Tensor::zeros(6, DType::F64, &Device::Cpu).unwrap()).unwrap();
    let rv = Var::from_tensor(&Tensor::ones(6, DType::F64, &Device::Cpu).unwrap()).unwrap();
    let bn = [
        rvar(&[5, 6], 1.0, 7),
        rvar(&[6], 1.0, 8),
        rvar(&[6], 1.0, 9),
        rvar(&[3, 6], 0.5, 10),
        rvar(&[3], 0.5, 11),
    ];
    let targets = Tensor::new(&[0u32, 2, 1, 1, 0], &Device::Cpu).unwrap();
    fd_check("batch_norm + linear + cross_entropy", &bn, &|a| {
        let z = layers::batch_norm(&a[0], &a[1], &a[2], &rm, &rv, true).unwrap();
        let logits = layers::linear(&z, &a[3], Some(&a[4])).unwrap();
        layers::cross_entropy(&logits, &targets)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
    });
    // class-weighted cross-entropy (`genolm classify --balanced`): the weights' sum divides
    let weights = Tensor::new(&[0.5f32, 3.0, 1.25], &Device::Cpu).unwrap();
    let wl = [rvar(&[5, 3], 2.0, 13)];
    fd_check("weighted cross-entropy", &wl, &|a| {
        layers::weighted_cross_entropy(&a[0], &targets, &weights)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
    });
    // and logit adjustment (the head's): log priors added to the logits inside the loss
    let adjusted = layers::ClassBalance::logit_adjustment(&[40, 2, 7]);
    fd_check("logit-adjusted cross-entropy", &wl, &|a| {
        adjusted
            .cross_entropy(&a[0], &targets)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
    });
    let lg = [rvar(&[4, 7], 2.0, 12)];
    let labels = Tensor::new(&[3i64, -100, 0, 6], &Device::Cpu).unwrap();
    fd_check("masked cross-entropy", &lg, &|a| {
        layers::masked_cross_entropy(&a[0], &labels)
            .unwrap()
            .0
            .to_dtype(DType::F64)
            .unwrap()
    });
}

/// The whole tiny model in f64: parameters perturbed in place.
#[test]
fn finite_differences_whole_models() {
    for preset in [
        "tiny",
        "transformer_small",
        "dilated_small",
        "cnn_lstm_small",
    ] {
        let mut cfg = small(ModelConfig::preset(preset).unwrap());
        cfg.drop_mult = 0.0;
        cfg.ar = 0.0;
        cfg.tar = 0.0;
        if cfg.attn_layers > 0 {
            cfg.attn_layers = 1;
            cfg.emb_dim = 8;
        }
        let model = GenomicModel::with_dtype(cfg.clone(), &Device::Cpu, DType::F64, 4).unwrap();
        let x = ids(2, 6, cfg.vocab(), 1);
        let y = ids(2, 6, cfg.vocab(), 2);
        let loss = |m: &GenomicModel| {
            let o = m.forward(&x, None, Mode::Eval).unwrap();
            m.loss(&o, &y)
                .unwrap()
                .1
                .to_dtype(DType::F64)
                .unwrap()
                .to_scalar::<f64>()
                .unwrap()
        };
        let o = model.forward(&x, None, Mode::Eval).unwrap();
        let grads = model.loss(&o, &y).unwrap().1.backward().unwrap();
        let mut r = ChaCha8Rng::seed_from_u64(1);
        for (name, var) in model.params().iter() {
            let g = grads
                .get(var.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap();
            let base = var
                .as_tensor()
                .flatten_all()
                .unwrap()
                .to_vec1::<f64>()
                .unwrap();
            // Probe the coordinate with the largest gradient and two random ones.
            let imax = (0..g.len())
                .max_by(|&a, &b| g[a].abs().total_cmp(&g[b].abs()))
                .unwrap();
            for i in [imax, r.random_range(0..g.len()), r.random_range(0..g.len())] {
                let eps = 1e-6;
                let set = |d: f64| {
                    let mut v = base.clone();
                    v[i] += d;
                    var.set(&Tensor::from_vec(v, var.shape(), &Device::Cpu).unwrap())
                        .unwrap();
                };
                set(eps);
                let lp = loss(&model);
                set(-eps);
                let lm = loss(&model);
                set(0.0);
                let num = (lp - lm) / (2.0 * eps);
                assert!(
                    (num - g[i]).abs() < 1e-5 * (1.0 + num.abs()),
                    "{preset}: {name}[{i}]: finite difference {num} vs analytic {}",
                    g[i]
                );
            }
        }
    }
}

/// Every RoPE scaling: every parameter (CLEX's ODE network included) gets a gradient, at a
/// length beyond the training length so the dynamic methods scale.
#[test]
fn every_rope_scaling_gets_gradients() {
    use genolm::models::rope::{RopeMethod, RopeScaling};
    for m in RopeMethod::ALL {
        let mut cfg = small(ModelConfig::transformer_mlm_small());
        cfg.rope_scaling = RopeScaling {
            method: m,
            factor: 2.0,
            train_len: 4,
            sample_max: if matches!(m, RopeMethod::Gene | RopeMethod::Clex) {
                6.0
            } else {
                0.0
            },
            clex_hidden: 8,
            ..RopeScaling::default()
        };
        cfg.name = format!("transformer rope {}", m.name());
        check_all_params(cfg);
    }
}

/// CLEX's learned frequencies in the whole model: finite differences in f64 through the RK4
/// integration, and blocked attention in the same model.
#[test]
fn finite_differences_clex_and_blocked_attention_in_a_model() {
    use genolm::models::rope::{RopeMethod, RopeScaling};
    let mut cfg = small(ModelConfig::transformer_mlm_small());
    cfg.attn_layers = 1;
    cfg.emb_dim = 8;
    cfg.drop_mult = 0.0;
    cfg.attn_block = 3;
    cfg.rope_scaling = RopeScaling {
        method: RopeMethod::Clex,
        train_len: 4,
        clex_hidden: 4,
        ..RopeScaling::default()
    };
    let model = GenomicModel::with_dtype(cfg.clone(), &Device::Cpu, DType::F64, 4).unwrap();
    let x = ids(2, 10, cfg.vocab(), 1);
    let y = ids(2, 10, cfg.vocab(), 2).to_dtype(DType::I64).unwrap();
    let loss = |m: &GenomicModel| {
        let o = m.forward(&x, None, Mode::Eval).unwrap();
        m.loss(&o, &y).unwrap().1
    };
    let grads = loss(&model).backward().unwrap();
    for (name, var) in model.params().iter() {
        if !(name.starts_with("rope.") || name.contains(".q.") || name.contains(".v.")) {
            continue;
        }
        let g = grads.get(var.as_tensor()).unwrap();
        let g = g.flatten_all().unwrap().to_vec1::<f64>().unwrap();
        let base = var
            .as_tensor()
            .flatten_all()
            .unwrap()
            .to_vec1::<f64>()
            .unwrap();
        for i in [0, base.len() / 2, base.len() - 1] {
            let set = |d: f64| {
                let mut v = base.clone();
                v[i] += d;
                var.set(&Tensor::from_vec(v, var.shape(), &Device::Cpu).unwrap())
                    .unwrap();
            };
            let eps = 1e-6;
            set(eps);
            let lp = loss(&model).to_scalar::<f64>().unwrap();
            set(-eps);
            let lm = loss(&model).to_scalar::<f64>().unwrap();
            set(0.0);
            let num = (lp - lm) / (2.0 * eps);
            assert!(
                (num - g[i]).abs() < 1e-5 * (1.0 + num.abs()),
                "{name}[{i}]: finite difference {num} vs analytic {}",
                g[i]
            );
        }
    }
}

/// Blocked attention equals plain attention: values and the gradients of q, k, v, for
/// causal and bidirectional attention, with padding, for block sizes that do and do not
/// divide the length; and its own backward matches finite differences.
#[test]
fn blocked_attention_equals_plain_attention() {
    use genolm::models::flash::{blocked_attention, plain_attention};
    let (b, h, t, d) = (2, 2, 11, 4);
    let vars = [
        rvar(&[b, h, t, d], 1.5, 31),
        rvar(&[b, h, t, d], 1.5, 32),
        rvar(&[b, h, t, d], 1.0, 33),
    ];
    let mut pad = vec![0f64; b * t];
    for p in pad.iter_mut().take(t).skip(t - 3) {
        *p = -1e9; // the first row's last three keys are padding (no row is all padding)
    }
    let bias = Tensor::from_vec(pad, (b, 1, 1, t), &Device::Cpu).unwrap();
    for causal in [true, false] {
        for bias in [None, Some(&bias)] {
            let reference = plain_attention(
                vars[0].as_tensor(),
                vars[1].as_tensor(),
                vars[2].as_tensor(),
                causal,
                bias,
            )
            .unwrap();
            let r_proj = project(&reference, 40);
            let g_ref = grads_of(&r_proj.backward().unwrap(), &vars);
            for block in [1, 3, 4, 11, 16] {
                let y = blocked_attention(
                    vars[0].as_tensor(),
                    vars[1].as_tensor(),
                    vars[2].as_tensor(),
                    causal,
                    bias,
                    block,
                )
                .unwrap();
                let (a, r) = (values(&y), values(&reference));
                for (x, z) in a.iter().zip(&r) {
                    assert!(
                        (x - z).abs() < 1e-10,
                        "block {block} causal {causal} bias {}: values {x} vs {z}",
                        bias.is_some()
                    );
                }
                let g = grads_of(&project(&y, 40).backward().unwrap(), &vars);
                for (k, (ga, gr)) in g.iter().zip(&g_ref).enumerate() {
                    for (x, z) in ga.iter().zip(gr) {
                        assert!(
                            (x - z).abs() < 1e-9,
                            "block {block} causal {causal} bias {}: gradient of input {k}",
                            bias.is_some()
                        );
                    }
                }
            }
        }
        fd_check(&format!("blocked attention causal={causal}"), &vars, &|a| {
            project(
                &blocked_attention(&a[0], &a[1], &a[2], causal, Some(&bias), 4).unwrap(),
                41,
            )
        });
    }
}

/// The composed reference of [`fused::self_attention`]: heads split, RoPE, scores, masks,
/// softmax, dropout mask, `P·V`, heads merged.
#[allow(clippy::too_many_arguments)]
fn composed_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    heads: usize,
    cos: &Tensor,
    sin: &Tensor,
    causal: bool,
    bias: &Tensor,
    mask: &Tensor,
) -> Tensor {
    let (b, t, d) = q.dims3().unwrap();
    let hd = d / heads;
    let split = |y: &Tensor| {
        y.reshape((b, t, heads, hd))
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .contiguous()
            .unwrap()
    };
    let qr = layers::rope(&split(q), cos, sin).unwrap();
    let kr = layers::rope(&split(k), cos, sin).unwrap();
    let mut s = (qr.matmul(&kr.t().unwrap()).unwrap() / (hd as f64).sqrt()).unwrap();
    if causal {
        let m: Vec<f64> = (0..t * t)
            .map(|i| if i % t > i / t { -1e9 } else { 0.0 })
            .collect();
        let m = Tensor::from_vec(m, (t, t), &Device::Cpu).unwrap();
        s = s.broadcast_add(&m).unwrap();
    }
    s = s
        .broadcast_add(&bias.reshape((b, 1, 1, t)).unwrap())
        .unwrap();
    let p = (layers::softmax(&s).unwrap() * mask).unwrap();
    p.matmul(&split(v))
        .unwrap()
        .transpose(1, 2)
        .unwrap()
        .reshape((b, t, d))
        .unwrap()
}

#[test]
fn fused_kernels_match_the_composed_ones_and_finite_differences() {
    use genolm::models::fused;
    let close = |name: &str, a: &[f64], b: &[f64], tol: f64| {
        assert_eq!(a.len(), b.len(), "{name}");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() < tol * (1.0 + y.abs()),
                "{name}[{i}]: {x} vs {y}"
            );
        }
    };
    // layer norm and bias + GELU: values and gradients against the composed versions
    let ln = [
        rvar(&[3, 70, 6], 1.0, 4),
        rvar(&[6], 1.0, 5),
        rvar(&[6], 1.0, 6),
    ];
    let ts: Vec<Tensor> = ln.iter().map(|v| v.as_tensor().clone()).collect();
    let a = fused::layer_norm(&ts[0], &ts[1], &ts[2], 1e-5).unwrap();
    let c = layers::layer_norm_composed(&ts[0], &ts[1], &ts[2], 1e-5).unwrap();
    close("layer norm", &values(&a), &values(&c), 1e-12);
    let (ga, gc) = (
        project(&a, 40).backward().unwrap(),
        project(&c, 40).backward().unwrap(),
    );
    for (x, y) in grads_of(&ga, &ln).iter().zip(&grads_of(&gc, &ln)) {
        close("layer norm gradient", x, y, 1e-10);
    }
    let bg = [rvar(&[2, 70, 6], 3.0, 7), rvar(&[6], 1.0, 8)];
    let (x, bias) = (bg[0].as_tensor(), bg[1].as_tensor());
    let a = fused::bias_gelu(x, bias).unwrap();
    let c = layers::gelu(&x.broadcast_add(bias).unwrap()).unwrap();
    close("bias + GELU", &values(&a), &values(&c), 1e-12);
    let (ga, gc) = (
        project(&a, 41).backward().unwrap(),
        project(&c, 41).backward().unwrap(),
    );
    for (x, y) in grads_of(&ga, &bg).iter().zip(&grads_of(&gc, &bg)) {
        // candle's own gelu_erf backward rounds 1/√(2π) to 0.398942 (relative 1e-6)
        close("bias + GELU gradient", x, y, 1e-5);
    }
    fd_check("fused bias + GELU", &bg, &|a| {
        project(&fused::bias_gelu(&a[0], &a[1]).unwrap(), 42)
    });
    // attention with RoPE, padding, a dropout mask, causal or not
    let (b, t, d, heads) = (2, 7, 8, 2);
    let (cos, sin) = layers::rope_tables(t, 2, d / heads, 100.0, 1.0, &Device::Cpu).unwrap();
    let (cos, sin) = (
        cos.to_dtype(DType::F64).unwrap(),
        sin.to_dtype(DType::F64).unwrap(),
    );
    let bias: Vec<f64> = (0..b * t)
        .map(|i| {
            if i == t - 1 || i == 2 * t - 2 {
                -1e9
            } else {
                0.0
            }
        })
        .collect();
    let bias = Tensor::from_vec(bias, (b, t), &Device::Cpu).unwrap();
    let mut r = ChaCha8Rng::seed_from_u64(3);
    let mask: Vec<f64> = (0..b * heads * t * t)
        .map(|_| if r.random::<f64>() < 0.2 { 0.0 } else { 1.25 })
        .collect();
    let mask = Tensor::from_vec(mask, (b, heads, t, t), &Device::Cpu).unwrap();
    let ones = mask.ones_like().unwrap();
    let qkv = [
        rvar(&[b, t, d], 1.5, 11),
        rvar(&[b, t, d], 1.5, 12),
        rvar(&[b, t, d], 1.0, 13),
    ];
    let ts: Vec<Tensor> = qkv.iter().map(|v| v.as_tensor().clone()).collect();
    for causal in [true, false] {
        for m in [&mask, &ones] {
            let a = fused::self_attention(
                &ts[0],
                &ts[1],
                &ts[2],
                heads,
                &cos,
                &sin,
                causal,
                Some(&bias),
                Some(m),
            )
            .unwrap();
            let c = composed_attention(&ts[0], &ts[1], &ts[2], heads, &cos, &sin, causal, &bias, m);
            close("attention", &values(&a), &values(&c), 1e-12);
            let (ga, gc) = (
                project(&a, 43).backward().unwrap(),
                project(&c, 43).backward().unwrap(),
            );
            for (x, y) in grads_of(&ga, &qkv).iter().zip(&grads_of(&gc, &qkv)) {
                close("attention gradient", x, y, 1e-10);
            }
        }
        fd_check(&format!("fused attention causal={causal}"), &qkv, &|a| {
            let y = fused::self_attention(
                &a[0],
                &a[1],
                &a[2],
                heads,
                &cos,
                &sin,
                causal,
                Some(&bias),
                Some(&mask),
            )
            .unwrap();
            project(&y, 44)
        });
        // f32 (fast exponential) against f64
        let f = |x: &Tensor| x.to_dtype(DType::F32).unwrap();
        let a32 = fused::self_attention(
            &f(&ts[0]),
            &f(&ts[1]),
            &f(&ts[2]),
            heads,
            &cos,
            &sin,
            causal,
            Some(&bias),
            None,
        )
        .unwrap();
        let a64 = fused::self_attention(
            &ts[0],
            &ts[1],
            &ts[2],
            heads,
            &cos,
            &sin,
            causal,
            Some(&bias),
            None,
        )
        .unwrap();
        close("attention f32", &values(&a32), &values(&a64), 1e-5);
    }
    let g32 = fused::bias_gelu(
        &x.to_dtype(DType::F32).unwrap(),
        &bg[1].as_tensor().to_dtype(DType::F32).unwrap(),
    )
    .unwrap();
    let g64 = fused::bias_gelu(x, bg[1].as_tensor()).unwrap();
    close("bias + GELU f32", &values(&g32), &values(&g64), 1e-5);
}

#[test]
fn fused_linear_matches_matmul_and_finite_differences() {
    use genolm::models::fused_linear;
    // 300 rows (two row blocks), 40 outputs (two output blocks)
    let vars = [
        rvar(&[300, 6], 1.0, 51),
        rvar(&[40, 6], 0.5, 52),
        rvar(&[40], 0.5, 53),
    ];
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    for bias in [true, false] {
        let b = bias.then_some(&ts[2]);
        let a = fused_linear::linear(&ts[0], &ts[1], b).unwrap();
        let mut c = ts[0].matmul(&ts[1].t().unwrap()).unwrap();
        if bias {
            c = c.broadcast_add(&ts[2]).unwrap();
        }
        let (va, vc) = (values(&a), values(&c));
        assert!(va.iter().zip(&vc).all(|(x, y)| (x - y).abs() < 1e-12));
        let (ga, gc) = (
            project(&a, 54).backward().unwrap(),
            project(&c, 54).backward().unwrap(),
        );
        let n = if bias { 3 } else { 2 };
        for (x, y) in grads_of(&ga, &vars[..n])
            .iter()
            .zip(&grads_of(&gc, &vars[..n]))
        {
            assert!(x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-10));
        }
    }
    let small = [
        rvar(&[5, 3], 1.0, 55),
        rvar(&[4, 3], 0.5, 56),
        rvar(&[4], 0.5, 57),
    ];
    fd_check("fused linear", &small, &|a| {
        project(
            &fused_linear::linear(&a[0], &a[1], Some(&a[2])).unwrap(),
            58,
        )
    });
}

/// candle's backpropagation as patched in vendor/candle-core (the first gradient to reach a
/// node is stored, not added to zeros): a node read by several ops gets the sum of their
/// gradients, in upstream's order, whatever the first one's layout; the subtracting rules
/// (`Sub`'s right side, `neg`) still negate; the stored gradients are contiguous.
#[test]
fn backprop_sums_fan_in_after_storing_the_first_gradient() {
    let x = Var::from_vec(vec![1f32, -2.0, 3.0, 0.5, -1.5, 2.5], (2, 3), &Device::Cpu).unwrap();
    let w = Var::from_vec(vec![0.5f32, -1.0, 2.0], 3, &Device::Cpu).unwrap();
    // x: read by a transpose (a non-contiguous first gradient), a product with itself, a
    // broadcast product with w and the right side of a subtraction.
    let t = x.t().unwrap().sqr().unwrap().sum_all().unwrap();
    let sq = (x.as_tensor() * x.as_tensor()).unwrap().sum_all().unwrap();
    let bw = x.broadcast_mul(&w).unwrap().sum_all().unwrap();
    let sub = (x.as_tensor().ones_like().unwrap() - x.as_tensor())
        .unwrap()
        .sum_all()
        .unwrap();
    let neg = w.neg().unwrap().sum_all().unwrap();
    let loss = (((t + sq).unwrap() + bw).unwrap() + sub).unwrap();
    let loss = (loss + neg).unwrap();
    let g = loss.backward().unwrap();
    let gx = g.get(&x).unwrap();
    assert!(gx.is_contiguous());
    let gx: Vec<f32> = gx.flatten_all().unwrap().to_vec1().unwrap();
    let xs = [1f32, -2.0, 3.0, 0.5, -1.5, 2.5];
    let ws = [0.5f32, -1.0, 2.0];
    for (i, (gv, xv)) in gx.iter().zip(xs).enumerate() {
        // d/dx of x² (twice), x·w and −x
        let want = 4.0 * xv + ws[i % 3] - 1.0;
        assert_eq!(*gv, want, "x[{i}]");
    }
    let gw: Vec<f32> = g.get(&w).unwrap().to_vec1().unwrap();
    for (j, gv) in gw.iter().enumerate() {
        let want = xs[j] + xs[j + 3] - 1.0;
        assert_eq!(*gv, want, "w[{j}]");
    }
}
