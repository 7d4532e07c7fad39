//! Labelled sequence tasks for classifiers: labelled data as users bring it — a
//! `sequence,label` CSV or Parquet file with class names or indices, a folder with one FASTA
//! file per class (deepG's convention) or one folder per class (Genomic Benchmarks) — and
//! windows of coding vs intergenic DNA cut from an annotated genome.
//!
//! ```
//! use genolm::data::tasks::{parse_labelled_csv, parse_labelled};
//! let items = parse_labelled_csv(b"sequence,label\nACGTAC,1\nTTGACA,0\n", "toy.csv").unwrap();
//! assert_eq!(items.len(), 2);
//! assert_eq!(items[0].label, 1);
//! // class names: indices in sorted order, names kept
//! let set = parse_labelled(b"sequence,label\nACGTAC,ie\nTTGACA,ei\nGGCC,n\n", "splice.csv").unwrap();
//! assert_eq!(set.classes, ["ei", "ie", "n"]);
//! assert_eq!(set.items[0].label, 1);
//! let err = parse_labelled_csv(b"sequence,label\nACXT,ei\n", "toy.csv").unwrap_err();
//! assert!(err.to_string().starts_with("toy.csv:2:"));
//! // files as spreadsheets and pandas write them: a byte-order mark, quoted fields with commas
//! // and line breaks, other columns, RNA
//! let csv = "\u{feff}id,Label,note,Sequence\n1,lnc,\"spliced, 2 exons\",acgu\n2,mRNA,\"a\nb\",GGCA\n3,lnc,,TTAG\n";
//! let set = parse_labelled(csv.as_bytes(), "rna.csv").unwrap();
//! assert_eq!(set.classes, ["lnc", "mRNA"]);
//! assert_eq!(set.items[0].seq, b"ACGT");
//! assert_eq!(set.items[2].origin, "rna.csv:5"); // the record's line
//! // tab-separated
//! let set = parse_labelled(b"sequence\tlabel\nACGT\tpos\nTTTT\tneg\n", "t.tsv").unwrap();
//! assert_eq!(set.items.len(), 2);
//! let err = parse_labelled(b"sequence,label\nACGT,a\nACGT,b,c\n", "x.csv").unwrap_err();
//! assert!(err.to_string().starts_with("x.csv:3:"), "{err}");
//! // Windows line ends (CRLF): errors and origins name the file's own lines
//! let err = parse_labelled(b"sequence,label\r\nACGT,a\r\nACXT,b\r\n", "w.csv").unwrap_err();
//! assert!(err.to_string().starts_with("w.csv:3:"), "{err}");
//! let set = parse_labelled(b"sequence,label\r\nACGT,a\r\nACTT,b\r\n", "w.csv").unwrap();
//! assert_eq!(set.items[1].origin, "w.csv:3");
//! ```

use std::path::Path;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

mod formats;

use super::corpus::Genome;
use super::tracks::Region;
use crate::{Error, Result};

/// One labelled sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledSeq {
    /// Upper-case bases.
    pub seq: Vec<u8>,
    /// Class index.
    pub label: u32,
    /// Where it came from (`contig:start-end` for windows, the CSV line otherwise).
    pub origin: String,
}

/// Labelled sequences and the names of their classes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledSet {
    /// The sequences; `label` indexes `classes`.
    pub items: Vec<LabelledSeq>,
    /// Class names by index.
    pub classes: Vec<String>,
}

impl LabelledSet {
    /// The items with their labels renumbered to `classes` by name — a test set read on its
    /// own numbers its classes in its own order. A class that `classes` lacks is an error
    /// naming `source`.
    ///
    /// ```
    /// use genolm::data::tasks::parse_labelled;
    /// let train = parse_labelled(b"sequence,label\nACGT,phage\nTTGA,plasmid\n", "train.csv")?;
    /// let test = parse_labelled(b"sequence,label\nGGCA,plasmid\n", "test.csv")?;
    /// assert_eq!(test.items[0].label, 0); // its own first class
    /// let test = test.relabelled(&train.classes, "test.csv")?;
    /// assert_eq!(test[0].label, 1); // "plasmid" in the training classes
    /// let odd = parse_labelled(b"sequence,label\nGGCA,virus\n", "odd.csv")?;
    /// assert!(odd.relabelled(&train.classes, "odd.csv").is_err());
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn relabelled(self, classes: &[String], source: &str) -> Result<Vec<LabelledSeq>> {
        let map: Vec<u32> = self
            .classes
            .iter()
            .map(|c| {
                classes
                    .iter()
                    .position(|k| k == c)
                    .map(|i| i as u32)
                    .ok_or_else(|| {
                        Error::Input(format!(
                            "{source}: class {c:?} is not among the training classes ({})",
                            classes.join(", ")
                        ))
                    })
            })
            .collect::<Result<_>>()?;
        Ok(self
            .items
            .into_iter()
            .map(|mut x| {
                x.label = map[x.label as usize];
                x
            })
            .collect())
    }
}

