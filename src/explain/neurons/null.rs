//! Nulls: what "the best neuron" reaches when nothing can be explained — targets permuted
//! ([`shuffle_targets`]) or circularly shifted ([`shift_null`]), scored by [`best_effects`].

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::{analysed_layers, check_lengths, neurons_of, NeuronOptions, Target};
use crate::infer::States;
use crate::stats;
use crate::{Error, Result};

/// Permute every target's values (seeded): the null where no neuron can be explained.
pub fn shuffle_targets(targets: &[Target], seed: u64) -> Vec<Target> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    targets
        .iter()
        .map(|t| {
            let mut v = t.values.clone();
            v.shuffle(&mut rng);
            Target::new(format!("{}_shuffled", t.name), v)
        })
        .collect()
}

/// A null distribution that keeps the autocorrelation of genomes: the target is circularly
/// shifted by `n_shifts` seeded offsets (each at least 10 % of the rows away) and, for each
/// shift, the best effect (`|AUROC − 0.5|`, or `|r|`) over all neurons is recorded. The
/// fraction of shifts whose best effect reaches an observed one is an empirical p-value that,
/// unlike the per-row tests, does not assume independent positions.
pub fn shift_null(
    states: &States,
    target: &Target,
    opts: &NeuronOptions,
    n_shifts: usize,
    seed: u64,
) -> Result<Vec<f64>> {
    let n = target.values.len();
    if n < 10 {
        return Err(Error::Input("too few rows for a shift null".into()));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let sets: Vec<Vec<Target>> = (0..n_shifts)
        .map(|_| vec![target.shifted(rng.random_range(n / 10..n - n / 10))])
        .collect();
    Ok(best_effects(states, &sets, opts)?
        .into_iter()
        .map(|v| v[0])
        .collect())
}

/// For each set of targets, each target's best effect over every neuron: `|AUROC − 0.5|` for a
/// binary target, `|r|` for a real-valued one — the effect of
/// `identify_explainable_neurons(states, set, opts).top(target, 1)`, to the bit, without the
/// thresholds, p-values and probes a null does not need. The layers are smoothed and each
/// neuron's ranks computed once for all sets (the sets move the targets, not the states), so
/// five shifted copies of 21 targets cost little more than one.
///
/// ```
/// use genolm::explain::neurons::{best_effects, NeuronOptions, Target};
/// use genolm::infer::{LayerStates, RecordInfo, States};
/// let target: Vec<f32> = (0..200).map(|i| ((i / 20) % 2) as f32).collect();
/// let data: Vec<f32> = (0..200).map(|i| target[i] + 0.1 * ((i % 3) as f32)).collect();
/// let states = States { k: 1, stride: 1, every: 1,
///     layers: vec![LayerStates { name: "lstm.0".into(), units: 1, data }],
///     records: vec![RecordInfo { name: "x".into(), length: 200, row_offset: 0, n_rows: 200 }],
///     sequences: vec![vec![b'A'; 200]], record: vec![0; 200], position: (0..200).collect() };
/// let shifted = Target::new("CDS", (0..200).map(|i| target[(i + 10) % 200]).collect());
/// let e = best_effects(&states, &[vec![Target::new("CDS", target)], vec![shifted]], &NeuronOptions::default())?;
/// assert_eq!(e[0][0], 0.5);   // the neuron separates the target perfectly
/// assert!(e[1][0] < 0.1);     // shifted by half a period it says nothing
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn best_effects(
    states: &States,
    sets: &[Vec<Target>],
    opts: &NeuronOptions,
) -> Result<Vec<Vec<f64>>> {
    for set in sets {
        check_lengths(set, states.n_rows())?;
    }
    let mut smoothed = Vec::new();
    let layers = analysed_layers(states, opts, &mut smoothed)?;
    let bins: Vec<Vec<Option<Vec<bool>>>> = sets
        .iter()
        .map(|set| set.iter().map(Target::labels).collect())
        .collect();
    let neurons = neurons_of(&layers);
    // the larger effect in `f64::total_cmp`'s order: the order `NeuronReport` sorts by
    let better = |a: f64, b: f64| if b.total_cmp(&a).is_gt() { b } else { a };
    let fold = |mut best: Vec<Vec<f64>>, &(li, u): &(usize, usize)| {
        let x = layers[li].unit(u);
        let mut order: Vec<usize> = (0..x.len()).collect();
        order.sort_unstable_by(|&a, &b| x[a].total_cmp(&x[b]));
        let (rk, ties) = stats::ranks_sorted(&x, &order);
        for ((set, b), out) in sets.iter().zip(&bins).zip(best.iter_mut()) {
            for ((t, b), o) in set.iter().zip(b).zip(out.iter_mut()) {
                let auroc = b
                    .as_ref()
                    .map_or(f64::NAN, |lab| stats::auroc_from_ranks(&rk, ties, lab).0);
                let e = if auroc.is_finite() {
                    (auroc - 0.5).abs()
                } else {
                    stats::pearson(&x, &t.values).0.abs()
                };
                *o = better(*o, e);
            }
        }
        best
    };
    let start = || -> Vec<Vec<f64>> {
        sets.iter()
            .map(|s| vec![f64::NEG_INFINITY; s.len()])
            .collect()
    };
    Ok(neurons.par_iter().fold(start, fold).reduce(start, |a, b| {
        a.into_iter()
            .zip(b)
            .map(|(x, y)| x.into_iter().zip(y).map(|(p, q)| better(p, q)).collect())
            .collect()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::neurons::identify_explainable_neurons;
    use crate::infer::{LayerStates, RecordInfo};

    /// Two layers of noisy neurons over two records, a binary target in blocks (some neurons
    /// follow it), a real-valued one, and ties (activations rounded to a few levels).
    fn example() -> (States, Vec<Target>) {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let n = 600;
        let cds: Vec<f32> = (0..n).map(|i| ((i / 70) % 2) as f32).collect();
        let gc: Vec<f32> = (0..n).map(|i| ((i as f32) / 50.0).sin()).collect();
        let layer = |name: &str, units: usize, rng: &mut ChaCha8Rng| LayerStates {
            name: name.into(),
            units,
            data: (0..n)
                .flat_map(|i| (0..units).map(move |u| (i, u)))
                .map(|(i, u)| {
                    let signal = if u % 3 == 0 { cds[i] } else { 0.0 }
                        + if u % 4 == 1 { gc[i] } else { 0.0 };
                    ((signal + rng.random_range(-1.0f32..1.0)) * 4.0).round() / 4.0
                })
                .collect(),
        };
        let layers = vec![layer("lstm.0", 7, &mut rng), layer("lstm.1", 5, &mut rng)];
        let states = States {
            k: 1,
            stride: 1,
            every: 1,
            layers,
            records: vec![
                RecordInfo {
                    name: "a".into(),
                    length: 250,
                    row_offset: 0,
                    n_rows: 250,
                },
                RecordInfo {
                    name: "b".into(),
                    length: 350,
                    row_offset: 250,
                    n_rows: 350,
                },
            ],
            sequences: vec![vec![b'A'; 250], vec![b'C'; 350]],
            record: (0..n).map(|i| (i >= 250) as u32).collect(),
            position: (0..n as u64)
                .map(|i| if i < 250 { i } else { i - 250 })
                .collect(),
        };
        (states, vec![Target::new("CDS", cds), Target::new("gc", gc)])
    }

    #[test]
    fn best_effects_are_the_reports_top_effects_to_the_bit() {
        let (states, targets) = example();
        for smooth in [1, 9] {
            let opts = NeuronOptions {
                smooth,
                probe: false,
                ..Default::default()
            };
            let sets: Vec<Vec<Target>> = [0, 77, 301]
                .iter()
                .map(|&off| targets.iter().map(|t| t.shifted(off)).collect())
                .collect();
            let fast = best_effects(&states, &sets, &opts).unwrap();
            for (set, got) in sets.iter().zip(&fast) {
                let rep = identify_explainable_neurons(&states, set, &opts).unwrap();
                for (t, &e) in set.iter().zip(got) {
                    assert_eq!(
                        e,
                        rep.top(&t.name, 1)[0].effect(),
                        "{} smooth {smooth}",
                        t.name
                    );
                }
            }
            // unshifted, some neurons follow both targets; shifted, the effects shrink
            assert!(fast[0][0] > 0.2 && fast[0][1] > 0.2, "{fast:?}");
        }
    }

    #[test]
    fn embeddings_are_not_neurons_on_either_strand() {
        let (mut states, targets) = example();
        let copy = |name: &str| LayerStates {
            name: name.into(),
            ..states.layers[0].clone()
        };
        let extra = [
            "embed",
            "rc.embed",
            "log_probs",
            "rc.log_probs",
            "rc.lstm.0",
        ]
        .map(copy);
        states.layers.extend(extra);
        let rep =
            identify_explainable_neurons(&states, &targets, &NeuronOptions::default()).unwrap();
        let mut layers: Vec<&str> = rep.scores.iter().map(|s| s.layer.as_str()).collect();
        layers.sort_unstable();
        layers.dedup();
        assert_eq!(layers, ["lstm.0", "lstm.1", "rc.lstm.0"]);
    }

    #[test]
    fn shift_null_is_one_best_effect_per_shift() {
        let (states, targets) = example();
        let opts = NeuronOptions::default();
        let null = shift_null(&states, &targets[0], &opts, 4, 5).unwrap();
        assert_eq!(null.len(), 4);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for &e in &null {
            let off = rng.random_range(60..540);
            let rep =
                identify_explainable_neurons(&states, &[targets[0].shifted(off)], &opts).unwrap();
            assert_eq!(e, rep.top("CDS", 1)[0].effect());
        }
        assert!(shift_null(&states, &Target::new("x", vec![0.0; 5]), &opts, 3, 1).is_err());
    }
}
