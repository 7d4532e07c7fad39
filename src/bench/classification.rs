//! **Sequence classification** (the ULMFiT tasks of seed 003): the LM's encoder gets a
//! classifier head and is trained with gradual unfreezing (stage 3 of ULMFiT, four cycles of
//! `classification_epochs`), then scored on held-out items with accuracy (arg-max), and
//! precision, recall, specificity, MCC, F1, AUROC and AUPRC (binary; macro one-vs-rest for
//! more classes). Tasks:
//! * `promoters`: the UCI E. coli promoter sequences (106 × 57 nt, shipped), by stratified
//!   `classification_folds`-fold cross-validation (5 by default: every item is tested once,
//!   [`evaluate_folds`]; 1 = one stratified 80/20 split, 22 test items);
//! * `promoters_genome`: the same 53 promoters against 53 random 57-nt windows of their own
//!   genome (E. coli K-12 MG1655), drawn with the seed from a shipped pool of 1 060
//!   (`scripts/promoters-genome.py`), by the same cross-validation — the UCI negatives are 53
//!   overlapping windows of one ≈ 1.2-kb sequence from outside the E. coli chromosome, so a
//!   test negative is mostly in the training negatives and the class is also "this one
//!   sequence or not";
//! * `splice_junctions`: primate splice junctions (Statlog's DNA set: 3 186 windows of 60 nt,
//!   exon→intron `ei`, intron→exon `ie`, neither `n`; shipped), stratified 80/20 of at most
//!   40 × `classification_items` of them — a task decided by what sits at which position of
//!   the window;
//! * `coding_vs_intergenic`: 99-nt windows entirely in CDS vs entirely intergenic, from a
//!   held-out annotated genome, stratified 80/20; read on both strands, as the reads are
//!   ([`strand_free`]);
//! * `read_kingdom`: kingdom (PRO/EUK/VIR) of 150-nt reads — trained on reads of the training
//!   genomes, tested on reads of held-out genomes (a transfer task: other species);
//! * `read_origin`: species of origin of 150-nt reads among every species of the corpus
//!   (modelled on seed 003's shotgun task) — trained on reads of the first 80 % of each contig,
//!   tested on reads of the last 20 %, so no test read overlaps a training read (seed 003's
//!   test reads came from the sequences its training reads covered: an easier task,
//!   docs/training.md).
//!
//! Baselines, all on the same training and test items: one Markov chain per class (order 2,
//! classifying by the posterior of the per-class likelihoods; the row's `baseline`), and in
//! `more_baselines` the supervised baselines of [`baselines`]: a k-mer
//! logistic regression and a one-hot CNN trained from scratch (accuracy and AUROC each); next
//! to them, `lm_generative`: the same LM as a classifier of another kind, one fine-tuned copy per
//! class scoring each item's likelihood ([`generative`](super::generative)).

use std::time::Instant;

use super::baselines;
use super::{BenchContext, BenchRow, Outcome, KINGDOMS};
use crate::data::tasks::{
    balanced_subsample, coding_vs_intergenic, stratified_folds, stratified_split,
    stratified_subsample, LabelledSeq, LabelledSet,
};
pub use crate::stats::class_metrics;
use crate::train::recipes::{classify, ClassifyOptions, UlmfitOptions};
use crate::Result;

/// The shipped UCI E. coli promoter set (`datasets/labelled/ecoli_promoters_uci.csv`).
pub const PROMOTERS_CSV: &[u8] = include_bytes!("../../datasets/labelled/ecoli_promoters_uci.csv");

/// The UCI promoters and a pool of 57-nt windows of their own genome, E. coli K-12 MG1655, 20
/// per promoter (`datasets/labelled/ecoli_promoters_genome.csv.gz`, gzip, built by
/// `scripts/promoters-genome.py`); the `promoters_genome` row draws as many windows as there
/// are promoters with each seed: the promoters task without the UCI negatives' construction
/// (53 overlapping windows of one ≈ 1.2-kb sequence from outside the E. coli chromosome,
/// docs/training.md).
pub const PROMOTERS_GENOME_CSV: &[u8] =
    include_bytes!("../../datasets/labelled/ecoli_promoters_genome.csv.gz");

/// The shipped primate splice junctions (`datasets/labelled/splice_junctions_statlog.csv.gz`,
/// gzip; [`splice_junctions`] reads them).
pub const SPLICE_CSV_GZ: &[u8] =
    include_bytes!("../../datasets/labelled/splice_junctions_statlog.csv.gz");

