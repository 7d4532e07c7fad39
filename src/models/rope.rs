//! Rotary position embeddings and their context-extension scalings (seed 004).
//!
//! Plain RoPE rotates the pair `(x_i, x_{i+d/2})` of a head of width `d` at position `p` by
//! the angle `p·θ_i`, `θ_i = b^(−2i/d)`, `i = 0 … d/2 − 1`. A model trained on windows of
//! `L₀` tokens has never seen angles beyond `L₀·θ_i`; the scalings below change the angles so
//! that a window `s = L / L₀` times longer stays (mostly) in the range the model knows. Every
//! method equals plain RoPE at `s = 1`.
//!
//! | method | angle of dimension `i` at position `p` | scale `s` |
//! |---|---|---|
//! | `none` | `p·θ_i` | — |
//! | `pi` (position interpolation) | `p·θ_i / s` | `factor` |
//! | `ntk` (NTK-aware) | `p·θ'_i`, base `b' = b·s^(d/(d−2))` | `factor` |
//! | `dynamic_ntk` | as `ntk` | `max(1, L / L₀)` at each call |
//! | `yarn` | `p·((1−γ_i)·θ_i/s + γ_i·θ_i)`, `γ_i = clip((r_i − α)/(β − α), 0, 1)`, `r_i = L₀/λ_i`, `λ_i = 2π/θ_i`; logits × `(0.1·ln s + 1)²` | `factor` |
//! | `gene` | `p·θ_i·s^(−w_i)`, `w_i = clip(i/β, 0, 1)`; random `s` in fine-tuning | `factor` |
//! | `clex` | `p·exp(z_i(ln s))`, `dz/du = −2i/(d−2) + g_φ(z, u)` integrated with RK4 from `z(0) = ln θ` (`g_φ` a small learned MLP; `g_φ = 0` is NTK) | `max(1, L / L₀)` |
//! | `hybrid` (genolm's own) | YaRN's per-dimension ramp with GeNE's exponent form: `p·θ_i·s^(−γ_i)`, temperature as YaRN | `max(1, L / L₀)` |
//!
//! YaRN's temperature multiplies the logits by `m² = (0.1·ln s + 1)²`; it is applied by
//! scaling both rotation tables by `m` (as the reference implementation does). With
//! `sample_max > 1`, training forwards draw `s` uniformly from `[max(1, L/L₀), sample_max]`
//! (GeNE's random scales; CLEX's sampled scales), so the model and CLEX's ODE see the scales
//! they will be asked for.
//!
//! ```
//! use genolm::models::rope::{RopeMethod, RopeScaling};
//! let pi = RopeScaling { method: RopeMethod::Pi, factor: 4.0, ..RopeScaling::default() };
//! let f = pi.frequencies(8, 10_000.0, 4.0);
//! assert!((f.omega[0] - 0.25).abs() < 1e-12); // θ_0 = 1, divided by s = 4
//! let plain = RopeScaling::default().frequencies(8, 10_000.0, 1.0);
//! assert_eq!(pi.frequencies(8, 10_000.0, 1.0).omega, plain.omega); // s = 1 is plain RoPE
//! ```

use candle_core::{DType, Device, Tensor};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::params::{Init, Params};
use crate::{Error, Result};

/// Which RoPE scaling a transformer uses (see the [module documentation](self)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RopeMethod {
    /// Plain RoPE.
    #[default]
    None,
    /// Position interpolation (Chen et al. 2023).
    Pi,
    /// NTK-aware base change (bloc97 2023).
    Ntk,
    /// NTK-aware with the scale recomputed from the current length.
    DynamicNtk,
    /// YaRN (Peng et al. 2023): per-dimension ramp and attention temperature.
    Yarn,
    /// GeNE (Li & Zhang 2024): generalised extrapolation scale, random scales in fine-tuning.
    Gene,
    /// CLEX (Chen et al. 2024): frequencies from a learned ODE over the scale.
    Clex,
    /// genolm's combination: YaRN's ramp in GeNE's exponent form, dynamic scale, temperature.
    Hybrid,
}

impl RopeMethod {
    /// All methods, in report order.
    pub const ALL: [RopeMethod; 8] = [
        RopeMethod::None,
        RopeMethod::Pi,
        RopeMethod::Ntk,
        RopeMethod::DynamicNtk,
        RopeMethod::Yarn,
        RopeMethod::Gene,
        RopeMethod::Clex,
        RopeMethod::Hybrid,
    ];

