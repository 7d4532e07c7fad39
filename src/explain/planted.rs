//! The planted-motif check of the interpretation pipeline: real motifs (e.g. JASPAR matrices)
//! planted into real genomic backgrounds, a classifier trained to tell which motif a window
//! carries, and the path attributions → seqlets → motifs → database match run with each
//! attribution method, scored by whether every planted motif comes back matched to its own
//! database entry at rank 1.
//!
//! ```
//! use genolm::data::fasta::read_fasta_bytes;
//! use genolm::explain::motifs::Pwm;
//! use genolm::explain::planted::{planted_motif_task, PlantOptions};
//! let fa = [b">chr\n".to_vec(), b"ACGTTGCAAGGCTTACGATTACAGGCATCGATCGGGCTAGCTAGGCTTTAAACGCG".repeat(20)].concat();
//! let bg = read_fasta_bytes(&fa, "mem")?.remove(0);
//! let gata = Pwm::from_counts("MA0035", &[[0., 0., 20., 0.], [20., 0., 0., 0.], [0., 0., 0., 20.], [20., 0., 0., 0.]]);
//! let task = planted_motif_task(&[bg], &[gata], &PlantOptions { length: 50, per_class: 10, seed: 1 })?;
//! assert_eq!(task.classes, vec!["background", "MA0035"]);
//! assert_eq!(task.items.len(), 20);
//! assert!(task.items.iter().filter(|x| x.label == 1).all(|x| x.origin.contains("MA0035@")));
//! # Ok::<(), genolm::Error>(())
//! ```

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::attribution::Attribution;
use super::methods::{attribute, AttributionMethod, MethodOptions};
use super::modisco::{discover_motifs, ModiscoOptions, MotifDiscovery};
use super::motifs::Pwm;
use crate::data::alphabet::revcomp;
use crate::data::fasta::SeqRecord;
use crate::data::tasks::{LabelledSeq, LabelledSet};

use crate::infer::Objective;
use crate::models::GenomicModel;
use crate::table::Table;
use crate::{Error, Result};

/// Options of [`planted_motif_task`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlantOptions {
    /// Window length.
    pub length: usize,
    /// Windows per class (background only, and one class per motif).
    pub per_class: usize,
    /// Seed of the windows, the sampled sites, their positions and strands.
    pub seed: u64,
}

impl Default for PlantOptions {
    fn default() -> Self {
        PlantOptions {
            length: 200,
            per_class: 500,
            seed: 0,
        }
    }
}

fn sample_site(m: &Pwm, rng: &mut ChaCha8Rng) -> Vec<u8> {
    m.probs
        .iter()
        .map(|c| {
            let t: f64 = c.iter().sum();
            let mut u = rng.random::<f64>() * t;
            for (i, &p) in c.iter().enumerate() {
                if u < p {
                    return b"ACGT"[i];
                }
                u -= p;
            }
            b'T'
        })
        .collect()
}

/// Windows of `backgrounds` (real genomes; windows with other letters than ACGT are
/// skipped): class 0 unchanged, class `i + 1` with one site sampled from `motifs[i]` planted
/// at a uniform position on a random strand. Origins read `contig:start-end MOTIF@pos±`.
pub fn planted_motif_task(
    backgrounds: &[SeqRecord],
    motifs: &[Pwm],
    opts: &PlantOptions,
) -> Result<LabelledSet> {
    let longest = motifs.iter().map(Pwm::len).max().unwrap_or(0);
    if opts.length <= longest {
        return Err(Error::Input(format!(
            "windows of {} bases cannot hold a motif of {longest}",
            opts.length
        )));
    }
    let usable: Vec<&SeqRecord> = backgrounds
        .iter()
        .filter(|r| r.seq.len() >= opts.length)
        .collect();
    if usable.is_empty() {
        return Err(Error::Input(format!(
            "no background sequence of at least {} bases",
            opts.length
        )));
    }
    let total: usize = usable.iter().map(|r| r.seq.len() - opts.length + 1).sum();
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut items = Vec::new();
    for class in 0..=motifs.len() {
        let mut made = 0;
        let mut tries = 0;
        while made < opts.per_class {
            tries += 1;
            if tries > 100 * opts.per_class + 1000 {
                return Err(Error::Input(
                    "backgrounds have too few windows of plain A/C/G/T".into(),
                ));
            }
            let mut k = rng.random_range(0..total);
            let rec = usable
                .iter()
                .find(|r| {
                    let n = r.seq.len() - opts.length + 1;
                    if k < n {
                        true
                    } else {
                        k -= n;
                        false
                    }
                })
                .expect("k < total");
            let mut w = rec.seq[k..k + opts.length].to_ascii_uppercase();
            if w.iter().any(|b| !b"ACGT".contains(b)) {
                continue;
            }
            let mut origin = format!("{}:{}-{}", rec.name, k, k + opts.length);
            if class > 0 {
                let m = &motifs[class - 1];
                let mut site = sample_site(m, &mut rng);
                let minus = rng.random::<bool>();
                if minus {
                    site = revcomp(&site);
                }
                let p = rng.random_range(0..=opts.length - m.len());
                w[p..p + m.len()].copy_from_slice(&site);
                origin.push_str(&format!(" {}@{}{}", m.id, p, if minus { '-' } else { '+' }));
            }
            items.push(LabelledSeq {
                seq: w,
                label: class as u32,
                origin,
            });
            made += 1;
        }
    }
    let mut classes = vec!["background".to_string()];
    classes.extend(motifs.iter().map(|m| m.id.clone()));
    Ok(LabelledSet { items, classes })
}

