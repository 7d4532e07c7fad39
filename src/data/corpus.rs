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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::alphabet::{base_counts, resolve_ambiguous, revcomp, AmbiguityPolicy, CODE};
use super::annotation::{self, Feature, Strand};
use super::fasta::SeqReader;
use super::tracks::{TrackOptions, Tracks};
use crate::{Error, Result};

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
        let s = String::deserialize(d)?;
        Kingdom::from_name(&s).ok_or_else(|| {
            serde::de::Error::custom(format!("unknown kingdom {s:?}; use PRO, EUK or VIR"))
        })
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

/// One file of a genome in a manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path relative to the manifest.
    pub path: String,
    /// `fasta`, `genbank` or `gff3` (a GFF3 annotates the FASTA files of the same genome).
    pub format: String,
    /// SHA-256 of the file as stored; verified on load when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// SHA-256 of the decompressed content, for files re-compressed from their source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256_uncompressed: Option<String>,
    /// Package the file comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_package: Option<String>,
    /// Path inside that package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_in_package: Option<String>,
    /// License of the data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// Free-text note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Metadata of a genome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenomeMeta {
    /// Unique id in the corpus.
    pub id: String,
    /// Kingdom.
    pub kingdom: Kingdom,
    /// Species (the unit of species-level splits).
    pub species: String,
    /// Strain or isolate.
    #[serde(default)]
    pub strain: String,
    /// Organism line as recorded.
    #[serde(default)]
    pub organism: String,
    /// Accession(s).
    #[serde(default)]
    pub accession: String,
    /// `linear` or `circular`.
    #[serde(default = "default_topology")]
    pub topology: String,
    /// Genetic code for its CDS (NCBI table; 11 for bacteria and plastids, 1 standard).
    #[serde(default = "default_code")]
    pub genetic_code: u8,
    /// Pin the genome to a split (`train`, `valid`, `test`), overriding the seeded draw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
    /// Its files.
    pub files: Vec<FileEntry>,
}

fn default_topology() -> String {
    "linear".into()
}
fn default_code() -> u8 {
    1
}

/// A corpus manifest (`manifest.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Corpus name.
    pub name: String,
    /// Manifest version.
    #[serde(default)]
    pub version: u32,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Genomes.
    pub genomes: Vec<GenomeMeta>,
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

/// Genome- or species-level splitting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SplitLevel {
    /// Each genome is a unit: strains of a training species can be in the test set.
    #[default]
    Genome,
    /// Each species is a unit: test species are never seen in training.
    Species,
}

impl std::str::FromStr for SplitLevel {
    type Err = Error;
    fn from_str(s: &str) -> Result<SplitLevel> {
        match s {
            "genome" => Ok(SplitLevel::Genome),
            "species" => Ok(SplitLevel::Species),
            o => Err(Error::Config(format!(
                "split level {o:?}: use genome or species"
            ))),
        }
    }
}

/// Options for [`Corpus::split`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SplitOptions {
    /// Unit of the split.
    pub level: SplitLevel,
    /// Fraction of units for validation (per kingdom).
    pub valid_fraction: f64,
    /// Fraction of units for test (per kingdom).
    pub test_fraction: f64,
    /// Seed of the draw.
    pub seed: u64,
}

impl Default for SplitOptions {
    fn default() -> Self {
        Self {
            level: SplitLevel::Genome,
            valid_fraction: 0.2,
            test_fraction: 0.2,
            seed: 42,
        }
    }
}

/// Genome indices of the three splits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Splits {
    /// Training genomes.
    pub train: Vec<usize>,
    /// Validation genomes.
    pub valid: Vec<usize>,
    /// Test genomes.
    pub test: Vec<usize>,
}

impl Splits {
    /// Name of the split a genome is in.
    pub fn of(&self, genome: usize) -> &'static str {
        if self.train.contains(&genome) {
            "train"
        } else if self.valid.contains(&genome) {
            "valid"
        } else if self.test.contains(&genome) {
            "test"
        } else {
            "-"
        }
    }
}

