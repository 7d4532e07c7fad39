//! The benchmark on a tiny model: every task runs, metrics agree with hand computations, and the
//! baseline is scored on exactly the model's positions.

use std::path::Path;

use candle_core::Device;
use genolm::bench::markov::MarkovModel;
use genolm::bench::score::{score_sequence, Tally};
use genolm::bench::{benchmark, BenchContext, BenchOptions, BenchmarkReport, Task};
use genolm::data::corpus::Corpus;
use genolm::infer::{token_scores, PredictOptions};
use genolm::models::{GenomicModel, ModelConfig};

fn ctx_for<'a>(model: &'a GenomicModel, train_seq: &[u8]) -> BenchContext<'a> {
    BenchContext {
        model,
        tok: model.config().tokenizer().unwrap(),
        corpus: Corpus {
            name: "t".into(),
            genomes: Vec::new(),
        },
        train: Vec::new(),
        held_out: Vec::new(),
        markov: MarkovModel::fit([train_seq], 2, true).unwrap(),
        opts: BenchOptions::quick(),
        run_summary: None,
        neuron_states: Default::default(),
    }
}

#[test]
fn model_and_baseline_score_the_same_tokens() {
    let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 3).unwrap();
    let (k, s) = (model.config().k, model.config().stride);
    let train = b"ACGTTGCAAGCTTAGCGATCGATCGGCTAGCTAGGCATCGAT".repeat(5);
    let ctx = ctx_for(&model, &train);
    // an ambiguous base: tokens covering it are skipped by both
    let mut seq = b"ATGCGTACGTTAGCATGCATCGATCGATCGGGCTAGCTAGCATCGACTAGCTAG".to_vec();
    seq[20] = b'N';
    let scored = score_sequence(&ctx, &seq).unwrap();
    let ts = token_scores(&model, &seq, &PredictOptions::default()).unwrap();
    for p in &scored {
        // the model's own score of that token is the one paired with the baseline
        let i = ts.index.iter().position(|&j| j == p.token).unwrap();
        assert_eq!(p.model_logp, ts.logp[i] as f64);
        // the Markov score covers exactly the bases the token adds
        let r = MarkovModel::new_bases(p.token, k, s);
        let hand: f64 = r
            .clone()
            .map(|b| ctx.markov.log_prob(&seq, b).unwrap())
            .sum();
        assert!((p.markov_logp - hand).abs() < 1e-12);
        assert!(!r.contains(&20), "token {} touches the N", p.token);
    }
    // every token the model scores whose new bases are clean is scored by both
    let expected = ts
        .index
        .iter()
        .filter(|&&j| MarkovModel::new_bases(j, k, s).all(|b| b < seq.len() && seq[b] != b'N'))
        .count();
    assert_eq!(scored.len(), expected);
    // the tally is the mean of what was paired
    let mut t = Tally::default();
    scored.iter().for_each(|p| t.add(p));
    let ce: f64 = -scored.iter().map(|p| p.model_logp).sum::<f64>() / scored.len() as f64;
    assert!((t.model_ce() - ce).abs() < 1e-12);
}

