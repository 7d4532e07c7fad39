//! Line charts and the curves drawn as lines: ROC, precision–recall, and scatter plots.

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use super::{color, finite_range, frame, legend, perr, style_mesh, Figure, Series};
use crate::{Error, Result};

/// The body of [`Figure::lines`] for a linear or a logarithmic x axis.
fn line_chart<X>(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    (title, xlabel, ylabel): (&str, &str, &str),
    x_range: X,
    (y0, y1): (f64, f64),
    series: &[Series],
    markers: &[(f64, String)],
    keep_x: fn(f64) -> bool,
) -> Result<()>
where
    X: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = frame(root, title, 40, 56)
        .build_cartesian_2d(x_range, y0..y1)
        .map_err(perr)?;
    // integer x values (steps, counts) get integer labels, not "20.0"
    let xs = || {
        series
            .iter()
            .flat_map(|s| s.x.iter())
            .filter(|x| x.is_finite())
    };
    let span =
        xs().fold(f64::NEG_INFINITY, |a, &b| a.max(b)) - xs().fold(f64::INFINITY, |a, &b| a.min(b));
    let integer_x = span >= 5.0 && xs().all(|x| x.fract() == 0.0);
    let int_label = |v: &f64| format!("{v:.0}");
    let mut mesh = chart.configure_mesh();
    style_mesh(&mut mesh, 12).x_desc(xlabel).y_desc(ylabel);
    if integer_x {
        mesh.x_label_formatter(&int_label);
    }
    mesh.draw().map_err(perr)?;
    for (i, s) in series.iter().enumerate() {
        let c = color(i);
        let pts: Vec<(f64, f64)> =
            s.x.iter()
                .zip(&s.y)
                .filter(|(a, b)| keep_x(**a) && b.is_finite())
                .map(|(&a, &b)| (a, b))
                .collect();
        let drawn = chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))
            .map_err(perr)?;
        // a series without a name stays out of the legend
        if !s.name.is_empty() {
            drawn.label(s.name.clone()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2))
            });
        }
    }
    for (x, label) in markers {
        chart
            .draw_series(LineSeries::new(
                vec![(*x, y0), (*x, y1)],
                BLACK.stroke_width(1),
            ))
            .map_err(perr)?
            .label(label.clone())
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK));
    }
    legend(&mut chart, 12)
}

impl Figure {
    /// Line chart of one or more series, with optional vertical markers `(x, label)`
    /// (e.g. the LR finder's suggestion). Lines with `x` spanning decades over 1e3 use a log x axis.
    pub fn lines(
        title: &str,
        xlabel: &str,
        ylabel: &str,
        series: &[Series],
        markers: &[(f64, String)],
    ) -> Result<Figure> {
        let (x0, x1) = finite_range(series.iter().flat_map(|s| s.x.iter().copied()));
        let (y0, y1) = finite_range(series.iter().flat_map(|s| s.y.iter().copied()));
        let logx = x0 > 0.0 && x1 / x0 > 1e3;
        let labels = (title, xlabel, ylabel);
        Self::draw(640, 400, |root| {
            if logx {
                // points at x ≤ 0 cannot be drawn on a log axis
                line_chart(
                    &root,
                    labels,
                    (x0.max(1e-300)..x1).log_scale(),
                    (y0, y1),
                    series,
                    markers,
                    |x| x > 0.0,
                )
            } else {
                line_chart(
                    &root,
                    labels,
                    x0..x1,
                    (y0, y1),
                    series,
                    markers,
                    f64::is_finite,
                )
            }
        })
    }

    /// ROC curves, one per `(name, scores, labels)` (higher score = positive), with the AUROC
    /// in each legend entry and the chance diagonal.
    ///
    /// ```
    /// # use genolm::plot::Figure;
    /// let fig = Figure::roc("Promoters", &[("model".into(), vec![0.9, 0.7, 0.4, 0.2], vec![true, true, false, true])])?;
    /// assert!(fig.svg().contains("AUROC 0.67"));
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn roc(title: &str, curves: &[(String, Vec<f64>, Vec<bool>)]) -> Result<Figure> {
        let mut series = Vec::new();
        for (name, scores, labels) in curves {
            let pts = crate::stats::roc_curve(scores, labels);
            if pts.is_empty() {
                return Err(Error::Input(format!(
                    "ROC curve '{name}' needs both positive and negative examples"
                )));
            }
            let auc = crate::stats::auroc(scores, labels);
            series.push(Series::from_points(
                format!("{name} (AUROC {auc:.2})"),
                &pts,
            ));
        }
        series.push(Series::new("chance", vec![0.0, 1.0], vec![0.0, 1.0]));
        Self::lines(
            title,
            "false positive rate",
            "true positive rate",
            &series,
            &[],
        )
    }

    /// Precision–recall curves, one per `(name, scores, labels)`, with the average precision in
    /// each legend entry and each set's prevalence (the precision of a random ranking).
    ///
    /// ```
    /// # use genolm::plot::Figure;
    /// let fig = Figure::pr("Promoters", &[("model".into(), vec![0.9, 0.7, 0.4, 0.2], vec![true, true, false, true])])?;
    /// assert!(fig.svg().contains("AP "));
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn pr(title: &str, curves: &[(String, Vec<f64>, Vec<bool>)]) -> Result<Figure> {
        let mut series = Vec::new();
        let mut chance = Vec::new();
        for (name, scores, labels) in curves {
            let pts = crate::stats::pr_curve(scores, labels);
            if pts.is_empty() {
                return Err(Error::Input(format!(
                    "precision–recall curve '{name}' needs at least one positive example"
                )));
            }
            let ap = crate::stats::auprc(scores, labels);
            let prev = labels.iter().filter(|&&l| l).count() as f64 / labels.len() as f64;
            series.push(Series::from_points(format!("{name} (AP {ap:.2})"), &pts));
            chance.push(Series::new(
                format!("{name} prevalence {prev:.2}"),
                vec![0.0, 1.0],
                vec![prev, prev],
            ));
        }
        series.extend(chance);
        Self::lines(title, "recall", "precision", &series, &[])
    }

    /// Scatter plot coloured by `labels` (one colour and legend entry per distinct label).
    pub fn scatter(
        title: &str,
        xlabel: &str,
        ylabel: &str,
        points: &[(f64, f64)],
        labels: &[String],
    ) -> Result<Figure> {
        let (x0, x1) = finite_range(points.iter().map(|p| p.0));
        let (y0, y1) = finite_range(points.iter().map(|p| p.1));
        let mut classes: Vec<&String> = labels.iter().collect();
        classes.sort();
        classes.dedup();
        Self::draw(560, 460, |root| {
            let mut chart = frame(&root, title, 40, 56)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(perr)?;
            style_mesh(&mut chart.configure_mesh(), 12)
                .x_desc(xlabel)
                .y_desc(ylabel)
                .draw()
                .map_err(perr)?;
            for (ci, cl) in classes.iter().enumerate() {
                let c = color(ci);
                let pts: Vec<(f64, f64)> = points
                    .iter()
                    .zip(labels)
                    .filter(|(_, l)| l == cl)
                    .map(|(p, _)| *p)
                    .collect();
                chart
                    .draw_series(
                        pts.into_iter()
                            .map(|p| Circle::new(p, 3, c.mix(0.75).filled())),
                    )
                    .map_err(perr)?
                    .label((*cl).clone())
                    .legend(move |(x, y)| Circle::new((x + 6, y), 4, c.filled()));
            }
            if !labels.is_empty() {
                legend(&mut chart, 12)?;
            }
            Ok(())
        })
    }
}
