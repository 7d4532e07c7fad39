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

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use candle_core::{DType, Device, Tensor, D};
use serde::{Deserialize, Serialize};

pub use super::history::{EpochRecord, History};
use super::optim::{AdamW, AdamWOptions};
use super::schedule::Schedule;
use crate::data::batch::{ClassificationBatcher, LmBatcher, MlmBatcher};
use crate::fsio::atomic_write;
use crate::models::params;
use crate::models::{GenomicModel, Head, Mode, RnnState};
use crate::{Error, Result};

/// Training or validation data for one of the three heads.
#[derive(Debug, Clone)]
pub enum Data {
    /// Causal LM windows (stateful or shuffled).
    Lm(LmBatcher),
    /// Masked-LM windows.
    Mlm(MlmBatcher),
    /// Labelled sequences.
    Cls(ClassificationBatcher),
}

/// One batch, as ids on the host.
#[derive(Debug, Clone)]
struct HostBatch {
    x: Vec<u32>,
    y_u32: Vec<u32>,
    y_i64: Vec<i64>,
    /// One target per row (classification) rather than one per position.
    per_row: bool,
    batch: usize,
    seq_len: usize,
    reset: Option<Vec<bool>>,
}

impl HostBatch {
    fn tensors(&self, dev: &Device) -> Result<(Tensor, Tensor)> {
        let x = Tensor::from_slice(&self.x, (self.batch, self.seq_len), dev)?;
        let y = if !self.y_i64.is_empty() {
            Tensor::from_slice(&self.y_i64, (self.batch, self.seq_len), dev)?
        } else if self.per_row {
            Tensor::from_slice(&self.y_u32, self.batch, dev)?
        } else {
            Tensor::from_slice(&self.y_u32, (self.batch, self.seq_len), dev)?
        };
        Ok((x, y))
    }

    /// Positions that count in the loss.
    fn n_targets(&self) -> usize {
        if !self.y_i64.is_empty() {
            self.y_i64.iter().filter(|&&l| l >= 0).count()
        } else {
            self.y_u32.len()
        }
    }
}

impl Data {
    fn head(&self) -> Head {
        match self {
            Data::Lm(_) => Head::Lm,
            Data::Mlm(_) => Head::Mlm,
            Data::Cls(_) => Head::Classifier,
        }
    }

    fn stateful(&self) -> bool {
        matches!(self, Data::Lm(b) if b.is_stateful())
    }

    fn batches(&self, epoch: u64) -> Vec<HostBatch> {
        match self {
            Data::Lm(b) => b
                .epoch(epoch)
                .into_iter()
                .map(|b| HostBatch {
                    x: b.x,
                    y_u32: b.y,
                    y_i64: Vec::new(),
                    per_row: false,
                    batch: b.batch,
                    seq_len: b.seq_len,
                    reset: Some(b.reset),
                })
                .collect(),
            Data::Mlm(b) => b
                .epoch(epoch)
                .into_iter()
                .map(|b| HostBatch {
                    x: b.x,
                    y_u32: Vec::new(),
                    y_i64: b.labels,
                    per_row: false,
                    batch: b.batch,
                    seq_len: b.seq_len,
                    reset: None,
                })
                .collect(),
            Data::Cls(b) => b
                .epoch(epoch)
                .into_iter()
                .map(|b| HostBatch {
                    x: b.x,
                    y_u32: b.labels,
                    y_i64: Vec::new(),
                    per_row: true,
                    batch: b.batch,
                    seq_len: b.seq_len,
                    reset: None,
                })
                .collect(),
        }
    }
}

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
    /// Use at most this many validation batches (0 = all).
    pub valid_max_batches: usize,
    /// Write a checkpoint here after every epoch (None = no checkpoints).
    pub checkpoint_dir: Option<PathBuf>,
    /// Show progress (a bar in a terminal, a line or an HTML row per epoch otherwise).
    pub verbose: bool,
}

