//! Neuron importance by deletion: silence one neuron or a set (zero or its mean activation)
//! and measure the change of LM loss and next-token accuracy on held-out sequences; rank
//! neurons; compare deleting the top-ranked neurons with deleting random ones (a curve).
//!
//! ```
//! use candle_core::Device;
//! use genolm::explain::deletion::{deletion_curve, lm_loss, DeletionOptions};
//! use genolm::models::{GenomicModel, ModelConfig};
//! let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1)?;
//! let recs = vec![("s".to_string(), b"ACGTAGCTAGCATGCATCGATCGATTAGCGCGATATCGCTAGCTAGGCTA".to_vec())];
//! let base = lm_loss(&model, &recs, &Default::default())?;
//! assert!(base.loss > 0.0 && base.n > 0);
//! let opts = DeletionOptions { ks: vec![0, 1, 2], n_random: 2, seed: 7, ..DeletionOptions::layer("lstm.0") };
//! let curve = deletion_curve(&model, &recs, &[3, 1, 4, 0], &opts)?;
//! assert_eq!(curve.ranked.len(), 3);
//! # Ok::<(), genolm::Error>(())
//! ```

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::input::Records;
use crate::infer::PredictOptions;
use crate::models::{Ablation, GenomicModel, Head};
use crate::plot::{Figure, Series};
use crate::table::Table;
use crate::{Error, Result};

/// LM quality on some sequences.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct LmScore {
    /// Mean cross-entropy (nats per token).
    pub loss: f64,
    /// Fraction of tokens whose most probable prediction is right.
    pub accuracy: f64,
    /// Tokens scored.
    pub n: usize,
}

/// Mean next-token cross-entropy and accuracy of a causal LM on `records` (MLMs: 15 % of tokens
/// masked deterministically, scored at the masked positions). `opts.hooks` may ablate neurons.
pub fn lm_loss(
    model: &GenomicModel,
    records: &(impl Records + ?Sized),
    opts: &PredictOptions,
) -> Result<LmScore> {
    let records = records.records();
    let head = model.config().head;
    if head == Head::Classifier {
        return Err(Error::Input("lm_loss needs an LM or MLM head".into()));
    }
    let (mut sum, mut correct, mut n) = (0f64, 0usize, 0usize);
    let seqs: Vec<&[u8]> = records.iter().map(|(_, s)| *s).collect();
    for s in crate::infer::token_scores_many(model, &seqs, opts)? {
        sum -= s.logp.iter().map(|&v| v as f64).sum::<f64>();
        correct += s.correct.iter().filter(|&&c| c).count();
        n += s.len();
    }
    if n == 0 {
        return Err(Error::Input("no tokens to score".into()));
    }
    Ok(LmScore {
        loss: sum / n as f64,
        accuracy: correct as f64 / n as f64,
        n,
    })
}

/// Options of [`loss_with_deleted`], [`rank_by_deletion`] and [`deletion_curve`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DeletionOptions {
    /// The layer whose neurons are deleted (`embed`, `conv.i`, `lstm.i`, `attn.i`, `body`).
    pub layer: String,
    /// How a deleted neuron is silenced.
    pub ablate: Ablate,
    /// [`deletion_curve`]: the numbers of neurons deleted.
    pub ks: Vec<usize>,
    /// [`deletion_curve`]: random draws of `k` neurons per `k`.
    pub n_random: usize,
    /// [`deletion_curve`]: seed of the random draws.
    pub seed: u64,
}

impl Default for DeletionOptions {
    fn default() -> Self {
        DeletionOptions {
            layer: "body".into(),
            ablate: Ablate::Zero,
            ks: vec![1, 2, 4, 8, 16, 32],
            n_random: 3,
            seed: 1,
        }
    }
}

impl DeletionOptions {
    /// Default options deleting neurons of `layer`.
    pub fn layer(layer: &str) -> Self {
        DeletionOptions {
            layer: layer.into(),
            ..Default::default()
        }
    }
}

/// How a deleted neuron is silenced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Ablate {
    /// Set to zero.
    #[default]
    Zero,
    /// Set to its mean activation on the evaluation sequences.
    Mean,
}

fn ablation(
    model: &GenomicModel,
    records: &[(&str, &[u8])],
    layer: &str,
    units: &[usize],
    how: Ablate,
) -> Result<Ablation> {
    let values = match how {
        Ablate::Zero => None,
        Ablate::Mean => {
            let st = crate::infer::states(
                model,
                records,
                &PredictOptions {
                    layers: vec![layer.to_string()],
                    ..Default::default()
                },
            )?;
            let m = st.layers[0].mean();
            Some(units.iter().map(|&u| m[u]).collect())
        }
    };
    Ok(Ablation {
        layer: layer.to_string(),
        units: units.to_vec(),
        values,
    })
}

/// Units of a named layer.
fn layer_width(model: &GenomicModel, layer: &str) -> Result<usize> {
    model
        .layer_names()
        .into_iter()
        .find(|(n, _)| n == layer)
        .map(|l| l.1)
        .ok_or_else(|| Error::Input(format!("no layer {layer:?}")))
}

/// Loss with `units` of `opts.layer` ablated (`opts.ablate`).
pub fn loss_with_deleted(
    model: &GenomicModel,
    records: &(impl Records + ?Sized),
    units: &[usize],
    opts: &DeletionOptions,
) -> Result<LmScore> {
    let recs = records.records();
    let mut o = PredictOptions::default();
    o.hooks
        .ablate
        .push(ablation(model, &recs, &opts.layer, units, opts.ablate)?);
    lm_loss(model, recs.as_slice(), &o)
}

