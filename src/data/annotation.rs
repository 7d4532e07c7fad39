//! Genome annotations from GenBank (gb-io) and GFF3 (noodles-gff), plain or gzip, as one
//! model: an [`AnnotatedSequence`] with [`Feature`]s whose locations are lists of stranded
//! [`Segment`]s in transcription order. That covers joins (spliced genes, GFF3 `Parent`
//! groups), complements, origin-spanning features of circular genomes and trans-splicing
//! (segments on both strands, as chloroplast *rps12*).
//!
//! ```
//! use genolm::data::annotation::parse_genbank_bytes;
//! let gb = b"LOCUS       toy                       12 bp    DNA     linear   UNK 01-JAN-2000
//! FEATURES             Location/Qualifiers
//!      CDS             complement(4..12)
//!                      /locus_tag=\"t1\"
//!                      /translation=\"MK\"
//! ORIGIN
//!         1 aaattatttc at
//! //
//! ";
//! let recs = parse_genbank_bytes(gb, "toy.gb").unwrap();
//! let cds = &recs[0].features[0];
//! assert_eq!(cds.id.as_deref(), Some("t1"));
//! assert_eq!(cds.line, 3);
//! let code = genolm::data::genetic_code::GeneticCode::standard();
//! assert_eq!(cds.translate(&recs[0].seq, &code), b"MK*".to_vec());
//! ```

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use gb_io::seq::{After, Before, Location};

use super::alphabet::complement;
use super::genetic_code::{aa_from_three, CodeCache, GeneticCode};
use super::io::{describe_io, LineCounter};
use crate::{Error, Result};

/// Strand of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Strand {
    /// Forward (`+`).
    Forward,
    /// Reverse (`-`, `complement(...)`).
    Reverse,
}

/// A contiguous stretch of a feature: 0-based half-open `start..end` on one strand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// First base (0-based).
    pub start: usize,
    /// One past the last base.
    pub end: usize,
    /// Strand.
    pub strand: Strand,
}

impl Segment {
    /// Length in bases.
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }
}

/// The bases read at stranded positions: the genome's base on the forward strand, its
/// complement on the reverse strand.
///
/// ```
/// use genolm::data::annotation::{stranded_bases, Strand};
/// assert_eq!(stranded_bases(b"ACGT", &[(0, Strand::Forward), (0, Strand::Reverse)]), b"AT".to_vec());
/// ```
pub fn stranded_bases(genome: &[u8], positions: &[(usize, Strand)]) -> Vec<u8> {
    positions
        .iter()
        .map(|&(p, s)| match s {
            Strand::Forward => genome[p],
            Strand::Reverse => complement(genome[p]),
        })
        .collect()
}

/// One annotated feature (CDS, gene, tRNA, …).
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// Feature key (GenBank) or type (GFF3 column 3), e.g. `CDS`, `gene`, `tRNA`.
    pub kind: String,
    /// Identifier: `/locus_tag` (GenBank) or `ID`/`Parent` (GFF3).
    pub id: Option<String>,
    /// Human name: `/gene` or GFF3 `Name`/`gene`.
    pub name: Option<String>,
    /// Segments in transcription order (5' → 3').
    pub segments: Vec<Segment>,
    /// The 5' end is incomplete (`<` / `>` in GenBank, `start_range`/`Is_circular` not used).
    pub partial_5: bool,
    /// The 3' end is incomplete.
    pub partial_3: bool,
    /// Bases to skip at the 5' end before the first full codon (`/codon_start` − 1, GFF3 phase).
    pub phase: usize,
    /// `/transl_table`, or the GFF3 `transl_table` attribute.
    pub transl_table: Option<u8>,
    /// The recorded protein (`/translation`), if any.
    pub translation: Option<String>,
    /// `/transl_except`: (genomic position of the codon's first base, amino acid letter).
    pub transl_except: Vec<(usize, u8)>,
    /// `/pseudo` or `/pseudogene`: not expected to translate.
    pub pseudo: bool,
    /// 1-based line of the feature in its file.
    pub line: usize,
}

impl Feature {
    /// Is this a protein-coding sequence feature?
    pub fn is_cds(&self) -> bool {
        self.kind == "CDS"
    }

    /// A label for reports: id, else name, else kind and line.
    pub fn label(&self) -> String {
        match (&self.id, &self.name) {
            (Some(i), Some(n)) if i != n => format!("{i} ({n})"),
            (Some(i), _) => i.clone(),
            (None, Some(n)) => n.clone(),
            (None, None) => format!("{} at line {}", self.kind, self.line),
        }
    }

    /// Smallest and largest genomic coordinate covered (0-based, half-open).
    pub fn bounds(&self) -> Option<(usize, usize)> {
        let s = self.segments.iter().map(|s| s.start).min()?;
        let e = self.segments.iter().map(|s| s.end).max()?;
        Some((s, e))
    }

