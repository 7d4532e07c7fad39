//! Users' variants from a VCF against its reference FASTA (`genolm variants`): substitutions
//! scored by LLR on both strands and embedding distance, every allele (indels included) by
//! the window's log-likelihood change.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bench::markov::code;
use crate::bench::BenchContext;
use crate::data::names::SeqNames;
use crate::models::GenomicModel;
use crate::table::Table;
use crate::{Error, Result};

use super::{score_substitutions, Substitution};

/// A variant from a VCF, with its reference window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VcfVariant {
    /// Chromosome / contig name.
    pub chrom: String,
    /// 1-based position.
    pub pos: usize,
    /// The ID column.
    pub id: String,
    /// Reference base.
    pub reference: u8,
    /// Alternative base.
    pub alt: u8,
}

/// What [`read_vcf_variants`] read.
#[derive(Debug, Clone, PartialEq)]
pub struct VcfInput {
    /// Single-base substitutions, in file order.
    pub variants: Vec<VcfVariant>,
    /// The FASTA's records `(name, bases)`.
    pub genome: Vec<(String, Vec<u8>)>,
    /// Alleles skipped (indels, symbolic or ambiguous alleles).
    pub skipped: usize,
}

/// A simple allele from a VCF: substitution, multi-base substitution, insertion or deletion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VcfAllele {
    /// Chromosome / contig name.
    pub chrom: String,
    /// 1-based position of the first REF base.
    pub pos: usize,
    /// The ID column.
    pub id: String,
    /// REF bases.
    pub reference: String,
    /// ALT bases.
    pub alt: String,
}

/// What [`read_vcf_alleles`] read.
#[derive(Debug, Clone, PartialEq)]
pub struct VcfAlleles {
    /// Simple alleles, in file order.
    pub alleles: Vec<VcfAllele>,
    /// The FASTA's records `(name, bases)`.
    pub genome: Vec<(String, Vec<u8>)>,
    /// Alleles skipped (symbolic, breakends, ambiguous).
    pub skipped: usize,
}

/// Options of [`score_variants`] and [`score_alleles`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VcfOptions {
    /// Bases on each side of a variant, cut at a contig end or an ambiguous base (a causal LM
    /// needs a long left flank to be in a gene's reading frame: docs/benchmark-results.md).
    pub flank: usize,
}

impl Default for VcfOptions {
    fn default() -> Self {
        Self { flank: 256 }
    }
}

impl VcfOptions {
    /// The flank, checked: at least one base.
    fn flank(&self) -> Result<usize> {
        match self.flank {
            0 => Err(Error::Config(
                "the flank must be at least 1 base (256 by default)".into(),
            )),
            f => Ok(f),
        }
    }
}

/// Every simple allele of a VCF (plain, gzip or bgzip) checked against a FASTA: REF must match
/// the FASTA; multi-allelic records give one allele per ALT; symbolic (`<DEL>`), breakend,
/// missing (`*`, `.`) and ambiguous alleles are skipped (counted). Errors name the file and
/// line.
pub fn read_vcf_alleles(vcf: impl AsRef<Path>, fasta: impl AsRef<Path>) -> Result<VcfAlleles> {
    use noodles_vcf as nv;
    let vcf = vcf.as_ref();
    let label = vcf.display().to_string();
    let genome: Vec<(String, Vec<u8>)> = crate::data::input::read_sequences(fasta.as_ref())?
        .into_iter()
        .map(|r| (r.name, r.seq))
        .collect();
    let names = SeqNames::new(genome.iter().map(|(n, _)| n.as_str()));
    let (inner, _) = crate::data::io::open(vcf)?;
    let mut reader = nv::io::Reader::new(inner);
    reader
        .read_header()
        .map_err(|e| Error::parse(&label, 1, format!("VCF header: {e}")))?;
    let header_lines = header_line_count(vcf);
    let mut rec = nv::Record::default();
    let mut out = Vec::new();
    let mut skipped = 0;
    let mut n = 0;
    let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| code(b.to_ascii_uppercase()) < 4);
    loop {
        let got = reader
            .read_record(&mut rec)
            .map_err(|e| Error::parse(&label, header_lines + n + 1, e.to_string()))?;
        if got == 0 {
            break;
        }
        n += 1;
        let line = header_lines + n;
        let chrom = rec.reference_sequence_name().to_string();
        let pos = match rec.variant_start() {
            Some(Ok(p)) => usize::from(p),
            _ => return Err(Error::parse(&label, line, "missing or bad POS")),
        };
        let r = rec.reference_bases().to_ascii_uppercase();
        let seq = &names
            .find(&chrom)
            .map(|i| &genome[i])
            .ok_or_else(|| {
                Error::parse(
                    &label,
                    line,
                    format!(
                        "contig {chrom:?} is not in the FASTA (matched as written, by a record's first word, a field of an NCBI `gi|…|ref|…|` name, or without its version or `chr` when one record fits), whose records are {}{}",
                        genome
                            .iter()
                            .take(5)
                            .map(|(n, _)| format!("{:?}", n.split_whitespace().next().unwrap_or(n)))
                            .collect::<Vec<_>>()
                            .join(", "),
                        if genome.len() > 5 {
                            format!(" … ({} in all)", genome.len())
                        } else {
                            String::new()
                        }
                    ),
                )
            })?
            .1;
        let alt_field = rec.alternate_bases();
        let alts: &str = alt_field.as_ref();
        for alt in alts.split(',') {
            if !plain(&r) || !plain(alt) {
                skipped += 1;
                continue;
            }
            let fa = seq
                .get(pos - 1..pos - 1 + r.len())
                .map(|b| b.to_ascii_uppercase());
            if fa.as_deref() != Some(r.as_bytes()) {
                return Err(Error::parse(
                    &label,
                    line,
                    format!(
                        "REF {r} does not match the FASTA at {chrom}:{pos} ({})",
                        fa.map(|b| String::from_utf8_lossy(&b).to_string())
                            .unwrap_or_else(|| "past the end".into())
                    ),
                ));
            }
            out.push(VcfAllele {
                chrom: chrom.clone(),
                pos,
                id: rec.ids().as_ref().to_string(),
                reference: r.clone(),
                alt: alt.to_ascii_uppercase(),
            });
        }
    }
    Ok(VcfAlleles {
        alleles: out,
        genome,
        skipped,
    })
}

