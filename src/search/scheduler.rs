//! Which job a worker takes next: ASHA, asynchronous Hyperband or random search, decided from
//! the folder's state alone (every worker decides for itself, under the folder's lock).

use super::folder::{TrialParams, TrialState};
use super::space::{Method, SearchSpec};

/// What a worker does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Job {
    /// Train `trial` up to rung `rung` (creating it first when `new` is given).
    Run {
        /// Trial.
        trial: usize,
        /// Rung to reach.
        rung: usize,
        /// A trial to create.
        new: Option<TrialParams>,
    },
    /// Nothing to start now; running jobs may make promotions possible.
    Wait,
    /// The search is finished.
    Done,
}

fn committed(spec: &SearchSpec, t: &TrialState) -> usize {
    let top = t.results.keys().chain(t.claims.keys()).max().copied();
    top.map(|r| spec.search.budget(r)).unwrap_or(0)
}

/// Optimizer steps spent or being spent by all trials.
pub fn steps_committed(spec: &SearchSpec, trials: &[TrialState]) -> usize {
    trials.iter().map(|t| committed(spec, t)).sum()
}

/// The next job for a free worker.
///
/// 1. A job whose worker died is taken over (it resumes from the trial's checkpoint).
/// 2. ASHA / Hyperband: the best `1/eta` of a rung (within the trial's bracket), highest rung
///    first, are promoted as soon as they are known.
/// 3. Otherwise a new trial starts at its bracket's first rung (random search: at the top).
///
/// Jobs that would take the search past `total_budget` steps are not started.
pub fn next_job(spec: &SearchSpec, trials: &[TrialState]) -> Job {
    let o = &spec.search;
    let k = o.top_rung();
    for t in trials {
        if let Some((&rung, _)) = t.claims.iter().find(|(_, (_, dead))| *dead) {
            return Job::Run {
                trial: t.params.id,
                rung,
                new: None,
            };
        }
    }
    let spent = steps_committed(spec, trials);
    let fits = |extra: usize| o.total_budget == 0 || spent + extra <= o.total_budget;
    if o.method != Method::Random {
        let brackets = if o.method == Method::Hyperband {
            k + 1
        } else {
            1
        };
        for b in 0..brackets {
            for rung in (b..k).rev() {
                let mut done: Vec<&TrialState> = trials
                    .iter()
                    .filter(|t| t.params.bracket == b && t.results.contains_key(&rung))
                    .collect();
                done.sort_by(|x, y| {
                    x.results[&rung]
                        .valid_loss
                        .total_cmp(&y.results[&rung].valid_loss)
                });
                for t in done.iter().take(done.len() / o.eta) {
                    let up = rung + 1;
                    if t.results.contains_key(&up) || t.claims.contains_key(&up) {
                        continue;
                    }
                    if fits(o.budget(up) - committed(spec, t)) {
                        return Job::Run {
                            trial: t.params.id,
                            rung: up,
                            new: None,
                        };
                    }
                }
            }
        }
    }
    let id = trials.len();
    let bracket = match o.method {
        Method::Asha => 0,
        Method::Hyperband => id % (k + 1),
        Method::Random => k,
    };
    if id < o.max_trials && fits(o.budget(bracket)) {
        return Job::Run {
            trial: id,
            rung: bracket,
            new: Some(TrialParams {
                id,
                bracket,
                params: spec.sample(id),
            }),
        };
    }
    if trials.iter().any(|t| !t.claims.is_empty()) {
        Job::Wait
    } else {
        Job::Done
    }
}

#[cfg(test)]
mod tests {
    use super::super::folder::{Claim, RungResult};
    use super::*;
    use std::collections::BTreeMap;

    fn spec(method: &str, total: usize) -> SearchSpec {
        SearchSpec::from_toml_str(&format!(
            "[search]\nmethod = \"{method}\"\nmin_budget = 10\nmax_budget = 90\neta = 3\n\
             total_budget = {total}\nmax_trials = 50\n[base.model]\npreset = \"tiny\"\n\
             [space]\n\"train.lr\" = {{ log_uniform = [1e-3, 1e-1] }}\n"
        ))
        .unwrap()
    }

    /// Simulate workers that finish jobs in order, with a loss that depends on the trial id.
    fn simulate(s: &SearchSpec) -> Vec<TrialState> {
        let mut trials: Vec<TrialState> = Vec::new();
        loop {
            match next_job(s, &trials) {
                Job::Run { trial, rung, new } => {
                    if let Some(p) = new {
                        trials.push(TrialState {
                            params: p,
                            results: BTreeMap::new(),
                            claims: BTreeMap::new(),
                        });
                    }
                    let loss = 1.0 + ((trial * 7) % 11) as f64 / 10.0 - rung as f64 * 0.1;
                    trials[trial].results.insert(
                        rung,
                        RungResult {
                            trial,
                            rung,
                            steps: s.search.budget(rung),
                            valid_loss: loss,
                            seconds: 0.0,
                            worker: "sim".into(),
                        },
                    );
                }
                Job::Wait => panic!("nothing runs, nothing to wait for"),
                Job::Done => return trials,
            }
        }
    }

    #[test]
    fn asha_promotes_the_best_third_within_the_budget() {
        let s = spec("asha", 900);
        let t = simulate(&s);
        assert!(steps_committed(&s, &t) <= 900);
        let at = |r| t.iter().filter(|x| x.results.contains_key(&r)).count();
        assert!(
            at(0) > at(1) && at(1) > at(2) && at(2) >= 1,
            "{} {} {}",
            at(0),
            at(1),
            at(2)
        );
        // every promoted trial was in the top third of its rung when promoted: the best
        // rung-0 trial reaches the top
        let best0 = t
            .iter()
            .min_by(|a, b| {
                a.results[&0]
                    .valid_loss
                    .total_cmp(&b.results[&0].valid_loss)
            })
            .unwrap();
        assert!(best0.results.contains_key(&2));
    }

    #[test]
    fn random_search_trains_every_trial_to_the_top() {
        let s = spec("random", 450);
        let t = simulate(&s);
        assert_eq!(t.len(), 5);
        assert!(t.iter().all(|x| x.results.keys().eq([2usize].iter())));
    }

    #[test]
    fn hyperband_fills_every_bracket_and_dead_claims_are_taken_over() {
        let s = spec("hyperband", 1500);
        let t = simulate(&s);
        for b in 0..3 {
            assert!(t
                .iter()
                .any(|x| x.params.bracket == b && x.results.contains_key(&b)));
        }
        let mut t2 = t.clone();
        t2[1].claims.insert(
            5,
            (
                Claim {
                    worker: "w".into(),
                    host: "h".into(),
                    pid: 1,
                },
                true,
            ),
        );
        assert_eq!(
            next_job(&s, &t2),
            Job::Run {
                trial: 1,
                rung: 5,
                new: None
            }
        );
        t2[1].claims.get_mut(&5).unwrap().1 = false;
        assert_eq!(next_job(&s, &t2), Job::Wait, "a live claim: wait for it");
    }
}
