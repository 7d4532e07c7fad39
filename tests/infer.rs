//! The prediction core and states files: batching does not change the numbers; HDF5 files
//! read back (in Rust and in Python's h5py) equal the in-memory states.

use candle_core::{Device, Tensor};
use genolm::infer::{states, write_states, H5Layout, PredictOptions, States, StatesFile};
use genolm::models::{GenomicModel, Mode, ModelConfig};

/// Held by the tests that write HDF5 files and by the one that starts Python: HDF5 opens its
/// files without close-on-exec and locks them (`flock`), so a child forked while another test
/// has a states file open inherits the descriptor and keeps the lock until it exits, and the
/// other test's next open of that file fails with "unable to lock file" (EAGAIN). genolm now
/// marks its HDF5 descriptors close-on-exec right after opening (checked below); the mutex
/// still covers the instant between HDF5's open and that call.
static HDF5_AND_CHILDREN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn hdf5_guard() -> std::sync::MutexGuard<'static, ()> {
    HDF5_AND_CHILDREN.lock().unwrap_or_else(|e| e.into_inner())
}

fn real_seq(n: usize) -> Vec<u8> {
    // phiX174 from the embedded corpus: real bases for mechanics tests
    let c = genolm::data::corpus::Corpus::embedded().unwrap();
    let g = &c.genomes[c.index_of("phiX174").unwrap()];
    g.contigs[0].seq[..n].to_vec()
}

fn full_forward(model: &GenomicModel, seq: &[u8], layer: &str) -> Vec<Vec<f32>> {
    let tok = model.config().tokenizer().unwrap();
    let ids = tok.encode(seq);
    let x = Tensor::from_vec(ids.clone(), (1, ids.len()), &Device::Cpu).unwrap();
    let out = model.forward_collect(&x, None, Mode::Eval).unwrap();
    let t = &out.layers.iter().find(|(n, _)| n == layer).unwrap().1;
    t.get(0).unwrap().to_vec2::<f32>().unwrap()
}

fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
    a.iter()
        .zip(b)
        .all(|(x, y)| (x - y).abs() <= tol * (1.0 + y.abs()))
}

#[test]
fn recurrent_states_in_windows_equal_one_forward_pass() {
    let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 3).unwrap();
    let seq = real_seq(300);
    let full = full_forward(&model, &seq, "lstm.0");
    let opts = PredictOptions {
        batch_size: 1,
        window: 37,
        ..Default::default()
    };
    let st = states(&model, &[("phix".to_string(), seq.clone())], &opts).unwrap();
    let l = st.layer("lstm.0").unwrap();
    assert_eq!(l.n_rows(), full.len());
    for (i, row) in full.iter().enumerate() {
        assert!(close(l.row(i), row, 1e-4), "row {i}");
    }
    // Several segments side by side: each is warmed up by `context` tokens, so beyond the
    // first few bases of each segment the states agree with the single pass.
    let opts4 = PredictOptions {
        batch_size: 4,
        window: 25,
        context: 60,
        min_segment: 0,
        ..Default::default()
    };
    let st4 = states(&model, &[("phix".to_string(), seq)], &opts4).unwrap();
    let l4 = st4.layer("lstm.0").unwrap();
    let mut max_diff = 0f32;
    for (i, row) in full.iter().enumerate() {
        for (a, b) in l4.row(i).iter().zip(row) {
            max_diff = max_diff.max((a - b).abs());
        }
    }
    assert!(
        max_diff < 0.05,
        "warm-up context should make segments agree (max diff {max_diff})"
    );
    // By default a record shorter than two `min_segment`s is one segment, read from its first
    // token: every position has its whole history, whatever the batch size.
    let opts_min = PredictOptions {
        batch_size: 4,
        window: 25,
        context: 60,
        min_segment: 200,
        ..Default::default()
    };
    let st = states(&model, &[("phix".to_string(), real_seq(300))], &opts_min).unwrap();
    let l = st.layer("lstm.0").unwrap();
    for (i, row) in full.iter().enumerate() {
        assert!(close(l.row(i), row, 1e-4), "row {i}");
    }
    assert!(PredictOptions::default().min_segment >= 1024);
}

