//! The record of a fit: one [`EpochRecord`] per epoch, collected in a [`History`] that plots
//! and tabulates itself.

use std::ops::{Deref, DerefMut};

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::plot::{Figure, Series};
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

/// What a fit produced, epoch by epoch ([`Learner::history`](crate::train::Learner),
/// [`RunSummary::history`](crate::train::run::RunSummary), a recipe's result): a list of
/// [`EpochRecord`]s (it derefs to `Vec<EpochRecord>`) that plots and tabulates itself like
/// every other result, and displays inline in evcxr. Serialised as the plain list.
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct History(pub Vec<EpochRecord>);

impl History {
    /// Training and validation loss against the step ([`history_figure`]).
    pub fn plot(&self) -> Result<Figure> {
        history_figure(self, None)
    }
    /// As [`plot`](Self::plot), with a horizontal reference (e.g. the informed-random loss).
    pub fn plot_with_reference(&self, reference: f64) -> Result<Figure> {
        history_figure(self, Some(reference))
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
        &self.0
    }
}

impl DerefMut for History {
    fn deref_mut(&mut self) -> &mut Vec<EpochRecord> {
        &mut self.0
    }
}

impl From<Vec<EpochRecord>> for History {
    fn from(v: Vec<EpochRecord>) -> Self {
        History(v)
    }
}

impl IntoIterator for History {
    type Item = EpochRecord;
    type IntoIter = std::vec::IntoIter<EpochRecord>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a History {
    type Item = &'a EpochRecord;
    type IntoIter = std::slice::Iter<'a, EpochRecord>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

/// Training and validation loss after each epoch against the optimizer step, with an optional
/// horizontal reference (the informed-random loss ln(4^s) for a language model).
///
/// ```
/// use genolm::train::{display::history_figure, EpochRecord};
/// let h = vec![EpochRecord { epoch: 0, stage: "fit".into(), train_loss: 1.38, valid_loss: Some(1.37),
///     valid_accuracy: Some(0.3), lr: 1e-3, seconds: 1.0, train_throughput: 1e4, step: 10 }];
/// let fig = history_figure(&h, Some(1.386))?;
/// assert!(fig.svg().contains("valid"));
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn history_figure(history: &[EpochRecord], reference: Option<f64>) -> Result<Figure> {
    let x: Vec<f64> = history.iter().map(|e| e.step as f64).collect();
    let mut series = vec![Series::new(
        "train",
        x.clone(),
        history.iter().map(|e| e.train_loss).collect(),
    )];
    if history.iter().any(|e| e.valid_loss.is_some()) {
        series.push(Series::new(
            "valid",
            x.clone(),
            history
                .iter()
                .map(|e| e.valid_loss.unwrap_or(f64::NAN))
                .collect(),
        ));
    }
    if let Some(r) = reference {
        series.push(Series::new("ln(4^s)", x.clone(), vec![r; x.len()]));
    }
    Figure::lines(
        "Loss per epoch",
        "step",
        "cross-entropy (nats/token)",
        &series,
        &[],
    )
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
