//! A trained classifier applied to new sequences: each record whole, or windows scanned along
//! it (promoters along a genome, the origin of every read of a run). Windows are cut by
//! [`windows`], shared with the class-conditional LMs of
//! [`bench::generative`](crate::bench::generative), and both return [`ClassProbs`].

use crate::data::alphabet::revcomp;
use crate::data::batch::ClassificationBatcher;
use crate::data::input::Records;
use crate::models::{GenomicModel, Head};
use crate::plot::{Figure, Series};
use crate::table::Table;
use crate::train::predict_proba;
use crate::{Error, Result};

/// Options of [`class_probs`] (and of the class-conditional LMs' `probs`).
#[derive(Debug, Clone)]
pub struct ClassProbsOptions {
    /// Bases per window; 0 reads every record whole (one row per record).
    pub window: usize,
    /// Bases between window starts (0: `window`, windows side by side). A last window ending
    /// at the record's end is added when the steps do not reach it, so every base is read.
    pub step: usize,
    /// Average each window's class probabilities over both strands (labels that do not depend
    /// on the strand, such as a read's species).
    pub both_strands: bool,
    /// Windows per forward pass.
    pub batch_size: usize,
}

impl Default for ClassProbsOptions {
    fn default() -> Self {
        ClassProbsOptions {
            window: 0,
            step: 0,
            both_strands: false,
            batch_size: 64,
        }
    }
}

/// One classified window.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassProbRow {
    /// Record name.
    pub record: String,
    /// 0-based start of the window in the record.
    pub start: usize,
    /// Exclusive end.
    pub end: usize,
    /// Probability of each class, in class order.
    pub probs: Vec<f64>,
}

impl ClassProbRow {
    /// The most probable class (its index).
    pub fn predicted(&self) -> usize {
        crate::stats::argmax(&self.probs)
    }
}

/// What [`class_probs`] returns: the class probabilities of every window of every record.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassProbs {
    /// Class names in output order.
    pub classes: Vec<String>,
    /// One row per window, records in input order, windows by start.
    pub rows: Vec<ClassProbRow>,
    /// Records too short for the classifier to read (fewer bases than it needs for its
    /// shortest input: one k-mer for a head or a probe, two for class LMs), with their
    /// lengths, in input order: they have no rows.
    pub skipped: Vec<(String, usize)>,
}

impl ClassProbs {
    /// How many rows each class got (arg-max), in class order.
    pub fn counts(&self) -> Vec<usize> {
        let mut counts = vec![0; self.classes.len()];
        for r in &self.rows {
            counts[r.predicted()] += 1;
        }
        counts
    }

