//! FIMO-style motif scanning (Grant, Bailey & Noble 2011) with the `lightmotif` crate: each
//! PWM becomes a log-odds matrix (bits) against a background, every position of both strands
//! is scored with lightmotif's striped, SIMD scanner, and a hit's p-value comes from the
//! matrix's score distribution discretised as MEME does it (entries scaled to a range of 1000,
//! the distribution of their sum by dynamic programming), looked up with the hit's own
//! discretised entries (so the best word of a motif gets its exact `Π` probability, not 0).
//! q-values are Benjamini–Hochberg over every position and strand tested.
//!
//! ```
//! use genolm::explain::motifs::{scan::{scan, ScanOptions}, Pwm};
//! let tata = Pwm::from_counts("TATA", &[[0., 0., 0., 20.], [20., 0., 0., 0.], [0., 0., 0., 20.], [20., 0., 0., 0.], [20., 0., 0., 0.], [20., 0., 0., 0.]]);
//! let seqs = [("s1", &b"GCGCGCTATAAAGCGCGCGGCCGCGCTTTATAGCGC"[..])];
//! let hits = scan(&[tata], &seqs, &ScanOptions { p_threshold: 1e-3, ..Default::default() })?;
//! assert_eq!(hits.len(), 2); // TATAAA on + at 6, and on − (TTTATA) at 26
//! assert_eq!((hits[0].start, hits[0].strand), (6, '+'));
//! assert_eq!((hits[1].start, hits[1].strand), (26, '-'));
//! # Ok::<(), genolm::Error>(())
//! ```

use lightmotif::abc::{Alphabet, Background, Dna, Nucleotide, Symbol};
use lightmotif::dense::DenseMatrix;
use lightmotif::num::Unsigned;
use lightmotif::scan::Scanner;
use lightmotif::{EncodedSequence, FrequencyMatrix, ScoringMatrix, StripedSequence};
use serde::{Deserialize, Serialize};

use super::Pwm;
use crate::data::alphabet::revcomp;
use crate::stats::benjamini_hochberg;
use crate::table::Table;
use crate::{Error, Result};

/// Options of [`scan`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScanOptions {
    /// Report hits with p below this (FIMO: 10⁻⁴).
    pub p_threshold: f64,
    /// Background A, C, G, T frequencies; `None` = the scanned sequences' own composition.
    pub background: Option<[f64; 4]>,
    /// Pseudocount added to the motif, spread by the background (FIMO `--motif-pseudo`, 0.1).
    pub pseudocount: f64,
    /// Scan the reverse strand too.
    pub both_strands: bool,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            p_threshold: 1e-4,
            background: None,
            pseudocount: 0.1,
            both_strands: true,
        }
    }
}

/// One motif occurrence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MotifHit {
    /// Motif id.
    pub motif: String,
    /// Sequence name.
    pub sequence: String,
    /// 0-based start on the + strand.
    pub start: usize,
    /// Exclusive end.
    pub end: usize,
    /// `+` or `-`.
    pub strand: char,
    /// Log-odds score (bits).
    pub score: f64,
    /// p-value of the score.
    pub p: f64,
    /// Benjamini–Hochberg q-value over all positions and strands tested.
    pub q: f64,
    /// The matched bases (reverse-complemented on `-`).
    pub matched: String,
}

const ACGT: [Nucleotide; 4] = [Nucleotide::A, Nucleotide::C, Nucleotide::G, Nucleotide::T];

/// `pwm` as a lightmotif log-odds matrix against `bg` with FIMO's pseudocount.
fn scoring(pwm: &Pwm, bg: &[f64; 4], pseudo: f64) -> Result<ScoringMatrix<Dna>> {
    let n = pwm.n_sites.max(1) as f64;
    let k = <Dna as Alphabet>::K::USIZE;
    let rows: Vec<Vec<f32>> = pwm
        .probs
        .iter()
        .map(|c| {
            let mut r = vec![0f32; k];
            let tot: f64 = c.iter().sum::<f64>().max(1e-12);
            for (b, nuc) in ACGT.iter().enumerate() {
                r[nuc.as_index()] = ((c[b] / tot * n + pseudo * bg[b]) / (n + pseudo)) as f32;
            }
            r
        })
        .collect();
    let freq = FrequencyMatrix::<Dna>::new(DenseMatrix::from_rows(rows))
        .map_err(|_| Error::Input(format!("motif {} is not a frequency matrix", pwm.id)))?;
    // lightmotif checks that frequencies sum to exactly 1; counts per million avoid rounding
    let mut counts = [0usize; 5];
    for (b, nuc) in ACGT.iter().enumerate() {
        counts[nuc.as_index()] = (bg[b] * 1e6).round().max(1.0) as usize;
    }
    let background = Background::<Dna>::from_counts(&counts.into())
        .map_err(|_| Error::Input(format!("background {bg:?} is not a composition")))?;
    Ok(freq.to_scoring(background))
}