/// The shipped splice-junction windows and their classes (`ei`, `ie`, `n`).
///
/// ```
/// let set = genolm::bench::classification::splice_junctions()?;
/// assert_eq!(set.classes, ["ei", "ie", "n"]);
/// assert_eq!(set.items.len(), 3186);
/// // the donor site's GT follows every exon→intron junction (but a handful)
/// let gt = set.items.iter().filter(|x| x.label == 0 && &x.seq[30..32] == b"GT").count();
/// assert!(gt > 750);
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn splice_junctions() -> Result<LabelledSet> {
    shipped_set(SPLICE_CSV_GZ, "splice_junctions_statlog.csv.gz")
}

/// The shipped promoters and genome-window pool of the `promoters_genome` row
/// ([`PROMOTERS_GENOME_CSV`]; the row draws a balanced set from it with each seed).
pub fn promoters_genome() -> Result<LabelledSet> {
    shipped_set(PROMOTERS_GENOME_CSV, "ecoli_promoters_genome.csv.gz")
}

/// A labelled set embedded in the binary, plain or gzip.
fn shipped_set(bytes: &[u8], name: &str) -> Result<LabelledSet> {
    let csv = crate::data::io::decompress(bytes)
        .map_err(|e| crate::Error::parse(name, 0, e.to_string()))?;
    crate::data::tasks::parse_labelled(&csv, name)
}

/// Arg-max accuracy on the test items flagged `true` and on the others (NaN for an empty part).
fn split_accuracy<P: Copy + Into<f64>>(
    probs: &[Vec<P>],
    labels: &[u32],
    seen: &[bool],
) -> [f64; 2] {
    [true, false].map(|part| {
        let (p, l): (Vec<Vec<f64>>, Vec<u32>) = probs
            .iter()
            .zip(labels)
            .zip(seen)
            .filter(|(_, &s)| s == part)
            .map(|((p, &l), _)| (p.iter().map(|&v| v.into()).collect(), l))
            .unzip();
        if l.is_empty() {
            f64::NAN
        } else {
            crate::stats::accuracy(&p, &l)
        }
    })
}

/// Every method's class probabilities on the test items of one or more splits.
struct Scores {
    labels: Vec<u32>,
    /// The LM's classifier (ULMFiT stage 3).
    ulmfit: Vec<Vec<f64>>,
    /// The row's baseline: one Markov chain per class.
    markov: Vec<Vec<f64>>,
    /// The supervised baselines, then the class-conditional LMs (a causal LM's).
    others: super::baselines::NamedProbs,
}

impl Scores {
    /// Another split's test items after these (the same methods in the same order).
    fn append(&mut self, more: Scores) {
        self.labels.extend(more.labels);
        self.ulmfit.extend(more.ulmfit);
        self.markov.extend(more.markov);
        for ((_, p), (_, q)) in self.others.iter_mut().zip(more.others) {
            p.extend(q);
        }
    }
}

/// Fine-tune a classifier from the LM and score it (and the baseline) on `test`. With `seen`
/// (one flag per test item: does it come from a genome the LM trained on?), every method's
/// accuracy is also given on each part (`accuracy_seen`, `accuracy_unseen`).
pub fn evaluate_task(
    ctx: &BenchContext,
    name: &str,
    train: &[LabelledSeq],
    test: &[LabelledSeq],
    genomes: Vec<String>,
    seen: Option<&[bool]>,
) -> Result<BenchRow> {
    let t0 = Instant::now();
    let scores = score_split(ctx, name, train, test, n_classes(train.iter().chain(test)))?;
    Ok(row(name, scores, genomes, seen, t0))
}

/// [`evaluate_task`] by stratified `k`-fold cross-validation of `items`
/// ([`stratified_folds`]): every method trains `k` times, and the row's metrics are over the
/// pooled out-of-fold predictions, so every item is tested once (`n` = all items) — for a
/// set too small for an 80/20 split to measure much (106 promoters: 22 test items).
pub fn evaluate_folds(
    ctx: &BenchContext,
    name: &str,
    items: &[LabelledSeq],
    k: usize,
    genomes: Vec<String>,
) -> Result<BenchRow> {
    let t0 = Instant::now();
    let n_classes = n_classes(items.iter());
    let mut pooled: Option<Scores> = None;
    for (train, test) in stratified_folds(items, k, ctx.opts.seed) {
        let s = score_split(ctx, name, &train, &test, n_classes)?;
        match pooled.as_mut() {
            Some(p) => p.append(s),
            None => pooled = Some(s),
        }
    }
    let scores = pooled.ok_or_else(|| crate::Error::Config(format!("{name}: no items")))?;
    Ok(row(name, scores, genomes, None, t0))
}