/// Single-base substitutions of a VCF (plain, gzip or bgzip) checked against a FASTA: every
/// REF must match the FASTA; multi-allelic records give one variant per ALT; indels and
/// symbolic alleles are skipped (counted in `skipped`; [`read_vcf_alleles`] keeps indels).
/// Errors name the file and line.
pub fn read_vcf_variants(vcf: impl AsRef<Path>, fasta: impl AsRef<Path>) -> Result<VcfInput> {
    let VcfAlleles {
        alleles,
        genome,
        mut skipped,
    } = read_vcf_alleles(vcf, fasta)?;
    let mut variants = Vec::new();
    for a in alleles {
        if a.reference.len() == 1 && a.alt.len() == 1 {
            variants.push(VcfVariant {
                chrom: a.chrom,
                pos: a.pos,
                id: a.id,
                reference: a.reference.as_bytes()[0],
                alt: a.alt.as_bytes()[0],
            });
        } else {
            skipped += 1;
        }
    }
    Ok(VcfInput {
        variants,
        genome,
        skipped,
    })
}

/// Score every allele (indels included) with [`variant_effect`](crate::explain::variant::variant_effect):
/// window log-likelihood change and, for causal LMs, the right flank's change. Windows are cut
/// at a contig end and before the nearest ambiguous base as for SNVs
/// ([`clear_flanks`](crate::explain::variant::clear_flanks)); the columns `left_flank` and
/// `right_flank` say how many bases each score saw on each side (both 0 and NaN scores: a
/// missing contig, or a window shorter than one token).
pub fn score_alleles(model: &GenomicModel, input: &VcfAlleles, opts: &VcfOptions) -> Result<Table> {
    let (alleles, genome, flank) = (&input.alleles, &input.genome, opts.flank()?);
    let names = SeqNames::new(genome.iter().map(|g| g.0.as_str()));
    use crate::explain::variant::{variant_effect, Allele, VariantOptions};
    use polars::prelude::*;
    let opts = VariantOptions {
        flank,
        attribution: None,
        ..Default::default()
    };
    let (mut kind, mut delta, mut right, mut flanks) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for a in alleles {
        let seq = names.find(&a.chrom).map(|i| &genome[i].1);
        let al = Allele {
            position: a.pos - 1,
            reference: a.reference.as_bytes(),
            alt: a.alt.as_bytes(),
        };
        match seq.map(|s| variant_effect(model, s, &al, &opts)) {
            Some(Ok(e)) => {
                flanks.push((e.left_flank as u64, e.right_flank as u64));
                kind.push(e.kind.clone());
                delta.push(e.delta);
                right.push(e.right_flank_delta.unwrap_or(f64::NAN));
            }
            Some(Err(Error::Input(_))) | None => {
                flanks.push((0, 0));
                kind.push("unscored".to_string());
                delta.push(f64::NAN);
                right.push(f64::NAN);
            }
            Some(Err(e)) => return Err(e),
        }
    }
    let df = df!(
        "chrom" => alleles.iter().map(|v| v.chrom.clone()).collect::<Vec<_>>(),
        "pos" => alleles.iter().map(|v| v.pos as u64).collect::<Vec<_>>(),
        "id" => alleles.iter().map(|v| v.id.clone()).collect::<Vec<_>>(),
        "ref" => alleles.iter().map(|v| v.reference.clone()).collect::<Vec<_>>(),
        "alt" => alleles.iter().map(|v| v.alt.clone()).collect::<Vec<_>>(),
        "kind" => kind,
        "window_llr" => delta,
        "right_flank_llr" => right,
        "left_flank" => flanks.iter().map(|f| f.0).collect::<Vec<_>>(),
        "right_flank" => flanks.iter().map(|f| f.1).collect::<Vec<_>>(),
    )?;
    Ok(Table::new("allele_scores", df))
}

