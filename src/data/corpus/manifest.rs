//! Loading corpora: manifests with provenance and checksums, the embedded default corpus, and
//! folders of genomes (`pro/`, `euk/`, `vir/`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Contig, Corpus, Genome, Kingdom};
use crate::data::annotation;
use crate::data::fasta::SeqReader;
use crate::{Error, Result};

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

pub(super) fn default_topology() -> String {
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

/// The files of the embedded default corpus (see `datasets/manifest.json`).
pub const EMBEDDED_MANIFEST: &str = include_str!("../../../datasets/manifest.json");

/// The embedded files, by manifest path.
pub static EMBEDDED_FILES: &[(&str, &[u8])] = &[
    (
        "pro/helicobacter_pylori_G27.fa.gz",
        include_bytes!("../../../datasets/pro/helicobacter_pylori_G27.fa.gz"),
    ),
    (
        "pro/helicobacter_pylori_Puno120.fa.gz",
        include_bytes!("../../../datasets/pro/helicobacter_pylori_Puno120.fa.gz"),
    ),
    (
        "pro/helicobacter_pylori_ELS37.fa.gz",
        include_bytes!("../../../datasets/pro/helicobacter_pylori_ELS37.fa.gz"),
    ),
    (
        "pro/staphylococcus_aureus_N315.fa.gz",
        include_bytes!("../../../datasets/pro/staphylococcus_aureus_N315.fa.gz"),
    ),
    (
        "pro/yersinia_pestis_pPCP1.gb",
        include_bytes!("../../../datasets/pro/yersinia_pestis_pPCP1.gb"),
    ),
    (
        "pro/vibrio_cholerae_O395.fa.gz",
        include_bytes!("../../../datasets/pro/vibrio_cholerae_O395.fa.gz"),
    ),
    (
        "euk/saccharomyces_cerevisiae_chrI.fa.gz",
        include_bytes!("../../../datasets/euk/saccharomyces_cerevisiae_chrI.fa.gz"),
    ),
    (
        "euk/saccharomyces_cerevisiae_chrI.gff3.gz",
        include_bytes!("../../../datasets/euk/saccharomyces_cerevisiae_chrI.gff3.gz"),
    ),
    (
        "euk/homo_sapiens_chr1_fragment.fa.gz",
        include_bytes!("../../../datasets/euk/homo_sapiens_chr1_fragment.fa.gz"),
    ),
    (
        "euk/arabidopsis_thaliana_chloroplast.gb.gz",
        include_bytes!("../../../datasets/euk/arabidopsis_thaliana_chloroplast.gb.gz"),
    ),
    (
        "vir/enterobacteria_phage_lambda.fa.gz",
        include_bytes!("../../../datasets/vir/enterobacteria_phage_lambda.fa.gz"),
    ),
    (
        "vir/phiX174.gbk",
        include_bytes!("../../../datasets/vir/phiX174.gbk"),
    ),
    (
        "vir/influenza_A_EU851978.gbk",
        include_bytes!("../../../datasets/vir/influenza_A_EU851978.gbk"),
    ),
    (
        "vir/influenza_A_HM138502.gbk",
        include_bytes!("../../../datasets/vir/influenza_A_HM138502.gbk"),
    ),
    (
        "vir/influenza_A_KF527485.gbk",
        include_bytes!("../../../datasets/vir/influenza_A_KF527485.gbk"),
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
        let bytes = crate::data::io::decompress(&raw)
            .map_err(|e| Error::parse(&label, 0, crate::data::io::describe_io(&e)))?;
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
        let names = crate::data::names::SeqNames::new(contigs.iter().map(|c| c.name.as_str()));
        let resolved = parsed.resolve(&label, |id| {
            names.find(id).map(|i| (i, contigs[i].seq.len()))
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
    /// folder ([`Corpus::from_dir`]). A folder of token shards (`genolm shards`) opens the
    /// corpus it was built from (its `source`), whose genomes the shards hold as tokens: what a
    /// report or benchmark of a run trained on shards reads.
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
        if p.join("shards.json").is_file() || p.ends_with("shards.json") {
            return Corpus::from_shards_source(p);
        }
        if p.is_file() {
            Corpus::from_manifest(p)
        } else {
            Corpus::from_dir(p)
        }
    }

    /// The corpus a folder of token shards was built from: its manifest's `source`, read as
    /// written (absolute since 2026-12-07), else next to the shard folder (an older folder
    /// built where it sits); it must hold every genome the shards do.
    fn from_shards_source(p: &Path) -> Result<Corpus> {
        let (dir, json) = if p.ends_with("shards.json") {
            (p.parent().unwrap_or(Path::new(".")), p.to_path_buf())
        } else {
            (p, p.join("shards.json"))
        };
        let text = std::fs::read(&json).map_err(|e| Error::io(&json, e))?;
        #[derive(serde::Deserialize)]
        struct Id {
            id: String,
        }
        #[derive(serde::Deserialize)]
        struct Head {
            source: String,
            genomes: Vec<Id>,
        }
        let head: Head = serde_json::from_slice(&text)
            .map_err(|e| Error::parse(json.display().to_string(), e.line(), e.to_string()))?;
        let src = Path::new(&head.source);
        let mut candidates = vec![src.to_path_buf()];
        if src.is_relative() && head.source != "embedded" {
            let abs = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
            candidates.extend(abs.parent().map(|d| d.join(src)));
        }
        let found = candidates.into_iter().find(|c| {
            // never shards again (a source naming itself would never end)
            (head.source == "embedded" || c.exists())
                && !c.join("shards.json").is_file()
                && !c.ends_with("shards.json")
        });
        let Some(found) = found else {
            return Err(Error::Config(format!(
                "{} holds token shards (genolm shards), which training reads; this step needs \
                 the genomes themselves, and the corpus they were built from (\"{}\") is not \
                 here: give that corpus instead",
                p.display(),
                head.source
            )));
        };
        let corpus = Corpus::open(&found.display().to_string())?;
        if let Some(g) = head
            .genomes
            .iter()
            .find(|g| !corpus.genomes.iter().any(|c| c.meta.id == g.id))
        {
            return Err(Error::Config(format!(
                "{}: the shards hold genome {} but {} (the corpus they were built from) no \
                 longer does: give the corpus the shards were built from",
                p.display(),
                g.id,
                found.display()
            )));
        }
        Ok(corpus)
    }

    /// The default corpus shipped inside the library (≈ 12.7 Mb of sequence from 13 genomes of
    /// all three kingdoms, see `datasets/manifest.json`). Checksums are verified on the first
    /// load; later calls in the same process return a copy of that load (a search worker or a
    /// notebook opens it once per run).
    pub fn embedded() -> Result<Corpus> {
        static LOADED: std::sync::OnceLock<Corpus> = std::sync::OnceLock::new();
        if let Some(c) = LOADED.get() {
            return Ok(c.clone());
        }
        let c = Self::load_embedded()?;
        Ok(LOADED.get_or_init(|| c).clone())
    }

    fn load_embedded() -> Result<Corpus> {
        GenomeSource::open("embedded")?.load_all()
    }

    /// Load a corpus described by a `manifest.json` (paths relative to it).
    pub fn from_manifest(path: impl AsRef<Path>) -> Result<Corpus> {
        GenomeSource::from_manifest(path.as_ref())?.load_all()
    }

    /// Load a folder of your own genomes.
    ///
    /// * With a `manifest.json` in the folder, that manifest is used.
    /// * Otherwise sub-folders name the kingdom (`pro/`, `euk/`, `vir/`, or `bacteria/`,
    ///   `eukaryotes/`, `viruses/` …), with the genomes at any depth below them, as NCBI
    ///   downloads nest them (`pro/ncbi_dataset/data/GCF_…/GCF_…_genomic.fna` with
    ///   `genomic.gff`, or the FTP site's folder per assembly). NCBI's by-products beside a
    ///   genome (`cds_from_genomic.fna`, `rna.fna`, `…_rna_from_genomic.fna`) are not genomes,
    ///   and a GenBank file stands for the FASTA of the same assembly beside it. Genomes whose
    ///   files share a name (Datasets' `genomic.gbff`) take their folder's name into the id.
    ///   Without kingdom sub-folders, GenBank files in the folder or below it take the kingdom
    ///   their ORGANISM lineage starts with (`Bacteria`, `Archaea`, `Eukaryota`, `Viruses`); a
    ///   FASTA file there is an error that asks for a sub-folder, as its kingdom cannot be told. Each FASTA file (`.fa`, `.fasta`, `.fna`, `.fa.gz`, …)
    ///   is one genome (its records are contigs); a GFF3 file with the same stem annotates it.
    ///   Each GenBank file (`.gb`, `.gbk`, `.gbff`, gzip allowed) is one genome. The species
    ///   is taken from GenBank's ORGANISM or the first FASTA description (first two words),
    ///   else the file stem.
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Corpus> {
        GenomeSource::from_dir(dir.as_ref())?.load_all()
    }
}

type Fetch = Box<dyn Fn(&str) -> Result<Vec<u8>> + Send + Sync>;

/// A corpus as a list of genomes that are read one at a time ([`GenomeSource::load`]), for
/// work that must not hold the whole corpus in memory (building token shards). The genomes,
/// their order and metadata are those [`Corpus::open`] gives for the same name.
pub struct GenomeSource {
    /// The corpus manifest (metadata of every genome, before loading).
    pub manifest: Manifest,
    fetch: Fetch,
    base: String,
    stems: Option<Vec<String>>,
}

impl std::fmt::Debug for GenomeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GenomeSource({}, {} genomes)",
            self.base,
            self.manifest.genomes.len()
        )
    }
}