/// Options of [`motif_recovery`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecoveryOptions {
    /// Attribution methods compared.
    pub methods: Vec<AttributionMethod>,
    /// Windows attributed per planted class.
    pub per_class: usize,
    /// DeepSHAP references.
    pub references: usize,
    /// Integrated-gradient steps.
    pub steps: usize,
    /// Seqlets and clustering.
    pub modisco: ModiscoOptions,
    /// Seed of references and baselines.
    pub seed: u64,
}

impl Default for RecoveryOptions {
    fn default() -> Self {
        RecoveryOptions {
            methods: AttributionMethod::ALL.to_vec(),
            per_class: 60,
            references: 10,
            steps: 32,
            modisco: ModiscoOptions {
                n_matches: 10,
                ..Default::default()
            },
            seed: 0,
        }
    }
}

/// One planted motif under one attribution method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecoveryRow {
    /// Attribution method.
    pub method: String,
    /// The planted matrix's id and name.
    pub planted: String,
    /// Its name (e.g. the transcription factor).
    pub planted_name: String,
    /// The largest positive motif discovered in this motif's windows.
    pub motif: Option<String>,
    /// Its seqlets.
    pub seqlets: usize,
    /// Seqlets called in this motif's windows (both signs).
    pub seqlets_called: usize,
    /// Its consensus.
    pub consensus: String,
    /// Its best database match (id, name, p, q).
    pub best_match: String,
    /// Name of the best match.
    pub best_match_name: String,
    /// Tomtom p of the best match.
    pub p: f64,
    /// Tomtom q of the best match.
    pub q: f64,
    /// Rank of the planted matrix id among the matches (1 = best), if in the kept matches.
    pub rank: Option<usize>,
    /// Rank of the first match with the planted name (several JASPAR matrices share a name).
    pub rank_by_name: Option<usize>,
    /// Seconds spent attributing and discovering (this method, this motif's windows).
    pub seconds: f64,
}

impl RecoveryRow {
    /// Recovered: the planted matrix (or another matrix of the same factor) is the best match.
    pub fn recovered(&self) -> bool {
        self.rank == Some(1) || self.rank_by_name == Some(1)
    }
}

/// What [`motif_recovery`] found with each method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MotifRecovery {
    /// One row per method and planted motif.
    pub rows: Vec<RecoveryRow>,
    /// Each method's discovery per planted motif (`method`: `deepshap-MA0139.2`, …).
    pub discoveries: Vec<MotifDiscovery>,
}

