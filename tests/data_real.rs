//! Integration tests of the data stage on the real genomes shipped in `datasets/`.

use std::io::Write;
use std::path::{Path, PathBuf};

use genolm::data::alphabet::revcomp;
use genolm::data::annotation::{
    check_translations, read_annotation, read_genbank, read_gff3, Strand,
};
use genolm::data::corpus::{Corpus, Kingdom, SampleReadsOptions, SplitLevel, SplitOptions};
use genolm::data::fasta::{read_fasta, ReadOptions as FaOpts, SeqReader};
use genolm::data::tokenize::{tokenize_file, KmerTokenizer};
use genolm::data::tracks::{verify_tracks, TrackOptions, Tracks};
use genolm::Error;

fn ds(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("datasets")
        .join(p)
}

fn check_file(path: &Path, fasta: Option<&Path>, code: u8) -> (usize, usize, Vec<String>) {
    let seqs = read_annotation(path, fasta).unwrap();
    let (mut ok, mut total, mut bad) = (0, 0, vec![]);
    for s in &seqs {
        let checks = check_translations(s, code).unwrap();
        let opts = TrackOptions {
            default_code: code,
            ..Default::default()
        };
        let tracks = Tracks::from_annotation(s, &opts).unwrap();
        assert!(
            verify_tracks(s, &tracks, &opts).unwrap().is_empty(),
            "tracks disagree in {}",
            s.name
        );
        total += checks.len();
        ok += checks.iter().filter(|c| c.ok).count();
        bad.extend(
            checks
                .iter()
                .filter(|c| !c.ok)
                .map(|c| format!("{} {:?}", c.label, c.reason)),
        );
    }
    (ok, total, bad)
}

#[test]
fn phix174_every_cds_translates_and_genes_overlap() {
    let (ok, total, bad) = check_file(&ds("vir/phiX174.gbk"), None, 11);
    assert_eq!(total, 11);
    assert_eq!(ok, total, "{bad:?}");
    let s = &read_genbank(ds("vir/phiX174.gbk")).unwrap()[0];
    let t = Tracks::from_annotation(
        s,
        &TrackOptions {
            default_code: 11,
            ..Default::default()
        },
    )
    .unwrap();
    // Overlapping genes in different frames: positions with two forward codon positions.
    let overlapping = t
        .codon
        .iter()
        .filter(|&&c| (c & 0b111).count_ones() >= 2)
        .count();
    assert!(overlapping > 500, "{overlapping}");
    // A position inside gene B (inside gene A) carries two amino acids at once.
    assert!(t.amino_acid.iter().any(|a| a.count_ones() >= 2));
}

#[test]
fn pestis_plasmid_every_cds_translates() {
    let (ok, total, bad) = check_file(&ds("pro/yersinia_pestis_pPCP1.gb"), None, 11);
    assert_eq!(total, 10);
    assert_eq!(ok, total, "{bad:?}");
}

#[test]
fn chloroplast_every_cds_translates_or_is_rna_edited_as_recorded() {
    // ndhD starts with ACG in the genome, edited to AUG in the RNA: its GenBank record says
    // /exception="RNA editing", so its M where the genome reads T is expected, not a failure
    let path = ds("euk/arabidopsis_thaliana_chloroplast.gb.gz");
    let (ok, total, bad) = check_file(&path, None, 11);
    assert_eq!(total, 85, "{bad:?}");
    assert_eq!(ok, total, "{bad:?}");
    let s = &read_annotation(&path, None).unwrap()[0];
    let edited: Vec<_> = check_translations(s, 11)
        .unwrap()
        .into_iter()
        .filter(|c| c.exception.is_some())
        .collect();
    assert_eq!(edited.len(), 1, "{edited:?}");
    assert!(edited[0].label.contains("ndhD"), "{edited:?}");
    assert_eq!(edited[0].exception.as_deref(), Some("RNA editing"));
    assert!(
        edited[0].reason.as_deref().unwrap().contains("codon ACG"),
        "{edited:?}"
    );
}

