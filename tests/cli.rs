//! The analysis subcommands on real files (phiX174 from the embedded corpus, its GenBank
//! annotation): each writes its outputs and exits 0, and a bad input of each gives a clear
//! message and exit code 2.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use candle_core::Device;
use genolm::data::corpus::Corpus;
use genolm::infer::read_states;
use genolm::models::{GenomicModel, ModelConfig};

fn genolm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_genolm"))
        .args(args)
        .output()
        .expect("the genolm binary runs")
}

fn ok(args: &[&str]) -> String {
    let o = genolm(args);
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    );
    assert!(o.status.success(), "genolm {args:?} failed:\n{out}\n{err}");
    out
}

fn fails(args: &[&str]) -> String {
    let o = genolm(args);
    assert_eq!(
        o.status.code(),
        Some(2),
        "genolm {args:?} should fail with code 2"
    );
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// phiX174 as FASTA, its GenBank file, a small model (k = 1 for per-base maps).
fn fixtures(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let corpus = Corpus::embedded().unwrap();
    let phix = &corpus.genomes[corpus.index_of("phiX174").unwrap()].contigs[0];
    let fa = dir.join("phix.fa");
    std::fs::write(
        &fa,
        format!(">{}\n{}\n", phix.name, String::from_utf8_lossy(&phix.seq)),
    )
    .unwrap();
    let gbk = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/vir/phiX174.gbk");
    let mut cfg = ModelConfig::tiny();
    cfg.k = 1;
    let model = dir.join("model.safetensors");
    GenomicModel::new(cfg, &Device::Cpu, 3)
        .unwrap()
        .save(&model)
        .unwrap();
    (fa, gbk, model)
}

/// A run folder's `metrics.json`.
fn metrics(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("metrics.json")).unwrap()).unwrap()
}