    /// Genomic positions in transcription order, each with its strand.
    pub fn spliced_positions(&self) -> Vec<(usize, Strand)> {
        let mut out = Vec::with_capacity(self.segments.iter().map(|s| s.len()).sum());
        for s in &self.segments {
            match s.strand {
                Strand::Forward => out.extend((s.start..s.end).map(|p| (p, Strand::Forward))),
                Strand::Reverse => out.extend((s.start..s.end).rev().map(|p| (p, Strand::Reverse))),
            }
        }
        out
    }

    /// Positions from the first full codon on (`phase` bases skipped).
    pub fn coding_positions(&self) -> Vec<(usize, Strand)> {
        let mut p = self.spliced_positions();
        p.drain(..self.phase.min(p.len()));
        p
    }

    /// The spliced (transcribed-strand) sequence of the feature.
    pub fn spliced_seq(&self, genome: &[u8]) -> Vec<u8> {
        stranded_bases(genome, &self.spliced_positions())
    }

    /// Translate the CDS (trailing stop included as `*`, as codons read), honouring the
    /// phase, alternative starts for 5'-complete CDS and `/transl_except`.
    pub fn translate(&self, genome: &[u8], code: &GeneticCode) -> Vec<u8> {
        let pos = self.coding_positions();
        let bases = stranded_bases(genome, &pos);
        let mut prot = code.translate(&bases, !self.partial_5 && self.phase == 0);
        for &(gpos, aa) in &self.transl_except {
            if let Some(i) = pos.iter().position(|&(p, _)| p == gpos) {
                if i % 3 == 0 && i / 3 < prot.len() {
                    prot[i / 3] = aa;
                }
            }
        }
        prot
    }
}

/// A sequence with its features and metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnotatedSequence {
    /// Sequence name (LOCUS name / GFF3 seqid).
    pub name: String,
    /// Accession.version or definition line, if known.
    pub description: Option<String>,
    /// Source organism, if known.
    pub organism: Option<String>,
    /// Upper-case bases.
    pub seq: Vec<u8>,
    /// Circular topology.
    pub circular: bool,
    /// Features in file order.
    pub features: Vec<Feature>,
    /// The file the annotation came from.
    pub file: String,
}

impl AnnotatedSequence {
    /// The CDS features.
    pub fn cds(&self) -> impl Iterator<Item = &Feature> {
        self.features.iter().filter(|f| f.is_cds())
    }

    /// Check every feature lies inside the sequence; the error names the feature's line.
    pub fn validate_bounds(&self) -> Result<()> {
        check_bounds(&self.file, &self.name, self.seq.len(), &self.features)
    }
}

