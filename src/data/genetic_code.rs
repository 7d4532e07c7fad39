//! NCBI genetic codes and translation.
//!
//! Tables are the NCBI `gc.prt` strings (codon order TCAG × TCAG × TCAG). Translation follows
//! the conventions of GenBank's `/translation` qualifier: an alternative start codon is read as
//! `M` when the CDS is complete at its 5' end, codons with IUPAC ambiguity translate to the
//! amino acid they all agree on (else `X`), and a final stop is not part of the protein.
//!
//! ```
//! use genolm::data::genetic_code::GeneticCode;
//! let code = GeneticCode::new(11).unwrap();
//! assert_eq!(code.translate_codon(b"ATG"), b'M');
//! assert_eq!(code.translate_codon(b"TAA"), b'*');
//! assert_eq!(code.translate_codon(b"GCN"), b'A'); // ambiguity that agrees
//! assert_eq!(code.translate(b"GTGAAATAA", true), b"MK*".to_vec()); // GTG start → M
//! ```

use crate::{Error, Result};

/// The 20 amino acids and the stop symbol, in the index order used by tracks.
pub const AMINO_ACIDS: &[u8; 21] = b"ACDEFGHIKLMNPQRSTVWY*";

/// Index of an amino-acid letter in [`AMINO_ACIDS`] (stop `*` is 20), `None` for `X` and others.
#[inline]
pub fn aa_index(aa: u8) -> Option<usize> {
    AMINO_ACIDS.iter().position(|&a| a == aa)
}

// (id, name, amino acids, starts)
const TABLES: &[(u8, &str, &[u8; 64], &[u8; 64])] = &[
    (
        1,
        "Standard",
        b"FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
        b"---M------**--*----M---------------M----------------------------",
    ),
    (
        2,
        "Vertebrate Mitochondrial",
        b"FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIMMTTTTNNKKSS**VVVVAAAADDEEGGGG",
        b"----------**--------------------MMMM----------**---M------------",
    ),
    (
        3,
        "Yeast Mitochondrial",
        b"FFLLSSSSYY**CCWWTTTTPPPPHHQQRRRRIIMMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
        b"----------**----------------------MM---------------M------------",
    ),
    (
        4,
        "Mold, Protozoan and Coelenterate Mitochondrial; Mycoplasma/Spiroplasma",
        b"FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
        b"--MM------**-------M------------MMMM---------------M------------",
    ),
    (
        5,
        "Invertebrate Mitochondrial",
        b"FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIMMTTTTNNKKSSSSVVVVAAAADDEEGGGG",
        b"---M------**--------------------MMMM---------------M------------",
    ),
    (
        6,
        "Ciliate, Dasycladacean and Hexamita Nuclear",
        b"FFLLSSSSYYQQCC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
        b"--------------*--------------------M----------------------------",
    ),
    (
        9,
        "Echinoderm and Flatworm Mitochondrial",
        b"FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIIMTTTTNNNKSSSSVVVVAAAADDEEGGGG",
        b"----------**-----------------------M---------------M------------",
    ),
    (
        10,
        "Euplotid Nuclear",
        b"FFLLSSSSYY**CCCWLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
        b"----------**-----------------------M----------------------------",
    ),
    (
        11,
        "Bacterial, Archaeal and Plant Plastid",
        b"FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
        b"---M------**--*----M------------MMMM---------------M------------",
    ),
    (
        12,
        "Alternative Yeast Nuclear",
        b"FFLLSSSSYY**CC*WLLLSPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
        b"----------**--*----M---------------M----------------------------",
    ),
    (
        13,
        "Ascidian Mitochondrial",
        b"FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIMMTTTTNNKKSSGGVVVVAAAADDEEGGGG",
        b"---M------**----------------------MM---------------M------------",
    ),
    (
        14,
        "Alternative Flatworm Mitochondrial",
        b"FFLLSSSSYYY*CCWWLLLLPPPPHHQQRRRRIIIMTTTTNNNKSSSSVVVVAAAADDEEGGGG",
        b"-----------*-----------------------M----------------------------",
    ),
    (
        16,
        "Chlorophycean Mitochondrial",
        b"FFLLSSSSYY*LCC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
        b"----------*---*--------------------M----------------------------",
    ),
    (
        21,
        "Trematode Mitochondrial",
        b"FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIMMTTTTNNNKSSSSVVVVAAAADDEEGGGG",
        b"----------**-----------------------M---------------M------------",
    ),
    (
        22,
        "Scenedesmus obliquus Mitochondrial",
        b"FFLLSS*SYY*LCC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
        b"------*---*---*--------------------M----------------------------",
    ),
    (
        23,
        "Thraustochytrium Mitochondrial",
        b"FF*LSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
        b"--*-------**--*-----------------M--M---------------M------------",
    ),
    (
        24,
        "Rhabdopleuridae Mitochondrial",
        b"FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSSKVVVVAAAADDEEGGGG",
        b"---M------**-------M---------------M---------------M------------",
    ),
    (
        25,
        "Candidate Division SR1 and Gracilibacteria",
        b"FFLLSSSSYY**CCGWLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
        b"---M------**-----------------------M---------------M------------",
    ),
    (
        26,
        "Pachysolen tannophilus Nuclear",
        b"FFLLSSSSYY**CC*WLLLAPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",
        b"----------**--*----M---------------M----------------------------",
    ),
];