    /// The snake-case name used in configs and tables.
    pub fn name(self) -> &'static str {
        match self {
            RopeMethod::None => "none",
            RopeMethod::Pi => "pi",
            RopeMethod::Ntk => "ntk",
            RopeMethod::DynamicNtk => "dynamic_ntk",
            RopeMethod::Yarn => "yarn",
            RopeMethod::Gene => "gene",
            RopeMethod::Clex => "clex",
            RopeMethod::Hybrid => "hybrid",
        }
    }

    /// Parse a name (as in [`name`](Self::name)).
    pub fn parse(s: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                Error::Config(format!(
                    "unknown RoPE scaling {s:?}; expected one of {}",
                    Self::ALL.map(|m| m.name()).join(", ")
                ))
            })
    }

    /// Is the scale recomputed from the input length at every call?
    pub fn is_dynamic(self) -> bool {
        matches!(
            self,
            RopeMethod::DynamicNtk | RopeMethod::Clex | RopeMethod::Hybrid
        )
    }
}

/// The `rope_scaling` table of a [`ModelConfig`](super::ModelConfig).
///
/// ```
/// use genolm::models::ModelConfig;
/// let cfg = ModelConfig::from_toml_str(
///     "preset = \"transformer_mlm_small\"\nrope_scaling = { method = \"yarn\", factor = 16.0, train_len = 512 }\n",
/// ).unwrap();
/// assert_eq!(cfg.rope_scaling.factor, 16.0);
/// assert!(ModelConfig::from_toml_str("rope_scaling = { method = \"yarm\" }\n").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RopeScaling {
    /// The method.
    pub method: RopeMethod,
    /// The scale `s` of the static methods (`pi`, `ntk`, `yarn`, `gene`): target length over
    /// training length.
    pub factor: f64,
    /// The training length `L₀` in tokens (YaRN's wavelength ramp, the dynamic methods).
    pub train_len: usize,
    /// YaRN/hybrid ramp start α (default 1); unused elsewhere.
    pub alpha: Option<f64>,
    /// YaRN/hybrid ramp end β (default 32); GeNE's β (default `d/4`, half of the dimensions
    /// fully interpolated).
    pub beta: Option<f64>,
    /// Training forwards draw `s` from `[max(1, L/L₀), sample_max]` when > 1.
    pub sample_max: f64,
    /// Hidden width of CLEX's ODE network.
    pub clex_hidden: usize,
    /// RK4 steps per unit of `ln s` in CLEX's integration (at least one step).
    pub clex_steps: usize,
}

impl Default for RopeScaling {
    fn default() -> Self {
        RopeScaling {
            method: RopeMethod::None,
            factor: 1.0,
            train_len: 512,
            alpha: None,
            beta: None,
            sample_max: 0.0,
            clex_hidden: 32,
            clex_steps: 4,
        }
    }
}

/// The frequencies of one call: `ω_i` and the table multiplier `m` (YaRN's temperature).
#[derive(Debug, Clone, PartialEq)]
pub struct Frequencies {
    /// Angle per position of each of the `d/2` rotation pairs.
    pub omega: Vec<f64>,
    /// Both tables are multiplied by this (logits by its square).
    pub mscale: f64,
}

