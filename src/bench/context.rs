//! What the tasks share: the model, the corpus with its training and held-out genomes, the
//! Markov baseline and the options.

use super::markov::MarkovModel;
use super::{neurons, BenchOptions, Outcome};

use crate::data::corpus::{Corpus, Kingdom, SampleReadsOptions};
use crate::data::tokenize::KmerTokenizer;
use crate::infer::PredictOptions;
use crate::models::GenomicModel;
use crate::train::run::RunSummary;
use crate::Result;

/// What the tasks share: the model, the corpus with its training / held-out genomes, the
/// Markov baseline and the options.
pub struct BenchContext<'a> {
    /// The model.
    pub model: &'a GenomicModel,
    /// Its tokenizer.
    pub tok: KmerTokenizer,
    /// The corpus.
    pub corpus: Corpus,
    /// Training genomes (indices into the corpus).
    pub train: Vec<usize>,
    /// Genomes not used in training.
    pub held_out: Vec<usize>,
    /// The Markov baseline fitted on `train`.
    pub markov: MarkovModel,
    /// Options.
    pub opts: BenchOptions,
    /// Summary of the training run, when known (`summary.json`).
    pub run_summary: Option<RunSummary>,
    /// States and annotation targets per genome, computed once and shared by the two neuron
    /// tasks.
    pub neuron_states: NeuronStates,
}

/// The cache of [`BenchContext::neuron_states`].
pub type NeuronStates = std::sync::Mutex<
    std::collections::HashMap<usize, Option<std::sync::Arc<neurons::StatesAndTargets>>>,
>;

impl BenchContext<'_> {
    /// The skip of tasks that predict single bases: with a stride larger than k, some bases
    /// are covered by no token and never predicted.
    pub fn base_prediction_skip(&self) -> Option<Outcome> {
        (self.tok.stride > self.tok.k).then(|| {
            Outcome::Skipped(format!(
                "predicting single bases needs stride ≤ k (this tokenizer: k = {}, stride = {})",
                self.tok.k, self.tok.stride
            ))
        })
    }

    /// Prediction options for scoring.
    pub fn predict_options(&self) -> PredictOptions {
        PredictOptions {
            batch_size: self.opts.batch_size,
            ..PredictOptions::default()
        }
    }

    /// Held-out genomes of a kingdom.
    pub fn held_out_of(&self, k: Kingdom) -> Vec<usize> {
        self.held_out
            .iter()
            .copied()
            .filter(|&i| self.corpus.genomes[i].meta.kingdom == k)
            .collect()
    }

    /// Held-out genomes with annotation.
    pub fn annotated_held_out(&self) -> Vec<usize> {
        self.held_out
            .iter()
            .copied()
            .filter(|&i| self.corpus.genomes[i].is_annotated())
            .collect()
    }

    /// Genome id.
    pub fn id(&self, g: usize) -> String {
        self.corpus.genomes[g].meta.id.clone()
    }

    /// Evenly spaced chunks of `chunk_len` bases of genome `g`, `bases_per_genome` in all
    /// (0 = every base), as `(name, contig index, start, bases)`.
    pub fn chunks(&self, g: usize) -> Vec<(String, usize, usize, Vec<u8>)> {
        genome_chunks(
            &self.corpus.genomes[g],
            self.opts.bases_per_genome,
            self.opts.chunk_len,
        )
    }

    /// Reads of the given genomes.
    pub fn reads(&self, genomes: &[usize]) -> Result<Vec<crate::data::corpus::Read>> {
        self.corpus.sample_reads(
            genomes,
            &SampleReadsOptions {
                len: self.opts.read_len,
                per_genome: Some(self.opts.reads_per_genome),
                seed: self.opts.seed,
                ..SampleReadsOptions::default()
            },
        )
    }

    pub(crate) fn log(&self, msg: &str) {
        if self.opts.verbose {
            eprintln!("[bench] {msg}");
        }
    }
}

/// Evenly spaced chunks of a genome (see [`BenchContext::chunks`]).
pub fn genome_chunks(
    genome: &crate::data::corpus::Genome,
    total: usize,
    chunk_len: usize,
) -> Vec<(String, usize, usize, Vec<u8>)> {
    let len = genome.len();
    let chunk_len = chunk_len.max(1);
    let mut out = Vec::new();
    if total == 0 || total >= len {
        for (ci, c) in genome.contigs.iter().enumerate() {
            out.push((c.name.clone(), ci, 0, c.seq.clone()));
        }
        return out;
    }
    let n = total.div_ceil(chunk_len);
    let step = len / n;
    for i in 0..n {
        // global start → (contig, local start), clipped to the contig
        let mut g0 = i * step;
        for (ci, c) in genome.contigs.iter().enumerate() {
            if g0 < c.seq.len() {
                let end = (g0 + chunk_len).min(c.seq.len());
                if end > g0 {
                    out.push((
                        format!("{}:{}-{}", c.name, g0 + 1, end),
                        ci,
                        g0,
                        c.seq[g0..end].to_vec(),
                    ));
                }
                break;
            }
            g0 -= c.seq.len();
        }
    }
    out
}
