//! Read-sized fragments of genomes (the benchmark's read datasets).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::Corpus;
use crate::data::alphabet::{resolve_ambiguous, revcomp, AmbiguityPolicy, CODE};
use crate::data::annotation::Strand;
use crate::{Error, Result};

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
    /// Sample only reads lying entirely inside this part of each contig, as fractions of its
    /// length (`(0.0, 0.8)`, then `(0.8, 1.0)`: training and test reads of the same genomes
    /// that never overlap); `None` for the whole contig.
    #[serde(default)]
    pub window: Option<(f64, f64)>,
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
            window: None,
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

impl Corpus {
    /// Sample read-sized fragments from the given genomes, with their origin. Positions are
    /// uniform over the genome (contigs weighted by length), or over each contig's
    /// [`window`](SampleReadsOptions::window); contigs (windows) shorter than a read are
    /// skipped. Deterministic for a seed.
    pub fn sample_reads(&self, genomes: &[usize], opts: &SampleReadsOptions) -> Result<Vec<Read>> {
        if opts.len == 0 {
            return Err(Error::Config("read length must be positive".into()));
        }
        let (wa, wb) = opts.window.unwrap_or((0.0, 1.0));
        if !((0.0..1.0).contains(&wa) && wa < wb && wb <= 1.0) {
            return Err(Error::Config(format!(
                "read window must satisfy 0 <= start < end <= 1, got ({wa}, {wb})"
            )));
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
            // (contig, first allowed start, number of allowed starts)
            let usable: Vec<(usize, usize, usize)> = g
                .contigs
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    let n = c.seq.len() as f64;
                    let (lo, hi) = ((wa * n).ceil() as usize, (wb * n).floor() as usize);
                    (hi >= lo + opts.len).then(|| (i, lo, hi - lo - opts.len + 1))
                })
                .collect();
            let total: usize = usable.iter().map(|u| u.2).sum();
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
                    .find_map(|&(ci, lo, w)| {
                        if r < w {
                            Some((ci, lo + r))
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
}
