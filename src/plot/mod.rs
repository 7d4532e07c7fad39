//! Figures for notebooks and manuscripts: one [`Figure`] type (SVG, drawn with plotters or
//! directly), displayed inline in evcxr and saved to files, with one manuscript style
//! (sans-serif 8–10 pt, the Okabe–Ito colour-blind-safe palette, sizes in inches).
//!
//! ```
//! use genolm::plot::{Figure, Series};
//! let fig = Figure::lines("Loss", "step", "loss",
//!     &[Series::new("train", vec![0.0, 1.0, 2.0], vec![1.4, 1.3, 1.25])], &[])?;
//! assert!(fig.svg().starts_with("<svg"));
//! # Ok::<(), genolm::Error>(())
//! ```

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;

use crate::{Error, Result};

pub use curves::TrainingCurves;

mod bars;
mod curves;
mod heatmap;
mod lines;
mod logo;
mod png;
#[cfg(test)]
mod tests;
mod track;

/// Okabe–Ito palette (colour-blind safe), in drawing order.
pub const PALETTE: [(u8, u8, u8); 8] = [
    (0, 114, 178),
    (213, 94, 0),
    (0, 158, 115),
    (230, 159, 0),
    (86, 180, 233),
    (204, 121, 167),
    (240, 228, 66),
    (0, 0, 0),
];

/// Colour of series `i`.
pub fn color(i: usize) -> RGBColor {
    let (r, g, b) = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

pub(crate) fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// Pixels per inch of the SVG canvas (CSS pixels).
pub const PX_PER_INCH: f64 = 96.0;

/// An SVG figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    svg: String,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    inches: Option<(f64, f64)>,
}

/// One line of a line chart.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend label.
    pub name: String,
    /// x values.
    pub x: Vec<f64>,
    /// y values.
    pub y: Vec<f64>,
}

impl Series {
    /// A named series.
    pub fn new(name: impl Into<String>, x: Vec<f64>, y: Vec<f64>) -> Self {
        Self {
            name: name.into(),
            x,
            y,
        }
    }

    /// A named series from `(x, y)` points.
    ///
    /// ```
    /// let s = genolm::plot::Series::from_points("roc", &[(0.0, 0.0), (1.0, 1.0)]);
    /// assert_eq!((s.x, s.y), (vec![0.0, 1.0], vec![0.0, 1.0]));
    /// ```
    pub fn from_points(name: impl Into<String>, points: &[(f64, f64)]) -> Self {
        Self::new(
            name,
            points.iter().map(|p| p.0).collect(),
            points.iter().map(|p| p.1).collect(),
        )
    }
}

/// A feature box drawn beneath a genome track.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackFeature {
    /// 0-based start.
    pub start: usize,
    /// 0-based exclusive end.
    pub end: usize,
    /// +1 forward, −1 reverse, 0 unknown.
    pub strand: i8,
    /// Label (gene name or kind).
    pub label: String,
}

/// Centred moving mean over `window` values (shrinking at the ends; non-finite values are
/// skipped), for plotting per-base or per-token signals along a genome.
///
/// ```
/// let m = genolm::plot::moving_mean(&[1.0, 2.0, 3.0, f64::NAN, 5.0], 3);
/// assert_eq!(m[1], 2.0);
/// assert_eq!(m[3], 4.0);
/// ```
pub fn moving_mean(values: &[f64], window: usize) -> Vec<f64> {
    let half = window.max(1) / 2;
    let mut sum = vec![0.0; values.len() + 1];
    let mut cnt = vec![0usize; values.len() + 1];
    for (i, &v) in values.iter().enumerate() {
        let ok = v.is_finite();
        sum[i + 1] = sum[i] + if ok { v } else { 0.0 };
        cnt[i + 1] = cnt[i] + ok as usize;
    }
    (0..values.len())
        .map(|i| {
            let (a, b) = (i.saturating_sub(half), (i + half + 1).min(values.len()));
            let n = cnt[b] - cnt[a];
            if n == 0 {
                f64::NAN
            } else {
                (sum[b] - sum[a]) / n as f64
            }
        })
        .collect()
}

