//! A run's metrics as they happen: `metrics.jsonl` in the run folder, one JSON object per line —
//! `{"kind":"step",…}` after every optimizer step ([`StepRecord`]) and `{"kind":"epoch",…}`
//! after every evaluation ([`EpochRecord`]) — and the same numbers as TensorBoard scalars
//! (`train/loss`, `train/smooth_loss`, `train/lr`, `train/momentum`, `train/grad_norm`,
//! `train/units_per_s`, `train/rss_mib`, `train/epoch_loss`, `valid/loss`, `valid/accuracy`)
//! in an `events.out.tfevents.*` file beside it.
//!
//! Lines are appended and flushed one at a time, so a reader (pandas' `read_json(lines=True)`,
//! `genolm monitor`) sees every finished step while the run trains. A resumed run first cuts
//! both files back to its checkpoint's step, so steps trained after the last checkpoint by a
//! process that died are not counted twice.
//!
//! ```
//! use genolm::train::history::StepRecord;
//! use genolm::train::metrics_log::{read_metrics, MetricsLog};
//! let dir = tempfile::tempdir().unwrap();
//! let mut log = MetricsLog::open(dir.path(), 0)?;
//! let r = StepRecord { step: 1, epoch: 0, stage: "fit".into(), loss: 1.4, smooth_loss: 1.4, lr: 1e-3,
//!     momentum: 0.95, grad_norm: 0.5, targets: 2048, units_per_s: 1e4, rss_mib: 300.0, time: 1.7e9 };
//! log.step(&r)?;
//! assert_eq!(read_metrics(dir.path())?.steps, vec![r]);
//! # Ok::<(), genolm::Error>(())
//! ```

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::history::{EpochRecord, History, StepRecord};
use super::tensorboard::EventWriter;
use crate::{Error, Result};

/// The per-step log's file name in a run folder.
pub const METRICS_FILE: &str = "metrics.jsonl";

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LogRecord {
    /// After an optimizer step.
    Step(StepRecord),
    /// After an epoch and its evaluation.
    Epoch(EpochRecord),
}

impl LogRecord {
    /// The optimizer step the record belongs to.
    pub fn step(&self) -> usize {
        match self {
            LogRecord::Step(s) => s.step,
            LogRecord::Epoch(e) => e.step,
        }
    }
}

/// Appends to a run's `metrics.jsonl` and TensorBoard event file.
#[derive(Debug)]
pub struct MetricsLog {
    path: PathBuf,
    file: File,
    tb: EventWriter,
}

fn tb_values(r: &LogRecord) -> Vec<(&'static str, f64)> {
    match r {
        LogRecord::Step(s) => vec![
            ("train/loss", s.loss),
            ("train/smooth_loss", s.smooth_loss),
            ("train/lr", s.lr),
            ("train/momentum", s.momentum),
            ("train/grad_norm", s.grad_norm),
            ("train/units_per_s", s.units_per_s),
            ("train/rss_mib", s.rss_mib),
        ],
        LogRecord::Epoch(e) => {
            let mut v = vec![
                ("train/epoch_loss", e.train_loss),
                ("train/epoch_units_per_s", e.train_throughput),
            ];
            v.extend(e.valid_loss.map(|x| ("valid/loss", x)));
            v.extend(e.valid_accuracy.map(|x| ("valid/accuracy", x)));
            v
        }
    }
}

fn wall(r: &LogRecord) -> f64 {
    match r {
        LogRecord::Step(s) => s.time,
        LogRecord::Epoch(_) => super::tensorboard::unix_now(),
    }
}

impl MetricsLog {
    /// Open the log of the run folder `dir` for a learner at optimizer step `at_step`: a fresh
    /// log when `at_step` is 0 (a run trained again from scratch replaces its old log), else
    /// the existing log cut back to records up to `at_step` (a resumed run). The TensorBoard
    /// events are rewritten from the kept records into one new event file.
    pub fn open(dir: &Path, at_step: usize) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let path = dir.join(METRICS_FILE);
        let kept: Vec<LogRecord> = if at_step == 0 || !path.exists() {
            Vec::new()
        } else {
            read_records(&path, 0)?
                .0
                .into_iter()
                .filter(|r| r.step() <= at_step)
                .collect()
        };
        let mut text = String::new();
        for r in &kept {
            text.push_str(&serde_json::to_string(r).expect("records serialise"));
            text.push('\n');
        }
        crate::fsio::atomic_write(&path, text.as_bytes())?;
        for e in std::fs::read_dir(dir)
            .map_err(|e| Error::io(dir, e))?
            .flatten()
        {
            if e.file_name()
                .to_string_lossy()
                .starts_with("events.out.tfevents.")
            {
                std::fs::remove_file(e.path()).map_err(|err| Error::io(e.path(), err))?;
            }
        }
        let mut tb = EventWriter::create(dir)?;
        for r in &kept {
            tb.scalars(r.step() as i64, wall(r), &tb_values(r))?;
        }
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        Ok(MetricsLog { path, file, tb })
    }

    fn append(&mut self, r: &LogRecord) -> Result<()> {
        let mut line = serde_json::to_string(r).expect("records serialise");
        line.push('\n');
        // one write per line: a reader never sees half a record followed by another
        self.file
            .write_all(line.as_bytes())
            .map_err(|e| Error::io(&self.path, e))?;
        self.tb.scalars(r.step() as i64, wall(r), &tb_values(r))
    }

    /// Log an optimizer step.
    pub fn step(&mut self, r: &StepRecord) -> Result<()> {
        self.append(&LogRecord::Step(r.clone()))
    }

    /// Log an epoch and its evaluation.
    pub fn epoch(&mut self, r: &EpochRecord) -> Result<()> {
        self.append(&LogRecord::Epoch(r.clone()))
    }
}

/// The complete records of a `metrics.jsonl` from byte `offset` on, and the offset after the
/// last complete line (a line still being written is left for the next call). A malformed
/// complete line is an error with its line number within the read part.
pub fn read_records(path: &Path, offset: u64) -> Result<(Vec<LogRecord>, u64)> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| Error::io(path, e))?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf).map_err(|e| Error::io(path, e))?;
    let end = buf
        .iter()
        .rposition(|&b| b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let mut out = Vec::new();
    for (i, line) in buf[..end].split(|&b| b == b'\n').enumerate() {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        out.push(serde_json::from_slice(line).map_err(|e| {
            Error::parse(
                path.display().to_string(),
                i + 1,
                format!("not a genolm metrics record: {e}"),
            )
        })?);
    }
    Ok((out, offset + end as u64))
}

/// The history logged in the run folder `dir` (its `metrics.jsonl`): every step and epoch.
pub fn read_metrics(dir: &Path) -> Result<History> {
    let (records, _) = read_records(&dir.join(METRICS_FILE), 0)?;
    let mut h = History::default();
    for r in records {
        match r {
            LogRecord::Step(s) => h.steps.push(s),
            LogRecord::Epoch(e) => h.epochs.push(e),
        }
    }
    Ok(h)
}