/// `genolm classify` of the tiny preset from scratch (two epochs of the last cycle) on the
/// given data arguments into `out`: what it printed and its `metrics.json`.
fn classify_tiny(data: &[&str], out: &Path) -> (String, serde_json::Value) {
    let mut args = vec!["classify", "--preset", "tiny"];
    args.extend_from_slice(data);
    args.extend(["--epochs", "0,0,0,2", "--out", s(out)]);
    let printed = ok(&args);
    (printed, metrics(out))
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn states_then_explain_neurons() {
    let dir = tempfile::tempdir().unwrap();
    let (fa, gbk, model) = fixtures(dir.path());
    let h5 = dir.path().join("phix.h5");
    let out = ok(&[
        "states",
        s(&model),
        s(&fa),
        "--out",
        s(&h5),
        "--every",
        "3",
        "--reverse-strand",
    ]);
    assert!(out.contains("wrote") && out.contains("rc.body"), "{out}");
    let st = read_states(&h5).unwrap();
    assert_eq!(st.records[0].length, 5386);
    assert_eq!(st.n_rows(), 5386usize.div_ceil(3));
    // every layer twice: the forward strand's and the reverse strand's (`rc.`), as many rows
    let n = st.layers.len();
    assert!(n >= 4 && n.is_multiple_of(2));
    for (f, r) in st.layers[..n / 2].iter().zip(&st.layers[n / 2..]) {
        assert_eq!(r.name, format!("rc.{}", f.name));
        assert_eq!(r.data.len(), f.data.len());
    }

    let nd = dir.path().join("neurons");
    ok(&[
        "explain",
        "neurons",
        s(&h5),
        "--annotation",
        s(&gbk),
        "--out",
        s(&nd),
        "--no-probe",
    ]);
    let csv = std::fs::read_to_string(nd.join("neurons.csv")).unwrap();
    assert!(
        csv.lines().count() > 10 && csv.contains("CDS"),
        "{}",
        &csv[..200.min(csv.len())]
    );
    assert!(std::fs::read_to_string(nd.join("heatmap.svg"))
        .unwrap()
        .starts_with("<svg"));
    assert!(std::fs::read_to_string(nd.join("top.txt"))
        .unwrap()
        .contains("Neuron"));
    // each unit read on both strands, as layers both.<layer>
    let nb = dir.path().join("neurons_both");
    ok(&[
        "explain",
        "neurons",
        s(&h5),
        "--annotation",
        s(&gbk),
        "--out",
        s(&nb),
        "--no-probe",
        "--strand-means",
    ]);
    let csv = std::fs::read_to_string(nb.join("neurons.csv")).unwrap();
    assert!(
        csv.contains("both.lstm.0"),
        "{}",
        &csv[..200.min(csv.len())]
    );

    // the states of the GenBank file itself; and of a FASTA whose header names the genome
    // otherwise, matched to the annotation by its bases
    let from_gb = dir.path().join("gb.h5");
    ok(&[
        "states",
        s(&model),
        s(&gbk),
        "--out",
        s(&from_gb),
        "--every",
        "3",
    ]);
    assert_eq!(read_states(&from_gb).unwrap().records[0].length, 5386);
    let t = ok(&["tokenize", s(&gbk)]);
    assert!(t.contains("5384 tokens"), "{t}");
    let bases = &genolm::data::fasta::read_fasta(&fa).unwrap()[0].seq;
    let renamed = dir.path().join("renamed.fa");
    std::fs::write(&renamed, [b">my_phage\n".as_slice(), bases, b"\n"].concat()).unwrap();
    let renamed_h5 = dir.path().join("renamed.h5");
    ok(&[
        "states",
        s(&model),
        s(&renamed),
        "--out",
        s(&renamed_h5),
        "--every",
        "3",
    ]);
    let out = ok(&[
        "explain",
        "neurons",
        s(&renamed_h5),
        "--annotation",
        s(&gbk),
        "--out",
        s(&dir.path().join("neurons_renamed")),
        "--no-probe",
    ]);
    assert!(out.contains("targets"), "{out}");

    // bad inputs: an unknown layer, an annotation of other sequences
    let e = fails(&[
        "states",
        s(&model),
        s(&fa),
        "--out",
        s(&dir.path().join("x.h5")),
        "--layers",
        "lstm.9",
    ]);
    assert!(e.contains("no layer \"lstm.9\""), "{e}");
    let other = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/vir/influenza_A_EU851978.gbk");
    let e = fails(&[
        "explain",
        "neurons",
        s(&h5),
        "--annotation",
        s(&other),
        "--out",
        s(&nd),
    ]);
    assert!(e.contains("none of the sequences"), "{e}");
    // --strand-means on states of one strand
    let fwd = dir.path().join("fwd.h5");
    ok(&[
        "states",
        s(&model),
        s(&fa),
        "--out",
        s(&fwd),
        "--every",
        "3",
    ]);
    let e = fails(&[
        "explain",
        "neurons",
        s(&fwd),
        "--annotation",
        s(&gbk),
        "--out",
        s(&nd),
        "--strand-means",
    ]);
    assert!(e.contains("--reverse-strand"), "{e}");
}

#[test]
fn attribution_and_depmap_write_tables_and_figures() {
    let dir = tempfile::tempdir().unwrap();
    let (fa, _, model) = fixtures(dir.path());
    let ad = dir.path().join("attr");
    ok(&[
        "explain",
        "attribution",
        s(&model),
        s(&fa),
        "--method",
        "ism",
        "--start",
        "100",
        "--end",
        "140",
        "--out",
        s(&ad),
    ]);
    let csv = std::fs::read_to_string(ad.join("NC_001422.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 40 * 3, "one row per substitution");
    ok(&[
        "explain",
        "attribution",
        s(&model),
        s(&fa),
        "--end",
        "60",
        "--steps",
        "8",
        "--out",
        s(&ad),
    ]);
    assert!(std::fs::read_to_string(ad.join("NC_001422.svg"))
        .unwrap()
        .starts_with("<svg"));

    let dd = dir.path().join("depmap");
    ok(&[
        "explain",
        "depmap",
        s(&model),
        s(&fa),
        "--end",
        "30",
        "--out",
        s(&dd),
    ]);
    let csv = std::fs::read_to_string(dd.join("NC_001422.csv")).unwrap();
    assert!(csv.lines().count() > 30, "{csv}");

    // bad inputs: an empty window, a file that is not FASTA
    let e = fails(&[
        "explain",
        "depmap",
        s(&model),
        s(&fa),
        "--start",
        "9000",
        "--out",
        s(&dd),
    ]);
    assert!(e.contains("window") && e.contains("5386"), "{e}");
    // a record too short for the window is left out with a note; the others are explained
    let two = dir.path().join("two.fa");
    let text = std::fs::read_to_string(&fa).unwrap();
    std::fs::write(&two, format!("{text}\n>tiny\nACGTACGT\n")).unwrap();
    let o = genolm(&[
        "explain",
        "depmap",
        s(&model),
        s(&two),
        "--start",
        "10",
        "--end",
        "30",
        "--out",
        s(&dd),
    ]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("left out: tiny (8 nt)"), "{err}");
    assert!(!dd.join("tiny.csv").exists());
    let junk = dir.path().join("junk.fa");
    std::fs::write(&junk, "this is not a sequence file\n").unwrap();
    let e = fails(&[
        "explain",
        "attribution",
        s(&model),
        s(&junk),
        "--out",
        s(&ad),
    ]);
    assert!(e.contains("junk.fa"), "{e}");
}

#[test]
fn variants_from_a_vcf() {
    let dir = tempfile::tempdir().unwrap();
    let (fa, _, model) = fixtures(dir.path());
    let corpus = Corpus::embedded().unwrap();
    let phix = &corpus.genomes[corpus.index_of("phiX174").unwrap()].contigs[0];
    let b = |i: usize| phix.seq[i - 1] as char;
    let alt = |i: usize| if b(i) == 'A' { 'C' } else { 'A' };
    let header = "##fileformat=VCFv4.3\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n";
    let vcf = dir.path().join("v.vcf");
    std::fs::write(
        &vcf,
        format!(
            "{header}NC_001422\t500\ta\t{}\t{}\t.\tPASS\t.\nNC_001422\t900\tb\t{}\t{}\t.\tPASS\t.\n\
             NC_001422\t1200\tins\t{}\t{}GGT\t.\tPASS\t.\nNC_001422\t1500\tdel\t{}{}{}\t{}\t.\tPASS\t.\n",
            b(500),
            alt(500),
            b(900),
            alt(900),
            b(1200),
            b(1200),
            b(1500),
            b(1501),
            b(1502),
            b(1500)
        ),
    )
    .unwrap();
    let out = dir.path().join("scores.csv");
    let alleles = dir.path().join("alleles.csv");
    let printed = ok(&[
        "variants",
        s(&model),
        "--vcf",
        s(&vcf),
        "--fasta",
        s(&fa),
        "--out",
        s(&out),
        "--flank",
        "20",
        "--alleles",
        s(&alleles),
    ]);
    let csv = std::fs::read_to_string(&out).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(printed.contains("2 other alleles skipped"), "{printed}");
    // every allele, indels included, with a finite window LLR and (a causal LM of overlapping
    // 3-mers) a finite right-flank LLR, on 20 bases a side
    let all = std::fs::read_to_string(&alleles).unwrap();
    assert_eq!(all.lines().count(), 5, "{all}");
    assert!(
        all.starts_with(
            "chrom,pos,id,ref,alt,kind,window_llr,right_flank_llr,left_flank,right_flank\n"
        ),
        "{all}"
    );
    for (line, kind) in
        all.lines()
            .skip(1)
            .zip(["substitution", "substitution", "insertion", "deletion"])
    {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f[5], kind, "{line}");
        assert!(f[6].parse::<f64>().unwrap().is_finite(), "{line}");
        assert!(f[7].parse::<f64>().unwrap().is_finite(), "{line}");
        assert_eq!(&f[8..], ["20", "20"], "{line}");
    }
    // a REF that disagrees with the FASTA: the error names the file and line
    std::fs::write(
        &vcf,
        format!("{header}NC_001422\t500\ta\t{}\tT\t.\tPASS\t.\n", alt(500)),
    )
    .unwrap();
    let e = fails(&[
        "variants",
        s(&model),
        "--vcf",
        s(&vcf),
        "--fasta",
        s(&fa),
        "--out",
        s(&out),
    ]);
    assert!(e.contains("v.vcf:3"), "{e}");
}

/// The labelled CSV as FASTA (each record named `line<N>`, its line in the file, with Windows
/// line ends so that the line numbers must survive CRLF), and the CSV rewritten with CRLF.
fn promoters_crlf(csv: &Path, dir: &Path) -> (PathBuf, PathBuf) {
    let text = std::fs::read_to_string(csv).unwrap();
    let crlf = dir.join("promoters_crlf.csv");
    std::fs::write(&crlf, text.replace("\r\n", "\n").replace('\n', "\r\n")).unwrap();
    let mut fa = String::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        let seq = line.split(',').next().unwrap();
        fa.push_str(&format!(">line{}\n{seq}\n", i + 1));
    }
    let fasta = dir.join("promoters.fa");
    std::fs::write(&fasta, fa).unwrap();
    (crlf, fasta)
}

/// `genolm predict`'s rows agree with `genolm classify`'s predictions.csv for every test item
/// (found by its origin line): the saved classifier is the one that was scored.
fn predictions_agree(classified: &Path, predicted: &Path) {
    let read = |p: &Path| {
        let t = std::fs::read_to_string(p).unwrap();
        let mut lines = t.lines();
        let head: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
        let rows: Vec<Vec<String>> = lines
            .map(|l| {
                l.split(',')
                    .map(|f| f.trim_matches('"').to_string())
                    .collect()
            })
            .collect();
        (head, rows)
    };
    let (ch, crows) = read(&classified.join("predictions.csv"));
    let (ph, prows) = read(predicted);
    let p_cols =
        |h: &[String]| -> Vec<usize> { (0..h.len()).filter(|&i| h[i].starts_with("p_")).collect() };
    assert_eq!(
        p_cols(&ch).iter().map(|&i| &ch[i]).collect::<Vec<_>>(),
        p_cols(&ph).iter().map(|&i| &ph[i]).collect::<Vec<_>>()
    );
    for r in &crows {
        let line = r[0].rsplit(':').next().unwrap();
        let q = prows
            .iter()
            .find(|q| q[0] == format!("line{line}"))
            .unwrap_or_else(|| panic!("no record line{line} in {}", predicted.display()));
        assert_eq!(r[2], q[3], "predicted class of line {line}");
        for (a, b) in p_cols(&ch).into_iter().zip(p_cols(&ph)) {
            let (x, y): (f64, f64) = (r[a].parse().unwrap(), q[b].parse().unwrap());
            assert!((x - y).abs() < 1e-5, "line {line}: {x} vs {y}");
        }
    }
}

#[test]
fn classify_from_scratch_next_to_the_baselines() {
    let dir = tempfile::tempdir().unwrap();
    let csv =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/labelled/ecoli_promoters_uci.csv");
    let out = dir.path().join("cls");
    let printed = ok(&[
        "classify",
        "--preset",
        "tiny",
        "--data",
        s(&csv),
        "--epochs",
        "1,0,0,1",
        "--min-valid-per-class",
        "6",
        "--baselines",
        "--out",
        s(&out),
    ]);
    for name in [
        "from scratch",
        "markov_per_class",
        "kmer_logreg",
        "cnn_scratch",
    ] {
        assert!(printed.contains(name), "{name}: {printed}");
    }
    // per-epoch lines unless --quiet
    assert!(printed.contains("epoch 1/"), "{printed}");
    let m = metrics(&out);
    for name in ["markov_per_class", "kmer_logreg", "cnn_scratch"] {
        let b = &m["baselines"][name];
        let acc = b["accuracy"].as_f64().unwrap_or(f64::NAN);
        assert!((0.0..=1.0).contains(&acc), "{name}: {m}");
        assert!(b["auroc"].as_f64().is_some(), "{name}: {m}");
    }
    // the test curves with every method, and the training curves
    for f in ["roc.svg", "pr.svg", "history.svg"] {
        let svg = std::fs::read_to_string(out.join(f)).unwrap_or_default();
        assert!(svg.contains("<svg"), "{f}");
    }
    let roc = std::fs::read_to_string(out.join("roc.svg")).unwrap();
    assert!(
        roc.contains("kmer_logreg") && roc.contains("from scratch"),
        "{roc}"
    );
    // a fresh encoder is trained whole from the first cycle (no frozen random layers)
    let history = std::fs::read_to_string(out.join("history.csv")).unwrap();
    assert!(history.contains("classifier cycle 1"), "{history}");
    assert!(!history.contains("freeze_to"), "{history}");
    // the classifier pools stretches of the items' positions too
    let clf = GenomicModel::load(out.join("classifier.safetensors"), &Device::Cpu).unwrap();
    assert_eq!(
        clf.config().cls_pool_bins,
        genolm::models::config::CLS_POOL_BINS
    );
    // one class rare (every fourth promoter kept: 14 against 53), weighed equally: the flag is
    // recorded and every method reports the mean of the classes' recalls
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let mut promoters = 0;
    let kept: Vec<&str> = lines
        .filter(|l| {
            let promoter = l.trim_end().ends_with(",1");
            promoters += usize::from(promoter);
            !promoter || promoters % 4 == 1
        })
        .collect();
    let rare = dir.path().join("rare.csv");
    std::fs::write(&rare, format!("{header}\n{}\n", kept.join("\n"))).unwrap();
    let out = dir.path().join("rare");
    let rare_run = |extra: &[&str]| {
        let mut args = vec!["classify", "--preset", "tiny", "--data", s(&rare), "-q"];
        args.extend(["--epochs", "0,0,0,1", "--out", s(&out)]);
        args.extend_from_slice(extra);
        let o = genolm(&args);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o
    };
    rare_run(&["--balanced", "--baselines"]);
    let m = metrics(&out);
    assert_eq!(m["balanced"].as_bool(), Some(true), "{m}");
    for b in [
        &m,
        &m["baselines"]["kmer_logreg"],
        &m["baselines"]["cnn_scratch"],
    ] {
        assert!(
            (0.0..=1.0).contains(&b["balanced_accuracy"].as_f64().unwrap()),
            "{m}"
        );
    }
    // without --balanced, a note says the classes are unbalanced and what to do
    let o = rare_run(&[]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--balanced"), "{err}");
}

#[test]
fn classify_the_promoters() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, model) = fixtures(dir.path());
    let csv =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/labelled/ecoli_promoters_uci.csv");
    let out = dir.path().join("cls");
    let (crlf, fasta) = promoters_crlf(&csv, dir.path());
    let printed = ok(&[
        "classify",
        "--lm",
        s(&model),
        "--data",
        s(&crlf),
        "--epochs",
        "1,0,0,1",
        "--min-valid-per-class",
        "6",
        "--out",
        s(&out),
    ]);
    assert!(printed.contains("test accuracy"), "{printed}");
    let m = metrics(&out);
    let acc = m["accuracy"].as_f64().unwrap();
    assert!(
        (0.0..=1.0).contains(&acc) && m["n_test"].as_u64().unwrap() > 10,
        "{m}"
    );
    // allowed to (--min-valid-per-class 6), 15 % of the 84 training items (42 per class)
    // picked the best epoch: 6 per class
    assert_eq!(
        (m["n_train"].as_u64(), m["n_valid"].as_u64()),
        (Some(72), Some(12)),
        "{m}"
    );
    assert!(
        m["best_epoch"]["valid_loss"].as_f64().unwrap().is_finite(),
        "{m}"
    );
    let preds = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
    assert_eq!(
        preds.lines().count() as u64,
        1 + m["n_test"].as_u64().unwrap()
    );
    let clf = GenomicModel::load(out.join("classifier.safetensors"), &Device::Cpu).unwrap();
    assert_eq!(clf.config().class_names, ["0", "1"]);
    // applied to new sequences: the test items again give the probabilities classify scored
    let pred = dir.path().join("pred.csv");
    let printed = ok(&["predict", s(&out), s(&fasta), "--out", s(&pred)]);
    assert!(printed.contains("106 records of 106 records"), "{printed}");
    predictions_agree(&out, &pred);
    // scanned in windows: three promoters end to end, windows of their length, are those three
    let text = std::fs::read_to_string(&fasta).unwrap();
    let seqs: Vec<&str> = text.lines().skip(1).step_by(2).take(3).collect();
    let three = dir.path().join("three.fa");
    std::fs::write(&three, format!(">three\n{}\n", seqs.concat())).unwrap();
    let (scan, svg) = (dir.path().join("scan.csv"), dir.path().join("scan.svg"));
    ok(&[
        "predict",
        s(&out),
        s(&three),
        "--out",
        s(&scan),
        "--window",
        "57",
        "--step",
        "57",
        "--plot",
        s(&svg),
    ]);
    let scan = std::fs::read_to_string(&scan).unwrap();
    let whole = std::fs::read_to_string(&pred).unwrap();
    for (i, row) in scan.lines().skip(1).enumerate() {
        let f: Vec<&str> = row.split(',').collect();
        assert_eq!(
            (f[1], f[2]),
            (&*(57 * i).to_string(), &*(57 * (i + 1)).to_string())
        );
        let same: Vec<&str> = whole.lines().nth(i + 1).unwrap().split(',').collect();
        assert_eq!(f[3], same[3], "window {i}");
        for (a, b) in f[4..].iter().zip(&same[4..]) {
            let (a, b): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
            assert!((a - b).abs() < 1e-5, "window {i}: {a} vs {b}");
        }
    }
    assert_eq!(scan.lines().count(), 4);
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    let e = fails(&["predict", s(&model), s(&fasta), "--out", s(&pred)]);
    assert!(e.contains("need a classifier"), "{e}");

    // class-conditional LMs: one fine-tuned LM per class, named after the class
    let generative = |lms: &[&Path], out: &Path| {
        let mut args = vec!["classify"];
        for lm in lms {
            args.extend(["--lm", s(lm)]);
        }
        args.extend([
            "--data",
            s(&csv),
            "--generative",
            "--generative-steps",
            "10",
        ]);
        args.extend(["--out", s(out)]);
        ok(&args)
    };
    let gen = dir.path().join("gen");
    let printed = generative(&[&model], &gen);
    assert!(printed.contains("class-conditional LMs"), "{printed}");
    let m = metrics(&gen);
    assert!(
        (0.0..=1.0).contains(&m["accuracy"].as_f64().unwrap()),
        "{m}"
    );
    let classes: Vec<String> = m["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    for c in &classes {
        let lm = gen.join(format!("class_lm_{c}.safetensors"));
        assert!(
            GenomicModel::load(&lm, &Device::Cpu).is_ok(),
            "{}",
            lm.display()
        );
    }
    let preds = std::fs::read_to_string(gen.join("predictions.csv")).unwrap();
    assert_eq!(
        preds.lines().count() as u64,
        1 + m["n_test"].as_u64().unwrap()
    );
    // the class LMs applied to new sequences (generative.json beside them)
    ok(&["predict", s(&gen), s(&fasta), "--out", s(&pred)]);
    predictions_agree(&gen, &pred);
    // records too short for class LMs (two tokens) get no row, and a note names them
    let short = dir.path().join("short.fa");
    let first: Vec<&str> = text.lines().take(2).collect();
    std::fs::write(&short, format!("{}\n>empty\n\n>one\nA\n", first.join("\n"))).unwrap();
    let o = genolm(&["predict", s(&gen), s(&short), "--out", s(&pred)]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("2 record(s) too short") && err.contains("empty (0 nt), one (1 nt)"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&pred).unwrap().lines().count(), 2);
    let e = fails(&[
        "predict",
        s(&gen),
        s(&short),
        "--out",
        s(&pred),
        "--window",
        "1",
    ]);
    assert!(
        e.contains("shorter than this classifier's shortest input"),
        "{e}"
    );
    // several LMs: one class-LM folder per LM, probabilities averaged; the first member is
    // the single-LM run above, and `predict` applies the ensemble folder
    let model2 = dir.path().join("model2.safetensors");
    let mut cfg = ModelConfig::tiny();
    cfg.k = 1;
    GenomicModel::new(cfg, &Device::Cpu, 11)
        .unwrap()
        .save(&model2)
        .unwrap();
    let ens = dir.path().join("ens");
    let printed = generative(&[&model, &model2], &ens);
    assert!(printed.contains("several LMs averaged"), "{printed}");
    let e = metrics(&ens);
    let members = e["members"].as_array().unwrap();
    assert_eq!(members.len(), 2, "{e}");
    assert_eq!(members[0]["accuracy"], m["accuracy"], "{e}");
    assert_eq!(e["pretrained"].as_array().unwrap().len(), 2, "{e}");
    assert!(ens.join("ensemble.json").is_file() && ens.join("lm_2/generative.json").is_file());
    let single = std::fs::read_to_string(gen.join("predictions.csv")).unwrap();
    let both = std::fs::read_to_string(ens.join("predictions.csv")).unwrap();
    assert_eq!(single.lines().count(), both.lines().count());
    let ens_pred = dir.path().join("ens-pred.csv");
    ok(&["predict", s(&ens), s(&fasta), "--out", s(&ens_pred)]);
    predictions_agree(&ens, &ens_pred);
    // a later one-LM run into the same folder is what `predict` then applies
    generative(&[&model2], &ens);
    assert!(!ens.join("ensemble.json").exists());
    ok(&["predict", s(&ens), s(&fasta), "--out", s(&ens_pred)]);
    predictions_agree(&ens, &ens_pred);
    // a linear probe of the frozen LM, the classes weighed equally: saved with its LM (the
    // folder is complete on its own) and applied by `predict`
    let probe = dir.path().join("probe");
    let printed = ok(&[
        "classify",
        "--lm",
        s(&model),
        "--data",
        s(&csv),
        "--probe",
        "--balanced",
        "--out",
        s(&probe),
    ]);
    assert!(printed.contains("linear probe"), "{printed}");
    let p = metrics(&probe);
    assert_eq!(
        (p["method"].as_str(), p["balanced"].as_bool()),
        (Some("linear probe"), Some(true)),
        "{p}"
    );
    assert!(
        (0.0..=1.0).contains(&p["balanced_accuracy"].as_f64().unwrap()),
        "{p}"
    );
    for f in ["probe.json", "probe.safetensors", "probe_lm.safetensors"] {
        assert!(probe.join(f).is_file(), "{f}");
    }
    let probe_pred = dir.path().join("probe-pred.csv");
    ok(&["predict", s(&probe), s(&fasta), "--out", s(&probe_pred)]);
    predictions_agree(&probe, &probe_pred);
    // a probe run into a class-LM folder is what `predict` then applies
    ok(&[
        "classify",
        "--lm",
        s(&model),
        "--data",
        s(&csv),
        "--probe",
        "--out",
        s(&gen),
    ]);
    assert!(!gen.join("generative.json").exists());
    ok(&["predict", s(&gen), s(&fasta), "--out", s(&probe_pred)]);
    predictions_agree(&gen, &probe_pred);
    // a probe reads one LM, and is not class LMs
    let e = fails(&[
        "classify",
        "--lm",
        s(&model),
        "--data",
        s(&csv),
        "--probe",
        "--generative",
        "--out",
        s(&probe),
    ]);
    assert!(e.contains("--generative") || e.contains("--probe"), "{e}");
    // a classifier head fine-tunes one LM
    let e = fails(&[
        "classify",
        "--lm",
        s(&model),
        "--lm",
        s(&model2),
        "--data",
        s(&csv),
        "--out",
        s(&ens),
    ]);
    assert!(e.contains("--generative"), "{e}");
    // it needs the LM to start from
    let e = fails(&[
        "classify",
        "--data",
        s(&csv),
        "--generative",
        "--out",
        s(&gen),
    ]);
    assert!(e.contains("--lm"), "{e}");
    // a test file of its own: all of --data trains, the test file's classes matched by name
    let text = std::fs::read_to_string(&csv).unwrap();
    let (header, rows) = text.split_once('\n').unwrap();
    let rows: Vec<&str> = rows.lines().collect();
    let (tr_csv, te_csv, odd_csv) = (
        dir.path().join("tr.csv"),
        dir.path().join("te.csv"),
        dir.path().join("odd.csv"),
    );
    // the test file lists its rows in reverse, so its own class order differs from --data's
    let test_rows: Vec<&str> = rows.iter().rev().step_by(5).copied().collect();
    let train_rows: Vec<&str> = rows
        .iter()
        .filter(|r| !test_rows.contains(r))
        .copied()
        .collect();
    std::fs::write(&tr_csv, format!("{header}\n{}\n", train_rows.join("\n"))).unwrap();
    std::fs::write(&te_csv, format!("{header}\n{}\n", test_rows.join("\n"))).unwrap();
    let sep = ok(&[
        "classify",
        "--lm",
        s(&model),
        "--data",
        s(&tr_csv),
        "--test",
        s(&te_csv),
        "--generative",
        "--generative-steps",
        "10",
        "--out",
        s(&dir.path().join("gen-test")),
    ]);
    assert!(
        sep.contains(&format!(
            "{} train / {} test items",
            train_rows.len(),
            test_rows.len()
        )),
        "{sep}"
    );
    let preds = std::fs::read_to_string(dir.path().join("gen-test/predictions.csv")).unwrap();
    // each test row keeps its own class name
    let first_label = test_rows[0]
        .rsplit(',')
        .next()
        .unwrap()
        .trim()
        .trim_matches('"');
    let first_pred = preds.lines().nth(1).unwrap();
    assert!(
        first_pred.split(',').nth(1).unwrap().trim_matches('"') == first_label,
        "{first_pred}"
    );
    std::fs::write(
        &odd_csv,
        format!("{header}\nACGTACGTACGTACGTACGTACGTACGT,virus\n"),
    )
    .unwrap();
    let e = fails(&[
        "classify",
        "--lm",
        s(&model),
        "--data",
        s(&tr_csv),
        "--test",
        s(&odd_csv),
        "--generative",
        "--out",
        s(&dir.path().join("gen-odd")),
    ]);
    assert!(
        e.contains("\"virus\" is not among the training classes"),
        "{e}"
    );

    // a validation split per class: kept epochs and the calibration in metrics.json
    let cal = dir.path().join("gen-cal");
    ok(&[
        "classify",
        "--lm",
        s(&model),
        "--data",
        s(&csv),
        "--generative",
        "--generative-steps",
        "10",
        "--generative-valid",
        "0.25",
        "--out",
        s(&cal),
    ]);
    let m = metrics(&cal);
    assert!(m["calibration"]["scale"].as_f64().unwrap() > 0.0, "{m}");
    for c in &classes {
        let e = &m["class_lm_epochs"][c.as_str()];
        assert!(
            e["kept"].as_u64().unwrap() <= e["run"].as_u64().unwrap(),
            "{m}"
        );
    }
    let e = fails(&[
        "classify",
        "--lm",
        s(&model),
        "--data",
        s(&csv),
        "--generative",
        "--generative-valid",
        "1.5",
        "--out",
        s(&cal),
    ]);
    assert!(e.contains("valid_fraction must be in [0, 1)"), "{e}");

    // bad inputs: three cycles instead of four; a CSV without the header
    let e = fails(&[
        "classify",
        "--lm",
        s(&model),
        "--data",
        s(&csv),
        "--epochs",
        "1,1,1",
        "--out",
        s(&out),
    ]);
    assert!(e.contains("four numbers"), "{e}");
    let e = fails(&[
        "classify",
        "--lm",
        s(&model),
        "--data",
        s(&csv),
        "--valid-fraction",
        "1.5",
        "--out",
        s(&out),
    ]);
    assert!(e.contains("valid_fraction must be in [0, 1)"), "{e}");
    let e = fails(&["bench", "pretrained:no_such_model", "--tasks", "cost"]);
    assert!(
        e.contains("no pretrained model \"no_such_model\"") && e.contains("available"),
        "{e}"
    );
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "seq,class\nACGT,1\n").unwrap();
    let e = fails(&[
        "classify",
        "--lm",
        s(&model),
        "--data",
        s(&bad),
        "--out",
        s(&out),
    ]);
    assert!(e.contains("bad.csv:1") && e.contains("sequence"), "{e}");
}