/// The discretised score distribution of a log-odds matrix under its background (MEME/FIMO).
struct Dist {
    offset: f64,
    scale: f64,
    /// `sf[s]` = P(discrete score ≥ s).
    sf: Vec<f64>,
}

impl Dist {
    fn new(lo: &[[f64; 4]], bg: &[f64; 4]) -> Dist {
        let all = lo.iter().flatten().copied().filter(|v| v.is_finite());
        let (mut small, large) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        if small == large {
            small = large - 1.0;
        }
        let offset = small.floor();
        let scale = (1000.0 / (large - offset)).floor().max(1.0);
        let mut pdf = vec![1.0f64];
        for row in lo {
            let d = row.map(|v| ((v - offset) * scale).round() as usize);
            let mut next = vec![0.0; pdf.len() + d.iter().max().copied().unwrap_or(0)];
            for (k, &p) in pdf.iter().enumerate() {
                if p != 0.0 {
                    for b in 0..4 {
                        next[k + d[b]] += p * bg[b];
                    }
                }
            }
            pdf = next;
        }
        let mut sf = vec![0.0; pdf.len() + 1];
        for k in (0..pdf.len()).rev() {
            sf[k] = sf[k + 1] + pdf[k];
        }
        Dist { offset, scale, sf }
    }

    fn discrete(&self, lo: &[[f64; 4]], word: &[u8]) -> Option<usize> {
        let mut s = 0usize;
        for (row, &b) in lo.iter().zip(word) {
            let i = crate::data::alphabet::base_index(b)?;
            s += ((row[i] - self.offset) * self.scale).round() as usize;
        }
        Some(s)
    }

    fn p(&self, s: usize) -> f64 {
        self.sf.get(s).copied().unwrap_or(0.0).clamp(0.0, 1.0)
    }

    /// Lowest continuous score whose discrete score can reach p ≤ `p`, minus a margin.
    fn threshold(&self, lo: &[[f64; 4]], p: f64) -> f32 {
        let s = self
            .sf
            .iter()
            .position(|&v| v <= p)
            .unwrap_or(self.sf.len());
        let w = lo.len() as f64;
        (s as f64 / self.scale + w * self.offset - w / self.scale) as f32
    }
}

/// Base composition of `seqs` (A, C, G, T; uniform when empty).
fn composition(seqs: &[(&str, &[u8])]) -> [f64; 4] {
    let mut c = [1.0f64; 4]; // one pseudo-count each
    for (_, s) in seqs {
        for &b in s.iter() {
            if let Some(i) = crate::data::alphabet::base_index(b) {
                c[i] += 1.0;
            }
        }
    }
    let t: f64 = c.iter().sum();
    c.map(|v| v / t)
}

