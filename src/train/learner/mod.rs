//! The [`Learner`]: the training loop with schedules, callbacks, a NaN/Inf guard, progress
//! display, checkpoints after every epoch and exact resume.
//!
//! ```
//! use candle_core::Device;
//! use genolm::data::batch::LmBatcher;
//! use genolm::models::{GenomicModel, ModelConfig};
//! use genolm::train::{Data, Learner, LearnerOptions};
//! // Tokens of a periodic toy sequence: a model must learn the period.
//! let ids: Vec<u32> = (0..4000).map(|i| 5 + (i % 7) as u32).collect();
//! let train = LmBatcher::new(vec![ids.clone()], 4, 16, false, 0).unwrap();
//! let valid = LmBatcher::new(vec![ids], 4, 16, false, 1).unwrap();
//! let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 0).unwrap();
//! let opts = LearnerOptions { verbose: false, ..Default::default() };
//! let mut learn = Learner::new(model, Data::Lm(train), Some(Data::Lm(valid)), opts).unwrap();
//! let hist = learn.fit_one_cycle(3, 2e-2).unwrap();
//! // Below ln 7 = 1.95, the loss of knowing only which 7 tokens occur.
//! let v = hist.last().unwrap().valid_loss.unwrap();
//! assert!(v < 1.5, "{v}");
//! ```

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use candle_core::{DType, Device};
use serde::{Deserialize, Serialize};

use super::best::BestTracker;
pub use super::callbacks::{Callback, Control, EarlyStopping};
use super::data::HostBatch;
pub use super::data::{Data, ShortEpochs};
use super::dist::{self, Collective};
use super::history::Smoother;
pub use super::history::{EpochRecord, History, StepRecord};
pub use super::lr_find::LrFinder;
use super::metrics_log::MetricsLog;
use super::optim::{AdamW, AdamWOptions};
use super::schedule::Schedule;
use crate::models::layers::ClassBalance;
use crate::models::{GenomicModel, Mode, RnnState};
use crate::{Error, Result};

mod eval;

use eval::carry_state;
pub use eval::{evaluate, evaluate_with, predict_proba, EvalResult};

/// Numeric precision of training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// bf16 on a GPU, f32 on CPU.
    #[default]
    Auto,
    /// f32 everywhere.
    F32,
    /// bf16 activations, f32 master weights (GPU).
    Bf16,
    /// f16 activations with dynamic loss scaling and f32 master weights (GPU).
    F16,
}

impl Precision {
    /// The activation dtype this precision uses on `device` (always f32 on CPU).
    pub fn compute_dtype(self, device: &Device) -> DType {
        if device.is_cpu() {
            return DType::F32;
        }
        match self {
            Precision::Auto | Precision::Bf16 => DType::BF16,
            Precision::F16 => DType::F16,
            Precision::F32 => DType::F32,
        }
    }
}

/// Options of a [`Learner`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LearnerOptions {
    /// Seed of dropout masks (batch order comes from the batchers' own seeds).
    pub seed: u64,
    /// Optimizer settings.
    pub adamw: AdamWOptions,
    /// Numeric precision.
    pub precision: Precision,
    /// Use at most this many training batches per epoch (0 = all).
    pub max_batches: usize,
    /// What an epoch cut short by `max_batches` takes: the next slice of the pass (the
    /// default) or the first batches of a new order ([`ShortEpochs`]). Read as `restart`
    /// when missing, so a run checkpointed before 2026-12-05 resumes as it began.
    #[serde(default = "restart")]
    pub short_epochs: ShortEpochs,
    /// Use at most this many validation batches (0 = all).
    pub valid_max_batches: usize,
    /// Write a checkpoint here after every epoch (None = no checkpoints).
    pub checkpoint_dir: Option<PathBuf>,
    /// Show progress (a bar in a terminal, a line or an HTML row per epoch otherwise).
    pub verbose: bool,
    /// Append every step and epoch to `metrics.jsonl` and TensorBoard events here
    /// ([`metrics_log`](super::metrics_log); `genolm train` uses the run folder).
    pub log_dir: Option<PathBuf>,
    /// How a classifier's cross-entropy treats unequal classes, in training, the LR range
    /// test and validation (`None`: plain cross-entropy, every item the same).
    /// [`classify`](crate::train::recipes::classify) sets it from the training labels with
    /// [`ClassifyOptions::balanced`](crate::train::recipes::ClassifyOptions::balanced).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_balance: Option<ClassBalance>,
}

