//! In-silico experiments (as tangermeme's `marginalize`, `space` and `ablate`): insert a motif
//! (or any sequence) into many backgrounds and measure the change of the prediction; vary the
//! spacing of two motifs; shuffle away every occurrence of a motif. Every score goes through
//! the one predict path ([`crate::infer::score_rows`]) with an [`Objective`], and each
//! experiment reports the per-background changes with their mean and a paired t-test.
//!
//! Backgrounds are any sequences: real windows from a genome, or dinucleotide shuffles of them
//! ([`shuffled_backgrounds`]) when the genome's own motifs should be destroyed first.
//!
//! ```
//! use candle_core::Device;
//! use genolm::explain::insilico::{marginalize, shuffled_backgrounds, Insertion, InsilicoOptions};
//! use genolm::models::{GenomicModel, ModelConfig};
//! let mut cfg = ModelConfig::tiny();
//! cfg.k = 1;
//! let model = GenomicModel::new(cfg, &Device::Cpu, 1)?;
//! let bgs = shuffled_backgrounds(&[b"ACGTTGCAAGGCTTACGATTACAGGCATCGATCGGGCTAGCTAG".to_vec()], 6, 0);
//! let e = marginalize(&model, &Insertion { backgrounds: &bgs, insert: b"TTGCGCAA" }, &InsilicoOptions::default())?;
//! assert_eq!(e.before.len(), 6);
//! assert!(e.p.is_finite());
//! # Ok::<(), genolm::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use super::attribution::{ModelScorer, SequenceScorer};
use super::motifs::scan::{scan, ScanOptions};
use super::motifs::Pwm;
use crate::data::alphabet::revcomp;
use crate::data::shuffle::dinucleotide_shuffle;
use crate::infer::Objective;
use crate::models::GenomicModel;
use crate::plot::{Figure, Series};
use crate::stats::paired_t;
use crate::table::Table;
use crate::{Error, Result};

/// `n` dinucleotide shuffles of `seqs` (round robin), seeded.
pub fn shuffled_backgrounds(seqs: &[Vec<u8>], n: usize, seed: u64) -> Vec<Vec<u8>> {
    if seqs.is_empty() {
        return Vec::new();
    }
    (0..n)
        .map(|i| dinucleotide_shuffle(&seqs[i % seqs.len()], seed.wrapping_add(i as u64)))
        .collect()
}

/// Options shared by the in-silico experiments.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InsilicoOptions {
    /// The scalar compared.
    pub objective: Objective,
    /// Where an insertion starts; `None` = centred.
    pub position: Option<usize>,
    /// Insert the reverse complement instead.
    pub reverse: bool,
}

impl Default for InsilicoOptions {
    fn default() -> Self {
        InsilicoOptions {
            objective: Objective::LogLikelihood,
            position: None,
            reverse: false,
        }
    }
}

/// The change a manipulation makes, background by background.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    /// What was done (`insert TTGCGCAA at 96`, `spacing 12`, `ablate MA0466.4`).
    pub label: String,
    /// Objective of each background as it was.
    pub before: Vec<f64>,
    /// Objective after the manipulation.
    pub after: Vec<f64>,
    /// Mean of `after − before`.
    pub mean_delta: f64,
    /// Paired t statistic.
    pub t: f64,
    /// Two-sided p-value of the paired t-test.
    pub p: f64,
}

impl Effect {
    fn new(label: String, before: Vec<f64>, after: Vec<f64>) -> Effect {
        let (mean_delta, t, p) = paired_t(&before, &after);
        Effect {
            label,
            before,
            after,
            mean_delta,
            t,
            p,
        }
    }
}

/// Input of [`marginalize`]: backgrounds and the sequence inserted into each.
#[derive(Debug, Clone, Copy)]
pub struct Insertion<'a> {
    /// Backgrounds (all at least as long as the insert).
    pub backgrounds: &'a [Vec<u8>],
    /// The inserted sequence (a motif's consensus, a site, any bases).
    pub insert: &'a [u8],
}

fn scores(model: &GenomicModel, seqs: &[Vec<u8>], obj: Objective) -> Result<Vec<f64>> {
    ModelScorer {
        model,
        objective: obj,
    }
    .score(seqs)
}

fn insert_at(bg: &[u8], site: &[u8], at: usize) -> Result<Vec<u8>> {
    if at + site.len() > bg.len() {
        return Err(Error::Input(format!(
            "an insert of {} bases at {at} does not fit a background of {}",
            site.len(),
            bg.len()
        )));
    }
    let mut s = bg.to_ascii_uppercase();
    s[at..at + site.len()].copy_from_slice(site);
    Ok(s)
}

/// Marginalisation: the objective of every background before and after the insert is written
/// over it (at `opts.position`, or centred).
pub fn marginalize(
    model: &GenomicModel,
    input: &Insertion<'_>,
    opts: &InsilicoOptions,
) -> Result<Effect> {
    if input.backgrounds.is_empty() || input.insert.is_empty() {
        return Err(Error::Input(
            "marginalisation needs backgrounds and an insert".into(),
        ));
    }
    let site = if opts.reverse {
        revcomp(input.insert).to_ascii_uppercase()
    } else {
        input.insert.to_ascii_uppercase()
    };
    let mut after_seqs = Vec::with_capacity(input.backgrounds.len());
    for bg in input.backgrounds {
        let at = opts
            .position
            .unwrap_or(bg.len().saturating_sub(site.len()) / 2);
        after_seqs.push(insert_at(bg, &site, at)?);
    }
    let before = scores(model, input.backgrounds, opts.objective)?;
    let after = scores(model, &after_seqs, opts.objective)?;
    let at = opts
        .position
        .map_or("centre".to_string(), |p| p.to_string());
    Ok(Effect::new(
        format!("insert {} at {at}", String::from_utf8_lossy(&site)),
        before,
        after,
    ))
}

