//! DeepLIFT's backward rules as forward operations (Shrikumar et al. 2017; DeepSHAP,
//! Lundberg & Lee 2017), for every block genolm builds.
//!
//! A DeepLIFT pass runs inputs and their references in one batch: rows `0..n` are the inputs,
//! rows `n..2n` the references, row `i` paired with row `n + i`. Each non-linear operation
//! computes its usual value, but its *gradient* is replaced by a DeepLIFT multiplier with the
//! straight-through construction `y = y₀.detach() + m.detach() ⊙ (x − x.detach())`, so an
//! ordinary backward pass from the inputs' outputs yields multipliers, and
//! `(x − x_ref) · m` at the input sums to `f(x) − f(x_ref)` (*summation-to-delta*).
//!
//! The rules (all exact, so summation-to-delta holds up to rounding):
//! * element-wise `y = f(x)` (ReLU, GELU, tanh, σ, exp, log, x², 1/x, (x+ε)^-½): the
//!   **rescale** rule `m = Δy/Δx`, or (smooth functions) the derivative at the midpoint when
//!   `|Δx| < 10⁻⁴`;
//! * products of two activations `a ⊙ b` (LSTM gates, WaveNet gates, `x̃ · r` in layer norm)
//!   and products of matrices of activations (attention `QKᵀ`, `PV`): the **Shapley** split
//!   `Δ(ab) = ½(b + b')·Δa + ½(a + a')·Δb`, exact for bilinear maps;
//! * softmax and log-softmax are composed of these (`exp`, a sum, `1/z` or `log z`, a product),
//!   with the same max-shift for an input and its reference;
//! * layer norm likewise (`x̃ = x − mean`, `v = mean(x̃²)`, `r = (v+ε)^-½`, `x̃ · r`);
//! * max pooling: the change of a maximum lies between the changes at the input's and the
//!   reference's arg-max, so it is split convexly between those two positions (exact).
//!
//! Each rule records its largest local residual `|Δy − m·Δx|` per site (layer), which
//! [`Lift::residuals`] reports, so a broken summation names its layer.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use genolm::models::lift::{Act, Lift};
//! let dev = Device::Cpu;
//! let lift = Lift::new(1);
//! // an input row and its reference row
//! let x = Tensor::new(&[[0.5f64, -1.0], [2.0, 0.0]], &dev)?;
//! let v = candle_core::Var::from_tensor(&x)?;
//! let y = lift.act("t", v.as_tensor(), Act::Tanh)?;
//! let g = y.narrow(0, 0, 1)?.sum_all()?.backward()?;
//! let m = g.get(v.as_tensor()).unwrap().narrow(0, 0, 1)?.flatten_all()?.to_vec1::<f64>()?;
//! // m·Δx = Δy, element by element
//! assert!((m[0] * (0.5 - 2.0) - (0.5f64.tanh() - 2f64.tanh())).abs() < 1e-12);
//! # Ok::<(), genolm::Error>(())
//! ```

use std::collections::BTreeMap;
use std::sync::Mutex;

use candle_core::{DType, Tensor, D};

use crate::Result;

/// An element-wise non-linearity with DeepLIFT's rescale rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Act {
    /// max(x, 0)
    Relu,
    /// GELU (erf form)
    Gelu,
    /// tanh
    Tanh,
    /// logistic σ
    Sigmoid,
    /// eˣ
    Exp,
    /// ln x
    Log,
    /// x²
    Sqr,
    /// 1/x
    Recip,
    /// (x + ε)^-½ (layer norm)
    Rsqrt(f64),
    /// x·σ(x)
    Silu,
}

impl Act {
    /// The function itself.
    pub fn apply(self, x: &Tensor) -> Result<Tensor> {
        Ok(match self {
            Act::Relu => x.relu()?,
            Act::Gelu => x.gelu_erf()?,
            Act::Tanh => x.tanh()?,
            Act::Sigmoid => candle_nn::ops::sigmoid(x)?,
            Act::Exp => x.exp()?,
            Act::Log => x.log()?,
            Act::Sqr => x.sqr()?,
            Act::Recip => x.recip()?,
            Act::Rsqrt(eps) => (x + eps)?.sqrt()?.recip()?,
            Act::Silu => candle_nn::ops::silu(x)?,
        })
    }
}

/// Smallest `|Δx|` divided by in the rescale rule (below it: the midpoint derivative).
const RESCALE_TOL: f64 = 1e-4;

/// The DeepLIFT context of one pass: `n` input/reference pairs (see the module docs).
#[derive(Debug)]
pub struct Lift {
    n: usize,
    residuals: Mutex<BTreeMap<String, f64>>,
}

