//! One serde configuration that spans every architecture genolm builds.
//!
//! A model is `embedding → conv stack → LSTM stack → attention stack → head`, and every stack
//! may be empty. The architectures of the seeds are points of that space:
//!
//! | architecture | conv | lstm | attention |
//! |---|---|---|---|
//! | AWD-LSTM (ULMFiT) | 0 | 3, expand-then-contract, AWD dropouts | 0 |
//! | LSTM (plain, stateful) | 0 | n | 0 |
//! | CNN | n | 0 | 0 |
//! | CNN+LSTM | n | m | 0 |
//! | dilated residual CNN with skips | n, gated, dilation growth 2 | 0 | 0 |
//! | transformer (pre-LN, RoPE) | 0 | 0 | n |
//!
//! Because the fields are plain numbers and flags, an architecture search can move through
//! them freely (seed 000's "continuized architecture"). Unknown fields are errors, so a typo
//! in a TOML file is reported instead of silently ignored:
//!
//! ```
//! use genolm::models::ModelConfig;
//! let cfg = ModelConfig::from_toml_str("preset = \"awd_lstm_small\"\nlstm_hidden = 512\n").unwrap();
//! assert_eq!(cfg.lstm_hidden, 512);
//! assert_eq!(cfg.lstm_layers, 3);
//! let err = ModelConfig::from_toml_str("preset = \"awd_lstm_small\"\nlstm_hiden = 512\n").unwrap_err();
//! assert!(err.to_string().contains("lstm_hiden"));
//! ```

use serde::{Deserialize, Serialize};

use super::rope::RopeScaling;
use crate::data::tokenize::KmerTokenizer;
use crate::{Error, Result};

/// What the model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Head {
    /// Next-token prediction (causal language model).
    #[default]
    Lm,
    /// Masked-token prediction (bidirectional attention; only for models without LSTMs).
    Mlm,
    /// Sequence classification: `[last, max-pool, mean-pool, bin means] → BN → Linear → ReLU →
    /// BN → Linear` (see [`ModelConfig::cls_pool_bins`]).
    Classifier,
}

