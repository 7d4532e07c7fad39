//! What a notebook imports: `use genolm::prelude::*;` — one import per stage of the pipeline,
//! in pipeline order.

// bottom layer
pub use crate::plot::{moving_mean, Figure, Series, TrackFeature};
pub use crate::stats::{auroc, mean_sd, BinaryMetrics};
pub use crate::table::Table;
pub use crate::{Error, Result};
// data
pub use crate::data::alphabet::{revcomp, AmbiguityPolicy};
pub use crate::data::annotation::{
    check_translations, read_annotation, read_genbank, read_gff3, AnnotatedSequence, Feature,
    Strand,
};
pub use crate::data::batch::{ClassificationBatcher, LmBatcher, MlmBatcher, MlmOptions};
pub use crate::data::corpus::{
    Corpus, Genome, Kingdom, SampleReadsOptions, SplitLevel, SplitOptions, Splits,
};
pub use crate::data::fasta::{read_fasta, SeqReader, SeqRecord, SoftMask};
pub use crate::data::genetic_code::GeneticCode;
pub use crate::data::input::{Records, Sequence};
pub use crate::data::tokenize::{informed_random_loss, KmerTokenizer, Special};
pub use crate::data::tracks::{TrackOptions, Tracks};
// models
pub use crate::models::{DeviceChoice, GenomicModel, Head, Mode, ModelConfig};
/// The compute device (`Device::Cpu`, or `Device::new_cuda(0)?` with the `cuda` feature).
pub use candle_core::Device;
// train
pub use crate::data::tasks::{stratified_split, LabelledSeq, LabelledSet};
pub use crate::train::display::{history_figure, history_table};
pub use crate::train::metrics_log::read_metrics;
pub use crate::train::recipes::{classify, ClassifyOptions};
pub use crate::train::run::{train_or_load, RunConfig, RunSummary};
pub use crate::train::{
    fine_tune, ulmfit, Data, EarlyStopping, History, Learner, LearnerOptions, Schedule, UlmfitData,
    UlmfitOptions, Unfreezing,
};
// infer
pub use crate::infer::{
    adaptive_token_scores, class_probs, predict_rows, read_states, score_rows, states,
    token_scores, write_states, AdaptOptions, ClassProbs, ClassProbsOptions, H5Layout, Objective,
    PredictOptions, RowOptions, States, StatesFile,
};
// explain
pub use crate::explain::attribution::{
    input_x_gradient, integrated_gradients, ism, ism_with, saliency, AttributionOptions, Baseline,
    ModelScorer, SequenceScorer,
};
pub use crate::explain::deepshap::{deep_lift, deep_shap, DeepShapOptions};
pub use crate::explain::depmap::{dependency_map, DepMapOptions};
pub use crate::explain::insilico::{
    ablate, effects_table, marginalize, shuffled_backgrounds, spacing, spacing_figure, Insertion,
    InsilicoOptions, Pair,
};
pub use crate::explain::methods::{attribute, AttributionMethod, MethodOptions};
pub use crate::explain::modisco::{discover_motifs, ModiscoOptions, MotifDiscovery};
pub use crate::explain::motifs::scan::{hits_table, scan, ScanOptions};
pub use crate::explain::motifs::{read_jaspar, tomtom, Pwm, TomtomOptions};
pub use crate::explain::neurons::{
    feature_targets, identify_explainable_neurons, lead_lag, start_profile, targets_from_tracks,
    LeadLagOptions, NeuronOptions, NeuronReport, Target,
};
pub use crate::explain::planted::{
    motif_recovery, planted_motif_task, MotifRecovery, PlantOptions, RecoveryOptions,
};
pub use crate::explain::seqlets::{call_seqlets, SeqletOptions};
pub use crate::explain::variant::{variant_effect, Allele, VariantOptions};
// bench
pub use crate::bench::long_context::{
    long_context, FinetuneOptions, LongContextOptions, LongContextResults,
};
pub use crate::bench::{
    benchmark, transfer_matrix, transferability_test, BenchOptions, BenchmarkReport, Task,
};
pub use crate::models::rope::{RopeMethod, RopeScaling};
// report
pub use crate::report::{quickstart, QuickstartOptions, Report};