#[test]
fn the_whole_suite_runs_on_a_tiny_model() {
    let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1).unwrap();
    let opts = BenchOptions::quick();
    let rep = benchmark(&model, &opts).unwrap();
    assert!(rep.train_source.starts_with("assumed"));
    // held-out PRO, EUK, VIR genomes and reads
    for d in ["PRO", "EUK", "VIR", "PRO_reads", "EUK_reads", "VIR_reads"] {
        let r = rep
            .get("transfer", d)
            .unwrap_or_else(|| panic!("no transfer row for {d}"));
        assert!(
            r.value.is_finite() && r.baseline.is_finite() && r.n > 0,
            "{d}: {r:?}"
        );
    }
    // per held-out genome: the kingdom row is the sum of its genomes' rows
    for k in ["PRO", "EUK", "VIR"] {
        let pooled = rep.get("transfer", k).unwrap();
        let parts: Vec<_> = rep
            .rows
            .iter()
            .filter(|r| r.task == "transfer_genome" && pooled.genomes.contains(&r.dataset))
            .collect();
        assert_eq!(parts.len(), pooled.genomes.len(), "{k}");
        assert_eq!(parts.iter().map(|r| r.n).sum::<usize>(), pooled.n, "{k}");
        let ce = parts.iter().map(|r| r.value * r.n as f64).sum::<f64>() / pooled.n as f64;
        assert!(
            (ce - pooled.value).abs() < 1e-9,
            "{k}: {ce} vs {}",
            pooled.value
        );
    }
    // reading while learning: the same tokens as `transfer`, whose scores are its `fixed`
    // pair; the model and the chain both gain from reading this tiny model's held-out genomes
    for k in ["PRO", "EUK", "VIR"] {
        let (fixed, a) = (
            rep.get("transfer", k).unwrap(),
            rep.get("adaptive", k).unwrap(),
        );
        assert_eq!(a.n, fixed.n, "{k}");
        let f = a.extra.iter().find(|e| e.0 == "fixed").unwrap();
        assert!(
            (f.1 - fixed.value).abs() < 1e-9 && (f.2 - fixed.baseline).abs() < 1e-9,
            "{k}"
        );
        assert!(
            a.value.is_finite() && a.baseline < fixed.baseline,
            "{k}: {a:?}"
        );
    }
    for task in Task::ALL {
        let ran = rep.rows.iter().any(|r| r.task == task.name());
        let skipped = rep.skipped.iter().any(|s| s.0 == task.name());
        assert!(
            ran || skipped,
            "{} neither ran nor was skipped",
            task.name()
        );
    }
    // every classification row carries the supervised baselines, the linear probe and the
    // class-conditional LMs on the same items; read origin splits each method's accuracy by whether the LM trained
    // on the read's genome (a part may be empty: NaN)
    for r in rep.rows.iter().filter(|r| r.task == "classification") {
        let names: Vec<&str> = r
            .more_baselines
            .iter()
            .map(|b| b.0.as_str())
            .filter(|n| !n.ends_with("_seen") && !n.ends_with("_unseen"))
            .collect();
        assert_eq!(
            names,
            [
                "kmer_logreg accuracy",
                "kmer_logreg auroc",
                "cnn_scratch accuracy",
                "cnn_scratch auroc",
                "lm_probe accuracy",
                "lm_probe auroc",
                "lm_generative accuracy",
                "lm_generative auroc"
            ],
            "{}",
            r.dataset
        );
        let split = r
            .extra
            .iter()
            .filter(|e| e.0.starts_with("accuracy_"))
            .count();
        assert_eq!(
            split,
            if r.dataset == "read_origin" { 2 } else { 0 },
            "{r:?}"
        );
        assert!(
            r.more_baselines
                .iter()
                .all(|b| (0.0..=1.0).contains(&b.1) || (b.0.contains("accuracy_") && b.1.is_nan())),
            "{r:?}"
        );
    }
    // the shipped labelled sets: both promoter sets and the (subsampled) splice junctions
    for ds in ["promoters", "promoters_genome", "splice_junctions"] {
        assert!(
            rep.rows
                .iter()
                .any(|r| r.task == "classification" && r.dataset == ds),
            "{ds}"
        );
    }
    // an untrained model is no better than chance at imputation
    for r in rep.rows.iter().filter(|r| r.task == "impute_nucleotide") {
        assert!((0.0..=1.0).contains(&r.value));
    }
    // held-out genomes never include a training genome
    assert!(rep.datasets.iter().filter(|d| d.role == "train").count() >= 1);
    let table = rep.table().unwrap();
    assert_eq!(table.height(), rep.rows.len());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("r.json");
    rep.save_json(&p).unwrap();
    let back = BenchmarkReport::load_json(&p).unwrap();
    assert_eq!(back.rows.len(), rep.rows.len());
    assert!(rep.plot().unwrap().svg().contains("<svg"));
    assert!(rep.to_markdown().contains("| transfer | PRO |"));
    // the terminal table: a header, a rule and one line per row, every skill in one column
    let text = rep.text();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("task") && lines[1].starts_with("────"));
    assert!(lines.len() >= rep.rows.len() + 2);
    let col = lines[0].find("skill").unwrap() + "skill".len();
    for (line, r) in lines[2..].iter().zip(&rep.rows) {
        let end: String = line.chars().take(col).collect();
        if !r.skill().is_nan() {
            assert!(end.ends_with(&format!("{:+.4}", r.skill())), "{line}");
        }
    }
}