#[test]
fn convolutional_states_with_enough_context_equal_one_forward_pass() {
    let mut cfg = ModelConfig::preset("dilated_small").unwrap();
    cfg.conv_layers = 3;
    cfg.conv_channels = 16;
    let model = GenomicModel::new(cfg, &Device::Cpu, 5).unwrap();
    let seq = real_seq(400);
    let full = full_forward(&model, &seq, "body");
    let opts = PredictOptions {
        batch_size: 3,
        window: 50,
        context: 100,
        every: 3,
        ..Default::default()
    };
    let st = states(&model, &[("phix".to_string(), seq)], &opts).unwrap();
    let l = st.layer("body").unwrap();
    assert_eq!(l.n_rows(), full.len().div_ceil(3));
    for r in 0..l.n_rows() {
        assert!(close(l.row(r), &full[r * 3], 1e-4), "row {r}");
        assert_eq!(st.position[r], (r * 3) as u64);
    }
}

#[test]
fn reverse_strand_states_align_with_the_same_base_in_memory_and_on_disk() {
    let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 11).unwrap();
    let tok = model.config().tokenizer().unwrap();
    let (k, stride) = (tok.k, tok.stride);
    let seq = real_seq(200);
    let rc = genolm::data::alphabet::revcomp(&seq);
    let full_rc = full_forward(&model, &rc, "lstm.0");
    for every in [1usize, 3] {
        let opts = PredictOptions {
            reverse_strand: true,
            every,
            window: 40,
            ..Default::default()
        };
        let st = states(&model, &[("phix".to_string(), seq.clone())], &opts).unwrap();
        let names: Vec<&str> = st.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "embed",
                "lstm.0",
                "body",
                "rc.embed",
                "rc.lstm.0",
                "rc.body"
            ]
        );
        let l = st.layer("rc.lstm.0").unwrap();
        assert_eq!(l.n_rows(), st.layer("lstm.0").unwrap().n_rows());
        // each unit read on both strands: the mean of its two readings at the same base
        let both = st.strand_means().unwrap();
        let names: Vec<&str> = both.layers.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["both.embed", "both.lstm.0", "both.body"]);
        assert_eq!(both.position, st.position);
        let f = st.layer("lstm.0").unwrap();
        for (i, m) in both.layer("both.lstm.0").unwrap().data.iter().enumerate() {
            assert_eq!(*m, 0.5 * (f.data[i] + l.data[i]));
        }
        let forward_only = States {
            layers: st.layers[..3].to_vec(),
            ..st.clone()
        };
        assert!(forward_only.strand_means().is_none());
        let ends = st.end_position();
        for (r, &p) in ends.iter().enumerate() {
            let p = p as usize;
            // the reverse-strand token whose last base is forward base p starts at L - k - p
            let Some(start) = (seq.len() - k).checked_sub(p) else {
                continue;
            };
            // the nearest kept reverse-strand row (every `every` tokens) within half a step
            let step = every * stride;
            let hit = (0..full_rc.len())
                .filter(|j| (j * stride) % step == 0)
                .filter(|j| (j * stride).abs_diff(start) <= step / 2)
                .any(|j| close(l.row(r), &full_rc[j], 1e-4));
            assert!(
                hit,
                "every {every}: row {r} (base {p}) is not the reverse strand's state there"
            );
            if every == 1 {
                assert!(close(l.row(r), &full_rc[start / stride], 1e-4));
            }
        }
    }
    // streamed into HDF5, chunk by chunk of the reverse complement: the same rows
    let recs = vec![
        ("phix_a".to_string(), real_seq(150)),
        ("phix_b".to_string(), real_seq(110)[20..].to_vec()),
    ];
    let opts = PredictOptions {
        reverse_strand: true,
        window: 16,
        every: 2,
        ..Default::default()
    };
    let mem = states(&model, &recs, &opts).unwrap();
    let _hdf5 = hdf5_guard();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("both.h5");
    write_states(&model, &recs, &path, &opts, H5Layout::Genolm).unwrap();
    // (a record read alone or beside another: the same numbers up to rounding, ≈ 1e-9 here)
    let back = StatesFile::open(&path).unwrap().load().unwrap();
    assert_eq!(back.layers.len(), mem.layers.len());
    for (a, b) in back.layers.iter().zip(&mem.layers) {
        assert_eq!((&a.name, a.n_rows()), (&b.name, b.n_rows()));
        for r in 0..a.n_rows() {
            assert!(close(a.row(r), b.row(r), 1e-6), "{} row {r}", a.name);
        }
    }
    assert_eq!(
        (&back.records, &back.position, &back.record),
        (&mem.records, &mem.position, &mem.record)
    );
    assert!(write_states(
        &model,
        &recs,
        dir.path().join("d.h5"),
        &opts,
        H5Layout::DeepG
    )
    .is_err());
}