/// Position of attribute `name=` in a tag (not as the tail of another name such as `stroke-width`).
fn find_attr(tag: &str, name: &str) -> Option<usize> {
    let pat = format!("{name}=");
    let mut from = 0;
    while let Some(i) = tag[from..].find(&pat) {
        let at = from + i;
        if at > 0 && tag.as_bytes()[at - 1].is_ascii_whitespace() {
            return Some(at);
        }
        from = at + pat.len();
    }
    None
}

pub(crate) fn perr<E: std::fmt::Debug>(e: E) -> Error {
    Error::Input(format!("drawing failed: {e:?}"))
}

pub(crate) fn finite_range(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = finite_extent(v);
    let pad = (hi - lo) * 0.04;
    (lo - pad, hi + pad)
}

/// The smallest and largest finite values, without [`finite_range`]'s margin: a colour scale
/// spans the data, so a non-negative quantity's colour bar does not start below zero. `(0, 1)`
/// when nothing is finite, `x ± 0.5` when every value is `x`.
pub(crate) fn finite_extent(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for x in v.filter(|x| x.is_finite()) {
        lo = lo.min(x);
        hi = hi.max(x);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 {
        return (lo - 0.5, hi + 0.5);
    }
    (lo, hi)
}

/// Viridis-like sequential colour map on `[0, 1]`.
pub fn sequential(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 5] = [
        (68.0, 1.0, 84.0),
        (59.0, 82.0, 139.0),
        (33.0, 145.0, 140.0),
        (94.0, 201.0, 98.0),
        (253.0, 231.0, 37.0),
    ];
    interp(&STOPS, t)
}

/// Blue–white–red diverging colour map on `[-1, 1]`.
pub fn diverging(t: f64) -> RGBColor {
    const STOPS: [(f64, f64, f64); 3] = [
        (33.0, 102.0, 172.0),
        (247.0, 247.0, 247.0),
        (178.0, 24.0, 43.0),
    ];
    interp(&STOPS, (t + 1.0) / 2.0)
}

fn interp(stops: &[(f64, f64, f64)], t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (stops.len() - 1) as f64;
    let i = (x.floor() as usize).min(stops.len() - 2);
    let f = x - i as f64;
    let a = stops[i];
    let b = stops[i + 1];
    RGBColor(
        (a.0 + (b.0 - a.0) * f) as u8,
        (a.1 + (b.1 - a.1) * f) as u8,
        (a.2 + (b.2 - a.2) * f) as u8,
    )
}

pub(crate) const FONT: &str = "sans-serif";

/// The house frame of a plotters chart: the title, margins and label areas every chart uses.
pub(crate) fn frame<'a, 'b, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    x_area: u32,
    y_area: u32,
) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(root);
    b.caption(title, (FONT, 18))
        .margin(12)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area);
    b
}

/// The house axis style: labels in the house font, no minor grid lines.
pub(crate) fn style_mesh<'a, 'b, 'm, X, Y, DB>(
    mesh: &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, DB>,
    font_size: u32,
) -> &'m mut plotters::chart::MeshStyle<'a, 'b, X, Y, DB>
where
    X: plotters::coord::ranged1d::Ranged,
    Y: plotters::coord::ranged1d::Ranged,
    DB: DrawingBackend,
{
    mesh.label_style((FONT, font_size))
        .light_line_style(WHITE.mix(0.0))
}

/// The house legend: top right, on a translucent white box.
pub(crate) fn legend<'a, DB, CT>(chart: &mut ChartContext<'a, DB, CT>, font_size: u32) -> Result<()>
where
    DB: DrawingBackend + 'a,
    CT: plotters::coord::CoordTranslate,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, font_size))
        .draw()
        .map_err(perr)
}

impl Figure {
    /// A figure from SVG text.
    pub fn from_svg(svg: String, width: u32, height: u32) -> Self {
        Self {
            svg,
            width,
            height,
            inches: None,
        }
    }

