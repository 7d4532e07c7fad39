//! Labelled sequence tasks for classifiers: a `sequence,label` CSV reader and windows of
//! coding vs intergenic DNA cut from an annotated genome.
//!
//! ```
//! use genolm::data::tasks::parse_labelled_csv;
//! let items = parse_labelled_csv(b"sequence,label\nACGTAC,1\nTTGACA,0\n", "toy.csv").unwrap();
//! assert_eq!(items.len(), 2);
//! assert_eq!(items[0].label, 1);
//! let err = parse_labelled_csv(b"sequence,label\nACGT,x\n", "toy.csv").unwrap_err();
//! assert!(err.to_string().starts_with("toy.csv:2:"));
//! ```

use std::path::Path;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

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

/// Parse a CSV with a header naming `sequence` and `label` columns (any order; other columns
/// are ignored). Labels are non-negative integers. Errors name the file and line.
pub fn parse_labelled_csv(bytes: &[u8], name: &str) -> Result<Vec<LabelledSeq>> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| Error::parse(name, 0, format!("not UTF-8 text: {e}")))?;
    let mut lines = text.lines().enumerate();
    let (_, header) = lines
        .next()
        .ok_or_else(|| Error::parse(name, 1, "empty file; expected a header `sequence,label`"))?;
    let cols: Vec<String> = header
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let find = |n: &str| cols.iter().position(|c| c == n);
    let (Some(si), Some(li)) = (find("sequence"), find("label")) else {
        return Err(Error::parse(
            name,
            1,
            format!("the header must name `sequence` and `label` columns, found {header:?}"),
        ));
    };
    let mut out = Vec::new();
    for (i, line) in lines {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != cols.len() {
            return Err(Error::parse(
                name,
                line_no,
                format!("expected {} fields, found {}", cols.len(), f.len()),
            ));
        }
        let seq = f[si].trim().to_ascii_uppercase().into_bytes();
        if seq.is_empty() {
            return Err(Error::parse(name, line_no, "empty sequence"));
        }
        if let Some(&b) = seq.iter().find(|b| !b"ACGTNRYSWKMBDHV".contains(b)) {
            return Err(Error::parse(
                name,
                line_no,
                format!("{:?} is not a nucleotide code", b as char),
            ));
        }
        let label: u32 = f[li].trim().parse().map_err(|_| {
            Error::parse(
                name,
                line_no,
                format!("label {:?} is not a class index", f[li].trim()),
            )
        })?;
        out.push(LabelledSeq {
            seq,
            label,
            origin: format!("{name}:{line_no}"),
        });
    }
    Ok(out)
}

/// Read a `sequence,label` CSV file.
pub fn read_labelled_csv(path: impl AsRef<Path>) -> Result<Vec<LabelledSeq>> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_labelled_csv(&bytes, &path.display().to_string())
}

/// A stratified 80/20 split (seeded): within each class, in class order, the items are
/// shuffled and the first 80 % go to training.
pub fn stratified_split(items: &[LabelledSeq], seed: u64) -> (Vec<LabelledSeq>, Vec<LabelledSeq>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut tr, mut te) = (Vec::new(), Vec::new());
    let n_classes = items
        .iter()
        .map(|x| x.label)
        .max()
        .map(|m| m + 1)
        .unwrap_or(0);
    for c in 0..n_classes {
        let mut v: Vec<LabelledSeq> = items.iter().filter(|x| x.label == c).cloned().collect();
        v.shuffle(&mut rng);
        let cut = v.len() * 4 / 5;
        te.extend(v.split_off(cut));
        tr.extend(v);
    }
    (tr, te)
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
