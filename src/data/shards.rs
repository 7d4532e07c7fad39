//! Token shards: a corpus tokenised once into files on disk that training maps into memory, for
//! corpora larger than memory (a folder of thousands of NCBI genomes).
//!
//! [`TokenShards::build`] reads the corpus one genome at a time (any source
//! [`Corpus::open`](super::corpus::Corpus::open) reads: `embedded`, a folder, a manifest),
//! tokenises each contig (and, when asked, its reverse complement) and appends the ids as
//! little-endian `u32` to `tokens-NNNNN.bin` files of at most `shard_tokens` tokens. It writes
//! `shards.json` last, atomically: the tokenizer, every genome's metadata (so the
//! genome-level split is the one the in-memory corpus gives), every stream's place, and each
//! shard's size and SHA-256. [`TokenShards::open`] maps the files (checking their sizes;
//! [`verify`](TokenShards::verify) checks the checksums); [`TokenShards::token_streams`] gives
//! the [`TokenStreams`] of a split that [`LmBatcher`](super::batch::LmBatcher) walks without
//! copying. Resident memory stays flat: batchers
//! [`release`](TokenStreams::release) the pages they have read.
//!
//! ```
//! use genolm::data::shards::{ShardOptions, TokenShards};
//! use genolm::data::tokenize::KmerTokenizer;
//! let dir = tempfile::tempdir().unwrap();
//! let tok = KmerTokenizer::new(3, 3)?;
//! let opts = ShardOptions { shard_tokens: 1 << 20, ..Default::default() };
//! let shards = TokenShards::build("embedded", dir.path(), &tok, &opts)?;
//! assert!(shards.n_shards() > 1);
//! // the same tokens as the corpus in memory
//! let corpus = genolm::data::corpus::Corpus::embedded()?;
//! let phix = corpus.index_of("phiX174").unwrap();
//! let mem = corpus.token_streams(&[phix], &tok, false);
//! let disk = TokenShards::open(dir.path())?.token_streams(&[phix], false);
//! assert_eq!(disk.get(0), &mem[0][..]);
//! # Ok::<(), genolm::Error>(())
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memmap2::Mmap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::alphabet::revcomp;
use super::corpus::{GenomeMeta, GenomeSource};
use super::streams::TokenStreams;
use super::tokenize::KmerTokenizer;
use crate::{Error, Result};

/// The manifest's name in a shard folder.
pub const MANIFEST: &str = "shards.json";
const FORMAT: &str = "genolm-token-shards";

/// How [`TokenShards::build`] writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShardOptions {
    /// Tokens per shard file at most (a contig longer than that gets a file of its own).
    pub shard_tokens: usize,
    /// Also store each contig's reverse complement (training augmentation; the streams of
    /// validation and test genomes are read forward only).
    pub reverse_complement: bool,
    /// Print a line per genome.
    pub verbose: bool,
}

impl Default for ShardOptions {
    fn default() -> Self {
        ShardOptions {
            shard_tokens: 256 << 20, // 1 GiB files
            reverse_complement: false,
            verbose: false,
        }
    }
}

/// One token stream: a contig (or its reverse complement) in a shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamEntry {
    /// Index of its genome in [`ShardManifest::genomes`].
    pub genome: usize,
    /// Contig name.
    pub contig: String,
    /// The reverse complement of the contig.
    pub reverse: bool,
    /// Shard file index.
    pub shard: usize,
    /// Offset in tokens within the shard.
    pub offset: u64,
    /// Length in tokens.
    pub len: u64,
}

/// One shard file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardFile {
    /// File name in the shard folder.
    pub path: String,
    /// Tokens (the file holds 4 bytes per token).
    pub tokens: u64,
    /// SHA-256 of the file.
    pub sha256: String,
}

/// `shards.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardManifest {
    /// Always `genolm-token-shards`.
    pub format: String,
    /// Format version.
    pub version: u32,
    /// The genolm that wrote it.
    pub genolm_version: String,
    /// The corpus it was built from (`embedded`, or a folder or manifest: an absolute path
    /// since 2026-12-07, as given before).
    pub source: String,
    /// The tokenizer of every stream.
    pub tokenizer: KmerTokenizer,
    /// Whether reverse complements were stored.
    pub reverse_complement: bool,
    /// Genome metadata (with provenance and source file checksums).
    pub genomes: Vec<GenomeMeta>,
    /// Every stream, in corpus order (per genome, per contig: forward, then reverse).
    pub streams: Vec<StreamEntry>,
    /// The shard files.
    pub shards: Vec<ShardFile>,
}

/// Token shards opened from a folder (files mapped read-only).
pub struct TokenShards {
    dir: PathBuf,
    manifest: ShardManifest,
    maps: Vec<Mmap>,
}

impl std::fmt::Debug for TokenShards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TokenShards({}, {} genomes, {} streams, {} shards)",
            self.dir.display(),
            self.manifest.genomes.len(),
            self.manifest.streams.len(),
            self.maps.len()
        )
    }
}