fn python_with_h5py() -> Option<String> {
    for py in ["python3", "/usr/bin/python3"] {
        let ok = std::process::Command::new(py)
            .args(["-c", "import h5py, numpy"])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        if ok {
            return Some(py.to_string());
        }
    }
    None
}

#[test]
fn states_file_reads_back_in_rust_and_in_h5py() {
    let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 7).unwrap();
    let recs = vec![
        ("phix_a".to_string(), real_seq(120)),
        ("phix_b".to_string(), real_seq(90)[30..].to_vec()),
    ];
    let opts = PredictOptions {
        window: 32,
        every: 2,
        ..Default::default()
    };
    let mem = states(&model, &recs, &opts).unwrap();
    let _hdf5 = hdf5_guard();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("states.h5");
    // every = 0 is a clear error, not a division by zero
    let zero = PredictOptions {
        every: 0,
        ..opts.clone()
    };
    let e = write_states(&model, &recs, &path, &zero, H5Layout::Genolm).unwrap_err();
    assert!(e.to_string().contains("every must be at least 1"), "{e}");
    assert!(
        !e.to_string().contains("batch_size"),
        "names only what is 0: {e}"
    );
    let sum = write_states(&model, &recs, &path, &opts, H5Layout::Genolm).unwrap();
    assert_eq!(sum.n_rows, mem.n_rows());
    let names: Vec<&str> = sum.layers.iter().map(|l| l.0.as_str()).collect();
    assert_eq!(names, ["embed", "lstm.0", "body"]);

    // Rust: lazy view and full load
    let f = StatesFile::open(&path).unwrap();
    assert_eq!(f.records.len(), 2);
    let unit3 = f.read_unit("lstm.0", 3).unwrap();
    assert_eq!(unit3, mem.layer("lstm.0").unwrap().unit(3));
    let back = f.load().unwrap();
    assert_eq!(back, mem);
    // the open file's descriptor is close-on-exec, so a child process cannot inherit it and
    // its lock (HDF5 itself opens without O_CLOEXEC)
    #[cfg(target_os = "linux")]
    {
        let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
            .unwrap()
            .flatten()
            .filter(|e| std::fs::read_link(e.path()).ok().as_deref() == Some(path.as_path()))
            .filter_map(|e| e.file_name().to_str()?.parse().ok())
            .collect();
        assert!(!fds.is_empty(), "the states file is open");
        for fd in fds {
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
            assert!(
                flags >= 0 && flags & libc::FD_CLOEXEC != 0,
                "fd {fd}: {flags}"
            );
        }
    }

    // deepG layout
    let dg = dir.path().join("deepg.h5");
    write_states(
        &model,
        &recs[..1],
        &dg,
        &PredictOptions {
            layers: vec!["lstm.0".into()],
            ..opts.clone()
        },
        H5Layout::DeepG,
    )
    .unwrap();
    assert!(
        StatesFile::open(&dg).is_err(),
        "the deepG layout is not a genolm file"
    );

    let Some(py) = python_with_h5py() else {
        eprintln!("python3 with h5py not found; skipping the h5py read-back (scripts/setup.sh installs it)");
        return;
    };
    let l = mem.layer("lstm.0").unwrap();
    let expect: Vec<String> = [0usize, 1, l.n_rows() - 1]
        .iter()
        .map(|&r| format!("{:.6}", l.row(r)[5]))
        .collect();
    let script = format!(
        r#"
import h5py, numpy as np
f = h5py.File("{p}", "r")
assert f.attrs["format"] == "genolm-states", f.attrs["format"]
assert f.attrs["layer_order"] == "embed,lstm.0,body"
s = f["layers/lstm.0"]
assert s.shape == ({n}, {u}), s.shape
vals = [s[0, 5], s[1, 5], s[-1, 5]]
exp = [{e}]
assert np.allclose(vals, exp, atol=1e-5), (vals, exp)
names = [x.decode() if isinstance(x, bytes) else x for x in f["records/name"][:]]
assert names == ["phix_a", "phix_b"], names
off = f["records/row_offset"][:]
assert off[-1] == {n}
seq = f["records/sequence"][0]
seq = seq.decode() if isinstance(seq, bytes) else seq
pos = f["index/end_position"][:]
assert len(seq) == 120 and pos[1] == 2 + {k} - 1, pos[:3]
g = h5py.File("{dg}", "r")
assert g["states"].shape[1] == {u}
assert g["sample_end_position"][0] == {k} and g["sample_end_position"][1] == {k} + 2
assert g["multi_entries"][0] == 0
print("ok")
"#,
        p = path.display(),
        dg = dg.display(),
        n = l.n_rows(),
        u = l.units,
        e = expect.join(", "),
        k = model.config().k
    );
    let out = std::process::Command::new(&py)
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "h5py read-back failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn small_transformer(k: usize, seed: u64) -> GenomicModel {
    let mut cfg = ModelConfig::preset("transformer_small").unwrap();
    cfg.k = k;
    cfg.stride = 1;
    cfg.emb_dim = 48;
    cfg.attn_layers = 2;
    cfg.attn_heads = 4;
    GenomicModel::new(cfg, &Device::Cpu, seed).unwrap()
}