#[test]
fn an_mlm_is_classified_without_class_conditional_lms() {
    // a masked LM scores no sequence likelihood: its classification rows carry the supervised
    // baselines only, instead of failing the task
    let cfg = ModelConfig {
        name: "tiny_mlm".into(),
        emb_dim: 16,
        attn_layers: 1,
        attn_heads: 2,
        ..ModelConfig::transformer_mlm_small()
    };
    let model = GenomicModel::new(cfg, &Device::Cpu, 1).unwrap();
    let opts = BenchOptions {
        tasks: vec![Task::Classification],
        ..BenchOptions::quick()
    };
    let rep = benchmark(&model, &opts).unwrap();
    let rows: Vec<_> = rep
        .rows
        .iter()
        .filter(|r| r.task == "classification")
        .collect();
    assert!(!rows.is_empty());
    for r in rows {
        assert!(r.value.is_finite(), "{r:?}");
        let names: Vec<&str> = r.more_baselines.iter().map(|b| b.0.as_str()).collect();
        assert!(names.contains(&"kmer_logreg accuracy"), "{names:?}");
        // a probe reads any model's layers; class LMs need a causal LM
        assert!(names.contains(&"lm_probe accuracy"), "{names:?}");
        assert!(
            !names.iter().any(|n| n.starts_with("lm_generative")),
            "{names:?}"
        );
    }
}

#[test]
fn given_training_genomes_are_not_benchmarked() {
    let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1).unwrap();
    let opts = BenchOptions {
        tasks: vec![Task::Transfer],
        train_genomes: Some(vec!["phiX174".into(), "hpylori_G27".into()]),
        ..BenchOptions::quick()
    };
    let rep = benchmark(&model, &opts).unwrap();
    for r in &rep.rows {
        assert!(!r.genomes.contains(&"phiX174".to_string()));
    }
    let bad = BenchOptions {
        train_genomes: Some(vec!["nope".into()]),
        ..opts
    };
    assert!(benchmark(&model, &bad)
        .unwrap_err()
        .to_string()
        .contains("nope"));
}

#[test]
fn a_run_benchmarked_on_your_own_genomes() {
    use genolm::bench::open_context;
    // the shipped model's run summary names its training genomes (embedded corpus); the
    // corpus given is a folder of GenBank files, one of them a training genome renamed
    let run = genolm::models::pretrained::dir(genolm::models::pretrained::DEFAULT).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets");
    for (from, to) in [
        (
            "euk/arabidopsis_thaliana_chloroplast.gb.gz",
            "chloroplast.gbff.gz",
        ),
        ("pro/yersinia_pestis_pPCP1.gb", "my_plasmid.gb"),
    ] {
        std::fs::copy(data.join(from), dir.path().join(to)).unwrap();
    }
    let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1).unwrap();
    let opts = BenchOptions {
        corpus: Some(dir.path().display().to_string()),
        ..BenchOptions::quick()
    };
    let o = open_context(&model, Some(&run), &opts).unwrap();
    let ids = |v: &[usize]| -> Vec<String> {
        v.iter()
            .map(|&i| o.ctx.corpus.genomes[i].meta.id.clone())
            .collect()
    };
    // the training genomes come from the run's corpus; the plasmid, a training genome under
    // another name, is not held out
    assert!(ids(&o.ctx.train).contains(&"hpylori_ELS37".to_string()));
    assert_eq!(ids(&o.ctx.held_out), ["euk_chloroplast"]);
    assert!(
        o.train_source.contains("pro_my_plasmid"),
        "{}",
        o.train_source
    );
}