#[test]
fn influenza_segments_translate() {
    for f in [
        "vir/influenza_A_EU851978.gbk",
        "vir/influenza_A_HM138502.gbk",
        "vir/influenza_A_KF527485.gbk",
    ] {
        let (ok, total, bad) = check_file(&ds(f), None, 1);
        assert!(total >= 1 && ok == total, "{f}: {bad:?}");
    }
}

#[test]
fn yeast_gff3_every_gene_is_a_clean_orf() {
    let gff = ds("euk/saccharomyces_cerevisiae_chrI.gff3.gz");
    let fa = ds("euk/saccharomyces_cerevisiae_chrI.fa.gz");
    let seqs = read_gff3(&gff, Some(&fa)).unwrap();
    assert_eq!(seqs.len(), 1);
    let s = &seqs[0];
    let checks = check_translations(s, 1).unwrap();
    assert!(checks.len() >= 100, "{}", checks.len());
    let bad: Vec<_> = checks.iter().filter(|c| !c.ok).collect();
    assert!(bad.is_empty(), "{bad:?}");
    // Spliced genes exist and are handled (several CDS rows under one parent).
    assert!(s.cds().any(|f| f.segments.len() > 1));
    assert!(s
        .cds()
        .any(|f| f.segments.iter().all(|x| x.strand == Strand::Reverse)));
    let t = Tracks::from_annotation(s, &TrackOptions::default()).unwrap();
    let frac = t.coding_fraction();
    assert!((0.5..0.8).contains(&frac), "{frac}");
    assert!(t.region.contains(&genolm::data::tracks::Region::Trna));
    // SGD's GFF3 says `chrI`; Ensembl's FASTA of the same chromosome says `I`: the GFF3 rows
    // find their sequence all the same
    let dir = tempfile::tempdir().unwrap();
    let ensembl = dir.path().join("I.fa");
    let text = String::from_utf8(genolm::data::io::read_all(&fa).unwrap()).unwrap();
    std::fs::write(&ensembl, text.replacen(">chrI", ">I dna:chromosome", 1)).unwrap();
    let renamed = read_gff3(&gff, Some(&ensembl)).unwrap();
    assert_eq!(renamed[0].name, "I");
    assert_eq!(renamed[0].cds().count(), s.cds().count());
    // without a FASTA given, the one beside the GFF3 file under the same name is read
    // (SGD's and NCBI's downloads); a second candidate makes it ambiguous: an error
    let beside = dir.path().join("SGD_chrI.gff3.gz");
    std::fs::copy(&gff, &beside).unwrap();
    let e = read_annotation(&beside, None).unwrap_err().to_string();
    assert!(e.contains("--fasta") && e.contains("beside"), "{e}");
    std::fs::copy(&fa, dir.path().join("sgd_chrI.fna.gz")).unwrap();
    let found = read_annotation(&beside, None).unwrap();
    assert_eq!(found[0].cds().count(), s.cds().count());
    std::fs::copy(&fa, dir.path().join("SGD_chrI.fa")).unwrap();
    assert!(
        read_annotation(&beside, None).is_err(),
        "two FASTA files beside it"
    );
}

#[test]
fn plain_gzip_and_bgzip_read_the_same() {
    let gz = ds("vir/enterobacteria_phage_lambda.fa.gz");
    let recs = read_fasta(&gz).unwrap();
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].len(), 48_502);
    let dir = tempfile::tempdir().unwrap();
    let text = genolm::data::io::read_all(&gz).unwrap();
    let plain = dir.path().join("lambda.fa");
    std::fs::write(&plain, &text).unwrap();
    let bgz = dir.path().join("lambda.fa.bgz");
    let mut w = noodles_bgzf::io::Writer::new(std::fs::File::create(&bgz).unwrap());
    w.write_all(&text).unwrap();
    w.finish().unwrap();
    assert_eq!(read_fasta(&plain).unwrap(), recs);
    assert_eq!(read_fasta(&bgz).unwrap(), recs);
    // Streaming tokenization agrees with whole-record tokenization.
    let t = KmerTokenizer::new(5, 2).unwrap();
    let streamed = tokenize_file(&bgz, &t).unwrap();
    assert_eq!(streamed[0].1, t.encode(&recs[0].seq));
}

