//! AdamW with parameter groups: per-group learning rate and weight decay, decoupled decay
//! (Loshchilov & Hutter), global-norm gradient clipping, freezing by group, and a state that
//! can be saved and restored for resuming.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use genolm::models::{GenomicModel, ModelConfig, Mode};
//! use genolm::train::optim::{AdamW, AdamWOptions};
//! let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 0).unwrap();
//! let mut opt = AdamW::for_model(&model, 1e-3, AdamWOptions::default()).unwrap();
//! opt.set_discriminative(1e-3, 2.6);       // lower groups get lr / 2.6 per step down
//! opt.freeze_to(-1);                      // only the top group (head) trains
//! assert_eq!(opt.trainable_groups(), 1);
//! let x = Tensor::from_vec(vec![5u32, 9, 17, 33], (1, 4), &Device::Cpu).unwrap();
//! let y = Tensor::from_vec(vec![9u32, 17, 33, 40], (1, 4), &Device::Cpu).unwrap();
//! let out = model.forward(&x, None, Mode::Train { seed: 1 }).unwrap();
//! let (loss, _) = model.loss(&out, &y).unwrap();
//! let info = opt.step(&loss.backward().unwrap(), 1.0).unwrap();
//! assert!(info.grad_norm.is_finite());
//! ```

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor, Var};
use serde::{Deserialize, Serialize};

use crate::models::GenomicModel;
use crate::{Error, Result};

mod kernels;

use kernels::{cpu_sum_sq, fused_ok, Apply, Moment};

/// Optimizer hyper-parameters (seed 003 §5.1: β = (0.9, 0.99)).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdamWOptions {
    /// β1 (the schedule may override it as momentum).
    pub beta1: f64,
    /// β2.
    pub beta2: f64,
    /// ε.
    pub eps: f64,
    /// Decoupled weight decay (per group unless changed).
    pub weight_decay: f64,
    /// Clip the global gradient norm to this value (0 = off).
    pub clip: f64,
    /// Do not decay 1-D parameters (biases, norm gains).
    pub no_decay_1d: bool,
}

impl Default for AdamWOptions {
    fn default() -> Self {
        AdamWOptions {
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-6,
            weight_decay: 1e-2,
            clip: 1.0,
            no_decay_1d: true,
        }
    }
}

/// One parameter group.
#[derive(Debug, Clone)]
pub struct ParamGroup {
    /// Group name (a layer prefix such as `lstm.1`, or `head`).
    pub name: String,
    /// Learning rate.
    pub lr: f64,
    /// Weight decay.
    pub weight_decay: f64,
    /// Frozen groups are not updated.
    pub frozen: bool,
    vars: Vec<(String, Var)>,
}

