//! Per-nucleotide annotation tracks: CDS (strand-aware), codon position, amino acid and
//! region class (gene / tRNA / rRNA / other RNA / intergenic).
//!
//! Genes overlap (phiX174 reads gene B inside gene A in another frame), so a position can be
//! in two codons at once. Tracks therefore store **bit sets** per position and lose nothing:
//!
//! * `cds`: bit 0 = inside a forward-strand CDS, bit 1 = reverse-strand CDS;
//! * `codon`: bits 0–2 = codon position 1/2/3 of a forward CDS, bits 3–5 = of a reverse CDS;
//! * `amino_acid`: bit *i* = part of a codon for [`AMINO_ACIDS`]\[i\] (bit 20 = stop);
//! * `region`: one [`Region`] per position, by precedence tRNA > rRNA > other RNA > gene.
//!
//! Binary targets for neuron analyses come from [`Tracks::targets`].
//!
//! ```
//! use genolm::data::annotation::parse_gff3_bytes;
//! use genolm::data::tracks::{Tracks, TrackOptions};
//! let gff = b"##gff-version 3\nc\t.\tCDS\t2\t10\t.\t+\t0\tID=x\n##FASTA\n>c\nAATGAAATAAC\n";
//! let seqs = parse_gff3_bytes(gff, "x.gff3", None).unwrap();
//! let t = Tracks::from_annotation(&seqs[0], &TrackOptions::default()).unwrap();
//! assert_eq!(t.cds_mask(), vec![0,1,1,1,1,1,1,1,1,1,0]);
//! assert_eq!(t.codon_position(3), Some(3)); // the G of ATG
//! assert_eq!(t.codon_position(4), Some(1));
//! assert!(t.has_amino_acid(4, b'K'));
//! ```

use serde::{Deserialize, Serialize};

use super::annotation::{AnnotatedSequence, Feature, Strand};
use super::genetic_code::{aa_index, CodeCache, GeneticCode, AMINO_ACIDS};
use crate::Result;

/// Region class of a position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[repr(u8)]
pub enum Region {
    /// Not inside any gene or RNA feature.
    Intergenic = 0,
    /// Inside a gene (or CDS/mRNA) that is not a tRNA/rRNA/ncRNA.
    Gene = 1,
    /// Inside a tRNA.
    Trna = 2,
    /// Inside an rRNA.
    Rrna = 3,
    /// Inside another non-coding RNA (ncRNA, snoRNA, tmRNA, misc_RNA …).
    OtherRna = 4,
}

impl Region {
    /// All classes, in code order.
    pub const ALL: [Region; 5] = [
        Region::Intergenic,
        Region::Gene,
        Region::Trna,
        Region::Rrna,
        Region::OtherRna,
    ];
    /// Short name used in target names.
    pub fn name(self) -> &'static str {
        match self {
            Region::Intergenic => "intergenic",
            Region::Gene => "gene",
            Region::Trna => "tRNA",
            Region::Rrna => "rRNA",
            Region::OtherRna => "other_RNA",
        }
    }
    fn of_kind(kind: &str) -> Option<Region> {
        match kind {
            "tRNA" | "tRNA_gene" => Some(Region::Trna),
            "rRNA" | "rRNA_gene" => Some(Region::Rrna),
            "ncRNA" | "snoRNA" | "snRNA" | "tmRNA" | "misc_RNA" | "ncRNA_gene" | "snoRNA_gene"
            | "snRNA_gene" | "antisense_RNA" | "RNase_P_RNA" | "SRP_RNA" => Some(Region::OtherRna),
            "gene" | "CDS" | "mRNA" | "pseudogene" | "transposable_element_gene" | "exon" => {
                Some(Region::Gene)
            }
            _ => None,
        }
    }
}

/// Options for building tracks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrackOptions {
    /// Genetic code for CDS without `/transl_table` (1 = standard, 11 = bacterial).
    pub default_code: u8,
    /// Include pseudogene CDS in the CDS/codon/amino-acid tracks.
    pub include_pseudo: bool,
}

