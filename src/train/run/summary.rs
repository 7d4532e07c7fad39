//! What a run produced ([`RunSummary`], `summary.json`) and the per-kingdom evaluation of a
//! language model on held-out genomes ([`KingdomEval`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::corpus::{Corpus, GenomeMeta, Kingdom};
use crate::data::streams::TokenStreams;
use crate::data::tokenize::{informed_random_loss, KmerTokenizer};
use crate::models::GenomicModel;
use crate::train::history::History;
use crate::train::source::CorpusSource;
use crate::{Error, Result};

use super::{lm_data, scoring_batches, DataConfig};

/// Validation quality of a language model on one kingdom's held-out genomes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KingdomEval {
    /// Kingdom.
    pub kingdom: String,
    /// Genomes evaluated.
    pub genomes: Vec<String>,
    /// Tokens scored.
    pub tokens: usize,
    /// Mean cross-entropy (nats per token).
    pub loss: f64,
    /// Next-token (or masked-token) accuracy.
    pub accuracy: f64,
    /// The informed-random point `ln(4^s)` of the tokenizer.
    pub informed_random: f64,
}

/// What a run produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    /// Model name and architecture.
    pub model: String,
    /// Architecture label.
    pub arch: String,
    /// Trainable parameters.
    pub n_params: usize,
    /// Device description.
    pub device: String,
    /// Per-epoch records.
    pub history: History,
    /// Per-kingdom validation.
    pub valid: Vec<KingdomEval>,
    /// Per-kingdom test (held-out genomes never used for model selection).
    pub test: Vec<KingdomEval>,
    /// Wall-clock minutes of the run.
    pub minutes: f64,
    /// Where the checkpoint is.
    pub checkpoint: PathBuf,
    /// Ids of the training genomes (the benchmark holds out everything else).
    #[serde(default)]
    pub train_genomes: Vec<String>,
    /// The `[data]` section of the run.
    #[serde(default)]
    pub data: Option<DataConfig>,
    /// The machine the run trained on ([`crate::cpu::host_summary`]): a CPU checkpoint is the
    /// same bytes again on the same kind of host, whatever the thread count; on another the
    /// matrix products may order their sums otherwise (empty in runs before it was recorded).
    #[serde(default)]
    pub host: String,
}

impl RunSummary {
    /// A text summary: the model, then validation and test loss per kingdom against the
    /// informed-random point, time and checkpoint (what `genolm train` prints).
    pub fn text(&self) -> String {
        let mut out = format!(
            "\n{} ({}, {} parameters) on {}:\n{:<6} {:<5} {:>9} {:>8} {:>9} {:>16}\n",
            self.model,
            self.arch,
            self.n_params,
            self.device,
            "split",
            "king.",
            "tokens",
            "loss",
            "accuracy",
            "ln(4^s) − loss"
        );
        for (split, rows) in [("valid", &self.valid), ("test", &self.test)] {
            for r in rows.iter() {
                out.push_str(&format!(
                    "{split:<6} {:<5} {:>9} {:>8.4} {:>9.4} {:>16.4}\n",
                    r.kingdom,
                    r.tokens,
                    r.loss,
                    r.accuracy,
                    r.informed_random - r.loss
                ));
            }
        }
        out.push_str(&format!(
            "{:.2} minutes; checkpoint in {} (model.safetensors, optimizer.safetensors, state.json, summary.json)",
            self.minutes,
            self.checkpoint.display()
        ));
        out
    }

    /// Read the `summary.json` of a run folder (or of the folder holding a checkpoint file).
    ///
    /// ```no_run
    /// let s = genolm::train::run::RunSummary::load("runs/quickstart")?;
    /// println!("{} epochs, test loss {:?}", s.history.len(), s.test.iter().map(|k| k.loss).collect::<Vec<_>>());
    /// # Ok::<(), genolm::Error>(())
    /// ```
    pub fn load(run: impl AsRef<Path>) -> Result<RunSummary> {
        let run = run.as_ref();
        let dir = if run.is_file() {
            run.parent().unwrap_or(Path::new("."))
        } else {
            run
        };
        let path = dir.join("summary.json");
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::parse(
                path.display().to_string(),
                e.line(),
                format!("not a genolm run summary: {e}"),
            )
        })
    }
}

/// Per-kingdom evaluation of `model` on the genomes `ids` of `corpus`.
pub fn eval_by_kingdom(
    model: &GenomicModel,
    corpus: &Corpus,
    ids: &[usize],
    d: &DataConfig,
    max_batches: usize,
) -> Result<Vec<KingdomEval>> {
    let tok: KmerTokenizer = model.config().tokenizer()?;
    let metas: Vec<&GenomeMeta> = corpus.genomes.iter().map(|g| &g.meta).collect();
    eval_kingdoms(model, &metas, ids, d, max_batches, |g| {
        Ok(corpus.token_streams(g, &tok, false).into())
    })
}

/// [`eval_by_kingdom`] over a [`CorpusSource`] (memory or token shards).
pub fn eval_source_by_kingdom(
    model: &GenomicModel,
    src: &CorpusSource,
    ids: &[usize],
    d: &DataConfig,
    max_batches: usize,
) -> Result<Vec<KingdomEval>> {
    let tok: KmerTokenizer = model.config().tokenizer()?;
    eval_kingdoms(model, &src.metas(), ids, d, max_batches, |g| {
        src.streams(g, &tok, false)
    })
}

fn eval_kingdoms(
    model: &GenomicModel,
    metas: &[&GenomeMeta],
    ids: &[usize],
    d: &DataConfig,
    max_batches: usize,
    streams_of: impl Fn(&[usize]) -> Result<TokenStreams>,
) -> Result<Vec<KingdomEval>> {
    let mut out = Vec::new();
    for k in [Kingdom::Pro, Kingdom::Euk, Kingdom::Vir] {
        let g: Vec<usize> = ids
            .iter()
            .copied()
            .filter(|&i| metas[i].kingdom == k)
            .collect();
        if g.is_empty() {
            continue;
        }
        let streams = streams_of(&g)?;
        let dd = scoring_batches(d, &streams);
        let data = lm_data(streams, model.config(), &dd, 7, model.config().stateful)?;
        let r = crate::train::learner::evaluate(model, &data, max_batches)?;
        out.push(KingdomEval {
            kingdom: k.as_str().into(),
            genomes: g.iter().map(|&i| metas[i].id.clone()).collect(),
            tokens: r.n,
            loss: r.loss,
            accuracy: r.accuracy,
            informed_random: informed_random_loss(model.config().stride),
        });
    }
    Ok(out)
}