    /// `record, start, end, predicted, p_<class>…` (one row per window).
    pub fn table(&self) -> Result<Table> {
        use polars::prelude::*;
        let r = &self.rows;
        let mut cols: Vec<Column> = vec![
            Column::new(
                "record".into(),
                r.iter().map(|x| x.record.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "start".into(),
                r.iter().map(|x| x.start as u64).collect::<Vec<_>>(),
            ),
            Column::new(
                "end".into(),
                r.iter().map(|x| x.end as u64).collect::<Vec<_>>(),
            ),
            Column::new(
                "predicted".into(),
                r.iter()
                    .map(|x| self.classes[x.predicted()].clone())
                    .collect::<Vec<_>>(),
            ),
        ];
        for (c, name) in self.classes.iter().enumerate() {
            cols.push(Column::new(
                format!("p_{name}").into(),
                r.iter().map(|x| x.probs[c]).collect::<Vec<_>>(),
            ));
        }
        Ok(Table::new(
            "class probabilities",
            DataFrame::new(r.len(), cols)?,
        ))
    }

    /// Along the first record with more than one window: each class's probability at the
    /// window centres (the first class left out of a two-class scan, whose line mirrors the
    /// second; beyond 2 000 windows each point is the highest of a run of windows). Otherwise:
    /// how many records each class got.
    pub fn plot(&self) -> Result<Figure> {
        let scanned = self
            .rows
            .iter()
            .zip(self.rows.iter().skip(1))
            .find(|(a, b)| a.record == b.record)
            .map(|(a, _)| a.record.clone());
        if let Some(name) = scanned {
            let rows: Vec<&ClassProbRow> = self.rows.iter().filter(|x| x.record == name).collect();
            // a genome scan has hundreds of thousands of windows: at most MAX_POINTS points,
            // each the highest probability of its run of windows (peaks stay visible)
            let per = rows.len().div_ceil(MAX_POINTS).max(1);
            let x: Vec<f64> = rows
                .chunks(per)
                .map(|b| (b[0].start + b[b.len() - 1].end) as f64 / 2.0)
                .collect();
            let first = usize::from(self.classes.len() == 2);
            let series: Vec<Series> = (first..self.classes.len())
                .map(|c| {
                    Series::new(
                        format!("p({})", self.classes[c]),
                        x.clone(),
                        rows.chunks(per)
                            .map(|b| b.iter().map(|w| w.probs[c]).fold(f64::MIN, f64::max))
                            .collect(),
                    )
                })
                .collect();
            let ylabel = if per > 1 {
                format!("probability (highest of {per} windows)")
            } else {
                "probability".to_string()
            };
            return Figure::lines(
                &format!("Class probabilities along {name}"),
                "window centre (bp)",
                &ylabel,
                &series,
                &[],
            );
        }
        let counts: Vec<f64> = self.counts().into_iter().map(|n| n as f64).collect();
        Figure::bars(
            "Predicted classes",
            "sequences",
            &self.classes,
            &counts,
            None,
        )
    }

    /// evcxr display: the plot.
    pub fn evcxr_display(&self) {
        if let Ok(f) = self.plot() {
            f.evcxr_display();
        }
    }
}

/// Windows of `window` bases every `step` bases along each record (`window` 0: each record
/// whole), with a last window ending at the record's end when the steps do not reach it; a
/// record shorter than `window` is one window. Returns `(record, start, end)`.
///
/// ```
/// use genolm::infer::windows;
/// let w = windows(&[("r", &b"ACGTACGTAC"[..])], 4, 3);
/// assert_eq!(w, [(0, 0, 4), (0, 3, 7), (0, 6, 10)]);
/// assert_eq!(windows(&[("r", &b"ACGTACGTAC"[..])], 4, 4).last(), Some(&(0, 6, 10)));
/// assert_eq!(windows(&[("r", &b"ACG"[..])], 4, 4), [(0, 0, 3)]);
/// assert_eq!(windows(&[("r", &b"ACGTAC"[..])], 0, 0), [(0, 0, 6)]);
/// ```
pub fn windows(
    records: &[(&str, &[u8])],
    window: usize,
    step: usize,
) -> Vec<(usize, usize, usize)> {
    let step = if step == 0 { window } else { step };
    let mut out = Vec::new();
    for (r, (_, seq)) in records.iter().enumerate() {
        let n = seq.len();
        if window == 0 || n <= window {
            out.push((r, 0, n));
            continue;
        }
        let mut start = 0;
        while start + window <= n {
            out.push((r, start, start + window));
            start += step;
        }
        if out.last().is_some_and(|&(_, _, end)| end < n) {
            out.push((r, n - window, n));
        }
    }
    out
}

/// Points per line of [`ClassProbs::plot`].
const MAX_POINTS: usize = 2000;

/// Windows classified per call, so that a genome scan holds a bounded number of token rows.
pub(crate) const WINDOWS_PER_CALL: usize = 4096;

/// The class probabilities a classifier (a model with a classifier head, e.g. from
/// `genolm classify`) gives every record of `records`, whole or in windows
/// ([`ClassProbsOptions::window`]). Class names come from the checkpoint
/// ([`ModelConfig::class_names`](crate::models::ModelConfig::class_names)).
///
/// ```
/// use genolm::infer::{class_probs, ClassProbsOptions};
/// use genolm::prelude::*;
/// let mut clf = GenomicModel::new(ModelConfig { head: Head::Classifier, ..ModelConfig::tiny() }, &Device::Cpu, 1)?;
/// clf.set_class_names(vec!["background".into(), "promoter".into()])?;
/// let seqs = [("a", &b"TTGACAATTAATCATCGGCTCGTATAATGTGTGGAATTGTGAG"[..])];
/// let whole = class_probs(&clf, &seqs, &ClassProbsOptions::default())?;
/// assert_eq!(whole.rows.len(), 1);
/// assert!((whole.rows[0].probs.iter().sum::<f64>() - 1.0).abs() < 1e-6);
/// let scan = class_probs(&clf, &seqs, &ClassProbsOptions { window: 20, step: 10, ..Default::default() })?;
/// assert_eq!(scan.rows.iter().map(|r| r.start).collect::<Vec<_>>(), [0, 10, 20, 23]);
/// assert_eq!(scan.table()?.df.get_column_names()[5].as_str(), "p_promoter");
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn class_probs<R: Records + ?Sized>(
    model: &GenomicModel,
    records: &R,
    opts: &ClassProbsOptions,
) -> Result<ClassProbs> {
    let cfg = model.config();
    if cfg.head != Head::Classifier {
        return Err(Error::Config(format!(
            "class probabilities need a classifier (a `genolm classify` output); this model has \
             a {:?} head",
            cfg.head
        )));
    }
    let tok = cfg.tokenizer()?;
    scan_windows(records, opts, cfg.class_labels(), tok.k, |recs, part| {
        let strand = |rc: bool| -> Result<Vec<(Vec<u32>, u32)>> {
            part.iter()
                .map(|&(r, a, b)| {
                    let (name, seq) = recs[r];
                    let bases = &seq[a..b];
                    let ids = if rc {
                        tok.encode(&revcomp(bases))
                    } else {
                        tok.encode(bases)
                    };
                    if ids.is_empty() {
                        return Err(Error::Input(format!(
                            "{name}: {} bases ({a}..{b}) are fewer than one {}-mer token",
                            b - a,
                            cfg.k
                        )));
                    }
                    Ok((ids, 0))
                })
                .collect()
        };
        let run = |items| -> Result<Vec<Vec<f32>>> {
            predict_proba(
                model,
                &ClassificationBatcher::new(items, opts.batch_size.max(1), false, 0)?,
            )
        };
        let mut probs: Vec<Vec<f64>> = run(strand(false)?)?
            .into_iter()
            .map(|p| p.into_iter().map(f64::from).collect())
            .collect();
        if opts.both_strands {
            for (p, q) in probs.iter_mut().zip(run(strand(true)?)?) {
                for (a, b) in p.iter_mut().zip(q) {
                    *a = 0.5 * (*a + f64::from(b));
                }
            }
        }
        Ok(probs)
    })
}

/// The windows of `records` ([`windows`]) in parts of [`WINDOWS_PER_CALL`], each part's class
/// probabilities from `probs_of(records, part)` (one row per window of the part), with a
/// progress bar: the loop shared by a classifier head, a probe and the class-conditional LMs.
/// A record of fewer than `min_bases` bases (the classifier's shortest input) gets no row and
/// is listed in [`ClassProbs::skipped`]; windows shorter than that are a configuration error.
pub(crate) fn scan_windows<R: Records + ?Sized>(
    records: &R,
    opts: &ClassProbsOptions,
    classes: Vec<String>,
    min_bases: usize,
    mut probs_of: impl FnMut(&[(&str, &[u8])], &[(usize, usize, usize)]) -> Result<Vec<Vec<f64>>>,
) -> Result<ClassProbs> {
    if opts.window > 0 && opts.window < min_bases {
        return Err(Error::Config(format!(
            "windows of {} bases are shorter than this classifier's shortest input ({min_bases} bases)",
            opts.window
        )));
    }
    let recs = records.records();
    let (wins, short): (Vec<_>, Vec<_>) = windows(&recs, opts.window, opts.step)
        .into_iter()
        .partition(|&(_, a, b)| b - a >= min_bases);
    let skipped = short
        .iter()
        .map(|&(r, _, _)| (recs[r].0.to_string(), recs[r].1.len()))
        .collect();
    let mut rows = Vec::with_capacity(wins.len());
    // a bar on a terminal: a genome scanned every few bases is minutes of work
    let mut bar = crate::progress::Progress::new("windows", wins.len(), false);
    for part in wins.chunks(WINDOWS_PER_CALL) {
        let probs = probs_of(&recs, part)?;
        for (&(r, start, end), probs) in part.iter().zip(probs) {
            rows.push(ClassProbRow {
                record: recs[r].0.to_string(),
                start,
                end,
                probs,
            });
        }
        bar.inc(part.len(), recs[part[0].0].0);
    }
    bar.finish();
    Ok(ClassProbs {
        classes,
        rows,
        skipped,
    })
}
