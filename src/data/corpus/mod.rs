//! Corpora of genomes grouped by kingdom (PRO / EUK / VIR), with provenance, genome- and
//! species-level splits, read-sized fragments and reverse-complement augmentation.
//!
//! ```
//! use genolm::data::corpus::{Corpus, Kingdom, SplitOptions, SplitLevel};
//! let corpus = Corpus::embedded().unwrap();            // shipped default, checksums verified
//! assert!(corpus.genomes.iter().any(|g| g.meta.kingdom == Kingdom::Vir));
//! let splits = corpus.split(&SplitOptions { level: SplitLevel::Species, ..Default::default() }).unwrap();
//! // No species is on both sides of the split.
//! for &t in &splits.test {
//!     let sp = &corpus.genomes[t].meta.species;
//!     assert!(splits.train.iter().all(|&g| &corpus.genomes[g].meta.species != sp));
//! }
//! ```

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use super::alphabet::{base_counts, revcomp};
use super::annotation::Feature;
use super::tracks::{TrackOptions, Tracks};
use crate::{Error, Result};

mod folder;
mod manifest;
mod reads;
mod split;

pub use manifest::{
    sha256_hex, FileEntry, GenomeMeta, GenomeSource, Manifest, EMBEDDED_FILES, EMBEDDED_MANIFEST,
};
pub use reads::{Read, SampleReadsOptions};
pub use split::{split_metas, SplitLevel, SplitOptions, Splits};

/// Kingdom of a genome, as the benchmark groups them. Serialised as `PRO`, `EUK`, `VIR`; read
/// from any name [`Kingdom::from_name`] knows (`pro`, `bacteria`, `viral`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Kingdom {
    /// Prokaryotes (bacteria, archaea, their plasmids).
    #[serde(rename = "PRO")]
    Pro,
    /// Eukaryotes (nuclear and organellar genomes).
    #[serde(rename = "EUK")]
    Euk,
    /// Viruses and phages.
    #[serde(rename = "VIR")]
    Vir,
}

impl Kingdom {
    /// All kingdoms.
    pub const ALL: [Kingdom; 3] = [Kingdom::Pro, Kingdom::Euk, Kingdom::Vir];
    /// `PRO`, `EUK` or `VIR`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kingdom::Pro => "PRO",
            Kingdom::Euk => "EUK",
            Kingdom::Vir => "VIR",
        }
    }
    /// Parse a kingdom from a folder or manifest name (`pro`, `bacteria`, `eukaryotes`, `viral`, …).
    pub fn from_name(s: &str) -> Option<Kingdom> {
        let s = s.to_ascii_lowercase();
        let s = s.as_str();
        if [
            "pro",
            "prokaryote",
            "prokaryotes",
            "bacteria",
            "bacterium",
            "archaea",
            "prokaryotic",
        ]
        .contains(&s)
        {
            Some(Kingdom::Pro)
        } else if ["euk", "eukaryote", "eukaryotes", "eukaryota", "eukaryotic"].contains(&s) {
            Some(Kingdom::Euk)
        } else if ["vir", "virus", "viruses", "viral", "phage", "phages"].contains(&s) {
            Some(Kingdom::Vir)
        } else {
            None
        }
    }
}

impl<'de> Deserialize<'de> for Kingdom {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        crate::error::deserialize_by_name(d)
    }
}

impl std::str::FromStr for Kingdom {
    type Err = Error;
    fn from_str(s: &str) -> Result<Kingdom> {
        Kingdom::from_name(s)
            .ok_or_else(|| Error::Config(format!("unknown kingdom {s:?}; use PRO, EUK or VIR")))
    }
}

impl fmt::Display for Kingdom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A contig (chromosome, plasmid, segment) of a genome.
#[derive(Debug, Clone, PartialEq)]
pub struct Contig {
    /// Name from the FASTA header or LOCUS line.
    pub name: String,
    /// Upper-case IUPAC bases.
    pub seq: Vec<u8>,
    /// Soft-masked intervals.
    pub mask: Vec<Range<usize>>,
    /// Annotation features, when the genome came with GenBank or GFF3.
    pub features: Option<Vec<Feature>>,
}

impl Contig {
    /// Per-nucleotide tracks, if annotated.
    pub fn tracks(&self, opts: &TrackOptions) -> Option<Result<Tracks>> {
        self.features
            .as_ref()
            .map(|f| Tracks::from_features(&self.name, &self.seq, f, opts))
    }
}

/// A genome: metadata plus contigs.
#[derive(Debug, Clone, PartialEq)]
pub struct Genome {
    /// Metadata and provenance.
    pub meta: GenomeMeta,
    /// Contigs in file order.
    pub contigs: Vec<Contig>,
}

impl Genome {
    /// Total length in bases.
    pub fn len(&self) -> usize {
        self.contigs.iter().map(|c| c.seq.len()).sum()
    }
    /// True when there are no bases.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Is any contig annotated?
    pub fn is_annotated(&self) -> bool {
        self.contigs.iter().any(|c| c.features.is_some())
    }
    /// Base composition over all contigs.
    pub fn composition(&self) -> [u64; 4] {
        let mut c = [0u64; 4];
        for ct in &self.contigs {
            let x = base_counts(&ct.seq);
            for i in 0..4 {
                c[i] += x[i];
            }
        }
        c
    }
    /// `(path, sha256)` of each of its files as recorded in the manifest (empty when none).
    pub fn file_checksums(&self) -> Vec<(String, String)> {
        self.meta
            .files
            .iter()
            .map(|f| (f.path.clone(), f.sha256.clone().unwrap_or_default()))
            .collect()
    }
    /// Track options with this genome's genetic code.
    pub fn track_options(&self) -> TrackOptions {
        TrackOptions {
            default_code: self.meta.genetic_code,
            ..Default::default()
        }
    }
}

