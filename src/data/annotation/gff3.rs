//! GFF3 (noodles-gff) with its FASTA → [`AnnotatedSequence`]s; `Parent` groups become joined
//! features.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{check_bounds, AnnotatedSequence, Feature, Segment, Strand};
use crate::data::io::{describe_io, LineCounter};
use crate::{Error, Result};

/// Read a GFF3 file (plain or gzip) with the sequences from `fasta`, else its own `##FASTA`
/// section, else the FASTA file beside it with the same name ([`sibling_fasta`]).
pub fn read_gff3(path: impl AsRef<Path>, fasta: Option<&Path>) -> Result<Vec<AnnotatedSequence>> {
    let path = path.as_ref();
    let bytes = crate::data::io::read_all(path)?;
    gff3_with_sequences(path, &bytes, fasta)
}

/// [`read_gff3`] of bytes already read from `path`.
pub(super) fn gff3_with_sequences(
    path: &Path,
    bytes: &[u8],
    fasta: Option<&Path>,
) -> Result<Vec<AnnotatedSequence>> {
    let embeds =
        bytes.starts_with(b"##FASTA") || memchr::memmem::find(bytes, b"\n##FASTA").is_some();
    let beside = (fasta.is_none() && !embeds)
        .then(|| sibling_fasta(path))
        .flatten();
    let seqs = match fasta.or(beside.as_deref()) {
        Some(f) => Some(crate::data::fasta::read_fasta(f)?),
        None => None,
    };
    parse_gff3_bytes(bytes, &path.display().to_string(), seqs)
}

/// The FASTA file beside a GFF3 file with the same name but for its extension, as NCBI
/// (`…_genomic.gff` and `…_genomic.fna`) and SGD write them: `x.gff3` finds `x.fa`, `x.fna`,
/// `x.fasta` (any case, plain or compressed) when exactly one such file is there.
///
/// ```
/// use genolm::data::annotation::sibling_fasta;
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("chrI.fa"), ">chrI\nACGT\n").unwrap();
/// std::fs::write(dir.path().join("chrI.gff3"), "##gff-version 3\n").unwrap();
/// assert_eq!(sibling_fasta(&dir.path().join("chrI.gff3")), Some(dir.path().join("chrI.fa")));
/// assert_eq!(sibling_fasta(&dir.path().join("other.gff3")), None);
/// ```
pub fn sibling_fasta(gff3: &Path) -> Option<PathBuf> {
    use crate::data::io::file_kind;
    let (stem, _) = file_kind(gff3);
    let dir = match gff3.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && file_kind(p) == (stem.clone(), "fasta"))
        .collect();
    (found.len() == 1).then(|| found.remove(0))
}

/// The features of a GFF3 file, per sequence id, before they meet their sequences.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gff3Features {
    /// `(seqid, features)` in order of first appearance.
    pub by_seqid: Vec<(String, Vec<Feature>)>,
    /// Records of an embedded `##FASTA` section, if any.
    pub fasta: Vec<crate::data::fasta::SeqRecord>,
}

impl Gff3Features {
    /// Match each feature list to its sequence: `find(seqid)` gives the index and length of
    /// the sequence with that name. Returns `(index, features)` pairs after checking bounds;
    /// errors name the line of a feature whose sequence is missing or that runs past its end.
    pub fn resolve(
        self,
        label: &str,
        find: impl Fn(&str) -> Option<(usize, usize)>,
    ) -> Result<Vec<(usize, Vec<Feature>)>> {
        self.by_seqid
            .into_iter()
            .map(|(seqid, feats)| {
                let Some((idx, len)) = find(&seqid) else {
                    let line = feats.first().map_or(1, |f| f.line);
                    return Err(Error::parse(
                        label,
                        line,
                        format!("sequence '{seqid}' is not in the FASTA file"),
                    ));
                };
                check_bounds(label, &seqid, len, &feats)?;
                Ok((idx, feats))
            })
            .collect()
    }
}

/// Parse GFF3 held in memory. Sequences come from `seqs`, or from a `##FASTA` section.
pub fn parse_gff3_bytes(
    bytes: &[u8],
    label: &str,
    seqs: Option<Vec<crate::data::fasta::SeqRecord>>,
) -> Result<Vec<AnnotatedSequence>> {
    let mut parsed = parse_gff3_features(bytes, label)?;
    let mut seqs = seqs.unwrap_or_default();
    seqs.append(&mut parsed.fasta);
    if seqs.is_empty() {
        return Err(Error::Input(format!(
            "{label}: a GFF3 file needs its sequences: give the FASTA file (--fasta), put it \
             beside the GFF3 file under the same name (x.gff3 and x.fa, x.fna or x.fasta, \
             plain or gzip), or embed a ##FASTA section"
        )));
    }
    let names = crate::data::names::SeqNames::new(seqs.iter().map(|r| r.name.as_str()));
    let resolved = parsed.resolve(label, |id| names.find(id).map(|i| (i, seqs[i].seq.len())))?;
    drop(names);
    Ok(resolved
        .into_iter()
        .map(|(i, features)| AnnotatedSequence {
            name: seqs[i].name.clone(),
            description: seqs[i].description.clone(),
            organism: None,
            seq: std::mem::take(&mut seqs[i].seq),
            circular: false,
            features,
            file: label.to_string(),
        })
        .collect())
}

