//! Which sequence another file means by a name. A VCF's `CHROM` or a GFF3 file's `seqid` often
//! spells a FASTA record's name another way: NCBI's older FASTA headers are
//! `gi|87159884|ref|NC_007793.1|` where the VCF says `NC_007793.1`; an annotation may drop the
//! version (`NC_007793`); UCSC writes `chr1` where Ensembl writes `1`. [`SeqNames`] finds the
//! record a name means when exactly one record fits, and nothing when none or several do.
//!
//! ```
//! use genolm::data::names::SeqNames;
//! let names = SeqNames::new(["gi|87159884|ref|NC_007793.1|", "chr2 some description", "plasmid_A"]);
//! assert_eq!(names.find("gi|87159884|ref|NC_007793.1|"), Some(0)); // as written
//! assert_eq!(names.find("NC_007793.1"), Some(0)); // a field of an NCBI pipe name
//! assert_eq!(names.find("NC_007793"), Some(0)); // without its version
//! assert_eq!(names.find("NC_007793.2"), None); // another version is another sequence
//! assert_eq!(names.find("2"), Some(1)); // chr2, the first word of its header
//! assert_eq!(names.find("plasmid_B"), None);
//! ```

use std::collections::HashMap;

/// The names of a file's records, indexed for [`find`](SeqNames::find).
#[derive(Debug, Clone, Default)]
pub struct SeqNames {
    /// Each record's name as written, and its first word.
    exact: HashMap<String, usize>,
    /// Other spellings: each `|` field of the first word, without a version, without `chr`;
    /// with the version each form had (None when none). A spelling that several records share
    /// lists them all and is never used.
    alias: HashMap<String, Vec<(usize, Option<String>)>>,
}

/// The spellings of one name: itself, and without its `.N` version and its `chr` prefix; each
/// with the version it carried.
fn spellings(word: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let (base, version) = match word.rsplit_once('.') {
        Some((b, v)) if !b.is_empty() && !v.is_empty() && v.bytes().all(|c| c.is_ascii_digit()) => {
            (b, Some(v.to_string()))
        }
        _ => (word, None),
    };
    for form in [word, base] {
        out.push((form.to_string(), version.clone()));
        if form.len() > 3 && form[..3].eq_ignore_ascii_case("chr") {
            out.push((form[3..].to_string(), version.clone()));
        }
    }
    out
}

impl SeqNames {
    /// Index the names of a file's records, in order (index `i` is the `i`-th name).
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut s = SeqNames::default();
        for (i, name) in names.into_iter().enumerate() {
            s.exact.entry(name.to_string()).or_insert(i);
            let word = name.split_whitespace().next().unwrap_or(name);
            s.exact.entry(word.to_string()).or_insert(i);
            for field in word.split('|').filter(|f| !f.is_empty()) {
                for (form, version) in spellings(field) {
                    let e = s.alias.entry(form).or_default();
                    if !e.iter().any(|(j, _)| *j == i) {
                        e.push((i, version));
                    }
                }
            }
        }
        s
    }

    /// The record `query` means: the one named so (or whose first word is `query`); else the
    /// one record that one of `query`'s spellings fits (a `|` field of its name, the name
    /// without a version or `chr`), never two names' versions that differ. `None` when no
    /// record, or more than one, fits.
    pub fn find(&self, query: &str) -> Option<usize> {
        if let Some(&i) = self.exact.get(query) {
            return Some(i);
        }
        let mut hit: Option<usize> = None;
        for (form, qv) in spellings(query) {
            let Some(recs) = self.alias.get(&form) else {
                continue;
            };
            let fits: Vec<usize> = recs
                .iter()
                .filter(|(_, v)| !matches!((&qv, v), (Some(a), Some(b)) if a != b))
                .map(|&(i, _)| i)
                .collect();
            match (fits.as_slice(), hit) {
                ([i], None) => hit = Some(*i),
                ([i], Some(h)) if *i == h => {}
                ([], _) => {}
                _ => return None,
            }
        }
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::SeqNames;

    #[test]
    fn ambiguous_spellings_find_nothing() {
        // every NCBI pipe name has the fields `gi` and `ref`: they name no record
        let n = SeqNames::new(["gi|1|ref|NC_1.1|", "gi|2|ref|NC_2.1|"]);
        assert_eq!(n.find("gi"), None);
        assert_eq!(n.find("ref"), None);
        assert_eq!(n.find("NC_2.1"), Some(1));
        assert_eq!(n.find("2"), Some(1)); // the GI number
                                          // `1` is record 0's GI number and, without `chr`, nothing else: one record fits
        assert_eq!(n.find("chr1"), Some(0));
        // two records that differ only by version: the bare accession is ambiguous
        let v = SeqNames::new(["NC_9.1", "NC_9.2"]);
        assert_eq!(v.find("NC_9"), None);
        assert_eq!(v.find("NC_9.2"), Some(1));
        // a version in the query, none in the file: the same accession
        assert_eq!(SeqNames::new(["NC_9"]).find("NC_9.3"), Some(0));
        // UCSC and Ensembl spellings both ways
        let c = SeqNames::new(["1", "chrX", "MT"]);
        assert_eq!(c.find("chr1"), Some(0));
        assert_eq!(c.find("X"), Some(1));
        assert_eq!(c.find("chrMT"), Some(2));
        assert_eq!(SeqNames::new(Vec::<&str>::new()).find("x"), None);
    }
}
