//! Where a run's tokens come from: a corpus read into memory, or [token
//! shards](crate::data::shards) on disk for corpora larger than memory. `[data] corpus` names
//! either: a folder holding `shards.json` (made by `genolm shards`) trains from the shards.

use std::path::Path;
use std::sync::Arc;

use super::run::DataConfig;
use crate::data::corpus::{split_metas, Corpus, GenomeMeta, Splits};
use crate::data::shards::{TokenShards, MANIFEST};
use crate::data::streams::TokenStreams;
use crate::data::tokenize::KmerTokenizer;
use crate::{Error, Result};

/// A run's corpus: genomes in memory, or token shards mapped from disk.
#[derive(Debug)]
pub enum CorpusSource {
    /// Genomes read into memory ([`Corpus::open`]).
    Memory(Corpus),
    /// Token shards ([`TokenShards::open`]).
    Shards(Arc<TokenShards>),
}

impl CorpusSource {
    /// Open `d.corpus`: a shard folder (or its `shards.json`) as shards, anything else as
    /// [`Corpus::open`] reads it.
    pub fn open(d: &DataConfig) -> Result<CorpusSource> {
        let p = Path::new(&d.corpus);
        let dir = if p.file_name().is_some_and(|n| n == MANIFEST) {
            p.parent().map(Path::to_path_buf)
        } else if p.join(MANIFEST).is_file() {
            Some(p.to_path_buf())
        } else {
            None
        };
        Ok(match dir {
            Some(dir) => CorpusSource::Shards(TokenShards::open(&dir)?),
            None => CorpusSource::Memory(Corpus::open(&d.corpus)?),
        })
    }

    /// Every genome's metadata, in corpus order.
    pub fn metas(&self) -> Vec<&GenomeMeta> {
        match self {
            CorpusSource::Memory(c) => c.genomes.iter().map(|g| &g.meta).collect(),
            CorpusSource::Shards(s) => s.genomes().iter().collect(),
        }
    }

    /// The run's split: [`Corpus::split`] of the genomes, then `d`'s kingdom filter.
    pub fn splits(&self, d: &DataConfig) -> Result<Splits> {
        splits_of(&self.metas(), d)
    }

    /// The ids of the genomes at `indices`.
    pub fn ids(&self, indices: &[usize]) -> Vec<String> {
        let m = self.metas();
        indices.iter().map(|&i| m[i].id.clone()).collect()
    }

    /// The token streams of `genomes` (one per contig; with reverse complements when asked),
    /// tokenised with `tok`: from memory, or mapped from the shards (which must have been
    /// made with the same tokenizer, and with reverse complements if they are asked for).
    pub fn streams(
        &self,
        genomes: &[usize],
        tok: &KmerTokenizer,
        reverse_complement: bool,
    ) -> Result<TokenStreams> {
        match self {
            CorpusSource::Memory(c) => Ok(c.token_streams(genomes, tok, reverse_complement).into()),
            CorpusSource::Shards(s) => {
                if s.tokenizer() != *tok {
                    return Err(Error::Config(format!(
                        "the shards hold {}-mers with stride {}, the model reads {}-mers with \
                         stride {}: rebuild them with `genolm shards --k {} --stride {}`",
                        s.tokenizer().k,
                        s.tokenizer().stride,
                        tok.k,
                        tok.stride,
                        tok.k,
                        tok.stride
                    )));
                }
                if reverse_complement && !s.manifest().reverse_complement {
                    return Err(Error::Config(
                        "the run asks for reverse complements but the shards were built without \
                         them: rebuild with `genolm shards --reverse-complement` or set \
                         reverse_complement = false"
                            .into(),
                    ));
                }
                Ok(s.token_streams(genomes, reverse_complement))
            }
        }
    }
}

/// [`run_splits`](super::run::run_splits) over genome metadata.
pub(crate) fn splits_of(metas: &[&GenomeMeta], d: &DataConfig) -> Result<Splits> {
    let all = split_metas(metas, &d.split_options())?;
    let keep = |v: &Vec<usize>| -> Vec<usize> {
        v.iter()
            .copied()
            .filter(|&i| d.kingdoms.is_empty() || d.kingdoms.contains(&metas[i].kingdom))
            .collect()
    };
    let (train, valid, test) = (keep(&all.train), keep(&all.valid), keep(&all.test));
    if train.is_empty() {
        return Err(Error::Input(
            "no training genomes after the kingdom filter".into(),
        ));
    }
    Ok(Splits { train, valid, test })
}