/// The model configuration. See the [module documentation](self) for how the fields combine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// A free-text name for reports (presets fill it in).
    pub name: String,
    /// k-mer size of the tokenizer the model reads.
    pub k: usize,
    /// Stride of the tokenizer.
    pub stride: usize,
    /// Vocabulary size; 0 means `4^k + 5` (computed from `k`).
    pub vocab_size: usize,
    /// Embedding width.
    pub emb_dim: usize,

    /// Number of convolution layers (0 = none).
    pub conv_layers: usize,
    /// Channels of every convolution layer.
    pub conv_channels: usize,
    /// Kernel width.
    pub conv_kernel: usize,
    /// Dilation of layer `i` is `conv_dilation_growth^i` (1 = plain CNN, 2 = WaveNet-like).
    pub conv_dilation_growth: usize,
    /// Residual connection around each layer whose input and output widths agree.
    pub conv_residual: bool,
    /// Gated activation `tanh(a)·σ(b)` (WaveNet) instead of ReLU.
    pub conv_gated: bool,
    /// Skip connections: the body output is `ReLU(Σ_i skip_i(h_i))` (WaveNet).
    pub conv_skip: bool,

    /// Number of LSTM layers (0 = none).
    pub lstm_layers: usize,
    /// Hidden width of the inner LSTM layers (the last one returns `emb_dim` when weights are tied).
    pub lstm_hidden: usize,
    /// Carry the LSTM state from batch to batch along each genome (reset at contig boundaries).
    pub stateful: bool,

    /// Number of transformer blocks (0 = none).
    pub attn_layers: usize,
    /// Attention heads (the width must be divisible by it; head size must be even for RoPE).
    pub attn_heads: usize,
    /// Width of the feed-forward layer as a multiple of the model width.
    pub attn_ff_mult: usize,
    /// RoPE base.
    pub rope_theta: f64,
    /// RoPE context-extension scaling (PI, NTK, YaRN, GeNE, CLEX, …; see [`rope`](super::rope)).
    pub rope_scaling: RopeScaling,
    /// Windows longer than this many tokens use memory-bounded blocked attention in blocks of
    /// this size ([`flash`](super::flash)); 0 = always the plain `L × L` attention.
    pub attn_block: usize,

    /// Embedding dropout: whole k-mer rows of the embedding matrix, one mask per batch.
    pub embed_dropout: f64,
    /// Variational (locked) dropout on the embedded input.
    pub input_dropout: f64,
    /// DropConnect on the LSTM hidden-to-hidden matrices, one mask per batch.
    pub weight_dropout: f64,
    /// Variational dropout between layers (and attention/feed-forward dropout in transformers).
    pub hidden_dropout: f64,
    /// Dropout on the body output (before the LM decoder, and inside the classifier head).
    pub output_dropout: f64,
    /// Multiplies every dropout above (ULMFiT's `drop_mult`).
    pub drop_mult: f64,
    /// Activation regularisation coefficient (α, on the dropped last-layer output).
    pub ar: f64,
    /// Temporal activation regularisation coefficient (β, on the raw last-layer output).
    pub tar: f64,

    /// Tie the LM decoder to the embedding matrix (plus a bias).
    pub tie_weights: bool,
    /// What the model predicts.
    pub head: Head,
    /// Classes of the classifier head.
    pub n_classes: usize,
    /// Width of the classifier head's hidden layer (seed 003: 50).
    pub cls_hidden: usize,
    /// Names of a classifier's classes in output order (Hugging Face's `id2label`):
    /// `genolm classify` stores the labels of its data here, so the checkpoint alone says what
    /// each output means. Empty for language models, and then not written, so their
    /// checkpoints' bytes do not change.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub class_names: Vec<String>,
    /// The classifier head also pools each of this many equal stretches of an item's real
    /// positions (their means, in order), so where in the item a signal sits reaches the head:
    /// aligned windows (splice junctions, promoters aligned at their start site) are
    /// classified by what is at which position, which last/max/mean pooling loses. 0: the three
    /// global poolings only (classifiers made before 2026-12-04). Not written when 0, so
    /// language models' checkpoints do not change.
    #[serde(skip_serializing_if = "is_zero")]
    pub cls_pool_bins: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Position bins of the classifier head made by [`ModelConfig::to_classifier`].
pub const CLS_POOL_BINS: usize = 8;

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig::awd_lstm_small()
    }
}

/// Names of the built-in presets, for `--help` texts and errors.
pub const PRESETS: &[&str] = &[
    "ulmfit_paper",
    "awd_lstm_small",
    "lstm_small",
    "lstm_asha",
    "cnn_small",
    "cnn_lstm_small",
    "dilated_small",
    "transformer_small",
    "transformer_mlm_small",
    "tiny",
];

impl ModelConfig {
    /// The configuration of seed 003 §3.5: 400-wide embedding, LSTMs 1150/1150/400, 5-mers
    /// with stride 2, the genomic LM dropouts of §4.4 with `drop_mult` 0.3, AR 2, TAR 1.
    pub fn ulmfit_paper() -> Self {
        ModelConfig {
            name: "ulmfit_paper".into(),
            k: 5,
            stride: 2,
            vocab_size: 0,
            emb_dim: 400,
            conv_layers: 0,
            conv_channels: 0,
            conv_kernel: 9,
            conv_dilation_growth: 1,
            conv_residual: true,
            conv_gated: false,
            conv_skip: false,
            lstm_layers: 3,
            lstm_hidden: 1150,
            stateful: true,
            attn_layers: 0,
            attn_heads: 4,
            attn_ff_mult: 4,
            rope_theta: 10_000.0,
            rope_scaling: RopeScaling::default(),
            attn_block: 512,
            embed_dropout: 0.02,
            input_dropout: 0.1,
            weight_dropout: 0.15,
            hidden_dropout: 0.1,
            output_dropout: 0.25,
            drop_mult: 0.3,
            ar: 2.0,
            tar: 1.0,
            tie_weights: true,
            head: Head::Lm,
            n_classes: 2,
            cls_hidden: 50,
            class_names: Vec::new(),
            cls_pool_bins: 0,
        }
    }

