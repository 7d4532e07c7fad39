//! Genome tracks: signals along positions above feature boxes.

use plotters::prelude::*;

use super::{color, finite_range, frame, legend, perr, style_mesh, Figure, TrackFeature};
use crate::Result;

impl Figure {
    /// A genome track: one line per signal along `positions`, with feature boxes beneath
    /// (forward strand above the axis line, reverse below).
    pub fn track(
        title: &str,
        positions: &[f64],
        signals: &[(String, Vec<f64>)],
        features: &[TrackFeature],
    ) -> Result<Figure> {
        let (x0, x1) = finite_range(positions.iter().copied());
        let (y0, y1) = finite_range(signals.iter().flat_map(|s| s.1.iter().copied()));
        Self::draw(900, 420, |root| {
            let (upper, lower) = root.split_vertically(330);
            let mut chart = frame(&upper, title, 24, 56)
                .margin(10)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(perr)?;
            style_mesh(&mut chart.configure_mesh(), 11)
                .y_desc("activation")
                .x_label_formatter(&|v| format!("{v:.0}"))
                .draw()
                .map_err(perr)?;
            for (i, (name, v)) in signals.iter().enumerate() {
                let c = color(i);
                chart
                    .draw_series(LineSeries::new(
                        positions
                            .iter()
                            .copied()
                            .zip(v.iter().copied())
                            .filter(|p| p.1.is_finite()),
                        c.stroke_width(1),
                    ))
                    .map_err(perr)?
                    .label(name.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
                    });
            }
            legend(&mut chart, 11)?;
            let mut gchart = ChartBuilder::on(&lower)
                .margin_left(10)
                .margin_right(10)
                .x_label_area_size(30)
                .y_label_area_size(56)
                .build_cartesian_2d(x0..x1, -1.5f64..1.5f64)
                .map_err(perr)?;
            style_mesh(&mut gchart.configure_mesh(), 11)
                .disable_y_mesh()
                .disable_y_axis()
                .x_desc("position (bp)")
                .x_label_formatter(&|v| format!("{v:.0}"))
                .draw()
                .map_err(perr)?;
            gchart
                .draw_series(LineSeries::new(vec![(x0, 0.0), (x1, 0.0)], BLACK.mix(0.4)))
                .map_err(perr)?;
            let vis = features
                .iter()
                .filter(|f| (f.end as f64) > x0 && (f.start as f64) < x1);
            gchart
                .draw_series(vis.map(|f| {
                    let (a, b) = if f.strand < 0 {
                        (-1.2, -0.15)
                    } else {
                        (0.15, 1.2)
                    };
                    let c = if f.strand < 0 { color(1) } else { color(0) };
                    Rectangle::new(
                        [((f.start as f64).max(x0), a), ((f.end as f64).min(x1), b)],
                        c.mix(0.7).filled(),
                    )
                }))
                .map_err(perr)?;
            Ok(())
        })
    }
}