/// Options for [`Corpus::sample_reads`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SampleReadsOptions {
    /// Read length in bases (150 by default, as the benchmark's read datasets).
    pub len: usize,
    /// Reads per genome; `None` to use `coverage`.
    pub per_genome: Option<usize>,
    /// Mean coverage (reads × len / genome length) when `per_genome` is `None`.
    pub coverage: f64,
    /// Draw a random strand for each read (reverse-complement augmentation).
    pub random_strand: bool,
    /// What to do with ambiguous bases.
    pub ambiguity: AmbiguityPolicy,
    /// Seed.
    pub seed: u64,
}

impl Default for SampleReadsOptions {
    fn default() -> Self {
        Self {
            len: 150,
            per_genome: Some(1000),
            coverage: 1.0,
            random_strand: true,
            ambiguity: AmbiguityPolicy::Discard,
            seed: 42,
        }
    }
}

/// A read-sized fragment with its origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    /// Bases (reverse-complemented when `strand` is reverse).
    pub seq: Vec<u8>,
    /// Index of the genome in the corpus.
    pub genome: usize,
    /// Index of the contig in the genome.
    pub contig: usize,
    /// 0-based start on the forward strand.
    pub start: usize,
    /// Strand the read was taken from.
    pub strand: Strand,
}

/// A collection of genomes.
#[derive(Debug, Clone, PartialEq)]
pub struct Corpus {
    /// Corpus name.
    pub name: String,
    /// Genomes.
    pub genomes: Vec<Genome>,
}

/// The files of the embedded default corpus (see `datasets/manifest.json`).
pub const EMBEDDED_MANIFEST: &str = include_str!("../../datasets/manifest.json");

/// The embedded files, by manifest path.
pub static EMBEDDED_FILES: &[(&str, &[u8])] = &[
    (
        "pro/helicobacter_pylori_G27.fa.gz",
        include_bytes!("../../datasets/pro/helicobacter_pylori_G27.fa.gz"),
    ),
    (
        "pro/helicobacter_pylori_Puno120.fa.gz",
        include_bytes!("../../datasets/pro/helicobacter_pylori_Puno120.fa.gz"),
    ),
    (
        "pro/helicobacter_pylori_ELS37.fa.gz",
        include_bytes!("../../datasets/pro/helicobacter_pylori_ELS37.fa.gz"),
    ),
    (
        "pro/staphylococcus_aureus_N315.fa.gz",
        include_bytes!("../../datasets/pro/staphylococcus_aureus_N315.fa.gz"),
    ),
    (
        "pro/yersinia_pestis_pPCP1.gb",
        include_bytes!("../../datasets/pro/yersinia_pestis_pPCP1.gb"),
    ),
    (
        "pro/vibrio_cholerae_O395.fa.gz",
        include_bytes!("../../datasets/pro/vibrio_cholerae_O395.fa.gz"),
    ),
    (
        "euk/saccharomyces_cerevisiae_chrI.fa.gz",
        include_bytes!("../../datasets/euk/saccharomyces_cerevisiae_chrI.fa.gz"),
    ),
    (
        "euk/saccharomyces_cerevisiae_chrI.gff3.gz",
        include_bytes!("../../datasets/euk/saccharomyces_cerevisiae_chrI.gff3.gz"),
    ),
    (
        "euk/homo_sapiens_chr1_fragment.fa.gz",
        include_bytes!("../../datasets/euk/homo_sapiens_chr1_fragment.fa.gz"),
    ),
    (
        "euk/arabidopsis_thaliana_chloroplast.gb.gz",
        include_bytes!("../../datasets/euk/arabidopsis_thaliana_chloroplast.gb.gz"),
    ),
    (
        "vir/enterobacteria_phage_lambda.fa.gz",
        include_bytes!("../../datasets/vir/enterobacteria_phage_lambda.fa.gz"),
    ),
    (
        "vir/phiX174.gbk",
        include_bytes!("../../datasets/vir/phiX174.gbk"),
    ),
    (
        "vir/influenza_A_EU851978.gbk",
        include_bytes!("../../datasets/vir/influenza_A_EU851978.gbk"),
    ),
    (
        "vir/influenza_A_HM138502.gbk",
        include_bytes!("../../datasets/vir/influenza_A_HM138502.gbk"),
    ),
    (
        "vir/influenza_A_KF527485.gbk",
        include_bytes!("../../datasets/vir/influenza_A_KF527485.gbk"),
    ),
];