impl RopeScaling {
    /// Check the fields.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Config(format!("rope_scaling: {m}")));
        if !(self.factor >= 1.0 && self.factor.is_finite()) {
            return bad("factor must be ≥ 1");
        }
        if self.train_len == 0 {
            return bad("train_len must be positive");
        }
        if let (Some(a), Some(b)) = (self.alpha, self.beta) {
            if matches!(self.method, RopeMethod::Yarn | RopeMethod::Hybrid) && a >= b {
                return bad("alpha must be below beta");
            }
        }
        if self.beta.is_some_and(|b| b <= 0.0) {
            return bad("beta must be positive");
        }
        if !(self.sample_max >= 0.0 && self.sample_max.is_finite()) {
            return bad("sample_max must be ≥ 0");
        }
        if self.method == RopeMethod::Clex && self.clex_hidden == 0 {
            return bad("clex_hidden must be positive");
        }
        Ok(())
    }

    /// The scale used for a window of `len` tokens (evaluation): `factor` for the static
    /// methods, `max(1, len/L₀)` for the dynamic ones, 1 for plain RoPE.
    pub fn scale_for(&self, len: usize) -> f64 {
        match self.method {
            RopeMethod::None => 1.0,
            m if m.is_dynamic() => (len as f64 / self.train_len as f64).max(1.0),
            _ => self.factor,
        }
    }

    /// The scale of a forward pass: [`scale_for`](Self::scale_for), or a random draw in
    /// training when `sample_max > 1`.
    pub fn draw_scale(&self, len: usize, rng: Option<&mut ChaCha8Rng>) -> f64 {
        let s = self.scale_for(len);
        match rng {
            Some(r) if self.sample_max > 1.0 && self.method != RopeMethod::None => {
                let lo = (len as f64 / self.train_len as f64).max(1.0);
                let hi = self.sample_max.max(lo);
                if hi > lo {
                    r.random_range(lo..hi)
                } else {
                    lo
                }
            }
            _ => s,
        }
    }

    fn ramp(&self, theta: f64, dim_alpha: f64, dim_beta: f64) -> f64 {
        // r = L₀ / λ: how many turns dimension i makes over the training window.
        let r = self.train_len as f64 * theta / (2.0 * std::f64::consts::PI);
        ((r - dim_alpha) / (dim_beta - dim_alpha)).clamp(0.0, 1.0)
    }

    /// The frequencies for head width `d`, base `base` and scale `s` (closed-form methods;
    /// CLEX's are `Rope::omega_tensor`'s, and here its NTK initial trajectory).
    pub fn frequencies(&self, d: usize, base: f64, s: f64) -> Frequencies {
        let n = d / 2;
        let theta: Vec<f64> = (0..n)
            .map(|i| base.powf(-(2.0 * i as f64) / d as f64))
            .collect();
        let s = s.max(1.0);
        let temp = if s > 1.0 { 0.1 * s.ln() + 1.0 } else { 1.0 };
        let (a, b) = (self.alpha.unwrap_or(1.0), self.beta.unwrap_or(32.0));
        let omega: Vec<f64> = match self.method {
            RopeMethod::None => theta,
            RopeMethod::Pi => theta.iter().map(|t| t / s).collect(),
            RopeMethod::Ntk | RopeMethod::DynamicNtk | RopeMethod::Clex => {
                let nb = if d > 2 {
                    base * s.powf(d as f64 / (d as f64 - 2.0))
                } else {
                    base
                };
                (0..n)
                    .map(|i| nb.powf(-(2.0 * i as f64) / d as f64))
                    .collect()
            }
            RopeMethod::Yarn => theta
                .iter()
                .map(|&t| {
                    let g = self.ramp(t, a, b);
                    (1.0 - g) * t / s + g * t
                })
                .collect(),
            RopeMethod::Gene => {
                let beta = self.beta.unwrap_or(n as f64 / 2.0);
                theta
                    .iter()
                    .enumerate()
                    .map(|(i, &t)| t * s.powf(-(i as f64 / beta).clamp(0.0, 1.0)))
                    .collect()
            }
            RopeMethod::Hybrid => theta
                .iter()
                .map(|&t| t * s.powf(-(1.0 - self.ramp(t, a, b))))
                .collect(),
        };
        let mscale = match self.method {
            RopeMethod::Yarn | RopeMethod::Hybrid => temp,
            _ => 1.0,
        };
        Frequencies { omega, mscale }
    }
}

/// CLEX's ODE network `g_φ(z, u) = W₂·SiLU(W₁·[z/ln b, u, 1])`.
struct ClexNet {
    w1: Tensor,
    w2: Tensor,
}

/// The RoPE of one transformer: its scaling and, for CLEX, the learned ODE.
pub(crate) struct Rope {
    scaling: RopeScaling,
    base: f64,
    d: usize,
    clex: Option<ClexNet>,
}

impl Rope {
    /// Register CLEX's parameters (`rope.clex.w1`, `rope.clex.w2`) when the method needs them.
    pub fn new(p: &mut Params, scaling: &RopeScaling, base: f64, d: usize) -> Result<Self> {
        let clex = if scaling.method == RopeMethod::Clex {
            let n = d / 2;
            let h = scaling.clex_hidden;
            Some(ClexNet {
                w1: p.param(
                    "rope.clex.w1",
                    (h, n + 2),
                    Init::Normal(1.0 / ((n + 2) as f64).sqrt()),
                )?,
                // Small, not zero: g_φ starts close to the NTK trajectory, and every
                // parameter receives a gradient from the first step.
                w2: p.param("rope.clex.w2", (n, h), Init::Normal(1e-3))?,
            })
        } else {
            None
        };
        Ok(Rope {
            scaling: scaling.clone(),
            base,
            d,
            clex,
        })
    }

    /// The scaling.
    pub fn scaling(&self) -> &RopeScaling {
        &self.scaling
    }

