//! Motifs: position weight matrices from first-layer convolution filters (the bases of each
//! filter's top-activating windows), a JASPAR reader, sequence logos, and
//! * [`tomtom`](mod@tomtom): Tomtom's motif comparison with its analytic p-values,
//! * [`scan`]: FIMO-style scanning of sequences with exact p-values.
//!
//! ```
//! use genolm::explain::motifs::{parse_jaspar, tomtom, Pwm, TomtomOptions};
//! let db = parse_jaspar(">MA0004.1\tArnt\nA [4 19 0 0 0 0]\nC [16 0 20 0 0 0]\nG [0 1 0 20 0 20]\nT [0 0 0 0 20 0]\n", "mem")?;
//! let q = Pwm::from_counts("query", &[[0., 20., 0., 0.], [20., 0., 0., 0.], [0., 0., 0., 20.], [0., 20., 0., 0.], [0., 0., 20., 0.], [20., 0., 0., 0.]]);
//! let hits = tomtom(&q, &db, &TomtomOptions::default());
//! assert_eq!(hits[0].target, "MA0004.1");  // CACGTG is its own reverse complement
//! # Ok::<(), genolm::Error>(())
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::tokenize::KmerTokenizer;
use crate::infer::{predict_each, PredictOptions};
use crate::models::GenomicModel;
use crate::plot::Figure;
use crate::table::Table;
use crate::{Error, Result};

pub mod meme;
pub mod scan;
pub mod tomtom;
pub use tomtom::{matches_table, tomtom, Distance, MotifMatch, TomtomOptions};

/// A position weight matrix as base probabilities (A, C, G, T) per column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pwm {
    /// Identifier (JASPAR matrix id, or `conv.0/17` for a filter).
    pub id: String,
    /// Name (transcription factor), may be empty.
    pub name: String,
    /// Probabilities per column.
    pub probs: Vec<[f64; 4]>,
    /// Sites the matrix was built from.
    pub n_sites: usize,
}

impl Pwm {
    /// From counts (a pseudocount of 0.01 per base avoids zeros after normalisation).
    pub fn from_counts(id: &str, counts: &[[f64; 4]]) -> Pwm {
        let n = counts.first().map(|c| c.iter().sum::<f64>()).unwrap_or(0.0);
        Pwm {
            id: id.to_string(),
            name: String::new(),
            probs: counts
                .iter()
                .map(|c| {
                    let s: f64 = c.iter().sum::<f64>() + 0.04;
                    c.map(|v| (v + 0.01) / s)
                })
                .collect(),
            n_sites: n.round() as usize,
        }
    }
    /// Number of columns.
    pub fn len(&self) -> usize {
        self.probs.len()
    }
    /// True when there are no columns.
    pub fn is_empty(&self) -> bool {
        self.probs.is_empty()
    }
    /// The reverse complement.
    pub fn revcomp(&self) -> Pwm {
        Pwm {
            id: self.id.clone(),
            name: self.name.clone(),
            probs: self
                .probs
                .iter()
                .rev()
                .map(|c| [c[3], c[2], c[1], c[0]])
                .collect(),
            n_sites: self.n_sites,
        }
    }
    /// Information content (bits) summed over columns.
    pub fn information(&self) -> f64 {
        self.probs
            .iter()
            .map(|c| {
                2.0 + c
                    .iter()
                    .filter(|&&p| p > 0.0)
                    .map(|&p| p * p.log2())
                    .sum::<f64>()
            })
            .sum()
    }
    /// Consensus sequence (IUPAC-free: the most probable base, lower case when p < 0.5).
    pub fn consensus(&self) -> String {
        self.probs
            .iter()
            .map(|c| {
                let (i, p) = c
                    .iter()
                    .enumerate()
                    .max_by(|a, b| a.1.total_cmp(b.1))
                    .expect("4 bases");
                let b = b"ACGT"[i] as char;
                if *p >= 0.5 {
                    b
                } else {
                    b.to_ascii_lowercase()
                }
            })
            .collect()
    }
    /// The matrix as a table (`position`, `A`, `C`, `G`, `T`).
    pub fn table(&self) -> Result<Table> {
        use polars::prelude::*;
        let col = |b: usize| self.probs.iter().map(|c| c[b]).collect::<Vec<_>>();
        let df = DataFrame::new(
            self.len(),
            vec![
                Column::new(
                    "position".into(),
                    (1..=self.len() as u32).collect::<Vec<_>>(),
                ),
                Column::new("A".into(), col(0)),
                Column::new("C".into(), col(1)),
                Column::new("G".into(), col(2)),
                Column::new("T".into(), col(3)),
            ],
        )?;
        Ok(Table::new(self.id.clone(), df))
    }

