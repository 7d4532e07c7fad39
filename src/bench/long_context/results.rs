//! Tables, figures and files of [`LongContextResults`].

use polars::prelude::{Column, DataFrame};

use super::LongContextResults;
use crate::plot::{Figure, Series};
use crate::table::Table;
use crate::{Error, Result};

impl LongContextResults {
    /// The rows as a table (CSV / Parquet / HTML / LaTeX).
    pub fn table(&self) -> Result<Table> {
        let r = &self.rows;
        let cols = vec![
            Column::new(
                "method".into(),
                r.iter().map(|x| x.method.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "finetuned".into(),
                r.iter().map(|x| x.finetuned).collect::<Vec<_>>(),
            ),
            Column::new(
                "multiple".into(),
                r.iter().map(|x| x.multiple as u64).collect::<Vec<_>>(),
            ),
            Column::new(
                "len".into(),
                r.iter().map(|x| x.len as u64).collect::<Vec<_>>(),
            ),
            Column::new(
                "scale".into(),
                r.iter().map(|x| x.scale).collect::<Vec<_>>(),
            ),
            Column::new("loss".into(), r.iter().map(|x| x.loss).collect::<Vec<_>>()),
            Column::new(
                "perplexity".into(),
                r.iter().map(|x| x.loss.exp()).collect::<Vec<_>>(),
            ),
            Column::new(
                "accuracy".into(),
                r.iter().map(|x| x.accuracy).collect::<Vec<_>>(),
            ),
            Column::new(
                "loss_edge".into(),
                r.iter().map(|x| x.loss_edge).collect::<Vec<_>>(),
            ),
            Column::new(
                "loss_centre".into(),
                r.iter().map(|x| x.loss_centre).collect::<Vec<_>>(),
            ),
            Column::new(
                "masked".into(),
                r.iter().map(|x| x.masked as u64).collect::<Vec<_>>(),
            ),
            Column::new(
                "seconds_per_window".into(),
                r.iter().map(|x| x.seconds_per_window).collect::<Vec<_>>(),
            ),
            Column::new(
                "peak_rss_mib".into(),
                r.iter().map(|x| x.peak_rss_mib).collect::<Vec<_>>(),
            ),
        ];
        Ok(Table::new("long_context", DataFrame::new(r.len(), cols)?))
    }

    /// The probe rows as a table.
    pub fn probe_table(&self) -> Result<Table> {
        let r = &self.probe;
        let cols = vec![
            Column::new(
                "method".into(),
                r.iter().map(|x| x.method.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "finetuned".into(),
                r.iter().map(|x| x.finetuned).collect::<Vec<_>>(),
            ),
            Column::new(
                "multiple".into(),
                r.iter().map(|x| x.multiple as u64).collect::<Vec<_>>(),
            ),
            Column::new(
                "accuracy".into(),
                r.iter().map(|x| x.accuracy).collect::<Vec<_>>(),
            ),
            Column::new(
                "macro_f1".into(),
                r.iter().map(|x| x.macro_f1).collect::<Vec<_>>(),
            ),
            Column::new(
                "n_test".into(),
                r.iter().map(|x| x.n_test as u64).collect::<Vec<_>>(),
            ),
        ];
        Ok(Table::new(
            "long_context_probe",
            DataFrame::new(r.len(), cols)?,
        ))
    }

    /// Masked-token perplexity against window length, one line per method (zero-shot when
    /// `finetuned` is false).
    pub fn figure_for(&self, finetuned: bool) -> Result<Figure> {
        let mut series = Vec::new();
        for m in &self.options.methods {
            let pts: Vec<(f64, f64)> = self
                .rows
                .iter()
                .filter(|r| r.method == m.name() && r.finetuned == finetuned)
                .map(|r| (r.multiple as f64, r.loss.exp()))
                .collect();
            if !pts.is_empty() {
                series.push(Series::from_points(m.name(), &pts));
            }
        }
        if series.is_empty() {
            return Err(Error::Input(format!(
                "no {} rows to plot",
                if finetuned { "fine-tuned" } else { "zero-shot" }
            )));
        }
        Figure::lines(
            &format!(
                "Masked-token perplexity vs window ({}; L₀ = {} nt)",
                if finetuned {
                    "after fine-tuning"
                } else {
                    "no fine-tuning"
                },
                self.options.train_len
            ),
            "window length (multiples of the training length)",
            "perplexity (per nucleotide)",
            &series,
            &[],
        )
    }

    /// [`figure_for`](Self::figure_for) the zero-shot rows.
    pub fn figure(&self) -> Result<Figure> {
        self.figure_for(false)
    }

    /// Read results written by [`write`](Self::write) (`long_context.json`, or its folder).
    pub fn load(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let mut p = path.as_ref().to_path_buf();
        if p.is_dir() {
            p = p.join("long_context.json");
        }
        let text = std::fs::read_to_string(&p).map_err(|e| Error::io(&p, e))?;
        serde_json::from_str(&text)
            .map_err(|e| Error::parse(p.display().to_string(), e.line(), e.to_string()))
    }

    /// Write `long_context.json`, the tables as CSV and the figures as SVG into `dir`.
    pub fn write(&self, dir: impl AsRef<std::path::Path>) -> Result<()> {
        let dir = dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        crate::fsio::atomic_write(
            &dir.join("long_context.json"),
            serde_json::to_string_pretty(self)
                .map_err(|e| Error::Input(e.to_string()))?
                .as_bytes(),
        )?;
        self.table()?.to_csv(dir.join("long_context.csv"))?;
        if !self.probe.is_empty() {
            self.probe_table()?
                .to_csv(dir.join("long_context_probe.csv"))?;
        }
        self.figure_for(false)?
            .save(dir.join("perplexity_vs_length.svg"))?;
        if self.rows.iter().any(|r| r.finetuned) {
            self.figure_for(true)?
                .save(dir.join("perplexity_vs_length_finetuned.svg"))?;
        }
        Ok(())
    }
}
