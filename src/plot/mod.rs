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

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use crate::{Error, Result};

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

fn hex(c: RGBColor) -> String {
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

impl TrackFeature {
    /// One box per segment of every CDS in `features` (spliced genes give several boxes),
    /// labelled by gene name, for [`Figure::track`] and activation tracks.
    ///
    /// ```
    /// use genolm::prelude::*;
    /// let corpus = Corpus::embedded()?;
    /// let phix = &corpus.genomes[corpus.index_of("phiX174").unwrap()];
    /// let boxes = TrackFeature::cds(phix.contigs[0].features.as_deref().unwrap_or(&[]));
    /// assert!(boxes.len() >= 10);
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn cds(features: &[crate::data::annotation::Feature]) -> Vec<TrackFeature> {
        features
            .iter()
            .filter(|f| f.is_cds())
            .flat_map(|f| {
                f.segments.iter().map(move |sg| TrackFeature {
                    start: sg.start,
                    end: sg.end,
                    strand: match sg.strand {
                        crate::data::annotation::Strand::Reverse => -1,
                        _ => 1,
                    },
                    label: f.name.clone().unwrap_or_else(|| f.kind.clone()),
                })
            })
            .collect()
    }
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

/// The embedded fonts used for PNG export (DejaVu Sans, Bold, Oblique and Mono), loaded once.
fn raster_fonts() -> std::sync::Arc<resvg::usvg::fontdb::Database> {
    static DB: std::sync::OnceLock<std::sync::Arc<resvg::usvg::fontdb::Database>> =
        std::sync::OnceLock::new();
    DB.get_or_init(|| {
        let mut db = resvg::usvg::fontdb::Database::new();
        for f in [
            dejavu::sans::regular(),
            dejavu::sans::bold(),
            dejavu::sans::oblique(),
            dejavu::sans::bold_oblique(),
            dejavu::sans_mono::regular(),
        ] {
            db.load_font_data(f.to_vec());
        }
        db.set_sans_serif_family("DejaVu Sans");
        db.set_serif_family("DejaVu Sans");
        db.set_monospace_family("DejaVu Sans Mono");
        std::sync::Arc::new(db)
    })
    .clone()
}

fn perr<E: std::fmt::Debug>(e: E) -> Error {
    Error::Input(format!("drawing failed: {e:?}"))
}

fn finite_range(v: impl Iterator<Item = f64>) -> (f64, f64) {
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
    let pad = (hi - lo) * 0.04;
    (lo - pad, hi + pad)
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

const FONT: &str = "sans-serif";

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
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 18))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(x_range, y0..y1)
        .map_err(perr)?;
    chart
        .configure_mesh()
        .x_desc(xlabel)
        .y_desc(ylabel)
        .label_style((FONT, 12))
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(perr)?;
    for (i, s) in series.iter().enumerate() {
        let c = color(i);
        let pts: Vec<(f64, f64)> =
            s.x.iter()
                .zip(&s.y)
                .filter(|(a, b)| keep_x(**a) && b.is_finite())
                .map(|(&a, &b)| (a, b))
                .collect();
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))
            .map_err(perr)?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], c.stroke_width(2)));
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
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 12))
        .draw()
        .map_err(perr)?;
    Ok(())
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
            crate::models::params::atomic_write(path, self.svg.as_bytes())
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

    /// Rasterise to PNG at `dpi` dots per inch (300 for journals, 96 for screens), with the
    /// embedded DejaVu Sans font so the result is the same on machines without system fonts.
    ///
    /// ```
    /// # use genolm::plot::{Figure, Series};
    /// let fig = Figure::lines("Loss", "step", "loss", &[Series::new("train", vec![0.0, 1.0], vec![1.4, 1.3])], &[])?;
    /// let png = fig.png(96.0)?;
    /// assert_eq!(&png[1..4], b"PNG");
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn png(&self, dpi: f64) -> Result<Vec<u8>> {
        use resvg::{tiny_skia, usvg};
        if !(dpi > 0.0 && dpi.is_finite()) {
            return Err(Error::Input(format!(
                "PNG resolution must be positive, got {dpi} dpi"
            )));
        }
        let (w_in, h_in) = self.size_inches();
        let (wp, hp) = ((w_in * dpi).round(), (h_in * dpi).round());
        if wp < 1.0 || hp < 1.0 || wp * hp > 2.5e8 {
            return Err(Error::Input(format!(
                "PNG of {wp}×{hp} pixels is out of range (figure {w_in:.2}×{h_in:.2} in at {dpi} dpi)"
            )));
        }
        let mut opt = usvg::Options {
            font_family: "DejaVu Sans".into(),
            ..usvg::Options::default()
        };
        opt.fontdb = raster_fonts();
        let tree = usvg::Tree::from_str(&self.svg, &opt)
            .map_err(|e| Error::Input(format!("figure SVG could not be parsed for PNG: {e}")))?;
        let mut pixmap = tiny_skia::Pixmap::new(wp as u32, hp as u32)
            .ok_or_else(|| Error::Input("PNG canvas could not be allocated".into()))?;
        pixmap.fill(tiny_skia::Color::WHITE);
        let size = tree.size();
        let transform =
            tiny_skia::Transform::from_scale(wp as f32 / size.width(), hp as f32 / size.height());
        resvg::render(&tree, transform, &mut pixmap.as_mut());
        pixmap
            .encode_png()
            .map_err(|e| Error::Input(format!("PNG encoding failed: {e}")))
    }

    /// Save as PNG at `dpi` (atomically).
    pub fn save_png(&self, path: impl AsRef<Path>, dpi: f64) -> Result<()> {
        let png = self.png(dpi)?;
        crate::models::params::atomic_write(path.as_ref(), &png)
    }

    /// evcxr inline display (`image/svg+xml`).
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT image/svg+xml\n{}\nEVCXR_END_CONTENT",
            self.svg
        );
    }

    fn draw<F>(w: u32, h: u32, f: F) -> Result<Figure>
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
            let pts = crate::train::metrics::roc_curve(scores, labels);
            if pts.is_empty() {
                return Err(Error::Input(format!(
                    "ROC curve '{name}' needs both positive and negative examples"
                )));
            }
            let auc = crate::train::metrics::auroc(scores, labels);
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
            let pts = crate::train::metrics::pr_curve(scores, labels);
            if pts.is_empty() {
                return Err(Error::Input(format!(
                    "precision–recall curve '{name}' needs at least one positive example"
                )));
            }
            let ap = crate::train::metrics::auprc(scores, labels);
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
        let (lo, hi) = {
            let (a, b) = finite_range(values.iter().copied());
            (a, b)
        };
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
            let mut chart = ChartBuilder::on(&root)
                .caption(title, (FONT, 18))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(56)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(perr)?;
            chart
                .configure_mesh()
                .x_desc(xlabel)
                .y_desc(ylabel)
                .label_style((FONT, 12))
                .light_line_style(WHITE.mix(0.0))
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
                chart
                    .configure_series_labels()
                    .background_style(WHITE.mix(0.8))
                    .border_style(BLACK.mix(0.3))
                    .label_font((FONT, 12))
                    .draw()
                    .map_err(perr)?;
            }
            Ok(())
        })
    }

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
            let mut chart = ChartBuilder::on(&root)
                .caption(title, (FONT, 18))
                .margin(12)
                .x_label_area_size(60)
                .y_label_area_size(56)
                .build_cartesian_2d((0..n).into_segmented(), lo_v..hi_v)
                .map_err(perr)?;
            chart
                .configure_mesh()
                .y_desc(ylabel)
                .x_label_formatter(&|v| match v {
                    SegmentValue::CenterOf(i) if *i < n => labels[*i].clone(),
                    _ => String::new(),
                })
                .label_style((FONT, 12))
                .light_line_style(WHITE.mix(0.0))
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
            let mut chart = ChartBuilder::on(&upper)
                .caption(title, (FONT, 18))
                .margin(10)
                .x_label_area_size(24)
                .y_label_area_size(56)
                .build_cartesian_2d(x0..x1, y0..y1)
                .map_err(perr)?;
            chart
                .configure_mesh()
                .y_desc("activation")
                .x_label_formatter(&|v| format!("{v:.0}"))
                .label_style((FONT, 11))
                .light_line_style(WHITE.mix(0.0))
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
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK.mix(0.3))
                .label_font((FONT, 11))
                .draw()
                .map_err(perr)?;
            let mut gchart = ChartBuilder::on(&lower)
                .margin_left(10)
                .margin_right(10)
                .x_label_area_size(30)
                .y_label_area_size(56)
                .build_cartesian_2d(x0..x1, -1.5f64..1.5f64)
                .map_err(perr)?;
            gchart
                .configure_mesh()
                .disable_y_mesh()
                .disable_y_axis()
                .x_desc("position (bp)")
                .x_label_formatter(&|v| format!("{v:.0}"))
                .label_style((FONT, 11))
                .light_line_style(WHITE.mix(0.0))
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