/// Parse the features of a GFF3 file (and its `##FASTA` section, if any) without needing the
/// sequences: CDS rows are grouped by `Parent` (or `ID`) and ordered 5' → 3'.
pub fn parse_gff3_features(bytes: &[u8], label: &str) -> Result<Gff3Features> {
    use noodles_gff as gff;
    let mut lc = LineCounter::new(bytes);
    let mut reader = gff::io::Reader::new(&mut lc);
    let mut line = gff::Line::default();
    // seqid → features; keep seqid order of first appearance.
    let mut order: Vec<String> = Vec::new();
    let mut by_seq: HashMap<String, Vec<Feature>> = HashMap::new();
    // (seqid, group id) → index into by_seq[seqid] for CDS grouping.
    let mut cds_groups: HashMap<(String, String), usize> = HashMap::new();
    let mut embedded_fasta = false;
    loop {
        let line_no = reader.get_ref().line();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return Err(Error::parse(label, line_no, describe_io(&e))),
        }
        if let Some(d) = line.as_directive() {
            if d.key().as_ref() as &[u8] == b"FASTA" {
                embedded_fasta = true;
                break;
            }
            continue;
        }
        let Some(rec) = line.as_record() else {
            continue;
        };
        let err = |m: String| Error::parse(label, line_no, m);
        let rec = rec.map_err(|e| err(format!("bad GFF3 record: {e}")))?;
        let seqid = rec.reference_sequence_name().to_string();
        let ty = rec.ty().to_string();
        let start = usize::from(
            rec.start()
                .map_err(|e| err(format!("bad start (column 4): {e}")))?,
        );
        let end = usize::from(
            rec.end()
                .map_err(|e| err(format!("bad end (column 5): {e}")))?,
        );
        if start > end {
            return Err(err(format!("start {start} is greater than end {end}")));
        }
        let strand = match rec
            .strand()
            .map_err(|e| err(format!("bad strand (column 7): {e}")))?
        {
            gff::feature::record::Strand::Reverse => Strand::Reverse,
            _ => Strand::Forward,
        };
        let phase = match rec.phase() {
            Some(Ok(gff::feature::record::Phase::Zero)) | None => 0,
            Some(Ok(gff::feature::record::Phase::One)) => 1,
            Some(Ok(gff::feature::record::Phase::Two)) => 2,
            Some(Err(e)) => return Err(err(format!("bad phase (column 8): {e}"))),
        };
        if ty == "CDS" && rec.phase().is_none() {
            return Err(err("CDS row without a phase (column 8)".into()));
        }
        let attrs = rec.attributes();
        let attr = |k: &str| -> Option<String> {
            match attrs.get(k.as_bytes()) {
                Some(Ok(v)) => {
                    let s: &bstr::BStr = v.as_ref();
                    Some(s.to_string())
                }
                _ => None,
            }
        };
        let id = attr("ID");
        let parent = attr("Parent");
        let name = attr("Name").or_else(|| attr("gene"));
        let transl_table = attr("transl_table").and_then(|t| t.parse().ok());
        let seg = Segment {
            start: start - 1,
            end,
            strand,
        };
        if !by_seq.contains_key(&seqid) {
            order.push(seqid.clone());
        }
        let feats = by_seq.entry(seqid.clone()).or_default();
        if ty == "CDS" {
            let group = parent
                .clone()
                .or(id.clone())
                .unwrap_or_else(|| format!("line{line_no}"));
            let key = (seqid.clone(), group.clone());
            if let Some(&idx) = cds_groups.get(&key) {
                let f: &mut Feature = &mut feats[idx];
                f.segments.push(seg);
                // Keep the phase of the 5'-most segment.
                let five_prime = match strand {
                    Strand::Forward => f.segments.iter().all(|s| s.start >= seg.start),
                    Strand::Reverse => f.segments.iter().all(|s| s.end <= seg.end),
                };
                if five_prime {
                    f.phase = phase;
                }
                continue;
            }
            cds_groups.insert(key, feats.len());
            feats.push(Feature {
                kind: ty,
                id: Some(group),
                name,
                segments: vec![seg],
                partial_5: false,
                partial_3: false,
                phase,
                transl_table,
                translation: None,
                transl_except: Vec::new(),
                pseudo: false,
                exception: attr("exception"),
                line: line_no,
            });
        } else {
            feats.push(Feature {
                pseudo: ty.contains("pseudo"),
                kind: ty,
                id: id.or(parent),
                name,
                segments: vec![seg],
                partial_5: false,
                partial_3: false,
                phase: 0,
                transl_table,
                translation: None,
                transl_except: Vec::new(),
                exception: attr("exception"),
                line: line_no,
            });
        }
    }
    // Order CDS segments 5' → 3'.
    for feats in by_seq.values_mut() {
        for f in feats.iter_mut().filter(|f| f.segments.len() > 1) {
            let all_rev = f.segments.iter().all(|s| s.strand == Strand::Reverse);
            let all_fwd = f.segments.iter().all(|s| s.strand == Strand::Forward);
            if all_fwd {
                f.segments.sort_by_key(|s| s.start);
            } else if all_rev {
                f.segments.sort_by_key(|s| std::cmp::Reverse(s.start));
            }
        }
    }
    let fasta_line = reader.get_ref().line();
    let mut fasta = Vec::new();
    if embedded_fasta {
        let mut rest = Vec::new();
        lc.read_to_end(&mut rest)
            .map_err(|e| Error::parse(label, fasta_line, describe_io(&e)))?;
        let r = crate::data::fasta::SeqReader::new(
            Box::new(std::io::Cursor::new(rest)),
            format!("{label} (##FASTA section after line {fasta_line})"),
            Default::default(),
        )?;
        fasta = r.collect::<Result<Vec<_>>>()?;
    }
    let by_seqid = order
        .into_iter()
        .map(|id| {
            let f = by_seq.remove(&id).unwrap_or_default();
            (id, f)
        })
        .collect();
    Ok(Gff3Features { by_seqid, fasta })
}