fn n_classes<'a>(items: impl Iterator<Item = &'a LabelledSeq>) -> usize {
    items.map(|x| x.label as usize + 1).max().unwrap_or(1)
}

/// Every method on one split (one recipe for the LM classifier and every baseline; see
/// [`strand_free`]).
fn score_split(
    ctx: &BenchContext,
    name: &str,
    train: &[LabelledSeq],
    test: &[LabelledSeq],
    n_classes: usize,
) -> Result<Scores> {
    let seed = ctx.opts.seed;
    let opts = ClassifyOptions {
        ulmfit: UlmfitOptions {
            cls_epochs: ctx.opts.classification_epochs,
            cls_unfreezing: ctx.opts.classification_unfreezing,
            cls_lr_find: ctx.opts.classification_lr_find,
            ..UlmfitOptions::quiet(seed)
        },
        eval_batch_size: ctx.opts.batch_size.max(1),
        both_strands: strand_free(name),
        ..Default::default()
    };
    let fit = classify(ctx.model, train, test, &opts)?;
    let ulmfit = fit
        .probs
        .iter()
        .map(|r| r.iter().map(|&v| v as f64).collect())
        .collect();
    if ctx.opts.classification_head_only {
        return Ok(Scores {
            labels: test.iter().map(|x| x.label).collect(),
            ulmfit,
            markov: baselines::markov_per_class_probs(train, test, n_classes, opts.both_strands)?,
            others: Vec::new(),
        });
    }
    // the baselines on the same items: the Markov chains are the row's baseline, the
    // supervised ones go with the class-conditional LMs below
    let mut others = baselines::all_baselines(train, test, n_classes, &opts, ctx.model.device())?;
    let markov = others.remove(0).1;
    // a linear probe of the frozen model: what its representation knows without fine-tuning
    others.push((
        "lm_probe",
        super::probe::probe_probs(
            ctx.model,
            train,
            test,
            n_classes,
            &super::probe::ProbeOptions {
                both_strands: opts.both_strands,
                seed,
                eval_batch_size: opts.eval_batch_size,
                context: ctx.opts.classification_probe_context,
                ..Default::default()
            },
        )?,
    ));
    // class-conditional LMs score each item's likelihood: a causal LM's (an MLM has none)
    if ctx.model.config().causal() {
        others.push((
            "lm_generative",
            super::generative::generative_probs(
                ctx.model,
                train,
                test,
                n_classes,
                &super::generative::GenerativeOptions {
                    both_strands: opts.both_strands,
                    seed,
                    eval_batch_size: opts.eval_batch_size,
                    min_steps: ctx.opts.classification_generative_steps,
                    lr: ctx.opts.classification_generative_lr,
                    adapt_steps: ctx.opts.classification_generative_adapt_steps,
                    joint_steps: ctx.opts.classification_generative_joint_steps,
                    joint_lr: ctx.opts.classification_generative_joint_lr,
                    ..Default::default()
                },
            )?,
        ));
    }
    Ok(Scores {
        labels: test.iter().map(|x| x.label).collect(),
        ulmfit,
        markov,
        others,
    })
}

