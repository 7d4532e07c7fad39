//! Bar charts with error bars.

use plotters::prelude::*;

use super::{color, frame, perr, style_mesh, Figure};
use crate::Result;

impl Figure {
    /// Bars with optional error bars (± `errors`).
    pub fn bars(
        title: &str,
        ylabel: &str,
        labels: &[String],
        values: &[f64],
        errors: Option<&[f64]>,
    ) -> Result<Figure> {
        let n = labels.len().min(values.len());
        let hi_v = (0..n)
            .map(|i| values[i] + errors.map(|e| e[i]).unwrap_or(0.0))
            .fold(f64::NEG_INFINITY, f64::max);
        let lo_v = (0..n)
            .map(|i| values[i] - errors.map(|e| e[i]).unwrap_or(0.0))
            .fold(0.0, f64::min);
        let hi_v = if hi_v.is_finite() { hi_v * 1.08 } else { 1.0 };
        Self::draw(560, 400, |root| {
            let mut chart = frame(&root, title, 60, 56)
                .build_cartesian_2d((0..n).into_segmented(), lo_v..hi_v)
                .map_err(perr)?;
            style_mesh(&mut chart.configure_mesh(), 12)
                .y_desc(ylabel)
                .x_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(i) if *i < n => labels[*i].clone(),
                    _ => String::new(),
                })
                .draw()
                .map_err(perr)?;
            chart
                .draw_series((0..n).map(|i| {
                    let mut r = Rectangle::new(
                        [
                            (SegmentValue::Exact(i), 0.0),
                            (SegmentValue::Exact(i + 1), values[i]),
                        ],
                        color(i).filled(),
                    );
                    r.set_margin(0, 0, 8, 8);
                    r
                }))
                .map_err(perr)?;
            if let Some(e) = errors {
                chart
                    .draw_series((0..n).map(|i| {
                        PathElement::new(
                            vec![
                                (SegmentValue::CenterOf(i), values[i] - e[i]),
                                (SegmentValue::CenterOf(i), values[i] + e[i]),
                            ],
                            BLACK.stroke_width(2),
                        )
                    }))
                    .map_err(perr)?;
            }
            Ok(())
        })
    }
}
