//! Learning-rate and momentum schedules as plain functions of training progress
//! (`pct` = fraction of the run done, in `[0, 1]`).
//!
//! ```
//! use genolm::train::schedule::{one_cycle, Schedule};
//! let (lr0, m0) = one_cycle(0.0, 1e-2);
//! let (lr_peak, m_peak) = one_cycle(0.3, 1e-2);
//! assert!((lr0 - 1e-2 / 25.0).abs() < 1e-12);
//! assert!((lr_peak - 1e-2).abs() < 1e-12 && (m_peak - 0.7).abs() < 1e-12);
//! assert!((m0 - 0.8).abs() < 1e-12);
//! let s = Schedule::OneCycle { lr_max: 1e-2 };
//! assert!(s.at(1.0).0 < 1e-7);
//! ```

use serde::{Deserialize, Serialize};

/// Cosine interpolation from `a` (at `pct = 0`) to `b` (at `pct = 1`).
pub fn cos_anneal(a: f64, b: f64, pct: f64) -> f64 {
    let pct = pct.clamp(0.0, 1.0);
    b + (a - b) * (1.0 + (std::f64::consts::PI * pct).cos()) / 2.0
}

/// Fraction of a one-cycle run spent warming up.
pub const ONE_CYCLE_PCT_START: f64 = 0.3;
/// The one-cycle start LR is `lr_max / 25`.
pub const ONE_CYCLE_DIV: f64 = 25.0;
/// The one-cycle end LR is `lr_max / 25 · 1e-4`.
pub const ONE_CYCLE_FINAL_DIV: f64 = 25.0 * 1e4;
/// Momentum (Adam β1) at the ends of the cycle, and at the LR peak (seed 003 §5.2).
pub const ONE_CYCLE_MOMS: (f64, f64) = (0.8, 0.7);

/// The one-cycle policy (seed 003 §5.2): LR rises by cosine from `lr_max/25` to `lr_max` at
/// 30 % of the run, then falls by cosine to `lr_max/25·1e-4`; momentum moves inversely,
/// 0.8 → 0.7 → 0.8. Returns `(lr, momentum)`.
pub fn one_cycle(pct: f64, lr_max: f64) -> (f64, f64) {
    let (hi, lo) = ONE_CYCLE_MOMS;
    if pct < ONE_CYCLE_PCT_START {
        let p = pct / ONE_CYCLE_PCT_START;
        (
            cos_anneal(lr_max / ONE_CYCLE_DIV, lr_max, p),
            cos_anneal(hi, lo, p),
        )
    } else {
        let p = (pct - ONE_CYCLE_PCT_START) / (1.0 - ONE_CYCLE_PCT_START);
        (
            cos_anneal(lr_max, lr_max / ONE_CYCLE_FINAL_DIV, p),
            cos_anneal(lo, hi, p),
        )
    }
}

/// A schedule of the peak (top-group) learning rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// [`one_cycle`] with this peak.
    OneCycle {
        /// Peak learning rate.
        lr_max: f64,
    },
    /// Cosine decay from `lr` to `lr_end`, constant momentum 0.9.
    Cosine {
        /// Start learning rate.
        lr: f64,
        /// End learning rate.
        lr_end: f64,
    },
    /// A constant learning rate and momentum 0.9.
    Constant {
        /// The learning rate.
        lr: f64,
    },
}

/// The shape of a schedule, as a run file names it (`one_cycle`, `cosine`, `constant`);
/// [`ScheduleKind::with_lr`] makes the [`Schedule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// [`Schedule::OneCycle`] (also read as `onecycle`, `one-cycle`).
    #[default]
    OneCycle,
    /// [`Schedule::Cosine`] down to `lr · 1e-3`.
    Cosine,
    /// [`Schedule::Constant`].
    Constant,
}

impl ScheduleKind {
    /// The schedule of this shape with peak (or constant) learning rate `lr`.
    pub fn with_lr(self, lr: f64) -> Schedule {
        match self {
            ScheduleKind::OneCycle => Schedule::OneCycle { lr_max: lr },
            ScheduleKind::Cosine => Schedule::Cosine {
                lr,
                lr_end: lr * 1e-3,
            },
            ScheduleKind::Constant => Schedule::Constant { lr },
        }
    }
}

impl<'de> Deserialize<'de> for ScheduleKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        crate::error::deserialize_by_name(d)
    }
}

impl std::str::FromStr for ScheduleKind {
    type Err = crate::Error;
    fn from_str(name: &str) -> crate::Result<Self> {
        Ok(match name {
            "one_cycle" | "onecycle" | "one-cycle" => ScheduleKind::OneCycle,
            "cosine" => ScheduleKind::Cosine,
            "constant" => ScheduleKind::Constant,
            other => {
                return Err(crate::Error::Config(format!(
                    "unknown schedule {other:?}; use one_cycle, cosine or constant"
                )))
            }
        })
    }
}

impl Schedule {
    /// `(lr, momentum)` at progress `pct`.
    pub fn at(&self, pct: f64) -> (f64, f64) {
        match *self {
            Schedule::OneCycle { lr_max } => one_cycle(pct, lr_max),
            Schedule::Cosine { lr, lr_end } => (cos_anneal(lr, lr_end, pct), 0.9),
            Schedule::Constant { lr } => (lr, 0.9),
        }
    }

    /// Build from a name (`one_cycle`, `cosine`, `constant`) and a peak LR.
    pub fn from_name(name: &str, lr: f64) -> crate::Result<Self> {
        Ok(name.parse::<ScheduleKind>()?.with_lr(lr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_cycle_shape() {
        let lr = 1e-2;
        let pts: Vec<(f64, f64)> = (0..=100).map(|i| one_cycle(i as f64 / 100.0, lr)).collect();
        let (imax, _) = pts
            .iter()
            .enumerate()
            .max_by(|a, b| a.1 .0.partial_cmp(&b.1 .0).unwrap())
            .unwrap();
        assert_eq!(imax, 30);
        assert!((pts[100].0 - lr / 25.0 * 1e-4).abs() < 1e-15);
        assert!((pts[100].1 - 0.8).abs() < 1e-12);
        // LR rises monotonically, then falls.
        assert!(pts[..=30].windows(2).all(|w| w[1].0 >= w[0].0));
        assert!(pts[30..].windows(2).all(|w| w[1].0 <= w[0].0));
        assert!(Schedule::from_name("linear", 1.0).is_err());
    }
}
