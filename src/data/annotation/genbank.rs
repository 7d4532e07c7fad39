//! GenBank flat files (gb-io) → [`AnnotatedSequence`]s.

use std::path::Path;

use gb_io::seq::{After, Before, Location};

use super::{AnnotatedSequence, Feature, Segment, Strand};
use crate::data::genetic_code::aa_from_three;
use crate::{Error, Result};

/// Read a GenBank file (plain or gzip), one [`AnnotatedSequence`] per record.
pub fn read_genbank(path: impl AsRef<Path>) -> Result<Vec<AnnotatedSequence>> {
    let path = path.as_ref();
    let bytes = crate::data::io::read_all(path)?;
    parse_genbank_bytes(&bytes, &path.display().to_string())
}

/// Parse GenBank text held in memory; `label` names it in errors.
pub fn parse_genbank_bytes(bytes: &[u8], label: &str) -> Result<Vec<AnnotatedSequence>> {
    let mut out = Vec::new();
    // Split into records at "//" lines so each error can name the record's lines.
    let mut rec_start_line = 1;
    let mut rec_start = 0;
    let mut line_no = 1;
    let mut i = 0;
    let mut records: Vec<(usize, usize, usize)> = Vec::new(); // (start byte, end byte, first line)
    while i < bytes.len() {
        let end = memchr_nl(bytes, i);
        let line = &bytes[i..end];
        let trimmed = line.strip_suffix(b"\r").unwrap_or(line);
        if trimmed == b"//" {
            records.push((rec_start, (end + 1).min(bytes.len()), rec_start_line));
            rec_start = end + 1;
            rec_start_line = line_no + 1;
        }
        line_no += 1;
        i = end + 1;
    }
    if bytes[rec_start.min(bytes.len())..]
        .iter()
        .any(|b| !b.is_ascii_whitespace())
    {
        return Err(Error::parse(
            label,
            rec_start_line,
            "GenBank record is not terminated by a '//' line (truncated file?)",
        ));
    }
    for (s, e, first_line) in records {
        // gb-io needs the final "//" to end with a newline; files from the wild do not always.
        let owned;
        let text: &[u8] = if bytes[s..e].ends_with(b"\n") {
            &bytes[s..e]
        } else {
            owned = [&bytes[s..e], b"\n"].concat();
            &owned
        };
        // gb-io is a third-party parser: contain any panic on hostile input as a parse error.
        let parsed = std::panic::catch_unwind(|| gb_io::reader::parse_slice(text));
        let seqs = match parsed {
            Ok(Ok(seqs)) => seqs,
            Ok(Err(err)) => {
                return Err(Error::parse(
                    label,
                    first_line,
                    format!("GenBank record starting here could not be parsed: {err}"),
                ))
            }
            Err(_) => {
                return Err(Error::parse(
                    label,
                    first_line,
                    "GenBank record starting here is malformed (the parser gave up)",
                ))
            }
        };
        let feature_lines = feature_lines(text, first_line);
        for seq in seqs {
            out.push(convert_gb(seq, label, first_line, &feature_lines)?);
        }
    }
    if out.is_empty() {
        return Err(Error::parse(label, 1, "no GenBank record found"));
    }
    Ok(out)
}

fn memchr_nl(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| from + p)
}

/// 1-based lines of the feature keys of the FEATURES table, in order.
fn feature_lines(text: &[u8], first_line: usize) -> Vec<usize> {
    let mut lines = Vec::new();
    let mut in_features = false;
    for (k, line) in text.split(|&b| b == b'\n').enumerate() {
        if line.starts_with(b"FEATURES") {
            in_features = true;
            continue;
        }
        if in_features {
            if !line.is_empty() && !line[0].is_ascii_whitespace() {
                break; // next section (ORIGIN, CONTIG, …)
            }
            if line.len() > 5 && line[..5] == *b"     " && !line[5].is_ascii_whitespace() {
                lines.push(first_line + k);
            }
        }
    }
    lines
}

struct Piece {
    seg: Segment,
    before: bool,
    after: bool,
}