    /// A small AWD-LSTM that trains in minutes on a laptop CPU: 3-mers with stride 1,
    /// embedding 64, LSTMs 256/256/64.
    pub fn awd_lstm_small() -> Self {
        ModelConfig {
            name: "awd_lstm_small".into(),
            k: 3,
            stride: 1,
            emb_dim: 64,
            lstm_hidden: 256,
            drop_mult: 0.2,
            ..Self::ulmfit_paper()
        }
    }

    /// A plain stateful 2-layer LSTM (no AWD regularisation).
    pub fn lstm_small() -> Self {
        ModelConfig {
            name: "lstm_small".into(),
            lstm_layers: 2,
            lstm_hidden: 256,
            embed_dropout: 0.0,
            input_dropout: 0.0,
            weight_dropout: 0.0,
            hidden_dropout: 0.0,
            output_dropout: 0.0,
            ar: 0.0,
            tar: 0.0,
            tie_weights: false,
            ..Self::awd_lstm_small()
        }
    }

    /// What an ASHA search found on the embedded corpus (docs/search.md): the plain stateful
    /// 2-layer LSTM, wider (embedding 128, LSTMs 384/384), trained with a high learning rate
    /// (2.5e-2), weight decay 1.2e-2, BPTT 96, batch 16 (`configs/lstm_asha.toml`). At the same
    /// three minutes of CPU training it beat `awd_lstm_small` on held-out validation loss by
    /// 0.036 nats (1.331 vs 1.367), and on every kingdom's test genomes.
    pub fn lstm_asha() -> Self {
        ModelConfig {
            name: "lstm_asha".into(),
            emb_dim: 128,
            lstm_hidden: 384,
            ..Self::lstm_small()
        }
    }

    /// A causal CNN: 4 layers of 128 channels, kernel 9, residual.
    pub fn cnn_small() -> Self {
        ModelConfig {
            name: "cnn_small".into(),
            emb_dim: 64,
            conv_layers: 4,
            conv_channels: 128,
            conv_kernel: 9,
            lstm_layers: 0,
            stateful: false,
            embed_dropout: 0.0,
            weight_dropout: 0.0,
            ar: 0.0,
            tar: 0.0,
            tie_weights: false,
            ..Self::lstm_small()
        }
    }

    /// CNN front end (2 layers) feeding a 2-layer LSTM.
    pub fn cnn_lstm_small() -> Self {
        ModelConfig {
            name: "cnn_lstm_small".into(),
            conv_layers: 2,
            lstm_layers: 2,
            lstm_hidden: 256,
            stateful: false,
            ..Self::cnn_small()
        }
    }

    /// A WaveNet-like dilated residual CNN with gated activations and skip connections:
    /// 6 layers, kernel 3, dilations 1..32 (receptive field 127 tokens).
    pub fn dilated_small() -> Self {
        ModelConfig {
            name: "dilated_small".into(),
            conv_layers: 6,
            conv_channels: 64,
            conv_kernel: 3,
            conv_dilation_growth: 2,
            conv_gated: true,
            conv_skip: true,
            ..Self::cnn_small()
        }
    }

    /// A causal pre-LN transformer with RoPE over single nucleotides: 4 blocks, width 128.
    pub fn transformer_small() -> Self {
        ModelConfig {
            name: "transformer_small".into(),
            k: 1,
            stride: 1,
            emb_dim: 128,
            conv_layers: 0,
            lstm_layers: 0,
            stateful: false,
            attn_layers: 4,
            attn_heads: 4,
            attn_ff_mult: 4,
            input_dropout: 0.0,
            hidden_dropout: 0.0,
            output_dropout: 0.0,
            tie_weights: true,
            ..Self::cnn_small()
        }
    }

