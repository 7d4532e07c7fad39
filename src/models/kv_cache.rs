//! A key/value cache for causal transformers: the rotated keys and the values of every layer
//! for the tokens read so far, so that generation, gap filling and gene-sized imputation read
//! only the new token at each step instead of the whole left context again (`O(t)` work per
//! step instead of `O(t²)`).
//!
//! [`GenomicModel::forward_cached`] reads tokens at positions `cache.position()..`; the cache
//! keeps at most `max_len` positions and drops the oldest, a sliding window like the one a
//! full re-read of the last `max_len` tokens sees (but the kept keys were computed with their
//! own, longer left context; RoPE makes the attention depend on relative positions only, so
//! positions keep counting past the trained window). With RoPE scalings that depend on the
//! window length (the dynamic ones), the cache uses the scale of `max_len`.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use genolm::models::{GenomicModel, Mode, ModelConfig};
//! let mut cfg = ModelConfig::preset("transformer_small")?;
//! cfg.k = 1; cfg.emb_dim = 32; cfg.attn_layers = 2; cfg.attn_heads = 2;
//! let m = GenomicModel::new(cfg, &Device::Cpu, 7)?;
//! let ids = Tensor::new(&[[5u32, 6, 7, 8, 5, 6]], &Device::Cpu)?;
//! let full = m.forward(&ids, None, Mode::Eval)?.logits;       // (1, 6, vocab)
//! let (_, cache) = m.forward_cached(&ids.narrow(1, 0, 5)?, None, 64)?;
//! let (step, cache) = m.forward_cached(&ids.narrow(1, 5, 1)?, Some(&cache), 64)?;
//! let d = (full.narrow(1, 5, 1)? - step)?.abs()?.max_all()?.to_scalar::<f32>()?;
//! assert!(d < 1e-4 && cache.position() == 6);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use candle_core::Tensor;

use super::layers::{self, AttentionWeights};
use super::model::{select_rows, GenomicModel, Hooks};
use super::pass::Pass;
use crate::{Error, Result};

/// The keys (after RoPE) and values of every transformer layer, `(batch, heads, time,
/// head_dim)` each, for the positions read so far (at most `max_len` of them).
#[derive(Debug, Clone)]
pub struct KvCache {
    pub(super) k: Vec<Tensor>,
    pub(super) v: Vec<Tensor>,
    pub(super) next: usize,
}

impl KvCache {
    /// Absolute position of the next token (tokens read so far, dropped ones included).
    pub fn position(&self) -> usize {
        self.next
    }

    /// Positions held (≤ the `max_len` of the passes that filled it).
    pub fn len(&self) -> usize {
        self.k.first().and_then(|k| k.dim(2).ok()).unwrap_or(0)
    }

    /// Nothing held?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows of the batch.
    pub fn batch(&self) -> usize {
        self.k.first().and_then(|k| k.dim(0).ok()).unwrap_or(0)
    }

    /// The first `n` positions of a cache that has not slid (`len() == position()`): the
    /// cache of the sequence's first `n` tokens, for reading a variant from position `n` on.
    pub fn prefix(&self, n: usize) -> Result<KvCache> {
        if self.len() != self.next || n > self.next {
            return Err(Error::Input(format!(
                "a prefix of {n} positions from a cache holding {} of {}",
                self.len(),
                self.next
            )));
        }
        let cut = |v: &[Tensor]| -> Result<Vec<Tensor>> {
            v.iter().map(|t| Ok(t.narrow(2, 0, n)?)).collect()
        };
        Ok(KvCache {
            k: cut(&self.k)?,
            v: cut(&self.v)?,
            next: n,
        })
    }

    /// The cache of rows `rows` of this one, in that order (rows may repeat: beams that
    /// descend from the same parent).
    pub fn select(&self, rows: &[usize]) -> Result<KvCache> {
        Ok(KvCache {
            k: select_rows(&self.k, rows)?,
            v: select_rows(&self.v, rows)?,
            next: self.next,
        })
    }
}

