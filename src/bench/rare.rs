//! **Rare species**: LM quality on held-out genomes of species with **no** genome in training
//! ("unseen species", the rare ones: a species is rare for a model when it contributed nothing
//! to its training data) versus held-out genomes of species that **are** represented in
//! training by another strain ("seen species"). One row per group and kingdom; the gap
//! between the two is how much the model leans on having seen the species.

use std::time::Instant;

use super::score::{lm_row, tally_genomes};
use super::{BenchContext, Outcome, KINGDOMS};
use crate::Result;

/// Is the species of held-out genome `g` represented in training?
pub fn species_seen(ctx: &BenchContext, g: usize) -> bool {
    let sp = &ctx.corpus.genomes[g].meta.species;
    ctx.train
        .iter()
        .any(|&t| &ctx.corpus.genomes[t].meta.species == sp)
}

/// The task.
pub fn run(ctx: &BenchContext) -> Result<Outcome> {
    let mut rows = Vec::new();
    for k in KINGDOMS {
        let held = ctx.held_out_of(k);
        for (seen, name) in [(false, "unseen_species"), (true, "seen_species")] {
            let g: Vec<usize> = held
                .iter()
                .copied()
                .filter(|&i| species_seen(ctx, i) == seen)
                .collect();
            if g.is_empty() {
                continue;
            }
            let t0 = Instant::now();
            let t = tally_genomes(ctx, &g)?;
            if t.n > 0 {
                let ids = g.iter().map(|&i| ctx.id(i)).collect();
                rows.push(lm_row(
                    ctx,
                    "rare_species",
                    format!("{}_{name}", k.as_str()),
                    &t,
                    ids,
                    t0.elapsed().as_secs_f64(),
                ));
            }
        }
    }
    Ok(Outcome::from_rows(rows))
}