fn header_line_count(path: &Path) -> usize {
    use std::io::BufRead;
    crate::data::io::open(path)
        .map(|(r, _)| {
            r.lines()
                .map_while(|l| l.ok())
                .take_while(|l| l.starts_with('#'))
                .count()
        })
        .unwrap_or(0)
}

/// Score users' variants (e.g. from [`read_vcf_variants`]) with a model: LLR (alt vs ref, on
/// both strands: the window's and its reverse complement's) and embedding distance, windows of
/// up to `2·flank + 1` bases. A window is cut at a contig end and at the nearest ambiguous base
/// (`N`, IUPAC codes), so a variant near either is scored on the context it has; the columns
/// `left_flank` and `right_flank` say how many bases each score saw on each side (both 0 and
/// NaN scores: a missing contig, an ambiguous reference or alternative base, or a window shorter
/// than one token).
pub fn score_variants(model: &GenomicModel, input: &VcfInput, opts: &VcfOptions) -> Result<Table> {
    let (variants, genome, flank) = (&input.variants, &input.genome, opts.flank()?);
    let names = SeqNames::new(genome.iter().map(|g| g.0.as_str()));
    use polars::prelude::*;
    let opts = crate::bench::BenchOptions::default();
    let ctx = BenchContext {
        model,
        tok: model.config().tokenizer()?,
        corpus: crate::data::corpus::Corpus {
            name: "variants".into(),
            genomes: Vec::new(),
        },
        train: Vec::new(),
        held_out: Vec::new(),
        markov: crate::bench::markov::MarkovModel::fit(
            genome.iter().map(|g| g.1.as_slice()),
            4,
            true,
        )?,
        opts,
        run_summary: None,
        neuron_states: Default::default(),
    };
    // Each variant's window: up to `flank` bases on each side, cut at a contig end and at the
    // nearest ambiguous base, so a variant near an end or a gap is scored on the context it has.
    // Windows of one length and centre are scored together.
    let k = ctx.tok.k.max(1);
    let mut groups: std::collections::BTreeMap<(usize, usize), Vec<(usize, Substitution)>> =
        Default::default();
    let mut flanks = vec![(0u64, 0u64); variants.len()];
    for (i, v) in variants.iter().enumerate() {
        let seq = names.find(&v.chrom).map(|i| &genome[i].1);
        let Some(seq) = seq else { continue };
        let p = v.pos - 1;
        if p >= seq.len() || code(seq[p]) == 4 || code(v.alt) == 4 {
            continue;
        }
        let (left, right) = crate::explain::variant::clear_flanks(seq, p, p + 1, flank);
        let (lo, hi) = (p - left, p + right);
        if hi + 1 - lo < k {
            continue;
        }
        flanks[i] = ((p - lo) as u64, (hi - p) as u64);
        let sub = Substitution {
            name: format!("{}:{}", v.chrom, v.pos),
            window: seq[lo..=hi].to_ascii_uppercase(),
            centre: p - lo,
            alt: v.alt.to_ascii_uppercase(),
        };
        groups
            .entry((sub.window.len(), sub.centre))
            .or_default()
            .push((i, sub));
    }
    let (mut llr, mut dist, mut base) = (
        vec![f64::NAN; variants.len()],
        vec![f64::NAN; variants.len()],
        vec![f64::NAN; variants.len()],
    );
    for group in groups.into_values() {
        let (keep, subs): (Vec<usize>, Vec<Substitution>) = group.into_iter().unzip();
        let (l, d, b) = score_substitutions(&ctx, &subs)?;
        for (j, &i) in keep.iter().enumerate() {
            llr[i] = l[j];
            dist[i] = d[j];
            base[i] = b[j];
        }
    }
    let df = df!(
        "chrom" => variants.iter().map(|v| v.chrom.clone()).collect::<Vec<_>>(),
        "pos" => variants.iter().map(|v| v.pos as u64).collect::<Vec<_>>(),
        "id" => variants.iter().map(|v| v.id.clone()).collect::<Vec<_>>(),
        "ref" => variants.iter().map(|v| (v.reference as char).to_string()).collect::<Vec<_>>(),
        "alt" => variants.iter().map(|v| (v.alt as char).to_string()).collect::<Vec<_>>(),
        "llr" => llr,
        "embedding_distance" => dist,
        "markov4_llr" => base,
        "left_flank" => flanks.iter().map(|f| f.0).collect::<Vec<_>>(),
        "right_flank" => flanks.iter().map(|f| f.1).collect::<Vec<_>>(),
    )?;
    Ok(Table::new("variant_scores", df))
}