/// A collection of genomes.
#[derive(Debug, Clone, PartialEq)]
pub struct Corpus {
    /// Corpus name.
    pub name: String,
    /// Genomes.
    pub genomes: Vec<Genome>,
}

impl Corpus {
    /// Indices of the genomes of one kingdom.
    pub fn of_kingdom(&self, k: Kingdom) -> Vec<usize> {
        (0..self.genomes.len())
            .filter(|&i| self.genomes[i].meta.kingdom == k)
            .collect()
    }

    /// Index of a genome by id.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.genomes.iter().position(|g| g.meta.id == id)
    }

    /// The ids of the genomes at `indices` (the inverse of [`index_of`](Self::index_of)).
    ///
    /// ```
    /// let c = genolm::data::corpus::Corpus::embedded()?;
    /// let i = c.index_of("phiX174").unwrap();
    /// assert_eq!(c.ids(&[i]), vec!["phiX174".to_string()]);
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn ids(&self, indices: &[usize]) -> Vec<String> {
        indices
            .iter()
            .map(|&i| self.genomes[i].meta.id.clone())
            .collect()
    }

    /// Total bases.
    pub fn total_bases(&self) -> usize {
        self.genomes.iter().map(Genome::len).sum()
    }

    /// The sequences of the given genomes as token streams, one per contig, optionally
    /// followed by the reverse complement of each contig (augmentation).
    pub fn token_streams(
        &self,
        genomes: &[usize],
        tokenizer: &super::tokenize::KmerTokenizer,
        reverse_complement: bool,
    ) -> Vec<Vec<u32>> {
        let mut out = Vec::new();
        for &gi in genomes {
            for c in &self.genomes[gi].contigs {
                out.push(tokenizer.encode(&c.seq));
                if reverse_complement {
                    out.push(tokenizer.encode(&revcomp(&c.seq)));
                }
            }
        }
        out
    }

    /// [`summary`](Self::summary) as a [`Table`](crate::table::Table): an HTML table in
    /// notebooks, CSV / Parquet / LaTeX on disk.
    ///
    /// ```
    /// let corpus = genolm::data::corpus::Corpus::embedded()?;
    /// assert_eq!(corpus.summary_table(None)?.height(), corpus.genomes.len());
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn summary_table(&self, splits: Option<&Splits>) -> Result<crate::table::Table> {
        Ok(crate::table::Table::new(
            format!("corpus {}", self.name),
            self.summary(splits)?,
        ))
    }

    /// One row per genome: id, kingdom, species, strain, contigs, bases, GC, ambiguous
    /// bases, annotated CDS, and the split (when given).
    pub fn summary(&self, splits: Option<&Splits>) -> Result<polars::prelude::DataFrame> {
        use polars::prelude::*;
        let g = &self.genomes;
        let col_str = |f: &dyn Fn(&Genome) -> String| g.iter().map(f).collect::<Vec<String>>();
        let split: Vec<String> = (0..g.len())
            .map(|i| splits.map_or("-".to_string(), |s| s.of(i).to_string()))
            .collect();
        // One pass over each genome for both GC and ambiguous counts.
        let comps: Vec<[u64; 4]> = g.iter().map(Genome::composition).collect();
        let df = DataFrame::new(
            g.len(),
            vec![
                Column::new("id".into(), col_str(&|x| x.meta.id.clone())),
                Column::new("kingdom".into(), col_str(&|x| x.meta.kingdom.to_string())),
                Column::new("species".into(), col_str(&|x| x.meta.species.clone())),
                Column::new("strain".into(), col_str(&|x| x.meta.strain.clone())),
                Column::new(
                    "contigs".into(),
                    g.iter().map(|x| x.contigs.len() as u32).collect::<Vec<_>>(),
                ),
                Column::new(
                    "bases".into(),
                    g.iter().map(|x| x.len() as u64).collect::<Vec<_>>(),
                ),
                Column::new(
                    "gc".into(),
                    comps
                        .iter()
                        .map(|c| {
                            let n = c.iter().sum::<u64>().max(1);
                            ((c[1] + c[2]) as f64 / n as f64 * 1000.0).round() / 1000.0
                        })
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "ambiguous".into(),
                    g.iter()
                        .zip(&comps)
                        .map(|(x, c)| x.len() as u64 - c.iter().sum::<u64>())
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "cds".into(),
                    g.iter()
                        .map(|x| {
                            x.contigs
                                .iter()
                                .filter_map(|c| c.features.as_ref())
                                .flatten()
                                .filter(|f| f.is_cds())
                                .count() as u32
                        })
                        .collect::<Vec<_>>(),
                ),
                Column::new("split".into(), split),
            ],
        )?;
        Ok(df)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_list_matches_manifest() {
        let m: Manifest = serde_json::from_str(EMBEDDED_MANIFEST).unwrap();
        let mut paths: Vec<&str> = m
            .genomes
            .iter()
            .flat_map(|g| g.files.iter().map(|f| f.path.as_str()))
            .collect();
        let mut embedded: Vec<&str> = EMBEDDED_FILES.iter().map(|f| f.0).collect();
        paths.sort();
        embedded.sort();
        assert_eq!(paths, embedded);
    }

    #[test]
    fn kingdom_names() {
        assert_eq!(Kingdom::from_name("Bacteria"), Some(Kingdom::Pro));
        assert_eq!(Kingdom::from_name("viruses"), Some(Kingdom::Vir));
        assert_eq!(Kingdom::from_name("plants"), None);
    }
}
