//! `genolm explain motifs`: attributions → seqlets → motifs → JASPAR (TF-MoDISco-lite with
//! Tomtom p-values), or the first convolution layer's filters as PWMs.

use std::path::PathBuf;

use clap::Args;
use genolm::explain::methods::{attribute, AttributionMethod, MethodOptions};
use genolm::explain::modisco::{discover_motifs, ModiscoOptions};
use genolm::explain::motifs::{
    filter_pwms, matches_table, read_jaspar, tomtom, Pwm, TomtomOptions,
};
use genolm::explain::seqlets::SeqletOptions;
use genolm::infer::Objective;
use genolm::{Error, Result};

use super::analyses::{explained, file_stem, load_model, out_dir, records};

/// `--method`: an attribution method, or `filters` (`None`: first-layer convolution filters).
#[derive(Clone, Copy)]
pub struct Source(Option<AttributionMethod>);

fn parse_source(s: &str) -> std::result::Result<Source, String> {
    if s.eq_ignore_ascii_case("filters") {
        return Ok(Source(None));
    }
    AttributionMethod::parse(s)
        .map(|m| Source(Some(m)))
        .map_err(|e| e.to_string())
}

/// `genolm explain motifs`.
#[derive(Args)]
pub struct MotifArgs {
    /// Checkpoint: a `.safetensors` file, a run folder or a `genolm classify` folder (any
    /// model with `--method ism`; a nucleotide model, k = 1, for the gradient methods;
    /// convolution layers for `--method filters`).
    model: PathBuf,
    /// FASTA or FASTQ, or GenBank (plain, gzip, bgzip or zstd): the sequences explained (e.g.
    /// promoters, peaks; each record up to `--max-len` bases).
    seqs: PathBuf,
    /// Motif database (plain or gzip) in JASPAR format, e.g. datasets/motifs/JASPAR2024_CORE_vertebrates.jaspar.gz, or in MEME's motif format (MEME Suite, HOCOMOCO).
    #[arg(long)]
    jaspar: Option<PathBuf>,
    /// Output folder: motifs.csv, matches.csv, seqlets.csv, motifs.jaspar, logos/<motif>.svg.
    #[arg(long, short)]
    out: PathBuf,
    /// Where motifs come from: deepshap, integrated-gradients, ism, input-x-gradient,
    /// saliency (attributions), or filters (first-layer convolution filters, no attributions).
    /// Default: deepshap for a nucleotide model (k = 1), ism for a k-mer model (every single
    /// substitution scored: per-base effects whatever the tokens).
    #[arg(long, value_parser = parse_source)]
    method: Option<Source>,
    /// Classifier: explain this class's logit (default: each sequence's predicted class);
    /// language models explain the sequence log-likelihood.
    /// By name or index.
    #[arg(long)]
    class: Option<String>,
    /// At most this many sequences.
    #[arg(long, default_value_t = 1000)]
    max_seqs: usize,
    /// At most this many bases of each record.
    #[arg(long, default_value_t = 1000)]
    max_len: usize,
    /// DeepSHAP references per sequence.
    #[arg(long, default_value_t = 10)]
    references: usize,
    /// Integrated-gradient steps.
    #[arg(long, default_value_t = 32)]
    steps: usize,
    /// Seqlet core width.
    #[arg(long, default_value_t = 11)]
    window: usize,
    /// Bases added on each side of a seqlet core.
    #[arg(long, default_value_t = 5)]
    flank: usize,
    /// Smallest cluster reported as a motif.
    #[arg(long, default_value_t = 8)]
    min_seqlets: usize,
    /// Seed of references, baselines and the seqlet null.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// `--method filters`: a site counts at this fraction of the filter's maximum.
    #[arg(long, default_value_t = 0.5)]
    threshold: f32,
    /// `--method filters`: strongest sites per filter.
    #[arg(long, default_value_t = 200)]
    max_sites: usize,
    /// Logos written (most seqlets / most informative first).
    #[arg(long, default_value_t = 12)]
    logos: usize,
}

/// Discovered PWMs as JASPAR text (counts = frequency × sites), readable by MEME tools.
fn jaspar_text(pwms: &[Pwm]) -> String {
    let mut s = String::new();
    for p in pwms {
        s.push_str(&format!(">{}\t{}\n", p.id, p.consensus()));
        let n = p.n_sites.max(1) as f64;
        for (b, name) in ["A", "C", "G", "T"].iter().enumerate() {
            let row: Vec<String> = p.probs.iter().map(|c| format!("{:.0}", c[b] * n)).collect();
            s.push_str(&format!("{name} [ {} ]\n", row.join(" ")));
        }
    }
    s
}