#[test]
fn soft_masked_human_fragment_keeps_its_mask() {
    let recs = read_fasta(ds("euk/homo_sapiens_chr1_fragment.fa.gz")).unwrap();
    let masked: usize = recs[0].mask.iter().map(|r| r.len()).sum();
    // Whether or not this file is soft-masked, the mask must match its lower-case letters.
    let text = genolm::data::io::read_all(ds("euk/homo_sapiens_chr1_fragment.fa.gz")).unwrap();
    let body: Vec<u8> = text
        .split(|&b| b == b'\n')
        .skip(1)
        .flatten()
        .copied()
        .collect();
    let lower = body.iter().filter(|b| b.is_ascii_lowercase()).count();
    assert_eq!(masked, lower);
    assert!(recs[0].seq.iter().all(|b| b.is_ascii_uppercase()));
}

#[test]
fn malformed_inputs_give_typed_errors_with_lines() {
    let dir = tempfile::tempdir().unwrap();
    // Truncated gzip of a real genome.
    let gz = std::fs::read(ds("pro/helicobacter_pylori_G27.fa.gz")).unwrap();
    let cut = dir.path().join("cut.fa.gz");
    std::fs::write(&cut, &gz[..gz.len() / 3]).unwrap();
    match read_fasta(&cut) {
        Err(Error::Parse { line, msg, .. }) => {
            assert!(line > 1000, "line {line}");
            assert!(
                msg.contains("truncated") || msg.contains("corrupt"),
                "{msg}"
            );
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    // Sequence without a header.
    let nohead = dir.path().join("nohead.fa");
    std::fs::write(&nohead, "ACGTACGT\n>x\nACGT\n").unwrap();
    assert!(matches!(
        read_fasta(&nohead),
        Err(Error::Parse { line: 1, .. })
    ));
    // GFF3 with bad coordinates, and with a CDS past the end of the contig.
    let fa = ds("euk/saccharomyces_cerevisiae_chrI.fa.gz");
    let bad = dir.path().join("bad.gff3");
    std::fs::write(
        &bad,
        "##gff-version 3\nchrI\tSGD\tCDS\t500\t100\t.\t+\t0\tID=x\n",
    )
    .unwrap();
    assert!(matches!(
        read_gff3(&bad, Some(&fa)),
        Err(Error::Parse { line: 2, .. })
    ));
    std::fs::write(
        &bad,
        "##gff-version 3\nchrI\tSGD\tCDS\t230000\t239999\t.\t+\t0\tID=x\n",
    )
    .unwrap();
    let e = read_gff3(&bad, Some(&fa)).unwrap_err();
    assert!(
        matches!(e, Error::Parse { line: 2, .. }) && e.to_string().contains("past the end"),
        "{e}"
    );
    // GenBank CDS past the end of the record.
    let phix = std::fs::read_to_string(ds("vir/phiX174.gbk")).unwrap();
    let broken = phix.replacen("CDS             51..221", "CDS             51..6221", 1);
    assert!(broken != phix, "fixture line not found");
    let p = dir.path().join("broken.gbk");
    std::fs::write(&p, broken).unwrap();
    let e = read_genbank(&p).unwrap_err();
    let line = phix
        .lines()
        .position(|l| l.contains("CDS             51..221"))
        .unwrap()
        + 1;
    match &e {
        Error::Parse { line: l, msg, .. } => {
            assert!(*l == line && msg.contains("past the end"), "{e}")
        }
        _ => panic!("{e}"),
    }
    // Not an annotation at all.
    let junk = dir.path().join("junk.txt");
    std::fs::write(&junk, "hello\n").unwrap();
    assert!(read_annotation(&junk, None).is_err());
}

#[test]
fn embedded_corpus_loads_with_all_kingdoms() {
    let c = Corpus::embedded().unwrap();
    assert_eq!(c.genomes.len(), 13);
    for k in Kingdom::ALL {
        assert!(c.of_kingdom(k).len() >= 3, "{k}");
    }
    let g27 = &c.genomes[c.index_of("hpylori_G27").unwrap()];
    assert_eq!(g27.len(), 1_652_982); // NC_011333.1
    let flu = &c.genomes[c.index_of("influenzaA_California_2009").unwrap()];
    assert_eq!(flu.contigs.len(), 2);
    let yeast = &c.genomes[c.index_of("scerevisiae_chrI").unwrap()];
    assert!(yeast.is_annotated());
    // V. cholerae: two chromosomes, pinned to the training split whatever the seed.
    let vc = c.index_of("vcholerae_O395").unwrap();
    assert_eq!(c.genomes[vc].contigs.len(), 2);
    assert_eq!(c.genomes[vc].len(), 4_135_300); // CP001235.1 + CP001236.1
    for seed in [1, 42, 7] {
        let s = c
            .split(&SplitOptions {
                seed,
                ..Default::default()
            })
            .unwrap();
        assert!(s.train.contains(&vc));
    }
    let df = c.summary(None).unwrap();
    assert_eq!(df.height(), 13);
}

/// The genome ids of each split (train, valid, test) at the run's default split, sorted.
fn default_split_ids(corpus: &Corpus) -> [Vec<String>; 3] {
    let s =
        genolm::train::run::run_splits(corpus, &genolm::train::run::DataConfig::default()).unwrap();
    [&s.train, &s.valid, &s.test].map(|v| {
        let mut ids = corpus.ids(v);
        ids.sort();
        ids
    })
}

/// `base`'s split with `added` genomes in training: what a corpus that only adds training
/// genomes must give.
fn with_training(base: &[Vec<String>; 3], added: &[&str]) -> [Vec<String>; 3] {
    let mut s = base.clone();
    s[0].extend(added.iter().map(|a| a.to_string()));
    s[0].sort();
    s
}

fn open_ds(name: &str) -> Corpus {
    Corpus::open(ds(name).to_str().unwrap()).unwrap()
}

/// The extended corpus (datasets/extended.json): the embedded genomes plus two eukaryotic
/// training genomes, with the embedded corpus's held-out genomes at the default split.
#[test]
fn extended_corpus_adds_training_eukaryotes_and_keeps_the_held_out_genomes() {
    let e = open_ds("extended.json");
    let c = Corpus::embedded().unwrap();
    assert_eq!(e.genomes.len(), c.genomes.len() + 2);
    let chr2 = e.index_of("scerevisiae_chrII").unwrap();
    assert_eq!(e.genomes[chr2].len(), 813_178);
    let fly = e.index_of("dmelanogaster_upstream_chr2L").unwrap();
    assert_eq!(e.genomes[fly].contigs.len(), 517);
    assert_eq!(e.genomes[fly].len(), 1_502_644);
    assert_eq!(
        default_split_ids(&e),
        with_training(
            &default_split_ids(&c),
            &["dmelanogaster_upstream_chr2L", "scerevisiae_chrII"]
        )
    );
}

/// The second extended corpus (datasets/extended2.json): the extended corpus plus 2 Mb of gorilla
/// chromosome 22 and U. maydis chromosome 2, both pinned to training; the held-out genomes stay
/// (and datasets/extended2_gorilla.json, the same without U. maydis).
#[test]
fn second_extended_corpus_adds_a_primate_and_a_fungus_to_training() {
    let e2 = open_ds("extended2.json");
    let e = open_ds("extended.json");
    assert_eq!(e2.genomes.len(), e.genomes.len() + 2);
    let gor = e2.index_of("ggorilla_chr22_epo").unwrap();
    assert_eq!(e2.genomes[gor].len(), 2_000_000);
    assert_eq!(e2.genomes[gor].contigs.len(), 894);
    let um = e2.index_of("umaydis_chr02").unwrap();
    assert_eq!(e2.genomes[um].len(), 1_879_391);
    let base = default_split_ids(&e);
    assert_eq!(
        default_split_ids(&e2),
        with_training(&base, &["ggorilla_chr22_epo", "umaydis_chr02"])
    );
    assert_eq!(
        default_split_ids(&open_ds("extended2_gorilla.json")),
        with_training(&base, &["ggorilla_chr22_epo"])
    );
}

#[test]
fn checksums_are_verified() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("vir")).unwrap();
    std::fs::copy(ds("vir/phiX174.gbk"), dir.path().join("vir/phiX174.gbk")).unwrap();
    let manifest = |sha: &str| {
        format!(
            r#"{{"name":"t","genomes":[{{"id":"phix","kingdom":"VIR","species":"phiX174","genetic_code":11,
            "files":[{{"path":"vir/phiX174.gbk","format":"genbank","sha256":"{sha}"}}]}}]}}"#
        )
    };
    let good = genolm::data::corpus::sha256_hex(&std::fs::read(ds("vir/phiX174.gbk")).unwrap());
    std::fs::write(dir.path().join("manifest.json"), manifest(&good)).unwrap();
    assert_eq!(Corpus::from_dir(dir.path()).unwrap().genomes.len(), 1);
    std::fs::write(dir.path().join("manifest.json"), manifest(&"0".repeat(64))).unwrap();
    assert!(matches!(
        Corpus::from_dir(dir.path()),
        Err(Error::Checksum { .. })
    ));
    // Unknown fields are an error, not silently ignored.
    std::fs::write(
        dir.path().join("manifest.json"),
        r#"{"name":"t","genomes":[],"genomez":1}"#,
    )
    .unwrap();
    assert!(matches!(
        Corpus::from_dir(dir.path()),
        Err(Error::Parse { .. })
    ));
}