/// `e` with the line it is on (counted from its byte offset in `bytes`, see [`Lines`]).
fn csv_error(bytes: &[u8], name: &str, e: csv::Error) -> Error {
    let line = e
        .position()
        .map_or(0, |p| Lines::default().at(bytes, p.byte() as usize));
    Error::parse(name, line, e.to_string())
}

/// 1-based line numbers of byte offsets, counted forward from the last offset asked for. The
/// `csv` crate's own line count (and offset) of a record is one short after a CRLF line (a
/// file from Windows or a spreadsheet), so records are placed by the first byte of their text.
#[derive(Default)]
struct Lines {
    byte: usize,
    newlines: usize,
}

impl Lines {
    fn at(&mut self, bytes: &[u8], byte: usize) -> usize {
        let mut byte = byte.min(bytes.len());
        // after a CRLF the crate's offset points at the `\n` of the line before
        while bytes.get(byte).is_some_and(|&b| b == b'\n' || b == b'\r') {
            byte += 1;
        }
        if byte < self.byte {
            *self = Lines::default();
        }
        self.newlines += bytes[self.byte..byte]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.byte = byte;
        self.newlines + 1
    }
}

/// Class indices for labels: integers 0..k keep their values (names "0", "1", …); any other
/// labels are numbered in sorted order (names kept), so the numbering never depends on the
/// order of the file.
fn class_table(labels: &[String]) -> Vec<String> {
    let mut names: Vec<String> = labels.to_vec();
    names.sort();
    names.dedup();
    let ints: Option<Vec<u32>> = names.iter().map(|n| n.parse::<u32>().ok()).collect();
    if let Some(mut v) = ints {
        v.sort_unstable();
        let k = v.last().map_or(0, |m| m + 1);
        if v.len() as u32 == k {
            return (0..k).map(|i| i.to_string()).collect();
        }
        return v.iter().map(|i| i.to_string()).collect();
    }
    names
}

/// Parse a CSV with a header naming `sequence` and `label` columns (any order, any case; other
/// columns are ignored). Read with the `csv` crate: quoted fields may hold commas, quotes and
/// line breaks; a tab-separated file (its header has tabs and no commas) and a UTF-8 byte-order
/// mark are accepted. Labels are class names (`ei`, `promoter`) or indices (`0`, `1`, …); see
/// [`LabelledSet`]. RNA (`U`) reads as `T`. Errors name the file and line.
pub fn parse_labelled(bytes: &[u8], name: &str) -> Result<LabelledSet> {
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let first = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let delimiter = if first.contains(&b'\t') && !first.contains(&b',') {
        b'\t'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(bytes);
    let header = reader
        .headers()
        .map_err(|e| csv_error(bytes, name, e))?
        .clone();
    if header.iter().all(|c| c.trim().is_empty()) {
        return Err(Error::parse(
            name,
            1,
            "empty file; expected a header `sequence,label`",
        ));
    }
    let find = |n: &str| header.iter().position(|c| c.trim().eq_ignore_ascii_case(n));
    let (Some(si), Some(li)) = (find("sequence"), find("label")) else {
        let found: Vec<&str> = header.iter().collect();
        return Err(Error::parse(
            name,
            1,
            format!("the header must name `sequence` and `label` columns, found {found:?}"),
        ));
    };
    let mut rows = Vec::new();
    let mut lines = Lines::default();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(bytes, name, e))?;
        let line_no = record
            .position()
            .map_or(0, |p| lines.at(bytes, p.byte() as usize));
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if record.len() != header.len() {
            return Err(Error::parse(
                name,
                line_no,
                format!("expected {} fields, found {}", header.len(), record.len()),
            ));
        }
        let seq = formats::clean(&record[si]).map_err(|m| Error::parse(name, line_no, m))?;
        let label = record[li].trim().to_string();
        if label.is_empty() {
            return Err(Error::parse(name, line_no, "empty label"));
        }
        rows.push((seq, label, format!("{name}:{line_no}")));
    }
    if rows.is_empty() {
        return Err(Error::parse(
            name,
            1,
            "no labelled sequences after the header",
        ));
    }
    Ok(formats::numbered(rows))
}

