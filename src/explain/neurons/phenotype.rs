//! Phenotype association: per-genome summaries of neuron states against a genome-level trait.

use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::infer::States;
use crate::stats;
use crate::table::Table;
use crate::{Error, Result};

/// How neuron summaries of whole genomes relate to per-genome traits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Summary {
    /// Mean activation over the genome.
    #[default]
    Mean,
    /// Maximum activation.
    Max,
}

/// Phenotype association: summarise each genome's states (mean or max per neuron of `layer`)
/// and correlate with each trait across genomes (Pearson, BH-corrected). `traits` are
/// `(name, one value per genome)`. Returns a table ranked by |r|.
pub fn phenotype_association(
    genomes: &[(String, &States)],
    layer: &str,
    traits: &[(String, Vec<f64>)],
    summary: Summary,
) -> Result<Table> {
    let g = genomes.len();
    if g < 3 {
        return Err(Error::Input(
            "phenotype association needs at least 3 genomes".into(),
        ));
    }
    let mut summ: Vec<Vec<f32>> = Vec::new();
    for (name, st) in genomes {
        let l = st
            .layer(layer)
            .ok_or_else(|| Error::Input(format!("{name}: no layer {layer}")))?;
        summ.push(match summary {
            Summary::Mean => l.mean(),
            Summary::Max => (0..l.units)
                .map(|u| l.unit(u).into_iter().fold(f32::NEG_INFINITY, f32::max))
                .collect(),
        });
    }
    let units = summ[0].len();
    let mut rows = Vec::new();
    for (tn, tv) in traits {
        if tv.len() != g {
            return Err(Error::Shape(format!(
                "trait {tn} has {} values for {g} genomes",
                tv.len()
            )));
        }
        let y: Vec<f32> = tv.iter().map(|&v| v as f32).collect();
        for u in 0..units {
            let x: Vec<f32> = summ.iter().map(|s| s[u]).collect();
            let (r, p) = stats::pearson(&x, &y);
            rows.push((format!("{layer}/{u}"), tn.clone(), r, p));
        }
    }
    let q = stats::benjamini_hochberg(&rows.iter().map(|r| r.3).collect::<Vec<_>>());
    let mut idx: Vec<usize> = (0..rows.len()).collect();
    idx.sort_by(|&a, &b| rows[b].2.abs().total_cmp(&rows[a].2.abs()));
    let df = DataFrame::new(
        rows.len(),
        vec![
            Column::new(
                "neuron".into(),
                idx.iter().map(|&i| rows[i].0.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "trait".into(),
                idx.iter().map(|&i| rows[i].1.clone()).collect::<Vec<_>>(),
            ),
            Column::new(
                "r".into(),
                idx.iter().map(|&i| rows[i].2).collect::<Vec<_>>(),
            ),
            Column::new(
                "p".into(),
                idx.iter().map(|&i| rows[i].3).collect::<Vec<_>>(),
            ),
            Column::new("q_bh".into(), idx.iter().map(|&i| q[i]).collect::<Vec<_>>()),
        ],
    )?;
    Ok(Table::new("phenotype_association", df))
}