struct Writer {
    dir: PathBuf,
    file: Option<(std::io::BufWriter<std::fs::File>, PathBuf, Sha256)>,
    shards: Vec<ShardFile>,
    in_shard: u64,
    limit: u64,
}

impl Writer {
    fn push(&mut self, ids: &[u32]) -> Result<(usize, u64)> {
        if self.file.is_some() && self.in_shard > 0 && self.in_shard + ids.len() as u64 > self.limit
        {
            self.finish()?;
        }
        if self.file.is_none() {
            let name = format!("tokens-{:05}.bin", self.shards.len());
            let tmp = self.dir.join(format!(".{name}.part"));
            let f = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
            self.file = Some((
                std::io::BufWriter::with_capacity(1 << 20, f),
                tmp,
                Sha256::new(),
            ));
            self.shards.push(ShardFile {
                path: name,
                tokens: 0,
                sha256: String::new(),
            });
            self.in_shard = 0;
        }
        let (w, tmp, h) = self.file.as_mut().expect("open shard");
        let mut bytes = Vec::with_capacity(ids.len() * 4);
        for &t in ids {
            bytes.extend_from_slice(&t.to_le_bytes());
        }
        w.write_all(&bytes).map_err(|e| Error::io(&*tmp, e))?;
        h.update(&bytes);
        let at = (self.shards.len() - 1, self.in_shard);
        self.in_shard += ids.len() as u64;
        Ok(at)
    }

    fn finish(&mut self) -> Result<()> {
        if let Some((mut w, tmp, h)) = self.file.take() {
            w.flush().map_err(|e| Error::io(&tmp, e))?;
            let f = w
                .into_inner()
                .map_err(|e| Error::io(&tmp, e.into_error()))?;
            f.sync_all().map_err(|e| Error::io(&tmp, e))?;
            let last = self.shards.last_mut().expect("a shard");
            last.tokens = self.in_shard;
            last.sha256 = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
            let dst = self.dir.join(&last.path);
            std::fs::rename(&tmp, &dst).map_err(|e| Error::io(&dst, e))?;
        }
        Ok(())
    }
}

impl TokenShards {
    /// Tokenise the corpus `source` into shards in `out` (created; an earlier manifest there
    /// is replaced only when the new build completes). Memory holds one genome at a time.
    pub fn build(
        source: &str,
        out: &Path,
        tok: &KmerTokenizer,
        opts: &ShardOptions,
    ) -> Result<Arc<TokenShards>> {
        if cfg!(target_endian = "big") {
            return Err(Error::Config("token shards are little-endian".into()));
        }
        if opts.shard_tokens == 0 {
            return Err(Error::Config("shard_tokens must be positive".into()));
        }
        let src = GenomeSource::open(source)?;
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        let mut w = Writer {
            dir: out.to_path_buf(),
            file: None,
            shards: Vec::new(),
            in_shard: 0,
            limit: opts.shard_tokens as u64,
        };
        let mut genomes = Vec::with_capacity(src.len());
        let mut streams = Vec::new();
        let mut ids = Vec::new();
        for gi in 0..src.len() {
            let g = src.load(gi)?;
            for c in &g.contigs {
                for reverse in [false, true] {
                    if reverse && !opts.reverse_complement {
                        continue;
                    }
                    ids.clear();
                    if reverse {
                        tok.encode_into(&revcomp(&c.seq), &mut ids);
                    } else {
                        tok.encode_into(&c.seq, &mut ids);
                    }
                    let (shard, offset) = w.push(&ids)?;
                    streams.push(StreamEntry {
                        genome: gi,
                        contig: c.name.clone(),
                        reverse,
                        shard,
                        offset,
                        len: ids.len() as u64,
                    });
                }
            }
            if opts.verbose {
                println!(
                    "{} ({} bp): {} streams so far",
                    g.meta.id,
                    g.len(),
                    streams.len()
                );
            }
            genomes.push(g.meta);
        }
        w.finish()?;
        let manifest = ShardManifest {
            format: FORMAT.into(),
            version: 1,
            genolm_version: env!("CARGO_PKG_VERSION").into(),
            // as an absolute path when it is one: what the run reports and benchmarks read
            // for the genomes themselves, wherever they run (Corpus::open on this folder)
            source: match Path::new(source).canonicalize() {
                Ok(p) if source != "embedded" => p.display().to_string(),
                _ => source.into(),
            },
            tokenizer: *tok,
            reverse_complement: opts.reverse_complement,
            genomes,
            streams,
            shards: w.shards,
        };
        let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
        crate::fsio::atomic_write(&out.join(MANIFEST), &json)?;
        TokenShards::open(out)
    }