    /// Sequence logo (information content).
    pub fn plot(&self) -> Result<Figure> {
        Figure::logo(&format!("{} {}", self.id, self.name), &self.probs, true)
    }
    /// evcxr display: the logo.
    pub fn evcxr_display(&self) {
        if let Ok(f) = self.plot() {
            f.evcxr_display();
        }
    }
}

/// Parse JASPAR-format text (`>ID name` then four rows `A [ … ]`, `C`, `G`, `T`).
pub fn parse_jaspar(text: &str, file: &str) -> Result<Vec<Pwm>> {
    let mut out = Vec::new();
    let mut cur: Option<(String, String, usize)> = None;
    let mut rows: Vec<Vec<f64>> = Vec::new();
    let finish = |cur: &Option<(String, String, usize)>,
                  rows: &Vec<Vec<f64>>,
                  out: &mut Vec<Pwm>|
     -> Result<()> {
        if let Some((id, name, line)) = cur {
            if rows.len() != 4 {
                return Err(Error::parse(
                    file,
                    *line,
                    format!(
                        "motif {id} has {} base rows, expected 4 (A, C, G, T)",
                        rows.len()
                    ),
                ));
            }
            let w = rows[0].len();
            if w == 0 || rows.iter().any(|r| r.len() != w) {
                return Err(Error::parse(
                    file,
                    *line,
                    format!("motif {id}: rows of unequal or zero length"),
                ));
            }
            let counts: Vec<[f64; 4]> = (0..w)
                .map(|j| [rows[0][j], rows[1][j], rows[2][j], rows[3][j]])
                .collect();
            let mut p = Pwm::from_counts(id, &counts);
            p.name = name.clone();
            out.push(p);
        }
        Ok(())
    };
    for (i, line) in text.lines().enumerate() {
        let ln = i + 1;
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(h) = t.strip_prefix('>') {
            finish(&cur, &rows, &mut out)?;
            rows.clear();
            let mut parts = h.split_whitespace();
            let id = parts.next().unwrap_or("").to_string();
            let name = parts.collect::<Vec<_>>().join(" ");
            cur = Some((id, name, ln));
            continue;
        }
        if cur.is_none() {
            return Err(Error::parse(file, ln, "matrix row before any '>' header"));
        }
        let base = t.chars().next().unwrap_or(' ');
        let expect = ['A', 'C', 'G', 'T'][rows.len().min(3)];
        if rows.len() >= 4 || base.to_ascii_uppercase() != expect {
            return Err(Error::parse(
                file,
                ln,
                format!("expected the {expect} row, found {t:?}"),
            ));
        }
        let body = t[1..].replace(['[', ']'], " ");
        let vals: std::result::Result<Vec<f64>, _> =
            body.split_whitespace().map(|v| v.parse::<f64>()).collect();
        match vals {
            Ok(v) if v.iter().all(|x| *x >= 0.0 && x.is_finite()) => rows.push(v),
            _ => {
                return Err(Error::parse(
                    file,
                    ln,
                    format!("counts must be non-negative numbers: {t:?}"),
                ))
            }
        }
    }
    finish(&cur, &rows, &mut out)?;
    Ok(out)
}

/// Read a motif file (plain or gzip): JASPAR format, or MEME's minimal motif format
/// ([`meme`]: MEME Suite's and HOCOMOCO's databases, JASPAR's MEME export), told by its first
/// line.
pub fn read_jaspar(path: impl AsRef<Path>) -> Result<Vec<Pwm>> {
    let path = path.as_ref();
    let bytes = crate::data::io::read_all(path)?;
    let text = String::from_utf8_lossy(&bytes);
    let name = path.display().to_string();
    if meme::is_meme(&text) {
        meme::parse_meme(&text, &name)
    } else {
        parse_jaspar(&text, &name)
    }
}

