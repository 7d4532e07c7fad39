//! [`TokenStreams`]: the token streams (one per contig and strand) that LM batchers read, held
//! in memory or mapped from on-disk [token shards](super::shards). Cloning is cheap (shared).
//!
//! ```
//! use genolm::data::streams::TokenStreams;
//! let s = TokenStreams::from(vec![vec![5u32, 6, 7], vec![8, 9]]);
//! assert_eq!((s.len(), s.total_tokens()), (2, 5));
//! assert_eq!(s.get(1), &[8, 9]);
//! ```

use std::sync::Arc;

use super::shards::TokenShards;

/// Token streams in memory or on disk.
#[derive(Clone)]
pub struct TokenStreams(Inner);

#[derive(Clone)]
enum Inner {
    Memory(Arc<Vec<Vec<u32>>>),
    Mapped {
        shards: Arc<TokenShards>,
        /// indices into the shards' stream table
        ids: Arc<Vec<usize>>,
    },
}

impl std::fmt::Debug for TokenStreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.0 {
            Inner::Memory(_) => "memory",
            Inner::Mapped { .. } => "mapped",
        };
        write!(
            f,
            "TokenStreams({kind}, {} streams, {} tokens)",
            self.len(),
            self.total_tokens()
        )
    }
}

impl From<Vec<Vec<u32>>> for TokenStreams {
    fn from(v: Vec<Vec<u32>>) -> Self {
        TokenStreams(Inner::Memory(Arc::new(v)))
    }
}

impl TokenStreams {
    /// Streams `ids` (indices into [`TokenShards::streams`]) of mapped shards.
    pub fn mapped(shards: Arc<TokenShards>, ids: Vec<usize>) -> Self {
        TokenStreams(Inner::Mapped {
            shards,
            ids: Arc::new(ids),
        })
    }

    /// Number of streams.
    pub fn len(&self) -> usize {
        match &self.0 {
            Inner::Memory(v) => v.len(),
            Inner::Mapped { ids, .. } => ids.len(),
        }
    }

    /// True when there are no streams.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stream `i`'s tokens (from memory, or from the mapped file: pages are read on access).
    pub fn get(&self, i: usize) -> &[u32] {
        match &self.0 {
            Inner::Memory(v) => &v[i],
            Inner::Mapped { shards, ids } => shards.stream(ids[i]),
        }
    }

    /// Length of stream `i` (without touching its tokens).
    pub fn stream_len(&self, i: usize) -> usize {
        match &self.0 {
            Inner::Memory(v) => v[i].len(),
            Inner::Mapped { shards, ids } => shards.streams()[ids[i]].len as usize,
        }
    }

    /// Total tokens over all streams.
    pub fn total_tokens(&self) -> usize {
        (0..self.len()).map(|i| self.stream_len(i)).sum()
    }

    /// Let the operating system drop the mapped pages read so far from this process's
    /// resident memory (they stay in the page cache); nothing for streams in memory. Batchers
    /// call it as they go, so resident memory stays flat however large the corpus.
    pub fn release(&self) {
        if let Inner::Mapped { shards, .. } = &self.0 {
            shards.release();
        }
    }

    /// The streams as owned vectors (reads every mapped token).
    pub fn to_vecs(&self) -> Vec<Vec<u32>> {
        (0..self.len()).map(|i| self.get(i).to_vec()).collect()
    }
}