/// Check that every segment of `features` lies inside a sequence `name` of `len` bases; the
/// error names the offending feature's line in `file`.
pub fn check_bounds(file: &str, name: &str, len: usize, features: &[Feature]) -> Result<()> {
    for f in features {
        for s in &f.segments {
            if s.end > len || s.start > s.end {
                return Err(Error::parse(
                    file,
                    f.line,
                    format!(
                        "{} {} spans {}..{}, past the end of sequence {name} ({len} bp)",
                        f.kind,
                        f.label(),
                        s.start + 1,
                        s.end,
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Annotation file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnnotationFormat {
    /// GenBank flat file.
    GenBank,
    /// GFF3.
    Gff3,
}

/// Guess the format from the first non-blank bytes (decompressed).
pub fn detect_format(head: &[u8]) -> Option<AnnotationFormat> {
    let s = String::from_utf8_lossy(&head[..head.len().min(4096)]);
    let first = s.lines().find(|l| !l.trim().is_empty())?;
    if first.starts_with("LOCUS") {
        Some(AnnotationFormat::GenBank)
    } else if first.starts_with("##gff-version")
        || first.starts_with('#')
        || first.split('\t').count() == 9
    {
        Some(AnnotationFormat::Gff3)
    } else {
        None
    }
}

/// Read an annotation file of either format. For GFF3, `fasta` supplies the sequences
/// unless the file embeds them after `##FASTA`.
pub fn read_annotation(
    path: impl AsRef<Path>,
    fasta: Option<&Path>,
) -> Result<Vec<AnnotatedSequence>> {
    let path = path.as_ref();
    let bytes = super::io::read_all(path)?;
    let label = path.display().to_string();
    match detect_format(&bytes) {
        Some(AnnotationFormat::GenBank) => parse_genbank_bytes(&bytes, &label),
        Some(AnnotationFormat::Gff3) => {
            let seqs = match fasta {
                Some(f) => Some(super::fasta::read_fasta(f)?),
                None => None,
            };
            parse_gff3_bytes(&bytes, &label, seqs)
        }
        None => Err(Error::parse(
            label,
            1,
            "not a GenBank (LOCUS …) or GFF3 (##gff-version 3) file",
        )),
    }
}

/// Read a GenBank file (plain or gzip), one [`AnnotatedSequence`] per record.
pub fn read_genbank(path: impl AsRef<Path>) -> Result<Vec<AnnotatedSequence>> {
    let path = path.as_ref();
    let bytes = super::io::read_all(path)?;
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

/// Read a GFF3 file (plain or gzip) with the sequences from `fasta` (or its own `##FASTA`).
pub fn read_gff3(path: impl AsRef<Path>, fasta: Option<&Path>) -> Result<Vec<AnnotatedSequence>> {
    let path = path.as_ref();
    let bytes = super::io::read_all(path)?;
    let seqs = match fasta {
        Some(f) => Some(super::fasta::read_fasta(f)?),
        None => None,
    };
    parse_gff3_bytes(&bytes, &path.display().to_string(), seqs)
}

/// The features of a GFF3 file, per sequence id, before they meet their sequences.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Gff3Features {
    /// `(seqid, features)` in order of first appearance.
    pub by_seqid: Vec<(String, Vec<Feature>)>,
    /// Records of an embedded `##FASTA` section, if any.
    pub fasta: Vec<super::fasta::SeqRecord>,
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
    seqs: Option<Vec<super::fasta::SeqRecord>>,
) -> Result<Vec<AnnotatedSequence>> {
    let mut parsed = parse_gff3_features(bytes, label)?;
    let mut seqs = seqs.unwrap_or_default();
    seqs.append(&mut parsed.fasta);
    if seqs.is_empty() {
        return Err(Error::Input(format!(
            "{label}: a GFF3 file needs its sequences: pass the FASTA file (or embed a ##FASTA section)"
        )));
    }
    let index: HashMap<&str, usize> = seqs
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.as_str(), i))
        .collect();
    let resolved = parsed.resolve(label, |id| index.get(id).map(|&i| (i, seqs[i].seq.len())))?;
    drop(index);
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
        let r = super::fasta::SeqReader::new(
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

/// Translation check of one CDS.
#[derive(Debug, Clone, PartialEq)]
pub struct CdsCheck {
    /// Feature label (locus tag / name).
    pub label: String,
    /// Line of the feature.
    pub line: usize,
    /// Did it re-translate to its recorded protein (or to a clean ORF)?
    pub ok: bool,
    /// What was compared: `translation` or `orf`.
    pub against: &'static str,
    /// Why not, when not.
    pub reason: Option<String>,
}

/// Re-translate every CDS and compare with its `/translation`, or, where none is recorded,
/// check that it is a clean ORF (start codon … one final stop, length a multiple of 3).
/// `default_code` is used for CDS without `/transl_table`. Pseudogenes are skipped.
pub fn check_translations(seq: &AnnotatedSequence, default_code: u8) -> Result<Vec<CdsCheck>> {
    let mut out = Vec::new();
    let mut codes = CodeCache::default();
    for f in seq.cds().filter(|f| !f.pseudo) {
        let mut prot = f.translate(&seq.seq, codes.get(f.transl_table.unwrap_or(default_code))?);
        let mut check = CdsCheck {
            label: f.label(),
            line: f.line,
            ok: true,
            against: "translation",
            reason: None,
        };
        if let Some(expected) = &f.translation {
            if prot.last() == Some(&b'*') {
                prot.pop();
            }
            let got = String::from_utf8_lossy(&prot);
            if got != *expected {
                let at = got
                    .bytes()
                    .zip(expected.bytes())
                    .position(|(a, b)| a != b)
                    .unwrap_or(got.len().min(expected.len()));
                check.ok = false;
                let res = |p: &str| {
                    p.as_bytes()
                        .get(at)
                        .map_or("end".to_string(), |&c| (c as char).to_string())
                };
                let codon = f
                    .coding_positions()
                    .get(at * 3..at * 3 + 3)
                    .map(|c| String::from_utf8_lossy(&stranded_bases(&seq.seq, c)).into_owned())
                    .unwrap_or_default();
                check.reason = Some(format!(
                    "residue {} is {} (codon {codon}) but recorded as {} ({} vs {} aa)",
                    at + 1,
                    res(&got),
                    res(expected),
                    got.len(),
                    expected.len()
                ));
            }
        } else {
            check.against = "orf";
            let len: usize = f.coding_positions().len();
            let mut problems = Vec::new();
            if !len.is_multiple_of(3) {
                problems.push(format!("length {len} is not a multiple of 3"));
            }
            if !f.partial_5 && prot.first() != Some(&b'M') {
                problems.push("does not start with a start codon".to_string());
            }
            if !f.partial_3 && prot.last() != Some(&b'*') {
                problems.push("does not end with a stop codon".to_string());
            }
            let internal = prot[..prot.len().saturating_sub(1)]
                .iter()
                .filter(|&&a| a == b'*')
                .count();
            if internal > 0 {
                problems.push(format!("{internal} internal stop codon(s)"));
            }
            if !problems.is_empty() {
                check.ok = false;
                check.reason = Some(problems.join("; "));
            }
        }
        out.push(check);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GFF: &[u8] = b"##gff-version 3
c1\tsrc\tgene\t2\t13\t.\t+\t.\tID=g1
c1\tsrc\tCDS\t2\t4\t.\t+\t0\tParent=g1
c1\tsrc\tCDS\t8\t13\t.\t+\t0\tParent=g1
c1\tsrc\tCDS\t14\t19\t.\t-\t0\tID=c2
##FASTA
>c1
AATGCCCAAATAAGTTACATT
";

    #[test]
    fn gff3_groups_and_splices() {
        let s = parse_gff3_bytes(GFF, "t.gff3", None).unwrap();
        assert_eq!(s.len(), 1);
        let cds: Vec<_> = s[0].cds().collect();
        assert_eq!(cds.len(), 2);
        assert_eq!(cds[0].spliced_seq(&s[0].seq), b"ATGAAATAA".to_vec());
        let code = GeneticCode::standard();
        assert_eq!(cds[0].translate(&s[0].seq, &code), b"MK*".to_vec());
        // Reverse strand: 14..19 is GTTACA → revcomp TGTAAC
        assert_eq!(cds[1].spliced_seq(&s[0].seq), b"TGTAAC".to_vec());
        let checks = check_translations(&s[0], 1).unwrap();
        assert!(checks[0].ok);
        assert!(!checks[1].ok);
    }

    #[test]
    fn gff3_errors_have_lines() {
        let bad =
            b"##gff-version 3\nc1\ts\tgene\t9\t3\t.\t+\t.\tID=x\n##FASTA\n>c1\nACGTACGTACGT\n";
        let e = parse_gff3_bytes(bad, "b.gff3", None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("b.gff3:2:"), "{e}");
        let past =
            b"##gff-version 3\n#c\nc1\ts\tCDS\t3\t30\t.\t+\t0\tID=x\n##FASTA\n>c1\nACGTACGTACGT\n";
        let e = parse_gff3_bytes(past, "p.gff3", None)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("p.gff3:3:") && e.contains("past the end"),
            "{e}"
        );
        let missing = b"##gff-version 3\nzz\ts\tgene\t1\t3\t.\t+\t.\tID=x\n##FASTA\n>c1\nACGT\n";
        let e = parse_gff3_bytes(missing, "m.gff3", None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("m.gff3:2:") && e.contains("'zz'"), "{e}");
        let junk = b"##gff-version 3\nc1\ts\tgene\tx\t3\t.\t+\t.\tID=x\n";
        let e = parse_gff3_bytes(junk, "j.gff3", None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("j.gff3:2:"), "{e}");
    }

    #[test]
    fn genbank_join_complement_and_partial() {
        let gb = b"LOCUS       toy                       30 bp    DNA     circular UNK 01-JAN-2000
FEATURES             Location/Qualifiers
     CDS             join(26..30,1..4)
                     /locus_tag=\"wrap\"
     CDS             complement(join(4..6,10..12))
                     /locus_tag=\"rev\"
     CDS             <13..18
                     /codon_start=2
ORIGIN
        1 aaaccctttg ggaaattttc ccgggatgaa
//
";
        let r = parse_genbank_bytes(gb, "toy.gb").unwrap();
        let f = &r[0].features;
        assert_eq!(f[0].spliced_seq(&r[0].seq), b"ATGAAAAAC".to_vec());
        assert_eq!(f[0].line, 3);
        assert_eq!(f[1].segments[0].start, 9); // 10..12 comes first on the reverse strand
        assert_eq!(f[1].spliced_seq(&r[0].seq), b"CCCGGG".to_vec());
        assert_eq!(f[1].line, 5);
        assert!(f[2].partial_5 && f[2].phase == 1);
        assert!(r[0].circular);
    }

    #[test]
    fn genbank_errors() {
        let past = b"LOCUS       toy                       6 bp    DNA     linear   UNK 01-JAN-2000
FEATURES             Location/Qualifiers
     source          1..6
     CDS             1..9
ORIGIN
        1 aaaccc
//
";
        let e = parse_genbank_bytes(past, "p.gb").unwrap_err().to_string();
        assert!(
            e.starts_with("p.gb:4:") && e.contains("past the end"),
            "{e}"
        );
        let trunc = &past[..past.len() - 4];
        let e = parse_genbank_bytes(trunc, "t.gb").unwrap_err().to_string();
        assert!(e.contains("not terminated"), "{e}");
    }
}
