//! [`Table`]: a named polars `DataFrame` that displays as an HTML table in evcxr and
//! exports CSV, Parquet and LaTeX — what every table result of genolm returns.
//!
//! ```
//! use polars::prelude::*;
//! use genolm::table::Table;
//! let df = DataFrame::new(2, vec![
//!     Column::new("neuron".into(), vec!["lstm.0/4", "lstm.0/7"]),
//!     Column::new("auroc".into(), vec![0.91, 0.62]),
//! ])?;
//! let t = Table::new("neurons", df);
//! assert!(t.to_html().contains("<td>lstm.0/4</td>"));
//! assert!(t.to_latex().contains("lstm.0/4 & 0.9100"));
//! # Ok::<(), genolm::Error>(())
//! ```

use std::path::Path;

use polars::prelude::*;

use crate::fsio::xml;
use crate::Result;

/// A named table.
#[derive(Debug, Clone)]
pub struct Table {
    /// Name (used for file names and captions).
    pub name: String,
    /// The data.
    pub df: DataFrame,
}

fn cell(v: AnyValue<'_>) -> String {
    match v {
        AnyValue::Null => String::new(),
        AnyValue::Float64(x) => fmt_f(x),
        AnyValue::Float32(x) => fmt_f(x as f64),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        other => other.to_string(),
    }
}

fn fmt_f(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x != 0.0 && (x.abs() < 1e-3 || x.abs() >= 1e6) {
        format!("{x:.3e}")
    } else {
        format!("{x:.4}")
    }
}