#[test]
fn a_genome_listed_twice_is_counted_twice_by_the_chain_only() {
    use genolm::bench::open_context;
    let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1).unwrap();
    let ids = |v: &[&str]| Some(v.iter().map(|s| s.to_string()).collect());
    let once = BenchOptions {
        train_genomes: ids(&["phiX174", "hpylori_G27"]),
        ..BenchOptions::quick()
    };
    let twice = BenchOptions {
        train_genomes: ids(&["phiX174", "hpylori_G27", "phiX174"]),
        ..BenchOptions::quick()
    };
    let a = open_context(&model, None, &once).unwrap().ctx;
    let b = open_context(&model, None, &twice).unwrap().ctx;
    assert_eq!(a.train, b.train);
    assert_eq!(a.held_out, b.held_out);
    // phiX174's own bases are likelier under the chain that counted them twice
    let phix = &a.corpus.genomes[a.corpus.index_of("phiX174").unwrap()].contigs[0].seq;
    let ll = |m: &genolm::bench::markov::MarkovModel| -> f64 {
        (6..phix.len()).filter_map(|i| m.log_prob(phix, i)).sum()
    };
    assert!(
        ll(&b.markov) > ll(&a.markov) + 1.0,
        "{} {}",
        ll(&b.markov),
        ll(&a.markov)
    );
}

#[test]
fn sampled_cds_substitutions_read_the_annotated_codons() {
    use genolm::bench::variants::{sample_cds_substitutions, Consequence};
    use genolm::data::genetic_code::aa_index;
    let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1).unwrap();
    let corpus = Corpus::embedded().unwrap();
    let mut ctx = ctx_for(&model, b"ACGTACGTTTGACCA");
    // chloroplast: genes on both strands, code 11; phiX174: overlapping genes
    for id in ["athaliana_chloroplast", "phiX174"] {
        ctx.corpus = corpus.clone();
        let g = corpus.index_of(id).unwrap();
        let subs = sample_cds_substitutions(&ctx, g, 200, 16, 5).unwrap();
        assert!(subs.len() >= 150, "{id}: {}", subs.len());
        let genome = &corpus.genomes[g];
        let mut counts = [0usize; 3];
        for s in &subs {
            let (ci, i) = s.at;
            let t = genome.contigs[ci]
                .tracks(&genome.track_options())
                .unwrap()
                .unwrap();
            // the reference amino acid is the one the annotation puts at this base
            let bit = aa_index(s.aa.0).unwrap();
            assert_eq!(
                (t.amino_acid[i] >> bit) & 1,
                1,
                "{id} {}: {}",
                s.sub.name,
                s.aa.0 as char
            );
            assert_eq!(
                s.sub.window[s.sub.centre],
                genome.contigs[ci].seq[i].to_ascii_uppercase()
            );
            let expect = match (s.aa.0 == s.aa.1, s.aa.1 == b'*') {
                (true, _) => Consequence::Synonymous,
                (false, true) => Consequence::Nonsense,
                _ => Consequence::Missense,
            };
            assert_eq!(s.consequence, expect);
            // the codon position is the annotation's; no middle-base change keeps the amino
            // acid in codes 1 and 11
            assert_eq!(Some(s.codon_position), t.single_frame(i).map(|(_, p)| p));
            assert!(s.consequence != Consequence::Synonymous || s.codon_position != 1);
            counts[s.consequence as usize] += 1;
        }
        // about a quarter of random coding substitutions are synonymous
        let syn = counts[0] as f64 / subs.len() as f64;
        assert!(
            (0.15..0.35).contains(&syn),
            "{id}: synonymous fraction {syn}"
        );
    }
}