/// Run attributions → seqlets → motifs → database match with each method on the windows of
/// `task` that carry a planted motif (`planted[i]` is class `i + 1`), explaining the logit of
/// each window's own class. As TF-MoDISco runs per task, motifs are discovered per class (one
/// output explained at a time; a strong class would otherwise set the seqlet threshold for
/// all), and for each planted motif the row reports its class's largest positive motif and
/// where the planted database entry ranks among that motif's matches.
pub fn motif_recovery(
    model: &GenomicModel,
    task: &LabelledSet,
    planted: &[Pwm],
    db: &[Pwm],
    opts: &RecoveryOptions,
) -> Result<MotifRecovery> {
    if !task
        .items
        .iter()
        .any(|x| x.label >= 1 && (x.label as usize) <= planted.len())
    {
        return Err(Error::Input("no window with a planted motif".into()));
    }
    let mut rows = Vec::new();
    let mut discoveries = Vec::new();
    for &method in &opts.methods {
        for (i, p) in planted.iter().enumerate() {
            let class = i as u32 + 1;
            let t0 = std::time::Instant::now();
            let attrs: Vec<Attribution> = task
                .items
                .iter()
                .filter(|x| x.label == class)
                .take(opts.per_class)
                .map(|x| {
                    attribute(
                        model,
                        &x.seq,
                        &MethodOptions {
                            method,
                            objective: Objective::Class(class as usize),
                            references: opts.references,
                            steps: opts.steps,
                            seed: opts.seed,
                        },
                    )
                })
                .collect::<Result<_>>()?;
            let mut found = discover_motifs(&attrs, db, &opts.modisco)?;
            found.method = format!("{}-{}", method.name(), p.id);
            let seconds = t0.elapsed().as_secs_f64();
            let best = found
                .motifs
                .iter()
                .filter(|m| m.id.starts_with("pos"))
                .max_by_key(|m| m.n_seqlets);
            let top = best.and_then(|m| m.matches.first());
            rows.push(RecoveryRow {
                method: method.name().into(),
                planted: p.id.clone(),
                planted_name: p.name.clone(),
                motif: best.map(|m| m.id.clone()),
                seqlets: best.map_or(0, |m| m.n_seqlets),
                seqlets_called: found.calls.seqlets.len(),
                consensus: best.map(|m| m.pwm.consensus()).unwrap_or_default(),
                best_match: top.map(|x| x.target.clone()).unwrap_or_default(),
                best_match_name: top.map(|x| x.target_name.clone()).unwrap_or_default(),
                p: top.map_or(f64::NAN, |x| x.p),
                q: top.map_or(f64::NAN, |x| x.q),
                rank: best
                    .and_then(|m| m.matches.iter().position(|x| x.target == p.id))
                    .map(|r| r + 1),
                rank_by_name: best
                    .and_then(|m| {
                        m.matches.iter().position(|x| {
                            !p.name.is_empty() && x.target_name.eq_ignore_ascii_case(&p.name)
                        })
                    })
                    .map(|r| r + 1),
                seconds,
            });
            discoveries.push(found);
        }
    }
    Ok(MotifRecovery { rows, discoveries })
}

impl MotifRecovery {
    /// One row per method and planted motif.
    pub fn table(&self) -> Result<Table> {
        use polars::prelude::*;
        let r = &self.rows;
        let s = |f: &dyn Fn(&RecoveryRow) -> String| -> Vec<String> { r.iter().map(f).collect() };
        let rank = |f: &dyn Fn(&RecoveryRow) -> Option<usize>| -> Vec<Option<u32>> {
            r.iter().map(|x| f(x).map(|v| v as u32)).collect()
        };
        let df = DataFrame::new(
            r.len(),
            vec![
                Column::new("method".into(), s(&|x| x.method.clone())),
                Column::new(
                    "planted".into(),
                    s(&|x| format!("{} {}", x.planted, x.planted_name)),
                ),
                Column::new("motif".into(), s(&|x| x.motif.clone().unwrap_or_default())),
                Column::new(
                    "seqlets".into(),
                    r.iter().map(|x| x.seqlets as u32).collect::<Vec<_>>(),
                ),
                Column::new(
                    "seqlets_called".into(),
                    r.iter()
                        .map(|x| x.seqlets_called as u32)
                        .collect::<Vec<_>>(),
                ),
                Column::new("consensus".into(), s(&|x| x.consensus.clone())),
                Column::new(
                    "best_match".into(),
                    s(&|x| format!("{} {}", x.best_match, x.best_match_name)),
                ),
                Column::new("p".into(), r.iter().map(|x| x.p).collect::<Vec<_>>()),
                Column::new("q".into(), r.iter().map(|x| x.q).collect::<Vec<_>>()),
                Column::new("rank".into(), rank(&|x| x.rank)),
                Column::new("rank_by_name".into(), rank(&|x| x.rank_by_name)),
                Column::new(
                    "recovered".into(),
                    r.iter().map(|x| x.recovered()).collect::<Vec<_>>(),
                ),
                Column::new(
                    "seconds".into(),
                    r.iter().map(|x| x.seconds).collect::<Vec<_>>(),
                ),
            ],
        )?;
        Ok(Table::new("motif_recovery", df))
    }

    /// evcxr display: the table.
    pub fn evcxr_display(&self) {
        if let Ok(t) = self.table() {
            t.evcxr_display();
        }
    }
}
