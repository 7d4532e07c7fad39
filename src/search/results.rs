//! What a search found: the trials table, the best configuration as a run file, the loss
//! against budget of every trial, and which parameters matter.

use std::path::Path;

use polars::prelude::*;

use super::folder::{SearchDir, TrialState};
use super::scheduler::steps_committed;
use super::space::SearchSpec;
use crate::plot::{Figure, Series};
use crate::table::Table;
use crate::train::run::RunConfig;
use crate::Result;

/// A search folder's trials and what they show.
#[derive(Debug, Clone)]
pub struct SearchResults {
    /// The search file.
    pub spec: SearchSpec,
    /// Every trial.
    pub trials: Vec<TrialState>,
}

fn value_string(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Float(f) => format!("{f:.4e}"),
        other => other.to_string(),
    }
}

impl SearchResults {
    /// Read the search in `root` (finished or still running).
    pub fn load(root: &Path) -> Result<Self> {
        let dir = SearchDir::new(root);
        let spec = SearchSpec::from_file(&dir.spec_path())?;
        let trials = dir.scan(spec.search.stale_after_s)?;
        Ok(SearchResults { spec, trials })
    }

    /// Optimizer steps trained (or being trained) over all trials.
    pub fn steps(&self) -> usize {
        steps_committed(&self.spec, &self.trials)
    }

    /// Trials ranked best first: highest rung reached, then lowest validation loss there.
    pub fn ranked(&self) -> Vec<&TrialState> {
        let mut v: Vec<&TrialState> = self.trials.iter().filter(|t| t.last().is_some()).collect();
        v.sort_by(|a, b| {
            let (ra, rb) = (a.last().expect("kept"), b.last().expect("kept"));
            rb.rung
                .cmp(&ra.rung)
                .then(ra.valid_loss.total_cmp(&rb.valid_loss))
        });
        v
    }

    /// The best trial.
    pub fn best(&self) -> Option<&TrialState> {
        self.ranked().into_iter().next()
    }

    /// The best trial's run file, trained with the search's whole `max_budget`, output `output`.
    pub fn best_config(&self, output: &Path) -> Result<Option<RunConfig>> {
        let o = &self.spec.search;
        self.best()
            .map(|t| {
                self.spec.run_config(
                    &t.params.params,
                    output,
                    o.max_budget / o.min_budget,
                    o.min_budget,
                )
            })
            .transpose()
    }

    /// One row per trial: id, bracket, every parameter, the validation loss at each rung,
    /// the highest rung, its steps and loss, and the rank.
    pub fn table(&self) -> Result<Table> {
        let k = self.spec.search.top_rung();
        let ranked: Vec<usize> = self.ranked().iter().map(|t| t.params.id).collect();
        let t = &self.trials;
        let mut cols: Vec<Column> = vec![
            Column::new(
                "trial".into(),
                t.iter().map(|x| x.params.id as u64).collect::<Vec<_>>(),
            ),
            Column::new(
                "bracket".into(),
                t.iter()
                    .map(|x| x.params.bracket as u64)
                    .collect::<Vec<_>>(),
            ),
        ];
        for key in self.spec.space.keys() {
            cols.push(Column::new(
                key.as_str().into(),
                t.iter()
                    .map(|x| value_string(&x.params.params[key]))
                    .collect::<Vec<_>>(),
            ));
        }
        for r in 0..=k {
            cols.push(Column::new(
                format!("loss@{}", self.spec.search.budget(r)).into(),
                t.iter()
                    .map(|x| x.results.get(&r).map(|v| v.valid_loss).unwrap_or(f64::NAN))
                    .collect::<Vec<_>>(),
            ));
        }
        cols.push(Column::new(
            "steps".into(),
            t.iter()
                .map(|x| x.last().map(|v| v.steps as u64).unwrap_or(0))
                .collect::<Vec<_>>(),
        ));
        cols.push(Column::new(
            "valid_loss".into(),
            t.iter()
                .map(|x| x.last().map(|v| v.valid_loss).unwrap_or(f64::NAN))
                .collect::<Vec<_>>(),
        ));
        cols.push(Column::new(
            "rank".into(),
            t.iter()
                .map(|x| {
                    ranked
                        .iter()
                        .position(|&i| i == x.params.id)
                        .map(|p| p as u64 + 1)
                })
                .collect::<Vec<_>>(),
        ));
        Ok(Table::new("trials", DataFrame::new(t.len(), cols)?))
    }

    /// Validation loss against optimizer steps, one line per trial (the five best named).
    pub fn plot_budget(&self) -> Result<Figure> {
        let best: Vec<usize> = self.ranked().iter().take(5).map(|t| t.params.id).collect();
        let mut series: Vec<Series> = Vec::new();
        for t in &self.trials {
            let pts: Vec<(f64, f64)> = t
                .results
                .values()
                .filter(|r| r.valid_loss < f64::MAX)
                .map(|r| (r.steps as f64, r.valid_loss))
                .collect();
            if pts.is_empty() {
                continue;
            }
            let name = if best.contains(&t.params.id) {
                format!("trial {}", t.params.id)
            } else {
                String::new()
            };
            series.push(Series::from_points(name, &pts));
        }
        Figure::lines(
            &format!(
                "{:?} search: validation loss vs budget",
                self.spec.search.method
            ),
            "optimizer steps",
            "validation loss (nats/token)",
            &series,
            &[],
        )
    }