#[test]
fn user_folder_by_kingdom() {
    let dir = tempfile::tempdir().unwrap();
    for (sub, f) in [
        ("bacteria", "pro/yersinia_pestis_pPCP1.gb"),
        ("viruses", "vir/enterobacteria_phage_lambda.fa.gz"),
        ("eukaryotes", "euk/saccharomyces_cerevisiae_chrI.fa.gz"),
        ("eukaryotes", "euk/saccharomyces_cerevisiae_chrI.gff3.gz"),
    ] {
        std::fs::create_dir_all(dir.path().join(sub)).unwrap();
        let name = Path::new(f).file_name().unwrap();
        std::fs::copy(ds(f), dir.path().join(sub).join(name)).unwrap();
    }
    std::fs::write(dir.path().join("README.txt"), "not a genome folder").unwrap();
    let c = Corpus::from_dir(dir.path()).unwrap();
    assert_eq!(c.genomes.len(), 3);
    let yeast = c
        .genomes
        .iter()
        .find(|g| g.meta.kingdom == Kingdom::Euk)
        .unwrap();
    assert!(
        yeast.is_annotated(),
        "GFF3 with the same stem annotates the FASTA"
    );
    let pestis = c
        .genomes
        .iter()
        .find(|g| g.meta.kingdom == Kingdom::Pro)
        .unwrap();
    assert_eq!(pestis.meta.species, "Yersinia pestis");
    let lambda = c
        .genomes
        .iter()
        .find(|g| g.meta.kingdom == Kingdom::Vir)
        .unwrap();
    assert_eq!(lambda.meta.species, "Enterobacteria phage");
}