fn fmt_num(v: f64) -> String {
    if v.abs() >= 1000.0 || (v != 0.0 && v.abs() < 0.01) {
        format!("{v:.2e}")
    } else {
        format!("{v:.2}")
    }
}

/// Escape text for SVG/HTML.
pub fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_chart_kind_renders() {
        let lab = |n: usize| (0..n).map(|i| format!("r{i}")).collect::<Vec<_>>();
        let h = Figure::heatmap(
            "h",
            &lab(3),
            &lab(2),
            &[0.1, 0.2, -0.3, 0.4, 0.5, f64::NAN],
            "r",
            true,
        )
        .unwrap();
        assert!(h.svg().contains("r2 / r1"));
        assert!(Figure::heatmap("h", &lab(3), &lab(2), &[0.0; 5], "r", true).is_err());
        let s = Figure::scatter(
            "s",
            "x",
            "y",
            &[(0.0, 1.0), (1.0, 2.0)],
            &["a".into(), "b".into()],
        )
        .unwrap();
        assert!(s.svg().contains("<circle"));
        let l = Figure::logo("logo", &[[0.97, 0.01, 0.01, 0.01], [0.25; 4]], true).unwrap();
        assert!(l.svg().contains(">A</text>"));
        let a = Figure::logo("attr", &[[0.5, -0.2, 0.0, 0.0]], false).unwrap();
        assert!(a.svg().contains(">C</text>"));
        let t = Figure::track(
            "t",
            &[0.0, 1.0, 2.0],
            &[("n1".into(), vec![0.1, 0.5, 0.2])],
            &[TrackFeature {
                start: 0,
                end: 2,
                strand: -1,
                label: "g".into(),
            }],
        )
        .unwrap();
        assert!(t.svg().contains("n1"));
        let b = Figure::bars("b", "v", &lab(2), &[1.0, 2.0], Some(&[0.1, 0.2])).unwrap();
        assert!(b.svg().contains("r1"));
        let ls = Figure::lines(
            "l",
            "lr",
            "loss",
            &[Series::new(
                "x",
                vec![1e-5, 1e-3, 1e-1],
                vec![2.0, 1.0, 3.0],
            )],
            &[(1e-3, "suggested".into())],
        )
        .unwrap();
        assert!(ls.svg().contains("suggested"));
        let r = Figure::roc(
            "roc",
            &[("m".into(), vec![0.9, 0.8, 0.3], vec![true, false, false])],
        )
        .unwrap();
        assert!(r.svg().contains("AUROC 1.00"));
        assert!(Figure::roc("roc", &[("m".into(), vec![0.9], vec![true])]).is_err());
        let p = Figure::pr(
            "pr",
            &[("m".into(), vec![0.9, 0.8, 0.3], vec![true, false, true])],
        )
        .unwrap();
        assert!(p.svg().contains("prevalence 0.67"));
    }

    #[test]
    fn png_uses_embedded_font_and_physical_size() {
        let f = Figure::bars("Title", "value", &["a".into()], &[1.0], None).unwrap();
        let (w, h) = f.size_inches();
        let png = f.png(192.0).unwrap();
        let img = resvg::tiny_skia::Pixmap::decode_png(&png).unwrap();
        assert_eq!(img.width(), (w * 192.0).round() as u32);
        assert_eq!(img.height(), (h * 192.0).round() as u32);
        // text is drawn: the title band holds dark pixels only if the font was found
        let dark = |y0: u32, y1: u32| {
            (y0..y1)
                .flat_map(|y| (0..img.width()).map(move |x| (x, y)))
                .filter(|&(x, y)| img.pixel(x, y).is_some_and(|p| p.red() < 100))
                .count()
        };
        assert!(dark(0, 40) > 50, "no title text in the PNG");
        let small = f.clone().with_size_inches(3.5, 2.5);
        assert!(small.svg().contains(r#"width="3.5in""#) && small.svg().contains("viewBox"));
        assert_eq!(
            small.svg().matches("width=").count(),
            f.svg().matches("width=").count()
        );
        let img = resvg::tiny_skia::Pixmap::decode_png(&small.png(300.0).unwrap()).unwrap();
        assert_eq!((img.width(), img.height()), (1050, 750));
        assert!(f.png(0.0).is_err() && f.png(f64::NAN).is_err());
    }
}