/// The benchmark row of `scores`.
fn row(
    name: &str,
    scores: Scores,
    genomes: Vec<String>,
    seen: Option<&[bool]>,
    t0: Instant,
) -> BenchRow {
    let labels = &scores.labels;
    let (acc, named) = class_metrics(&scores.ulmfit, labels);
    let (bacc, bnamed) = class_metrics(&scores.markov, labels);
    let mut extra: Vec<(String, f64, f64)> = named
        .iter()
        .zip(&bnamed)
        .map(|((n, v), (_, b))| (n.to_string(), *v, *b))
        .collect();
    if let Some(seen) = seen {
        let m = split_accuracy(&scores.ulmfit, labels, seen);
        let b = split_accuracy(&scores.markov, labels, seen);
        extra.push(("accuracy_seen".into(), m[0], b[0]));
        extra.push(("accuracy_unseen".into(), m[1], b[1]));
    }
    let mut more_baselines = Vec::new();
    for (name, probs) in &scores.others {
        let (a, m) = class_metrics(probs, labels);
        more_baselines.push((format!("{name} accuracy"), a));
        if let Some(seen) = seen {
            let [s, u] = split_accuracy(probs, labels, seen);
            more_baselines.push((format!("{name} accuracy_seen"), s));
            more_baselines.push((format!("{name} accuracy_unseen"), u));
        }
        if let Some(auc) = m.iter().find(|x| x.0 == "auroc") {
            more_baselines.push((format!("{name} auroc"), auc.1));
        }
    }
    BenchRow {
        task: "classification".into(),
        dataset: name.into(),
        metric: "accuracy".into(),
        value: acc,
        baseline: bacc,
        baseline_name: "Markov order 2 per class".into(),
        higher_is_better: true,
        n: labels.len(),
        genomes,
        extra,
        seconds: t0.elapsed().as_secs_f64(),
        more_baselines,
    }
}

/// The task's datasets, in report order (`BenchOptions::classification_datasets` picks some).
pub const CLASSIFICATION_DATASETS: [&str; 6] = [
    "promoters",
    "promoters_genome",
    "splice_junctions",
    "coding_vs_intergenic",
    "read_kingdom",
    "read_origin",
];

/// Is a dataset's class independent of the strand its items are written on? Then every
/// classifier (the LM's, the class LMs and the baselines) trains on both strands of each item
/// and scores a test item on both. Reads come from either strand; so do the coding/intergenic
/// windows, which are cut from the genome's forward strand whichever strand a gene lies on (a
/// chloroplast's genes lie on both), so a coding window is sense or antisense CDS by chance.
/// Promoters and splice junctions are written on their gene's strand, where the strand is
/// part of what the class means.
pub fn strand_free(dataset: &str) -> bool {
    dataset.starts_with("read_") || dataset == "coding_vs_intergenic"
}

/// An error naming the first of `names` that is not one of [`CLASSIFICATION_DATASETS`].
pub fn check_datasets(names: &[String]) -> Result<()> {
    match names
        .iter()
        .find(|d| !CLASSIFICATION_DATASETS.contains(&d.as_str()))
    {
        Some(bad) => Err(crate::Error::Config(format!(
            "classification_datasets: unknown dataset {bad:?} (the datasets are {})",
            CLASSIFICATION_DATASETS.join(", ")
        ))),
        None => Ok(()),
    }
}

/// The task: up to five rows (those of `classification_datasets`, or all).
pub fn run(ctx: &BenchContext) -> Result<Outcome> {
    let wanted = &ctx.opts.classification_datasets;
    check_datasets(wanted)?;
    let want = |d: &str| wanted.is_empty() || wanted.iter().any(|w| w == d);
    let mut rows = Vec::new();
    if want("promoters") {
        let set = shipped_set(PROMOTERS_CSV, "ecoli_promoters_uci.csv")?;
        let names = vec!["UCI E. coli promoters".into()];
        rows.push(promoters(ctx, "promoters", &set.items, names)?);
    }
    if want("promoters_genome") {
        let names = vec!["UCI E. coli promoters, MG1655 windows".into()];
        rows.push(promoters(
            ctx,
            "promoters_genome",
            &promoters_genome()?.items,
            names,
        )?);
    }
    if want("splice_junctions") {
        splice(ctx, &mut rows)?;
    }
    if want("coding_vs_intergenic") {
        coding(ctx, &mut rows)?;
    }
    if want("read_kingdom") && !read_kingdom(ctx, &mut rows)? {
        return Ok(Outcome::from_rows(rows));
    }
    if want("read_origin") {
        read_origin(ctx, &mut rows)?;
    }
    Ok(Outcome::from_rows(rows))
}

/// A small shipped set scored by `classification_folds`-fold cross-validation (1: one
/// stratified 80/20 split).
fn promoters(
    ctx: &BenchContext,
    dataset: &str,
    items: &[LabelledSeq],
    names: Vec<String>,
) -> Result<BenchRow> {
    // a pool with more items of one class (the genome windows) gives each seed its own draw
    let items = balanced_subsample(items, ctx.opts.seed);
    match ctx.opts.classification_folds {
        0 | 1 => {
            let (tr, te) = stratified_split(&items, ctx.opts.seed);
            evaluate_task(ctx, dataset, &tr, &te, names, None)
        }
        k => evaluate_folds(ctx, dataset, &items, k, names),
    }
}