/// One attention layer on the new tokens `x: (batch, n, width)` whose RoPE tables `cos`/`sin`
/// are those of their positions: queries attend over `past` keys/values (at most
/// `max_len − n` of them kept) and causally over the new tokens. Returns the layer's output
/// and the keys and values to cache.
pub(super) fn attention_step(
    x: &Tensor,
    w: &AttentionWeights,
    cos: &Tensor,
    sin: &Tensor,
    heads: usize,
    past: Option<(&Tensor, &Tensor)>,
    max_len: usize,
) -> Result<(Tensor, Tensor, Tensor)> {
    let (b, n, d) = x.dims3()?;
    let heads = heads.max(1);
    let hd = d / heads;
    let split = |y: Tensor| -> Result<Tensor> {
        Ok(y.reshape((b, n, heads, hd))?
            .transpose(1, 2)?
            .contiguous()?)
    };
    let q = layers::rope(&split(layers::linear_fused(x, &w.wq, None)?)?, cos, sin)?;
    let k = layers::rope(&split(layers::linear_fused(x, &w.wk, None)?)?, cos, sin)?;
    let v = split(layers::linear_fused(x, &w.wv, None)?)?;
    let (k, v) = match past {
        Some((pk, pv)) => {
            let keep = pk.dim(2)?.min(max_len.saturating_sub(n));
            let from = pk.dim(2)? - keep;
            (
                Tensor::cat(&[&pk.narrow(2, from, keep)?, &k], 2)?,
                Tensor::cat(&[&pv.narrow(2, from, keep)?, &v], 2)?,
            )
        }
        None => (k, v),
    };
    let t = k.dim(2)?;
    let mut scores = (q.matmul(&k.t()?.contiguous()?)? / (hd as f64).sqrt())?; // (b, h, n, t)
    if n > 1 {
        // new token a (at key index t − n + a) sees keys up to itself
        let m: Vec<f32> = (0..n * t)
            .map(|i| if i % t > t - n + i / t { -1e9 } else { 0.0 })
            .collect();
        let m = Tensor::from_vec(m, (n, t), x.device())?.to_dtype(scores.dtype())?;
        scores = scores.broadcast_add(&m)?;
    }
    let y = layers::softmax(&scores)?.matmul(&v)?;
    let y = y.transpose(1, 2)?.reshape((b, n, d))?;
    Ok((layers::linear_fused(&y, &w.wo, Some(&w.bo))?, k, v))
}

impl GenomicModel {
    /// Can this model read through a [`KvCache`]: a causal transformer LM without
    /// convolutions or LSTMs?
    pub fn has_kv_cache(&self) -> bool {
        let c = self.config();
        c.attn_layers > 0 && c.conv_layers == 0 && c.lstm_layers == 0 && c.causal()
    }

    /// Evaluation forward pass of token ids `x: (batch, n)` at positions
    /// `cache.position()..` (0.. without a cache), reading the earlier positions from `cache`
    /// instead of the tokens again: the logits `(batch, n, vocab)` of the new tokens and the
    /// cache with them (at most `max_len` positions). Equals [`forward`](Self::forward) on
    /// the whole sequence while it fits in `max_len` (up to float rounding); see the
    /// [module docs](self) for longer ones. Errors unless [`has_kv_cache`](Self::has_kv_cache).
    pub fn forward_cached(
        &self,
        x: &Tensor,
        cache: Option<&KvCache>,
        max_len: usize,
    ) -> Result<(Tensor, KvCache)> {
        if !self.has_kv_cache() {
            return Err(Error::Config(format!(
                "a key/value cache needs a causal transformer LM without convolutions or \
                 LSTMs; this model is a {} with a {:?} head",
                self.config().arch_label(),
                self.config().head
            )));
        }
        let (b, n, x) = self.checked_ids(x)?;
        if let Some(c) = cache {
            if c.batch() != b {
                return Err(Error::Shape(format!(
                    "cache of {} rows for a batch of {b}",
                    c.batch()
                )));
            }
        }
        if max_len < n {
            return Err(Error::Input(format!(
                "{n} new tokens do not fit a cache of {max_len} positions"
            )));
        }
        if !self.params().is_detached() {
            // no graph: a cache built through tracked weights would keep every earlier step's
            // `(batch, heads, n, t)` scores alive (reading 192 rows × 192 tokens peaked at 5 GB)
            return self.inference()?.forward_cached(&x, cache, max_len);
        }
        let h = layers::embedding(&x, &self.embed)?.to_dtype(self.compute_dtype)?;
        let (h, cache) = self.attn.forward_cached(h, self.config(), cache, max_len)?;
        let hooks = Hooks::default();
        let mut pass = Pass {
            rng: None,
            train: false,
            hooks: &hooks,
            collect: false,
            layers: Vec::new(),
        };
        let logits = self
            .head
            .forward_t(&h, &h, &x, &self.embed, self.config(), &mut pass)?;
        Ok((logits, cache))
    }
}
