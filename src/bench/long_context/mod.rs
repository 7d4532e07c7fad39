//! The long-context experiment of seed 004: does a masked-LM transformer trained on short
//! windows read windows 2–16× longer when only its RoPE scaling changes, with and without a
//! short fine-tuning at a longer length, and is the longer context worth having on DNA?
//!
//! [`long_context`] takes a trained single-nucleotide MLM transformer and, for every RoPE
//! scaling ([`RopeMethod`]) and every multiple `m` of the training length `L₀`:
//! - **masked-token loss and accuracy** on held-out genomes in windows of `m·L₀` tokens. Every
//!   column covers the same held-out stretches (`windows × max(m)·L₀` tokens) with the same
//!   masked positions (15 %, all replaced by `MASK`), so columns and methods are paired;
//!   the loss is split into positions near a window edge (< 32 tokens) and far from both
//!   edges (≥ 128 tokens);
//! - **time** per window and **peak RSS** of the evaluation (the peak is reset before each
//!   length: [`cpu::reset_peak_rss`](crate::cpu::reset_peak_rss));
//! - optionally **after fine-tuning**: every method gets the same few MLM steps on training
//!   genomes at `finetune.multiple·L₀` tokens (static methods at `factor = max(m)`; GeNE,
//!   CLEX and the hybrid draw random scales up to `max(m)`), then the same evaluation;
//! - optionally a **long-window task**: a linear probe of the body states predicting the
//!   coding strand of every nucleotide (none / forward CDS / reverse CDS, from the GenBank
//!   annotation of held-out genomes), with states computed in windows of `L₀` and of
//!   `probe_multiple·L₀` (≥ 4 kb): does reading the longer window help a downstream task?
//!
//! Each column's static methods use `factor = m` without fine-tuning ("configured for the
//! target length", as the papers do) and `factor = max(m)` after it.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::batch::{MlmBatcher, MlmOptions};
use crate::data::corpus::{Corpus, SplitOptions};
use crate::data::tokenize::{Special, N_SPECIAL};
use crate::infer::{predict_rows, RowOptions};
use crate::models::rope::{RopeMethod, RopeScaling};
use crate::models::{GenomicModel, Head};
use crate::progress::Progress;
use crate::train::{Data, Learner, LearnerOptions};
use crate::{Error, Result};

mod probe;
mod results;

use probe::{probe, probe_sequences};

/// The short fine-tuning every method gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FinetuneOptions {
    /// Optimizer steps.
    pub steps: usize,
    /// Fine-tuning windows are this multiple of `L₀`.
    pub multiple: usize,
    /// Windows per step.
    pub batch_size: usize,
    /// Peak learning rate (one-cycle).
    pub lr: f64,
}

impl Default for FinetuneOptions {
    fn default() -> Self {
        FinetuneOptions {
            steps: 40,
            multiple: 4,
            batch_size: 2,
            lr: 3e-4,
        }
    }
}

/// Options of [`long_context`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LongContextOptions {
    /// The training length `L₀` in tokens (the model's pre-training window).
    pub train_len: usize,
    /// Evaluate at these multiples of `L₀`.
    pub multiples: Vec<usize>,
    /// The scalings compared.
    pub methods: Vec<RopeMethod>,
    /// Held-out windows at the largest multiple (the tokens of every column).
    pub windows: usize,
    /// Fraction of positions masked.
    pub mask_prob: f64,
    /// Fine-tune every method and evaluate again (None = zero-shot only).
    pub finetune: Option<FinetuneOptions>,
    /// The long-window probe at this multiple of `L₀` (None = skip).
    pub probe_multiple: Option<usize>,
    /// Keep every n-th position for the probe.
    pub probe_every: usize,
    /// Seed of masks, window choice and fine-tuning.
    pub seed: u64,
    /// Progress bars / lines.
    pub verbose: bool,
}

impl Default for LongContextOptions {
    fn default() -> Self {
        LongContextOptions {
            train_len: 512,
            multiples: vec![1, 2, 4, 8, 16],
            methods: RopeMethod::ALL.to_vec(),
            windows: 4,
            mask_prob: 0.15,
            finetune: Some(FinetuneOptions::default()),
            probe_multiple: Some(8),
            probe_every: 4,
            seed: 0,
            verbose: false,
        }
    }
}