/// Input of [`spacing`]: backgrounds and two inserts.
#[derive(Debug, Clone, Copy)]
pub struct Pair<'a> {
    /// Backgrounds.
    pub backgrounds: &'a [Vec<u8>],
    /// The first insert (left).
    pub first: &'a [u8],
    /// The second insert (right of the first, `gap` bases after its end).
    pub second: &'a [u8],
}

/// Spacing: for each gap in `gaps`, both inserts placed around the centre with that many
/// bases between them; each [`Effect`] is against the backgrounds with the first insert alone
/// (so it measures what the second adds at that distance).
pub fn spacing(
    model: &GenomicModel,
    input: &Pair<'_>,
    gaps: &[usize],
    opts: &InsilicoOptions,
) -> Result<Vec<Effect>> {
    let (a, b) = (
        input.first.to_ascii_uppercase(),
        input.second.to_ascii_uppercase(),
    );
    let mut out = Vec::with_capacity(gaps.len());
    for &gap in gaps {
        let span = a.len() + gap + b.len();
        let mut alone = Vec::new();
        let mut both = Vec::new();
        for bg in input.backgrounds {
            let start = opts.position.unwrap_or(bg.len().saturating_sub(span) / 2);
            let one = insert_at(bg, &a, start)?;
            both.push(insert_at(&one, &b, start + a.len() + gap)?);
            alone.push(one);
        }
        let before = scores(model, &alone, opts.objective)?;
        let after = scores(model, &both, opts.objective)?;
        out.push(Effect::new(format!("spacing {gap}"), before, after));
    }
    Ok(out)
}

/// Ablation: every occurrence of `motif` (FIMO-style scan at `scan.p_threshold`) in each
/// sequence replaced by a dinucleotide shuffle of itself; sequences without one keep their
/// score. Returns the effect and the number of occurrences shuffled.
pub fn ablate(
    model: &GenomicModel,
    seqs: &[Vec<u8>],
    motif: &Pwm,
    scan_opts: &ScanOptions,
    opts: &InsilicoOptions,
) -> Result<(Effect, usize)> {
    let names: Vec<String> = (0..seqs.len()).map(|i| i.to_string()).collect();
    let input: Vec<(&str, &[u8])> = names
        .iter()
        .map(|n| n.as_str())
        .zip(seqs.iter().map(|s| s.as_slice()))
        .collect();
    let hits = scan(std::slice::from_ref(motif), &input, scan_opts)?;
    let mut edited: Vec<Vec<u8>> = seqs.iter().map(|s| s.to_ascii_uppercase()).collect();
    for (k, h) in hits.iter().enumerate() {
        let i: usize = h.sequence.parse().unwrap_or(0);
        let shuffled = dinucleotide_shuffle(&edited[i][h.start..h.end], k as u64);
        edited[i][h.start..h.end].copy_from_slice(&shuffled);
    }
    let before = scores(model, seqs, opts.objective)?;
    let after = scores(model, &edited, opts.objective)?;
    Ok((
        Effect::new(format!("ablate {}", motif.id), before, after),
        hits.len(),
    ))
}

/// Effects as a table (`label`, `n`, `mean_delta`, `sd_delta`, `t`, `p`).
pub fn effects_table(effects: &[Effect]) -> Result<Table> {
    use polars::prelude::*;
    let sd: Vec<f64> = effects
        .iter()
        .map(|e| {
            let d: Vec<f64> = e.before.iter().zip(&e.after).map(|(b, a)| a - b).collect();
            crate::stats::mean_sd(&d).1
        })
        .collect();
    let df = DataFrame::new(
        effects.len(),
        vec![
            Column::new(
                "label".into(),
                effects.iter().map(|e| e.label.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "n".into(),
                effects
                    .iter()
                    .map(|e| e.before.len() as u32)
                    .collect::<Vec<_>>(),
            ),
            Column::new(
                "mean_delta".into(),
                effects.iter().map(|e| e.mean_delta).collect::<Vec<_>>(),
            ),
            Column::new("sd_delta".into(), sd),
            Column::new("t".into(), effects.iter().map(|e| e.t).collect::<Vec<_>>()),
            Column::new("p".into(), effects.iter().map(|e| e.p).collect::<Vec<_>>()),
        ],
    )?;
    Ok(Table::new("insilico", df))
}

/// A spacing curve: mean change against the gap.
pub fn spacing_figure(effects: &[Effect]) -> Result<Figure> {
    let (x, y): (Vec<f64>, Vec<f64>) = effects
        .iter()
        .filter_map(|e| {
            let g: f64 = e.label.strip_prefix("spacing ")?.parse().ok()?;
            Some((g, e.mean_delta))
        })
        .unzip();
    Figure::lines(
        "second motif's effect by spacing",
        "gap (bases)",
        "mean Δ objective",
        &[Series::new("mean Δ", x, y)],
        &[],
    )
}