impl Default for TrackOptions {
    fn default() -> Self {
        Self {
            default_code: 1,
            include_pseudo: false,
        }
    }
}

/// Per-nucleotide tracks of one sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct Tracks {
    /// Sequence name.
    pub name: String,
    /// Bit 0: forward CDS, bit 1: reverse CDS.
    pub cds: Vec<u8>,
    /// Bits 0–2: forward codon position 1–3; bits 3–5: reverse codon position 1–3.
    pub codon: Vec<u8>,
    /// Bit i: part of a codon for `AMINO_ACIDS[i]`.
    pub amino_acid: Vec<u32>,
    /// Region class per position.
    pub region: Vec<Region>,
}

impl Tracks {
    /// The tracks of the first `n` bases (all of them when the sequence is shorter).
    pub fn prefix(&self, n: usize) -> Tracks {
        let n = n.min(self.cds.len());
        Tracks {
            name: self.name.clone(),
            cds: self.cds[..n].to_vec(),
            codon: self.codon[..n].to_vec(),
            amino_acid: self.amino_acid[..n].to_vec(),
            region: self.region[..n].to_vec(),
        }
    }

    /// Empty tracks (all intergenic) for a sequence of `len` bases.
    pub fn empty(name: &str, len: usize) -> Self {
        Self {
            name: name.to_string(),
            cds: vec![0; len],
            codon: vec![0; len],
            amino_acid: vec![0; len],
            region: vec![Region::Intergenic; len],
        }
    }

    /// Number of positions.
    pub fn len(&self) -> usize {
        self.cds.len()
    }

    /// The tracks of bases `range` (clamped to the sequence), to analyse a window of a genome
    /// with the states of that window.
    ///
    /// ```
    /// let t = genolm::data::tracks::Tracks::empty("x", 100).window(10..40);
    /// assert_eq!(t.len(), 30);
    /// ```
    pub fn window(&self, range: std::ops::Range<usize>) -> Tracks {
        let end = range.end.min(self.len());
        let start = range.start.min(end);
        Tracks {
            name: self.name.clone(),
            cds: self.cds[start..end].to_vec(),
            codon: self.codon[start..end].to_vec(),
            amino_acid: self.amino_acid[start..end].to_vec(),
            region: self.region[start..end].to_vec(),
        }
    }

    /// True for a zero-length sequence.
    pub fn is_empty(&self) -> bool {
        self.cds.is_empty()
    }

    /// Build the tracks from an annotated sequence.
    pub fn from_annotation(seq: &AnnotatedSequence, opts: &TrackOptions) -> Result<Self> {
        Self::from_features(&seq.name, &seq.seq, &seq.features, opts)
    }

    /// Build the tracks of sequence `seq` (named `name`) from its features.
    pub fn from_features(
        name: &str,
        seq: &[u8],
        features: &[Feature],
        opts: &TrackOptions,
    ) -> Result<Self> {
        let mut t = Self::empty(name, seq.len());
        // Regions first, by precedence (lower precedence written first).
        let mut by_prec: Vec<(&Feature, Region)> = features
            .iter()
            .filter_map(|f| Region::of_kind(&f.kind).map(|r| (f, r)))
            .collect();
        let prec = |r: Region| match r {
            Region::Intergenic => 0,
            Region::Gene => 1,
            Region::OtherRna => 2,
            Region::Rrna => 3,
            Region::Trna => 4,
        };
        by_prec.sort_by_key(|(_, r)| prec(*r));
        for (f, r) in by_prec {
            for s in &f.segments {
                for p in s.start..s.end.min(seq.len()) {
                    if prec(t.region[p]) < prec(r) {
                        t.region[p] = r;
                    }
                }
            }
        }
        let mut codes = CodeCache::default();
        for f in features
            .iter()
            .filter(|f| f.is_cds() && (opts.include_pseudo || !f.pseudo))
        {
            if f.segments.iter().any(|s| s.end > seq.len()) {
                return Err(crate::Error::Input(format!(
                    "CDS {} lies past the end of {name} ({} bp)",
                    f.label(),
                    seq.len()
                )));
            }
            t.add_cds(
                f,
                seq,
                codes.get(f.transl_table.unwrap_or(opts.default_code))?,
            );
        }
        Ok(t)
    }