#[test]
fn flat_folder_of_genbank_files_takes_kingdoms_from_their_lineage() {
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "pro/yersinia_pestis_pPCP1.gb",
        "vir/phiX174.gbk",
        "euk/arabidopsis_thaliana_chloroplast.gb.gz",
    ] {
        let name = Path::new(f).file_name().unwrap();
        std::fs::copy(ds(f), dir.path().join(name)).unwrap();
    }
    let c = Corpus::from_dir(dir.path()).unwrap();
    let kingdoms: Vec<(String, Kingdom)> = c
        .genomes
        .iter()
        .map(|g| (g.meta.id.clone(), g.meta.kingdom))
        .collect();
    assert_eq!(
        kingdoms,
        [
            ("euk_arabidopsis_thaliana_chloroplast".into(), Kingdom::Euk),
            ("vir_phix174".into(), Kingdom::Vir),
            ("pro_yersinia_pestis_ppcp1".into(), Kingdom::Pro),
        ]
    );
    // a FASTA file's kingdom cannot be told: the error names it and asks for a sub-folder
    std::fs::copy(
        ds("vir/enterobacteria_phage_lambda.fa.gz"),
        dir.path().join("lambda.fa.gz"),
    )
    .unwrap();
    let e = Corpus::from_dir(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("lambda.fa.gz") && e.contains("sub-folder"),
        "{e}"
    );
}

