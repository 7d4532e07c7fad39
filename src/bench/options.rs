//! What to run: the tasks and their sizes.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A benchmark task (one file each under `src/bench/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// LM quality on each kingdom's held-out genomes and reads.
    Transfer,
    /// Held-out genomes read while the model adapts to them (dynamic evaluation), against
    /// a Markov chain that keeps counting ([`super::adaptive`]).
    Adaptive,
    /// Held-out genomes of species unseen in training vs of species seen in training.
    RareSpecies,
    /// Loss on conserved vs variable positions across strains of one species.
    Conservation,
    /// Imputation of single masked nucleotides.
    ImputeNucleotide,
    /// Imputation of a gene-sized stretch of a CDS.
    ImputeFragment,
    /// Neurons that explain amino acids.
    NeuronsAa,
    /// Neurons that explain coding sequence.
    NeuronsCds,
    /// Neuron importance by deletion.
    Importance,
    /// ULMFiT sequence classification.
    Classification,
    /// Zero-shot effect of substitutions in CDS.
    Variants,
    /// Parameters, throughput, memory, training time.
    Cost,
}

impl Task {
    /// Every task, in report order.
    pub const ALL: [Task; 12] = [
        Task::Transfer,
        Task::Adaptive,
        Task::RareSpecies,
        Task::Conservation,
        Task::ImputeNucleotide,
        Task::ImputeFragment,
        Task::NeuronsAa,
        Task::NeuronsCds,
        Task::Importance,
        Task::Classification,
        Task::Variants,
        Task::Cost,
    ];

    /// The name used in tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Task::Transfer => "transfer",
            Task::Adaptive => "adaptive",
            Task::RareSpecies => "rare_species",
            Task::Conservation => "conservation",
            Task::ImputeNucleotide => "impute_nucleotide",
            Task::ImputeFragment => "impute_fragment",
            Task::NeuronsAa => "neurons_aa",
            Task::NeuronsCds => "neurons_cds",
            Task::Importance => "importance",
            Task::Classification => "classification",
            Task::Variants => "variants",
            Task::Cost => "cost",
        }
    }

    /// Parse a name (as [`Task::name`]).
    pub fn from_name(s: &str) -> Result<Task> {
        Task::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown benchmark task {s:?}; use one of {}",
                    Task::ALL.map(|t| t.name()).join(", ")
                ))
            })
    }
}