/// Index of a base in NCBI codon order (T, C, A, G); `None` if not canonical.
#[inline]
fn tcag(b: u8) -> Option<usize> {
    match b {
        b'T' | b't' | b'U' | b'u' => Some(0),
        b'C' | b'c' => Some(1),
        b'A' | b'a' => Some(2),
        b'G' | b'g' => Some(3),
        _ => None,
    }
}

/// A genetic code (translation table).
#[derive(Debug, Clone)]
pub struct GeneticCode {
    id: u8,
    name: &'static str,
    aas: [u8; 64],
    starts: [bool; 64],
}

impl GeneticCode {
    /// The NCBI table with this number (`/transl_table`), e.g. 1 (standard) or 11 (bacterial).
    pub fn new(id: u8) -> Result<Self> {
        let (_, name, aas, starts) = TABLES.iter().find(|t| t.0 == id).ok_or_else(|| {
            Error::Config(format!(
                "unknown genetic code {id} (known: {})",
                TABLES
                    .iter()
                    .map(|t| t.0.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let mut s = [false; 64];
        for (i, &c) in starts.iter().enumerate() {
            s[i] = c == b'M';
        }
        Ok(Self {
            id,
            name,
            aas: **aas,
            starts: s,
        })
    }

    /// The standard code (table 1).
    pub fn standard() -> Self {
        Self::new(1).expect("table 1 exists")
    }

    /// NCBI table number.
    pub fn id(&self) -> u8 {
        self.id
    }

    /// NCBI table name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    fn index(codon: &[u8]) -> Option<usize> {
        Some(tcag(codon[0])? * 16 + tcag(codon[1])? * 4 + tcag(codon[2])?)
    }

    /// Expand IUPAC codes and call `f` with every concrete codon index; false if a letter is
    /// not a nucleotide at all.
    fn each_concrete(codon: &[u8], mut f: impl FnMut(usize)) -> bool {
        let opts: Vec<Vec<usize>> = codon
            .iter()
            .map(|&b| {
                crate::data::alphabet::iupac_bases(b)
                    .iter()
                    // ACGT codes → TCAG indices.
                    .map(|&c| [2usize, 1, 3, 0][c as usize])
                    .collect()
            })
            .collect();
        if opts.iter().any(|o| o.is_empty()) {
            return false;
        }
        for &a in &opts[0] {
            for &b in &opts[1] {
                for &c in &opts[2] {
                    f(a * 16 + b * 4 + c);
                }
            }
        }
        true
    }

    /// Translate one codon (3 bases, IUPAC allowed). Returns `X` when ambiguous.
    pub fn translate_codon(&self, codon: &[u8]) -> u8 {
        if let Some(i) = Self::index(codon) {
            return self.aas[i];
        }
        let mut aa: Option<u8> = None;
        let mut agree = true;
        let ok = Self::each_concrete(codon, |i| {
            let a = self.aas[i];
            match aa {
                None => aa = Some(a),
                Some(x) if x != a => agree = false,
                _ => {}
            }
        });
        match (ok, agree, aa) {
            (true, true, Some(a)) => a,
            _ => b'X',
        }
    }

    /// Is this codon a start codon in this table (all IUPAC expansions must be starts)?
    pub fn is_start(&self, codon: &[u8]) -> bool {
        let mut all = true;
        let ok = Self::each_concrete(codon, |i| all &= self.starts[i]);
        ok && all
    }

    /// Translate a coding sequence codon by codon (a trailing partial codon is dropped).
    /// With `complete_start`, a start codon in first position is translated as `M`.
    pub fn translate(&self, cds: &[u8], complete_start: bool) -> Vec<u8> {
        let mut out: Vec<u8> = cds
            .chunks_exact(3)
            .map(|c| self.translate_codon(c))
            .collect();
        if complete_start && cds.len() >= 3 && self.is_start(&cds[..3]) {
            out[0] = b'M';
        }
        out
    }
}

/// Genetic codes built on first use, for code that walks many CDS with a few tables.
///
/// ```
/// let mut codes = genolm::data::genetic_code::CodeCache::default();
/// assert_eq!(codes.get(11).unwrap().id(), 11);
/// assert!(codes.get(7).is_err());
/// ```
#[derive(Debug, Clone, Default)]
pub struct CodeCache {
    codes: Vec<GeneticCode>,
}

impl CodeCache {
    /// The table with NCBI number `id`.
    pub fn get(&mut self, id: u8) -> Result<&GeneticCode> {
        let i = match self.codes.iter().position(|c| c.id == id) {
            Some(i) => i,
            None => {
                self.codes.push(GeneticCode::new(id)?);
                self.codes.len() - 1
            }
        };
        Ok(&self.codes[i])
    }
}

/// Three-letter amino-acid names (as in `/transl_except=(pos:..,aa:Sec)`) to one letter.
pub fn aa_from_three(name: &str) -> Option<u8> {
    let t = match name.to_ascii_lowercase().as_str() {
        "ala" => b'A',
        "arg" => b'R',
        "asn" => b'N',
        "asp" => b'D',
        "cys" => b'C',
        "gln" => b'Q',
        "glu" => b'E',
        "gly" => b'G',
        "his" => b'H',
        "ile" => b'I',
        "leu" => b'L',
        "lys" => b'K',
        "met" => b'M',
        "phe" => b'F',
        "pro" => b'P',
        "ser" => b'S',
        "thr" => b'T',
        "trp" => b'W',
        "tyr" => b'Y',
        "val" => b'V',
        "sec" => b'U',
        "pyl" => b'O',
        "ter" | "term" | "stop" => b'*',
        "other" | "xaa" => b'X',
        _ => return None,
    };
    Some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_table_spot_checks() {
        let c = GeneticCode::standard();
        for (codon, aa) in [
            (b"TTT", b'F'),
            (b"TGG", b'W'),
            (b"TGA", b'*'),
            (b"AGA", b'R'),
            (b"GGG", b'G'),
            (b"CAT", b'H'),
            (b"ATA", b'I'),
        ] {
            assert_eq!(
                c.translate_codon(codon),
                aa,
                "{}",
                String::from_utf8_lossy(codon)
            );
        }
        assert!(c.is_start(b"ATG") && c.is_start(b"TTG") && c.is_start(b"CTG"));
        assert!(!c.is_start(b"GTG"));
        // 61 sense codons and 3 stops.
        assert_eq!(c.aas.iter().filter(|&&a| a == b'*').count(), 3);
        assert_eq!(c.translate_codon(b"NNN"), b'X');
        assert_eq!(c.translate_codon(b"TAR"), b'*');
    }

    #[test]
    fn mito_and_bacterial_differences() {
        let m = GeneticCode::new(2).unwrap();
        assert_eq!(m.translate_codon(b"TGA"), b'W');
        assert_eq!(m.translate_codon(b"AGA"), b'*');
        let b = GeneticCode::new(11).unwrap();
        assert!(b.is_start(b"GTG") && b.is_start(b"ATT"));
        assert!(GeneticCode::new(7).is_err());
        for t in TABLES {
            assert_eq!(t.2.iter().filter(|&&a| aa_index(a).is_some()).count(), 64);
        }
    }
}