#[test]
fn splits_never_leak_and_are_deterministic() {
    let c = Corpus::embedded().unwrap();
    for level in [SplitLevel::Genome, SplitLevel::Species] {
        for seed in 0..5 {
            let opts = SplitOptions {
                level,
                seed,
                ..Default::default()
            };
            let s = c.split(&opts).unwrap();
            assert_eq!(s, c.split(&opts).unwrap());
            let mut all: Vec<usize> = s
                .train
                .iter()
                .chain(&s.valid)
                .chain(&s.test)
                .copied()
                .collect();
            all.sort();
            assert_eq!(all, (0..c.genomes.len()).collect::<Vec<_>>());
            for k in Kingdom::ALL {
                assert!(s.train.iter().any(|&g| c.genomes[g].meta.kingdom == k));
                assert!(
                    s.test.iter().any(|&g| c.genomes[g].meta.kingdom == k),
                    "{level:?} {seed} {k}"
                );
            }
            if level == SplitLevel::Species {
                for &t in s.test.iter().chain(&s.valid) {
                    let sp = &c.genomes[t].meta.species;
                    assert!(s.train.iter().all(|&g| &c.genomes[g].meta.species != sp));
                }
            }
        }
    }
}

#[test]
fn reads_know_their_origin() {
    let c = Corpus::embedded().unwrap();
    let ids: Vec<usize> = (0..c.genomes.len()).collect();
    let opts = SampleReadsOptions {
        per_genome: Some(200),
        ..Default::default()
    };
    let reads = c.sample_reads(&ids, &opts).unwrap();
    assert_eq!(reads, c.sample_reads(&ids, &opts).unwrap());
    assert!(reads.len() >= 200 * 11, "{}", reads.len());
    let mut rev = 0;
    for r in &reads {
        assert_eq!(r.seq.len(), 150);
        let src = &c.genomes[r.genome].contigs[r.contig].seq[r.start..r.start + 150];
        match r.strand {
            Strand::Forward => assert_eq!(r.seq, src),
            Strand::Reverse => {
                rev += 1;
                assert_eq!(r.seq, revcomp(src))
            }
        }
        assert!(
            r.seq.iter().all(|b| b"ACGT".contains(b)),
            "discard policy keeps reads clean"
        );
    }
    assert!(rev > reads.len() / 3);
    // Windows: training reads from the first 80 % of each contig, test reads from the last
    // 20 %, never overlapping; an impossible window is refused.
    let window = |w| SampleReadsOptions {
        per_genome: Some(50),
        window: Some(w),
        ..Default::default()
    };
    let (head, tail) = (
        c.sample_reads(&ids, &window((0.0, 0.8))).unwrap(),
        c.sample_reads(&ids, &window((0.8, 1.0))).unwrap(),
    );
    assert!(head.len() >= 50 * 11 && tail.len() >= 50 * 11);
    for r in &head {
        let n = c.genomes[r.genome].contigs[r.contig].seq.len() as f64;
        assert!((r.start + 150) as f64 <= 0.8 * n, "{} {}", r.start, n);
    }
    for r in &tail {
        let n = c.genomes[r.genome].contigs[r.contig].seq.len() as f64;
        assert!(r.start as f64 >= 0.8 * n && r.start + 150 <= n as usize);
    }
    let e = c.sample_reads(&ids, &window((0.5, 0.5))).unwrap_err();
    assert!(e.to_string().contains("read window"), "{e}");
}

#[test]
fn streaming_reader_on_real_genome_in_small_chunks() {
    let path = ds("pro/staphylococcus_aureus_N315.fa.gz");
    let whole = read_fasta(&path).unwrap();
    let mut r = SeqReader::from_path(&path, FaOpts::default()).unwrap();
    let h = r.next_header().unwrap().unwrap();
    assert_eq!(h.name, whole[0].name);
    let mut buf = Vec::new();
    let mut n = 0;
    let mut pos = 0;
    loop {
        buf.clear();
        let got = r.read_chunk(&mut buf, 1 << 16).unwrap();
        if got == 0 {
            break;
        }
        assert_eq!(&buf[..], &whole[0].seq[pos..pos + got]);
        pos += got;
        n += 1;
    }
    assert_eq!(pos, whole[0].len());
    assert!(n > 40);
}