    fn add_cds(&mut self, f: &Feature, genome: &[u8], code: &GeneticCode) {
        for (p, s) in f.spliced_positions() {
            self.cds[p] |= if s == Strand::Forward { 1 } else { 2 };
        }
        let pos = f.coding_positions();
        let prot = f.translate(genome, code);
        for (c, codon) in pos.chunks_exact(3).enumerate() {
            let aa_bit = aa_index(prot[c]).map_or(0, |i| 1u32 << i);
            for (j, &(p, s)) in codon.iter().enumerate() {
                let shift = if s == Strand::Forward { j } else { 3 + j };
                self.codon[p] |= 1 << shift;
                self.amino_acid[p] |= aa_bit;
            }
        }
    }

    /// 1 inside any CDS (either strand), else 0.
    pub fn cds_mask(&self) -> Vec<u8> {
        self.cds.iter().map(|&c| (c != 0) as u8).collect()
    }

    /// Codon position (1, 2 or 3) at `i`; forward strand wins where both strands code.
    pub fn codon_position(&self, i: usize) -> Option<u8> {
        let c = self.codon[i];
        (0..6)
            .find(|b| c & (1 << b) != 0)
            .map(|b| (b % 3) as u8 + 1)
    }

    /// The codon-position bits of one strand's CDS at `i` (bit 0, 1, 2 = codon position 1, 2,
    /// 3; several bits where overlapping genes on that strand use different frames).
    ///
    /// ```
    /// use genolm::data::annotation::Strand;
    /// # use genolm::prelude::*;
    /// # let corpus = Corpus::embedded()?;
    /// # let phix = &corpus.genomes[corpus.index_of("phiX174").unwrap()];
    /// # let t = phix.contigs[0].tracks(&phix.track_options()).unwrap()?;
    /// let i = (0..t.len()).find(|&i| t.single_frame(i).is_some()).unwrap();
    /// let (strand, p) = t.single_frame(i).unwrap();
    /// assert_eq!(t.strand_codon_bits(i, strand), 1 << p);
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn strand_codon_bits(&self, i: usize, strand: Strand) -> u8 {
        match strand {
            Strand::Forward => self.codon[i] & 0b111,
            Strand::Reverse => (self.codon[i] >> 3) & 0b111,
        }
    }

    /// The strand and codon position (0, 1 or 2, in that strand's reading direction) at `i`
    /// when exactly one reading frame of one strand covers it; `None` outside CDS and where
    /// frames or strands overlap.
    pub fn single_frame(&self, i: usize) -> Option<(Strand, usize)> {
        let c = self.codon[i];
        if c.count_ones() != 1 {
            return None;
        }
        let p = c.trailing_zeros() as usize;
        Some(if p < 3 {
            (Strand::Forward, p)
        } else {
            (Strand::Reverse, p - 3)
        })
    }

    /// Is position `i` part of a codon for amino acid `aa` (one-letter code, `*` = stop)?
    pub fn has_amino_acid(&self, i: usize, aa: u8) -> bool {
        aa_index(aa).is_some_and(|k| self.amino_acid[i] & (1 << k) != 0)
    }

