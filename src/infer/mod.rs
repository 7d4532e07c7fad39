//! Inference: one batched, bounded-memory prediction core that every analysis reuses, and
//! neuron states in memory ([`States`]) or in HDF5 ([`write_states`], [`read_states`],
//! [`StatesFile`]).
//!
//! A long sequence is tokenized with the model's tokenizer and cut into rows. A model with an
//! LSTM runs `batch_size` contiguous segments side by side, `window` tokens at a time, carrying
//! its state; each segment first reads `context` tokens before it (discarded) so that its state is
//! warm. Other models read windows of `window` tokens with `context` tokens of left context (and
//! right context when the model is bidirectional). Memory is bounded by
//! `batch_size × (window + context) × width` whatever the genome length.
//!
//! A state row belongs to one token; it is aligned to the **last nucleotide the token covers**
//! (`end_position`), the newest base a causal model has read.
//!
//! ```
//! use candle_core::Device;
//! use genolm::infer::{states, PredictOptions};
//! use genolm::models::{GenomicModel, ModelConfig};
//! let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1)?;
//! let seq = b"ATGGCGTACGATCGATCGTAGCTAGCTAGCATCGATCGACTAGCTAGCATGCATGCA".to_vec();
//! let st = states(&model, &[("demo".to_string(), seq)], &PredictOptions::default())?;
//! let body = st.layer("body").unwrap();
//! assert_eq!(body.n_rows(), st.n_rows());
//! # Ok::<(), genolm::Error>(())
//! ```
//!
//! Files: [`predict`](predict_each) (the core), token scores ([`token_scores`]), batched rows
//! and objectives ([`predict_rows`], [`score_rows`], [`pooled_states`]: short equal-length
//! sequences such as mutagenesis candidates, reads or imputation windows), states in memory
//! ([`states`]) and in HDF5 ([`write_states`], [`StatesFile`]), and a classifier's class
//! probabilities of records or of windows along them ([`class_probs`]). Every analysis that runs a
//! model calls one of these; none runs its own forward pass. [`adaptive_token_scores`] scores
//! while a copy of the model adapts to what it reads (dynamic evaluation): the one place outside
//! training where weights change.

use serde::{Deserialize, Serialize};

use crate::models::Hooks;

mod adapt;
mod bases;
mod classes;
mod fill;
mod h5;
mod objective;
mod predict;
mod refine;
mod rows;
mod scores;
mod states;

pub use adapt::{adaptive_token_scores, AdaptOptions};
pub use bases::{base_marginal, nucleotide_probs, substitution_probs, Substitutes};
pub(crate) use classes::scan_windows;
pub use classes::{class_probs, windows, ClassProbRow, ClassProbs, ClassProbsOptions};
pub use fill::{
    carries_state, decode, fill_gaps, longest_run, Decoder, FillOptions, LmSteps, NextBases,
};
pub use h5::{read_states, write_states, H5Layout, StatesFile, StatesSummary};
pub use objective::{objective_lifted, objective_tensor, score_ids, Objective};
pub use predict::{layer_plan, predict_each, predict_records, Chunk};
pub use refine::{refine_gaps, CommitOrder, MaskedGap, RefineOptions};
pub use rows::{binned_states, pooled_states, predict_rows, score_rows, RowOptions, RowOutput};
pub use scores::{mlm_masked, mlm_scored, score_row, token_scores, token_scores_many, TokenScores};
pub(crate) use states::model_layer;
pub use states::{states, LayerStates, RecordInfo, States};

/// Options of the prediction core.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PredictOptions {
    /// Rows per forward pass.
    pub batch_size: usize,
    /// Tokens per forward pass and row.
    pub window: usize,
    /// Tokens of context read before each row (and after, for bidirectional models), discarded.
    pub context: usize,
    /// Recurrent models: a record is read as at most `batch_size` contiguous segments side by
    /// side, each at least this many tokens (4 096) and warmed up by `context` tokens, so
    /// almost every position is predicted from thousands of tokens of history, as in
    /// stateful training. Shorter segments are faster on short records but give the first
    /// positions of each only `context` tokens of history: scoring 5-kb chunks of held-out
    /// *H. pylori* in 250-token segments put `pretrained:lstm_small_extended`'s margin over
    /// the Markov chain at +0.036 nats, in whole chunks at +0.081. 0 = as short as
    /// `batch_size` allows.
    pub min_segment: usize,
    /// Keep every `every`-th token position (1 = all).
    pub every: usize,
    /// Layers to keep (names as in [`GenomicModel::layer_names`](crate::models::GenomicModel::layer_names)); empty = all, in model order.
    pub layers: Vec<String>,
    /// Also keep the log-probabilities of the LM/MLM head (`(rows, vocab)`).
    pub log_probs: bool,
    /// [`states`]: also read every record's reverse complement and append its layers as
    /// `rc.<layer>`, each row aligned to the forward row of the same base. A causal model's
    /// forward state at a base has read everything to its left; the reverse strand's state
    /// there has read everything to its right, on the other strand — what tells whether the
    /// base lies in a gene on the minus strand, or just before a stop codon.
    pub reverse_strand: bool,
    /// Ablations and other interventions applied in every forward pass.
    #[serde(skip)]
    pub hooks: Hooks,
}

impl Default for PredictOptions {
    fn default() -> Self {
        Self {
            batch_size: 16,
            window: 256,
            context: 128,
            min_segment: 4096,
            every: 1,
            layers: Vec::new(),
            log_probs: false,
            reverse_strand: false,
            hooks: Hooks::default(),
        }
    }
}