fn last_row(logits: &Tensor, row: usize) -> Vec<f32> {
    let t = logits.dim(1).unwrap();
    logits
        .get(row)
        .unwrap()
        .get(t - 1)
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
}

#[test]
fn kv_cache_steps_equal_full_forward_passes() {
    for k in [1, 3] {
        let model = small_transformer(k, 11);
        assert!(model.has_kv_cache() && genolm::infer::carries_state(&model));
        let tok = model.config().tokenizer().unwrap();
        // two rows of real sequence, read 120 tokens, then step 40 tokens
        let seq = real_seq(400);
        let rows = [tok.encode(&seq[..200]), tok.encode(&seq[200..400])];
        let n = rows[0].len().min(rows[1].len());
        let ids = |t: usize, rows: &[Vec<u32>]| {
            let flat: Vec<u32> = rows.iter().flat_map(|r| r[..t].to_vec()).collect();
            Tensor::from_vec(flat, (rows.len(), t), &Device::Cpu).unwrap()
        };
        let (_, mut cache) = model.forward_cached(&ids(120, &rows), None, 512).unwrap();
        assert_eq!(
            (cache.len(), cache.position(), cache.batch()),
            (120, 120, 2)
        );
        for t in 121..=160.min(n) {
            let x = ids(t, &rows).narrow(1, t - 1, 1).unwrap();
            let (step, c) = model.forward_cached(&x, Some(&cache), 512).unwrap();
            cache = c;
            let full = model
                .forward(&ids(t, &rows), None, Mode::Eval)
                .unwrap()
                .logits;
            for r in 0..2 {
                let (a, b) = (last_row(&step, r), last_row(&full, r));
                assert!(close(&a, &b, 1e-4), "k={k} t={t} row {r}: {a:?} vs {b:?}");
            }
        }
        // beams: rows swapped and duplicated follow their parents' caches
        let picked = cache.select(&[1, 0, 1]).unwrap();
        let swapped = [rows[1].clone(), rows[0].clone(), rows[1].clone()];
        let x = ids(161, &swapped).narrow(1, 160, 1).unwrap();
        let (step, _) = model.forward_cached(&x, Some(&picked), 512).unwrap();
        let full = model
            .forward(&ids(161, &swapped), None, Mode::Eval)
            .unwrap()
            .logits;
        for r in 0..3 {
            assert!(close(&last_row(&step, r), &last_row(&full, r), 1e-4));
        }
        assert!(cache.select(&[2]).is_err());
    }
}

