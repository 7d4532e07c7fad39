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

use std::path::Path;

use super::alphabet::complement;
use super::genetic_code::{CodeCache, GeneticCode};
use crate::{Error, Result};

mod bed;
mod genbank;
mod gff3;

pub use bed::{parse_bed, read_bed};
pub use genbank::{parse_genbank_bytes, read_genbank};
pub use gff3::{parse_gff3_bytes, parse_gff3_features, read_gff3, sibling_fasta, Gff3Features};

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
    /// `/exception` (GenBank) or the `exception` attribute (GFF3): why the recorded protein
    /// may differ from the genome's translation — `RNA editing`, `ribosomal slippage`,
    /// `annotated by transcript or proteomic data`, …
    pub exception: Option<String>,
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

/// Read an annotation file of either format. For GFF3, `fasta` supplies the sequences, else
/// the file's own `##FASTA` section, else the FASTA file beside it under the same name
/// ([`sibling_fasta`]).
pub fn read_annotation(
    path: impl AsRef<Path>,
    fasta: Option<&Path>,
) -> Result<Vec<AnnotatedSequence>> {
    let path = path.as_ref();
    let bytes = super::io::read_all(path)?;
    let label = path.display().to_string();
    match detect_format(&bytes) {
        Some(AnnotationFormat::GenBank) => parse_genbank_bytes(&bytes, &label),
        Some(AnnotationFormat::Gff3) => gff3::gff3_with_sequences(path, &bytes, fasta),
        None => Err(Error::parse(
            label,
            1,
            "not a GenBank (LOCUS …) or GFF3 (##gff-version 3) file",
        )),
    }
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
    /// Why not, when not; for a CDS with an `/exception`, how its translation differs.
    pub reason: Option<String>,
    /// The feature's `/exception` when its translation differs from the recorded protein as
    /// the exception says it may (RNA editing, …): counted as ok, with `reason` saying where.
    pub exception: Option<String>,
}

/// Re-translate every CDS and compare with its `/translation`, or, where none is recorded,
/// check that it is a clean ORF (start codon … one final stop, length a multiple of 3). A CDS
/// whose `/exception` says its protein differs from the genome's translation (RNA editing in
/// plastids and mitochondria, ribosomal slippage, …) and does differ is ok, with the
/// exception and the first difference recorded ([`CdsCheck::exception`]).
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
            exception: None,
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
                // the record says its protein is not the genome's translation
                if let Some(e) = &f.exception {
                    check.ok = true;
                    check.exception = Some(e.clone());
                }
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

// `TrackFeature` is the plot layer's (which knows nothing of annotations); building it from
// features belongs to the data stage.
impl crate::plot::TrackFeature {
    /// One box per segment of every CDS in `features` (spliced genes give several boxes),
    /// labelled by gene name, for [`Figure::track`](crate::plot::Figure::track) and activation tracks.
    ///
    /// ```
    /// use genolm::prelude::*;
    /// let corpus = Corpus::embedded()?;
    /// let phix = &corpus.genomes[corpus.index_of("phiX174").unwrap()];
    /// let boxes = TrackFeature::cds(phix.contigs[0].features.as_deref().unwrap_or(&[]));
    /// assert!(boxes.len() >= 10);
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn cds(features: &[Feature]) -> Vec<crate::plot::TrackFeature> {
        features
            .iter()
            .filter(|f| f.is_cds())
            .flat_map(|f| {
                f.segments.iter().map(move |sg| crate::plot::TrackFeature {
                    start: sg.start,
                    end: sg.end,
                    strand: match sg.strand {
                        Strand::Reverse => -1,
                        _ => 1,
                    },
                    label: f.name.clone().unwrap_or_else(|| f.kind.clone()),
                })
            })
            .collect()
    }
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