    /// Open the shards in `dir` (its `shards.json`), mapping every file read-only. Sizes are
    /// checked; checksums only by [`verify`](Self::verify) (it reads every byte).
    pub fn open(dir: &Path) -> Result<Arc<TokenShards>> {
        let mpath = dir.join(MANIFEST);
        let text = std::fs::read(&mpath).map_err(|e| Error::io(&mpath, e))?;
        let manifest: ShardManifest = serde_json::from_slice(&text)
            .map_err(|e| Error::parse(mpath.display().to_string(), e.line(), e.to_string()))?;
        if manifest.format != FORMAT || manifest.version != 1 {
            return Err(Error::parse(
                mpath.display().to_string(),
                1,
                format!("not genolm token shards version 1 ({})", manifest.format),
            ));
        }
        let mut maps = Vec::with_capacity(manifest.shards.len());
        for s in &manifest.shards {
            let p = dir.join(&s.path);
            let f = std::fs::File::open(&p).map_err(|e| Error::io(&p, e))?;
            let len = f.metadata().map_err(|e| Error::io(&p, e))?.len();
            if len != s.tokens * 4 {
                return Err(Error::Input(format!(
                    "{}: {len} bytes, the manifest says {} tokens ({} bytes): the file is \
                     truncated or was replaced",
                    p.display(),
                    s.tokens,
                    s.tokens * 4
                )));
            }
            // SAFETY: the file is opened read-only and genolm never writes a finished shard;
            // changing it while mapped (outside genolm) is documented as unsupported.
            let m = unsafe { Mmap::map(&f) }.map_err(|e| Error::io(&p, e))?;
            maps.push(m);
        }
        for (i, st) in manifest.streams.iter().enumerate() {
            let ok = manifest.genomes.len() > st.genome
                && manifest
                    .shards
                    .get(st.shard)
                    .is_some_and(|s| st.offset + st.len <= s.tokens);
            if !ok {
                return Err(Error::parse(
                    mpath.display().to_string(),
                    0,
                    format!("stream {i} ({}) lies outside its shard", st.contig),
                ));
            }
        }
        Ok(Arc::new(TokenShards {
            dir: dir.to_path_buf(),
            manifest,
            maps,
        }))
    }

    /// Recompute every shard's SHA-256 and compare with the manifest.
    pub fn verify(&self) -> Result<()> {
        for (s, m) in self.manifest.shards.iter().zip(&self.maps) {
            let actual = super::corpus::sha256_hex(&m[..]);
            if actual != s.sha256 {
                return Err(Error::Checksum {
                    file: self.dir.join(&s.path).display().to_string(),
                    expected: s.sha256.clone(),
                    actual,
                });
            }
        }
        self.release();
        Ok(())
    }

    /// The manifest.
    pub fn manifest(&self) -> &ShardManifest {
        &self.manifest
    }

    /// Every genome's metadata, in corpus order.
    pub fn genomes(&self) -> &[GenomeMeta] {
        &self.manifest.genomes
    }

    /// Every stream.
    pub fn streams(&self) -> &[StreamEntry] {
        &self.manifest.streams
    }

    /// Number of shard files.
    pub fn n_shards(&self) -> usize {
        self.maps.len()
    }

    /// The tokenizer the streams were made with.
    pub fn tokenizer(&self) -> KmerTokenizer {
        self.manifest.tokenizer
    }

    /// Total tokens.
    pub fn total_tokens(&self) -> u64 {
        self.manifest.shards.iter().map(|s| s.tokens).sum()
    }

    /// Stream `i`'s tokens, straight from the mapped file.
    pub fn stream(&self, i: usize) -> &[u32] {
        let s = &self.manifest.streams[i];
        let bytes = &self.maps[s.shard][(s.offset * 4) as usize..((s.offset + s.len) * 4) as usize];
        // SAFETY: a mapping starts on a page boundary and offsets are whole tokens, so the
        // bytes are 4-aligned; any bit pattern is a valid u32; the host is little-endian
        // (checked when building) as the file is.
        unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast::<u32>(), s.len as usize) }
    }

    /// The streams of `genomes` (indices into [`genomes`](Self::genomes)), in the order of
    /// `genomes` (a genome listed twice gives its streams twice): each contig forward, then
    /// (with `reverse_complement`, when the shards hold them) its reverse complement, as
    /// [`Corpus::token_streams`](super::corpus::Corpus::token_streams) orders them.
    pub fn token_streams(
        self: &Arc<Self>,
        genomes: &[usize],
        reverse_complement: bool,
    ) -> TokenStreams {
        // each genome's streams in index order, the genomes in the order (and as many
        // times) as `genomes` gives them, as the in-memory corpus does
        let mut of_genome: std::collections::HashMap<usize, Vec<usize>> = Default::default();
        for (i, s) in self.manifest.streams.iter().enumerate() {
            if reverse_complement || !s.reverse {
                of_genome.entry(s.genome).or_default().push(i);
            }
        }
        let ids: Vec<usize> = genomes
            .iter()
            .flat_map(|g| of_genome.get(g).into_iter().flatten().copied())
            .collect();
        TokenStreams::mapped(Arc::clone(self), ids)
    }

    /// Drop the mapped pages from this process's resident set (they stay in the page cache
    /// and come back on the next access, without reading the disk when memory allows).
    pub fn release(&self) {
        for m in &self.maps {
            // SAFETY: a read-only shared file mapping: MADV_DONTNEED only drops page-table
            // entries; the next access reads the same bytes from the file again.
            let _ = unsafe { m.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
        }
    }
}
