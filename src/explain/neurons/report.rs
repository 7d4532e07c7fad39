//! Tables, figures and display of a [`NeuronReport`], and activation tracks.

use polars::prelude::*;

use super::{NeuronReport, NeuronScore};
use crate::infer::States;
use crate::plot::{Figure, TrackFeature};
use crate::table::Table;
use crate::{Error, Result};

impl NeuronReport {
    /// The best `n` neurons for one target.
    pub fn top(&self, target: &str, n: usize) -> Vec<&NeuronScore> {
        self.scores
            .iter()
            .filter(|s| s.target == target)
            .take(n)
            .collect()
    }

    /// Significant neuron × target pairs (BH q ≤ fdr).
    pub fn significant(&self) -> Vec<&NeuronScore> {
        self.scores.iter().filter(|s| s.significant).collect()
    }

    /// Number of significant neurons for one target.
    pub fn n_significant(&self, target: &str) -> usize {
        self.scores
            .iter()
            .filter(|s| s.target == target && s.significant)
            .count()
    }

    /// Seed 000's printout: `Neuron lstm.2/4: Accuracy = 0.94 (AUROC 0.97, r 0.81, q 1e-40)`.
    pub fn print_top(&self, target: &str, n: usize) -> String {
        let mut s = format!("{target}:\n");
        for x in self.top(target, n) {
            s.push_str(&format!(
                "Neuron {}: Accuracy = {:.2} (AUROC {:.3}, r {:+.3}, q {}{})\n",
                x.neuron(),
                x.accuracy,
                x.auroc,
                x.r,
                crate::stats::format_p(x.q_bh),
                if x.significant { "" } else { ", n.s." }
            ));
        }
        s
    }