/// Splice junctions: which class depends on what sits at the window's centre.
fn splice(ctx: &BenchContext, rows: &mut Vec<BenchRow>) -> Result<()> {
    let per = ctx.opts.classification_items;
    let splice = stratified_subsample(&splice_junctions()?.items, 40 * per, ctx.opts.seed);
    let (tr, te) = stratified_split(&splice, ctx.opts.seed);
    let names = vec!["primate splice junctions (Statlog DNA)".into()];
    rows.push(evaluate_task(
        ctx,
        "splice_junctions",
        &tr,
        &te,
        names,
        None,
    )?);
    Ok(())
}

/// Coding vs intergenic on the first held-out annotated genome with both classes.
fn coding(ctx: &BenchContext, rows: &mut Vec<BenchRow>) -> Result<()> {
    let per = ctx.opts.classification_items;
    for g in ctx.annotated_held_out() {
        if let Ok(items) = coding_vs_intergenic(&ctx.corpus.genomes[g], 99, per, ctx.opts.seed) {
            let (tr, te) = stratified_split(&items, ctx.opts.seed);
            if !tr.is_empty() && !te.is_empty() {
                let names = vec![ctx.id(g)];
                rows.push(evaluate_task(
                    ctx,
                    "coding_vs_intergenic",
                    &tr,
                    &te,
                    names,
                    None,
                )?);
                break;
            }
        }
    }
    Ok(())
}

/// Kingdom of origin of reads; `false` when a kingdom lacks training or held-out genomes (then
/// the read tasks are skipped).
fn read_kingdom(ctx: &BenchContext, rows: &mut Vec<BenchRow>) -> Result<bool> {
    let per = ctx.opts.classification_items;
    let mut tr = Vec::new();
    let mut te = Vec::new();
    let mut ids = Vec::new();
    for (ki, k) in KINGDOMS.into_iter().enumerate() {
        let train_g: Vec<usize> = ctx
            .train
            .iter()
            .copied()
            .filter(|&g| ctx.corpus.genomes[g].meta.kingdom == k)
            .collect();
        let test_g = ctx.held_out_of(k);
        if train_g.is_empty() || test_g.is_empty() {
            return Ok(false);
        }
        let label = ki as u32;
        let seed = ctx.opts.seed;
        tr.extend(labelled_reads(ctx, &train_g, label, per, None, seed)?);
        te.extend(labelled_reads(
            ctx,
            &test_g,
            label,
            per / 4 + 1,
            None,
            seed + 1,
        )?);
        ids.extend(test_g.iter().map(|&g| ctx.id(g)));
    }
    rows.push(evaluate_task(ctx, "read_kingdom", &tr, &te, ids, None)?);
    Ok(true)
}

/// Species of origin of reads; test reads from genomes the LM trained on (their last 20 %
/// included) are told apart from the others.
fn read_origin(ctx: &BenchContext, rows: &mut Vec<BenchRow>) -> Result<()> {
    if let Some((tr, te, ids)) = read_origin_items(ctx)? {
        let trained: Vec<String> = ctx
            .train
            .iter()
            .map(|&g| format!("{}:", ctx.id(g)))
            .collect();
        let seen: Vec<bool> = te
            .iter()
            .map(|x| trained.iter().any(|t| x.origin.starts_with(t.as_str())))
            .collect();
        rows.push(evaluate_task(
            ctx,
            "read_origin",
            &tr,
            &te,
            ids,
            Some(&seen),
        )?);
    }
    Ok(())
}

/// `n` reads (spread over the genomes `gs`, within `window` of each contig) labelled `label`.
fn labelled_reads(
    ctx: &BenchContext,
    gs: &[usize],
    label: u32,
    n: usize,
    window: Option<(f64, f64)>,
    seed: u64,
) -> Result<Vec<LabelledSeq>> {
    let reads = ctx.corpus.sample_reads(
        gs,
        &crate::data::corpus::SampleReadsOptions {
            len: ctx.opts.read_len,
            per_genome: Some(n.div_ceil(gs.len())),
            window,
            seed,
            ..Default::default()
        },
    )?;
    Ok(reads
        .into_iter()
        .take(n)
        .map(|r| LabelledSeq {
            origin: format!("{}:{}:{}", ctx.id(r.genome), r.contig, r.start),
            seq: r.seq,
            label,
        })
        .collect())
}