impl Lift {
    /// A context for batches of `n` inputs followed by their `n` references.
    pub fn new(n: usize) -> Lift {
        Lift {
            n,
            residuals: Mutex::new(BTreeMap::new()),
        }
    }

    /// Number of input/reference pairs.
    pub fn pairs(&self) -> usize {
        self.n
    }

    /// The largest local residual `|Δy − m·Δx|` of each site's rule, over the input rows.
    pub fn residuals(&self) -> BTreeMap<String, f64> {
        self.residuals.lock().map(|r| r.clone()).unwrap_or_default()
    }

    fn record(&self, site: &str, r: &Tensor) -> Result<()> {
        let v = r
            .abs()?
            .flatten_all()?
            .max(0)?
            .to_dtype(DType::F64)?
            .to_scalar::<f64>()?;
        if let Ok(mut m) = self.residuals.lock() {
            let e = m.entry(site.to_string()).or_insert(0.0);
            if v > *e || v.is_nan() {
                *e = v;
            }
        }
        Ok(())
    }

    fn check(&self, x: &Tensor) -> Result<()> {
        if x.dim(0)? != 2 * self.n {
            return Err(crate::Error::Shape(format!(
                "a DeepLIFT pass needs {} rows (inputs then references); got {:?}",
                2 * self.n,
                x.dims()
            )));
        }
        Ok(())
    }

    /// `(input rows, reference rows)` of `x`.
    fn halves(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        self.check(x)?;
        Ok((x.narrow(0, 0, self.n)?, x.narrow(0, self.n, self.n)?))
    }

    /// A per-pair tensor for both halves.
    fn both(&self, m: &Tensor) -> Result<Tensor> {
        Ok(Tensor::cat(&[m, m], 0)?)
    }

    /// `f(x)` whose gradient is the rescale multiplier.
    pub fn act(&self, site: &str, x: &Tensor, f: Act) -> Result<Tensor> {
        let y = f.apply(x)?;
        let (xi, xr) = self.halves(&x.detach())?;
        let (yi, yr) = self.halves(&y.detach())?;
        let dx = (&xi - &xr)?;
        let dy = (&yi - &yr)?;
        // ReLU's secant is in [0, 1] at any Δx; smooth functions use the midpoint derivative
        // for tiny Δx (error O(Δx³)), where the secant would be mostly rounding.
        let small = if f == Act::Relu {
            dx.abs()?.le(0.0)?
        } else {
            dx.abs()?.lt(RESCALE_TOL)?
        };
        let safe = small.where_cond(&dx.ones_like()?, &dx)?;
        let secant = (&dy / &safe)?;
        // midpoint derivative by a central difference (only used where |Δx| is tiny)
        let mid = ((&xi + &xr)? * 0.5)?;
        let h = 1e-3;
        let deriv = ((f.apply(&(&mid + h)?)? - f.apply(&(&mid - h)?)?)? / (2.0 * h))?;
        let m = small.where_cond(&deriv, &secant)?;
        self.record(site, &(&dy - (&m * &dx)?)?)?;
        straight_through(&y, &[(&self.both(&m)?, x)])
    }

    /// `a ⊙ b` (broadcasting) with the Shapley split of the change.
    pub fn mul(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        let y = a.broadcast_mul(b)?;
        let abar = self.both(&self.mean_pair(a)?)?;
        let bbar = self.both(&self.mean_pair(b)?)?;
        let ga = bbar.broadcast_mul(&(a - a.detach())?)?;
        let gb = abar.broadcast_mul(&(b - b.detach())?)?;
        Ok(((y.detach() + ga)? + gb)?)
    }

    /// `a · b` (matrix product of two activations, batched) with the Shapley split.
    pub fn matmul(&self, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        let y = a.matmul(b)?;
        let abar = self.both(&self.mean_pair(a)?)?;
        let bbar = self.both(&self.mean_pair(b)?)?;
        let ga = (a - a.detach())?.matmul(&bbar)?;
        let gb = abar.matmul(&(b - b.detach())?)?;
        Ok(((y.detach() + ga)? + gb)?)
    }

    fn mean_pair(&self, x: &Tensor) -> Result<Tensor> {
        let (i, r) = self.halves(&x.detach())?;
        Ok(((i + r)? * 0.5)?)
    }

    /// The max over the last dimension shared by each input and its reference.
    fn shared_max(&self, x: &Tensor) -> Result<Tensor> {
        let (i, r) = self.halves(&x.detach())?;
        let m = i
            .max_keepdim(D::Minus1)?
            .maximum(&r.max_keepdim(D::Minus1)?)?;
        self.both(&m)
    }