fn check_seq(seq: Vec<u8>) -> std::result::Result<Vec<u8>, String> {
    if seq.is_empty() {
        return Err("empty sequence".into());
    }
    if let Some(&b) = seq.iter().find(|b| !b"ACGTNRYSWKMBDHV".contains(b)) {
        return Err(format!("{:?} is not a nucleotide code", b as char));
    }
    Ok(seq)
}

/// [`parse_labelled`], keeping only the items (labels as class indices).
pub fn parse_labelled_csv(bytes: &[u8], name: &str) -> Result<Vec<LabelledSeq>> {
    Ok(parse_labelled(bytes, name)?.items)
}

/// Read a `sequence,label` CSV file.
pub fn read_labelled_csv(path: impl AsRef<Path>) -> Result<Vec<LabelledSeq>> {
    Ok(read_labelled(path)?.items)
}

/// Read labelled data as users bring it: a `sequence,label` CSV or TSV file, plain or gzip
/// ([`parse_labelled`]); a Parquet file (`.parquet`) with `sequence` and `label` columns (the
/// Hugging Face datasets of the Nucleotide Transformer and GUE benchmarks); a folder with one
/// FASTA/FASTQ file per class (plain or gzip; the class is the file name without its
/// extensions, as deepG's folder convention has it), every record one item; or a folder of
/// class folders (Genomic Benchmarks' `train/` and `test/`: `<class>/<id>.txt`, one sequence
/// per file; FASTA files in them read record by record).
///
/// ```
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("phage.fasta"), ">a\nACGTACGT\n>b\nTTTTACGA\n").unwrap();
/// std::fs::write(dir.path().join("plasmid.fa"), ">c\nGGGCCCAA\n").unwrap();
/// let set = genolm::data::tasks::read_labelled(dir.path())?;
/// assert_eq!(set.classes, ["phage", "plasmid"]);
/// assert_eq!(set.items.iter().map(|x| x.label).collect::<Vec<_>>(), [0, 0, 1]);
/// // a gzip-compressed CSV
/// use std::io::Write;
/// let csv = dir.path().join("reads.csv.gz"); // not a FASTA: the folder's classes ignore it
/// let mut gz = flate2::write::GzEncoder::new(std::fs::File::create(&csv).unwrap(), Default::default());
/// gz.write_all(b"sequence,label\nACGT,phage\nTTGA,plasmid\n").unwrap();
/// gz.finish().unwrap();
/// assert_eq!(genolm::data::tasks::read_labelled(&csv)?.classes, ["phage", "plasmid"]);
/// assert_eq!(genolm::data::tasks::read_labelled(dir.path())?.items.len(), 3);
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn read_labelled(path: impl AsRef<Path>) -> Result<LabelledSet> {
    let path = path.as_ref();
    if !path.is_dir() && formats::has_ext(path, &[".parquet", ".pq"]) {
        return formats::read_parquet(path);
    }
    if !path.is_dir() {
        // plain or gzip/bgzip (`.csv.gz`)
        let (mut reader, _) = crate::data::io::open(path)?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut reader, &mut bytes).map_err(|e| Error::io(path, e))?;
        return parse_labelled(&bytes, &path.display().to_string());
    }
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(path)
        .map_err(|e| Error::io(path, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && formats::has_ext(p, &formats::FASTA_EXTS))
        .collect();
    files.sort();
    if files.is_empty() {
        if let Some(set) = formats::read_class_folders(path)? {
            return Ok(set);
        }
    }
    if files.len() < 2 {
        return Err(Error::Input(format!(
            "{}: a folder of labelled data needs one FASTA file per class or one folder per class (at least two), found {} FASTA files",
            path.display(),
            files.len()
        )));
    }
    let mut set = LabelledSet {
        items: Vec::new(),
        classes: Vec::new(),
    };
    for f in files {
        let stem = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let class = stem.split('.').next().unwrap_or(&stem).to_string();
        let label = set.classes.len() as u32;
        let recs = super::fasta::read_fasta(&f)?;
        if recs.is_empty() {
            return Err(Error::Input(format!("{}: no sequences", f.display())));
        }
        for r in recs {
            let seq = check_seq(r.seq.to_ascii_uppercase())
                .map_err(|m| Error::Input(format!("{}: record {}: {m}", f.display(), r.name)))?;
            set.items.push(LabelledSeq {
                seq,
                label,
                origin: format!("{}:{}", f.display(), r.name),
            });
        }
        set.classes.push(class);
    }
    Ok(set)
}