/// Scan `seqs` (name, bases) for every motif in `motifs`; hits sorted by p-value.
pub fn scan(motifs: &[Pwm], seqs: &[(&str, &[u8])], opts: &ScanOptions) -> Result<Vec<MotifHit>> {
    if !(opts.p_threshold > 0.0 && opts.p_threshold <= 1.0) {
        return Err(Error::Input(format!(
            "p threshold {} is not in (0, 1]",
            opts.p_threshold
        )));
    }
    let bg = opts.background.unwrap_or_else(|| composition(seqs));
    // every sequence striped once, with wrap-around rows for the longest motif (shorter ones
    // need fewer; the extra rows are never read as positions)
    let longest = motifs.iter().map(Pwm::len).max().unwrap_or(1);
    let striped: Vec<StripedSequence<Dna>> = seqs
        .iter()
        .map(|(_, s)| {
            let mut st = EncodedSequence::<Dna>::encode_lossy(s.to_ascii_uppercase()).to_striped();
            st.configure_wrap(longest.saturating_sub(1));
            st
        })
        .collect();
    let mut hits = Vec::new();
    let mut tests = 0usize;
    for m in motifs.iter().filter(|m| !m.is_empty()) {
        let fwd = scoring(m, &bg, opts.pseudocount)?;
        // the same log-odds in f64, A C G T order, for the p-values
        let lo: Vec<[f64; 4]> = fwd
            .matrix()
            .iter()
            .map(|r| ACGT.map(|n| r[n.as_index()] as f64))
            .collect();
        let dist = Dist::new(&lo, &bg);
        let threshold = dist.threshold(&lo, opts.p_threshold);
        let mut strands = vec![('+', fwd.clone())];
        if opts.both_strands {
            strands.push(('-', fwd.reverse_complement()));
        }
        for ((name, s), st) in seqs.iter().zip(&striped) {
            if s.len() < m.len() {
                continue;
            }
            tests += (s.len() - m.len() + 1) * strands.len();
            for (strand, pssm) in &strands {
                for hit in Scanner::new(pssm, st).threshold(threshold) {
                    let (a, b) = (hit.position(), hit.position() + m.len());
                    let word: Vec<u8> = if *strand == '+' {
                        s[a..b].to_ascii_uppercase()
                    } else {
                        revcomp(&s[a..b]).to_ascii_uppercase()
                    };
                    let p = match dist.discrete(&lo, &word) {
                        Some(d) => dist.p(d),
                        None => continue, // an N in the word
                    };
                    if p > opts.p_threshold {
                        continue;
                    }
                    let matched = if *strand == '+' {
                        String::from_utf8_lossy(&s[a..b]).to_ascii_uppercase()
                    } else {
                        String::from_utf8_lossy(&revcomp(&s[a..b])).to_ascii_uppercase()
                    };
                    hits.push(MotifHit {
                        motif: m.id.clone(),
                        sequence: name.to_string(),
                        start: a,
                        end: b,
                        strand: *strand,
                        score: hit.score() as f64,
                        p,
                        q: 1.0,
                        matched,
                    });
                }
            }
        }
    }
    // BH over every test: the unreported ones have p above every reported one.
    let mut ps: Vec<f64> = hits.iter().map(|h| h.p).collect();
    ps.resize(tests.max(hits.len()), 1.0);
    let q = benjamini_hochberg(&ps);
    for (h, qq) in hits.iter_mut().zip(q) {
        h.q = qq;
    }
    hits.sort_by(|a, b| {
        a.p.total_cmp(&b.p)
            .then(a.sequence.cmp(&b.sequence))
            .then(a.start.cmp(&b.start))
    });
    Ok(hits)
}

/// Hits as a table (FIMO's columns).
pub fn hits_table(hits: &[MotifHit]) -> Result<Table> {
    use polars::prelude::*;
    let col_s = |n: &str, f: &dyn Fn(&MotifHit) -> String| {
        Column::new(n.into(), hits.iter().map(f).collect::<Vec<_>>())
    };
    let col_f = |n: &str, f: &dyn Fn(&MotifHit) -> f64| {
        Column::new(n.into(), hits.iter().map(f).collect::<Vec<_>>())
    };
    let df = DataFrame::new(
        hits.len(),
        vec![
            col_s("motif", &|h| h.motif.clone()),
            col_s("sequence", &|h| h.sequence.clone()),
            Column::new(
                "start".into(),
                hits.iter().map(|h| h.start as u64).collect::<Vec<_>>(),
            ),
            Column::new(
                "end".into(),
                hits.iter().map(|h| h.end as u64).collect::<Vec<_>>(),
            ),
            col_s("strand", &|h| h.strand.to_string()),
            col_f("score", &|h| h.score),
            col_f("p", &|h| h.p),
            col_f("q", &|h| h.q),
            col_s("matched", &|h| h.matched.clone()),
        ],
    )?;
    Ok(Table::new("motif_hits", df))
}