    /// Softmax over the last dimension, composed of rescaled and Shapley-split parts.
    pub fn softmax(&self, site: &str, x: &Tensor) -> Result<Tensor> {
        let xs = x.broadcast_sub(&self.shared_max(x)?)?;
        let e = self.act(&format!("{site}.exp"), &xs, Act::Exp)?;
        let z = e.sum_keepdim(D::Minus1)?;
        let r = self.act(&format!("{site}.norm"), &z, Act::Recip)?;
        self.mul(&e, &r)
    }

    /// Log-softmax over the last dimension.
    pub fn log_softmax(&self, site: &str, x: &Tensor) -> Result<Tensor> {
        let xs = x.broadcast_sub(&self.shared_max(x)?)?;
        let e = self.act(&format!("{site}.exp"), &xs, Act::Exp)?;
        let z = e.sum_keepdim(D::Minus1)?;
        let l = self.act(&format!("{site}.log"), &z, Act::Log)?;
        Ok(xs.broadcast_sub(&l)?)
    }

    /// Layer normalisation over the last dimension.
    pub fn layer_norm(
        &self,
        site: &str,
        x: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
        eps: f64,
    ) -> Result<Tensor> {
        let dt = x.dtype();
        let xf = super::layers::upcast(x)?;
        let xc = xf.broadcast_sub(&xf.mean_keepdim(D::Minus1)?)?;
        let v = self
            .act(&format!("{site}.sq"), &xc, Act::Sqr)?
            .mean_keepdim(D::Minus1)?;
        let r = self.act(&format!("{site}.rsqrt"), &v, Act::Rsqrt(eps))?;
        let y = self.mul(&xc, &r)?;
        let y = y
            .broadcast_mul(&gamma.to_dtype(y.dtype())?)?
            .broadcast_add(&beta.to_dtype(y.dtype())?)?;
        Ok(y.to_dtype(dt)?)
    }

    /// The maximum over dimension 1 of `h: (rows, t, c)` (max pooling over time): the change
    /// is split between the input's and the reference's arg-max.
    pub fn max_over_time(&self, site: &str, h: &Tensor) -> Result<Tensor> {
        let y = h.max(1)?;
        let (hi, hr) = self.halves(&h.detach())?;
        let (n, t, c) = hi.dims3()?;
        let vi = hi.to_dtype(DType::F64)?.to_vec3::<f64>()?;
        let vr = hr.to_dtype(DType::F64)?.to_vec3::<f64>()?;
        let mut w = vec![0f64; n * t * c];
        for r in 0..n {
            for ch in 0..c {
                let arg = |v: &Vec<Vec<f64>>| {
                    (0..t).fold(0, |best, s| if v[s][ch] > v[best][ch] { s } else { best })
                };
                let j = arg(&vi[r]);
                let jr = arg(&vr[r]);
                let a = vi[r][j][ch] - vr[r][j][ch];
                let b = vi[r][jr][ch] - vr[r][jr][ch];
                let dy = vi[r][j][ch] - vr[r][jr][ch];
                let lam = if (a - b).abs() > 1e-12 {
                    ((dy - b) / (a - b)).clamp(0.0, 1.0)
                } else {
                    1.0
                };
                w[(r * t + j) * c + ch] += lam;
                w[(r * t + jr) * c + ch] += 1.0 - lam;
            }
        }
        let w = Tensor::from_vec(w, (n, t, c), h.device())?.to_dtype(h.dtype())?;
        let dh = (&hi - &hr)?;
        let dy = (y.narrow(0, 0, n)? - y.narrow(0, n, n)?)?;
        self.record(site, &(dy - (&w * &dh)?.sum(1)?)?)?;
        let w = self.both(&w)?;
        Ok((y.detach() + (w * (h - h.detach())?)?.sum(1)?)?)
    }
}

/// `f(x)`, through `lift`'s rescale rule in a DeepLIFT pass.
pub fn act(lift: Option<&Lift>, site: &str, x: &Tensor, f: Act) -> Result<Tensor> {
    match lift {
        Some(l) => l.act(site, x, f),
        None => f.apply(x),
    }
}

/// `a ⊙ b` (broadcasting), through `lift`'s Shapley rule in a DeepLIFT pass.
pub fn mul(lift: Option<&Lift>, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    match lift {
        Some(l) => l.mul(a, b),
        None => Ok(a.broadcast_mul(b)?),
    }
}