/// Hex SHA-256 of bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn verify(entry: &FileEntry, bytes: &[u8], label: &str) -> Result<()> {
    if let Some(expected) = &entry.sha256 {
        let actual = sha256_hex(bytes);
        if !actual.eq_ignore_ascii_case(expected) {
            return Err(Error::Checksum {
                file: label.to_string(),
                expected: expected.clone(),
                actual,
            });
        }
    }
    Ok(())
}

fn load_genome(
    meta: &GenomeMeta,
    fetch: &(dyn Fn(&str) -> Result<Vec<u8>> + Sync),
    base: &str,
) -> Result<Genome> {
    let mut contigs: Vec<Contig> = Vec::new();
    let mut gff: Vec<(String, Vec<u8>)> = Vec::new();
    // Species read from the records themselves, for genomes whose metadata leaves it empty.
    let mut inferred: Option<String> = None;
    for f in &meta.files {
        let label = format!("{base}{}", f.path);
        let raw = fetch(&f.path)?;
        verify(f, &raw, &label)?;
        let bytes = super::io::decompress(&raw)
            .map_err(|e| Error::parse(&label, 0, super::io::describe_io(&e)))?;
        match f.format.to_ascii_lowercase().as_str() {
            "fasta" | "fa" | "fastq" => {
                let r = SeqReader::new(
                    Box::new(std::io::Cursor::new(bytes)),
                    label,
                    Default::default(),
                )?;
                for rec in r {
                    let rec = rec?;
                    if inferred.is_none() {
                        inferred = rec
                            .description
                            .as_deref()
                            .and_then(species_from_description);
                    }
                    contigs.push(Contig {
                        name: rec.name,
                        seq: rec.seq,
                        mask: rec.mask,
                        features: None,
                    });
                }
            }
            "genbank" | "gb" | "gbk" => {
                for a in annotation::parse_genbank_bytes(&bytes, &label)? {
                    if inferred.is_none() {
                        inferred = a.organism.as_deref().map(first_two_words);
                    }
                    contigs.push(Contig {
                        name: a.name,
                        seq: a.seq,
                        mask: Vec::new(),
                        features: Some(a.features),
                    });
                }
            }
            "gff3" | "gff" => gff.push((label, bytes)),
            other => {
                return Err(Error::Config(format!(
                    "{label}: unknown format '{other}' (expected fasta, genbank or gff3)"
                )))
            }
        }
    }
    for (label, bytes) in gff {
        let mut parsed = annotation::parse_gff3_features(&bytes, &label)?;
        // Sequences embedded after ##FASTA join the genome's contigs.
        for rec in std::mem::take(&mut parsed.fasta) {
            if !contigs.iter().any(|c| c.name == rec.name) {
                contigs.push(Contig {
                    name: rec.name,
                    seq: rec.seq,
                    mask: rec.mask,
                    features: None,
                });
            }
        }
        let resolved = parsed.resolve(&label, |id| {
            contigs
                .iter()
                .position(|c| c.name == id)
                .map(|i| (i, contigs[i].seq.len()))
        })?;
        for (i, feats) in resolved {
            contigs[i]
                .features
                .get_or_insert_with(Vec::new)
                .extend(feats);
        }
        // Contigs of an annotated genome without GFF rows are annotated as "nothing here".
        for c in contigs.iter_mut() {
            c.features.get_or_insert_with(Vec::new);
        }
    }
    if contigs.is_empty() {
        return Err(Error::Input(format!("genome {} has no sequence", meta.id)));
    }
    let mut meta = meta.clone();
    if meta.species.is_empty() {
        meta.species = inferred.unwrap_or_default();
    }
    Ok(Genome { meta, contigs })
}