/// A stratified 80/20 split (seeded): within each class, in class order, the items are
/// shuffled and the first 80 % (rounded down, at least one) go to training, so a class with a
/// single item is trained on rather than only tested.
pub fn stratified_split(items: &[LabelledSeq], seed: u64) -> (Vec<LabelledSeq>, Vec<LabelledSeq>) {
    let (tr, te) = stratified_split_indices(items, seed);
    let pick = |idx: Vec<usize>| idx.into_iter().map(|i| items[i].clone()).collect();
    (pick(tr), pick(te))
}

/// [`stratified_split`] as indices into `items` (training, test), in the same order: for
/// callers that already hold something per item (features) and should not compute it again.
///
/// ```
/// use genolm::data::tasks::{stratified_split, stratified_split_indices, LabelledSeq};
/// let items: Vec<LabelledSeq> = (0..10)
///     .map(|i| LabelledSeq { seq: vec![b'A'; i + 1], label: (i % 2) as u32, origin: String::new() })
///     .collect();
/// let (tr, te) = stratified_split_indices(&items, 3);
/// let (a, b) = stratified_split(&items, 3);
/// assert_eq!(tr.iter().map(|&i| items[i].seq.len()).collect::<Vec<_>>(),
///            a.iter().map(|x| x.seq.len()).collect::<Vec<_>>());
/// assert_eq!(te.len(), b.len());
/// ```
pub fn stratified_split_indices(items: &[LabelledSeq], seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut tr, mut te) = (Vec::new(), Vec::new());
    let n_classes = items
        .iter()
        .map(|x| x.label)
        .max()
        .map(|m| m + 1)
        .unwrap_or(0);
    for c in 0..n_classes {
        let mut v: Vec<usize> = (0..items.len()).filter(|&i| items[i].label == c).collect();
        v.shuffle(&mut rng);
        let cut = (v.len() * 4 / 5).max(1).min(v.len());
        te.extend(v.split_off(cut));
        tr.extend(v);
    }
    (tr, te)
}

/// Stratified `k`-fold cross-validation (seeded): within each class, in class order, the items
/// are shuffled and dealt to the folds in turn (the deal of each class starts where the last
/// one stopped, so fold sizes differ by at most one). Returns one `(train, test)` pair per
/// fold; every item is in exactly one test part. `k` is at least 2 and at most the number of
/// items.
///
/// ```
/// use genolm::data::tasks::{stratified_folds, LabelledSeq};
/// let items: Vec<LabelledSeq> = (0..10)
///     .map(|i| LabelledSeq { seq: vec![b'A'; 4], label: (i % 2) as u32, origin: i.to_string() })
///     .collect();
/// let folds = stratified_folds(&items, 5, 7);
/// assert_eq!(folds.len(), 5);
/// let mut tested: Vec<String> = folds.iter().flat_map(|(_, te)| te.iter().map(|x| x.origin.clone())).collect();
/// tested.sort();
/// tested.dedup();
/// assert_eq!(tested.len(), 10); // each item tested once
/// assert_eq!(folds.iter().map(|(_, te)| te.len()).sum::<usize>(), 10);
/// assert!(folds.iter().all(|(tr, te)| tr.len() == 8 && te.iter().filter(|x| x.label == 1).count() == 1));
/// ```
pub fn stratified_folds(
    items: &[LabelledSeq],
    k: usize,
    seed: u64,
) -> Vec<(Vec<LabelledSeq>, Vec<LabelledSeq>)> {
    let k = k.clamp(2, items.len().max(2));
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n_classes = items.iter().map(|x| x.label + 1).max().unwrap_or(0);
    let mut fold_of = vec![0usize; items.len()];
    let mut next = 0;
    for c in 0..n_classes {
        let mut v: Vec<usize> = (0..items.len()).filter(|&i| items[i].label == c).collect();
        v.shuffle(&mut rng);
        for i in v {
            fold_of[i] = next % k;
            next += 1;
        }
    }
    (0..k)
        .map(|f| {
            let (te, tr): (Vec<_>, Vec<_>) =
                items.iter().zip(&fold_of).partition(|(_, &of)| of == f);
            (
                tr.into_iter().map(|(x, _)| x.clone()).collect(),
                te.into_iter().map(|(x, _)| x.clone()).collect(),
            )
        })
        .collect()
}