impl Default for LearnerOptions {
    fn default() -> Self {
        LearnerOptions {
            seed: 42,
            adamw: AdamWOptions::default(),
            precision: Precision::Auto,
            max_batches: 0,
            valid_max_batches: 0,
            checkpoint_dir: None,
            verbose: true,
        }
    }
}

/// What a callback asks the loop to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Go on.
    Continue,
    /// Stop after this epoch.
    Stop,
}

/// Hooks into the training loop.
pub trait Callback {
    /// Called after every epoch with its record and the whole history.
    fn on_epoch_end(&mut self, _record: &EpochRecord, _history: &[EpochRecord]) -> Control {
        Control::Continue
    }
    /// Called after every optimizer step with the step number and the batch loss.
    fn on_batch_end(&mut self, _step: usize, _loss: f64) -> Control {
        Control::Continue
    }
}

/// Stop when the validation loss has not improved by `min_delta` for `patience` epochs.
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    /// Epochs without improvement to tolerate.
    pub patience: usize,
    /// Smallest decrease that counts as an improvement.
    pub min_delta: f64,
    best: f64,
    wait: usize,
}

impl EarlyStopping {
    /// Early stopping with this patience.
    pub fn new(patience: usize, min_delta: f64) -> Self {
        EarlyStopping {
            patience,
            min_delta,
            best: f64::INFINITY,
            wait: 0,
        }
    }
}

impl Callback for EarlyStopping {
    fn on_epoch_end(&mut self, r: &EpochRecord, _h: &[EpochRecord]) -> Control {
        let Some(v) = r.valid_loss else {
            return Control::Continue;
        };
        if v < self.best - self.min_delta {
            self.best = v;
            self.wait = 0;
            Control::Continue
        } else {
            self.wait += 1;
            if self.wait >= self.patience {
                Control::Stop
            } else {
                Control::Continue
            }
        }
    }
}

/// Validation results.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalResult {
    /// Mean cross-entropy per target.
    pub loss: f64,
    /// Accuracy.
    pub accuracy: f64,
    /// Targets scored.
    pub n: usize,
}