    /// The same transformer as a masked LM (bidirectional attention, MLM head).
    pub fn transformer_mlm_small() -> Self {
        ModelConfig {
            name: "transformer_mlm_small".into(),
            head: Head::Mlm,
            ..Self::transformer_small()
        }
    }

    /// A minute model for tests and examples (3-mers, embedding 16, one LSTM of 32).
    pub fn tiny() -> Self {
        ModelConfig {
            name: "tiny".into(),
            emb_dim: 16,
            lstm_layers: 1,
            lstm_hidden: 32,
            ..Self::awd_lstm_small()
        }
    }

    /// A preset by name (see [`PRESETS`]).
    pub fn preset(name: &str) -> Result<Self> {
        Ok(match name {
            "ulmfit_paper" => Self::ulmfit_paper(),
            "awd_lstm_small" | "awd_lstm" => Self::awd_lstm_small(),
            "lstm_small" | "lstm" => Self::lstm_small(),
            "lstm_asha" => Self::lstm_asha(),
            "cnn_small" | "cnn" => Self::cnn_small(),
            "cnn_lstm_small" | "cnn_lstm" => Self::cnn_lstm_small(),
            "dilated_small" | "dilated" => Self::dilated_small(),
            "transformer_small" | "transformer" => Self::transformer_small(),
            "transformer_mlm_small" | "transformer_mlm" => Self::transformer_mlm_small(),
            "tiny" => Self::tiny(),
            other => {
                return Err(Error::Config(format!(
                    "unknown model preset {other:?}; presets: {}",
                    PRESETS.join(", ")
                )))
            }
        })
    }

