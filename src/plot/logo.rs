//! Sequence logos (information content or signed attributions).

use std::fmt::Write as _;

use super::{fmt_num, Figure, FONT};
use crate::fsio::xml;
use crate::{Error, Result};

impl Figure {
    /// A sequence logo of a position matrix (`len × 4`, order A C G T). With `information`,
    /// rows are probabilities and letter heights are scaled to information content (bits);
    /// otherwise values are drawn as signed heights (attribution logos), negatives below the axis.
    pub fn logo(title: &str, matrix: &[[f64; 4]], information: bool) -> Result<Figure> {
        let n = matrix.len();
        if n == 0 {
            return Err(Error::Input("logo of an empty matrix".into()));
        }
        const LET: [char; 4] = ['A', 'C', 'G', 'T'];
        const COL: [&str; 4] = ["#109648", "#255C99", "#F7B32B", "#D62839"];
        let heights: Vec<[f64; 4]> = matrix
            .iter()
            .map(|row| {
                if information {
                    let s: f64 = row.iter().map(|v| v.max(0.0)).sum::<f64>().max(1e-12);
                    let p: Vec<f64> = row.iter().map(|v| v.max(0.0) / s).collect();
                    let h: f64 = p.iter().filter(|&&x| x > 0.0).map(|&x| -x * x.log2()).sum();
                    let ic = (2.0 - h).max(0.0);
                    [p[0] * ic, p[1] * ic, p[2] * ic, p[3] * ic]
                } else {
                    *row
                }
            })
            .collect();
        let (ymax, ymin) = if information {
            (2.0, 0.0)
        } else {
            let hi = heights
                .iter()
                .map(|r| r.iter().filter(|v| **v > 0.0).sum::<f64>())
                .fold(0.0, f64::max);
            let lo = heights
                .iter()
                .map(|r| r.iter().filter(|v| **v < 0.0).sum::<f64>())
                .fold(0.0, f64::min);
            (hi.max(1e-9), lo)
        };
        let left = 56.0;
        let top = 36.0;
        let ph = 200.0;
        let cw = (800.0 / n as f64).clamp(4.0, 40.0);
        let w = (left + cw * n as f64 + 20.0) as u32;
        let h = (top + ph + 50.0) as u32;
        let scale = ph / (ymax - ymin);
        let y_of = |v: f64| top + (ymax - v) * scale;
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" font-family="{FONT}"><rect width="100%" height="100%" fill="white"/><text x="{}" y="22" font-size="16" text-anchor="middle">{}</text>"#,
            w as f64 / 2.0,
            xml(title)
        );
        for (i, row) in heights.iter().enumerate() {
            let x = left + i as f64 * cw;
            // positives stacked upward from 0 (smallest first), negatives downward
            let mut order: Vec<usize> = (0..4).collect();
            order.sort_by(|&a, &b| row[a].abs().total_cmp(&row[b].abs()));
            let (mut up, mut down) = (0.0f64, 0.0f64);
            for &b in &order {
                let v = row[b];
                if v.abs() * scale < 0.3 {
                    continue;
                }
                let (y0, y1) = if v > 0.0 {
                    let r = (up, up + v);
                    up += v;
                    r
                } else {
                    let r = (down + v, down);
                    down += v;
                    r
                };
                let (py_top, py_bot) = (y_of(y1), y_of(y0));
                let gh = py_bot - py_top;
                // a glyph of cap height ≈ 0.72 em, stretched to the box
                let sy = gh / 0.72 / 20.0;
                let sx = cw / 0.68 / 20.0;
                let _ = write!(
                    s,
                    r#"<text transform="translate({:.2} {:.2}) scale({sx:.4} {sy:.4})" font-size="20" font-weight="bold" fill="{}" font-family="monospace">{}</text>"#,
                    x + cw * 0.04,
                    py_bot,
                    COL[b],
                    LET[b]
                );
            }
        }
        // axes
        let _ = write!(
            s,
            r#"<line x1="{left}" y1="{top}" x2="{left}" y2="{:.1}" stroke="black"/><line x1="{left}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="black"/>"#,
            top + ph,
            y_of(0.0),
            left + cw * n as f64,
            y_of(0.0)
        );
        let ylab = if information { "bits" } else { "attribution" };
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text><text x="14" y="{:.1}" font-size="12" transform="rotate(-90 14 {:.1})" text-anchor="middle">{ylab}</text>"#,
            left - 4.0,
            top + 8.0,
            fmt_num(ymax),
            left - 4.0,
            top + ph,
            fmt_num(ymin),
            top + ph / 2.0,
            top + ph / 2.0
        );
        // Position ticks: the smallest 1-2-5 step whose labels (≈ 6 px per digit) do not touch.
        let label_px = n.to_string().len() as f64 * 6.2 + 8.0;
        let min_step = (label_px / cw).ceil().max(1.0) as usize;
        let step = [1usize, 2, 5]
            .iter()
            .flat_map(|&m| (0..7).map(move |e| m * 10usize.pow(e)))
            .filter(|&s| s >= min_step)
            .min()
            .unwrap_or(min_step);
        for i in (0..n).filter(|i| (i + 1) % step == 0 || (*i == 0 && step > 1)) {
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text>"#,
                left + (i as f64 + 0.5) * cw,
                top + ph + 16.0,
                i + 1
            );
        }
        s.push_str("</svg>");
        Ok(Figure::from_svg(s, w, h))
    }
}
