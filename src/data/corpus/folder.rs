//! A folder of your own genomes without a `manifest.json`, read as one: kingdom sub-folders
//! (`pro/`, `euk/`, `vir/` …) at any depth below them, as NCBI downloads nest them
//! (`pro/ncbi_dataset/data/GCF_…/GCF_…_genomic.fna`, or the FTP site's one folder per
//! assembly), or GenBank files that name their kingdom.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::manifest::{default_topology, FileEntry, GenomeMeta, Manifest};
use super::Kingdom;
use crate::data::io::file_kind;
use crate::{Error, Result};

/// Folders below a corpus folder that are walked (NCBI Datasets nests four deep:
/// `pro/ncbi_dataset/data/GCF_…/`).
const MAX_DEPTH: usize = 6;

/// The manifest [`Corpus::from_dir`](super::Corpus::from_dir) reads a folder without one as,
/// and each genome's file stem (its species when the files do not name one).
pub(super) fn dir_manifest(dir: &Path) -> Result<(Manifest, Vec<String>)> {
    let mut found: Vec<(GenomeMeta, String, PathBuf)> = Vec::new();
    let mut subdirs: Vec<PathBuf> = list(dir)?.into_iter().filter(|p| p.is_dir()).collect();
    subdirs.sort();
    for sub in subdirs {
        let Some(kingdom) = sub
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(Kingdom::from_name)
        else {
            continue;
        };
        for (folder, files) in walk(&sub)? {
            for f in genome_files(&files) {
                if let Some(meta) = genome_meta(dir, f, &files, kingdom) {
                    found.push((meta, file_kind(f).0, folder.clone()));
                }
            }
        }
    }
    if found.is_empty() {
        // A folder without kingdom sub-folders (as NCBI downloads come): GenBank files name
        // their kingdom in the ORGANISM lineage; FASTA files do not.
        let mut unknown = Vec::new();
        for (folder, files) in walk(dir)? {
            for f in genome_files(&files) {
                let kingdom = match file_kind(f).1 {
                    "genbank" => lineage_kingdom(f)?,
                    _ => None,
                };
                match kingdom.and_then(|k| genome_meta(dir, f, &files, k)) {
                    Some(meta) => found.push((meta, file_kind(f).0, folder.clone())),
                    None => unknown.push(
                        f.strip_prefix(dir)
                            .unwrap_or(f)
                            .to_string_lossy()
                            .into_owned(),
                    ),
                }
            }
        }
        if !unknown.is_empty() {
            return Err(Error::Input(format!(
                "{}: the kingdom of {} file(s) is unknown ({}{}): put each genome in a sub-folder pro/, euk/ or vir/ (at any depth below it), or write a manifest.json (GenBank files whose ORGANISM lineage starts with Bacteria, Archaea, Eukaryota or Viruses need neither)",
                dir.display(),
                unknown.len(),
                unknown[..unknown.len().min(3)].join(", "),
                if unknown.len() > 3 { ", …" } else { "" }
            )));
        }
    }
    if found.is_empty() {
        return Err(Error::Input(format!(
            "{}: no genomes found (expected a manifest.json, sub-folders pro/, euk/, vir/ with FASTA or GenBank files, or GenBank files)",
            dir.display()
        )));
    }
    unique_ids(&mut found);
    let (metas, stems) = found.into_iter().map(|(m, s, _)| (m, s)).unzip();
    let m = Manifest {
        name: dir
            .file_name()
            .map_or("corpus".into(), |n| n.to_string_lossy().into_owned()),
        version: 1,
        description: String::new(),
        genomes: metas,
    };
    Ok((m, stems))
}

/// Ids from file stems collide when files of the same name lie in different folders (NCBI
/// Datasets calls every assembly's GenBank file `genomic.gbff`): those take their folder's
/// name too (`pro_gcf_000005845.2_genomic`).
fn unique_ids(found: &mut [(GenomeMeta, String, PathBuf)]) {
    let mut count: BTreeMap<String, usize> = BTreeMap::new();
    for (m, _, _) in found.iter() {
        *count.entry(m.id.clone()).or_default() += 1;
    }
    for (m, stem, folder) in found.iter_mut() {
        if count[&m.id] > 1 {
            if let Some(name) = folder.file_name() {
                let name = name.to_string_lossy().to_ascii_lowercase();
                m.id = format!("{}_{name}_{stem}", m.kingdom.as_str().to_lowercase());
            }
        }
    }
}