    /// Named 0/1 targets for neuron analyses: `CDS`, `CDS+`, `CDS-`, `codon_pos_1..3`,
    /// one per amino acid (`aa_K`, …, `aa_stop`), and one per region class.
    pub fn targets(&self) -> Vec<(String, Vec<u8>)> {
        let mut out = vec![
            ("CDS".to_string(), self.cds_mask()),
            (
                "CDS+".to_string(),
                self.cds.iter().map(|&c| c & 1).collect(),
            ),
            (
                "CDS-".to_string(),
                self.cds.iter().map(|&c| (c >> 1) & 1).collect(),
            ),
        ];
        for k in 0..3 {
            out.push((
                format!("codon_pos_{}", k + 1),
                self.codon
                    .iter()
                    .map(|&c| ((c & (1 << k)) != 0 || (c & (1 << (k + 3))) != 0) as u8)
                    .collect(),
            ));
        }
        for (i, &aa) in AMINO_ACIDS.iter().enumerate() {
            let name = if aa == b'*' {
                "aa_stop".to_string()
            } else {
                format!("aa_{}", aa as char)
            };
            out.push((
                name,
                self.amino_acid
                    .iter()
                    .map(|&a| ((a >> i) & 1) as u8)
                    .collect(),
            ));
        }
        for r in Region::ALL {
            out.push((
                format!("region_{}", r.name()),
                self.region.iter().map(|&x| (x == r) as u8).collect(),
            ));
        }
        out
    }

    /// Fraction of positions inside a CDS.
    pub fn coding_fraction(&self) -> f64 {
        if self.is_empty() {
            return 0.0;
        }
        self.cds.iter().filter(|&&c| c != 0).count() as f64 / self.len() as f64
    }
}

/// Check that the tracks agree, codon by codon, with the translation of every CDS they were
/// built from: each codon's three positions carry its codon-position bit and amino-acid bit.
/// Returns the labels of CDS that disagree (empty when all agree).
pub fn verify_tracks(
    seq: &AnnotatedSequence,
    tracks: &Tracks,
    opts: &TrackOptions,
) -> Result<Vec<String>> {
    let mut bad = Vec::new();
    let mut codes = CodeCache::default();
    for f in seq.cds().filter(|f| opts.include_pseudo || !f.pseudo) {
        let prot = f.translate(
            &seq.seq,
            codes.get(f.transl_table.unwrap_or(opts.default_code))?,
        );
        let pos = f.coding_positions();
        let ok = pos.chunks_exact(3).enumerate().all(|(c, codon)| {
            codon.iter().enumerate().all(|(j, &(p, s))| {
                let shift = if s == Strand::Forward { j } else { 3 + j };
                let codon_ok = tracks.codon[p] & (1 << shift) != 0;
                let aa_ok = match aa_index(prot[c]) {
                    Some(k) => tracks.amino_acid[p] & (1 << k) != 0,
                    None => true,
                };
                codon_ok && aa_ok && tracks.cds[p] != 0
            })
        });
        if !ok {
            bad.push(f.label());
        }
    }
    Ok(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::annotation::parse_gff3_bytes;

    #[test]
    fn overlapping_frames_keep_both() {
        // Two forward CDS in different frames sharing bases 5..10.
        let gff = b"##gff-version 3
c\t.\tCDS\t1\t12\t.\t+\t0\tID=a
c\t.\tCDS\t5\t13\t.\t+\t0\tID=b
c\t.\ttRNA\t14\t16\t.\t-\t.\tID=t
##FASTA
>c
ATGAATGAATAGTAAGC
";
        let s = parse_gff3_bytes(gff, "o.gff3", None).unwrap();
        let t = Tracks::from_annotation(&s[0], &TrackOptions::default()).unwrap();
        // Position 5 (0-based 4) is codon position 2 of `a` and 1 of `b`.
        assert_eq!(t.codon[4] & 0b111, 0b011);
        assert!(t.has_amino_acid(4, b'N') && t.has_amino_acid(4, b'M'));
        assert_eq!(t.region[14], Region::Trna);
        assert!(verify_tracks(&s[0], &t, &TrackOptions::default())
            .unwrap()
            .is_empty());
        let names: Vec<_> = t.targets().into_iter().map(|(n, _)| n).collect();
        assert!(names.contains(&"aa_K".to_string()) && names.contains(&"region_tRNA".to_string()));
        assert_eq!(names.len(), 3 + 3 + 21 + 5);
    }
}