impl ParamGroup {
    /// Names of the parameters in the group.
    pub fn names(&self) -> Vec<&str> {
        self.vars.iter().map(|(n, _)| n.as_str()).collect()
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepInfo {
    /// Global gradient norm (after unscaling, before clipping) over trainable parameters.
    pub grad_norm: f64,
    /// Whether the update was applied (false when gradients were not finite).
    pub applied: bool,
}

/// AdamW over parameter groups.
#[derive(Debug)]
pub struct AdamW {
    groups: Vec<ParamGroup>,
    opts: AdamWOptions,
    beta1: f64,
    step: usize,
    m: HashMap<String, Tensor>,
    v: HashMap<String, Tensor>,
}

impl AdamW {
    /// One group per entry of `groups` (`(name, [(param name, var)])`), all at `lr`.
    /// Also tunes the allocator for training ([`tune_allocator`](super::alloc::tune_allocator)).
    pub fn new(groups: Vec<(String, Vec<(String, Var)>)>, lr: f64, opts: AdamWOptions) -> Self {
        super::alloc::tune_allocator();
        let groups = groups
            .into_iter()
            .map(|(name, vars)| ParamGroup {
                name,
                lr,
                weight_decay: opts.weight_decay,
                frozen: false,
                vars,
            })
            .collect();
        AdamW {
            groups,
            beta1: opts.beta1,
            opts,
            step: 0,
            m: HashMap::new(),
            v: HashMap::new(),
        }
    }

    /// Groups from the model's [`layer_groups`](GenomicModel::layer_groups), bottom to top.
    pub fn for_model(model: &GenomicModel, lr: f64, opts: AdamWOptions) -> Result<Self> {
        let p = model.params();
        let groups = model
            .layer_groups()
            .into_iter()
            .map(|(g, names)| {
                let vars = names
                    .into_iter()
                    .map(|n| {
                        let v = p
                            .get(&n)
                            .expect("layer groups name model parameters")
                            .clone();
                        (n, v)
                    })
                    .collect();
                (g, vars)
            })
            .collect();
        Ok(Self::new(groups, lr, opts))
    }

    /// Point every group at `model`'s parameters of the same names (a rebuilt copy of the
    /// model the optimizer was made for); learning rates, freezing and moments are kept.
    pub fn rebind(&mut self, model: &GenomicModel) -> Result<()> {
        let p = model.params();
        for g in &mut self.groups {
            for (name, var) in &mut g.vars {
                *var = p
                    .get(name)
                    .ok_or_else(|| {
                        crate::Error::Config(format!("the model has no parameter {name}"))
                    })?
                    .clone();
            }
        }
        Ok(())
    }

    /// The groups, bottom to top.
    pub fn groups(&self) -> &[ParamGroup] {
        &self.groups
    }

    /// Steps taken.
    pub fn steps(&self) -> usize {
        self.step
    }

    /// The options.
    pub fn options(&self) -> &AdamWOptions {
        &self.opts
    }

    /// Set every group's learning rate.
    pub fn set_lr(&mut self, lr: f64) {
        for g in &mut self.groups {
            g.lr = lr;
        }
    }

    /// Discriminative learning rates (seed 003 §5.4): the top group gets `lr`, each group
    /// below gets the one above divided by `factor` (2.6 in ULMFiT).
    pub fn set_discriminative(&mut self, lr: f64, factor: f64) {
        let n = self.groups.len();
        for (i, g) in self.groups.iter_mut().enumerate() {
            g.lr = lr / factor.powi((n - 1 - i) as i32);
        }
    }

    /// Multiply every group's learning rate so that the top group's becomes `lr`, keeping the
    /// ratios between groups (how a schedule drives discriminative LRs).
    pub fn scale_to_top(&mut self, lr: f64) {
        let top = self.groups.last().map(|g| g.lr).unwrap_or(0.0);
        if top > 0.0 {
            let f = lr / top;
            for g in &mut self.groups {
                g.lr *= f;
            }
        } else {
            self.set_lr(lr);
        }
    }

    /// Learning rates per group, bottom to top.
    pub fn lrs(&self) -> Vec<f64> {
        self.groups.iter().map(|g| g.lr).collect()
    }

    /// Set β1 (momentum, driven by the one-cycle schedule).
    pub fn set_momentum(&mut self, beta1: f64) {
        self.beta1 = beta1;
    }

    /// fastai's `freeze_to(n)`: freeze the groups before index `n` (negative counts from the
    /// top: `freeze_to(-1)` trains only the head); `freeze_to(0)` unfreezes everything.
    pub fn freeze_to(&mut self, n: isize) {
        let len = self.groups.len() as isize;
        let cut = if n < 0 { (len + n).max(0) } else { n.min(len) } as usize;
        for (i, g) in self.groups.iter_mut().enumerate() {
            g.frozen = i < cut;
        }
    }

    /// Unfreeze all groups.
    pub fn unfreeze(&mut self) {
        self.freeze_to(0);
    }

    /// The parameters that train (of groups not frozen), in a fixed order.
    pub fn trainable_vars(&self) -> Vec<Var> {
        self.groups
            .iter()
            .filter(|g| !g.frozen)
            .flat_map(|g| g.vars.iter().map(|(_, v)| v.clone()))
            .collect()
    }

    /// Every parameter, frozen or not, in a fixed order.
    pub fn all_vars(&self) -> Vec<Var> {
        self.groups
            .iter()
            .flat_map(|g| g.vars.iter().map(|(_, v)| v.clone()))
            .collect()
    }

    /// Number of groups that train.
    pub fn trainable_groups(&self) -> usize {
        self.groups.iter().filter(|g| !g.frozen).count()
    }

    /// Global L2 norm of the gradients of the trainable parameters (times `inv_scale`).
    pub fn grad_norm(&self, grads: &GradStore, inv_scale: f64) -> Result<f64> {
        // Sum on the device and read back once (not once per parameter).
        let mut sq: Option<Tensor> = None;
        let mut host = 0f64; // sums read straight from CPU storage
        let grs: Vec<&Tensor> = self
            .groups
            .iter()
            .filter(|g| !g.frozen)
            .flat_map(|g| g.vars.iter().filter_map(|(_, v)| grads.get(v.as_tensor())))
            .collect();
        // Each tensor's sum is one sequential chain whatever thread runs it, and the sums are
        // added in parameter order below: the same bits as one loop over the tensors.
        let sums = crate::cpu::run_chunks(grs.clone(), |_, gr| cpu_sum_sq(gr));
        for (gr, s) in grs.into_iter().zip(sums) {
            if let Some(s) = s {
                host += s;
                continue;
            }
            let s = gr.to_dtype(DType::F64)?.sqr()?.sum_all()?;
            sq = Some(match sq {
                Some(acc) => (acc + s)?,
                None => s,
            });
        }
        let sq = host
            + match sq {
                Some(t) => t.to_scalar::<f64>()?,
                None => 0.0,
            };
        Ok(sq.sqrt() * inv_scale)
    }

    /// One AdamW step. `inv_scale` unscales gradients of a scaled loss (1.0 otherwise). When
    /// the gradient norm is not finite nothing is updated and `applied` is false.
    pub fn step(&mut self, grads: &GradStore, inv_scale: f64) -> Result<StepInfo> {
        let norm = self.grad_norm(grads, inv_scale)?;
        if !norm.is_finite() {
            return Ok(StepInfo {
                grad_norm: norm,
                applied: false,
            });
        }
        let clip = if self.opts.clip > 0.0 && norm > self.opts.clip {
            self.opts.clip / norm
        } else {
            1.0
        };
        let gscale = inv_scale * clip;
        self.step += 1;
        let t = self.step as i32;
        let (b1, b2, eps) = (self.beta1, self.opts.beta2, self.opts.eps);
        let bc1 = 1.0 - b1.powi(t);
        let bc2 = 1.0 - b2.powi(t);
        for g in self.groups.iter().filter(|g| !g.frozen) {
            for (name, var) in &g.vars {
                let Some(gr) = grads.get(var.as_tensor()) else {
                    continue;
                };
                let w = var.as_tensor();
                let decay = if self.opts.no_decay_1d && w.rank() <= 1 {
                    0.0
                } else {
                    g.weight_decay
                };
                // CPU: three in-place passes, no temporaries, when the gradient and the
                // moments (absent before the first step) fit; the tensor ops below otherwise.
                let fused = if fused_ok(w, gr) {
                    match (self.m.get(name), self.v.get(name)) {
                        (None, None) => Some((w.zeros_like()?, w.zeros_like()?)),
                        (Some(m), Some(v)) if fused_ok(w, m) && fused_ok(w, v) => {
                            Some((m.clone(), v.clone()))
                        }
                        _ => None,
                    }
                } else {
                    None
                };
                if let Some((m, v)) = fused {
                    m.inplace_op2(
                        gr,
                        &Moment {
                            beta: b1,
                            scale: gscale,
                            square: false,
                        },
                    )?;
                    v.inplace_op2(
                        gr,
                        &Moment {
                            beta: b2,
                            scale: gscale,
                            square: true,
                        },
                    )?;
                    w.inplace_op3(
                        &m,
                        &v,
                        &Apply {
                            lr: g.lr,
                            decay,
                            bc1,
                            bc2,
                            eps,
                        },
                    )?;
                    self.m.insert(name.clone(), m);
                    self.v.insert(name.clone(), v);
                    continue;
                }
                let dt = var.dtype();
                let gr = (gr.to_dtype(dt)? * gscale)?;
                let m = match self.m.get(name) {
                    Some(m) => ((m * b1)? + (&gr * (1.0 - b1))?)?,
                    None => (&gr * (1.0 - b1))?,
                };
                let v = match self.v.get(name) {
                    Some(v) => ((v * b2)? + (gr.sqr()? * (1.0 - b2))?)?,
                    None => (gr.sqr()? * (1.0 - b2))?,
                };
                let w = w.detach();
                let w = if decay > 0.0 {
                    (w * (1.0 - g.lr * decay))?
                } else {
                    w
                };
                let upd = ((&m / bc1)? / ((&v / bc2)?.sqrt()? + eps)?)?;
                let w = (w - (upd * g.lr)?)?;
                var.set(&w)?;
                self.m.insert(name.clone(), m);
                self.v.insert(name.clone(), v);
            }
        }
        Ok(StepInfo {
            grad_norm: norm,
            applied: true,
        })
    }

    /// The moment estimates as named tensors (`m.<param>`, `v.<param>`) for a checkpoint:
    /// copies, since the optimizer updates its moments in place.
    pub fn state_tensors(&self) -> Result<Vec<(String, Tensor)>> {
        let mut out: Vec<(String, Tensor)> = Vec::new();
        for g in &self.groups {
            for (n, _) in &g.vars {
                if let (Some(m), Some(v)) = (self.m.get(n), self.v.get(n)) {
                    out.push((format!("m.{n}"), m.copy()?));
                    out.push((format!("v.{n}"), v.copy()?));
                }
            }
        }
        Ok(out)
    }

    /// Restore the moments and the step count written by [`state_tensors`](Self::state_tensors).
    pub fn load_state(&mut self, tensors: &HashMap<String, Tensor>, step: usize) -> Result<()> {
        for (k, t) in tensors {
            // Own copies: the moments are updated in place, the caller keeps its tensors.
            if let Some(n) = k.strip_prefix("m.") {
                self.m.insert(n.to_string(), t.copy()?);
            } else if let Some(n) = k.strip_prefix("v.") {
                self.v.insert(n.to_string(), t.copy()?);
            } else {
                return Err(Error::Input(format!("unexpected optimizer tensor {k}")));
            }
        }
        self.step = step;
        Ok(())
    }

    /// Per-group settings (name, lr, weight decay, frozen) for reports and checkpoints.
    pub fn describe(&self) -> Vec<(String, f64, f64, bool)> {
        self.groups
            .iter()
            .map(|g| (g.name.clone(), g.lr, g.weight_decay, g.frozen))
            .collect()
    }

    /// Restore per-group settings written by [`describe`](Self::describe) (matched by name).
    pub fn apply_description(&mut self, d: &[(String, f64, f64, bool)]) {
        for (name, lr, wd, frozen) in d {
            if let Some(g) = self.groups.iter_mut().find(|g| &g.name == name) {
                g.lr = *lr;
                g.weight_decay = *wd;
                g.frozen = *frozen;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    /// One AdamW step on a scalar matches the closed form.
    #[test]
    fn adamw_matches_hand_computation() {
        let w = Var::new(&[2.0f64], &Device::Cpu).unwrap();
        let opts = AdamWOptions {
            weight_decay: 0.1,
            clip: 0.0,
            no_decay_1d: false,
            ..Default::default()
        };
        let mut opt = AdamW::new(
            vec![("g".into(), vec![("w".into(), w.clone())])],
            0.01,
            opts,
        );
        // loss = w², gradient 4.
        let loss = w.as_tensor().sqr().unwrap().sum_all().unwrap();
        opt.step(&loss.backward().unwrap(), 1.0).unwrap();
        // m̂ = 4, v̂ = 16 → update = 4 / (4 + eps) ≈ 1; decay: 2 · (1 − 0.01·0.1).
        let expect = 2.0 * (1.0 - 0.001) - 0.01 * 4.0 / (4.0 + 1e-6);
        let got = w.as_tensor().to_vec1::<f64>().unwrap()[0];
        assert!((got - expect).abs() < 1e-12, "{got} vs {expect}");
        // Frozen groups do not move.
        opt.freeze_to(1);
        let loss = w.as_tensor().sqr().unwrap().sum_all().unwrap();
        opt.step(&loss.backward().unwrap(), 1.0).unwrap();
        assert_eq!(w.as_tensor().to_vec1::<f64>().unwrap()[0], got);
    }

    /// The fused in-place CPU update follows the AdamW formulas over several steps (f32,
    /// decay, clipping, a 1-D parameter without decay), and saved moments are snapshots.
    #[test]
    fn fused_update_matches_formulas() {
        let w0 = [0.5f32, -1.0, 2.0, 0.25, -0.75, 1.5];
        let b0 = [0.1f32, -0.2];
        let w = Var::new(&w0, &Device::Cpu).unwrap();
        let w = Var::from_tensor(&w.as_tensor().reshape((3, 2)).unwrap()).unwrap();
        let b = Var::new(&b0, &Device::Cpu).unwrap();
        let opts = AdamWOptions {
            clip: 0.5,
            ..Default::default()
        };
        let lr = 0.05;
        let mut opt = AdamW::new(
            vec![(
                "g".into(),
                vec![("w".into(), w.clone()), ("b".into(), b.clone())],
            )],
            lr,
            opts,
        );
        let (mut rw, mut rb) = (w0.map(f64::from).to_vec(), b0.map(f64::from).to_vec());
        let (mut mw, mut vw, mut mb, mut vb) =
            (vec![0.0; 6], vec![0.0; 6], vec![0.0; 2], vec![0.0; 2]);
        let mut saved = None;
        for t in 1..=4 {
            // loss = Σ w³ + Σ b²: gradients 3w², 2b.
            let loss = (w.as_tensor().powf(3.0).unwrap().sum_all().unwrap()
                + b.as_tensor().sqr().unwrap().sum_all().unwrap())
            .unwrap();
            let info = opt.step(&loss.backward().unwrap(), 1.0).unwrap();
            let gw: Vec<f64> = rw.iter().map(|x| 3.0 * x * x).collect();
            let gb: Vec<f64> = rb.iter().map(|x| 2.0 * x).collect();
            let norm = gw.iter().chain(&gb).map(|g| g * g).sum::<f64>().sqrt();
            assert!(
                (info.grad_norm - norm).abs() < 1e-4 * norm,
                "{} vs {norm}",
                info.grad_norm
            );
            let c = if norm > 0.5 { 0.5 / norm } else { 1.0 };
            let (bc1, bc2) = (1.0 - 0.9f64.powi(t), 1.0 - 0.99f64.powi(t));
            for (x, m, v, g, decay) in [
                (&mut rw, &mut mw, &mut vw, &gw, 0.01),
                (&mut rb, &mut mb, &mut vb, &gb, 0.0),
            ] {
                for i in 0..x.len() {
                    let g = g[i] * c;
                    m[i] = 0.9 * m[i] + 0.1 * g;
                    v[i] = 0.99 * v[i] + 0.01 * g * g;
                    x[i] = x[i] * (1.0 - lr * decay)
                        - lr * (m[i] / bc1) / ((v[i] / bc2).sqrt() + 1e-6);
                }
            }
            let got: Vec<f32> = w.as_tensor().flatten_all().unwrap().to_vec1().unwrap();
            for (a, e) in got.iter().zip(&rw) {
                assert!((*a as f64 - e).abs() < 1e-5, "step {t}: {a} vs {e}");
            }
            let got: Vec<f32> = b.as_tensor().to_vec1().unwrap();
            for (a, e) in got.iter().zip(&rb) {
                assert!((*a as f64 - e).abs() < 1e-5, "step {t}: {a} vs {e}");
            }
            if t == 2 {
                saved = Some(opt.state_tensors().unwrap());
            }
        }
        // The moments saved at step 2 did not move with steps 3 and 4.
        let saved = saved.unwrap();
        let (_, m_b) = saved.iter().find(|(k, _)| k == "m.b").unwrap();
        let now: Vec<f32> = opt.m["b"].to_vec1().unwrap();
        assert_ne!(m_b.to_vec1::<f32>().unwrap(), now);
    }

    #[test]
    fn clipping_and_nonfinite() {
        let w = Var::new(&[1.0f32, 1.0], &Device::Cpu).unwrap();
        let mut opt = AdamW::new(
            vec![("g".into(), vec![("w".into(), w.clone())])],
            0.1,
            AdamWOptions::default(),
        );
        let loss = (w.as_tensor() * 1e30)
            .unwrap()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap();
        let info = opt.step(&loss.backward().unwrap(), 1.0).unwrap();
        assert!(!info.applied);
        assert_eq!(w.as_tensor().to_vec1::<f32>().unwrap(), vec![1.0, 1.0]);
    }
}