/// Rank every neuron of `opts.layer` by the loss increase when it alone is deleted (one pass
/// per neuron). Returns `(unit, Δ loss)`, largest first.
pub fn rank_by_deletion(
    model: &GenomicModel,
    records: &(impl Records + ?Sized),
    opts: &DeletionOptions,
) -> Result<Vec<(usize, f64)>> {
    let records = records.records();
    let width = layer_width(model, &opts.layer)?;
    let base = lm_loss(model, records.as_slice(), &PredictOptions::default())?;
    let mut out = Vec::with_capacity(width);
    for u in 0..width {
        let s = loss_with_deleted(model, records.as_slice(), &[u], opts)?;
        out.push((u, s.loss - base.loss));
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    Ok(out)
}

/// Loss after deleting the top-`k` neurons of a ranking, and `k` random neurons, for each `k`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletionCurve {
    /// Layer.
    pub layer: String,
    /// `(k, LM score)` deleting the first `k` of the ranking.
    pub ranked: Vec<(usize, LmScore)>,
    /// `(k, mean loss, sd)` over random draws of `k` neurons.
    pub random: Vec<(usize, f64, f64)>,
    /// Area between the two loss curves (trapezoid over the `k` values; > 0 when the ranking
    /// finds neurons that matter more than random ones).
    pub area: f64,
}

/// Deletion curve for a `ranking` of units of `opts.layer` (e.g. from [`rank_by_deletion`] or
/// from `identify_explainable_neurons`) at each `k` of `opts.ks`, with `opts.n_random` seeded
/// random draws.
pub fn deletion_curve(
    model: &GenomicModel,
    records: &(impl Records + ?Sized),
    ranking: &[usize],
    opts: &DeletionOptions,
) -> Result<DeletionCurve> {
    let records = records.records();
    let records = records.as_slice();
    let (layer, ks, n_random) = (opts.layer.as_str(), opts.ks.as_slice(), opts.n_random);
    let width = layer_width(model, layer)?;
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut ranked = Vec::new();
    let mut random = Vec::new();
    for &k in ks {
        let k = k.min(ranking.len()).min(width);
        let s = if k == 0 {
            lm_loss(model, records, &PredictOptions::default())?
        } else {
            loss_with_deleted(model, records, &ranking[..k], opts)?
        };
        ranked.push((k, s));
        let mut losses = Vec::new();
        for _ in 0..n_random.max(1) {
            let mut all: Vec<usize> = (0..width).collect();
            all.shuffle(&mut rng);
            let l = if k == 0 {
                s.loss
            } else {
                loss_with_deleted(model, records, &all[..k], opts)?.loss
            };
            losses.push(l);
        }
        let (m, sd) = crate::stats::mean_sd(&losses);
        random.push((k, m, sd));
    }
    let mut area = 0.0;
    for i in 1..ks.len() {
        let dx = ranked[i].0 as f64 - ranked[i - 1].0 as f64;
        let d0 = ranked[i - 1].1.loss - random[i - 1].1;
        let d1 = ranked[i].1.loss - random[i].1;
        area += dx * (d0 + d1) / 2.0;
    }
    Ok(DeletionCurve {
        layer: layer.to_string(),
        ranked,
        random,
        area,
    })
}

impl DeletionCurve {
    /// Loss vs number of deleted neurons, ranked and random.
    pub fn plot(&self) -> Result<Figure> {
        Figure::lines(
            &format!("Deleting neurons of {}", self.layer),
            "neurons deleted",
            "LM loss (nats/token)",
            &[
                Series::new(
                    "top-ranked",
                    self.ranked.iter().map(|r| r.0 as f64).collect(),
                    self.ranked.iter().map(|r| r.1.loss).collect(),
                ),
                Series::new(
                    "random (mean)",
                    self.random.iter().map(|r| r.0 as f64).collect(),
                    self.random.iter().map(|r| r.1).collect(),
                ),
            ],
            &[],
        )
    }
    /// The curve as a table.
    pub fn table(&self) -> Result<Table> {
        use polars::prelude::*;
        let n = self.ranked.len();
        let df = DataFrame::new(
            n,
            vec![
                Column::new(
                    "k".into(),
                    self.ranked.iter().map(|r| r.0 as u32).collect::<Vec<_>>(),
                ),
                Column::new(
                    "loss_ranked".into(),
                    self.ranked.iter().map(|r| r.1.loss).collect::<Vec<_>>(),
                ),
                Column::new(
                    "accuracy_ranked".into(),
                    self.ranked.iter().map(|r| r.1.accuracy).collect::<Vec<_>>(),
                ),
                Column::new(
                    "loss_random".into(),
                    self.random.iter().map(|r| r.1).collect::<Vec<_>>(),
                ),
                Column::new(
                    "loss_random_sd".into(),
                    self.random.iter().map(|r| r.2).collect::<Vec<_>>(),
                ),
            ],
        )?;
        Ok(Table::new("deletion_curve", df))
    }
    /// evcxr display: the plot.
    pub fn evcxr_display(&self) {
        if let Ok(f) = self.plot() {
            f.evcxr_display();
        }
    }
}