#[test]
fn train_then_report_a_run_folder() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let toml = dir.path().join("tiny.toml");
    std::fs::write(
        &toml,
        format!(
            "output = {:?}\n[data]\nbptt = 32\nbatch_size = 8\n[model]\npreset = \"tiny\"\n\
             [train]\nepochs = 1\nmax_batches = 3\nvalid_max_batches = 2\ndevice = \"cpu\"\n",
            run.display().to_string()
        ),
    )
    .unwrap();
    ok(&["train", "--config", s(&toml)]);
    assert!(
        run.join("run.toml").exists(),
        "the run records its run file"
    );
    let rep = dir.path().join("rep");
    let out = ok(&["report", s(&run), "--out", s(&rep)]);
    assert!(out.contains("index.html"), "{out}");
    let html = std::fs::read_to_string(rep.join("index.html")).unwrap();
    for section in [
        "Data",
        "Training",
        "Held-out quality per kingdom",
        "Loss along phiX174",
        // per-step curves from the run's metrics.jsonl, not two points per epoch
        "Training loss per step",
    ] {
        assert!(html.contains(section), "the report lacks {section}");
    }
    for f in ["metrics.jsonl", "summary.json"] {
        assert!(run.join(f).exists(), "{f}");
    }
    assert!(std::fs::read_dir(&run).unwrap().flatten().any(|e| e
        .file_name()
        .to_string_lossy()
        .starts_with("events.out.tfevents.")));
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rep.join("manifest.json")).unwrap()).unwrap();
    assert!(
        m["metrics"]["test_VIR_loss"].as_f64().unwrap() > 0.0,
        "{}",
        m["metrics"]
    );
    // the report records how to make the run again, and `reproduce` does (into rep/reproduced,
    // never over the run) with every metric the same
    assert_eq!(m["command"][0], "train", "{}", m["command"]);
    let again = ok(&["reproduce", s(&rep.join("manifest.json"))]);
    assert!(again.contains("metrics identical"), "{again}");
    assert!(rep.join("reproduced/run/model.safetensors").is_file());
    assert_eq!(
        std::fs::read(run.join("model.safetensors")).unwrap(),
        std::fs::read(rep.join("reproduced/run/model.safetensors")).unwrap(),
    );
    // `train --report` writes the same report with its own command line recorded
    let rep2 = dir.path().join("rep2");
    let run3 = dir.path().join("run3");
    ok(&[
        "train",
        "-c",
        s(&toml),
        "--output",
        s(&run3),
        "--report",
        s(&rep2),
    ]);
    let m2: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rep2.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m2["metrics"], m["metrics"]);
    assert_eq!(
        m2["command"][2],
        s(&run3.join("run.toml")),
        "{}",
        m2["command"]
    );
    let again = ok(&["reproduce", s(&rep2.join("manifest.json"))]);
    assert!(again.contains("metrics identical"), "{again}");
    // the reproduced report records the same kind of command, so it reproduces in turn
    let m3: serde_json::Value = serde_json::from_slice(
        &std::fs::read(rep2.join("reproduced/report/manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(m3["command"][0], "train", "{}", m3["command"]);

    // a folder that is not a run
    let e = fails(&["report", s(dir.path()), "--out", s(&rep)]);
    assert!(e.contains("run.toml"), "{e}");

    // another seed of the same recipe: recorded in its run file, other initial weights
    let run2 = dir.path().join("run2");
    ok(&[
        "train",
        "-c",
        s(&toml),
        "--seed",
        "7",
        "--batch-seed",
        "9",
        "--output",
        s(&run2),
    ]);
    let rec = std::fs::read_to_string(run2.join("run.toml")).unwrap();
    assert!(rec.contains("\nseed = 7"), "{rec}");
    assert!(rec.contains("batch_seed = 9"), "{rec}");
    assert!(rec.contains("short_epochs = \"continue\""), "{rec}");
    assert_ne!(
        std::fs::read(run.join("model.safetensors")).unwrap(),
        std::fs::read(run2.join("model.safetensors")).unwrap(),
        "a different seed gives different weights"
    );
}

#[test]
fn search_and_monitor_have_help_and_refuse_bad_input() {
    for cmd in ["search", "monitor"] {
        let out = ok(&[cmd, "--help"]);
        assert!(out.contains("Usage: genolm"), "{out}");
    }
    let dir = tempfile::tempdir().unwrap();
    let e = fails(&["monitor", s(&dir.path().join("nope"))]);
    assert!(e.contains("is not a folder"), "{e}");
    let space = dir.path().join("space.toml");
    std::fs::write(
        &space,
        "[space]\n\"train.lrr\" = { uniform = [0.1, 0.2] }\n",
    )
    .unwrap();
    let e = fails(&[
        "search",
        "--space",
        s(&space),
        "--out",
        s(&dir.path().join("o")),
    ]);
    assert!(e.contains("lrr"), "{e}");
    let e = fails(&["search", "--out", s(dir.path())]);
    assert!(e.contains("not a search folder"), "{e}");
}

#[test]
fn classify_from_class_names_and_fasta_folders_from_scratch() {
    let dir = tempfile::tempdir().unwrap();
    // the UCI promoters with class names instead of 0/1
    let csv = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/labelled/ecoli_promoters_uci.csv"),
    )
    .unwrap();
    let named: String = csv
        .lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                format!("{l}\n")
            } else {
                let (seq, lab) = l.rsplit_once(',').unwrap();
                let name = if lab.trim() == "1" {
                    "promoter"
                } else {
                    "background"
                };
                format!("{seq},{name}\n")
            }
        })
        .collect();
    let named_csv = dir.path().join("named.csv");
    std::fs::write(&named_csv, named).unwrap();
    let out = dir.path().join("named");
    let (printed, m) = classify_tiny(&["--data", s(&named_csv)], &out);
    assert!(printed.contains("test accuracy"), "{printed}");
    assert_eq!(m["classes"], serde_json::json!(["background", "promoter"]));
    assert!(m["pretrained"].is_null());
    let preds = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
    assert!(
        preds.starts_with("origin,label,predicted,p_background,p_promoter\n"),
        "{preds}"
    );
    assert!(preds
        .lines()
        .skip(1)
        .all(|l| l.contains(",promoter,") || l.contains(",background,")));

    // one FASTA per class (deepG's folder convention): 150-nt windows of two real genomes
    let corpus = Corpus::embedded().unwrap();
    let folder = dir.path().join("by_class");
    std::fs::create_dir_all(&folder).unwrap();
    for (class, id) in [
        ("phage", "phage_lambda"),
        ("chloroplast", "athaliana_chloroplast"),
    ] {
        let g = &corpus.genomes[corpus.index_of(id).unwrap()];
        let seq = &g.contigs[0].seq;
        let fa: String = (0..30)
            .map(|i| {
                format!(
                    ">{class}{i}\n{}\n",
                    String::from_utf8_lossy(&seq[i * 997..i * 997 + 150])
                )
            })
            .collect();
        std::fs::write(folder.join(format!("{class}.fasta")), fa).unwrap();
    }
    let out = dir.path().join("folder");
    let (_, m) = classify_tiny(&["--data", s(&folder)], &out);
    assert_eq!(m["classes"], serde_json::json!(["chloroplast", "phage"]));
    assert_eq!(m["n_test"], 12);
    // the classifier explained from its folder: the class each window is predicted as, or
    // the one named
    let attr = |extra: &[&str]| {
        let mut args = vec!["explain", "attribution", s(&out)];
        let fa = folder.join("phage.fasta");
        let ad = dir.path().join("attr_cls");
        args.extend([s(&fa), "--steps", "4", "--out", s(&ad)]);
        args.extend_from_slice(extra);
        args.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let printed = ok(&attr(&[]).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(printed.contains("phage0: explaining class "), "{printed}");
    let printed = ok(&attr(&["--class", "phage"])
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>());
    assert!(!printed.contains("explaining class"), "{printed}");
    assert!(dir.path().join("attr_cls/phage29.csv").is_file());
    let e = fails(
        &attr(&["--class", "virus"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(e.contains("chloroplast, phage"), "{e}");
    // `genolm report` of a classify folder: the classifier's report
    let rep = dir.path().join("rep");
    ok(&["report", s(&out), "--out", s(&rep)]);
    let html = std::fs::read_to_string(rep.join("index.html")).unwrap();
    for part in [
        "Test metrics",
        "predicted phage",
        "ROC curve",
        "Training and validation",
    ] {
        assert!(html.contains(part), "the report lacks {part}");
    }
    for fig in ["roc", "pr", "history"] {
        assert!(rep.join(format!("figures/{fig}.png")).is_file(), "{fig}");
    }
    let confusion = std::fs::read_to_string(rep.join("tables/confusion.csv")).unwrap();
    let total: u64 = confusion
        .lines()
        .skip(1)
        .flat_map(|l| l.split(',').skip(1).map(|v| v.parse::<u64>().unwrap()))
        .sum();
    assert_eq!(total, 12, "every test item once: {confusion}");
    let e = fails(&["report", s(&out), "--bench", s(&rep), "--out", s(&rep)]);
    assert!(e.contains("`genolm classify` folder"), "{e}");

    // Genomic Benchmarks' layout: train/<class>/<id>.txt and test/<class>/<id>.txt, one
    // sequence per file (the same windows, 24 training and 6 test items per class)
    let gb = dir.path().join("gb");
    for class in ["phage", "chloroplast"] {
        let fa = std::fs::read_to_string(folder.join(format!("{class}.fasta"))).unwrap();
        for (i, seq) in fa.lines().filter(|l| !l.starts_with('>')).enumerate() {
            let split = if i < 24 { "train" } else { "test" };
            let d = gb.join(split).join(class);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join(format!("{i}.txt")), seq).unwrap();
        }
    }
    let out_gb = dir.path().join("gb_out");
    let (_, m) = classify_tiny(
        &[
            "--data",
            s(&gb.join("train")),
            "--test",
            s(&gb.join("test")),
        ],
        &out_gb,
    );
    assert_eq!(m["classes"], serde_json::json!(["chloroplast", "phage"]));
    assert_eq!(m["n_test"], 12);
    assert_eq!(m["n_train"], 48);

    // a folder with one class file is refused
    std::fs::remove_file(folder.join("phage.fasta")).unwrap();
    let e = fails(&[
        "classify",
        "--preset",
        "tiny",
        "--data",
        s(&folder),
        "--out",
        s(&out),
    ]);
    assert!(e.contains("one FASTA file per class"), "{e}");
}

#[test]
fn explain_motifs_of_conv_filters_against_jaspar() {
    let dir = tempfile::tempdir().unwrap();
    let (fa, _, _) = fixtures(dir.path());
    let mut cfg = ModelConfig::cnn_small();
    cfg.k = 1;
    cfg.emb_dim = 8;
    cfg.conv_layers = 1;
    cfg.conv_channels = 6;
    cfg.conv_kernel = 8;
    let model = dir.path().join("cnn.safetensors");
    GenomicModel::new(cfg, &Device::Cpu, 5)
        .unwrap()
        .save(&model)
        .unwrap();
    let jaspar = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("datasets/motifs/JASPAR2024_CORE_vertebrates.jaspar.gz");
    let out = dir.path().join("motifs");
    let printed = ok(&[
        "explain",
        "motifs",
        s(&model),
        s(&fa),
        "--jaspar",
        s(&jaspar),
        "--method",
        "filters",
        "--logos",
        "3",
        "--out",
        s(&out),
    ]);
    assert!(printed.contains("filter motifs"), "{printed}");
    let csv = std::fs::read_to_string(out.join("motifs.csv")).unwrap();
    assert_eq!(
        csv.lines().next().unwrap(),
        "filter,width,information_bits,consensus"
    );
    assert!(csv.lines().count() > 1);
    assert_eq!(std::fs::read_dir(out.join("logos")).unwrap().count(), 3);
    let m = std::fs::read_to_string(out.join("matches.csv")).unwrap();
    assert!(m.lines().count() > 1, "{m}");
    // a model without convolutions has no filters
    let (_, _, lstm) = fixtures(dir.path());
    let e = fails(&[
        "explain",
        "motifs",
        s(&lstm),
        s(&fa),
        "--method",
        "filters",
        "--out",
        s(&out),
    ]);
    assert!(e.contains("no convolution layers"), "{e}");
    // the default path: DeepSHAP → seqlets → motifs → JASPAR, every output written
    let out2 = dir.path().join("modisco");
    let printed = ok(&[
        "explain",
        "motifs",
        s(&model),
        s(&fa),
        "--jaspar",
        s(&jaspar),
        "--max-seqs",
        "12",
        "--max-len",
        "300",
        "--references",
        "2",
        "--min-seqlets",
        "3",
        "--out",
        s(&out2),
    ]);
    assert!(
        printed.contains("seqlets") && printed.contains("summation-to-delta"),
        "{printed}"
    );
    for f in ["motifs.csv", "seqlets.csv", "matches.csv", "motifs.jaspar"] {
        assert!(out2.join(f).exists(), "{f} missing");
    }
    let head = std::fs::read_to_string(out2.join("motifs.csv")).unwrap();
    assert!(head.starts_with("method,motif,seqlets,consensus"), "{head}");
    // a k-mer model (the shipped LMs read 3-mers): per-base effects by in-silico mutagenesis
    // by default; its gradients are per token, so a gradient method is a clear error
    let mut k3 = ModelConfig::tiny();
    k3.k = 3;
    let k3_path = dir.path().join("k3.safetensors");
    GenomicModel::new(k3, &Device::Cpu, 5)
        .unwrap()
        .save(&k3_path)
        .unwrap();
    let out3 = dir.path().join("modisco_k3");
    let printed = ok(&[
        "explain",
        "motifs",
        s(&k3_path),
        s(&fa),
        "--max-seqs",
        "4",
        "--max-len",
        "150",
        "--min-seqlets",
        "2",
        "--out",
        s(&out3),
    ]);
    assert!(printed.contains("in-silico mutagenesis"), "{printed}");
    let head = std::fs::read_to_string(out3.join("motifs.csv")).unwrap();
    assert!(head.starts_with("method,motif,seqlets,consensus"), "{head}");
    let seqlets = std::fs::read_to_string(out3.join("seqlets.csv")).unwrap();
    assert!(seqlets.lines().count() > 1, "{seqlets}");
    let e = fails(&[
        "explain",
        "motifs",
        s(&k3_path),
        s(&fa),
        "--method",
        "deepshap",
        "--out",
        s(&out2),
    ]);
    assert!(
        e.contains("nucleotide model (k = 1)") && e.contains("--method ism"),
        "{e}"
    );
}

#[test]
fn bench_context_lengths_runs_the_long_context_experiment() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = ModelConfig::transformer_mlm_small();
    cfg.emb_dim = 16;
    cfg.attn_layers = 1;
    cfg.attn_heads = 2;
    let model = dir.path().join("mlm.safetensors");
    GenomicModel::new(cfg, &Device::Cpu, 5)
        .unwrap()
        .save(&model)
        .unwrap();
    let out = dir.path().join("lc");
    let printed = ok(&[
        "bench",
        s(&model),
        "--context-lengths",
        "1,2",
        "--rope-methods",
        "none,yarn,clex",
        "--train-len",
        "32",
        "--windows",
        "2",
        "--finetune-steps",
        "0",
        "--probe-multiple",
        "0",
        "--out",
        s(&out),
    ]);
    assert!(printed.contains("yarn"), "{printed}");
    let csv = std::fs::read_to_string(out.join("long_context.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 3 * 2, "{csv}");
    let e = fails(&[
        "bench",
        s(&model),
        "--context-lengths",
        "1,2",
        "--rope-methods",
        "yarm",
    ]);
    assert!(e.contains("unknown RoPE scaling"), "{e}");
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("configs/long_context_mlm.toml");
    let e = fails(&["train", "-c", s(&cfg), "--rope-scaling", "yarm"]);
    assert!(e.contains("unknown RoPE scaling"), "{e}");
    let e = fails(&["train", "-c", s(&cfg), "--rope-factor", "0.5"]);
    assert!(e.contains("factor must be"), "{e}");
}

/// `genolm corpus` takes what run files take: `embedded`, a manifest.json or a folder.
#[test]
fn corpus_summary_of_a_manifest_file() {
    let m = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/extended.json");
    let out = ok(&["corpus", s(&m)]);
    assert!(out.contains("dmelanogaster_upstream_chr2L"), "{out}");
    assert!(out.contains("15 genomes"), "{out}");
    assert!(ok(&["corpus", "embedded"]).contains("13 genomes"));
    fails(&["corpus", "no/such/manifest.json"]);
}

#[test]
fn bench_a_shipped_model_on_your_genomes_from_any_folder() {
    // `pretrained:lstm_small_extended` trained on a corpus named relative to genolm's source
    // tree (datasets/extended.json). Benchmarked on a folder of the user's genomes from
    // another working folder, its training genomes are still found there, for the Markov
    // chain that counts what the model saw, and the user's genome is held out.
    let dir = tempfile::tempdir().unwrap();
    let vir = dir.path().join("mine/vir");
    std::fs::create_dir_all(&vir).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/vir/phiX174.gbk");
    std::fs::copy(&src, vir.join("phiX174.gbk")).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_genolm"))
        .current_dir(dir.path())
        .args([
            "bench",
            "pretrained:lstm_small_extended",
            "--corpus",
            "mine",
            "--tasks",
            "transfer",
            "--sizes",
            "quick",
            "--out",
            "bench",
        ])
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
    );
    assert!(o.status.success(), "{out}\n{err}");
    assert!(
        out.contains("read from the run's corpus") && out.contains("datasets/extended.json"),
        "{out}"
    );
    let metrics = std::fs::read_to_string(dir.path().join("bench/metrics.csv")).unwrap();
    assert!(metrics.contains("vir_phix174"), "{metrics}");
}

fn ok_in(cwd: &Path, args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_genolm"))
        .current_dir(cwd)
        .args(args)
        .output()
        .unwrap();
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    );
    assert!(
        o.status.success(),
        "genolm {args:?} in {cwd:?} failed:\n{out}\n{err}"
    );
    out
}

#[test]
fn a_run_on_your_genomes_reports_and_retrains_from_any_folder() {
    // A run file names its corpus relative to the folder `genolm train` ran in; the run
    // folder, read later from elsewhere, still finds it (the folder it was trained in is
    // where the run folder is, less its `output`).
    let dir = tempfile::tempdir().unwrap();
    let proj = dir.path().join("proj");
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets");
    for (k, f) in [
        ("vir", "phiX174.gbk"),
        ("vir", "enterobacteria_phage_lambda.fa.gz"),
        ("vir", "influenza_A_EU851978.gbk"),
        ("pro", "yersinia_pestis_pPCP1.gb"),
    ] {
        std::fs::create_dir_all(proj.join("mine").join(k)).unwrap();
        std::fs::copy(data.join(k).join(f), proj.join("mine").join(k).join(f)).unwrap();
    }
    std::fs::write(
        proj.join("tiny.toml"),
        "output = \"runs/a\"\n[data]\ncorpus = \"mine\"\nbptt = 32\nbatch_size = 8\n\
         [model]\npreset = \"tiny\"\n[train]\nepochs = 1\nmax_batches = 3\n\
         valid_max_batches = 2\ndevice = \"cpu\"\n",
    )
    .unwrap();
    ok_in(&proj, &["train", "--config", "tiny.toml"]);
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let out = ok_in(&elsewhere, &["report", "../proj/runs/a", "--out", "rep"]);
    assert!(out.contains("index.html"), "{out}");
    // its run.toml trains again from here (the corpus found the same way), the same bytes
    ok_in(
        &elsewhere,
        &[
            "train",
            "-c",
            "../proj/runs/a/run.toml",
            "--output",
            "again",
        ],
    );
    assert_eq!(
        std::fs::read(proj.join("runs/a/model.safetensors")).unwrap(),
        std::fs::read(elsewhere.join("again/model.safetensors")).unwrap(),
    );
    // the report reproduces from a third folder, given as its folder: the recorded command's
    // `../proj/runs/a/run.toml` is found from the folder the report was made in
    let third = dir.path().join("third/deeper");
    std::fs::create_dir_all(&third).unwrap();
    let again = ok_in(&third, &["reproduce", "../../elsewhere/rep", "--out", "re"]);
    assert!(again.contains("metrics identical"), "{again}");
    assert_eq!(
        std::fs::read(proj.join("runs/a/model.safetensors")).unwrap(),
        std::fs::read(third.join("re/run/model.safetensors")).unwrap(),
    );
    // a manifest from before it recorded its folder: found from the folders above it
    let m = elsewhere.join("rep/manifest.json");
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&m).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("cwd");
    std::fs::write(&m, serde_json::to_vec(&v).unwrap()).unwrap();
    let again = ok_in(
        &third,
        &[
            "reproduce",
            "../../elsewhere/rep/manifest.json",
            "--out",
            "re2",
        ],
    );
    assert!(again.contains("metrics identical"), "{again}");
    let e = String::from_utf8_lossy(
        &Command::new(env!("CARGO_BIN_EXE_genolm"))
            .current_dir(&third)
            .args(["reproduce", "."])
            .output()
            .unwrap()
            .stderr,
    )
    .to_string();
    assert!(e.contains("neither a report folder"), "{e}");
    // a run trained on token shards reports from the genomes they were built from
    ok_in(
        &proj,
        &["shards", "mine", "--out", "shards", "--preset", "tiny"],
    );
    std::fs::write(
        proj.join("shards.toml"),
        std::fs::read_to_string(proj.join("tiny.toml"))
            .unwrap()
            .replace("\"mine\"", "\"shards\"")
            .replace("runs/a", "runs/s"),
    )
    .unwrap();
    ok_in(&proj, &["train", "--config", "shards.toml"]);
    let out = ok_in(&elsewhere, &["report", "../proj/runs/s", "--out", "rep_s"]);
    assert!(out.contains("index.html"), "{out}");
    // a run file's corpus next to the file is found too
    std::fs::rename(proj.join("tiny.toml"), proj.join("mine/../tiny2.toml")).unwrap();
    ok_in(
        dir.path(),
        &["train", "-c", "proj/tiny2.toml", "--output", "b"],
    );
    assert!(dir.path().join("b/model.safetensors").is_file());
}