impl GenomeSource {
    /// `embedded`, a `manifest.json` or a folder, as [`Corpus::open`].
    pub fn open(name: &str) -> Result<GenomeSource> {
        if name == "embedded" {
            let manifest: Manifest = serde_json::from_str(EMBEDDED_MANIFEST)
                .map_err(|e| Error::parse("datasets/manifest.json", e.line(), e.to_string()))?;
            let fetch: Fetch = Box::new(|p: &str| {
                EMBEDDED_FILES
                    .iter()
                    .find(|(name, _)| *name == p)
                    .map(|(_, b)| b.to_vec())
                    .ok_or_else(|| Error::Input(format!("embedded file {p} is missing")))
            });
            return GenomeSource::new(manifest, fetch, "embedded:".into(), None);
        }
        let p = Path::new(name);
        if p.is_file() {
            GenomeSource::from_manifest(p)
        } else {
            GenomeSource::from_dir(p)
        }
    }

    /// The genomes of a `manifest.json` (paths relative to it).
    pub fn from_manifest(path: &Path) -> Result<GenomeSource> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| Error::parse(path.display().to_string(), e.line(), e.to_string()))?;
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        GenomeSource::in_folder(manifest, dir, None)
    }

    /// The genomes of a folder: its `manifest.json`, or its `pro/ euk/ vir/` sub-folders
    /// ([`Corpus::from_dir`]).
    pub fn from_dir(dir: &Path) -> Result<GenomeSource> {
        let manifest = dir.join("manifest.json");
        if manifest.exists() {
            return GenomeSource::from_manifest(&manifest);
        }
        let (m, stems) = super::folder::dir_manifest(dir)?;
        GenomeSource::in_folder(m, dir.to_path_buf(), Some(stems))
    }

    fn in_folder(
        manifest: Manifest,
        dir: PathBuf,
        stems: Option<Vec<String>>,
    ) -> Result<GenomeSource> {
        let base = format!("{}/", dir.display());
        let fetch: Fetch = Box::new(move |rel: &str| {
            let f = dir.join(rel);
            std::fs::read(&f).map_err(|e| Error::io(&f, e))
        });
        GenomeSource::new(manifest, fetch, base, stems)
    }

    fn new(
        manifest: Manifest,
        fetch: Fetch,
        base: String,
        stems: Option<Vec<String>>,
    ) -> Result<GenomeSource> {
        let mut ids = BTreeSet::new();
        for g in &manifest.genomes {
            if !ids.insert(g.id.clone()) {
                return Err(Error::Config(format!(
                    "genome id '{}' appears twice in the manifest",
                    g.id
                )));
            }
        }
        Ok(GenomeSource {
            manifest,
            fetch,
            base,
            stems,
        })
    }

    /// Every genome, read and parsed in parallel (as many threads as cores, each taking the
    /// next genome: a folder of thousands of files does not start thousands of threads).
    pub fn load_all(&self) -> Result<Corpus> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let next = AtomicUsize::new(0);
        let workers = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(self.len())
            .max(1);
        let mut slots: Vec<Option<Result<Genome>>> = (0..self.len()).map(|_| None).collect();
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    s.spawn(|| {
                        let mut got = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            if i >= self.len() {
                                return got;
                            }
                            got.push((i, self.load(i)));
                        }
                    })
                })
                .collect();
            for h in handles {
                for (i, g) in h.join().unwrap_or_default() {
                    slots[i] = Some(g);
                }
            }
        });
        let genomes = slots
            .into_iter()
            .map(|g| g.unwrap_or_else(|| Err(Error::Input("genome loader panicked".into()))))
            .collect::<Result<Vec<_>>>()?;
        Ok(Corpus {
            name: self.manifest.name.clone(),
            genomes,
        })
    }

    /// Number of genomes.
    pub fn len(&self) -> usize {
        self.manifest.genomes.len()
    }

    /// True when there are no genomes.
    pub fn is_empty(&self) -> bool {
        self.manifest.genomes.is_empty()
    }

    /// Read, verify and parse genome `i`.
    pub fn load(&self, i: usize) -> Result<Genome> {
        let mut g = load_genome(&self.manifest.genomes[i], &*self.fetch, &self.base)?;
        if g.meta.species.is_empty() {
            if let Some(s) = &self.stems {
                g.meta.species = s[i].clone();
            }
        }
        Ok(g)
    }
}

fn first_two_words(s: &str) -> String {
    s.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
}

/// "Helicobacter pylori G27 chromosome, …" → "Helicobacter pylori" (NCBI-style descriptions).
fn species_from_description(d: &str) -> Option<String> {
    let words: Vec<&str> = d.split_whitespace().collect();
    (words.len() >= 2 && words[0].chars().next()?.is_uppercase()).then(|| words[..2].join(" "))
}