/// Sizes and choices of a benchmark run. The defaults run the whole suite on a small model in
/// minutes on a 2-core CPU; every size scales up to full genomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BenchOptions {
    /// Tasks to run (empty = all).
    pub tasks: Vec<Task>,
    /// Corpus: `embedded`, a folder or a `manifest.json` (`None`: the run's, else embedded).
    pub corpus: Option<String>,
    /// Training genome ids (`None`: from the run's `summary.json`, with its `kingdom_repeats`,
    /// else the default split). An id listed twice is counted twice by the Markov chain.
    pub train_genomes: Option<Vec<String>>,
    /// Bases scored per held-out genome (evenly spaced chunks; 0 = the whole genome). The
    /// default, 200 000, scores the small genomes whole and 40 chunks of a bacterial genome:
    /// with 20 000 (4 chunks) the *H. pylori* margin of one model read +0.024 where its whole
    /// genomes give +0.070, because regions close to a training strain and strain-specific
    /// ones differ by more than the margin; each row's `skill_se` says how well a sample
    /// pins the skill down.
    pub bases_per_genome: usize,
    /// Length of each scored chunk.
    pub chunk_len: usize,
    /// 150-nt reads per held-out genome.
    pub reads_per_genome: usize,
    /// Read length.
    pub read_len: usize,
    /// Order of the Markov baseline.
    pub markov_order: usize,
    /// Masked positions per kingdom (imputation 1).
    pub impute_positions: usize,
    /// Bases either side of a masked position.
    pub impute_flank: usize,
    /// Gaps per kingdom (imputation 2).
    pub fragments: usize,
    /// Gap length (a multiple of 3).
    pub fragment_len: usize,
    /// Bases of left context before a gap.
    pub fragment_context: usize,
    /// How a causal model (and the Markov baseline) fills a gap (default: the per-base
    /// consensus of 32 samples; see [`Decoder`](crate::infer::Decoder)).
    pub fragment_decoder: crate::infer::Decoder,
    /// How a masked LM fills a gap: iterative refinement from both flanks (see
    /// [`refine_gaps`](crate::infer::refine_gaps); the seed is `seed`).
    pub fragment_refine: crate::infer::RefineOptions,
    /// Bases of each annotated genome used for neuron tasks (0 = all).
    pub neuron_bases: usize,
    /// Moving-average window over state rows for neuron tasks (1 = none).
    pub neuron_smooth: usize,
    /// Neuron tasks also read each genome's reverse strand (the `rc.<layer>` states of
    /// [`PredictOptions::reverse_strand`](crate::infer::PredictOptions::reverse_strand)), so a
    /// causal model's neurons see both sides of every base.
    pub neuron_reverse_strand: bool,
    /// Neurons deleted at most in the importance curve.
    pub importance_max: usize,
    /// Items per class of each classification task.
    pub classification_items: usize,
    /// Epochs of each of the four classifier cycles.
    pub classification_epochs: [usize; 4],
    /// Which of the classification task's datasets to run
    /// ([`CLASSIFICATION_DATASETS`](crate::bench::classification::CLASSIFICATION_DATASETS));
    /// empty (the default) runs all of them. More seeds of one row cost minutes instead of
    /// the half hour of the whole task.
    pub classification_datasets: Vec<String>,
    /// Cross-validation folds of the `promoters` and `promoters_genome` rows (106 items each):
    /// every item is tested once and each method trains this many times; 0 or 1 = one
    /// stratified 80/20 split (22 test items, ±0.06 of accuracy from the split alone). The
    /// other rows have test sets of 80–600 items and keep one split.
    pub classification_folds: usize,
    /// Only the LM's classifier head and each row's Markov baseline: no supervised baselines
    /// and no class-conditional LMs, so a change to the head's recipe is measured in minutes
    /// instead of the half hour of the whole task. The head's numbers are the same as in the
    /// full task (it trains first, from its own seed).
    pub classification_head_only: bool,
    /// Which layers of the head's classifier train in each cycle
    /// ([`Unfreezing`](crate::train::Unfreezing); the recipe's default, the head first and then
    /// every layer).
    pub classification_unfreezing: crate::train::Unfreezing,
    /// LR range tests inside the classifier recipe
    /// ([`UlmfitOptions::cls_lr_find`](crate::train::UlmfitOptions::cls_lr_find)).
    pub classification_lr_find: bool,
    /// Optimizer steps per class of the class-conditional LMs, at least
    /// ([`GenerativeOptions::min_steps`](crate::bench::generative::GenerativeOptions::min_steps)).
    pub classification_generative_steps: usize,
    /// Peak learning rate of the class-conditional LMs
    /// ([`GenerativeOptions::lr`](crate::bench::generative::GenerativeOptions::lr)).
    pub classification_generative_lr: f64,
    /// Steps of ULMFiT's second stage before the class-conditional LMs, 0 for none
    /// ([`GenerativeOptions::adapt_steps`](crate::bench::generative::GenerativeOptions::adapt_steps)).
    pub classification_generative_adapt_steps: usize,
    /// Steps of the class-conditional LMs' joint discriminative stage, 0 for none
    /// ([`GenerativeOptions::joint_steps`](crate::bench::generative::GenerativeOptions::joint_steps)).
    pub classification_generative_joint_steps: usize,
    /// Its peak learning rate
    /// ([`GenerativeOptions::joint_lr`](crate::bench::generative::GenerativeOptions::joint_lr)).
    pub classification_generative_joint_lr: f64,
    /// Bases of context the linear probe reads before each item
    /// ([`ProbeOptions::context`](crate::bench::probe::ProbeOptions::context)).
    pub classification_probe_context: usize,
    /// Substitutions per held-out annotated genome.
    pub variants_per_genome: usize,
    /// Bases either side of a substitution (256 by default: a causal model reads the
    /// substituted codon after its left flank only, and needs a long one to be in the reading
    /// frame. `pretrained:lstm_small_extended`, 2 000 substitutions per genome: chloroplast
    /// nonsense vs synonymous AUROC 0.727 with 96 bases, 0.840 with 256; phiX174 0.863 →
    /// 0.923). Keep `2 × flank + 1` within what a transformer was trained on.
    pub variant_flank: usize,
    /// Score each substitution on both strands: the LLR of its window plus that of the
    /// window's reverse complement, so a causal model (and the Markov chain) reads the
    /// substituted base after its right flank too, not only after its left one.
    pub variant_both_strands: bool,
    /// Dynamic evaluation in the `adaptive` task: learning rate, window, segments
    /// ([`AdaptOptions`](crate::infer::AdaptOptions); in a sizes file, `[adapt]` with
    /// `lr = 3e-4` …).
    pub adapt: crate::infer::AdaptOptions,
    /// Rows per forward pass.
    pub batch_size: usize,
    /// Seed of every random choice.
    pub seed: u64,
    /// Print progress.
    pub verbose: bool,
}

