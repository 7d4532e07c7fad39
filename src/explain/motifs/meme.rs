//! MEME's minimal motif format, the format of MEME Suite's databases (`tomtom`, `fimo`), of
//! HOCOMOCO's downloads and of JASPAR's "MEME" export: a `MEME version` line, then per motif
//! `MOTIF id [name]`, a `letter-probability matrix:` line (`alength= 4 w= N nsites= S …`) and
//! `N` rows of four probabilities (A, C, G, T).
//!
//! ```
//! use genolm::explain::motifs::meme::parse_meme;
//! let text = "MEME version 4\n\nALPHABET= ACGT\n\nMOTIF MA0001.1 AGL3\n\
//!             letter-probability matrix: alength= 4 w= 2 nsites= 20 E= 0\n\
//!             0.9 0.05 0.05 0.0\n 0.0 0.0 0.1 0.9\n";
//! let m = parse_meme(text, "db.meme")?;
//! assert_eq!((m[0].id.as_str(), m[0].name.as_str(), m[0].len(), m[0].n_sites), ("MA0001.1", "AGL3", 2, 20));
//! assert!(m[0].probs[0][0] > 0.85 && m[0].probs[1][3] > 0.85);
//! # Ok::<(), genolm::Error>(())
//! ```

use super::Pwm;
use crate::{Error, Result};

/// Sites assumed when a matrix line gives no `nsites=` (MEME's own default).
const DEFAULT_SITES: f64 = 20.0;

/// Is `text` in MEME's motif format (its first non-blank line starts `MEME version`)?
pub fn is_meme(text: &str) -> bool {
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .is_some_and(|l| l.starts_with("MEME version"))
}

/// A `key= value` field of a matrix line.
fn field(line: &str, key: &str) -> Option<f64> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// Parse MEME minimal motif format ([module docs](self)). The probabilities become counts of
/// `nsites` (20 when the file gives none), so the motifs carry the same pseudocounts as
/// JASPAR's. Errors name the file and line: another alphabet than ACGT, a row without four
/// probabilities, fewer rows than `w=`.
pub fn parse_meme(text: &str, file: &str) -> Result<Vec<Pwm>> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l.trim()));
    let mut motif: Option<(String, String, usize)> = None;
    while let Some((ln, line)) = lines.next() {
        if let Some(alpha) = line.strip_prefix("ALPHABET=") {
            let a = alpha.trim();
            if !a.eq_ignore_ascii_case("ACGT") && !a.to_ascii_uppercase().starts_with("ACGT") {
                return Err(Error::parse(
                    file,
                    ln,
                    format!("alphabet {a:?}: only DNA motifs (ACGT) are read"),
                ));
            }
        } else if let Some(h) = line.strip_prefix("MOTIF") {
            let mut parts = h.split_whitespace();
            let id = parts.next().unwrap_or("").to_string();
            if id.is_empty() {
                return Err(Error::parse(file, ln, "MOTIF without an id"));
            }
            motif = Some((id, parts.collect::<Vec<_>>().join(" "), ln));
        } else if line.starts_with("letter-probability matrix") {
            let Some((id, name, _)) = motif.take() else {
                return Err(Error::parse(file, ln, "a matrix before any MOTIF line"));
            };
            let sites = field(line, "nsites=")
                .filter(|s| *s > 0.0)
                .unwrap_or(DEFAULT_SITES);
            let width = field(line, "w=").map(|w| w as usize);
            let mut counts: Vec<[f64; 4]> = Vec::new();
            while width.is_none_or(|w| counts.len() < w) {
                let Some((rl, row)) = lines.next() else {
                    break;
                };
                if row.is_empty() && width.is_none() && !counts.is_empty() {
                    break;
                }
                if row.is_empty() {
                    continue;
                }
                let vals: Vec<f64> = row
                    .split_whitespace()
                    .map(|v| v.parse::<f64>())
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|_| {
                        Error::parse(
                            file,
                            rl,
                            format!("motif {id}: not a row of probabilities: {row:?}"),
                        )
                    })?;
                if vals.len() != 4 || vals.iter().any(|v| !(0.0..=1.0 + 1e-6).contains(v)) {
                    return Err(Error::parse(
                        file,
                        rl,
                        format!(
                            "motif {id}: a row needs four probabilities (A C G T), found {row:?}"
                        ),
                    ));
                }
                counts.push([vals[0], vals[1], vals[2], vals[3]].map(|p| p * sites));
            }
            if counts.is_empty() || width.is_some_and(|w| counts.len() != w) {
                return Err(Error::parse(
                    file,
                    ln,
                    format!(
                        "motif {id}: {} rows, the matrix line says w= {}",
                        counts.len(),
                        width.map_or("?".into(), |w| w.to_string())
                    ),
                ));
            }
            let mut p = Pwm::from_counts(&id, &counts);
            p.name = name;
            out.push(p);
        }
    }
    if let Some((id, _, ln)) = motif {
        return Err(Error::parse(
            file,
            ln,
            format!("motif {id} has no letter-probability matrix"),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meme_text_of_jaspar_motifs_reads_back_the_same_matrices() {
        // JASPAR's first motif, written as MEME text by hand from its counts
        let jaspar = super::super::parse_jaspar(
            ">MA0004.1 Arnt\nA [ 4 19 0 0 0 0 ]\nC [16 0 20 0 0 0 ]\nG [ 0 1 0 20 0 20 ]\nT [ 0 0 0 0 20 0 ]\n",
            "j",
        )
        .unwrap();
        let meme = "MEME version 5\n\nALPHABET= ACGT\n\nstrands: + -\n\nBackground letter frequencies\nA 0.25 C 0.25 G 0.25 T 0.25\n\n\
            MOTIF MA0004.1 Arnt\nletter-probability matrix: alength= 4 w= 6 nsites= 20 E= 0\n\
            0.2 0.8 0.0 0.0\n0.95 0.0 0.05 0.0\n0.0 1.0 0.0 0.0\n0.0 0.0 1.0 0.0\n0.0 0.0 0.0 1.0\n0.0 0.0 1.0 0.0\nURL http://jaspar.genereg.net/matrix/MA0004.1\n";
        assert!(is_meme(meme) && !is_meme(">MA0004.1 Arnt\n"));
        let m = parse_meme(meme, "m").unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!((m[0].name.as_str(), m[0].n_sites), ("Arnt", 20));
        for (a, b) in m[0].probs.iter().zip(&jaspar[0].probs) {
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-9, "{a:?} {b:?}");
            }
        }
        // bad input names its line
        let e = parse_meme(
            "MEME version 4\nMOTIF x\nletter-probability matrix: w= 2\n0.5 0.5 0 0\n",
            "m",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("m:3") && e.contains("w= 2"), "{e}");
        let e = parse_meme("MEME version 4\nALPHABET= ACDEFGHIKLMNPQRSTVWY\n", "m")
            .unwrap_err()
            .to_string();
        assert!(e.contains("m:2") && e.contains("DNA"), "{e}");
        let e = parse_meme(
            "MEME version 4\nMOTIF x\nletter-probability matrix: w= 1\n0.5 0.5 0\n",
            "m",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("m:4") && e.contains("four"), "{e}");
    }
}