impl Corpus {
    /// Open a corpus by name, as run files and the command line give it: `embedded` (the
    /// shipped corpus, [`Corpus::embedded`]), a `manifest.json` ([`Corpus::from_manifest`]) or a
    /// folder ([`Corpus::from_dir`]).
    ///
    /// ```
    /// let c = genolm::data::corpus::Corpus::open("embedded")?;
    /// assert!(c.genomes.len() >= 13);
    /// assert!(genolm::data::corpus::Corpus::open("no/such/folder").is_err());
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn open(name: &str) -> Result<Corpus> {
        if name == "embedded" {
            return Corpus::embedded();
        }
        let p = Path::new(name);
        if p.is_file() {
            Corpus::from_manifest(p)
        } else {
            Corpus::from_dir(p)
        }
    }

    /// The default corpus shipped inside the library (≈ 12.7 Mb of sequence from 13 genomes of
    /// all three kingdoms, see `datasets/manifest.json`). Checksums are verified on load.
    pub fn embedded() -> Result<Corpus> {
        let manifest: Manifest = serde_json::from_str(EMBEDDED_MANIFEST)
            .map_err(|e| Error::parse("datasets/manifest.json", e.line(), e.to_string()))?;
        let fetch = |p: &str| -> Result<Vec<u8>> {
            EMBEDDED_FILES
                .iter()
                .find(|(name, _)| *name == p)
                .map(|(_, b)| b.to_vec())
                .ok_or_else(|| Error::Input(format!("embedded file {p} is missing")))
        };
        Self::from_manifest_with(&manifest, &fetch, "embedded:")
    }