#[test]
fn kv_cache_slides_and_refuses_other_models() {
    let model = small_transformer(1, 5);
    let seq = real_seq(300);
    let tok = model.config().tokenizer().unwrap();
    let ids = tok.encode(&seq);
    let x = Tensor::from_vec(ids[..64].to_vec(), (1, 64), &Device::Cpu).unwrap();
    let (_, mut cache) = model.forward_cached(&x, None, 64).unwrap();
    for (i, &id) in ids[64..100].iter().enumerate() {
        let x = Tensor::from_vec(vec![id], (1, 1), &Device::Cpu).unwrap();
        let (logits, c) = model.forward_cached(&x, Some(&cache), 64).unwrap();
        cache = c;
        assert_eq!((cache.len(), cache.position()), (64, 65 + i));
        assert!(last_row(&logits, 0).iter().all(|v| v.is_finite()));
    }
    // too many new tokens, a cache of another batch, a model without a cache
    assert!(model.forward_cached(&x_of(&ids[..65]), None, 64).is_err());
    let two = Tensor::from_vec(vec![5u32, 6], (2, 1), &Device::Cpu).unwrap();
    assert!(model.forward_cached(&two, Some(&cache), 64).is_err());
    let lstm = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1).unwrap();
    assert!(!lstm.has_kv_cache());
    assert!(lstm.forward_cached(&x_of(&ids[..8]), None, 64).is_err());
    let mut mlm = ModelConfig::preset("transformer_mlm_small").unwrap();
    mlm.emb_dim = 32;
    mlm.attn_layers = 1;
    mlm.attn_heads = 2;
    let mlm = GenomicModel::new(mlm, &Device::Cpu, 1).unwrap();
    assert!(!mlm.has_kv_cache() && !genolm::infer::carries_state(&mlm));
}

fn x_of(ids: &[u32]) -> Tensor {
    Tensor::from_vec(ids.to_vec(), (1, ids.len()), &Device::Cpu).unwrap()
}

#[test]
fn gap_filling_through_the_cache_equals_rereading_the_context() {
    use genolm::infer::{fill_gaps, Decoder, FillOptions};
    // Greedy decoding is deterministic: through the cache (the default for a causal
    // transformer) it must choose what an argmax over full forward passes chooses.
    let model = small_transformer(1, 3);
    let seq = real_seq(260);
    let left = seq[..200].to_vec();
    let opts = FillOptions {
        decoder: Decoder::Greedy,
        context: 400,
        ..Default::default()
    };
    let fill = fill_gaps(&model, std::slice::from_ref(&left), &[30], &opts).unwrap();
    let tok = model.config().tokenizer().unwrap();
    let mut row = left.clone();
    for _ in 0..30 {
        let out = model
            .forward(&x_of(&tok.encode(&row)), None, Mode::Eval)
            .unwrap();
        let l = last_row(&out.logits, 0);
        let s = genolm::data::tokenize::N_SPECIAL as usize;
        let best = (0..4)
            .max_by(|&a, &b| l[s + a].total_cmp(&l[s + b]))
            .unwrap();
        row.push(b"ACGT"[best]);
    }
    assert_eq!(fill[0], row[200..].to_vec());
}