#[test]
fn users_variants_from_vcf_and_fasta() {
    use genolm::bench::variants::{read_vcf_variants, score_variants};
    let corpus = Corpus::embedded().unwrap();
    let phix = &corpus.genomes[corpus.index_of("phiX174").unwrap()].contigs[0];
    let dir = tempfile::tempdir().unwrap();
    let fa = dir.path().join("phix.fa");
    std::fs::write(
        &fa,
        format!(">{}\n{}\n", phix.name, String::from_utf8_lossy(&phix.seq)),
    )
    .unwrap();
    let b = |i: usize| phix.seq[i - 1] as char;
    let other = |i: usize| if b(i) == 'A' { 'C' } else { 'A' };
    let header = "##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n";
    let body = format!(
        "{c}\t100\tv1\t{r1}\t{a1}\t.\tPASS\t.\n{c}\t200\tv2\t{r2}\t{a2},G\t.\tPASS\t.\n{c}\t300\tv3\t{r3}\t{r3}T\t.\tPASS\t.\n",
        c = phix.name, r1 = b(100), a1 = other(100), r2 = b(200), a2 = other(200), r3 = b(300)
    );
    let vcf = dir.path().join("v.vcf");
    std::fs::write(&vcf, format!("{header}{body}")).unwrap();
    let got = read_vcf_variants(&vcf, &fa).unwrap();
    // v2 is multi-allelic (one may equal REF only if REF is G: then it is still an SNV record)
    assert_eq!(got.skipped, 1, "the insertion is skipped");
    assert_eq!(got.variants.len(), 3);
    assert_eq!(got.variants[0].pos, 100);
    let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1).unwrap();
    let opts = genolm::bench::variants::VcfOptions { flank: 16 };
    let t = score_variants(&model, &got, &opts).unwrap();
    assert_eq!(t.height(), 3);
    let col = |t: &genolm::table::Table, c: &str| -> Vec<f64> {
        let c =
            t.df.column(c)
                .unwrap()
                .cast(&polars::prelude::DataType::Float64)
                .unwrap();
        c.f64().unwrap().iter().map(|v| v.unwrap()).collect()
    };
    assert!(col(&t, "llr").iter().all(|v| v.is_finite()));
    assert_eq!(col(&t, "left_flank"), [16.0; 3]);
    // near a contig end or an ambiguous base, a window is cut there: a variant 4 bases after an
    // N scores exactly as the same variant 4 bases after the start of a contig cut at the N
    let mut seq = phix.seq.clone();
    seq[95] = b'N';
    let near = |contig: &[u8], pos: usize| {
        let v = genolm::bench::variants::VcfVariant {
            pos,
            reference: contig[pos - 1],
            alt: if contig[pos - 1] == b'A' { b'C' } else { b'A' },
            ..got.variants[0].clone()
        };
        let input = genolm::bench::variants::VcfInput {
            variants: vec![v, got.variants[1].clone()],
            genome: vec![(phix.name.clone(), contig.to_vec())],
            skipped: 0,
        };
        let t = score_variants(&model, &input, &opts).unwrap();
        (
            col(&t, "llr"),
            col(&t, "left_flank"),
            col(&t, "right_flank"),
        )
    };
    let (gap, gap_left, gap_right) = near(&seq, 101);
    let (end, end_left, _) = near(&seq[96..], 5);
    assert_eq!((gap_left[0], gap_right[0], end_left[0]), (4.0, 16.0, 4.0));
    assert!(
        gap[0].is_finite() && (gap[0] - end[0]).abs() < 1e-5,
        "{gap:?} {end:?}"
    );
    // the other variant, in a window of its own, keeps its score
    assert!((gap[1] - col(&t, "llr")[1]).abs() < 1e-5);
    // a REF that disagrees with the FASTA is an error naming the file and line 6
    let wrong = if b(50) == 'A' { 'C' } else { 'A' };
    std::fs::write(
        &vcf,
        format!(
            "{header}{body}{}\t50\tbad\t{wrong}\tT\t.\tPASS\t.\n",
            phix.name
        ),
    )
    .unwrap();
    let e = read_vcf_variants(&vcf, &fa).unwrap_err().to_string();
    assert!(e.contains("v.vcf:6") && e.contains("REF"), "{e}");
    // the reference downloaded with NCBI's older headers (`gi|…|ref|<accession>|`): the VCF's
    // CHROM is a field of the record's name; the output keeps the VCF's spelling
    let ncbi = dir.path().join("phix_ncbi.fa");
    std::fs::write(
        &ncbi,
        format!(
            ">gi|9626372|ref|{}| Enterobacteria phage phiX174\n{}\n",
            phix.name,
            String::from_utf8_lossy(&phix.seq)
        ),
    )
    .unwrap();
    std::fs::write(&vcf, format!("{header}{body}")).unwrap();
    let named = read_vcf_variants(&vcf, &ncbi).unwrap();
    assert_eq!(named.variants.len(), 3);
    let t2 = score_variants(&model, &named, &opts).unwrap();
    assert_eq!(col(&t2, "llr"), col(&t, "llr"));
    assert_eq!(
        t2.df.column("chrom").unwrap().str().unwrap().get(0),
        Some(phix.name.as_str())
    );
    // a CHROM that fits no record is still an error that lists the records
    std::fs::write(&vcf, format!("{header}chr9\t5\tx\tA\tC\t.\tPASS\t.\n")).unwrap();
    let e = read_vcf_variants(&vcf, &ncbi).unwrap_err().to_string();
    assert!(
        e.contains("v.vcf:3") && e.contains("gi|9626372|ref|"),
        "{e}"
    );
}

