//! What a notebook imports: `use genolm::prelude::*;`.

pub use crate::bench::{
    benchmark, benchmark_with, transfer_matrix, transferability_test, BenchOptions,
    BenchmarkReport, Task,
};
pub use crate::data::alphabet::{revcomp, AmbiguityPolicy};
pub use crate::data::annotation::{
    check_translations, read_annotation, read_genbank, read_gff3, AnnotatedSequence, Feature,
    Strand,
};
pub use crate::data::batch::{ClassificationBatcher, LmBatcher, MlmBatcher, MlmOptions};
pub use crate::data::corpus::{
    Corpus, Genome, Kingdom, ReadOptions, SplitLevel, SplitOptions, Splits,
};
pub use crate::data::fasta::{read_fasta, SeqReader, SeqRecord, SoftMask};
pub use crate::data::genetic_code::GeneticCode;
pub use crate::data::tokenize::{informed_random_loss, KmerTokenizer, Special};
pub use crate::data::tracks::{TrackOptions, Tracks};
pub use crate::explain::attribution::{integrated_gradients, ism, saliency, Baseline, Objective};
pub use crate::explain::depmap::{dependency_map, DepMapOptions};
pub use crate::explain::neurons::{
    identify_explainable_neurons, targets_from_tracks, NeuronOptions, NeuronReport, Target,
};
pub use crate::infer::{
    read_states, states, write_states, H5Layout, PredictOptions, States, StatesFile,
};
pub use crate::models::{GenomicModel, Head, Mode, ModelConfig};
pub use crate::plot::{Figure, Series, TrackFeature};
pub use crate::report::Report;
pub use crate::table::Table;
pub use crate::train::display::{history_figure, history_table};
pub use crate::train::run::{train_or_load, RunConfig};
pub use crate::train::{
    fine_tune, ulmfit, Data, EarlyStopping, Learner, LearnerOptions, Schedule, UlmfitOptions,
};
pub use crate::{Error, Result};
/// The compute device (`Device::Cpu`, or `Device::new_cuda(0)?` with the `cuda` feature).
pub use candle_core::Device;
