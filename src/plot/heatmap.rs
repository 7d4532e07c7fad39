//! Heatmaps with a colour bar.

use std::fmt::Write as _;

use plotters::prelude::RGBColor;

use super::{diverging, finite_extent, fmt_num, hex, sequential, Figure, FONT};
use crate::fsio::xml;
use crate::{Error, Result};

impl Figure {
    /// Heatmap of `values` (`rows × cols`, row-major) with row/column labels and a colour bar.
    /// `diverging` centres a blue–white–red map on zero; otherwise a viridis-like map spans the range.
    /// Long label lists are thinned so ticks stay readable.
    pub fn heatmap(
        title: &str,
        row_labels: &[String],
        col_labels: &[String],
        values: &[f64],
        colorbar_label: &str,
        diverging_map: bool,
    ) -> Result<Figure> {
        let (nr, nc) = (row_labels.len(), col_labels.len());
        if values.len() != nr * nc || nr == 0 || nc == 0 {
            return Err(Error::Shape(format!(
                "heatmap: {} values for {nr} × {nc} cells",
                values.len()
            )));
        }
        // the colour scale spans the data exactly (no axis margin)
        let (lo, hi) = finite_extent(values.iter().copied());
        let m = lo.abs().max(hi.abs()).max(1e-12);
        let col_of = |v: f64| -> RGBColor {
            if !v.is_finite() {
                RGBColor(200, 200, 200)
            } else if diverging_map {
                diverging(v / m)
            } else {
                sequential((v - lo) / (hi - lo))
            }
        };
        let left = 110.0;
        let top = 40.0;
        let bottom = 90.0;
        let cell_w = (560.0 / nc as f64).clamp(1.0, 40.0);
        let cell_h = (420.0 / nr as f64).clamp(1.0, 28.0);
        let w = (left + cell_w * nc as f64 + 100.0) as u32;
        let h = (top + cell_h * nr as f64 + bottom) as u32;
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{FONT}"><rect width="100%" height="100%" fill="white"/>"#
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="22" font-size="16" text-anchor="middle">{}</text>"#,
            w as f64 / 2.0,
            xml(title)
        );
        for r in 0..nr {
            for c in 0..nc {
                let v = values[r * nc + c];
                let _ = write!(
                    s,
                    r#"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="{}"><title>{} / {}: {:.4}</title></rect>"#,
                    left + c as f64 * cell_w,
                    top + r as f64 * cell_h,
                    cell_w + 0.05,
                    cell_h + 0.05,
                    hex(col_of(v)),
                    xml(&row_labels[r]),
                    xml(&col_labels[c]),
                    v
                );
            }
        }
        let rstep = (nr as f64 / 40.0).ceil().max(1.0) as usize;
        for (r, l) in row_labels.iter().enumerate().step_by(rstep) {
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="end" dominant-baseline="middle">{}</text>"#,
                left - 4.0,
                top + (r as f64 + 0.5) * cell_h,
                xml(l)
            );
        }
        let cstep = (nc as f64 / 60.0).ceil().max(1.0) as usize;
        for (c, l) in col_labels.iter().enumerate().step_by(cstep) {
            let x = left + (c as f64 + 0.5) * cell_w;
            let y = top + nr as f64 * cell_h + 6.0;
            let _ = write!(
                s,
                r#"<text x="{x:.1}" y="{y:.1}" font-size="10" text-anchor="end" transform="rotate(-60 {x:.1} {y:.1})">{}</text>"#,
                xml(l)
            );
        }
        // colour bar
        let bx = left + cell_w * nc as f64 + 24.0;
        let bh = (cell_h * nr as f64).max(60.0);
        for i in 0..50 {
            let t = 1.0 - i as f64 / 49.0;
            let v = if diverging_map {
                -m + 2.0 * m * t
            } else {
                lo + (hi - lo) * t
            };
            let _ = write!(
                s,
                r#"<rect x="{bx:.1}" y="{:.2}" width="14" height="{:.2}" fill="{}"/>"#,
                top + bh * i as f64 / 50.0,
                bh / 50.0 + 0.5,
                hex(col_of(v))
            );
        }
        let (vtop, vbot) = if diverging_map { (m, -m) } else { (hi, lo) };
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="10">{}</text><text x="{:.1}" y="{:.1}" font-size="10">{}</text><text x="{:.1}" y="{:.1}" font-size="11" transform="rotate(90 {:.1} {:.1})">{}</text></svg>"#,
            bx + 18.0,
            top + 8.0,
            fmt_num(vtop),
            bx + 18.0,
            top + bh,
            fmt_num(vbot),
            bx + 52.0,
            top + bh / 2.0 - 30.0,
            bx + 52.0,
            top + bh / 2.0 - 30.0,
            xml(colorbar_label)
        );
        Ok(Figure::from_svg(s, w, h))
    }
}