/// The inference view computes what the model computes, bit for bit, records no graph for the
/// weights, sees later changes of the weights (shared storage), and still differentiates with
/// respect to the inputs: the gradient of an input embedding is the model's.
#[test]
fn inference_view_equals_the_model_without_a_graph() {
    use candle_core::{DType, Var};
    use genolm::models::Hooks;
    let seq = real_seq(96);
    for preset in [
        "awd_lstm_small",
        "cnn_lstm_small",
        "dilated_small",
        "transformer_small",
    ] {
        let mut cfg = ModelConfig::preset(preset).unwrap();
        if cfg.attn_layers > 0 {
            cfg.attn_layers = 2;
        }
        let model = GenomicModel::with_dtype(cfg.clone(), &Device::Cpu, DType::F64, 3).unwrap();
        let ids = cfg.tokenizer().unwrap().encode(&seq);
        let t = ids.len();
        let x = Tensor::from_vec(ids, (1, t), &Device::Cpu).unwrap();
        let view = model.inference().unwrap();
        let a = model.forward(&x, None, Mode::Eval).unwrap().logits;
        let b = view.forward(&x, None, Mode::Eval).unwrap().logits;
        assert!(a.track_op(), "{preset}: the model's output has a graph");
        assert!(!b.track_op(), "{preset}: the view's output has none");
        let diff = |a: &Tensor, b: &Tensor| -> f64 {
            (a - b)
                .unwrap()
                .abs()
                .unwrap()
                .max_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap()
        };
        assert_eq!(diff(&a, &b), 0.0, "{preset}: same logits");
        // gradients with respect to the input embeddings, through the model and the view
        let emb = model
            .embedding_matrix()
            .index_select(&x.flatten_all().unwrap(), 0)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        let grad_of = |m: &GenomicModel| {
            let e = Var::from_tensor(&emb).unwrap();
            let hooks = Hooks {
                input_embeddings: Some(e.as_tensor().clone()),
                ..Default::default()
            };
            let out = m
                .forward_hooked(&x, None, Mode::Eval, false, &hooks)
                .unwrap();
            let g = out.logits.sum_all().unwrap().backward().unwrap();
            let weights_have_grads = m
                .params()
                .vars()
                .iter()
                .any(|v| g.get(v.as_tensor()).is_some());
            (g.get(e.as_tensor()).unwrap().clone(), weights_have_grads)
        };
        let ((ga, wa), (gb, wb)) = (grad_of(&model), grad_of(&view));
        assert!(diff(&ga, &gb) < 1e-12, "{preset}: same input gradients");
        assert!(
            wa && !wb,
            "{preset}: weight gradients through the model only"
        );
        // a change of the weights shows through the view
        let w = &model.params().vars()[model.params().vars().len() - 1];
        w.set(&(w.as_tensor() + 0.5).unwrap()).unwrap();
        let c = view.forward(&x, None, Mode::Eval).unwrap().logits;
        let d = model.forward(&x, None, Mode::Eval).unwrap().logits;
        assert!(
            diff(&b, &c) > 0.0,
            "{preset}: the view sees the new weights"
        );
        assert_eq!(
            diff(&c, &d),
            0.0,
            "{preset}: and computes as the model does"
        );
    }
}

#[test]
fn records_read_together_score_as_when_read_alone() {
    use genolm::infer::{token_scores, token_scores_many};
    let seq = real_seq(1500);
    // records of several lengths: shorter and longer than a segment, one empty
    let recs: Vec<&[u8]> = vec![&seq[..400], &seq[100..1500], &seq[..0], &seq[700..760]];
    let lstm = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 11).unwrap();
    let mut cnn_cfg = ModelConfig::preset("dilated_small").unwrap();
    cnn_cfg.conv_layers = 2;
    cnn_cfg.conv_channels = 8;
    let cnn = GenomicModel::new(cnn_cfg, &Device::Cpu, 12).unwrap();
    for (model, opts) in [
        (
            &lstm,
            PredictOptions {
                batch_size: 3,
                window: 50,
                context: 40,
                min_segment: 300,
                ..Default::default()
            },
        ),
        (
            &cnn,
            PredictOptions {
                batch_size: 5,
                window: 64,
                context: 32,
                ..Default::default()
            },
        ),
    ] {
        let many = token_scores_many(model, &recs, &opts).unwrap();
        assert_eq!(many.len(), recs.len());
        for (r, m) in recs.iter().zip(&many) {
            let one = token_scores(model, *r, &opts).unwrap();
            assert_eq!(one.index, m.index);
            assert_eq!(one.correct, m.correct);
            assert!(close(&one.logp, &m.logp, 1e-5));
        }
        assert!(many[2].is_empty());
        // the 1 398 tokens of the second record are 4 segments, read beside the others' rows
        assert_eq!(many[1].len(), 1400 - 3);
    }
}
