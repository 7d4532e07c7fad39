//! Nucleotide alphabet: 2-bit codes, IUPAC ambiguity codes, reverse complement and the
//! policy for ambiguous bases (deepG's `ambiguous_nuc`).
//!
//! Canonical bases are coded `A=0, C=1, G=2, T=3` (lexicographic, so k-mer ids sort like
//! their strings). `U` is read as `T`. Every other IUPAC letter is *ambiguous*.
//!
//! ```
//! use genolm::data::alphabet::{base_code, revcomp, iupac_bases};
//! assert_eq!(base_code(b'g'), Some(2));
//! assert_eq!(base_code(b'N'), None);
//! assert_eq!(revcomp(b"ACGTRN"), b"NYACGT".to_vec());
//! assert_eq!(iupac_bases(b'R'), &[0u8, 2][..]); // A or G
//! ```

use serde::{Deserialize, Serialize};

/// The four canonical bases in code order.
pub const BASES: [u8; 4] = *b"ACGT";

/// Marker in [`CODE`] for an IUPAC ambiguity code (valid, but not one of ACGT).
pub const AMBIGUOUS: u8 = 4;
/// Marker in [`CODE`] for a byte that is not a nucleotide letter at all.
pub const INVALID: u8 = 255;

/// Byte → code table: 0..=3 for ACGT/U (either case), [`AMBIGUOUS`] for the other IUPAC
/// letters (and `-`, `.`, `*` gaps), [`INVALID`] otherwise.
pub static CODE: [u8; 256] = build_code_table();

const fn build_code_table() -> [u8; 256] {
    let mut t = [INVALID; 256];
    let amb = b"NRYKMSWBDHVnrykmswbdhv-.*";
    let mut i = 0;
    while i < amb.len() {
        t[amb[i] as usize] = AMBIGUOUS;
        i += 1;
    }
    t[b'A' as usize] = 0;
    t[b'a' as usize] = 0;
    t[b'C' as usize] = 1;
    t[b'c' as usize] = 1;
    t[b'G' as usize] = 2;
    t[b'g' as usize] = 2;
    t[b'T' as usize] = 3;
    t[b't' as usize] = 3;
    t[b'U' as usize] = 3;
    t[b'u' as usize] = 3;
    t
}

/// Complement table for IUPAC letters (case preserved); other bytes map to `N`.
static COMPLEMENT: [u8; 256] = build_complement();

const fn build_complement() -> [u8; 256] {
    let mut t = [b'N'; 256];
    let pairs: &[(u8, u8)] = &[
        (b'A', b'T'),
        (b'C', b'G'),
        (b'G', b'C'),
        (b'T', b'A'),
        (b'U', b'A'),
        (b'R', b'Y'),
        (b'Y', b'R'),
        (b'K', b'M'),
        (b'M', b'K'),
        (b'S', b'S'),
        (b'W', b'W'),
        (b'B', b'V'),
        (b'V', b'B'),
        (b'D', b'H'),
        (b'H', b'D'),
        (b'N', b'N'),
    ];
    let mut i = 0;
    while i < pairs.len() {
        let (a, b) = pairs[i];
        t[a as usize] = b;
        t[(a + 32) as usize] = b + 32;
        i += 1;
    }
    t[b'-' as usize] = b'-';
    t[b'.' as usize] = b'.';
    t
}

/// The 2-bit code of a base, or `None` for ambiguity codes and non-nucleotides.
#[inline]
pub fn base_code(b: u8) -> Option<u8> {
    let c = CODE[b as usize];
    (c < 4).then_some(c)
}

/// The index 0..4 of a base in [`BASES`] order (A, C, G, T/U, either case), or `None` for
/// ambiguity codes and non-nucleotides. The one base → index table of genolm ([`CODE`]).
///
/// ```
/// use genolm::data::alphabet::{base_index, BASES};
/// assert_eq!(base_index(b'g'), Some(2));
/// assert_eq!(BASES[base_index(b'T').unwrap()], b'T');
/// assert_eq!(base_index(b'N'), None);
/// ```
#[inline]
pub fn base_index(b: u8) -> Option<usize> {
    base_code(b).map(usize::from)
}

/// Is `b` an IUPAC nucleotide letter (canonical or ambiguous, either case, or a gap)?
#[inline]
pub fn is_nucleotide(b: u8) -> bool {
    CODE[b as usize] != INVALID
}