/// Rows of cells as plain text in aligned columns (two spaces apart; a column whose cells all
/// read as numbers aligned right), for a terminal: a header line, a rule, one line per row.
///
/// ```
/// let t = genolm::table::aligned_text(&["task", "skill"], &[
///     vec!["transfer".into(), "+0.0518".into()],
///     vec!["variants".into(), "-0.0269".into()],
/// ]);
/// assert_eq!(t.lines().nth(2), Some("transfer  +0.0518"));
/// ```
pub fn aligned_text(header: &[&str], rows: &[Vec<String>]) -> String {
    let n = header.len();
    let width = |c: usize| {
        rows.iter()
            .filter_map(|r| r.get(c))
            .map(|s| s.chars().count())
            .chain([header[c].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..n).map(width).collect();
    let numeric: Vec<bool> = (0..n)
        .map(|c| {
            rows.iter().filter_map(|r| r.get(c)).all(|s| {
                let t = s.trim_start_matches('+');
                t.is_empty() || t == "–" || t.parse::<f64>().is_ok()
            })
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(c, s)| {
                let pad = widths[c].saturating_sub(s.chars().count());
                if numeric[c] {
                    format!("{}{s}", " ".repeat(pad))
                } else {
                    format!("{s}{}", " ".repeat(pad))
                }
            })
            .collect();
        parts.join("  ").trim_end().to_string()
    };
    let mut out = line(header.to_vec());
    out.push('\n');
    let rules: Vec<String> = widths.iter().map(|&w| "─".repeat(w)).collect();
    out.push_str(&line(rules.iter().map(String::as_str).collect()));
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

impl Table {
    /// The table as plain text in aligned columns ([`aligned_text`]): every row, for a
    /// terminal (polars' own display elides rows and wraps long cells).
    pub fn to_text(&self) -> String {
        let names: Vec<String> = self
            .df
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .collect();
        let header: Vec<&str> = names.iter().map(String::as_str).collect();
        let rows: Vec<Vec<String>> = (0..self.height()).map(|r| self.row_strings(r)).collect();
        aligned_text(&header, &rows)
    }

    /// A table named `name`.
    pub fn new(name: impl Into<String>, df: DataFrame) -> Self {
        Self {
            name: name.into(),
            df,
        }
    }

    /// Rows.
    pub fn height(&self) -> usize {
        self.df.height()
    }

    /// Cell text of row `r` (floats with 4 decimals or scientific notation).
    pub fn row_strings(&self, r: usize) -> Vec<String> {
        self.df
            .columns()
            .iter()
            .map(|c| c.get(r).map(cell).unwrap_or_default())
            .collect()
    }

    /// An HTML table (the first `max_rows` rows; all when 0).
    pub fn to_html_rows(&self, max_rows: usize) -> String {
        let mut s = String::from(
            "<table style=\"border-collapse:collapse;font-family:sans-serif;font-size:12px\"><thead><tr>",
        );
        for c in self.df.columns() {
            s.push_str(&format!(
                "<th style=\"border-bottom:1px solid #444;padding:2px 8px;text-align:left\">{}</th>",
                xml(c.name())
            ));
        }
        s.push_str("</tr></thead><tbody>");
        let n = if max_rows == 0 {
            self.height()
        } else {
            self.height().min(max_rows)
        };
        for r in 0..n {
            s.push_str("<tr>");
            for v in self.row_strings(r) {
                s.push_str(&format!("<td>{}</td>", xml(&v)));
            }
            s.push_str("</tr>");
        }
        s.push_str("</tbody></table>");
        if n < self.height() {
            s.push_str(&format!("<p>{} of {} rows shown</p>", n, self.height()));
        }
        s
    }

    /// The whole table as HTML.
    pub fn to_html(&self) -> String {
        self.to_html_rows(0)
    }

    /// A LaTeX `tabular` (booktabs).
    pub fn to_latex(&self) -> String {
        let esc = |s: &str| {
            s.replace('\\', "\\textbackslash{}")
                .replace('&', "\\&")
                .replace('%', "\\%")
                .replace('_', "\\_")
                .replace('#', "\\#")
        };
        let cols = self.df.width();
        let mut s = format!("\\begin{{tabular}}{{{}}}\n\\toprule\n", "l".repeat(cols));
        let head: Vec<String> = self.df.columns().iter().map(|c| esc(c.name())).collect();
        s.push_str(&head.join(" & "));
        s.push_str(" \\\\\n\\midrule\n");
        for r in 0..self.height() {
            let row: Vec<String> = self.row_strings(r).iter().map(|v| esc(v)).collect();
            s.push_str(&row.join(" & "));
            s.push_str(" \\\\\n");
        }
        s.push_str("\\bottomrule\n\\end{tabular}\n");
        s
    }

    /// Write CSV (atomically).
    pub fn to_csv(&self, path: impl AsRef<Path>) -> Result<()> {
        let mut buf = Vec::new();
        let mut df = self.df.clone();
        CsvWriter::new(&mut buf).finish(&mut df)?;
        crate::fsio::atomic_write(path.as_ref(), &buf)
    }

    /// Read a CSV with a header (e.g. one [`to_csv`](Self::to_csv) wrote); the table is named
    /// after the file.
    pub fn read_csv(path: impl AsRef<Path>) -> Result<Table> {
        let p = path.as_ref();
        let bytes = std::fs::read(p).map_err(|e| crate::Error::io(p, e))?;
        let df = CsvReader::new(std::io::Cursor::new(bytes)).finish()?;
        let name = p
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        Ok(Table::new(name, df))
    }

    /// Write Parquet (atomically).
    pub fn to_parquet(&self, path: impl AsRef<Path>) -> Result<()> {
        let mut buf = Vec::new();
        let mut df = self.df.clone();
        ParquetWriter::new(&mut buf).finish(&mut df)?;
        crate::fsio::atomic_write(path.as_ref(), &buf)
    }

    /// Write LaTeX (atomically).
    pub fn to_latex_file(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::fsio::atomic_write(path.as_ref(), self.to_latex().as_bytes())
    }

    /// evcxr inline display (`text/html`, the first 50 rows).
    pub fn evcxr_display(&self) {
        println!(
            "EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT",
            self.to_html_rows(50)
        );
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.df)
    }
}
