//! Explainability: what do the neurons of a genomic language model encode, and which bases
//! drive its predictions?
//!
//! * [`neurons`]: `identify_explainable_neurons(states, targets)` with AUROC, accuracy,
//!   correlation, FDR/Bonferroni correction, sparse probes, heatmaps and activation tracks;
//!   phenotype association per genome.
//! * [`stats`]: the statistics behind it.

pub mod neurons;
pub mod stats;

pub use neurons::{identify_explainable_neurons, NeuronOptions, NeuronReport, Target};