    /// Which parameters matter: for each, the share of the variance of the first-rung
    /// validation loss explained by it (η² of a one-way ANOVA; real values in three
    /// quantile bins), over the trials that finished their first rung.
    pub fn importance(&self) -> Vec<(String, f64)> {
        let rows: Vec<(&TrialState, f64)> = self
            .trials
            .iter()
            .filter_map(|t| {
                let r = t.results.get(&t.params.bracket)?;
                (r.valid_loss < f64::MAX).then_some((t, r.valid_loss))
            })
            .collect();
        let n = rows.len() as f64;
        let mean = rows.iter().map(|r| r.1).sum::<f64>() / n.max(1.0);
        let total: f64 = rows.iter().map(|r| (r.1 - mean).powi(2)).sum();
        let mut out = Vec::new();
        for key in self.spec.space.keys() {
            let vals: Vec<&toml::Value> = rows.iter().map(|r| &r.0.params.params[key]).collect();
            let numeric: Option<Vec<f64>> = vals
                .iter()
                .map(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
                .collect();
            let groups: Vec<String> = match numeric {
                Some(x)
                    if {
                        let mut d = x.clone();
                        d.sort_by(f64::total_cmp);
                        d.dedup();
                        d.len() > 3
                    } =>
                {
                    let mut s = x.clone();
                    s.sort_by(f64::total_cmp);
                    let (q1, q2) = (s[s.len() / 3], s[2 * s.len() / 3]);
                    x.iter()
                        .map(|v| {
                            (if *v < q1 {
                                "a"
                            } else if *v < q2 {
                                "b"
                            } else {
                                "c"
                            })
                            .into()
                        })
                        .collect()
                }
                _ => vals.iter().map(|v| value_string(v)).collect(),
            };
            let mut between = 0.0;
            let mut seen: Vec<&String> = groups.iter().collect();
            seen.sort();
            seen.dedup();
            for g in seen {
                let m: Vec<f64> = rows
                    .iter()
                    .zip(&groups)
                    .filter(|(_, gg)| *gg == g)
                    .map(|(r, _)| r.1)
                    .collect();
                let gm = m.iter().sum::<f64>() / m.len() as f64;
                between += m.len() as f64 * (gm - mean).powi(2);
            }
            out.push((key.clone(), if total > 0.0 { between / total } else { 0.0 }));
        }
        out
    }

    /// [`importance`](Self::importance) as a bar chart.
    pub fn plot_importance(&self) -> Result<Figure> {
        let imp = self.importance();
        // `train.lr` → `lr` where the short names stay unique (they fit under the bars)
        let short: Vec<String> = imp
            .iter()
            .map(|x| {
                x.0.split_once('.')
                    .map_or(x.0.clone(), |(_, f)| f.to_string())
            })
            .collect();
        let unique = {
            let mut u = short.clone();
            u.sort();
            u.dedup();
            u.len() == short.len()
        };
        let labels: Vec<String> = if unique {
            short
        } else {
            imp.iter().map(|x| x.0.clone()).collect()
        };
        let values: Vec<f64> = imp.iter().map(|x| x.1).collect();
        Figure::bars(
            "Which parameters matter (first rung)",
            "share of loss variance (η²)",
            &labels,
            &values,
            None,
        )
    }

    /// Write `trials.csv`, `best.toml` (the best configuration as a run file, output
    /// `<root>/best`), `loss_vs_budget.svg` and `importance.svg` into `root`.
    pub fn write(&self, root: &Path) -> Result<()> {
        self.table()?.to_csv(root.join("trials.csv"))?;
        if let Some(cfg) = self.best_config(&root.join("best"))? {
            crate::fsio::atomic_write(&root.join("best.toml"), cfg.to_toml_string()?.as_bytes())?;
        }
        if !self.ranked().is_empty() {
            self.plot_budget()?.save(root.join("loss_vs_budget.svg"))?;
            self.plot_importance()?.save(root.join("importance.svg"))?;
        }
        Ok(())
    }

    /// A text summary: trials, steps, the best five.
    pub fn text(&self) -> String {
        let mut s = format!(
            "{:?} search: {} trials, {} optimizer steps\n",
            self.spec.search.method,
            self.trials.len(),
            self.steps()
        );
        for t in self.ranked().iter().take(5) {
            let r = t.last().expect("ranked trials have results");
            let p: Vec<String> = t
                .params
                .params
                .iter()
                .map(|(k, v)| format!("{k}={}", value_string(v)))
                .collect();
            s.push_str(&format!(
                "  trial {:>3}: valid_loss {:.4} after {} steps  {}\n",
                t.params.id,
                r.valid_loss,
                r.steps,
                p.join(" ")
            ));
        }
        s
    }

    /// evcxr display: the figures and the table.
    pub fn evcxr_display(&self) {
        if let Ok(f) = self.plot_budget() {
            f.evcxr_display();
        }
        if let Ok(t) = self.table() {
            t.evcxr_display();
        }
    }
}
