//! Explainability: what do the neurons of a genomic language model encode, and which bases
//! drive its predictions?
//!
//! * [`neurons`]: `identify_explainable_neurons(states, targets)` with AUROC, accuracy,
//!   correlation, FDR/Bonferroni correction, sparse probes, heatmaps and activation tracks;
//!   phenotype association per genome (statistics from [`crate::stats`]).
//! * [`deletion`]: neuron importance by deletion, ranked-vs-random deletion curves.
//! * [`attribution`]: saliency, input × gradient, integrated gradients, in-silico mutagenesis.
//! * [`depmap`]: nucleotide dependency maps.
//! * [`motifs`]: filter PWMs, JASPAR, Tomtom-like matching, logos.
//! * [`embed`]: PCA, k-means, t-SNE views.

pub mod neurons;
pub use neurons::{identify_explainable_neurons, NeuronOptions, NeuronReport, Target};
pub mod attribution;
pub mod deepshap;
pub mod deletion;
pub mod depmap;
pub mod embed;
pub mod insilico;
pub mod methods;
pub mod modisco;
pub mod motifs;
pub mod planted;
pub mod seqlets;
pub mod variant;