/// One method at one length.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LongContextRow {
    /// RoPE scaling.
    pub method: String,
    /// After the fine-tuning?
    pub finetuned: bool,
    /// Multiple of `L₀`.
    pub multiple: usize,
    /// Window length in tokens.
    pub len: usize,
    /// The scale `s` the method used (for dynamic methods: at this length).
    pub scale: f64,
    /// Masked-token cross-entropy (nats).
    pub loss: f64,
    /// Masked-token accuracy.
    pub accuracy: f64,
    /// Loss at masked positions < 32 tokens from a window edge.
    pub loss_edge: Option<f64>,
    /// Loss at masked positions ≥ 128 tokens from both edges (None when windows are shorter).
    pub loss_centre: Option<f64>,
    /// Masked positions scored.
    pub masked: usize,
    /// Seconds per window.
    pub seconds_per_window: f64,
    /// Peak RSS during this length's evaluation (MiB; None off Linux).
    pub peak_rss_mib: Option<f64>,
}

/// The long-window probe of one method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeRow {
    /// RoPE scaling.
    pub method: String,
    /// After the fine-tuning?
    pub finetuned: bool,
    /// Window of the states, in multiples of `L₀`.
    pub multiple: usize,
    /// Accuracy of the coding-strand probe on the test half.
    pub accuracy: f64,
    /// Macro-averaged F1 over the three classes.
    pub macro_f1: f64,
    /// Test positions.
    pub n_test: usize,
}

/// What [`long_context`] measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LongContextResults {
    /// The options.
    pub options: LongContextOptions,
    /// The model's name.
    pub model: String,
    /// Held-out genomes the windows came from.
    pub genomes: Vec<String>,
    /// One row per method, fine-tuning and length.
    pub rows: Vec<LongContextRow>,
    /// The long-window probe.
    pub probe: Vec<ProbeRow>,
}

/// Held-out evaluation windows: `n` stretches of `len` tokens from the held-out genomes'
/// contigs, one per genome in turn (kingdoms interleaved), from the middle of each contig.
fn eval_stretches(
    corpus: &Corpus,
    held_out: &[usize],
    model: &GenomicModel,
    len: usize,
    n: usize,
) -> Result<(Vec<Vec<u32>>, Vec<String>)> {
    let tok = model.config().tokenizer()?;
    let mut cands: Vec<(usize, usize)> = Vec::new(); // (genome, contig) long enough
    for &g in held_out {
        for (ci, c) in corpus.genomes[g].contigs.iter().enumerate() {
            if c.seq.len() >= len + tok.k {
                cands.push((g, ci));
                break;
            }
        }
    }
    // interleave kingdoms
    cands.sort_by_key(|&(g, _)| {
        let k = corpus.genomes[g].meta.kingdom;
        let rank = cands_rank(corpus, held_out, g);
        (rank, k as u8)
    });
    if cands.is_empty() {
        return Err(Error::Input(format!(
            "no held-out contig has the {len} tokens of the longest window"
        )));
    }
    // each candidate contig is encoded once
    let encoded: Vec<Vec<u32>> = cands
        .iter()
        .map(|&(g, ci)| tok.encode(&corpus.genomes[g].contigs[ci].seq))
        .collect();
    let mut out = Vec::new();
    let mut names = Vec::new();
    let mut round = 0;
    while out.len() < n {
        let mut added = false;
        for (&(g, _), ids) in cands.iter().zip(&encoded) {
            if out.len() == n {
                break;
            }
            // stretch `round` of this contig, centred for round 0
            let room = ids.len() / len;
            if round >= room {
                continue;
            }
            let start = if room == 1 {
                (ids.len() - len) / 2
            } else {
                round * len
            };
            out.push(ids[start..start + len].to_vec());
            names.push(corpus.genomes[g].meta.id.clone());
            added = true;
        }
        if !added {
            break;
        }
        round += 1;
    }
    names.dedup();
    Ok((out, names))
}

/// Order of genome `g` among the held-out genomes of its kingdom.
fn cands_rank(corpus: &Corpus, held_out: &[usize], g: usize) -> usize {
    let k = corpus.genomes[g].meta.kingdom;
    held_out
        .iter()
        .filter(|&&h| corpus.genomes[h].meta.kingdom == k)
        .position(|&h| h == g)
        .unwrap_or(0)
}

/// The same masked positions for every column: `(masked ids, original id or −1)` per stretch.
fn mask_stretches(stretches: &[Vec<u32>], p: f64, seed: u64) -> Vec<(Vec<u32>, Vec<i64>)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    stretches
        .iter()
        .map(|s| {
            let mut x = s.clone();
            let mut y = vec![-1i64; s.len()];
            for i in 0..s.len() {
                if s[i] >= N_SPECIAL && rng.random_bool(p) {
                    y[i] = s[i] as i64;
                    x[i] = Special::Mask as u32;
                }
            }
            (x, y)
        })
        .collect()
}