    /// Parse a TOML table: an optional `preset = "name"` key gives the starting point and
    /// every other key overrides one field. Unknown keys are errors.
    pub fn from_toml_value(v: toml::Value) -> Result<Self> {
        let toml::Value::Table(mut t) = v else {
            return Err(Error::Config("the model section must be a table".into()));
        };
        let base = match t.remove("preset") {
            Some(toml::Value::String(p)) => Self::preset(&p)?,
            Some(_) => return Err(Error::Config("`preset` must be a string".into())),
            None => Self::default(),
        };
        let toml::Value::Table(mut merged) = toml::Value::try_from(&base)
            .map_err(|e| Error::Config(format!("cannot serialise preset: {e}")))?
        else {
            unreachable!("a struct serialises to a table")
        };
        for (k, v) in t {
            merged.insert(k, v);
        }
        let cfg: ModelConfig = toml::Value::Table(merged)
            .try_into()
            .map_err(|e: toml::de::Error| Error::Config(format!("model: {}", e.message())))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// [`from_toml_value`](Self::from_toml_value) on a TOML string.
    pub fn from_toml_str(s: &str) -> Result<Self> {
        let v: toml::Value = toml::from_str(s)
            .map_err(|e: toml::de::Error| Error::Config(format!("model: {}", e.message())))?;
        Self::from_toml_value(v)
    }

    /// Parse JSON (as written into checkpoints); unknown fields are errors.
    pub fn from_json_str(s: &str) -> Result<Self> {
        let cfg: ModelConfig =
            serde_json::from_str(s).map_err(|e| Error::Config(format!("model config: {e}")))?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// The tokenizer this model reads.
    pub fn tokenizer(&self) -> Result<KmerTokenizer> {
        KmerTokenizer::new(self.k, self.stride)
    }

    /// The vocabulary size (`vocab_size`, or `4^k + 5` when it is 0).
    pub fn vocab(&self) -> usize {
        if self.vocab_size > 0 {
            self.vocab_size
        } else {
            4usize.pow(self.k as u32) + crate::data::tokenize::N_SPECIAL as usize
        }
    }

    /// A dropout probability after `drop_mult`.
    pub fn p(&self, p: f64) -> f64 {
        (p * self.drop_mult).clamp(0.0, 0.95)
    }

    /// A short architecture label: `AWD-LSTM`, `LSTM`, `CNN`, `CNN+LSTM`, `dilated CNN`,
    /// `transformer`, or a `+`-joined combination.
    pub fn arch_label(&self) -> String {
        let mut parts = Vec::new();
        if self.conv_layers > 0 {
            parts.push(if self.conv_dilation_growth > 1 {
                "dilated CNN"
            } else {
                "CNN"
            });
        }
        if self.lstm_layers > 0 {
            let awd = self.weight_dropout > 0.0 && self.drop_mult > 0.0;
            parts.push(if awd && self.conv_layers == 0 {
                "AWD-LSTM"
            } else {
                "LSTM"
            });
        }
        if self.attn_layers > 0 {
            parts.push("transformer");
        }
        if parts.is_empty() {
            "embedding-only".into()
        } else {
            parts.join("+")
        }
    }

    /// Width of the body output (the input of the head).
    pub fn body_dim(&self) -> usize {
        let mut d = self.emb_dim;
        if self.conv_layers > 0 {
            d = self.conv_channels;
        }
        if self.lstm_layers > 0 {
            d = self.lstm_out_dim(self.lstm_layers - 1);
        }
        d
    }

    /// Output width of LSTM layer `i`.
    pub fn lstm_out_dim(&self, i: usize) -> usize {
        // The last layer returns `emb_dim` when tied, so that the decoder can share the
        // embedding (a classifier built from such an LM keeps the shapes so weights transfer).
        let last = i + 1 == self.lstm_layers;
        if last && self.attn_layers == 0 && self.tie_weights {
            self.emb_dim
        } else {
            self.lstm_hidden
        }
    }

    /// Is attention causal? (LM head: yes; MLM and classifier: bidirectional.)
    pub fn causal(&self) -> bool {
        self.head == Head::Lm
    }

    /// A classifier's class names in output order: [`class_names`](Self::class_names), or
    /// `0`, `1`, … when none were stored.
    ///
    /// ```
    /// use genolm::models::{Head, ModelConfig};
    /// let mut cfg = ModelConfig { head: Head::Classifier, n_classes: 3, ..ModelConfig::tiny() };
    /// assert_eq!(cfg.class_labels(), ["0", "1", "2"]);
    /// cfg.class_names = vec!["exon".into(), "intron".into(), "intergenic".into()];
    /// assert_eq!(cfg.class_labels()[2], "intergenic");
    /// cfg.class_names.pop();
    /// assert!(cfg.validate().is_err()); // one name per class
    /// ```
    pub fn class_labels(&self) -> Vec<String> {
        if self.class_names.is_empty() {
            (0..self.n_classes).map(|c| c.to_string()).collect()
        } else {
            self.class_names.clone()
        }
    }

    /// Check that the fields describe a model that can be built.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(m));
        self.tokenizer()?;
        if self.emb_dim == 0 {
            return bad("emb_dim must be positive".into());
        }
        if self.vocab_size > 0 && self.vocab_size < self.vocab() {
            return bad(format!(
                "vocab_size {} is smaller than 4^k + 5",
                self.vocab_size
            ));
        }
        if self.conv_layers > 0 && (self.conv_channels == 0 || self.conv_kernel == 0) {
            return bad("conv_channels and conv_kernel must be positive".into());
        }
        if self.conv_dilation_growth == 0 {
            return bad("conv_dilation_growth must be at least 1".into());
        }
        if self.conv_layers > 0
            && (self.conv_kernel - 1)
                * self
                    .conv_dilation_growth
                    .saturating_pow(self.conv_layers as u32)
                > 1 << 20
        {
            return bad("the dilated convolution's receptive field exceeds 2^20 tokens".into());
        }
        if self.lstm_layers > 0 && self.lstm_hidden == 0 {
            return bad("lstm_hidden must be positive".into());
        }
        if self.attn_layers > 0 {
            let d = self.body_dim();
            if self.attn_heads == 0 || !d.is_multiple_of(self.attn_heads) {
                return bad(format!(
                    "the transformer width {d} must be divisible by attn_heads ({})",
                    self.attn_heads
                ));
            }
            if !(d / self.attn_heads).is_multiple_of(2) {
                return bad(format!(
                    "RoPE needs an even head size; {d} / {} is odd",
                    self.attn_heads
                ));
            }
            if self.attn_ff_mult == 0 {
                return bad("attn_ff_mult must be positive".into());
            }
        }
        if self.head == Head::Mlm && self.lstm_layers > 0 {
            return bad("an MLM head needs a bidirectional body; LSTMs here are causal".into());
        }
        if self.tie_weights && self.head != Head::Classifier && self.body_dim() != self.emb_dim {
            return bad(format!(
                "tie_weights needs the body output ({}) to equal emb_dim ({}); \
                 set tie_weights = false or match the widths",
                self.body_dim(),
                self.emb_dim
            ));
        }
        if self.head == Head::Classifier && (self.n_classes < 2 || self.cls_hidden == 0) {
            return bad("a classifier needs n_classes >= 2 and cls_hidden > 0".into());
        }
        if !self.class_names.is_empty()
            && (self.head != Head::Classifier || self.class_names.len() != self.n_classes)
        {
            return bad(format!(
                "class_names ({}) need a classifier head with as many classes (head {:?}, n_classes {})",
                self.class_names.len(),
                self.head,
                self.n_classes
            ));
        }
        for (n, p) in [
            ("embed_dropout", self.embed_dropout),
            ("input_dropout", self.input_dropout),
            ("weight_dropout", self.weight_dropout),
            ("hidden_dropout", self.hidden_dropout),
            ("output_dropout", self.output_dropout),
        ] {
            if !(0.0..1.0).contains(&p) {
                return bad(format!("{n} must be in [0, 1), got {p}"));
            }
        }
        self.rope_scaling.validate()?;
        if !(self.drop_mult >= 0.0 && self.ar >= 0.0 && self.tar >= 0.0 && self.rope_theta > 0.0) {
            return bad(
                "drop_mult, ar and tar must be non-negative and rope_theta positive".into(),
            );
        }
        Ok(())
    }

    /// The same body with a classifier head of `n_classes` (for ULMFiT's third stage), using
    /// seed 003 §4.4's classification dropouts scaled by `drop_mult`.
    pub fn to_classifier(&self, n_classes: usize) -> Self {
        ModelConfig {
            head: Head::Classifier,
            n_classes,
            embed_dropout: 0.1,
            input_dropout: 0.2,
            weight_dropout: 0.5,
            hidden_dropout: 0.2,
            output_dropout: 0.4,
            drop_mult: if self.drop_mult > 0.0 { 0.5 } else { 0.0 },
            cls_pool_bins: CLS_POOL_BINS,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_validate_and_roundtrip() {
        for p in PRESETS {
            let c = ModelConfig::preset(p).unwrap();
            c.validate().unwrap_or_else(|e| panic!("{p}: {e}"));
            let j = serde_json::to_string(&c).unwrap();
            assert_eq!(ModelConfig::from_json_str(&j).unwrap(), c);
        }
        assert_eq!(ModelConfig::ulmfit_paper().arch_label(), "AWD-LSTM");
        assert_eq!(ModelConfig::dilated_small().arch_label(), "dilated CNN");
        assert_eq!(ModelConfig::cnn_lstm_small().arch_label(), "CNN+LSTM");
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(ModelConfig::preset("nope")
            .unwrap_err()
            .to_string()
            .contains("presets"));
        let e = ModelConfig::from_toml_str("preset = \"transformer_small\"\nattn_heads = 3\n")
            .unwrap_err();
        assert!(e.to_string().contains("divisible"), "{e}");
        let e =
            ModelConfig::from_toml_str("preset = \"cnn_small\"\ntie_weights = true\n").unwrap_err();
        assert!(e.to_string().contains("tie_weights"), "{e}");
    }
}