#[test]
fn transfer_matrix_crosses_models_and_kingdoms() {
    use genolm::bench::transfer_matrix;
    let a = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1).unwrap();
    let b = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 2).unwrap();
    let opts = BenchOptions {
        train_genomes: Some(vec!["hpylori_ELS37".into(), "scerevisiae_chrI".into()]),
        ..BenchOptions::quick()
    };
    let t = transfer_matrix(&[("PRO", &a), ("EUK", &b)], &opts).unwrap();
    assert_eq!(t.height(), 6); // 2 models × 3 test kingdoms
    let ce = t.df.column("cross_entropy").unwrap().f64().unwrap();
    assert!(ce
        .iter()
        .all(|v| v.is_some_and(|v| v.is_finite() && v > 0.0)));
}

#[test]
fn kmer_logistic_regression_learns_the_promoters() {
    use genolm::bench::baselines::kmer_logreg_probs;
    use genolm::bench::classification::PROMOTERS_CSV;
    use genolm::data::tasks::{parse_labelled_csv, stratified_split};
    // 5 seeds of the stratified 80/20 split of the 106 UCI promoters: the k-mer regression is
    // far above chance (0.5) on average
    let items = parse_labelled_csv(PROMOTERS_CSV, "promoters").unwrap();
    let mut accs = Vec::new();
    for seed in 0..5 {
        let (tr, te) = stratified_split(&items, seed);
        let p = kmer_logreg_probs(&tr, &te, 2, seed, false, false);
        let ok = p
            .iter()
            .zip(&te)
            .filter(|(p, x)| (p[1] > p[0]) == (x.label == 1))
            .count();
        accs.push(ok as f64 / te.len() as f64);
    }
    let mean = accs.iter().sum::<f64>() / accs.len() as f64;
    eprintln!("k-mer logistic regression on the UCI promoters: {accs:?} (mean {mean:.3})");
    assert!(mean > 0.7, "{accs:?}");
}