/// Complement of one IUPAC base (case preserved).
#[inline]
pub fn complement(b: u8) -> u8 {
    COMPLEMENT[b as usize]
}

/// Reverse complement of a sequence (IUPAC aware, case preserved).
pub fn revcomp(seq: &[u8]) -> Vec<u8> {
    seq.iter().rev().map(|&b| complement(b)).collect()
}

/// The canonical base codes an IUPAC letter stands for (`N` → all four). Empty for non-letters.
pub fn iupac_bases(b: u8) -> &'static [u8] {
    match b.to_ascii_uppercase() {
        b'A' => &[0],
        b'C' => &[1],
        b'G' => &[2],
        b'T' | b'U' => &[3],
        b'R' => &[0, 2],
        b'Y' => &[1, 3],
        b'K' => &[2, 3],
        b'M' => &[0, 1],
        b'S' => &[1, 2],
        b'W' => &[0, 3],
        b'B' => &[1, 2, 3],
        b'D' => &[0, 2, 3],
        b'H' => &[0, 1, 3],
        b'V' => &[0, 1, 2],
        b'N' | b'-' | b'.' | b'*' => &[0, 1, 2, 3],
        _ => &[],
    }
}

/// What to do with ambiguous bases (IUPAC codes other than ACGT), following deepG's
/// `ambiguous_nuc` option.
///
/// | policy | one-hot row | token id | fragments / windows |
/// |---|---|---|---|
/// | `Zero` | all zeros | UNK | kept |
/// | `Equal` | equal mass over the bases the code allows (`N` → ¼ each) | a seeded draw among those bases | kept |
/// | `Discard` | – | – | dropped when they contain any ambiguous base |
/// | `Empirical` | the genome's base composition restricted to the allowed bases | a seeded draw from it | kept |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum AmbiguityPolicy {
    /// Zero vector / UNK token.
    #[default]
    Zero,
    /// Uniform over the IUPAC-compatible bases.
    Equal,
    /// Drop any sample (read, window) that contains an ambiguous base.
    Discard,
    /// Proportional to the empirical base composition of the sequence, restricted to the
    /// IUPAC-compatible bases.
    Empirical,
}

impl std::str::FromStr for AmbiguityPolicy {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "zero" => Ok(Self::Zero),
            "equal" => Ok(Self::Equal),
            "discard" => Ok(Self::Discard),
            "empirical" => Ok(Self::Empirical),
            other => Err(crate::Error::Config(format!(
                "unknown ambiguity policy '{other}' (expected zero, equal, discard or empirical)"
            ))),
        }
    }
}

/// Base composition (counts of A, C, G, T) of a sequence; ambiguous letters are not counted.
///
/// ```
/// assert_eq!(genolm::data::alphabet::base_counts(b"AACGTN"), [2, 1, 1, 1]);
/// ```
pub fn base_counts(seq: &[u8]) -> [u64; 4] {
    let mut c = [0u64; 4];
    for &b in seq {
        let k = CODE[b as usize];
        if k < 4 {
            c[k as usize] += 1;
        }
    }
    c
}

/// GC fraction of the unambiguous bases (0 for a sequence with none).
pub fn gc_fraction(seq: &[u8]) -> f64 {
    let c = base_counts(seq);
    let n = c.iter().sum::<u64>();
    if n == 0 {
        0.0
    } else {
        (c[1] + c[2]) as f64 / n as f64
    }
}