/// `genolm explain motifs`.
pub fn motifs(a: MotifArgs) -> Result<()> {
    let model = load_model(&a.model)?;
    let recs = records(&a.seqs)?;
    let recs = &recs[..recs.len().min(a.max_seqs)];
    let seqs: Vec<Vec<u8>> = recs
        .iter()
        .map(|r| r.seq[..r.seq.len().min(a.max_len)].to_vec())
        .collect();
    let db = match &a.jaspar {
        Some(p) => read_jaspar(p)?,
        None => Vec::new(),
    };
    out_dir(&a.out)?;
    let k = model.config().k;
    let method = match a.method {
        Some(Source(None)) => return filters(&a, &model, &seqs, &db),
        Some(Source(Some(m))) => m,
        None if k == 1 => AttributionMethod::DeepShap,
        None => {
            println!(
                "{} reads {k}-mers: per-base effects by in-silico mutagenesis (--method ism)",
                a.model.display()
            );
            AttributionMethod::Ism
        }
    };
    if k != 1 && method != AttributionMethod::Ism {
        return Err(Error::Input(format!(
            "{} needs a nucleotide model (k = 1): its gradients are per token; {} has k = {k} \
             (use --method ism, which scores every single substitution, or --method filters \
             for a convolutional model)",
            method.name(),
            a.model.display(),
        )));
    }
    // what is explained, per sequence
    // named, so a record too short for the classifier is named in the error
    let named: Vec<(&str, &[u8])> = recs
        .iter()
        .zip(&seqs)
        .map(|(r, s)| (r.name.as_str(), s.as_slice()))
        .collect();
    let objectives: Vec<Objective> = explained(&model, a.class.as_deref(), &named)?
        .into_iter()
        .map(|(o, _)| o)
        .collect();
    let mut bar = genolm::progress::Progress::new("attributions", seqs.len(), false);
    let mut attrs = Vec::with_capacity(seqs.len());
    for (s, obj) in seqs.iter().zip(&objectives) {
        let mo = MethodOptions {
            method,
            objective: *obj,
            references: a.references,
            steps: a.steps,
            seed: a.seed,
        };
        attrs.push(attribute(&model, s, &mo)?);
        bar.inc(1, method.name());
    }
    bar.finish();
    let opts = ModiscoOptions {
        seqlets: SeqletOptions {
            window: a.window,
            flank: a.flank,
            seed: a.seed,
            ..Default::default()
        },
        min_seqlets: a.min_seqlets,
        n_matches: 5,
        ..Default::default()
    };
    let d = discover_motifs(&attrs, &db, &opts)?;
    d.table()?.to_csv(a.out.join("motifs.csv"))?;
    d.calls.table()?.to_csv(a.out.join("seqlets.csv"))?;
    let all: Vec<_> = d
        .motifs
        .iter()
        .flat_map(|m| m.matches.iter().cloned())
        .collect();
    matches_table(&all)?.to_csv(a.out.join("matches.csv"))?;
    let pwms: Vec<Pwm> = d.motifs.iter().map(|m| m.pwm.clone()).collect();
    genolm::fsio::atomic_write(&a.out.join("motifs.jaspar"), jaspar_text(&pwms).as_bytes())?;
    let logos = a.out.join("logos");
    out_dir(&logos)?;
    for i in 0..d.motifs.len().min(a.logos) {
        d.figure_for(i)?
            .save(logos.join(format!("{}.svg", file_stem(&d.motifs[i].id))))?;
    }
    let delta = attrs
        .iter()
        .filter_map(|x| x.convergence.as_ref())
        .map(|c| c.max_abs_delta)
        .fold(0f64, f64::max);
    println!(
        "{} sequences, {} seqlets, {} motifs{}{}; wrote {}",
        seqs.len(),
        d.calls.seqlets.len(),
        d.motifs.len(),
        if db.is_empty() {
            String::new()
        } else {
            format!(
                ", {} matched in the database with q < 0.05",
                d.motifs
                    .iter()
                    .filter(|m| m.matches.first().is_some_and(|x| x.q < 0.05))
                    .count()
            )
        },
        if method == AttributionMethod::DeepShap {
            format!(" (DeepSHAP summation-to-delta: max |Δ| {delta:.1e})")
        } else {
            String::new()
        },
        a.out.display()
    );
    for m in &d.motifs {
        match m.matches.first() {
            Some(x) => println!(
                "  {:<6} {:>4} seqlets  {:<24} ~ {} {} (q = {:.1e})",
                m.id,
                m.n_seqlets,
                m.pwm.consensus(),
                x.target,
                x.target_name,
                x.q
            ),
            None => println!(
                "  {:<6} {:>4} seqlets  {}",
                m.id,
                m.n_seqlets,
                m.pwm.consensus()
            ),
        }
    }
    Ok(())
}

/// `--method filters`: the first convolution layer's filters as PWMs.
fn filters(
    a: &MotifArgs,
    model: &genolm::models::GenomicModel,
    seqs: &[Vec<u8>],
    db: &[Pwm],
) -> Result<()> {
    let mut pwms = filter_pwms(model, seqs, a.threshold, a.max_sites)?;
    pwms.retain(|p| !p.is_empty());
    if pwms.is_empty() {
        return Err(Error::Input(format!(
            "no filter reached {} of its maximum on {}",
            a.threshold,
            a.seqs.display()
        )));
    }
    pwms.sort_by(|x, y| y.information().total_cmp(&x.information()));
    let mut csv = String::from("filter,width,information_bits,consensus\n");
    for p in &pwms {
        csv.push_str(&format!(
            "{},{},{:.4},{}\n",
            p.id,
            p.len(),
            p.information(),
            p.consensus()
        ));
    }
    genolm::fsio::atomic_write(&a.out.join("motifs.csv"), csv.as_bytes())?;
    genolm::fsio::atomic_write(&a.out.join("motifs.jaspar"), jaspar_text(&pwms).as_bytes())?;
    let logos = a.out.join("logos");
    out_dir(&logos)?;
    for p in pwms.iter().take(a.logos) {
        p.plot()?
            .save(logos.join(format!("{}.svg", file_stem(&p.id))))?;
    }
    let mut matched = 0;
    if !db.is_empty() {
        let opts = TomtomOptions::default();
        let mut all = Vec::new();
        for p in &pwms {
            all.extend(tomtom(p, db, &opts).into_iter().take(5));
        }
        matched = all.iter().filter(|m| m.q < 0.05).count();
        matches_table(&all)?.to_csv(a.out.join("matches.csv"))?;
    }
    println!(
        "{} filter motifs ({} logos){}; wrote {}",
        pwms.len(),
        pwms.len().min(a.logos),
        if db.is_empty() {
            String::new()
        } else {
            format!(", {matched} database matches with q < 0.05")
        },
        a.out.display()
    );
    Ok(())
}
