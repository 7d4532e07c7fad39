//! # genolm — genomic language models in Rust
//!
//! genolm takes real genomes from FASTA, GenBank and GFF3 files to trained language models,
//! benchmarks and explanations, from a Rust notebook (evcxr) or the `genolm` command line.
//!
//! This release contains the **data stage** that every other stage stands on:
//!
//! ```
//! use genolm::prelude::*;
//!
//! // The shipped default corpus: 12 real genomes of prokaryotes, eukaryotes and viruses.
//! let corpus = Corpus::embedded()?;
//! let splits = corpus.split(&SplitOptions::default())?;      // genome-level, seeded
//!
//! // k-mer tokens (seed 003 §1): 3-mers every base.
//! let tok = KmerTokenizer::new(3, 1)?;
//! let streams = corpus.token_streams(&splits.train, &tok, false);
//! let lm = LmBatcher::new(streams, 8, 64, true, 42)?;          // stateful BPTT batches
//! let first = &lm.epoch(0)[0];
//! assert_eq!((first.batch, first.seq_len), (8, 64));
//!
//! // Per-nucleotide annotation tracks of an annotated genome.
//! let phix = &corpus.genomes[corpus.index_of("phiX174").unwrap()];
//! let tracks = phix.contigs[0].tracks(&phix.track_options()).unwrap()?;
//! assert!(tracks.coding_fraction() > 0.9); // phiX174 is almost all coding
//! # Ok::<(), genolm::Error>(())
//! ```
//!
//! See the [`data`] module for readers, tracks, tokenizers, corpora and batching.

#![warn(missing_docs)]

pub mod bench;
pub mod data;
pub mod error;
pub mod explain;
pub mod infer;
pub mod models;
pub mod plot;
pub mod prelude;
pub mod report;
pub mod table;
pub mod train;

pub use error::{Error, Result};

/// The README's tour, compiled and run as a doctest so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