/// What one model scored at one window length.
struct LenScore {
    loss: f64,
    accuracy: f64,
    loss_edge: Option<f64>,
    loss_centre: Option<f64>,
    n: usize,
    seconds_per_window: f64,
}

/// Evaluate one model at one window length over the masked stretches.
fn evaluate_len(
    model: &GenomicModel,
    masked: &[(Vec<u32>, Vec<i64>)],
    len: usize,
) -> Result<LenScore> {
    let (mut sum, mut n, mut correct) = (0f64, 0usize, 0usize);
    let (mut se, mut ne, mut sc, mut nc) = (0f64, 0usize, 0f64, 0usize);
    let mut windows = 0usize;
    let t0 = Instant::now();
    for (x, y) in masked {
        for w0 in (0..x.len() / len).map(|w| w * len) {
            let rows = vec![x[w0..w0 + len].to_vec()];
            let lp = predict_rows(model, &rows, &RowOptions::batch(1))?;
            windows += 1;
            for (i, row) in lp[0].iter().enumerate() {
                let label = y[w0 + i];
                if label < 0 {
                    continue;
                }
                let l = -(row[label as usize] as f64);
                let best = row
                    .iter()
                    .enumerate()
                    .skip(N_SPECIAL as usize)
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .map(|(j, _)| j as i64);
                sum += l;
                n += 1;
                correct += usize::from(best == Some(label));
                let edge = i.min(len - 1 - i);
                if edge < 32 {
                    se += l;
                    ne += 1;
                } else if edge >= 128 {
                    sc += l;
                    nc += 1;
                }
            }
        }
    }
    if n == 0 {
        return Err(Error::Input("no masked positions to score".into()));
    }
    let mean = |s: f64, k: usize| (k > 0).then(|| s / k as f64);
    Ok(LenScore {
        loss: sum / n as f64,
        accuracy: correct as f64 / n as f64,
        loss_edge: mean(se, ne),
        loss_centre: mean(sc, nc),
        n,
        seconds_per_window: t0.elapsed().as_secs_f64() / windows.max(1) as f64,
    })
}

/// The method's scaling for a column: static methods at `factor`, sampled scales up to
/// `sample_max` in fine-tuning.
fn scaling(method: RopeMethod, train_len: usize, factor: f64, sample_max: f64) -> RopeScaling {
    RopeScaling {
        method,
        factor: factor.max(1.0),
        train_len,
        sample_max: if matches!(
            method,
            RopeMethod::Gene | RopeMethod::Clex | RopeMethod::Hybrid
        ) {
            sample_max
        } else {
            0.0
        },
        ..RopeScaling::default()
    }
}

/// The MLM fine-tuning of one method: `steps` one-cycle steps on training genomes.
/// The model read at `mult` × the training length: the fine-tuned one when there is one
/// (dynamic and learned scalings pick their scale from the window), else `model` with the
/// method's static scaling for that multiple, built into `slot`.
fn at_multiple<'a>(
    model: &GenomicModel,
    tuned: Option<&'a GenomicModel>,
    method: RopeMethod,
    train_len: usize,
    mult: usize,
    slot: &'a mut Option<GenomicModel>,
) -> Result<&'a GenomicModel> {
    Ok(match tuned {
        Some(t) => t,
        None => {
            slot.insert(model.with_rope_scaling(scaling(method, train_len, mult as f64, 0.0), 0)?)
        }
    })
}

fn finetune(
    model: GenomicModel,
    corpus: &Corpus,
    train: &[usize],
    len: usize,
    f: &FinetuneOptions,
    seed: u64,
) -> Result<GenomicModel> {
    let tok = model.config().tokenizer()?;
    let streams = corpus.token_streams(train, &tok, false);
    let data = MlmBatcher::new(
        streams,
        f.batch_size,
        len,
        model.config().vocab(),
        MlmOptions::default(),
        seed,
    )?;
    let opts = LearnerOptions {
        seed,
        max_batches: f.steps,
        verbose: false,
        ..LearnerOptions::default()
    };
    let mut learn = Learner::new(model, Data::Mlm(data), None, opts)?;
    learn.fit_one_cycle(1, f.lr)?;
    Ok(learn.model)
}