#[test]
fn ncbi_downloads_nested_under_kingdom_folders_are_a_corpus() {
    // NCBI Datasets (`ncbi_dataset/data/<accession>/…`) and the FTP site (one folder per
    // assembly) nest their files; the by-products beside a genome (CDS, RNA, proteins) are not
    // genomes, and a GenBank file stands for the FASTA of the same assembly beside it.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let put = |src: &str, dst: &str| {
        let to = root.join(dst);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(ds(src), to).unwrap();
    };
    let text = |dst: &str, s: &str| std::fs::write(root.join(dst), s).unwrap();
    // Datasets, FASTA + genomic.gff (yeast chrI, SGD's annotation)
    let y = "euk/ncbi_dataset/data/GCF_000146045.2";
    put(
        "euk/saccharomyces_cerevisiae_chrI.fa.gz",
        &format!("{y}/GCF_000146045.2_R64_genomic.fna.gz"),
    );
    put(
        "euk/saccharomyces_cerevisiae_chrI.gff3.gz",
        &format!("{y}/genomic.gff.gz"),
    );
    text(&format!("{y}/cds_from_genomic.fna"), ">cds\nATG\n");
    text(&format!("{y}/rna.fna"), ">rna\nACGU\n");
    text(&format!("{y}/protein.faa"), ">p\nMK\n");
    text("euk/ncbi_dataset/data/assembly_data_report.jsonl", "{}\n");
    // Datasets, GenBank only: every file is called genomic.gbff
    put(
        "vir/phiX174.gbk",
        "vir/ncbi_dataset/data/GCF_000819615.1/genomic.gbff",
    );
    put(
        "vir/influenza_A_EU851978.gbk",
        "vir/ncbi_dataset/data/GCA_000000001.1/genomic.gbff",
    );
    // the FTP site: GenBank, FASTA of the same assembly, CDS and RNA by-products
    let f = "pro/GCF_000006765.1_ASM676v1";
    put(
        "pro/yersinia_pestis_pPCP1.gb",
        &format!("{f}/GCF_000006765.1_ASM676v1_genomic.gbff"),
    );
    text(
        &format!("{f}/GCF_000006765.1_ASM676v1_genomic.fna"),
        ">same\nACGT\n",
    );
    text(
        &format!("{f}/GCF_000006765.1_ASM676v1_cds_from_genomic.fna"),
        ">c\nATG\n",
    );
    text(
        &format!("{f}/GCF_000006765.1_ASM676v1_rna_from_genomic.fna"),
        ">r\nACG\n",
    );
    text("pro/.hidden.fa", ">h\nACGT\n");
    let c = Corpus::from_dir(root).unwrap();
    let ids = c.ids(&(0..c.genomes.len()).collect::<Vec<_>>());
    assert_eq!(
        ids,
        [
            "euk_gcf_000146045.2_r64_genomic",
            "pro_gcf_000006765.1_asm676v1_genomic",
            "vir_gca_000000001.1_genomic",
            "vir_gcf_000819615.1_genomic",
        ]
    );
    let yeast = &c.genomes[0];
    assert_eq!(yeast.meta.kingdom, Kingdom::Euk);
    assert_eq!(yeast.meta.files.len(), 2, "{:?}", yeast.meta.files);
    let cds: usize = yeast
        .contigs
        .iter()
        .map(|k| {
            k.features
                .as_ref()
                .map_or(0, |f| f.iter().filter(|x| x.is_cds()).count())
        })
        .sum();
    assert!(cds >= 100, "{cds}");
    assert_eq!(c.genomes[1].meta.species, "Yersinia pestis");
    assert_eq!(c.genomes[1].len(), 9_609);
    assert_eq!(c.genomes[3].len(), 5_386);
}
