//! Bottom layer: the statistics and metrics every stage shares — ranks, AUROC with its
//! Mann–Whitney p-value, Pearson correlation, multiple-testing corrections
//! ([`hypothesis`]), and classification metrics, ROC/PR curves and mean ± sd ([`metrics`]), and the L1 logistic solver of sparse probes
//! ([`regression`]), and the calibration of per-class scores on held-out items ([`calibration`]).
//!
//! Training reports [`BinaryMetrics`], the neuron analyses test with [`auroc_test`] and
//! [`benjamini_hochberg`], the benchmark compares with [`auroc`], and ROC/PR figures draw
//! [`roc_curve`] / [`pr_curve`]: one implementation each, imported from here.
//!
//! ```
//! use genolm::stats::{auroc, benjamini_hochberg, mean_sd};
//! assert_eq!(auroc(&[0.9, 0.8, 0.3, 0.2], &[true, false, true, false]), 0.75);
//! let q = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.5]);
//! assert!((q[0] - 0.04).abs() < 1e-12);
//! assert_eq!(mean_sd(&[1.0, 3.0]), (2.0, 2f64.sqrt()));
//! ```

pub mod calibration;
pub mod hypothesis;
pub mod metrics;
pub mod regression;

pub use hypothesis::*;
pub use metrics::*;
pub use regression::*;