#[test]
fn the_genome_promoter_set_keeps_the_uci_promoters_and_distinct_windows() {
    use genolm::bench::classification::{promoters_genome, PROMOTERS_CSV};
    use genolm::data::alphabet::revcomp;
    use genolm::data::tasks::parse_labelled_csv;
    use std::collections::HashSet;
    // the promoters are the UCI promoters, in order; the pool's negatives are 57-nt windows
    // that share no 20-mer (either strand) with each other or with any promoter, unlike the UCI
    // non-promoters, overlapping windows of one sequence; each seed draws 53 of them
    let uci = parse_labelled_csv(PROMOTERS_CSV, "uci").unwrap();
    let genome = promoters_genome().unwrap().items;
    let pos = |v: &[genolm::data::tasks::LabelledSeq]| -> Vec<Vec<u8>> {
        v.iter()
            .filter(|x| x.label == 1)
            .map(|x| x.seq.clone())
            .collect()
    };
    assert_eq!(pos(&uci), pos(&genome));
    let neg: Vec<&[u8]> = genome
        .iter()
        .filter(|x| x.label == 0)
        .map(|x| &x.seq[..])
        .collect();
    assert_eq!(neg.len(), 20 * 53);
    let kmers = |s: &[u8]| -> HashSet<Vec<u8>> {
        let r = revcomp(s);
        s.windows(20)
            .chain(r.windows(20))
            .map(|w| w.to_vec())
            .collect()
    };
    let mut seen: HashSet<Vec<u8>> = pos(&uci).iter().flat_map(|s| kmers(s)).collect();
    for s in neg {
        assert_eq!(s.len(), 57);
        assert!(s.iter().all(|b| b"ACGT".contains(b)));
        let k = kmers(s);
        assert!(k.is_disjoint(&seen), "{}", String::from_utf8_lossy(s));
        seen.extend(k);
    }
    for seed in [1, 2] {
        let drawn = genolm::data::tasks::balanced_subsample(&genome, seed);
        assert_eq!(drawn.len(), 106);
        assert_eq!(pos(&drawn), pos(&uci));
    }
    let draw = |seed| genolm::data::tasks::balanced_subsample(&genome, seed);
    assert_ne!(draw(1), draw(2));
    // the UCI non-promoters do overlap one another
    let uci_neg: Vec<&[u8]> = uci
        .iter()
        .filter(|x| x.label == 0)
        .map(|x| &x.seq[..])
        .collect();
    let overlapping = uci_neg
        .iter()
        .enumerate()
        .filter(|&(i, a)| {
            let k = kmers(a);
            uci_neg
                .iter()
                .enumerate()
                .any(|(j, b)| j != i && !k.is_disjoint(&kmers(b)))
        })
        .count();
    assert!(overlapping > 40, "{overlapping}");
}

#[test]
fn both_strand_baselines_do_not_depend_on_the_strand_given() {
    use genolm::bench::baselines::{kmer_logreg_probs, markov_per_class_probs};
    use genolm::bench::classification::PROMOTERS_CSV;
    use genolm::data::alphabet::revcomp;
    use genolm::data::tasks::{parse_labelled_csv, stratified_split, LabelledSeq};
    // on both strands an item and its reverse complement get the same class probabilities from
    // either baseline; on one strand they do not
    let items = parse_labelled_csv(PROMOTERS_CSV, "promoters").unwrap();
    let (tr, te) = stratified_split(&items, 1);
    let rc: Vec<LabelledSeq> = te
        .iter()
        .map(|x| LabelledSeq {
            seq: revcomp(&x.seq),
            ..x.clone()
        })
        .collect();
    let close = |a: &[Vec<f64>], b: &[Vec<f64>]| {
        a.iter()
            .flatten()
            .zip(b.iter().flatten())
            .all(|(x, y)| (x - y).abs() < 1e-9)
    };
    for both in [true, false] {
        let m = markov_per_class_probs(&tr, &te, 2, both).unwrap();
        let m_rc = markov_per_class_probs(&tr, &rc, 2, both).unwrap();
        let k = kmer_logreg_probs(&tr, &te, 2, 1, both, false);
        let k_rc = kmer_logreg_probs(&tr, &rc, 2, 1, both, false);
        assert_eq!(close(&m, &m_rc), both, "Markov, both strands {both}");
        assert_eq!(
            close(&k, &k_rc),
            both,
            "k-mer regression, both strands {both}"
        );
    }
}

