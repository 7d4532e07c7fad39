//! What training looks like in a notebook: loss curves, the history table and the LR finder
//! plot, each a [`Figure`] or [`Table`] that displays inline in evcxr.

use polars::prelude::*;

use crate::plot::{Figure, Series};
use crate::table::Table;
use crate::train::learner::{EpochRecord, LrFinder};
use crate::Result;

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

impl LrFinder {
    /// Smoothed loss against learning rate (log axis) with the suggestion marked.
    ///
    /// ```
    /// let f = genolm::train::LrFinder { lrs: vec![1e-5, 1e-4, 1e-3, 1e-2], losses: vec![1.4, 1.3, 1.1, 1.6],
    ///     raw_losses: vec![1.4, 1.3, 1.1, 1.6], suggestion: 1e-4, min_div_10: 1e-4, diverged: true };
    /// assert!(f.plot()?.svg().contains("suggestion"));
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn plot(&self) -> Result<Figure> {
        Figure::lines(
            "LR finder",
            "learning rate",
            "smoothed loss",
            &[Series::new("loss", self.lrs.clone(), self.losses.clone())],
            &[(
                self.suggestion,
                format!("suggestion {:.1e}", self.suggestion),
            )],
        )
    }

    /// evcxr inline display: the plot and the suggested rate.
    pub fn evcxr_display(&self) {
        match self.plot() {
            Ok(f) => f.evcxr_display(),
            Err(e) => println!("LR finder plot failed: {e}"),
        }
        println!(
            "suggested LR {:.2e} (steepest descent); minimum/10 {:.2e}{}",
            self.suggestion,
            self.min_div_10,
            if self.diverged {
                "; the sweep stopped when the loss diverged"
            } else {
                ""
            }
        );
    }
}
