//! The record of a fit: one [`StepRecord`] per optimizer step and one [`EpochRecord`] per
//! epoch, collected in a [`History`] that plots (per-step curves with a moving mean, like
//! fastai's `plot_loss` and TensorBoard) and tabulates itself.

use std::ops::{Deref, DerefMut};

use polars::prelude::*;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::plot::{Figure, TrainingCurves};
use crate::table::Table;
use crate::Result;

/// What happened in one epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch index within its fit (0-based).
    pub epoch: usize,
    /// Name of the fit (`fit`, or a recipe stage such as `classifier freeze_to(-2)`).
    pub stage: String,
    /// Mean training cross-entropy (without AR/TAR).
    pub train_loss: f64,
    /// Validation cross-entropy.
    pub valid_loss: Option<f64>,
    /// Validation accuracy (next token, masked token, or class).
    pub valid_accuracy: Option<f64>,
    /// Top-group learning rate at the end of the epoch.
    pub lr: f64,
    /// Wall-clock seconds (training and validation).
    pub seconds: f64,
    /// Training tokens (or items) per second, forward + backward + optimizer.
    pub train_throughput: f64,
    /// Optimizer steps so far.
    pub step: usize,
}

/// What happened in one optimizer step (a line of a run's `metrics.jsonl`, and the
/// `train/*` scalars of its TensorBoard events).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// Optimizer steps after this one (1-based, continues across fits).
    pub step: usize,
    /// Epoch index within its fit (0-based).
    pub epoch: usize,
    /// Name of the fit.
    pub stage: String,
    /// Training cross-entropy of this batch (without AR/TAR).
    pub loss: f64,
    /// Debiased exponential moving average of `loss` (β = 0.98, as fastai's `smooth_loss`).
    pub smooth_loss: f64,
    /// Top-group learning rate of this step.
    pub lr: f64,
    /// AdamW β1 (momentum) of this step.
    pub momentum: f64,
    /// Global gradient norm before clipping (NaN, written `null`, on a skipped f16 step).
    #[serde(deserialize_with = "f64_or_nan")]
    pub grad_norm: f64,
    /// Targets (tokens or items) the loss averages over: an epoch's `train_loss` is the
    /// `targets`-weighted mean of its steps' `loss`.
    pub targets: usize,
    /// Training tokens (or items) per second of this step, forward + backward + optimizer.
    pub units_per_s: f64,
    /// Resident memory of the process in MiB after the step (NaN, written `null`, where unknown).
    #[serde(deserialize_with = "f64_or_nan")]
    pub rss_mib: f64,
    /// Wall-clock time, seconds since the Unix epoch.
    pub time: f64,
}

/// JSON has no NaN: serde_json writes it as `null`, read back here as NaN.
fn f64_or_nan<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// What a fit produced, epoch by epoch ([`Learner::history`](crate::train::Learner),
/// [`RunSummary::history`](crate::train::run::RunSummary), a recipe's result): the
/// [`EpochRecord`]s (it derefs to `Vec<EpochRecord>`) and, where the fit happened in this
/// process or was read from a run's `metrics.jsonl`, its [`StepRecord`]s. It plots and
/// tabulates itself like every other result and displays inline in evcxr. Serialised as the
/// plain list of epochs (`summary.json`); the steps live in `metrics.jsonl`.
///
/// ```
/// use genolm::train::{EpochRecord, History};
/// let h = History::from(vec![EpochRecord { epoch: 0, stage: "fit".into(), train_loss: 1.38, valid_loss: Some(1.37),
///     valid_accuracy: Some(0.3), lr: 1e-3, seconds: 1.0, train_throughput: 1e4, step: 10 }]);
/// assert_eq!(h.len(), 1);
/// assert!(h.plot()?.svg().contains("valid"));
/// assert_eq!(h.table()?.height(), 1);
/// assert_eq!(serde_json::to_value(&h).unwrap()[0]["step"], 10);
/// # Ok::<(), genolm::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// One record per epoch.
    pub epochs: Vec<EpochRecord>,
    /// One record per optimizer step (empty for a history read from `summary.json`).
    pub steps: Vec<StepRecord>,
}

impl Serialize for History {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        self.epochs.serialize(s)
    }
}

impl<'de> Deserialize<'de> for History {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        Ok(History::from(Vec::<EpochRecord>::deserialize(d)?))
    }
}

/// About how many step records a [`History`] keeps in memory: past it, a long run (a corpus of
/// token shards larger than memory, days of training) keeps every `s`-th step, `s` doubling as
/// needed, so memory and `state.json` stay bounded. Every step is still in `metrics.jsonl`.
pub const STEPS_KEPT: usize = 50_000;