/// PWMs of the first convolution layer's filters: for each filter, the bases of the windows
/// (its receptive field) at positions where it reaches at least `threshold` × its maximum
/// activation over `sequences` (DeepBind/Basset convention), at most `max_sites` per filter
/// (strongest first).
pub fn filter_pwms(
    model: &GenomicModel,
    sequences: &[Vec<u8>],
    threshold: f32,
    max_sites: usize,
) -> Result<Vec<Pwm>> {
    let cfg = model.config();
    if cfg.conv_layers == 0 {
        return Err(Error::Input("the model has no convolution layers".into()));
    }
    let tok: KmerTokenizer = model.config().tokenizer()?;
    let span_tokens = cfg.conv_kernel; // first layer: dilation 1
    let width = tok.k + (span_tokens - 1) * tok.stride;
    let causal = cfg.causal();
    let opts = PredictOptions {
        layers: vec!["conv.0".into()],
        context: 0,
        ..Default::default()
    };
    let ch = cfg.conv_channels;
    // (activation, seq index, first base) per filter
    let mut hits: Vec<Vec<(f32, usize, usize)>> = vec![Vec::new(); ch];
    let mut maxv = vec![f32::NEG_INFINITY; ch];
    for (si, s) in sequences.iter().enumerate() {
        let s = s.to_ascii_uppercase();
        let ids = tok.encode(&s);
        predict_each(model, &ids, &opts, &mut |c| {
            let v = &c.layers[0].1;
            for (r, &t) in c.tokens.iter().enumerate() {
                // receptive field in tokens: causal [t-K+1, t]; centred otherwise
                let first_tok = if causal {
                    t as isize - (span_tokens as isize - 1)
                } else {
                    t as isize - (span_tokens as isize - 1) / 2
                };
                if first_tok < 0 {
                    continue;
                }
                let b0 = first_tok as usize * tok.stride;
                if b0 + width > s.len() {
                    continue;
                }
                for f in 0..ch {
                    let a = v[r * ch + f];
                    if a > maxv[f] {
                        maxv[f] = a;
                    }
                    // the maximum only grows: a site below the running threshold never qualifies
                    if a > 0.0 && a >= maxv[f] * threshold {
                        hits[f].push((a, si, b0));
                    }
                }
            }
            // keep memory bounded on whole genomes: only the strongest sites can be kept
            for f in 0..ch {
                if hits[f].len() > max_sites * 4 {
                    let thr = maxv[f] * threshold;
                    hits[f].retain(|h| h.0 >= thr);
                    hits[f].sort_by(|a, b| b.0.total_cmp(&a.0));
                    hits[f].truncate(max_sites * 2);
                }
            }
            Ok(())
        })?;
    }
    let mut out = Vec::new();
    for f in 0..ch {
        let thr = maxv[f] * threshold;
        let mut h: Vec<_> = hits[f]
            .iter()
            .filter(|h| h.0 >= thr && h.0 > 0.0)
            .copied()
            .collect();
        h.sort_by(|a, b| b.0.total_cmp(&a.0));
        h.truncate(max_sites);
        let mut counts = vec![[0f64; 4]; width];
        for &(_, si, b0) in &h {
            let s = &sequences[si];
            for j in 0..width {
                if let Some(i) = b"ACGT"
                    .iter()
                    .position(|&x| x == s[b0 + j].to_ascii_uppercase())
                {
                    counts[j][i] += 1.0;
                }
            }
        }
        let mut p = Pwm::from_counts(&format!("conv.0/{f}"), &counts);
        p.n_sites = h.len();
        out.push(p);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaspar_errors_name_the_line() {
        let e = parse_jaspar(">M1 x\nA [1 2]\nC [1 2]\nG [1]\nT [1 2]\n", "m.jaspar").unwrap_err();
        assert!(e.to_string().contains("m.jaspar:1"), "{e}");
        let e = parse_jaspar(">M1 x\nA [1 2]\nG [1 2]\n", "m.jaspar").unwrap_err();
        assert!(e.to_string().contains("m.jaspar:3"), "{e}");
        let e = parse_jaspar(">M1 x\nA [1 -2]\n", "m.jaspar").unwrap_err();
        assert!(e.to_string().contains("m.jaspar:2"), "{e}");
    }

    #[test]
    fn a_planted_jaspar_motif_is_matched_first_among_the_real_database() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/datasets/motifs/JASPAR2024_CORE_vertebrates.jaspar.gz"
        );
        let db = read_jaspar(path).unwrap();
        assert!(db.len() > 800, "{}", db.len());
        // a noisy copy of CTCF (MA0139) on the reverse strand must come back as CTCF
        let ctcf = db.iter().find(|m| m.name == "CTCF").unwrap().clone();
        let mut q = ctcf.revcomp();
        q.id = "noisy".into();
        for c in q.probs.iter_mut() {
            for v in c.iter_mut() {
                *v = 0.8 * *v + 0.05;
            }
        }
        let hits = tomtom(&q, &db, &TomtomOptions::default());
        assert_eq!(hits[0].target_name, "CTCF", "{:?}", &hits[..3]);
        assert_eq!(hits[0].strand, '-');
    }
}