/// One-hot encode a sequence into `len × 4` row-major `f32` values under an ambiguity policy.
///
/// `composition` is used by [`AmbiguityPolicy::Empirical`] (counts of ACGT; pass
/// [`base_counts`] of the genome). [`AmbiguityPolicy::Discard`] returns `None` when the
/// sequence contains an ambiguous base.
///
/// ```
/// use genolm::data::alphabet::{one_hot, AmbiguityPolicy};
/// let x = one_hot(b"AN", AmbiguityPolicy::Equal, None).unwrap();
/// assert_eq!(x, vec![1.0, 0.0, 0.0, 0.0, 0.25, 0.25, 0.25, 0.25]);
/// assert!(one_hot(b"AN", AmbiguityPolicy::Discard, None).is_none());
/// ```
pub fn one_hot(
    seq: &[u8],
    policy: AmbiguityPolicy,
    composition: Option<[u64; 4]>,
) -> Option<Vec<f32>> {
    let mut out = vec![0f32; seq.len() * 4];
    let comp = composition.unwrap_or([1, 1, 1, 1]);
    for (i, &b) in seq.iter().enumerate() {
        let row = &mut out[i * 4..i * 4 + 4];
        match CODE[b as usize] {
            c @ 0..=3 => row[c as usize] = 1.0,
            _ => match policy {
                AmbiguityPolicy::Zero => {}
                AmbiguityPolicy::Discard => return None,
                AmbiguityPolicy::Equal => {
                    let allowed = iupac_bases(b);
                    for &a in allowed {
                        row[a as usize] = 1.0 / allowed.len() as f32;
                    }
                }
                AmbiguityPolicy::Empirical => {
                    let allowed = iupac_bases(b);
                    let total: u64 = allowed.iter().map(|&a| comp[a as usize]).sum();
                    for &a in allowed {
                        row[a as usize] = if total == 0 {
                            1.0 / allowed.len() as f32
                        } else {
                            comp[a as usize] as f32 / total as f32
                        };
                    }
                }
            },
        }
    }
    Some(out)
}

/// Replace every ambiguous base by a concrete one drawn (seeded) from the bases it allows,
/// uniformly (`Equal`) or weighted by `composition` (`Empirical`). `Zero` and `Discard`
/// leave the sequence unchanged. Returns the number of bases replaced.
pub fn resolve_ambiguous(
    seq: &mut [u8],
    policy: AmbiguityPolicy,
    composition: [u64; 4],
    rng: &mut impl rand::Rng,
) -> usize {
    if matches!(policy, AmbiguityPolicy::Zero | AmbiguityPolicy::Discard) {
        return 0;
    }
    let mut n = 0;
    for b in seq.iter_mut() {
        if CODE[*b as usize] < 4 {
            continue;
        }
        let allowed = iupac_bases(*b);
        if allowed.is_empty() {
            continue;
        }
        let pick = if policy == AmbiguityPolicy::Empirical {
            let total: u64 = allowed.iter().map(|&a| composition[a as usize]).sum();
            if total == 0 {
                allowed[rng.random_range(0..allowed.len())]
            } else {
                let mut r = rng.random_range(0..total);
                let mut chosen = allowed[allowed.len() - 1];
                for &a in allowed {
                    let w = composition[a as usize];
                    if r < w {
                        chosen = a;
                        break;
                    }
                    r -= w;
                }
                chosen
            }
        } else {
            allowed[rng.random_range(0..allowed.len())]
        };
        *b = BASES[pick as usize];
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn codes_and_complements() {
        for (i, &b) in BASES.iter().enumerate() {
            assert_eq!(base_code(b), Some(i as u8));
            assert_eq!(base_code(b.to_ascii_lowercase()), Some(i as u8));
        }
        assert_eq!(base_code(b'U'), Some(3));
        assert!(!is_nucleotide(b'X'));
        assert!(is_nucleotide(b'n'));
        assert_eq!(revcomp(b"acgtRYKMSWBDHVN"), b"NBDHVWSKMRYacgt".to_vec());
        // Reverse complement is an involution.
        let s = b"ACGTTGCANRYKMacgt";
        assert_eq!(revcomp(&revcomp(s)), s.to_vec());
    }

    #[test]
    fn empirical_resolution_follows_composition() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut seq = vec![b'N'; 10_000];
        resolve_ambiguous(&mut seq, AmbiguityPolicy::Empirical, [0, 0, 1, 3], &mut rng);
        let c = base_counts(&seq);
        assert_eq!(c[0] + c[1], 0);
        assert!((c[3] as f64 / 10_000.0 - 0.75).abs() < 0.03, "{c:?}");
        // Same seed, same draw.
        let mut rng2 = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut seq2 = vec![b'N'; 10_000];
        resolve_ambiguous(
            &mut seq2,
            AmbiguityPolicy::Empirical,
            [0, 0, 1, 3],
            &mut rng2,
        );
        assert_eq!(seq, seq2);
    }

    #[test]
    fn one_hot_policies() {
        let x = one_hot(b"R", AmbiguityPolicy::Empirical, Some([3, 0, 1, 0])).unwrap();
        assert_eq!(x, vec![0.75, 0.0, 0.25, 0.0]);
        let z = one_hot(b"N", AmbiguityPolicy::Zero, None).unwrap();
        assert_eq!(z, vec![0.0; 4]);
    }
}