/// Every folder below `root` (itself first, to [`MAX_DEPTH`]) with its files, sorted; hidden
/// entries (`.…`) are left out.
fn walk(root: &Path) -> Result<Vec<(PathBuf, Vec<PathBuf>)>> {
    let mut out = Vec::new();
    let mut todo = vec![(root.to_path_buf(), 0)];
    while let Some((d, depth)) = todo.pop() {
        let entries: Vec<PathBuf> = list(&d)?
            .into_iter()
            .filter(|p| {
                !p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        let (dirs, files): (Vec<PathBuf>, Vec<PathBuf>) =
            entries.into_iter().partition(|p| p.is_dir());
        out.push((d, files));
        if depth < MAX_DEPTH {
            todo.extend(dirs.into_iter().rev().map(|s| (s, depth + 1)));
        }
    }
    Ok(out)
}

/// The files of one folder that are genomes: FASTA and GenBank files, less the products NCBI
/// writes beside an assembly (`cds_from_genomic.fna`, `rna.fna`, `…_rna_from_genomic.fna`,
/// `…_translated_cds.faa`), and less the FASTA of an assembly whose GenBank file is there too
/// (the FTP site's `X_genomic.fna` beside `X_genomic.gbff`, Datasets' `GCF_…_genomic.fna`
/// beside `genomic.gbff`): the GenBank file holds the same sequence with its annotation.
fn genome_files(files: &[PathBuf]) -> Vec<&PathBuf> {
    let by_product = |stem: &str| {
        ["cds_from_genomic", "rna", "protein", "cds"].contains(&stem)
            || [
                "_cds_from_genomic",
                "_rna_from_genomic",
                "_translated_cds",
                "_rna",
            ]
            .iter()
            .any(|s| stem.ends_with(s))
    };
    let kinds: Vec<(String, &str)> = files.iter().map(|f| file_kind(f)).collect();
    let genbank: Vec<&str> = kinds
        .iter()
        .filter(|(_, k)| *k == "genbank")
        .map(|(s, _)| s.as_str())
        .collect();
    let fasta_genomic = kinds
        .iter()
        .filter(|(s, k)| *k == "fasta" && s.ends_with("_genomic"))
        .count();
    files
        .iter()
        .zip(&kinds)
        .filter(|(_, (stem, kind))| match *kind {
            "genbank" => !by_product(stem),
            "fasta" => {
                // a FASTA that a GenBank file beside it stands for
                let datasets_pair =
                    stem.ends_with("_genomic") && fasta_genomic == 1 && genbank == ["genomic"];
                !(by_product(stem) || genbank.contains(&stem.as_str()) || datasets_pair)
            }
            _ => false,
        })
        .map(|(f, _)| f)
        .collect()
}

/// The files and folders of `dir`, sorted.
fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    v.sort();
    Ok(v)
}

/// The manifest entry of the genome in file `f` (FASTA, with a GFF3 of the same stem among
/// `files` when there is one, or GenBank); `None` for other files.
fn genome_meta(dir: &Path, f: &Path, files: &[PathBuf], kingdom: Kingdom) -> Option<GenomeMeta> {
    if !f.is_file() {
        return None;
    }
    let (stem, kind) = file_kind(f);
    let entry = |p: &Path, fmt: &str| FileEntry {
        path: p
            .strip_prefix(dir)
            .unwrap_or(p)
            .to_string_lossy()
            .into_owned(),
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
        _ => return None,
    };
    if kind == "fasta" {
        // the GFF3 of the same stem; NCBI Datasets' `genomic.gff` beside `GCF_…_genomic.fna`
        let gff3 = |s: &str| {
            files
                .iter()
                .find(|o| file_kind(o) == (s.to_string(), "gff3"))
        };
        let datasets = || {
            stem.ends_with("_genomic")
                .then(|| gff3("genomic"))
                .flatten()
        };
        if let Some(g) = gff3(&stem).or_else(datasets) {
            fe.push(entry(g, "gff3"));
        }
    }
    Some(GenomeMeta {
        id: format!("{}_{stem}", kingdom.as_str().to_lowercase()),
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
    })
}

/// The kingdom a GenBank file's first ORGANISM lineage names (`Bacteria; …`, `Archaea; …`,
/// `Eukaryota; …`, `Viruses; …`), read from its first 64 kB.
fn lineage_kingdom(f: &Path) -> Result<Option<Kingdom>> {
    use std::io::Read;
    let mut head = Vec::new();
    crate::data::io::open(f)?
        .0
        .take(1 << 16)
        .read_to_end(&mut head)
        .map_err(|e| Error::io(f, e))?;
    let text = String::from_utf8_lossy(&head);
    let mut lines = text
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("ORGANISM"));
    Ok(lines.nth(1).and_then(|l| {
        let first = l.trim().split([';', '.']).next()?.trim();
        Kingdom::from_name(first)
    }))
}
