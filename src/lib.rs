//! # genolm — genomic language models in Rust
//!
//! genolm takes real genomes from FASTA, GenBank and GFF3 files to trained language models,
//! benchmarks and explanations, from a Rust notebook (evcxr) or the `genolm` command line.
//! Genomes flow through one pipeline, and each stage is one module:
//!
//! **[`data`] → [`models`] → [`train`] → [`infer`] → [`explain`] / [`bench`](mod@bench) → [`report`]**
//!
//! on a bottom layer every stage shares: [`error`], [`stats`] (metrics and tests), [`fsio`]
//! (atomic writes, escaping), [`cpu`] (in-place tensor storage), [`table`] and [`plot`] (the
//! [`Table`](table::Table) and [`Figure`](plot::Figure) every result renders to). A module
//! imports only modules before it in that order (see `docs/architecture.md`).
//! [`prelude`] is what a notebook imports.
//!
//! ```
//! use genolm::prelude::*;
//!
//! // data: the shipped corpus (13 real genomes), a genome-level split, k-mer tokens.
//! let corpus = Corpus::embedded()?;
//! let splits = corpus.split(&SplitOptions::default())?;
//! let tok = KmerTokenizer::new(3, 1)?;
//! let streams = corpus.token_streams(&splits.train, &tok, false);
//! let lm = LmBatcher::new(streams, 8, 64, true, 42)?;
//! let phix = &corpus.genomes[corpus.index_of("phiX174").unwrap()];
//! let tracks = phix.contigs[0].tracks(&phix.track_options()).unwrap()?;
//! assert!(tracks.coding_fraction() > 0.9); // phiX174 is almost all coding
//!
//! // models: every architecture from one config.
//! let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1)?;
//!
//! // train: the Learner and its recipes; a History that plots itself.
//! let mut learn = Learner::new(model, Data::Lm(lm), None, LearnerOptions { max_batches: 2, verbose: false, ..Default::default() })?;
//! learn.fit_one_cycle(1, 1e-2)?;
//! let _curve = learn.history.plot()?;
//!
//! // infer: the one batched prediction core (scores, states, rows).
//! let scores = token_scores(&learn.model, &phix.contigs[0].seq[..2_000], &PredictOptions::default())?;
//! assert!(scores.logp.iter().all(|&l| l <= 0.0));
//! let st = states(&learn.model, &phix.contigs[..1], &PredictOptions { every: 50, ..Default::default() })?;
//! assert_eq!(st.records[0].name, phix.contigs[0].name);
//!
//! // explain: f(model, input, &Options) everywhere.
//! let ism = ism(&learn.model, &phix.contigs[0].seq[..40], &AttributionOptions::default())?;
//! assert_eq!(ism.delta.len(), 40);
//!
//! // bench and report: `benchmark(model, &BenchOptions)` (minutes) and `Report` (see their modules).
//! # Ok::<(), genolm::Error>(())
//! ```

#![warn(missing_docs)]

pub mod bench;
pub mod cpu;
pub mod data;
pub mod error;
pub mod explain;
pub mod fsio;
pub mod infer;
pub mod models;
pub mod monitor;
pub mod plot;
pub mod prelude;
pub mod progress;
pub mod report;
pub mod search;
pub mod stats;
pub mod table;
pub mod train;

pub use error::{Error, Result};

/// The README's tour, compiled and run as a doctest so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