fn restart() -> ShortEpochs {
    ShortEpochs::Restart
}

impl Default for LearnerOptions {
    fn default() -> Self {
        LearnerOptions {
            seed: 42,
            adamw: AdamWOptions::default(),
            precision: Precision::Auto,
            max_batches: 0,
            short_epochs: ShortEpochs::Continue,
            valid_max_batches: 0,
            checkpoint_dir: None,
            verbose: true,
            log_dir: None,
            class_balance: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct FitState {
    pub(super) stage: String,
    pub(super) epochs: usize,
    pub(super) schedule: Schedule,
    pub(super) next_epoch: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct CheckpointState {
    pub(super) genolm_version: String,
    pub(super) step: usize,
    pub(super) fit: Option<FitState>,
    pub(super) history: History,
    pub(super) options: LearnerOptions,
    pub(super) groups: Vec<(String, f64, f64, bool)>,
    pub(super) loss_scale: f64,
    #[serde(default)]
    pub(super) steps: Vec<StepRecord>,
    #[serde(default)]
    pub(super) smoother: Smoother,
}

pub(super) fn mix(seed: u64, step: u64) -> u64 {
    let mut z = seed ^ step.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The training loop around a [`GenomicModel`].
pub struct Learner {
    /// The model being trained.
    pub model: GenomicModel,
    /// Its optimizer.
    pub opt: AdamW,
    pub(super) train: Data,
    pub(super) valid: Option<Data>,
    pub(super) opts: LearnerOptions,
    pub(super) callbacks: Vec<Box<dyn Callback>>,
    /// Every epoch so far.
    pub history: History,
    pub(super) fit_state: Option<FitState>,
    pub(super) last_checkpoint: Option<PathBuf>,
    pub(super) loss_scale: f64,
    pub(super) good_steps: usize,
    pub(super) stage: String,
    pub(super) deadline: Option<Instant>,
    pub(super) smoother: Smoother,
    pub(super) metrics: Option<MetricsLog>,
    pub(super) collective: Option<Arc<dyn Collective>>,
    pub(super) best: Option<BestTracker>,
}

impl std::fmt::Debug for Learner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Learner")
            .field("model", &self.model)
            .field("steps", &self.opt.steps())
            .field("epochs", &self.history.len())
            .finish()
    }
}

impl Learner {
    /// A learner for `model` on `train` (and `valid`) data. The data's head must match the
    /// model's (LM data for an LM head, and so on).
    pub fn new(
        mut model: GenomicModel,
        train: Data,
        valid: Option<Data>,
        opts: LearnerOptions,
    ) -> Result<Self> {
        // Train a fresh copy whose tensors come from this code's copy of candle: in a notebook,
        // the model may come from an earlier cell (see GenomicModel::rebuilt); `fit` and
        // `lr_find` rebuild again, so a learner made in one cell trains in the next.
        model = model.rebuilt()?;
        let head = model.config().head;
        for d in std::iter::once(&train).chain(valid.as_ref()) {
            if d.head() != head {
                return Err(Error::Config(format!(
                    "the model has a {head:?} head but the data is for {:?}",
                    d.head()
                )));
            }
        }
        let dt = opts.precision.compute_dtype(model.device());
        model.set_compute_dtype(dt);
        let opt = AdamW::for_model(&model, 1e-3, opts.adamw)?;
        let loss_scale = if dt == DType::F16 { 65536.0 } else { 1.0 };
        Ok(Learner {
            model,
            opt,
            train,
            valid,
            opts,
            callbacks: Vec::new(),
            history: History::default(),
            fit_state: None,
            last_checkpoint: None,
            loss_scale,
            good_steps: 0,
            stage: "fit".into(),
            deadline: None,
            smoother: Smoother::default(),
            metrics: None,
            collective: None,
            best: None,
        })
    }

    /// Train data-parallel with the other ranks of `c` ([`dist`]): this rank
    /// trains on its rows of every batch, gradients are averaged across ranks before each
    /// step, and only rank 0 writes checkpoints, logs and progress.
    pub fn set_collective(&mut self, c: Arc<dyn Collective>) {
        self.collective = (c.world_size() > 1).then_some(c);
    }

    /// `(rank, world size)`: `(0, 1)` unless training data-parallel.
    pub fn rank(&self) -> (usize, usize) {
        self.collective
            .as_ref()
            .map_or((0, 1), |c| (c.rank(), c.world_size()))
    }

    /// evcxr display: the training curves so far (per step, smoothed, validation per epoch)
    /// and the epoch table, so a cell ending in `learn` shows where training stands.
    pub fn evcxr_display(&self) {
        self.history.evcxr_display();
    }

    /// Make the model's tensors anew in the code that is running now (same weights, buffers,
    /// optimizer moments and settings). In an evcxr notebook every cell links its own copy of
    /// candle, whose tensor ids come from a per-copy counter; a learner made in one cell and
    /// trained in the next would mix ids from two counters in one backward pass ("shape
    /// mismatch in add"). `fit` and `lr_find` call this first, so the natural way — make the
    /// learner in one cell, train it in later ones — works. Costs one copy of the weights.
    pub(super) fn adopt(&mut self) -> Result<()> {
        let dt = self.model.compute_dtype();
        self.model = self.model.rebuilt()?;
        self.model.set_compute_dtype(dt);
        self.opt.rebind(&self.model)
    }

    /// Add a callback.
    pub fn add_callback(&mut self, cb: Box<dyn Callback>) {
        self.callbacks.push(cb);
    }

    /// The options.
    pub fn options(&self) -> &LearnerOptions {
        &self.opts
    }

    /// Change where checkpoints go (None: no checkpoints).
    pub fn set_checkpoint_dir(&mut self, dir: Option<PathBuf>) {
        self.opts.checkpoint_dir = dir;
    }

    /// Use at most `n` training batches per epoch (0 = all).
    pub fn set_max_batches(&mut self, n: usize) {
        self.opts.max_batches = n;
    }

    /// Label the next fits in the history (recipes name their stages).
    pub fn set_stage(&mut self, stage: impl Into<String>) {
        self.stage = stage.into();
    }

    /// The last checkpoint written.
    pub fn last_checkpoint(&self) -> Option<&Path> {
        self.last_checkpoint.as_deref()
    }

    /// Replace the training and validation data (ULMFiT moves from the general corpus to the
    /// task corpus with the same model).
    pub fn set_data(&mut self, train: Data, valid: Option<Data>) {
        self.train = train;
        self.valid = valid;
    }

    pub(super) fn train_batches(&self, epoch: usize) -> Vec<HostBatch> {
        self.train_iter(epoch).collect()
    }

    /// One epoch's training batches, made as they are taken (at most `max_batches`).
    pub(super) fn train_iter(&self, epoch: usize) -> impl ExactSizeIterator<Item = HostBatch> + '_ {
        self.train
            .iter_max(epoch as u64, self.opts.max_batches, self.opts.short_epochs)
    }

    /// One-cycle training for `epochs` with peak LR `lr_max` (the top group's; lower
    /// groups keep their ratios, so discriminative LRs set with
    /// [`AdamW::set_discriminative`] follow the cycle).
    pub fn fit_one_cycle(&mut self, epochs: usize, lr_max: f64) -> Result<History> {
        self.fit(epochs, Schedule::OneCycle { lr_max })
    }

    /// Train in chunks of about `seconds` (whole epochs): runs epochs of the fit `epochs` ×
    /// `schedule` until the time is spent, and returns `true` once the fit is finished. Call it
    /// again (in the next notebook cell, or after [`resume`](Self::resume) in a new session)
    /// to continue; the result equals one uninterrupted [`fit`](Self::fit). Notebooks use this
    /// because interrupting a running evcxr cell is unreliable.
    ///
    /// ```no_run
    /// # fn demo(learner: &mut genolm::train::Learner) -> genolm::Result<()> {
    /// use genolm::train::Schedule;
    /// while !learner.fit_for(8, Schedule::OneCycle { lr_max: 3e-3 }, 60.0)? {
    ///     println!("{} epochs so far", learner.history.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn fit_for(&mut self, epochs: usize, schedule: Schedule, seconds: f64) -> Result<bool> {
        self.deadline = Some(Instant::now() + Duration::from_secs_f64(seconds.max(0.0)));
        let r = self.fit(epochs, schedule);
        self.deadline = None;
        r?;
        Ok(self.fit_state.is_none())
    }

    /// Train for `epochs` under `schedule`; returns this fit's epochs and steps (which are
    /// also appended to [`history`](Self::history), and to `metrics.jsonl` when
    /// [`LearnerOptions::log_dir`] is set). After [`resume`](Self::resume), a call with the
    /// same arguments continues the interrupted fit at its next epoch.
    pub fn fit(&mut self, epochs: usize, schedule: Schedule) -> Result<History> {
        self.adopt()?;
        let (rank, world) = self.rank();
        let lead = rank == 0;
        if let Some(c) = &self.collective {
            dist::broadcast_params(c.as_ref(), &self.opt.all_vars())?;
        }
        let start = match &self.fit_state {
            Some(f) if f.epochs == epochs && f.schedule == schedule && f.stage == self.stage => {
                f.next_epoch
            }
            _ => 0,
        };
        // The schedule counts epoch 0's batches.
        let n_batches = self.train_iter(0).len().max(1);
        let total = (epochs * n_batches) as f64;
        let dev = self.model.device().clone();
        let balance = self.opts.class_balance.clone();
        let is_cls = matches!(self.train, Data::Cls(_));
        let stateful = self.train.stateful() && self.model.config().lstm_layers > 0;
        let mut new_records = History::default();
        if self.metrics.is_none() && lead {
            if let Some(dir) = &self.opts.log_dir {
                self.metrics = Some(MetricsLog::open(dir, self.opt.steps())?);
            }
        }
        if self.opt.groups().last().map(|g| g.lr).unwrap_or(0.0) <= 0.0 {
            self.opt.set_lr(1e-3);
        }
        if let Some(b) = &mut self.best {
            b.start_fit();
        }
        for epoch in start..epochs {
            let t0 = Instant::now();
            // a handle on the data (streams are shared, not copied) so that batches are made
            // as the loop takes them while the loop updates the learner
            let data = self.train.clone();
            let batches =
                data.iter_max(epoch as u64, self.opts.max_batches, self.opts.short_epochs);
            let bar = self.progress_bar(batches.len(), epoch, epochs, lead);
            let mut state: Option<RnnState> = None;
            let (mut sum_loss, mut n_loss) = (0f64, 0f64);
            let mut units = 0usize;
            let mut lr_now = 0.0;
            for (i, global) in batches.enumerate() {
                let global = &global;
                let t_step = Instant::now();
                let mine;
                let hb = if world > 1 {
                    mine = dist::shard_rows(global, rank, world);
                    &mine
                } else {
                    global
                };
                let pct = (epoch * n_batches + i) as f64 / total;
                let (lr, mom) = schedule.at(pct);
                self.opt.scale_to_top(lr);
                self.opt.set_momentum(mom);
                lr_now = lr;
                let (x, y) = hb.tensors(&dev)?;
                if stateful {
                    state = carry_state(state, &hb.reset)?;
                }
                let step = self.opt.steps();
                // ranks draw different dropout masks for their rows
                let seed = match rank {
                    0 => mix(self.opts.seed, step as u64),
                    r => mix(mix(self.opts.seed, step as u64), r as u64),
                };
                let out = self
                    .model
                    .forward(&x, state.as_ref(), Mode::Train { seed })?;
                let (loss, ce) = self.model.loss_balanced(&out, &y, balance.as_ref())?;
                let ce_v = ce.to_dtype(DType::F64)?.to_scalar::<f64>()?;
                let loss_v = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
                let scaled = if self.loss_scale != 1.0 {
                    (loss * self.loss_scale)?
                } else {
                    loss
                };
                let mut grads = scaled.backward()?;
                // data-parallel: the target-weighted mean over ranks of gradients and losses
                let (ce_v, loss_v, n_targets) = match &self.collective {
                    Some(c) => {
                        let params: Vec<_> = self
                            .opt
                            .trainable_vars()
                            .iter()
                            .map(|v| v.as_tensor().clone())
                            .collect();
                        let w = hb.n_targets() as f64;
                        let r = dist::reduce_gradients(
                            c.as_ref(),
                            &params,
                            &mut grads,
                            w,
                            &[ce_v, loss_v],
                        )?;
                        (r[0], r[1], r[2])
                    }
                    None => (ce_v, loss_v, hb.n_targets() as f64),
                };
                if !loss_v.is_finite() {
                    if let Some(b) = &bar {
                        b.abandon();
                    }
                    return Err(Error::Training {
                        epoch,
                        step,
                        msg: format!(
                            "the loss became {loss_v} (cross-entropy {ce_v}); the weights were \
                             not updated. Lower the learning rate (it was {lr:.3e}) or the \
                             gradient-clipping threshold"
                        ),
                        checkpoint: self.last_checkpoint.clone(),
                    });
                }
                let info = self.opt.step(&grads, 1.0 / self.loss_scale)?;
                if !info.applied {
                    if self.loss_scale > 1.0 {
                        // f16 overflow: skip this step and halve the scale.
                        self.loss_scale /= 2.0;
                        self.good_steps = 0;
                    } else {
                        return Err(Error::Training {
                            epoch,
                            step,
                            msg: format!(
                                "the gradient norm became {} at loss {loss_v:.4}; the weights \
                                 were not updated",
                                info.grad_norm
                            ),
                            checkpoint: self.last_checkpoint.clone(),
                        });
                    }
                } else if self.loss_scale > 1.0 {
                    self.good_steps += 1;
                    if self.good_steps.is_multiple_of(1000) {
                        self.loss_scale *= 2.0;
                    }
                }
                if stateful {
                    state = out.state;
                }
                sum_loss += ce_v * n_targets;
                n_loss += n_targets;
                let step_units = if is_cls {
                    global.batch
                } else {
                    global.batch * global.seq_len
                };
                units += step_units;
                let rec = StepRecord {
                    step: self.opt.steps(),
                    epoch,
                    stage: self.stage.clone(),
                    loss: ce_v,
                    smooth_loss: self.smoother.add(ce_v),
                    lr,
                    momentum: mom,
                    grad_norm: info.grad_norm,
                    targets: n_targets as usize,
                    units_per_s: step_units as f64 / t_step.elapsed().as_secs_f64().max(1e-9),
                    rss_mib: crate::cpu::rss_mib(),
                    time: super::tensorboard::unix_now(),
                };
                if let Some(m) = &mut self.metrics {
                    m.step(&rec)?;
                }
                self.history.push_step(rec.clone());
                new_records.push_step(rec);
                if let Some(b) = &bar {
                    b.inc(1);
                    b.set_message(format!("loss {:.4}", sum_loss / n_loss.max(1.0)));
                }
                let mut stop = false;
                for cb in &mut self.callbacks {
                    stop |= cb.on_batch_end(step + 1, ce_v) == Control::Stop;
                }
                if stop {
                    break;
                }
            }
            let train_secs = t0.elapsed().as_secs_f64();
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            let (valid_loss, valid_accuracy) = match &self.valid {
                Some(v) => {
                    let r = self.evaluate(v)?;
                    (Some(r.loss), Some(r.accuracy))
                }
                None => (None, None),
            };
            let rec = EpochRecord {
                epoch,
                stage: self.stage.clone(),
                train_loss: sum_loss / n_loss.max(1.0),
                valid_loss,
                valid_accuracy,
                lr: lr_now,
                seconds: t0.elapsed().as_secs_f64(),
                train_throughput: units as f64 / train_secs.max(1e-9),
                step: self.opt.steps(),
            };
            self.report(&rec, epochs);
            if let Some(m) = &mut self.metrics {
                m.epoch(&rec)?;
            }
            self.history.push(rec.clone());
            new_records.push(rec.clone());
            self.fit_state = Some(FitState {
                stage: self.stage.clone(),
                epochs,
                schedule,
                next_epoch: epoch + 1,
            });
            if let Some(dir) = self.opts.checkpoint_dir.clone().filter(|_| lead) {
                self.save_checkpoint(&dir)?;
            }
            let mut stop = false;
            for cb in &mut self.callbacks {
                stop |= cb.on_epoch_end(&rec, &self.history) == Control::Stop;
            }
            if let (Some(b), Some(v)) = (&mut self.best, rec.valid_loss) {
                let at = self.history.len() - 1;
                stop |= b.observe(v, at, &rec.stage, &self.model) == Control::Stop;
            }
            if stop {
                break;
            }
            let mut time_up = self.deadline.is_some_and(|d| Instant::now() >= d);
            if let Some(c) = &self.collective {
                // rank 0's clock decides for everyone
                time_up = c.sum(&[if lead && time_up { 1.0 } else { 0.0 }])?[0] > 0.0;
            }
            if epoch + 1 < epochs && time_up {
                // time is up: keep the fit state so the next call continues here
                return Ok(new_records);
            }
        }
        self.fit_state = None;
        Ok(new_records)
    }

    fn progress_bar(
        &self,
        n: usize,
        epoch: usize,
        epochs: usize,
        lead: bool,
    ) -> Option<indicatif::ProgressBar> {
        if !lead || !self.opts.verbose || !std::io::stderr().is_terminal() {
            return None;
        }
        let b = indicatif::ProgressBar::new(n as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} {msg} ({eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b.set_prefix(format!("epoch {}/{}", epoch + 1, epochs));
        Some(b)
    }

    fn report(&self, r: &EpochRecord, epochs: usize) {
        if !self.opts.verbose || self.rank().0 != 0 {
            return;
        }
        let fmt = |o: Option<f64>| o.map(|v| format!("{v:.4}")).unwrap_or_else(|| "-".into());
        // One plain line per epoch everywhere: in evcxr, stdout streams into the notebook while
        // the cell runs (rich content is only shown when the cell ends, and one per type).
        println!(
            "{:<12} epoch {}/{}  train_loss {:.4}  valid_loss {}  valid_acc {}  lr {:.2e}  {:.1} s  {:.0}/s",
            r.stage,
            r.epoch + 1,
            epochs,
            r.train_loss,
            fmt(r.valid_loss),
            fmt(r.valid_accuracy),
            r.lr,
            r.seconds,
            r.train_throughput
        );
    }

    /// Cross-entropy and accuracy of the model on `data` (evaluation mode; stateful LM data
    /// carries the LSTM state across batches).
    pub fn evaluate(&self, data: &Data) -> Result<EvalResult> {
        eval::evaluate_weighted(
            &self.model,
            data,
            self.opts.valid_max_batches,
            self.collective.as_deref(),
            self.opts.class_balance.as_ref(),
        )
    }
}