impl Default for BenchOptions {
    fn default() -> Self {
        BenchOptions {
            tasks: Vec::new(),
            corpus: None,
            train_genomes: None,
            bases_per_genome: 200_000,
            chunk_len: 5_000,
            reads_per_genome: 64,
            read_len: 150,
            markov_order: 6,
            impute_positions: 150,
            impute_flank: 32,
            fragments: 6,
            fragment_len: 300,
            fragment_context: 192,
            fragment_decoder: crate::infer::Decoder::default(),
            fragment_refine: crate::infer::RefineOptions::default(),
            neuron_bases: 30_000,
            neuron_smooth: 51,
            neuron_reverse_strand: true,
            importance_max: 32,
            classification_items: 80,
            classification_epochs: [2, 1, 1, 2],
            classification_datasets: Vec::new(),
            classification_folds: 5,
            classification_head_only: false,
            classification_unfreezing: crate::train::Unfreezing::default(),
            classification_lr_find: false,
            classification_generative_steps: crate::bench::generative::GenerativeOptions::default()
                .min_steps,
            classification_generative_lr: crate::bench::generative::GenerativeOptions::default().lr,
            classification_generative_adapt_steps:
                crate::bench::generative::GenerativeOptions::default().adapt_steps,
            classification_generative_joint_steps:
                crate::bench::generative::GenerativeOptions::default().joint_steps,
            classification_generative_joint_lr:
                crate::bench::generative::GenerativeOptions::default().joint_lr,
            classification_probe_context: 0,
            variants_per_genome: 300,
            variant_flank: 256,
            variant_both_strands: true,
            adapt: crate::infer::AdaptOptions::default(),
            batch_size: 32,
            seed: 42,
            verbose: true,
        }
    }
}

impl BenchOptions {
    /// The whole suite at a tenth of the default sizes, for a first look and for teaching:
    /// about 7 minutes for the small AWD-LSTM on two CPU cores, classification 4 of them (its
    /// classifiers train at least 30 steps per cycle whatever the data size), about 2½ minutes
    /// without it. Rows are noisier than at the default sizes (each transfer row's `skill_se`
    /// says by how much); report numbers from [`BenchOptions::default`].
    ///
    /// ```
    /// use genolm::bench::{BenchOptions, Task};
    /// let opts = BenchOptions {
    ///     tasks: Task::ALL.into_iter().filter(|&t| t != Task::Classification).collect(),
    ///     ..BenchOptions::small()
    /// };
    /// assert_eq!((opts.tasks.len(), opts.bases_per_genome), (11, 20_000));
    /// ```
    pub fn small() -> Self {
        BenchOptions {
            bases_per_genome: 20_000,
            reads_per_genome: 32,
            impute_positions: 60,
            fragments: 3,
            neuron_bases: 10_000,
            classification_items: 30,
            classification_epochs: [1, 1, 0, 1],
            classification_folds: 1,
            variants_per_genome: 80,
            ..Default::default()
        }
    }

    /// Tiny sizes for tests and smoke runs (seconds on a tiny model).
    pub fn quick() -> Self {
        BenchOptions {
            bases_per_genome: 2_000,
            chunk_len: 1_000,
            reads_per_genome: 8,
            impute_positions: 24,
            fragments: 2,
            fragment_len: 30,
            fragment_context: 48,
            neuron_bases: 3_000,
            neuron_smooth: 11,
            importance_max: 4,
            classification_items: 12,
            classification_epochs: [1, 0, 0, 1],
            classification_folds: 1,
            variants_per_genome: 40,
            variant_flank: 32,
            verbose: false,
            ..Default::default()
        }
    }

    pub(crate) fn wants(&self, t: Task) -> bool {
        self.tasks.is_empty() || self.tasks.contains(&t)
    }
}
