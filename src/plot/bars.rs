//! Bar charts with error bars, and dot plots comparing a few values per category.

use plotters::coord::ranged1d::SegmentedCoord;
use plotters::coord::types::{RangedCoordf64, RangedCoordusize};
use plotters::prelude::*;

use super::{color, frame, legend, perr, style_mesh, Figure, FONT};
use crate::Result;

/// Left margin that fits the longest of `labels` at `font_size` (≈ 0.6 em per character).
fn label_width(labels: &[String], font_size: u32) -> u32 {
    let chars = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u32;
    (chars * font_size * 6 / 10 + 16).clamp(60, 360)
}

/// The axes of a chart with one row per label (the first label on top) and values along x.
fn row_axes<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, SegmentedCoord<RangedCoordusize>>>,
    xlabel: &str,
    labels: &[String],
) -> Result<()> {
    let n = labels.len();
    style_mesh(&mut chart.configure_mesh(), 12)
        .x_desc(xlabel)
        .y_labels(n + 1)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) if *i < n => labels[n - 1 - *i].clone(),
            _ => String::new(),
        })
        .draw()
        .map_err(perr)
}

impl Figure {
    /// A dot plot (Cleveland): one row per label, one coloured dot per series, and an optional
    /// dashed vertical reference line. Values need not start at zero, which suits losses that
    /// differ in the second decimal (bars from zero would hide the differences).
    ///
    /// ```
    /// use genolm::plot::Figure;
    /// let labels = vec!["PRO".to_string(), "EUK".to_string()];
    /// let fig = Figure::dots(
    ///     "held-out loss",
    ///     "nats per token",
    ///     &labels,
    ///     &[("model".into(), vec![1.296, 1.340]), ("Markov".into(), vec![1.317, 1.355])],
    ///     Some(("ln 4", 4f64.ln())),
    /// )?;
    /// assert!(fig.svg().contains("Markov") && fig.svg().contains("ln 4"));
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn dots(
        title: &str,
        xlabel: &str,
        labels: &[String],
        series: &[(String, Vec<f64>)],
        reference: Option<(&str, f64)>,
    ) -> Result<Figure> {
        let n = labels.len();
        let vals = series
            .iter()
            .flat_map(|(_, v)| v.iter().copied())
            .chain(reference.map(|r| r.1))
            .filter(|v| v.is_finite());
        let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let (lo, hi) = if lo.is_finite() && hi > lo {
            let pad = (hi - lo) * 0.08;
            (lo - pad, hi + pad)
        } else {
            (0.0, 1.0)
        };
        let left = label_width(labels, 12);
        let height = (90 + 26 * n as u32).max(220);
        Self::draw(560 + left.saturating_sub(100), height, |root| {
            let mut chart = frame(&root, title, 44, left)
                .build_cartesian_2d(lo..hi, (0..n).into_segmented())
                .map_err(perr)?;
            row_axes(&mut chart, xlabel, labels)?;
            if let Some((name, x)) = reference {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(x, SegmentValue::Exact(0)), (x, SegmentValue::Exact(n))],
                        BLACK.mix(0.6).stroke_width(1),
                    )))
                    .map_err(perr)?
                    .label(name.to_string())
                    .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK.mix(0.6)));
                chart
                    .draw_series(std::iter::once(Text::new(
                        name.to_string(),
                        (x, SegmentValue::Exact(n)),
                        (FONT, 11).into_font().color(&BLACK.mix(0.6)),
                    )))
                    .map_err(perr)?;
            }
            for (j, (name, v)) in series.iter().enumerate() {
                let c = color(j);
                chart
                    .draw_series(v.iter().enumerate().filter(|(_, y)| y.is_finite()).map(
                        |(i, &y)| {
                            Circle::new((y, SegmentValue::CenterOf(n - 1 - i)), 5, c.filled())
                        },
                    ))
                    .map_err(perr)?
                    .label(name.clone())
                    .legend(move |(x, y)| Circle::new((x + 8, y), 5, c.filled()));
            }
            legend(&mut chart, 11)
        })
    }

    /// Bars with optional error bars (± `errors`). With more than six bars or long labels the
    /// bars lie horizontally, so that every label is written in full.
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
        let long = labels.iter().map(|l| l.chars().count()).sum::<usize>() > 60;
        if n > 6 || long {
            return Self::hbars(
                title,
                ylabel,
                &labels[..n],
                &values[..n],
                errors,
                lo_v..hi_v,
            );
        }
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

    fn hbars(
        title: &str,
        xlabel: &str,
        labels: &[String],
        values: &[f64],
        errors: Option<&[f64]>,
        range: std::ops::Range<f64>,
    ) -> Result<Figure> {
        let n = labels.len();
        let left = label_width(labels, 12);
        let height = (90 + 24 * n as u32).max(220);
        Self::draw(560 + left.saturating_sub(100), height, |root| {
            let mut chart = frame(&root, title, 44, left)
                .build_cartesian_2d(range.clone(), (0..n).into_segmented())
                .map_err(perr)?;
            row_axes(&mut chart, xlabel, labels)?;
            chart
                .draw_series((0..n).map(|i| {
                    let row = n - 1 - i;
                    let mut r = Rectangle::new(
                        [
                            (0.0, SegmentValue::Exact(row)),
                            (values[i], SegmentValue::Exact(row + 1)),
                        ],
                        color(i).filled(),
                    );
                    r.set_margin(4, 4, 0, 0);
                    r
                }))
                .map_err(perr)?;
            if let Some(e) = errors {
                chart
                    .draw_series((0..n).map(|i| {
                        let row = SegmentValue::CenterOf(n - 1 - i);
                        PathElement::new(
                            vec![(values[i] - e[i], row.clone()), (values[i] + e[i], row)],
                            BLACK.stroke_width(2),
                        )
                    }))
                    .map_err(perr)?;
            }
            Ok(())
        })
    }
}
