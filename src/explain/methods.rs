//! Every attribution method behind one name and one call, for pipelines that compare them
//! (motif discovery, the planted-motif check, `genolm explain attribution --method`).
//!
//! ```
//! use candle_core::Device;
//! use genolm::explain::methods::{attribute, AttributionMethod, MethodOptions};
//! use genolm::models::{GenomicModel, ModelConfig};
//! let mut cfg = ModelConfig::tiny();
//! cfg.k = 1;
//! let model = GenomicModel::new(cfg, &Device::Cpu, 1)?;
//! for m in AttributionMethod::ALL {
//!     let a = attribute(&model, b"ACGTTGCAAGGCTTAC", &MethodOptions { method: m, steps: 8, references: 2, ..Default::default() })?;
//!     assert_eq!(a.hypothetical.as_ref().unwrap().len(), 16, "{}", m.name());
//! }
//! # Ok::<(), genolm::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use super::attribution::{
    input_x_gradient, integrated_gradients, ism, saliency, Attribution, AttributionOptions,
    Baseline,
};
use super::deepshap::{deep_shap, DeepShapOptions};
use crate::data::input::Sequence;
use crate::infer::Objective;
use crate::models::GenomicModel;
use crate::{Error, Result};

/// An attribution method (also the CLI's `--method` values: `deepshap`,
/// `integrated-gradients`, `ism`, `input-x-gradient`, `saliency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum AttributionMethod {
    /// DeepLIFT against dinucleotide-shuffled references, averaged (DeepSHAP).
    #[value(name = "deepshap")]
    DeepShap,
    /// Integrated gradients from a shuffled baseline.
    IntegratedGradients,
    /// In-silico mutagenesis (every substitution re-scored).
    Ism,
    /// Input × gradient.
    InputXGradient,
    /// Gradient (signed per base in the hypothetical map).
    Saliency,
}

impl AttributionMethod {
    /// Every method.
    pub const ALL: [AttributionMethod; 5] = [
        AttributionMethod::DeepShap,
        AttributionMethod::IntegratedGradients,
        AttributionMethod::Ism,
        AttributionMethod::InputXGradient,
        AttributionMethod::Saliency,
    ];

    /// The snake-case name.
    pub fn name(self) -> &'static str {
        match self {
            AttributionMethod::DeepShap => "deepshap",
            AttributionMethod::IntegratedGradients => "integrated_gradients",
            AttributionMethod::Ism => "ism",
            AttributionMethod::InputXGradient => "input_x_gradient",
            AttributionMethod::Saliency => "saliency",
        }
    }

    /// Parse a name (`deepshap`, `integrated_gradients`/`ig`, `ism`, `input_x_gradient`,
    /// `saliency`; `-` and `_` alike).
    pub fn parse(s: &str) -> Result<AttributionMethod> {
        let k = s.trim().to_ascii_lowercase().replace('-', "_");
        Ok(match k.as_str() {
            "deepshap" | "deep_shap" | "deeplift" => AttributionMethod::DeepShap,
            "integrated_gradients" | "ig" => AttributionMethod::IntegratedGradients,
            "ism" => AttributionMethod::Ism,
            "input_x_gradient" | "ixg" => AttributionMethod::InputXGradient,
            "saliency" => AttributionMethod::Saliency,
            _ => {
                return Err(Error::Input(format!(
                    "unknown attribution method {s:?} (deepshap, integrated_gradients, ism, \
                     input_x_gradient, saliency)"
                )))
            }
        })
    }
}

/// Options of [`attribute`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MethodOptions {
    /// The method.
    pub method: AttributionMethod,
    /// What is explained.
    pub objective: Objective,
    /// DeepSHAP references.
    pub references: usize,
    /// Integrated-gradient steps.
    pub steps: usize,
    /// Seed of references and baselines.
    pub seed: u64,
}

impl Default for MethodOptions {
    fn default() -> Self {
        MethodOptions {
            method: AttributionMethod::DeepShap,
            objective: Objective::LogLikelihood,
            references: 10,
            steps: 32,
            seed: 0,
        }
    }
}

/// Attribute `seq` with `opts.method`.
pub fn attribute(
    model: &GenomicModel,
    seq: &(impl Sequence + ?Sized),
    opts: &MethodOptions,
) -> Result<Attribution> {
    let ao = AttributionOptions {
        objective: opts.objective,
        baseline: Baseline::Shuffled(opts.seed),
        steps: opts.steps,
        ..Default::default()
    };
    match opts.method {
        AttributionMethod::DeepShap => deep_shap(
            model,
            seq,
            &DeepShapOptions {
                objective: opts.objective,
                references: opts.references,
                seed: opts.seed,
                ..Default::default()
            },
        ),
        AttributionMethod::IntegratedGradients => integrated_gradients(model, seq, &ao),
        AttributionMethod::Ism => Ok(ism(model, seq, &ao)?.attribution()),
        AttributionMethod::InputXGradient => input_x_gradient(model, seq, &ao),
        AttributionMethod::Saliency => saliency(model, seq, &ao),
    }
}