/// The step spacing of records kept once step `n` is reached: the smallest power of two `s`
/// with `n / s ≤ STEPS_KEPT`.
fn stride_for(n: usize) -> usize {
    let mut s = 1;
    while n / s > STEPS_KEPT {
        s *= 2;
    }
    s
}

impl History {
    /// Add one step's record. Up to step [`STEPS_KEPT`] every record is kept; past it only
    /// the steps on a grid that coarsens as the run goes on (every 2nd, 4th, … step; the
    /// records already kept are thinned to the new grid), so at most about `STEPS_KEPT`
    /// records, evenly spread over the run, stay in memory. The kept set depends only on the
    /// records pushed, so a resumed run keeps the same ones.
    ///
    /// ```
    /// use genolm::train::history::{History, StepRecord, STEPS_KEPT};
    /// let mut h = History::default();
    /// for step in 1..=4 * STEPS_KEPT {
    ///     h.push_step(StepRecord { step, ..Default::default() });
    /// }
    /// assert_eq!(h.steps.len(), STEPS_KEPT);
    /// assert_eq!(h.steps.last().unwrap().step, 4 * STEPS_KEPT);
    /// assert!(h.steps.windows(2).all(|w| w[1].step - w[0].step == 4));
    /// ```
    pub fn push_step(&mut self, rec: StepRecord) {
        let s = stride_for(rec.step);
        if self.steps.last().is_some_and(|r| stride_for(r.step) < s) {
            self.steps.retain(|r| r.step.is_multiple_of(s));
        }
        if rec.step.is_multiple_of(s) {
            self.steps.push(rec);
        }
        if self.steps.len() > 4 * STEPS_KEPT {
            // step numbers that are not one run's (fits appended out of order): every other
            let mut i = 0;
            self.steps.retain(|_| {
                i += 1;
                i % 2 == 1
            });
        }
    }

    /// Training loss per step (raw and smoothed) and validation loss per epoch against the
    /// optimizer step ([`history_figure`]).
    pub fn plot(&self) -> Result<Figure> {
        history_figure(self, None)
    }
    /// As [`plot`](Self::plot), with a horizontal reference (e.g. the informed-random loss).
    pub fn plot_with_reference(&self, reference: f64) -> Result<Figure> {
        history_figure(self, Some(reference))
    }
    /// Append another fit's epochs and steps (a recipe's stages, one after the other).
    pub fn append(&mut self, other: History) {
        self.epochs.extend(other.epochs);
        for s in other.steps {
            self.push_step(s);
        }
    }
    /// One row per epoch ([`history_table`]).
    pub fn table(&self) -> Result<Table> {
        history_table(self)
    }
    /// evcxr display: the curves and the table.
    pub fn evcxr_display(&self) {
        if let Ok(f) = self.plot() {
            f.evcxr_display();
        }
        if let Ok(t) = self.table() {
            t.evcxr_display();
        }
    }
}

impl Deref for History {
    type Target = Vec<EpochRecord>;
    fn deref(&self) -> &Vec<EpochRecord> {
        &self.epochs
    }
}

impl DerefMut for History {
    fn deref_mut(&mut self) -> &mut Vec<EpochRecord> {
        &mut self.epochs
    }
}

impl From<Vec<EpochRecord>> for History {
    fn from(epochs: Vec<EpochRecord>) -> Self {
        History {
            epochs,
            steps: Vec::new(),
        }
    }
}

impl IntoIterator for History {
    type Item = EpochRecord;
    type IntoIter = std::vec::IntoIter<EpochRecord>;
    fn into_iter(self) -> Self::IntoIter {
        self.epochs.into_iter()
    }
}

impl<'a> IntoIterator for &'a History {
    type Item = &'a EpochRecord;
    type IntoIter = std::slice::Iter<'a, EpochRecord>;
    fn into_iter(self) -> Self::IntoIter {
        self.epochs.iter()
    }
}

/// Debiased exponential moving average (fastai's `SmoothenValue`): the smoothed training loss
/// of [`StepRecord::smooth_loss`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Smoother {
    beta: f64,
    mov_avg: f64,
    n: u64,
}

impl Default for Smoother {
    fn default() -> Self {
        Smoother::new(0.98)
    }
}

