//! Training curves: the loss of every step (thin), its smoothed line, validation points and a
//! reference level, against an integer step axis — the figure of [`History::plot`]
//! (crate::train::History), the reports and the live monitor's snapshot.

use plotters::prelude::*;

use super::{color, frame, legend, perr, style_mesh, Figure};
use crate::Result;

/// What [`Figure::training_curves`] draws. Points are `(step, loss)`; empty parts are left out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TrainingCurves {
    /// Title.
    pub title: String,
    /// Per-step training loss, drawn thin and light.
    pub raw: Vec<(f64, f64)>,
    /// The smoothed training loss (or one point per epoch), drawn bold.
    pub smooth: Vec<(f64, f64)>,
    /// Legend label of `smooth`.
    pub smooth_label: String,
    /// Validation loss after each evaluation, drawn as points joined by a line.
    pub valid: Vec<(f64, f64)>,
    /// A horizontal reference `(label, level)`.
    pub reference: Option<(String, f64)>,
}

/// The y range: the smoothed and validation curves and the reference, with a margin. The raw
/// per-step loss of the first steps (ln of the vocabulary) would flatten everything else, so it
/// is clipped to the top of that range, as fastai's `plot_loss` skips the start.
fn y_range(c: &TrainingCurves) -> (f64, f64) {
    let skip = c.smooth.len() / 20;
    let mut v: Vec<f64> = c.smooth.iter().skip(skip).map(|p| p.1).collect();
    v.extend(c.valid.iter().map(|p| p.1));
    v.extend(c.reference.as_ref().map(|r| r.1));
    if v.is_empty() {
        v.extend(c.raw.iter().map(|p| p.1));
    }
    let (lo, hi) = super::finite_range(v.into_iter().filter(|x| x.is_finite()));
    let pad = ((hi - lo) * 0.08).max(1e-3);
    (lo - pad, hi + pad)
}

impl Figure {
    /// Training curves against the optimizer step ([`TrainingCurves`]), integer step labels.
    ///
    /// ```
    /// use genolm::plot::{Figure, TrainingCurves};
    /// let raw: Vec<(f64, f64)> = (1..=200).map(|s| (s as f64, 1.4 - s as f64 * 1e-3 + (s % 7) as f64 * 0.01)).collect();
    /// let fig = Figure::training_curves(&TrainingCurves {
    ///     title: "loss".into(), smooth: raw.clone(), raw, smooth_label: "train (smoothed)".into(),
    ///     valid: vec![(100.0, 1.33), (200.0, 1.25)], reference: Some(("ln(4)".into(), 4f64.ln())),
    /// })?;
    /// let svg = fig.svg();
    /// assert!(svg.contains("valid") && svg.contains("train (smoothed)"));
    /// // integer step labels: "200", never "200.0"
    /// assert!(svg.contains("\n200\n") && !svg.contains("200.0"));
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn training_curves(c: &TrainingCurves) -> Result<Figure> {
        let xs = c.raw.iter().chain(&c.smooth).chain(&c.valid).map(|p| p.0);
        let (mut x0, mut x1) = super::finite_range(xs);
        if x1 - x0 < 1.0 {
            x0 -= 0.5;
            x1 += 0.5;
        }
        let (y0, y1) = y_range(c);
        Self::draw(640, 400, |root| {
            let mut chart = frame(&root, &c.title, 40, 56)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(perr)?;
            style_mesh(&mut chart.configure_mesh(), 12)
                .x_desc("step")
                .y_desc("cross-entropy (nats)")
                .x_label_formatter(&|v| format!("{:.0}", v))
                .draw()
                .map_err(perr)?;
            let clip = |p: &(f64, f64)| (p.0, p.1.clamp(y0, y1));
            let train = color(0);
            if !c.raw.is_empty() {
                chart
                    .draw_series(LineSeries::new(
                        c.raw.iter().filter(|p| p.1.is_finite()).map(clip),
                        train.mix(0.3).stroke_width(1),
                    ))
                    .map_err(perr)?
                    .label("train (per step)")
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], train.mix(0.3).stroke_width(1))
                    });
            }
            if !c.smooth.is_empty() {
                chart
                    .draw_series(LineSeries::new(
                        c.smooth.iter().filter(|p| p.1.is_finite()).map(clip),
                        train.stroke_width(2),
                    ))
                    .map_err(perr)?
                    .label(c.smooth_label.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], train.stroke_width(2))
                    });
            }
            if !c.valid.is_empty() {
                let v = color(1);
                let pts: Vec<(f64, f64)> = c
                    .valid
                    .iter()
                    .filter(|p| p.1.is_finite())
                    .map(clip)
                    .collect();
                chart
                    .draw_series(LineSeries::new(pts.clone(), v.stroke_width(2)))
                    .map_err(perr)?
                    .label("valid")
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], v.stroke_width(2))
                    });
                chart
                    .draw_series(pts.into_iter().map(|p| Circle::new(p, 4, v.filled())))
                    .map_err(perr)?;
            }
            if let Some((label, r)) = &c.reference {
                let k = color(7);
                chart
                    .draw_series(DashedLineSeries::new(
                        vec![(x0, *r), (x1, *r)],
                        6,
                        4,
                        k.stroke_width(1),
                    ))
                    .map_err(perr)?
                    .label(label.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], k));
            }
            legend(&mut chart, 12)
        })
    }
}
