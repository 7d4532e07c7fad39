//! What training looks like in a notebook: loss curves, the history table and the LR finder
//! plot, each a [`Figure`] or [`Table`](crate::table::Table) that displays inline in evcxr.

use crate::plot::{Figure, Series};
use crate::train::learner::LrFinder;
use crate::Result;

pub use super::history::{history_figure, history_table};

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