/// Run the experiment on `model` (an MLM transformer) with held-out genomes of `corpus`
/// (see the [module documentation](self)).
///
/// ```no_run
/// use genolm::bench::long_context::{long_context, LongContextOptions};
/// use genolm::prelude::*;
/// let model = GenomicModel::load("runs/long_context_mlm", &Device::Cpu)?;
/// let r = long_context(&model, &Corpus::embedded()?, &LongContextOptions::default())?;
/// r.table()?.evcxr_display();
/// r.figure()?.evcxr_display();
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn long_context(
    model: &GenomicModel,
    corpus: &Corpus,
    opts: &LongContextOptions,
) -> Result<LongContextResults> {
    if model.config().head != Head::Mlm || model.config().attn_layers == 0 {
        return Err(Error::Config(
            "the long-context experiment needs a masked-LM transformer (head = \"mlm\")".into(),
        ));
    }
    let max_m = *opts.multiples.iter().max().unwrap_or(&1);
    if opts.multiples.contains(&0) || opts.train_len == 0 || opts.windows == 0 {
        return Err(Error::Config(
            "multiples, train_len and windows must be positive".into(),
        ));
    }
    let splits = corpus.split(&SplitOptions::default())?;
    let held_out: Vec<usize> = splits.valid.iter().chain(&splits.test).copied().collect();
    let max_len = max_m * opts.train_len;
    let (stretches, genomes) = eval_stretches(corpus, &held_out, model, max_len, opts.windows)?;
    let masked = mask_stretches(&stretches, opts.mask_prob, opts.seed);
    let probe_seqs = match opts.probe_multiple {
        Some(pm) => Some((
            pm,
            probe_sequences(corpus, &held_out, model, pm * opts.train_len, 12)?,
        )),
        None => None,
    };
    let stages: Vec<bool> = if opts.finetune.is_some() {
        vec![false, true]
    } else {
        vec![false]
    };
    let total = opts.methods.len() * stages.len();
    let mut progress = Progress::new("long-context", total, opts.verbose);
    let mut rows = Vec::new();
    let mut probe_rows = Vec::new();
    for &finetuned in &stages {
        for &method in &opts.methods {
            let tuned = if finetuned {
                let f = opts.finetune.as_ref().expect("fine-tuning options");
                let m = model.with_rope_scaling(
                    scaling(method, opts.train_len, max_m as f64, max_m as f64),
                    opts.seed,
                )?;
                Some(finetune(
                    m,
                    corpus,
                    &splits.train,
                    f.multiple * opts.train_len,
                    f,
                    opts.seed,
                )?)
            } else {
                None
            };
            for &mult in &opts.multiples {
                let len = mult * opts.train_len;
                let mut local = None;
                let m = at_multiple(
                    model,
                    tuned.as_ref(),
                    method,
                    opts.train_len,
                    mult,
                    &mut local,
                )?;
                crate::cpu::reset_peak_rss();
                let e = evaluate_len(m, &masked, len)?;
                rows.push(LongContextRow {
                    method: method.name().into(),
                    finetuned,
                    multiple: mult,
                    len,
                    scale: m.config().rope_scaling.scale_for(len),
                    loss: e.loss,
                    accuracy: e.accuracy,
                    loss_edge: e.loss_edge,
                    loss_centre: e.loss_centre,
                    masked: e.n,
                    seconds_per_window: e.seconds_per_window,
                    peak_rss_mib: Some(crate::cpu::peak_rss_mib()).filter(|v| v.is_finite()),
                });
            }
            if let Some((pm, seqs)) = &probe_seqs {
                for mult in [1, *pm] {
                    let mut local = None;
                    let m = at_multiple(
                        model,
                        tuned.as_ref(),
                        method,
                        opts.train_len,
                        mult,
                        &mut local,
                    )?;
                    let (accuracy, macro_f1, n_test) =
                        probe(m, seqs, mult * opts.train_len, opts.probe_every)?;
                    probe_rows.push(ProbeRow {
                        method: method.name().into(),
                        finetuned,
                        multiple: mult,
                        accuracy,
                        macro_f1,
                        n_test,
                    });
                }
            }
            progress.inc(
                1,
                &format!(
                    "{} {}",
                    method.name(),
                    if finetuned { "fine-tuned" } else { "zero-shot" }
                ),
            );
        }
    }
    progress.finish();
    Ok(LongContextResults {
        options: opts.clone(),
        model: model.config().name.clone(),
        genomes,
        rows,
        probe: probe_rows,
    })
}