fn collect_pieces(
    loc: &Location,
    reverse: bool,
    out: &mut Vec<Piece>,
) -> std::result::Result<(), String> {
    match loc {
        Location::Range((a, Before(b)), (e, After(af))) => {
            if *a < 0 || e < a {
                return Err(format!("bad range {}..{}", a + 1, e));
            }
            out.push(Piece {
                seg: Segment {
                    start: *a as usize,
                    end: *e as usize,
                    strand: if reverse {
                        Strand::Reverse
                    } else {
                        Strand::Forward
                    },
                },
                before: *b,
                after: *af,
            });
        }
        Location::Complement(inner) => {
            let mut tmp = Vec::new();
            collect_pieces(inner, !reverse, &mut tmp)?;
            tmp.reverse();
            out.extend(tmp);
        }
        Location::Join(v) | Location::Order(v) | Location::Bond(v) => {
            for l in v {
                collect_pieces(l, reverse, out)?;
            }
        }
        Location::OneOf(v) => {
            if let Some(l) = v.first() {
                collect_pieces(l, reverse, out)?;
            }
        }
        Location::Between(_, _) | Location::Gap(_) => {}
        Location::External(acc, _) => {
            return Err(format!("location refers to another record ({acc})"));
        }
    }
    Ok(())
}

fn parse_transl_except(v: &str) -> Option<(usize, u8)> {
    // (pos:complement(1234..1236),aa:Sec) or (pos:1234..1236,aa:Sec)
    let v = v.trim().trim_start_matches('(').trim_end_matches(')');
    let pos_part = v.split(",aa:").next()?.trim_start_matches("pos:");
    let aa_part = v.split(",aa:").nth(1)?;
    let aa = aa_from_three(aa_part.trim())?;
    let loc = Location::from_gb_format(pos_part).ok()?;
    let mut pieces = Vec::new();
    collect_pieces(&loc, false, &mut pieces).ok()?;
    let first = pieces.first()?;
    let p = match first.seg.strand {
        Strand::Forward => first.seg.start,
        Strand::Reverse => first.seg.end.checked_sub(1)?,
    };
    Some((p, aa))
}

fn convert_gb(
    seq: gb_io::seq::Seq,
    label: &str,
    first_line: usize,
    feature_lines: &[usize],
) -> Result<AnnotatedSequence> {
    let name = seq.name.clone().unwrap_or_else(|| "unnamed".to_string());
    let line_of = |i: usize| {
        if feature_lines.len() == seq.features.len() {
            feature_lines[i]
        } else {
            first_line
        }
    };
    let mut features = Vec::with_capacity(seq.features.len());
    for (i, f) in seq.features.iter().enumerate() {
        let line = line_of(i);
        let mut pieces = Vec::new();
        if let Err(msg) = collect_pieces(&f.location, false, &mut pieces) {
            return Err(Error::parse(
                label,
                line,
                format!("{} location: {msg}", f.kind),
            ));
        }
        let q = |k: &str| f.qualifier_values(k).next().map(|s| s.to_string());
        let has = |k: &str| f.qualifiers.iter().any(|(key, _)| key == k);
        let (partial_5, partial_3) = match (pieces.first(), pieces.last()) {
            (Some(a), Some(b)) => (
                if a.seg.strand == Strand::Forward {
                    a.before
                } else {
                    a.after
                },
                if b.seg.strand == Strand::Forward {
                    b.after
                } else {
                    b.before
                },
            ),
            _ => (false, false),
        };
        let phase = match q("codon_start") {
            Some(c) => match c.trim().parse::<usize>() {
                Ok(v @ 1..=3) => v - 1,
                _ => {
                    return Err(Error::parse(label, line, format!("bad /codon_start={c}")));
                }
            },
            None => 0,
        };
        let transl_table = match q("transl_table") {
            Some(t) => Some(
                t.trim()
                    .parse::<u8>()
                    .map_err(|_| Error::parse(label, line, format!("bad /transl_table={t}")))?,
            ),
            None => None,
        };
        features.push(Feature {
            kind: f.kind.to_string(),
            id: q("locus_tag").or_else(|| q("protein_id")),
            name: q("gene").or_else(|| q("product")),
            segments: pieces.into_iter().map(|p| p.seg).collect(),
            partial_5,
            partial_3,
            phase,
            transl_table,
            translation: q("translation")
                .map(|t| t.chars().filter(|c| !c.is_whitespace()).collect()),
            transl_except: f
                .qualifier_values("transl_except")
                .filter_map(parse_transl_except)
                .collect(),
            pseudo: has("pseudo") || has("pseudogene"),
            exception: q("exception"),
            line,
        });
    }
    let mut bases = seq.seq;
    bases.make_ascii_uppercase();
    let out = AnnotatedSequence {
        name,
        description: seq.definition.clone().or(seq.accession.clone()),
        organism: seq.source.and_then(|s| s.organism),
        seq: bases,
        circular: seq.topology == gb_io::seq::Topology::Circular,
        features,
        file: label.to_string(),
    };
    out.validate_bounds()?;
    Ok(out)
}
