//! BED intervals (0-based, half-open; columns chrom, start, end, name, score, strand) as
//! [`Feature`]s of one kind, so any interval set — CRISPR arrays, promoters, peaks — can be a
//! neuron target or a lead/lag anchor.

use std::path::Path;

use super::{Feature, Segment, Strand};
use crate::{Error, Result};

/// Parse BED text: every interval becomes a feature of `kind` (named by column 4 when
/// present; strand from column 6, `+` when absent), grouped with its chromosome. `track`,
/// `browser` and `#` lines are skipped. Errors name the file and line.
///
/// ```
/// let bed = genolm::data::annotation::parse_bed("chr1\t10\t20\tarr1\t0\t-\nchr1\t30\t45\n".as_bytes(), "x.bed", "CRISPR")?;
/// assert_eq!(bed.len(), 2);
/// assert_eq!((bed[0].0.as_str(), bed[0].1.kind.as_str(), bed[0].1.segments[0].start), ("chr1", "CRISPR", 10));
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn parse_bed(bytes: &[u8], label: &str, kind: &str) -> Result<Vec<(String, Feature)>> {
    let text = std::str::from_utf8(bytes).map_err(|_| Error::parse(label, 1, "not UTF-8 text"))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim_end();
        if l.is_empty() || l.starts_with('#') || l.starts_with("track") || l.starts_with("browser")
        {
            continue;
        }
        let f: Vec<&str> = l.split('\t').collect();
        if f.len() < 3 {
            return Err(Error::parse(
                label,
                i + 1,
                "a BED line needs chrom, start and end (tab-separated)",
            ));
        }
        let num = |s: &str, what: &str| -> Result<usize> {
            s.trim().parse().map_err(|_| {
                Error::parse(
                    label,
                    i + 1,
                    format!("{what} {s:?} is not a non-negative integer"),
                )
            })
        };
        let (start, end) = (num(f[1], "start")?, num(f[2], "end")?);
        if end <= start {
            return Err(Error::parse(
                label,
                i + 1,
                format!("end {end} is not after start {start}"),
            ));
        }
        let strand = match f.get(5).map(|s| s.trim()) {
            Some("-") => Strand::Reverse,
            Some("+") | Some(".") | None => Strand::Forward,
            Some(s) => {
                return Err(Error::parse(
                    label,
                    i + 1,
                    format!("strand {s:?} is not +, - or ."),
                ))
            }
        };
        out.push((
            f[0].to_string(),
            Feature {
                kind: kind.to_string(),
                id: None,
                name: f.get(3).map(|s| s.to_string()).filter(|s| !s.is_empty()),
                segments: vec![Segment { start, end, strand }],
                partial_5: false,
                partial_3: false,
                phase: 0,
                transl_table: None,
                translation: None,
                transl_except: Vec::new(),
                pseudo: false,
                exception: None,
                line: i + 1,
            },
        ));
    }
    Ok(out)
}

/// Read a BED file (plain, gzip or bgzip); see [`parse_bed`].
pub fn read_bed(path: impl AsRef<Path>, kind: &str) -> Result<Vec<(String, Feature)>> {
    let p = path.as_ref();
    parse_bed(
        &crate::data::io::read_all(p)?,
        &p.display().to_string(),
        kind,
    )
}