    /// CLEX's `ω(s)` as a differentiable `(d/2)` tensor (f64): RK4 over `u = ln s`.
    fn omega_tensor(&self, net: &ClexNet, s: f64, device: &Device) -> Result<Tensor> {
        let n = self.d / 2;
        let lnb = self.base.ln();
        let z0: Vec<f64> = (0..n)
            .map(|i| -(2.0 * i as f64) / self.d as f64 * lnb)
            .collect();
        let ntk: Vec<f64> = (0..n)
            .map(|i| {
                if self.d > 2 {
                    -(2.0 * i as f64) / (self.d as f64 - 2.0)
                } else {
                    0.0
                }
            })
            .collect();
        let ntk = Tensor::from_vec(ntk, n, device)?;
        let mut z = Tensor::from_vec(z0, n, device)?;
        let u_end = s.max(1.0).ln();
        if u_end <= 0.0 {
            return Ok(z.exp()?);
        }
        let w1 = net.w1.to_dtype(DType::F64)?;
        let w2 = net.w2.to_dtype(DType::F64)?;
        let f = |z: &Tensor, u: f64| -> Result<Tensor> {
            let inp = Tensor::cat(&[(z / lnb)?, Tensor::from_vec(vec![u, 1.0], 2, device)?], 0)?
                .unsqueeze(1)?; // (n+2, 1)
            let h = candle_nn::ops::silu(&w1.matmul(&inp)?)?;
            Ok((w2.matmul(&h)?.squeeze(1)? + &ntk)?)
        };
        let steps = ((u_end * self.scaling.clex_steps.max(1) as f64).ceil() as usize).max(1);
        let dt = u_end / steps as f64;
        for k in 0..steps {
            let u = k as f64 * dt;
            let k1 = f(&z, u)?;
            let k2 = f(&(&z + (&k1 * (dt / 2.0))?)?, u + dt / 2.0)?;
            let k3 = f(&(&z + (&k2 * (dt / 2.0))?)?, u + dt / 2.0)?;
            let k4 = f(&(&z + (&k3 * dt)?)?, u + dt)?;
            let sum = (k1 + ((k2 + k3)? * 2.0)? + k4)?;
            z = (z + (sum * (dt / 6.0))?)?;
        }
        Ok(z.exp()?)
    }