#[test]
fn classification_runs_the_datasets_asked_for() {
    use genolm::bench::classification::CLASSIFICATION_DATASETS;
    let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 1).unwrap();
    let opts = BenchOptions {
        tasks: vec![Task::Classification],
        classification_datasets: vec!["promoters".into()],
        classification_folds: 2,
        ..BenchOptions::quick()
    };
    let rep = benchmark(&model, &opts).unwrap();
    let names: Vec<&str> = rep.rows.iter().map(|r| r.dataset.as_str()).collect();
    assert_eq!(names, ["promoters"]);
    // cross-validated: all 106 promoters tested once, every method's metrics over them
    let row = &rep.rows[0];
    assert_eq!(row.n, 106);
    for m in [
        "kmer_logreg auroc",
        "cnn_scratch auroc",
        "lm_probe auroc",
        "lm_generative auroc",
    ] {
        let v = row.more_baselines.iter().find(|x| x.0 == m).map(|x| x.1);
        assert!(v.is_some_and(|v| (0.0..=1.0).contains(&v)), "{m}: {v:?}");
    }
    let bad = BenchOptions {
        classification_datasets: vec!["promoter".into()],
        ..opts
    };
    let err = benchmark(&model, &bad).unwrap_err().to_string();
    assert!(
        err.contains("\"promoter\"") && err.contains(CLASSIFICATION_DATASETS[4]),
        "{err}"
    );
}

#[test]
fn both_strand_variant_scores_do_not_depend_on_the_strand_given() {
    use genolm::bench::variants::{score_substitutions, Substitution};
    use genolm::data::alphabet::{complement, revcomp};
    let model = GenomicModel::new(ModelConfig::tiny(), &Device::Cpu, 2).unwrap();
    let mut ctx = ctx_for(
        &model,
        &b"ACGTTGCAAGCTTAGCGATCGATCGGCTAGCTAGGCATCGAT".repeat(5),
    );
    let w = b"ATGCGTACGTTAGCATGCATCGATCGATCGGGCTAGCTAGCATCG".to_vec();
    let centre = 17; // not the middle: the reverse complement's centre differs
    let fwd = Substitution {
        name: "fwd".into(),
        window: w.clone(),
        centre,
        alt: b'T',
    };
    let rev = Substitution {
        name: "rev".into(),
        window: revcomp(&w),
        centre: w.len() - 1 - centre,
        alt: complement(b'T'),
    };
    // one strand: the two descriptions of one substitution score differently
    ctx.opts.variant_both_strands = false;
    let one = |ctx: &BenchContext, s: &Substitution| {
        score_substitutions(ctx, std::slice::from_ref(s)).unwrap()
    };
    let (a, _, ma) = one(&ctx, &fwd);
    let (b, _, mb) = one(&ctx, &rev);
    assert!((a[0] - b[0]).abs() > 1e-4, "{a:?} {b:?}");
    // both strands (the default): the same substitution gets the same score, from the model
    // and the chain
    ctx.opts.variant_both_strands = true;
    let (a2, _, ma2) = one(&ctx, &fwd);
    let (b2, _, mb2) = one(&ctx, &rev);
    assert!((a2[0] - b2[0]).abs() < 1e-3, "{a2:?} {b2:?}");
    assert!((ma2[0] - mb2[0]).abs() < 1e-9, "{ma2:?} {mb2:?}");
    // and it is the sum of the two one-strand scores
    assert!((a2[0] - (a[0] + b[0])).abs() < 1e-3);
    assert!((ma2[0] - (ma[0] + mb[0])).abs() < 1e-9);
}