    /// The SVG document.
    pub fn svg(&self) -> &str {
        &self.svg
    }

    /// Printed size in inches: as set by [`Figure::with_size_inches`], else 96 px per inch.
    pub fn size_inches(&self) -> (f64, f64) {
        if let Some(s) = self.inches {
            return s;
        }
        (
            self.width as f64 / PX_PER_INCH,
            self.height as f64 / PX_PER_INCH,
        )
    }

    /// Save atomically: PNG at 300 dpi when the path ends in `.png`, SVG otherwise.
    ///
    /// ```
    /// # use genolm::plot::Figure;
    /// let fig = Figure::bars("Counts", "n", &["A".into(), "C".into()], &[3.0, 5.0], None)?;
    /// let dir = tempfile::tempdir().unwrap();
    /// fig.save(dir.path().join("counts.svg"))?;
    /// fig.save(dir.path().join("counts.png"))?;
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let is_png = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("png"));
        if is_png {
            self.save_png(path, 300.0)
        } else {
            crate::fsio::atomic_write(path, self.svg.as_bytes())
        }
    }

    /// Set the printed size in inches (journal column widths: 3.35–3.5 in single, 7 in double).
    /// The drawing is scaled, not redrawn: the SVG keeps its coordinates and gets physical
    /// `width`/`height`, and [`Figure::png`] renders at that size. Text scales with the figure,
    /// so pick a size near the drawing's own ([`Figure::size_inches`]) to keep 8–10 pt labels.
    ///
    /// ```
    /// # use genolm::plot::Figure;
    /// let fig = Figure::bars("Counts", "n", &["A".into()], &[3.0], None)?.with_size_inches(3.5, 2.5);
    /// assert!(fig.svg().contains(r#"width="3.5in""#));
    /// assert_eq!(fig.png(300.0)?.len() > 0, true);
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn with_size_inches(mut self, width: f64, height: f64) -> Self {
        if !(width > 0.0 && height > 0.0 && width.is_finite() && height.is_finite()) {
            return self;
        }
        if let Some(end) = self.svg.find('>') {
            let head = &self.svg[..end];
            let mut tag = String::new();
            let mut rest = head;
            // drop the root's own width/height and add physical ones and a viewBox
            for attr in ["width", "height"] {
                if let Some(i) = find_attr(rest, attr) {
                    let after = &rest[i..];
                    if let Some(q1) = after.find('"') {
                        if let Some(q2) = after[q1 + 1..].find('"') {
                            tag.push_str(&rest[..i]);
                            rest = &after[q1 + q2 + 2..];
                            continue;
                        }
                    }
                }
            }
            tag.push_str(rest);
            let mut tag = tag.trim_end().to_string();
            if !tag.contains("viewBox") {
                let _ = write!(tag, r#" viewBox="0 0 {} {}""#, self.width, self.height);
            }
            let _ = write!(tag, r#" width="{width}in" height="{height}in""#);
            self.svg = format!("{tag}{}", &self.svg[end..]);
        }
        self.inches = Some((width, height));
        self
    }

    /// evcxr inline display (`image/svg+xml`).
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT image/svg+xml\n{}\nEVCXR_END_CONTENT",
            self.svg
        );
    }

    pub(crate) fn draw<F>(w: u32, h: u32, f: F) -> Result<Figure>
    where
        F: FnOnce(DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> Result<()>,
    {
        let mut s = String::new();
        {
            let root = SVGBackend::with_string(&mut s, (w, h)).into_drawing_area();
            root.fill(&WHITE).map_err(perr)?;
            f(root.clone())?;
            root.present().map_err(perr)?;
        }
        Ok(Figure::from_svg(s, w, h))
    }
}

pub(crate) fn fmt_num(v: f64) -> String {
    if v.abs() >= 1000.0 || (v != 0.0 && v.abs() < 0.01) {
        format!("{v:.2e}")
    } else {
        format!("{v:.2}")
    }
}
