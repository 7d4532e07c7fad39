//! The data subcommands: `genolm shards` (on-disk token shards), `genolm annotations check`
//! and `genolm tokenize`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use genolm::data::annotation::{check_translations, read_annotation};
use genolm::data::shards::{ShardOptions, TokenShards};
use genolm::data::tokenize::{tokenize_file, KmerTokenizer, Special};
use genolm::data::tracks::{verify_tracks, TrackOptions, Tracks};

/// Arguments of `genolm shards`.
#[derive(clap::Args)]
pub struct ShardsArgs {
    /// `embedded`, a folder of genomes (pro/ euk/ vir/) or a manifest.json.
    pub corpus: String,
    /// Output folder (shards.json + tokens-NNNNN.bin).
    #[arg(long)]
    pub out: PathBuf,
    /// Take k and stride from this model preset (the model that will train on them).
    #[arg(long, default_value = "awd_lstm_small")]
    pub preset: String,
    /// k-mer length (overrides the preset's).
    #[arg(long)]
    pub k: Option<usize>,
    /// Stride (overrides the preset's).
    #[arg(long)]
    pub stride: Option<usize>,
    /// Also store reverse complements (for runs with reverse_complement = true).
    #[arg(long)]
    pub reverse_complement: bool,
    /// Tokens per shard file at most.
    #[arg(long, default_value_t = 256 << 20)]
    pub shard_tokens: usize,
    /// Check an existing shard folder's sizes and checksums instead of building.
    #[arg(long)]
    pub verify: bool,
}

/// `genolm shards`: build (or verify) a folder of token shards.
pub fn shards(a: ShardsArgs) -> genolm::Result<ExitCode> {
    let ShardsArgs {
        corpus,
        out,
        preset,
        k,
        stride,
        reverse_complement,
        shard_tokens,
        verify,
    } = a;
    let t0 = std::time::Instant::now();
    let shards = if verify {
        let s = TokenShards::open(&out)?;
        s.verify()?;
        s
    } else {
        let p = genolm::models::ModelConfig::preset(&preset)?;
        let tok = KmerTokenizer::new(k.unwrap_or(p.k), stride.unwrap_or(p.stride))?;
        let opts = ShardOptions {
            shard_tokens,
            reverse_complement,
            verbose: true,
        };
        TokenShards::build(&corpus, &out, &tok, &opts)?
    };
    println!(
        "{}: {} genomes, {} streams, {} tokens in {} shard files ({:.1} s{})",
        out.display(),
        shards.genomes().len(),
        shards.streams().len(),
        shards.total_tokens(),
        shards.n_shards(),
        t0.elapsed().as_secs_f64(),
        if verify { ", checksums verified" } else { "" }
    );
    Ok(ExitCode::SUCCESS)
}

/// `genolm annotations check`: re-translate every CDS and check the tracks; exit status 1 when
/// any CDS fails.
pub fn check_annotations(file: &Path, fasta: Option<&Path>, code: u8) -> genolm::Result<ExitCode> {
    let seqs = read_annotation(file, fasta)?;
    let (mut total, mut ok) = (0, 0);
    let mut failed = Vec::new();
    for s in &seqs {
        let checks = check_translations(s, code)?;
        let opts = TrackOptions {
            default_code: code,
            ..Default::default()
        };
        let tracks = Tracks::from_annotation(s, &opts)?;
        let disagree = verify_tracks(s, &tracks, &opts)?;
        let n_ok = checks.iter().filter(|c| c.ok).count();
        let against_tr = checks.iter().filter(|c| c.against == "translation").count();
        let excepted: Vec<_> = checks.iter().filter(|c| c.exception.is_some()).collect();
        println!(
            "{}: {} of {} CDS re-translate ({} against /translation, {} as clean ORFs{}); tracks agree for {} of {}",
            s.name,
            n_ok,
            checks.len(),
            against_tr,
            checks.len() - against_tr,
            if excepted.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} of them {} from the genome as the /exception says",
                    excepted.len(),
                    if excepted.len() == 1 { "differs" } else { "differ" }
                )
            },
            checks.len() - disagree.len(),
            checks.len()
        );
        for c in &excepted {
            println!(
                "  {}:{} {} — /exception=\"{}\": {}",
                file.display(),
                c.line,
                c.label,
                c.exception.as_deref().unwrap_or_default(),
                c.reason.as_deref().unwrap_or_default()
            );
        }
        total += checks.len();
        ok += n_ok;
        for c in checks.iter().filter(|c| !c.ok) {
            failed.push(format!(
                "  {}:{} {} — {}",
                file.display(),
                c.line,
                c.label,
                c.reason.clone().unwrap_or_default()
            ));
        }
        for d in disagree {
            failed.push(format!(
                "  {} tracks disagree with the translation of {d}",
                s.name
            ));
        }
    }
    println!("total: {ok} of {total} CDS ok");
    if failed.is_empty() {
        Ok(ExitCode::SUCCESS)
    } else {
        println!("not ok:");
        for f in failed {
            println!("{f}");
        }
        Ok(ExitCode::from(1))
    }
}

/// `genolm tokenize`: k-mer ids of a FASTA/FASTQ (or GenBank / GFF3) file, with counts per record.
pub fn tokenize(file: &Path, k: usize, stride: usize) -> genolm::Result<ExitCode> {
    let tok = KmerTokenizer::new(k, stride)?;
    let t0 = std::time::Instant::now();
    // FASTA/FASTQ on the fast path; a GenBank or GFF3 file's sequences read whole
    let recs = if genolm::data::input::is_annotation_file(file)? {
        genolm::data::input::read_sequences(file)?
            .into_iter()
            .map(|r| {
                let ids = tok.encode(&r.seq);
                (r.name, ids)
            })
            .collect()
    } else {
        tokenize_file(file, &tok)?
    };
    let secs = t0.elapsed().as_secs_f64();
    for (name, ids) in &recs {
        let unk = ids.iter().filter(|&&i| i == Special::Unk as u32).count();
        println!("{name}\t{} tokens\t{unk} unk", ids.len());
    }
    eprintln!("{} records in {secs:.3} s", recs.len());
    Ok(ExitCode::SUCCESS)
}
