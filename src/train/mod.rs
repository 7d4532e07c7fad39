//! Training: AdamW with parameter groups, schedules, the LR finder, discriminative LRs,
//! gradual unfreezing, the [`Learner`] with callbacks and checkpoints, and the recipes
//! (`fit_one_cycle`, [`fine_tune`], [`ulmfit`]).
//!
//! * [`optim`]: AdamW with groups, clipping and freezing.
//! * [`schedule`]: one-cycle, cosine, constant.
//! * [`learner`]: the loop, NaN guard, progress, checkpoints and resume; best-epoch selection
//!   and early stopping on the validation loss ([`Learner::keep_best`]).
//! * [`recipes`]: fine-tuning and the ULMFiT three-stage recipe.
//! * [`alloc`]: allocator tuning that keeps tensor buffers in-process.
//! * [`history`]: [`StepRecord`], [`EpochRecord`] and [`History`] (loss curves and tables).
//! * [`metrics_log`]: a run's `metrics.jsonl`, appended per step; [`tensorboard`]: its event file.
//! * [`display`]: the LR finder plot for notebooks.
//! * [`run`]: `genolm train --config run.toml`.

pub mod alloc;
mod best;
mod callbacks;
mod checkpoint;
mod data;
pub mod display;
pub mod dist;
pub mod history;
pub mod learner;
mod lr_find;
pub mod metrics_log;
pub mod optim;
pub mod recipes;
pub mod run;
pub mod schedule;
pub mod source;
pub mod tensorboard;

pub use best::BestEpoch;
pub use history::{History, StepRecord};
pub use learner::{
    evaluate, evaluate_with, predict_proba, Callback, Control, Data, EarlyStopping, EpochRecord,
    EvalResult, Learner, LearnerOptions, LrFinder, Precision, ShortEpochs,
};
pub use optim::{AdamW, AdamWOptions};
pub use recipes::{fine_tune, ulmfit, UlmfitData, UlmfitOptions, UlmfitResult, Unfreezing};
pub use schedule::{Schedule, ScheduleKind};