    /// The rotation tables `(cos, sin)`, each `len × d/2` (f32; f64 for CLEX), for positions
    /// `offset..offset+len` at scale `s`.
    pub fn tables(
        &self,
        len: usize,
        offset: usize,
        s: f64,
        device: &Device,
    ) -> Result<(Tensor, Tensor)> {
        let half = self.d / 2;
        if let Some(net) = &self.clex {
            let omega = self.omega_tensor(net, s, device)?; // (half) f64
            let pos: Vec<f64> = (offset..offset + len).map(|p| p as f64).collect();
            let pos = Tensor::from_vec(pos, (len, 1), device)?;
            let ang = pos.broadcast_mul(&omega.unsqueeze(0)?)?;
            // f64 tables: `rope` casts them to the activations' dtype.
            return Ok((ang.cos()?, ang.sin()?));
        }
        let f = self.scaling.frequencies(self.d, self.base, s);
        let mut cos = Vec::with_capacity(len * half);
        let mut sin = Vec::with_capacity(len * half);
        for p in offset..offset + len {
            for w in &f.omega {
                let a = p as f64 * w;
                cos.push((a.cos() * f.mscale) as f32);
                sin.push((a.sin() * f.mscale) as f32);
            }
        }
        Ok((
            Tensor::from_vec(cos, (len, half), device)?,
            Tensor::from_vec(sin, (len, half), device)?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (x, y) in a.iter().zip(b) {
            assert!((x - y).abs() < 1e-9 * (1.0 + y.abs()), "{a:?} vs {b:?}");
        }
    }

    fn with(method: RopeMethod) -> RopeScaling {
        RopeScaling {
            method,
            factor: 4.0,
            train_len: 64,
            ..RopeScaling::default()
        }
    }

    // d = 8, b = 10⁴: θ = [1, 0.1, 0.01, 0.001]; s = 4; L₀ = 64.
    #[test]
    fn hand_computed_frequencies() {
        let f = |m| with(m).frequencies(8, 10_000.0, 4.0);
        close(&f(RopeMethod::None).omega, &[1.0, 0.1, 0.01, 0.001]);
        close(&f(RopeMethod::Pi).omega, &[0.25, 0.025, 0.0025, 0.00025]);
        // NTK: θ_i·s^(−2i/(d−2)): the last pair is fully interpolated, the first kept.
        let ntk = [
            1.0,
            0.1 * 4f64.powf(-1.0 / 3.0),
            0.01 * 4f64.powf(-2.0 / 3.0),
            0.00025,
        ];
        close(&f(RopeMethod::Ntk).omega, &ntk);
        close(&f(RopeMethod::DynamicNtk).omega, &ntk);
        close(&f(RopeMethod::Clex).omega, &ntk);
        // YaRN: r_i = 64·θ_i/2π = [10.186, 1.0186, 0.10186, …]; γ = (r − 1)/31 clipped.
        let r0 = 64.0 / (2.0 * std::f64::consts::PI);
        let (g0, g1) = ((r0 - 1.0) / 31.0, (r0 / 10.0 - 1.0) / 31.0);
        let yarn = f(RopeMethod::Yarn);
        close(
            &yarn.omega,
            &[
                (1.0 - g0) / 4.0 + g0,
                0.1 * ((1.0 - g1) / 4.0 + g1),
                0.0025,
                0.00025,
            ],
        );
        assert!((yarn.mscale - (0.1 * 4f64.ln() + 1.0)).abs() < 1e-12);
        // GeNE, β = d/4 = 2: w = [0, ½, 1, 1].
        close(&f(RopeMethod::Gene).omega, &[1.0, 0.05, 0.0025, 0.00025]);
        // Hybrid: θ_i·s^(−(1−γ_i)).
        let h = f(RopeMethod::Hybrid);
        close(
            &h.omega,
            &[
                4f64.powf(-(1.0 - g0)),
                0.1 * 4f64.powf(-(1.0 - g1)),
                0.0025,
                0.00025,
            ],
        );
        assert_eq!(h.mscale, yarn.mscale);
    }

    #[test]
    fn every_method_is_plain_rope_at_scale_one() {
        let plain = RopeScaling::default().frequencies(16, 500.0, 1.0);
        for m in RopeMethod::ALL {
            let f = with(m).frequencies(16, 500.0, 1.0);
            close(&f.omega, &plain.omega);
            assert_eq!(f.mscale, 1.0, "{m:?}");
        }
    }

    #[test]
    fn scales_static_dynamic_and_sampled() {
        use rand::SeedableRng;
        assert_eq!(with(RopeMethod::Yarn).scale_for(1000), 4.0);
        assert_eq!(with(RopeMethod::None).scale_for(1000), 1.0);
        assert_eq!(with(RopeMethod::DynamicNtk).scale_for(32), 1.0);
        assert_eq!(with(RopeMethod::DynamicNtk).scale_for(256), 4.0);
        let g = RopeScaling {
            sample_max: 16.0,
            ..with(RopeMethod::Gene)
        };
        let mut r = ChaCha8Rng::seed_from_u64(1);
        let draws: Vec<f64> = (0..200).map(|_| g.draw_scale(128, Some(&mut r))).collect();
        assert!(draws.iter().all(|&s| (2.0..16.0).contains(&s)));
        assert!(draws.iter().any(|&s| s > 12.0) && draws.iter().any(|&s| s < 4.0));
        assert_eq!(g.draw_scale(128, None), 4.0);
        assert!(RopeMethod::parse("yarm").is_err());
        assert_eq!(
            RopeMethod::parse("dynamic_ntk").unwrap(),
            RopeMethod::DynamicNtk
        );
    }

    #[test]
    fn clex_with_a_zero_network_follows_ntk_and_its_tables_rotate() {
        let dev = Device::Cpu;
        let rope = Rope {
            scaling: with(RopeMethod::Clex),
            base: 10_000.0,
            d: 8,
            clex: Some(ClexNet {
                w1: Tensor::ones((32, 6), DType::F32, &dev).unwrap(),
                w2: Tensor::zeros((4, 32), DType::F32, &dev).unwrap(),
            }),
        };
        let net = rope.clex.as_ref().unwrap();
        let w: Vec<f64> = rope
            .omega_tensor(net, 4.0, &dev)
            .unwrap()
            .to_vec1()
            .unwrap();
        close(
            &w,
            &with(RopeMethod::Ntk).frequencies(8, 10_000.0, 4.0).omega,
        );
        let (c, s) = rope.tables(5, 0, 4.0, &dev).unwrap();
        let n = (c.sqr().unwrap() + s.sqr().unwrap()).unwrap();
        let n: Vec<Vec<f64>> = n.to_vec2().unwrap();
        assert!(n.iter().flatten().all(|x| (x - 1.0).abs() < 1e-12));
    }
}