/// `y`'s value with the gradient `Σ m ⊙ ∂x` for each `(m, x)`.
fn straight_through(y: &Tensor, parts: &[(&Tensor, &Tensor)]) -> Result<Tensor> {
    let mut out = y.detach();
    for (m, x) in parts {
        out = (out + m.detach().broadcast_mul(&(*x - x.detach())?)?)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Summation-to-delta of `f` on a seeded random input/reference pair, in f64; also returns
    /// `|f(input) − f(reference)|` so a test can insist the pair is not degenerate.
    fn delta(f: impl Fn(&Lift, &Tensor) -> Result<Tensor>, dims: &[usize]) -> (f64, f64) {
        use rand::{Rng, SeedableRng};
        let dev = Device::Cpu;
        let mut d = vec![2];
        d.extend_from_slice(dims);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let n: usize = d.iter().product();
        let vals: Vec<f64> = (0..n).map(|_| rng.random_range(-2.0..2.0)).collect();
        let x = Tensor::from_vec(vals, d.as_slice(), &dev).unwrap();
        let v = Var::from_tensor(&x).unwrap();
        let lift = Lift::new(1);
        let y = f(&lift, v.as_tensor()).unwrap();
        let yi = y.narrow(0, 0, 1).unwrap().sum_all().unwrap();
        let yr = y.narrow(0, 1, 1).unwrap().sum_all().unwrap();
        let target = (yi.to_scalar::<f64>().unwrap() - yr.to_scalar::<f64>().unwrap()).abs();
        let g = yi.backward().unwrap();
        let g = g.get(v.as_tensor()).unwrap().narrow(0, 0, 1).unwrap();
        let dx = (x.narrow(0, 0, 1).unwrap() - x.narrow(0, 1, 1).unwrap()).unwrap();
        let total = (g * dx)
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        (
            (total - (yi.to_scalar::<f64>().unwrap() - yr.to_scalar::<f64>().unwrap())).abs(),
            target,
        )
    }

    #[test]
    fn every_rule_sums_to_delta() {
        for act in [
            Act::Relu,
            Act::Gelu,
            Act::Tanh,
            Act::Sigmoid,
            Act::Exp,
            Act::Silu,
            Act::Sqr,
        ] {
            let (err, _) = delta(|l, x| l.act("a", x, act), &[5, 3]);
            assert!(err < 1e-9, "{act:?}: {err}");
        }
        let (err, _) = delta(|l, x| l.act("a", &((x * 0.1)? + 2.0)?, Act::Log), &[4]);
        assert!(err < 1e-9);
        let (err, _) = delta(|l, x| l.act("a", &((x * 0.1)? + 2.0)?, Act::Recip), &[4]);
        assert!(err < 1e-9);
        let (err, _) = delta(
            |l, x| l.act("a", &((x * 0.1)? + 2.0)?, Act::Rsqrt(1e-5)),
            &[4],
        );
        assert!(err < 1e-9);
        let (err, _) = delta(
            |l, x| l.mul(&l.act("t", x, Act::Tanh)?, &l.act("e", x, Act::Exp)?),
            &[3, 4],
        );
        assert!(err < 1e-9, "mul {err}");
        let (err, _) = delta(|l, x| l.matmul(x, &x.t()?), &[4, 3]);
        assert!(err < 1e-9, "matmul {err}");
        let (err, d) = delta(
            |l, x| Ok(l.softmax("s", &(x * 1.5)?)?.narrow(1, 0, 1)?),
            &[5],
        );
        assert!(err < 1e-9 && d > 1e-3, "softmax {err} of {d}");
        let (err, _) = delta(|l, x| Ok(l.log_softmax("s", x)?.narrow(1, 2, 1)?), &[5]);
        assert!(err < 1e-9, "log_softmax {err}");
        let (err, d) = delta(
            |l, x| {
                let g = Tensor::new(&[1.5f64, -0.5, 2.0, 1.0], x.device())?;
                let b = Tensor::new(&[0.1f64, 0.2, -0.3, 0.0], x.device())?;
                Ok(l.layer_norm("ln", x, &g, &b, 1e-5)?.narrow(1, 1, 1)?)
            },
            &[4],
        );
        assert!(err < 1e-9 && d > 1e-3, "layer_norm {err} of {d}");
        let (err, d) = delta(|l, x| l.max_over_time("max", x), &[7, 3]);
        assert!(err < 1e-9 && d > 1e-3, "max {err} of {d}");
    }

    #[test]
    fn residuals_name_the_site() {
        let lift = Lift::new(1);
        let x = Tensor::new(&[[0.5f64, 1.0], [0.5, -1.0]], &Device::Cpu).unwrap();
        lift.act("layer.a", &x, Act::Gelu).unwrap();
        let r = lift.residuals();
        assert!(r["layer.a"] < 1e-6, "{r:?}");
        assert!(Lift::new(3).act("x", &x, Act::Relu).is_err());
    }
}