    /// Load a corpus described by a `manifest.json` (paths relative to it).
    pub fn from_manifest(path: impl AsRef<Path>) -> Result<Corpus> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| Error::parse(path.display().to_string(), e.line(), e.to_string()))?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let fetch = move |p: &str| -> Result<Vec<u8>> {
            let f = dir.join(p);
            std::fs::read(&f).map_err(|e| Error::io(&f, e))
        };
        let base = format!("{}/", path.parent().unwrap_or(Path::new(".")).display());
        Self::from_manifest_with(&manifest, &fetch, &base)
    }

    fn from_manifest_with(
        m: &Manifest,
        fetch: &(dyn Fn(&str) -> Result<Vec<u8>> + Sync),
        base: &str,
    ) -> Result<Corpus> {
        let mut ids = BTreeSet::new();
        for g in &m.genomes {
            if !ids.insert(g.id.clone()) {
                return Err(Error::Config(format!(
                    "genome id '{}' appears twice in the manifest",
                    g.id
                )));
            }
        }
        let genomes = std::thread::scope(|s| {
            let handles: Vec<_> = m
                .genomes
                .iter()
                .map(|g| s.spawn(move || load_genome(g, fetch, base)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::Input("genome loader panicked".into())))
                })
                .collect::<Result<Vec<_>>>()
        })?;
        Ok(Corpus {
            name: m.name.clone(),
            genomes,
        })
    }

    /// Load a folder of your own genomes.
    ///
    /// * With a `manifest.json` in the folder, that manifest is used.
    /// * Otherwise sub-folders name the kingdom (`pro/`, `euk/`, `vir/`, or `bacteria/`,
    ///   `eukaryotes/`, `viruses/` …). Each FASTA file (`.fa`, `.fasta`, `.fna`, `.fa.gz`, …)
    ///   is one genome (its records are contigs); a GFF3 file with the same stem annotates it.
    ///   Each GenBank file (`.gb`, `.gbk`, `.gbff`, gzip allowed) is one genome. The species
    ///   is taken from GenBank's ORGANISM or the first FASTA description (first two words),
    ///   else the file stem.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Corpus> {
        let dir = dir.as_ref();
        let manifest = dir.join("manifest.json");
        if manifest.exists() {
            return Self::from_manifest(manifest);
        }
        let mut metas = Vec::new();
        let mut stems: Vec<String> = Vec::new();
        let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        let mut subdirs: Vec<PathBuf> = rd
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        subdirs.sort();
        for sub in subdirs {
            let Some(kingdom) = sub
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(Kingdom::from_name)
            else {
                continue;
            };
            let mut files: Vec<PathBuf> = std::fs::read_dir(&sub)
                .map_err(|e| Error::io(&sub, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            for f in &files {
                let (stem, kind) = classify(f);
                let rel = |p: &Path| {
                    p.strip_prefix(dir)
                        .unwrap_or(p)
                        .to_string_lossy()
                        .into_owned()
                };
                let entry = |p: &Path, fmt: &str| FileEntry {
                    path: rel(p),
                    format: fmt.into(),
                    sha256: None,
                    sha256_uncompressed: None,
                    source_package: None,
                    path_in_package: None,
                    license: None,
                    note: None,
                };
                let mut fe = match kind {
                    "fasta" => vec![entry(f, "fasta")],
                    "genbank" => vec![entry(f, "genbank")],
                    _ => continue,
                };
                if kind == "fasta" {
                    if let Some(g) = files.iter().find(|o| classify(o) == (stem.clone(), "gff3")) {
                        fe.push(entry(g, "gff3"));
                    }
                }
                stems.push(stem.clone());
                metas.push(GenomeMeta {
                    id: format!("{}_{}", kingdom.as_str().to_lowercase(), stem),
                    kingdom,
                    // Inferred on load from ORGANISM / the FASTA description; else the stem.
                    species: String::new(),
                    strain: String::new(),
                    organism: String::new(),
                    accession: String::new(),
                    topology: default_topology(),
                    genetic_code: if kingdom == Kingdom::Euk { 1 } else { 11 },
                    split: None,
                    files: fe,
                });
            }
        }
        if metas.is_empty() {
            return Err(Error::Input(format!(
                "{}: no genomes found (expected a manifest.json, or sub-folders pro/, euk/, vir/ with FASTA or GenBank files)",
                dir.display()
            )));
        }
        let m = Manifest {
            name: dir
                .file_name()
                .map_or("corpus".into(), |n| n.to_string_lossy().into_owned()),
            version: 1,
            description: String::new(),
            genomes: metas,
        };
        let base = dir.to_path_buf();
        let fetch = move |p: &str| -> Result<Vec<u8>> {
            let f = base.join(p);
            std::fs::read(&f).map_err(|e| Error::io(&f, e))
        };
        let mut corpus = Self::from_manifest_with(&m, &fetch, &format!("{}/", dir.display()))?;
        for (g, stem) in corpus.genomes.iter_mut().zip(stems) {
            if g.meta.species.is_empty() {
                g.meta.species = stem;
            }
        }
        Ok(corpus)
    }

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

    /// Split genomes into train / valid / test, per kingdom, at genome or species level, so no
    /// test genome (or species) is seen in training. Genomes pinned by the manifest's `split`
    /// field stay where they are. Per kingdom, with `n` units: `n = 1` → train; `n = 2` →
    /// train + test; `n ≥ 3` → at least one unit in each split.
    pub fn split(&self, opts: &SplitOptions) -> Result<Splits> {
        if !(0.0..1.0).contains(&(opts.valid_fraction + opts.test_fraction)) {
            return Err(Error::Config(
                "valid_fraction + test_fraction must be below 1".into(),
            ));
        }
        let mut s = Splits {
            train: vec![],
            valid: vec![],
            test: vec![],
        };
        let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
        for k in Kingdom::ALL {
            // Units: genome ids or species, each with its genome indices; BTreeMap for a stable order.
            let mut units: BTreeMap<String, Vec<usize>> = BTreeMap::new();
            for i in self.of_kingdom(k) {
                let g = &self.genomes[i];
                if let Some(pin) = &g.meta.split {
                    match pin.as_str() {
                        "train" => s.train.push(i),
                        "valid" | "validation" => s.valid.push(i),
                        "test" => s.test.push(i),
                        other => {
                            return Err(Error::Config(format!(
                                "genome {}: split must be train, valid or test, not '{other}'",
                                g.meta.id
                            )))
                        }
                    }
                    continue;
                }
                let key = match opts.level {
                    SplitLevel::Genome => g.meta.id.clone(),
                    SplitLevel::Species => g.meta.species.clone(),
                };
                units.entry(key).or_default().push(i);
            }
            let mut units: Vec<Vec<usize>> = units.into_values().collect();
            units.shuffle(&mut rng);
            let n = units.len();
            let (n_valid, n_test) = match n {
                0 | 1 => (0, 0),
                2 => (0, 1),
                _ => {
                    let v = ((n as f64 * opts.valid_fraction).round() as usize).max(1);
                    let t = ((n as f64 * opts.test_fraction).round() as usize).max(1);
                    if v + t >= n {
                        (1, 1)
                    } else {
                        (v, t)
                    }
                }
            };
            for (j, u) in units.into_iter().enumerate() {
                let dst = if j < n_test {
                    &mut s.test
                } else if j < n_test + n_valid {
                    &mut s.valid
                } else {
                    &mut s.train
                };
                dst.extend(u);
            }
        }
        s.train.sort_unstable();
        s.valid.sort_unstable();
        s.test.sort_unstable();
        Ok(s)
    }

    /// Sample read-sized fragments from the given genomes, with their origin. Positions are
    /// uniform over the genome (contigs weighted by length); contigs shorter than a read are
    /// skipped. Deterministic for a seed.
    pub fn sample_reads(&self, genomes: &[usize], opts: &SampleReadsOptions) -> Result<Vec<Read>> {
        if opts.len == 0 {
            return Err(Error::Config("read length must be positive".into()));
        }
        let mut out = Vec::new();
        for &gi in genomes {
            let g = self
                .genomes
                .get(gi)
                .ok_or_else(|| Error::Input(format!("no genome with index {gi}")))?;
            let mut rng = ChaCha8Rng::seed_from_u64(
                opts.seed ^ (gi as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            let usable: Vec<(usize, usize)> = g
                .contigs
                .iter()
                .enumerate()
                .filter(|(_, c)| c.seq.len() >= opts.len)
                .map(|(i, c)| (i, c.seq.len() - opts.len + 1))
                .collect();
            let total: usize = usable.iter().map(|u| u.1).sum();
            if total == 0 {
                continue;
            }
            let n = opts.per_genome.unwrap_or_else(|| {
                ((g.len() as f64 * opts.coverage) / opts.len as f64).ceil() as usize
            });
            let comp = g.composition();
            let mut got = 0;
            let mut tries = 0;
            while got < n && tries < n * 20 + 100 {
                tries += 1;
                let mut r = rng.random_range(0..total);
                let (ci, start) = usable
                    .iter()
                    .find_map(|&(ci, w)| {
                        if r < w {
                            Some((ci, r))
                        } else {
                            r -= w;
                            None
                        }
                    })
                    .expect("r < total");
                let strand = if opts.random_strand && rng.random_bool(0.5) {
                    Strand::Reverse
                } else {
                    Strand::Forward
                };
                let slice = &g.contigs[ci].seq[start..start + opts.len];
                let ambiguous = slice.iter().any(|&b| CODE[b as usize] >= 4);
                if ambiguous && opts.ambiguity == AmbiguityPolicy::Discard {
                    continue;
                }
                let mut seq = match strand {
                    Strand::Forward => slice.to_vec(),
                    Strand::Reverse => revcomp(slice),
                };
                if ambiguous {
                    resolve_ambiguous(&mut seq, opts.ambiguity, comp, &mut rng);
                }
                out.push(Read {
                    seq,
                    genome: gi,
                    contig: ci,
                    start,
                    strand,
                });
                got += 1;
            }
        }
        Ok(out)
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

fn classify(p: &Path) -> (String, &'static str) {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let name = name
        .strip_suffix(".gz")
        .or_else(|| name.strip_suffix(".bgz"))
        .unwrap_or(&name)
        .to_string();
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) => (s.to_string(), e.to_string()),
        None => (name.clone(), String::new()),
    };
    let kind = match ext.as_str() {
        "fa" | "fasta" | "fna" | "fas" | "ffn" | "fastq" | "fq" => "fasta",
        "gb" | "gbk" | "gbff" | "genbank" => "genbank",
        "gff" | "gff3" => "gff3",
        _ => "other",
    };
    (stem, kind)
}

fn first_two_words(s: &str) -> String {
    s.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// "Helicobacter pylori G27 chromosome, …" → "Helicobacter pylori" (NCBI-style descriptions).
fn species_from_description(d: &str) -> Option<String> {
    let words: Vec<&str> = d.split_whitespace().collect();
    (words.len() >= 2 && words[0].chars().next()?.is_uppercase()).then(|| words[..2].join(" "))
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
