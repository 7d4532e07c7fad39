//! PNG export with an embedded font.

use std::path::Path;

use super::Figure;
use crate::{Error, Result};

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

impl Figure {
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
        crate::fsio::atomic_write(path.as_ref(), &png)
    }
}