/// The curve of an LR range test and its suggestions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LrFinder {
    /// Learning rates tried.
    pub lrs: Vec<f64>,
    /// Smoothed losses (exponential moving average, debiased).
    pub losses: Vec<f64>,
    /// Raw batch losses.
    pub raw_losses: Vec<f64>,
    /// The LR at the steepest descent of the smoothed loss (fastai's "steep").
    pub suggestion: f64,
    /// The LR of the minimum smoothed loss divided by 10.
    pub min_div_10: f64,
    /// True when the sweep stopped because the loss diverged.
    pub diverged: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct FitState {
    stage: String,
    epochs: usize,
    schedule: Schedule,
    next_epoch: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CheckpointState {
    genolm_version: String,
    step: usize,
    fit: Option<FitState>,
    history: History,
    options: LearnerOptions,
    groups: Vec<(String, f64, f64, bool)>,
    loss_scale: f64,
}

fn mix(seed: u64, step: u64) -> u64 {
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
    train: Data,
    valid: Option<Data>,
    opts: LearnerOptions,
    callbacks: Vec<Box<dyn Callback>>,
    /// Every epoch so far.
    pub history: History,
    fit_state: Option<FitState>,
    last_checkpoint: Option<PathBuf>,
    loss_scale: f64,
    good_steps: usize,
    stage: String,
    deadline: Option<Instant>,
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
        // the model may come from an earlier cell (see GenomicModel::rebuilt). Create the
        // learner in the cell that trains it (or `resume` it there).
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
        })
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

    fn train_batches(&self, epoch: usize) -> Vec<HostBatch> {
        let mut b = self.train.batches(epoch as u64);
        if self.opts.max_batches > 0 {
            b.truncate(self.opts.max_batches);
        }
        b
    }

    /// One-cycle training for `epochs` with peak LR `lr_max` (the top group's; lower
    /// groups keep their ratios, so discriminative LRs set with
    /// [`AdamW::set_discriminative`] follow the cycle).
    pub fn fit_one_cycle(&mut self, epochs: usize, lr_max: f64) -> Result<Vec<EpochRecord>> {
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

    /// Train for `epochs` under `schedule`. After [`resume`](Self::resume), a call with the
    /// same arguments continues the interrupted fit at its next epoch.
    pub fn fit(&mut self, epochs: usize, schedule: Schedule) -> Result<Vec<EpochRecord>> {
        let start = match &self.fit_state {
            Some(f) if f.epochs == epochs && f.schedule == schedule && f.stage == self.stage => {
                f.next_epoch
            }
            _ => 0,
        };
        // The schedule counts epoch 0's batches; those batches are reused when the fit starts there.
        let epoch0 = self.train_batches(0);
        let n_batches = epoch0.len().max(1);
        let mut pending = (start == 0).then_some(epoch0);
        let total = (epochs * n_batches) as f64;
        let dev = self.model.device().clone();
        let is_cls = matches!(self.train, Data::Cls(_));
        let stateful = self.train.stateful() && self.model.config().lstm_layers > 0;
        let mut new_records = Vec::new();
        if self.opt.groups().last().map(|g| g.lr).unwrap_or(0.0) <= 0.0 {
            self.opt.set_lr(1e-3);
        }
        for epoch in start..epochs {
            let t0 = Instant::now();
            let batches = pending.take().unwrap_or_else(|| self.train_batches(epoch));
            let bar = self.progress_bar(batches.len(), epoch, epochs);
            let mut state: Option<RnnState> = None;
            let (mut sum_loss, mut n_loss) = (0f64, 0f64);
            let mut units = 0usize;
            let mut lr_now = 0.0;
            for (i, hb) in batches.iter().enumerate() {
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
                let seed = mix(self.opts.seed, step as u64);
                let out = self
                    .model
                    .forward(&x, state.as_ref(), Mode::Train { seed })?;
                let (loss, ce) = self.model.loss(&out, &y)?;
                let ce_v = ce.to_dtype(DType::F64)?.to_scalar::<f64>()?;
                let loss_v = loss.to_dtype(DType::F64)?.to_scalar::<f64>()?;
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
                let scaled = if self.loss_scale != 1.0 {
                    (loss * self.loss_scale)?
                } else {
                    loss
                };
                let grads = scaled.backward()?;
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
                let w = hb.n_targets() as f64;
                sum_loss += ce_v * w;
                n_loss += w;
                units += if is_cls {
                    hb.batch
                } else {
                    hb.batch * hb.seq_len
                };
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
            self.history.push(rec.clone());
            new_records.push(rec.clone());
            self.fit_state = Some(FitState {
                stage: self.stage.clone(),
                epochs,
                schedule,
                next_epoch: epoch + 1,
            });
            if let Some(dir) = self.opts.checkpoint_dir.clone() {
                self.save_checkpoint(&dir)?;
            }
            let mut stop = false;
            for cb in &mut self.callbacks {
                stop |= cb.on_epoch_end(&rec, &self.history) == Control::Stop;
            }
            if stop {
                break;
            }
            if epoch + 1 < epochs && self.deadline.is_some_and(|d| Instant::now() >= d) {
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
    ) -> Option<indicatif::ProgressBar> {
        if !self.opts.verbose || !std::io::stderr().is_terminal() {
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
        if !self.opts.verbose {
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
        evaluate(&self.model, data, self.opts.valid_max_batches)
    }

    /// An LR range test (seed 003 §5.3): the LR grows exponentially from `start` to `end`
    /// over at most `iters` batches, stopping when the smoothed loss exceeds 4× its
    /// minimum. The weights and optimizer are restored afterwards.
    pub fn lr_find(&mut self, start: f64, end: f64, iters: usize) -> Result<LrFinder> {
        if !(start > 0.0 && end > start && iters >= 2) {
            return Err(Error::Config(
                "lr_find needs 0 < start < end and at least 2 iterations".into(),
            ));
        }
        let snapshot: HashMap<String, Tensor> = self.model.params().tensors().into_iter().collect();
        let mut opt = AdamW::for_model(&self.model, start, self.opts.adamw)?;
        opt.apply_description(&self.opt.describe());
        let dev = self.model.device().clone();
        let (mut lrs, mut losses, mut raw) = (Vec::new(), Vec::new(), Vec::new());
        let (mut avg, mut best) = (0f64, f64::INFINITY);
        let mut diverged = false;
        let mut epoch = 0;
        'outer: loop {
            let batches = self.train_batches(epoch);
            if batches.is_empty() {
                break;
            }
            for hb in batches {
                let i = lrs.len();
                if i >= iters {
                    break 'outer;
                }
                let lr = start * (end / start).powf(i as f64 / (iters - 1) as f64);
                opt.scale_to_top(lr);
                let (x, y) = hb.tensors(&dev)?;
                let out = self.model.forward(
                    &x,
                    None,
                    Mode::Train {
                        seed: mix(self.opts.seed, i as u64),
                    },
                )?;
                let (loss, ce) = self.model.loss(&out, &y)?;
                let l = ce.to_dtype(DType::F64)?.to_scalar::<f64>()?;
                if !l.is_finite() {
                    diverged = true;
                    break 'outer;
                }
                opt.step(&loss.backward()?, 1.0)?;
                avg = 0.98 * avg + 0.02 * l;
                let smooth = avg / (1.0 - 0.98f64.powi(i as i32 + 1));
                lrs.push(lr);
                raw.push(l);
                losses.push(smooth);
                best = best.min(smooth);
                if i > 5 && smooth > 4.0 * best {
                    diverged = true;
                    break 'outer;
                }
            }
            epoch += 1;
        }
        self.model.params().assign(&snapshot, true)?;
        if lrs.len() < 3 {
            return Err(Error::Input(
                "lr_find ran fewer than 3 batches; give it more data".into(),
            ));
        }
        let imin = (0..losses.len())
            .min_by(|&a, &b| losses[a].total_cmp(&losses[b]))
            .unwrap_or(0);
        // Steepest descent of smoothed loss against log LR, before the minimum.
        let mut steep = (f64::INFINITY, lrs[imin] / 10.0);
        for i in 1..=imin {
            let slope = (losses[i] - losses[i - 1]) / (lrs[i].ln() - lrs[i - 1].ln());
            if slope < steep.0 {
                steep = (slope, lrs[i]);
            }
        }
        Ok(LrFinder {
            suggestion: steep.1,
            min_div_10: lrs[imin] / 10.0,
            lrs,
            losses,
            raw_losses: raw,
            diverged,
        })
    }

    /// Write `model.safetensors`, `optimizer.safetensors` and `state.json` into `dir`, each
    /// atomically (`state.json` last, so a complete `state.json` means a complete checkpoint).
    pub fn save_checkpoint(&mut self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        self.model.save(dir.join("model.safetensors"))?;
        params::save_safetensors(
            &dir.join("optimizer.safetensors"),
            &self.opt.state_tensors()?,
            HashMap::from([("step".to_string(), self.opt.steps().to_string())]),
        )?;
        let st = CheckpointState {
            genolm_version: env!("CARGO_PKG_VERSION").into(),
            step: self.opt.steps(),
            fit: self.fit_state.clone(),
            history: self.history.clone(),
            options: self.opts.clone(),
            groups: self.opt.describe(),
            loss_scale: self.loss_scale,
        };
        let json = serde_json::to_vec_pretty(&st).expect("state serialises");
        atomic_write(&dir.join("state.json"), &json)?;
        self.last_checkpoint = Some(dir.to_path_buf());
        Ok(())
    }

    /// Rebuild a learner from a checkpoint folder: model, optimizer moments and step, group
    /// settings, history, and the interrupted fit. Call [`fit`](Self::fit) with the same
    /// epochs and schedule to finish it; the result equals an uninterrupted run on CPU.
    pub fn resume(dir: &Path, train: Data, valid: Option<Data>, device: &Device) -> Result<Self> {
        let state_path = dir.join("state.json");
        let bytes = std::fs::read(&state_path).map_err(|e| Error::io(&state_path, e))?;
        let st: CheckpointState = serde_json::from_slice(&bytes).map_err(|e| {
            Error::parse(
                state_path.display().to_string(),
                e.line(),
                format!("not a genolm checkpoint state: {e}"),
            )
        })?;
        let model = GenomicModel::load(dir.join("model.safetensors"), device)?;
        let mut l = Learner::new(model, train, valid, st.options.clone())?;
        let (t, _) = params::load_safetensors(&dir.join("optimizer.safetensors"), device)?;
        l.opt.load_state(&t, st.step)?;
        l.opt.apply_description(&st.groups);
        l.history = st.history;
        if let Some(f) = &st.fit {
            l.stage = f.stage.clone();
        }
        l.fit_state = st.fit;
        l.loss_scale = st.loss_scale;
        l.last_checkpoint = Some(dir.to_path_buf());
        Ok(l)
    }
}

/// The LSTM state to start a batch from: the previous batch's, cut from its graph
/// (truncated BPTT), with the rows that begin a new contig zeroed.
fn carry_state(state: Option<RnnState>, reset: &Option<Vec<bool>>) -> Result<Option<RnnState>> {
    Ok(match (state, reset) {
        (Some(s), Some(r)) => Some(s.reset_rows(r)?.detach()),
        (s, _) => s.map(|s| s.detach()),
    })
}

/// Cross-entropy and accuracy of `model` on `data` (at most `max_batches`, 0 = all).
pub fn evaluate(model: &GenomicModel, data: &Data, max_batches: usize) -> Result<EvalResult> {
    let dev = model.device().clone();
    let mut batches = data.batches(0);
    if max_batches > 0 {
        batches.truncate(max_batches);
    }
    let stateful = data.stateful() && model.config().lstm_layers > 0;
    let mut state: Option<RnnState> = None;
    let (mut loss_sum, mut correct, mut n) = (0f64, 0f64, 0usize);
    for hb in &batches {
        let (x, y) = hb.tensors(&dev)?;
        if stateful {
            state = carry_state(state, &hb.reset)?;
        }
        let out = model.forward(&x, state.as_ref(), Mode::Eval)?;
        if stateful {
            state = out.state.clone();
        }
        let (_, ce) = model.loss(&out, &y)?;
        let k = hb.n_targets();
        loss_sum += ce.to_dtype(DType::F64)?.to_scalar::<f64>()? * k as f64;
        n += k;
        let pred = out
            .logits
            .argmax(D::Minus1)?
            .flatten_all()?
            .to_vec1::<u32>()?;
        correct += match data {
            Data::Mlm(_) => pred
                .iter()
                .zip(&hb.y_i64)
                .filter(|(p, l)| **l >= 0 && **p as i64 == **l)
                .count(),
            _ => pred.iter().zip(&hb.y_u32).filter(|(p, l)| p == l).count(),
        } as f64;
    }
    if n == 0 {
        return Err(Error::Input("no validation targets".into()));
    }
    Ok(EvalResult {
        loss: loss_sum / n as f64,
        accuracy: correct / n as f64,
        n,
    })
}

/// Class probabilities for every item of a classification batcher, in item order.
pub fn predict_proba(model: &GenomicModel, data: &ClassificationBatcher) -> Result<Vec<Vec<f32>>> {
    let dev = model.device().clone();
    let mut out = vec![Vec::new(); data.len()];
    for b in data.epoch(0) {
        let (x, _) = b.to_tensors(&dev)?;
        let o = model.forward(&x, None, Mode::Eval)?;
        let p =
            crate::models::layers::softmax(&o.logits.to_dtype(DType::F32)?)?.to_vec2::<f32>()?;
        for (item, row) in b.items.iter().zip(p) {
            out[*item] = row;
        }
    }
    Ok(out)
}