    /// All scores as a table (ranked by effect).
    pub fn table(&self) -> Result<Table> {
        let s = &self.scores;
        let df = DataFrame::new(
            s.len(),
            vec![
                Column::new(
                    "neuron".into(),
                    s.iter().map(|x| x.neuron()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "layer".into(),
                    s.iter().map(|x| x.layer.clone()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "unit".into(),
                    s.iter().map(|x| x.unit as u32).collect::<Vec<_>>(),
                ),
                Column::new(
                    "target".into(),
                    s.iter().map(|x| x.target.clone()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "auroc".into(),
                    s.iter().map(|x| x.auroc).collect::<Vec<_>>(),
                ),
                Column::new(
                    "accuracy".into(),
                    s.iter().map(|x| x.accuracy).collect::<Vec<_>>(),
                ),
                Column::new(
                    "direction".into(),
                    s.iter().map(|x| x.direction as i32).collect::<Vec<_>>(),
                ),
                Column::new("r".into(), s.iter().map(|x| x.r).collect::<Vec<_>>()),
                Column::new("p".into(), s.iter().map(|x| x.p).collect::<Vec<_>>()),
                Column::new("q_bh".into(), s.iter().map(|x| x.q_bh).collect::<Vec<_>>()),
                Column::new(
                    "p_bonferroni".into(),
                    s.iter().map(|x| x.p_bonferroni).collect::<Vec<_>>(),
                ),
                Column::new(
                    "significant".into(),
                    s.iter().map(|x| x.significant).collect::<Vec<_>>(),
                ),
            ],
        )?;
        Ok(Table::new("explainable_neurons", df))
    }

    /// The probes as a table.
    pub fn probe_table(&self) -> Result<Table> {
        let p = &self.probes;
        let df = DataFrame::new(
            p.len(),
            vec![
                Column::new(
                    "target".into(),
                    p.iter().map(|x| x.target.clone()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "n_neurons".into(),
                    p.iter().map(|x| x.neurons.len() as u32).collect::<Vec<_>>(),
                ),
                Column::new(
                    "neurons".into(),
                    p.iter()
                        .map(|x| {
                            x.neurons
                                .iter()
                                .map(|n| n.0.clone())
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .collect::<Vec<_>>(),
                ),
                Column::new(
                    "test_accuracy".into(),
                    p.iter().map(|x| x.test_accuracy).collect::<Vec<_>>(),
                ),
                Column::new(
                    "baseline_accuracy".into(),
                    p.iter().map(|x| x.baseline_accuracy).collect::<Vec<_>>(),
                ),
                Column::new(
                    "test_auroc".into(),
                    p.iter().map(|x| x.test_auroc).collect::<Vec<_>>(),
                ),
                Column::new(
                    "train_accuracy".into(),
                    p.iter().map(|x| x.train_accuracy).collect::<Vec<_>>(),
                ),
                Column::new(
                    "lambda".into(),
                    p.iter().map(|x| x.lambda).collect::<Vec<_>>(),
                ),
                Column::new(
                    "folds".into(),
                    p.iter().map(|x| x.folds as u32).collect::<Vec<_>>(),
                ),
                Column::new(
                    "scored_rows".into(),
                    p.iter().map(|x| x.scored_rows as u64).collect::<Vec<_>>(),
                ),
            ],
        )?;
        Ok(Table::new("sparse_probes", df))
    }

    /// Heatmap of the best `n_neurons` neurons (by their best effect over targets) × targets,
    /// coloured by AUROC − 0.5 (binary targets) or r.
    pub fn plot(&self, n_neurons: usize) -> Result<Figure> {
        let mut best: Vec<(String, f64)> = Vec::new();
        for s in &self.scores {
            let id = s.neuron();
            if !best.iter().any(|b| b.0 == id) {
                best.push((id, s.effect()));
            }
            if best.len() >= n_neurons {
                break;
            }
        }
        let rows: Vec<String> = best.into_iter().map(|b| b.0).collect();
        let mut v = vec![f64::NAN; rows.len() * self.targets.len()];
        for s in &self.scores {
            if let Some(r) = rows.iter().position(|x| *x == s.neuron()) {
                let c = self
                    .targets
                    .iter()
                    .position(|t| *t == s.target)
                    .unwrap_or(0);
                v[r * self.targets.len() + c] = if s.auroc.is_finite() {
                    s.auroc - 0.5
                } else {
                    s.r
                };
            }
        }
        Figure::heatmap(
            "Explainable neurons",
            &rows,
            &self.targets,
            &v,
            "AUROC − 0.5 (or r)",
            true,
        )
    }

    /// evcxr display: the top neurons per target and the probes.
    pub fn evcxr_display(&self) {
        let mut html = format!(
            "<p><b>identify_explainable_neurons</b>: {} rows, {} tests, BH FDR {}: {} significant pairs</p>",
            self.n_rows,
            self.n_tests,
            self.fdr,
            self.significant().len()
        );
        if let Ok(t) = self.table() {
            html.push_str(&t.to_html_rows(20));
        }
        if let Ok(t) = self.probe_table() {
            if t.height() > 0 {
                html.push_str("<p><b>Sparse probes</b> (blocked cross-validation: each contiguous block of the genome scored by a probe fit on the others)</p>");
                html.push_str(&t.to_html_rows(50));
            }
        }
        println!("EVCXR_BEGIN_CONTENT text/html\n{html}\nEVCXR_END_CONTENT");
    }
}

/// Activation track of chosen neurons along record `record` (positions `[from, to)`) with CDS
/// boxes beneath from `features`.
pub fn activation_track(
    states: &States,
    record: usize,
    neurons: &[(String, usize)],
    features: &[TrackFeature],
    from: usize,
    to: usize,
) -> Result<Figure> {
    let info = states
        .records
        .get(record)
        .ok_or_else(|| Error::Input(format!("no record {record}")))?;
    let rows: Vec<usize> = (info.row_offset..info.row_offset + info.n_rows)
        .filter(|&r| {
            let p = states.position[r] as usize + states.k - 1;
            p >= from && p < to
        })
        .collect();
    let pos: Vec<f64> = rows
        .iter()
        .map(|&r| (states.position[r] as usize + states.k - 1) as f64)
        .collect();
    let mut sig = Vec::new();
    for (layer, u) in neurons {
        let l = states
            .layer(layer)
            .ok_or_else(|| Error::Input(format!("no layer {layer}")))?;
        if *u >= l.units {
            return Err(Error::Input(format!("{layer} has {} units", l.units)));
        }
        sig.push((
            format!("{layer}/{u}"),
            rows.iter().map(|&r| l.row(r)[*u] as f64).collect(),
        ));
    }
    let feats: Vec<TrackFeature> = features
        .iter()
        .filter(|f| f.end > from && f.start < to)
        .cloned()
        .collect();
    Figure::track(
        &format!("{}: {}–{}", info.name, from, to),
        &pos,
        &sig,
        &feats,
    )
}