/// At most this many species (the first in corpus order) are classes of `read_origin`.
pub const MAX_ORIGIN_SPECIES: usize = 20;

/// Which of the corpus's species a read comes from: every genome of the corpus (training and
/// held-out alike: this is supervised binning against known references, seed 003's shotgun
/// task), one class per species (at most [`MAX_ORIGIN_SPECIES`]); training reads from the
/// first 80 % of each contig, test reads from the last 20 %, so no test read overlaps a
/// training read. `None` with fewer than two species.
#[allow(clippy::type_complexity)]
fn read_origin_items(
    ctx: &BenchContext,
) -> Result<Option<(Vec<LabelledSeq>, Vec<LabelledSeq>, Vec<String>)>> {
    let mut species: Vec<String> = Vec::new();
    let mut by_species: Vec<Vec<usize>> = Vec::new();
    for (g, genome) in ctx.corpus.genomes.iter().enumerate() {
        let sp = if genome.meta.species.is_empty() {
            genome.meta.id.clone()
        } else {
            genome.meta.species.clone()
        };
        match species.iter().position(|s| *s == sp) {
            Some(i) => by_species[i].push(g),
            None => {
                species.push(sp);
                by_species.push(vec![g]);
            }
        }
    }
    let per = ctx.opts.classification_items;
    let (mut tr, mut te, mut names) = (Vec::new(), Vec::new(), Vec::new());
    for (sp, gs) in species.into_iter().zip(&by_species) {
        if names.len() == MAX_ORIGIN_SPECIES {
            break;
        }
        let label = names.len() as u32;
        let seed = ctx.opts.seed;
        let (a, b) = (
            labelled_reads(ctx, gs, label, per, Some((0.0, 0.8)), seed)?,
            labelled_reads(ctx, gs, label, per / 4 + 1, Some((0.8, 1.0)), seed + 1)?,
        );
        // a species whose contigs are all shorter than a read in one window has no class
        if !a.is_empty() && !b.is_empty() {
            tr.extend(a);
            te.extend(b);
            names.push(sp);
        }
    }
    Ok((names.len() >= 2).then_some((tr, te, names)))
}

#[cfg(test)]
mod tests {
    use super::{class_metrics, split_accuracy};

    #[test]
    fn accuracy_on_each_part() {
        let probs = vec![
            vec![0.9f32, 0.1],
            vec![0.2, 0.8],
            vec![0.6, 0.4],
            vec![0.3, 0.7],
        ];
        let labels = [0, 0, 0, 1];
        // seen: items 0 and 1 (one right); unseen: items 2 and 3 (both right)
        let [s, u] = split_accuracy(&probs, &labels, &[true, true, false, false]);
        assert_eq!((s, u), (0.5, 1.0));
        assert!(split_accuracy(&probs, &labels, &[true; 4])[1].is_nan());
    }

    #[test]
    fn metrics_by_hand() {
        // 4 items, binary: p1 = .9 (y1), .6 (y0), .4 (y1), .1 (y0) → arg-max accuracy 2/4
        let probs = vec![
            vec![0.1, 0.9],
            vec![0.4, 0.6],
            vec![0.6, 0.4],
            vec![0.9, 0.1],
        ];
        let (acc, m) = class_metrics(&probs, &[1, 0, 1, 0]);
        assert!((acc - 0.5).abs() < 1e-12);
        let auroc = m.iter().find(|x| x.0 == "auroc").unwrap().1;
        assert!((auroc - 0.75).abs() < 1e-12); // 3 of 4 positive–negative pairs ordered
                                               // three classes, all right → macro recall 1
        let p3 = vec![
            vec![0.8, 0.1, 0.1],
            vec![0.1, 0.8, 0.1],
            vec![0.1, 0.1, 0.8],
        ];
        let (acc, m) = class_metrics(&p3, &[0, 1, 2]);
        assert_eq!(acc, 1.0);
        assert!((m.iter().find(|x| x.0 == "recall").unwrap().1 - 1.0).abs() < 1e-12);
    }
}