impl Smoother {
    /// A smoother with weight `beta` on the past.
    pub fn new(beta: f64) -> Self {
        Smoother {
            beta,
            mov_avg: 0.0,
            n: 0,
        }
    }
    /// Add a value; returns the smoothed value so far.
    ///
    /// ```
    /// let mut s = genolm::train::history::Smoother::default();
    /// assert_eq!(s.add(2.0), 2.0); // debiased: the first value is itself
    /// assert!((s.add(1.0) - 1.4949).abs() < 1e-3);
    /// ```
    pub fn add(&mut self, v: f64) -> f64 {
        self.n += 1;
        self.mov_avg = self.beta * self.mov_avg + (1.0 - self.beta) * v;
        self.mov_avg / (1.0 - self.beta.powi(self.n.min(i32::MAX as u64) as i32))
    }
}

/// The loss curves of a fit against the optimizer step: the training loss of every step (thin)
/// with a centred moving mean over about 2 % of the steps when the history has steps, the
/// per-epoch training loss otherwise, the validation loss after each epoch (points), and an
/// optional horizontal reference (the informed-random loss ln(4^s) for a language model).
///
/// ```
/// use genolm::train::{display::history_figure, EpochRecord};
/// let h = vec![EpochRecord { epoch: 0, stage: "fit".into(), train_loss: 1.38, valid_loss: Some(1.37),
///     valid_accuracy: Some(0.3), lr: 1e-3, seconds: 1.0, train_throughput: 1e4, step: 10 }];
/// let fig = history_figure(&h.into(), Some(1.386))?;
/// assert!(fig.svg().contains("valid"));
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn history_figure(history: &History, reference: Option<f64>) -> Result<Figure> {
    let valid: Vec<(f64, f64)> = history
        .epochs
        .iter()
        .filter_map(|e| e.valid_loss.map(|v| (e.step as f64, v)))
        .collect();
    let mut curves = TrainingCurves {
        title: "Training loss per step".into(),
        valid,
        reference: reference.map(|r| ("ln(4^s)".to_string(), r)),
        ..Default::default()
    };
    if history.steps.is_empty() {
        curves.title = "Loss per epoch".into();
        curves.smooth = history
            .epochs
            .iter()
            .map(|e| (e.step as f64, e.train_loss))
            .collect();
        curves.smooth_label = "train (epoch mean)".into();
    } else {
        curves.raw = history
            .steps
            .iter()
            .map(|s| (s.step as f64, s.loss))
            .collect();
        // A centred moving mean: the logged `smooth_loss` is causal (fastai's EMA, β = 0.98)
        // and lags ~50 steps behind a fast-falling loss, which a figure should not show.
        let raw: Vec<f64> = history.steps.iter().map(|s| s.loss).collect();
        let half = (raw.len() / 50).clamp(0, 100);
        curves.smooth = history
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let h = half.min(i).min(raw.len() - 1 - i);
                let w = &raw[i - h..=i + h];
                (s.step as f64, w.iter().sum::<f64>() / w.len() as f64)
            })
            .collect();
        curves.smooth_label = if half > 0 {
            format!("train (mean of {} steps)", 2 * half + 1)
        } else {
            "train".into()
        };
    }
    Figure::training_curves(&curves)
}

/// The history as a table: epoch, stage, losses, accuracy, LR, seconds and throughput.
///
/// ```
/// use genolm::train::{display::history_table, EpochRecord};
/// let h = vec![EpochRecord { epoch: 0, stage: "fit".into(), train_loss: 1.38, valid_loss: None,
///     valid_accuracy: None, lr: 1e-3, seconds: 1.0, train_throughput: 1e4, step: 10 }];
/// assert_eq!(history_table(&h)?.height(), 1);
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn history_table(history: &[EpochRecord]) -> Result<Table> {
    let h = history;
    let df = df!(
        "epoch" => h.iter().map(|e| e.epoch as u64 + 1).collect::<Vec<_>>(),
        "stage" => h.iter().map(|e| e.stage.clone()).collect::<Vec<_>>(),
        "step" => h.iter().map(|e| e.step as u64).collect::<Vec<_>>(),
        "train_loss" => h.iter().map(|e| e.train_loss).collect::<Vec<_>>(),
        "valid_loss" => h.iter().map(|e| e.valid_loss.unwrap_or(f64::NAN)).collect::<Vec<_>>(),
        "valid_accuracy" => h.iter().map(|e| e.valid_accuracy.unwrap_or(f64::NAN)).collect::<Vec<_>>(),
        "lr" => h.iter().map(|e| e.lr).collect::<Vec<_>>(),
        "seconds" => h.iter().map(|e| e.seconds).collect::<Vec<_>>(),
        "units_per_s" => h.iter().map(|e| e.train_throughput).collect::<Vec<_>>(),
    )?;
    Ok(Table::new("history", df))
}