/// At most `n` of `items`, each class keeping its share (seeded); all of them when `n` is not
/// smaller.
pub fn stratified_subsample(items: &[LabelledSeq], n: usize, seed: u64) -> Vec<LabelledSeq> {
    if n >= items.len() {
        return items.to_vec();
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n_classes = items.iter().map(|x| x.label + 1).max().unwrap_or(0);
    let mut out = Vec::new();
    for c in 0..n_classes {
        let mut v: Vec<&LabelledSeq> = items.iter().filter(|x| x.label == c).collect();
        v.shuffle(&mut rng);
        let keep = (v.len() * n).div_ceil(items.len()).max(1);
        out.extend(v.into_iter().take(keep).cloned());
    }
    out
}

/// Every class cut to the size of the smallest one (a seeded choice within each class; the
/// smallest keeps all its items), the items kept in their order: a balanced task from a pool
/// with many more items of one class, e.g. a few promoters against many genome windows. A
/// balanced set comes back unchanged.
///
/// ```
/// use genolm::data::tasks::{balanced_subsample, LabelledSeq};
/// let item = |label| LabelledSeq { seq: b"ACGT".to_vec(), label, origin: String::new() };
/// let pool: Vec<_> = (0..10).map(|i| item(u32::from(i < 7))).collect(); // 3 of class 0, 7 of class 1
/// let b = balanced_subsample(&pool, 1);
/// assert_eq!(b.iter().filter(|x| x.label == 1).count(), 3);
/// assert_eq!(b.len(), 6);
/// assert_eq!(balanced_subsample(&b, 2), b);
/// ```
pub fn balanced_subsample(items: &[LabelledSeq], seed: u64) -> Vec<LabelledSeq> {
    let n_classes = items.iter().map(|x| x.label + 1).max().unwrap_or(0) as usize;
    let mut per: Vec<Vec<usize>> = vec![Vec::new(); n_classes];
    for (i, x) in items.iter().enumerate() {
        per[x.label as usize].push(i);
    }
    let keep = per
        .iter()
        .map(Vec::len)
        .filter(|&n| n > 0)
        .min()
        .unwrap_or(0);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut kept = vec![false; items.len()];
    for mut v in per {
        if v.len() > keep {
            v.shuffle(&mut rng);
            v.truncate(keep);
        }
        for i in v {
            kept[i] = true;
        }
    }
    items
        .iter()
        .zip(kept)
        .filter(|(_, k)| *k)
        .map(|(x, _)| x.clone())
        .collect()
}

/// Windows of `len` bases from the annotated contigs of `genome`: label 1 when every base is
/// inside a CDS (either strand), label 0 when every base is intergenic (no gene or RNA), at
/// most `per_class` of each, non-overlapping, chosen with `seed`. Windows with ambiguous bases
/// are skipped.
pub fn coding_vs_intergenic(
    genome: &Genome,
    len: usize,
    per_class: usize,
    seed: u64,
) -> Result<Vec<LabelledSeq>> {
    if len == 0 {
        return Err(Error::Config("window length must be positive".into()));
    }
    let mut cand: [Vec<LabelledSeq>; 2] = [Vec::new(), Vec::new()];
    let opts = genome.track_options();
    for c in &genome.contigs {
        let Some(t) = c.tracks(&opts) else { continue };
        let t = t?;
        let cds = t.cds_mask();
        let mut start = 0;
        while start + len <= c.seq.len() {
            let w = start..start + len;
            let bases_ok = c.seq[w.clone()].iter().all(|b| b"ACGT".contains(b));
            let coding = cds[w.clone()].iter().all(|&x| x == 1);
            let inter = t.region[w.clone()].iter().all(|&r| r == Region::Intergenic)
                && cds[w.clone()].iter().all(|&x| x == 0);
            if bases_ok && (coding || inter) {
                let label = coding as usize;
                cand[label].push(LabelledSeq {
                    seq: c.seq[w.clone()].to_vec(),
                    label: label as u32,
                    origin: format!("{}:{}-{}", c.name, w.start + 1, w.end),
                });
            }
            start += len;
        }
    }
    if cand[0].is_empty() || cand[1].is_empty() {
        return Err(Error::Input(format!(
            "{}: found {} coding and {} intergenic windows of {len} nt; need annotated contigs with both",
            genome.meta.id,
            cand[1].len(),
            cand[0].len()
        )));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    for mut c in cand {
        c.shuffle(&mut rng);
        c.truncate(per_class);
        out.extend(c);
    }
    out.shuffle(&mut rng);
    Ok(out)
}
