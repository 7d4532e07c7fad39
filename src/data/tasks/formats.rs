//! Labelled data in the layouts public benchmarks ship besides CSV: Parquet files (the Hugging
//! Face datasets of the Nucleotide Transformer and GUE tasks, `sequence` and `label` columns)
//! and a folder of class folders (Genomic Benchmarks: `train/<class>/<id>.txt`, one sequence
//! per file; FASTA files inside a class folder are read record by record).

use std::path::{Path, PathBuf};

use super::{check_seq, class_table, LabelledSeq, LabelledSet};
use crate::{Error, Result};

/// File name extensions (after an optional `.gz`) of FASTA/FASTQ files.
pub(super) const FASTA_EXTS: [&str; 5] = [".fa", ".fasta", ".fna", ".fq", ".fastq"];

/// Whether `p`'s name ends in one of `exts`, before an optional `.gz`.
pub(super) fn has_ext(p: &Path, exts: &[&str]) -> bool {
    let n = p
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let n = n.strip_suffix(".gz").unwrap_or(&n);
    exts.iter().any(|e| n.ends_with(e))
}

/// Items in the order given, numbered by [`class_table`] (the CSV's rules: integer labels keep
/// their values, names are sorted).
pub(super) fn numbered(rows: Vec<(Vec<u8>, String, String)>) -> LabelledSet {
    let labels: Vec<String> = rows.iter().map(|r| r.1.clone()).collect();
    let classes = class_table(&labels);
    let items = rows
        .into_iter()
        .map(|(seq, l, origin)| LabelledSeq {
            seq,
            label: classes
                .iter()
                .position(|c| *c == l)
                .expect("every label has a class") as u32,
            origin,
        })
        .collect();
    LabelledSet { items, classes }
}

/// Upper case, RNA's `U` as `T`, checked as the CSV reader checks.
pub(super) fn clean(seq: &str) -> std::result::Result<Vec<u8>, String> {
    let mut seq = seq.trim().to_ascii_uppercase().into_bytes();
    for b in &mut seq {
        if *b == b'U' {
            *b = b'T';
        }
    }
    check_seq(seq)
}

/// A Parquet file with `sequence` and `label` columns (any case; other columns ignored; labels
/// strings, integers or booleans). Errors name the file and the row (1-based).
///
/// ```
/// use polars::prelude::*;
/// let dir = tempfile::tempdir().unwrap();
/// let p = dir.path().join("train.parquet");
/// let mut df = df!("sequence" => ["ACGT", "ttga", "GGCA"], "name" => ["a", "b", "c"],
///                  "label" => [1i64, 0, 1]).unwrap();
/// ParquetWriter::new(std::fs::File::create(&p).unwrap()).finish(&mut df).unwrap();
/// let set = genolm::data::tasks::read_labelled(&p)?;
/// assert_eq!(set.classes, ["0", "1"]);
/// assert_eq!(set.items[1].seq, b"TTGA");
/// assert_eq!(set.items[1].label, 0);
/// # Ok::<(), genolm::Error>(())
/// ```
pub(super) fn read_parquet(path: &Path) -> Result<LabelledSet> {
    use polars::prelude::*;
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let df = ParquetReader::new(file)
        .finish()
        .map_err(|e| Error::Input(format!("{name}: not a readable Parquet file: {e}")))?;
    let find = |n: &str| {
        df.get_column_names()
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(n))
            .cloned()
    };
    let (Some(sc), Some(lc)) = (find("sequence"), find("label")) else {
        let found: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|c| c.to_string())
            .collect();
        return Err(Error::Input(format!(
            "{name}: the file must have `sequence` and `label` columns, found {found:?}"
        )));
    };
    let as_strings = |c: &PlSmallStr| -> Result<StringChunked> {
        let s = df
            .column(c)
            .and_then(|s| s.cast(&DataType::String))
            .map_err(|e| Error::Input(format!("{name}: column `{c}`: {e}")))?;
        Ok(s.str()
            .map_err(|e| Error::Input(format!("{name}: column `{c}`: {e}")))?
            .clone())
    };
    let (seqs, labels) = (as_strings(&sc)?, as_strings(&lc)?);
    let mut rows = Vec::with_capacity(df.height());
    for (i, (s, l)) in seqs.iter().zip(labels.iter()).enumerate() {
        let at = |m: &str| Error::Input(format!("{name}: row {}: {m}", i + 1));
        let seq = clean(s.ok_or_else(|| at("no sequence"))?).map_err(|m| at(&m))?;
        let label = l.map(str::trim).unwrap_or_default();
        if label.is_empty() {
            return Err(at("empty label"));
        }
        rows.push((seq, label.to_string(), format!("{name}:row {}", i + 1)));
    }
    if rows.is_empty() {
        return Err(Error::Input(format!("{name}: no rows")));
    }
    Ok(numbered(rows))
}

/// The files of `dir`, sorted by name (hidden files skipped).
fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    v.sort();
    Ok(v)
}

/// One class folder per class (the class is the folder's name), as Genomic Benchmarks lays out
/// `train/` and `test/`: every FASTA/FASTQ file inside (by its name, or a text that begins with
/// `>`) gives one item per record, every other
/// file (`.txt`, `.seq`, no extension; plain or gzip) one item, its whole text a sequence (line
/// breaks ignored). Classes are the folder names in sorted order, or 0, 1, … when the folders
/// are so named. `None` when `dir` has fewer than two subfolders.
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// for (class, id, seq) in [("positive", "0", "ACGTAC\n"), ("positive", "1", "TTGACA"),
///                          ("negative", "0", "GGGCCC\nAA\n")] {
///     std::fs::create_dir_all(dir.path().join(class)).unwrap();
///     std::fs::write(dir.path().join(class).join(format!("{id}.txt")), seq).unwrap();
/// }
/// let set = genolm::data::tasks::read_labelled(dir.path())?;
/// assert_eq!(set.classes, ["negative", "positive"]);
/// assert_eq!(set.items[0].seq, b"GGGCCCAA");
/// assert_eq!(set.items.iter().filter(|x| x.label == 1).count(), 2);
/// # Ok::<(), genolm::Error>(())
/// ```
pub(super) fn read_class_folders(dir: &Path) -> Result<Option<LabelledSet>> {
    let classes: Vec<PathBuf> = sorted_entries(dir)?
        .into_iter()
        .filter(|p| p.is_dir())
        .collect();
    if classes.len() < 2 {
        return Ok(None);
    }
    let mut rows = Vec::new();
    for folder in &classes {
        let class = folder
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let before = rows.len();
        for f in sorted_entries(folder)?.into_iter().filter(|p| p.is_file()) {
            // each file read once (plain or gzip), then as FASTA or as one sequence
            let (mut reader, _) = crate::data::io::open(&f)?;
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut reader, &mut bytes).map_err(|e| Error::io(&f, e))?;
            let header = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'>');
            if has_ext(&f, &FASTA_EXTS) || header {
                let name = f.display().to_string();
                for r in crate::data::fasta::read_fasta_bytes(&bytes, &name)? {
                    let seq = clean(&String::from_utf8_lossy(&r.seq))
                        .map_err(|m| Error::Input(format!("{name}: record {}: {m}", r.name)))?;
                    rows.push((seq, class.clone(), format!("{name}:{}", r.name)));
                }
                continue;
            }
            let text = std::str::from_utf8(&bytes)
                .map_err(|e| Error::Input(format!("{}: not a text file: {e}", f.display())))?;
            let joined: String = text.split_whitespace().collect();
            let seq = clean(&joined).map_err(|m| Error::Input(format!("{}: {m}", f.display())))?;
            rows.push((seq, class.clone(), f.display().to_string()));
        }
        if rows.len() == before {
            return Err(Error::Input(format!(
                "{}: a class folder with no sequence files",
                folder.display()
            )));
        }
    }
    Ok(Some(numbered(rows)))
}

#[cfg(test)]
mod tests {
    use crate::data::tasks::read_labelled;

    /// Bad input names the file (and the row): a missing column, a bad letter, an empty class
    /// folder, a Parquet file that is not one.
    #[test]
    fn bad_input_names_the_file() {
        use polars::prelude::*;
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, mut df: DataFrame| {
            let p = dir.path().join(name);
            ParquetWriter::new(std::fs::File::create(&p).unwrap())
                .finish(&mut df)
                .unwrap();
            p
        };
        let p = write(
            "a.parquet",
            df!("seq" => ["ACGT"], "label" => [1i64]).unwrap(),
        );
        let e = read_labelled(&p).unwrap_err().to_string();
        assert!(e.contains("a.parquet") && e.contains("`sequence`"), "{e}");
        let p = write(
            "b.parquet",
            df!("Sequence" => ["ACGT", "ACXT"], "Label" => ["x", "y"]).unwrap(),
        );
        let e = read_labelled(&p).unwrap_err().to_string();
        assert!(e.contains("b.parquet: row 2") && e.contains("'X'"), "{e}");
        let p = write(
            "c.parquet",
            df!("sequence" => ["ACGU", "ACGT"], "label" => [true, false]).unwrap(),
        );
        let set = read_labelled(&p).unwrap();
        assert_eq!(set.classes, ["false", "true"]);
        assert_eq!(set.items[0].seq, b"ACGT");
        let p = dir.path().join("d.parquet");
        std::fs::write(&p, "sequence,label\nACGT,1\n").unwrap();
        let e = read_labelled(&p).unwrap_err().to_string();
        assert!(e.contains("d.parquet: not a readable Parquet file"), "{e}");

        let root = dir.path().join("gb");
        for c in ["neg", "pos"] {
            std::fs::create_dir_all(root.join(c)).unwrap();
        }
        std::fs::write(root.join("pos").join("0.txt"), "ACGT\n").unwrap();
        let e = read_labelled(&root).unwrap_err().to_string();
        assert!(e.contains("neg") && e.contains("no sequence files"), "{e}");
        std::fs::write(root.join("neg").join("7.txt"), "AC GT\nNNXA\n").unwrap();
        let e = read_labelled(&root).unwrap_err().to_string();
        assert!(e.contains("7.txt") && e.contains("'X'"), "{e}");
        std::fs::write(root.join("neg").join("7.txt"), "AC GT\nNNAA\n").unwrap();
        std::fs::write(root.join("neg").join("8.fa"), ">r1\nAAAA\n>r2\nCCCC\n").unwrap();
        std::fs::write(root.join("pos").join("1.txt"), "\n>p1\nGGGG\n>p2\nTTTT\n").unwrap();
        let set = read_labelled(&root).unwrap();
        assert_eq!(set.items.len(), 6);
        assert!(
            set.items[5].origin.ends_with("1.txt:p2"),
            "{}",
            set.items[5].origin
        );
        assert_eq!(set.items[0].seq, b"ACGTNNAA");
        assert!(
            set.items[2].origin.ends_with("8.fa:r2"),
            "{}",
            set.items[2].origin
        );
    }
}
