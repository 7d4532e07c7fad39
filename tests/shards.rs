//! Token shards (corpora larger than memory): the shards hold exactly the tokens of the
//! corpus in memory, training from them gives the same model byte for byte, the batches of an
//! epoch are the same whether made at once or one at a time, and a damaged or mismatched
//! shard folder is a clear error.

use std::process::Command;
use std::sync::Arc;

use genolm::data::batch::{LmBatcher, MlmBatcher, MlmOptions};
use genolm::data::corpus::Corpus;
use genolm::data::shards::{ShardOptions, TokenShards};
use genolm::data::tokenize::KmerTokenizer;
use genolm::train::run::{run_training_with, RunConfig, RunOptions};
use genolm::Error;

fn build(dir: &std::path::Path, tok: &KmerTokenizer, rc: bool) -> Arc<TokenShards> {
    let opts = ShardOptions {
        shard_tokens: 1_000_000,
        reverse_complement: rc,
        verbose: false,
    };
    TokenShards::build("embedded", dir, tok, &opts).unwrap()
}

#[test]
fn shards_hold_the_corpus_tokens() {
    let tmp = tempfile::tempdir().unwrap();
    let tok = KmerTokenizer::new(3, 1).unwrap();
    let shards = build(tmp.path(), &tok, true);
    let corpus = Corpus::embedded().unwrap();
    assert_eq!(shards.genomes().len(), corpus.genomes.len());
    assert!(shards.n_shards() >= 10, "{}", shards.n_shards());
    for (m, g) in shards.genomes().iter().zip(&corpus.genomes) {
        assert_eq!(m, &g.meta);
    }
    // every genome, forward and reverse, in the order the corpus gives them
    let all: Vec<usize> = (0..corpus.genomes.len()).collect();
    for rc in [false, true] {
        let mem = corpus.token_streams(&all, &tok, rc);
        let disk = shards.token_streams(&all, rc);
        assert_eq!(disk.len(), mem.len());
        for (i, m) in mem.iter().enumerate() {
            assert_eq!(disk.get(i), &m[..], "stream {i}, rc {rc}");
        }
    }
    // a subset in the caller's order, with a genome repeated (a run's kingdom_repeats)
    let some = [5, 1, 1];
    let mem = corpus.token_streams(&some, &tok, true);
    let disk = shards.token_streams(&some, true);
    assert_eq!(disk.to_vecs(), mem);
    let once = corpus.token_streams(&some[..2], &tok, true);
    assert_eq!(mem.len() - once.len(), 2 * corpus.genomes[1].contigs.len());
    shards.verify().unwrap();
}

#[test]
fn batches_are_the_same_made_at_once_or_lazily_from_memory_or_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let tok = KmerTokenizer::new(3, 3).unwrap();
    let shards = build(tmp.path(), &tok, false);
    let corpus = Corpus::embedded().unwrap();
    let g = [0, 3, 7, 12];
    let mem = corpus.token_streams(&g, &tok, false);
    for stateful in [true, false] {
        let a = LmBatcher::new(mem.clone(), 16, 40, stateful, 3).unwrap();
        let b = LmBatcher::new(shards.token_streams(&g, false), 16, 40, stateful, 3).unwrap();
        for epoch in [0, 1] {
            let all = a.epoch(epoch);
            assert!(all.len() > 300, "{}", all.len());
            let lazy: Vec<_> = b.iter_epoch(epoch).collect();
            assert_eq!(b.iter_epoch(epoch).len(), all.len());
            assert!(all == lazy, "stateful {stateful}, epoch {epoch}");
        }
    }
    let a = MlmBatcher::new(mem, 8, 64, tok.vocab_size(), MlmOptions::default(), 1).unwrap();
    let b = MlmBatcher::new(
        shards.token_streams(&g, false),
        8,
        64,
        tok.vocab_size(),
        MlmOptions::default(),
        1,
    )
    .unwrap();
    assert!(a.epoch(2) == b.iter_epoch(2).collect::<Vec<_>>());
}

#[test]
fn training_from_shards_gives_the_same_model() {
    let tmp = tempfile::tempdir().unwrap();
    let tok = KmerTokenizer::new(3, 3).unwrap();
    let dir = tmp.path().join("shards");
    build(&dir, &tok, true);
    let mut cfg = RunConfig::quickstart(tmp.path().join("mem").to_str().unwrap(), 3, 1, 6);
    cfg.model.k = 3;
    cfg.model.stride = 3;
    cfg.model.lstm_hidden = 32;
    cfg.model.emb_dim = 16;
    cfg.data.reverse_complement = true;
    let quiet = RunOptions {
        verbose: false,
        ..Default::default()
    };
    let a = run_training_with(&cfg, false, &quiet).unwrap();
    let mut disk = cfg.clone();
    disk.data.corpus = dir.to_str().unwrap().into();
    disk.output = tmp.path().join("disk");
    let b = run_training_with(&disk, false, &quiet).unwrap();
    assert_eq!(a.train_genomes, b.train_genomes);
    assert_eq!(a.valid, b.valid);
    assert_eq!(a.test, b.test);
    let read = |p: &std::path::Path| std::fs::read(p.join("model.safetensors")).unwrap();
    assert!(read(&cfg.output) == read(&disk.output), "models differ");

    // the model reads 3-mers with stride 1: the shards (stride 3) do not fit it
    let mut other = disk.clone();
    other.model.stride = 1;
    other.output = tmp.path().join("other");
    let e = run_training_with(&other, false, &quiet).unwrap_err();
    assert!(
        matches!(e, Error::Config(_)) && e.to_string().contains("stride"),
        "{e}"
    );
}

#[test]
fn damaged_shards_are_clear_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let tok = KmerTokenizer::new(3, 3).unwrap();
    let shards = build(tmp.path(), &tok, false);
    let first = tmp.path().join(&shards.manifest().shards[0].path);
    drop(shards);
    // a byte changed: sizes still match, the checksum does not
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&first, &bytes).unwrap();
    let e = TokenShards::open(tmp.path()).unwrap().verify().unwrap_err();
    assert!(matches!(e, Error::Checksum { .. }), "{e}");
    // truncated: refused on open
    std::fs::write(&first, &bytes[..bytes.len() - 4]).unwrap();
    let e = TokenShards::open(tmp.path()).unwrap_err();
    assert!(e.to_string().contains("truncated"), "{e}");
    // analyses that need genomes (a report or benchmark of a run trained on shards) read the
    // corpus the shards were built from; when it is gone they say what to give instead
    let c = Corpus::open(tmp.path().to_str().unwrap()).unwrap();
    assert_eq!(
        c.ids(&(0..c.genomes.len()).collect::<Vec<_>>()),
        Corpus::embedded()
            .unwrap()
            .ids(&(0..c.genomes.len()).collect::<Vec<_>>())
    );
    let json = tmp.path().join("shards.json");
    let text = std::fs::read_to_string(&json).unwrap();
    let moved = text.replace(
        "\"source\": \"embedded\"",
        "\"source\": \"/no/such/genomes\"",
    );
    assert_ne!(moved, text);
    std::fs::write(&json, moved).unwrap();
    let e = Corpus::open(tmp.path().to_str().unwrap()).unwrap_err();
    assert!(
        e.to_string().contains("token shards") && e.to_string().contains("/no/such/genomes"),
        "{e}"
    );
    std::fs::write(&json, text).unwrap();
    // the command line: build, verify, and a bad corpus with exit code 2
    let bin = env!("CARGO_BIN_EXE_genolm");
    let out = tmp.path().join("cli");
    let ok = Command::new(bin)
        .args(["shards", "embedded", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let v = Command::new(bin)
        .args([
            "shards",
            "embedded",
            "--out",
            out.to_str().unwrap(),
            "--verify",
        ])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&v.stdout).contains("checksums verified"));
    let bad = Command::new(bin)
        .args(["shards", "no/such/corpus", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no/such/corpus"));
}

#[test]
fn a_folder_of_genomes_gives_the_same_genomes_in_memory_and_on_disk() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("genomes");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets");
    for (kingdom, file) in [
        ("pro", "helicobacter_pylori_G27.fa.gz"),
        ("vir", "phiX174.gbk"),
    ] {
        std::fs::create_dir_all(src.join(kingdom)).unwrap();
        std::fs::copy(root.join(kingdom).join(file), src.join(kingdom).join(file)).unwrap();
    }
    let tok = KmerTokenizer::new(3, 1).unwrap();
    let shards = TokenShards::build(
        src.to_str().unwrap(),
        &tmp.path().join("shards"),
        &tok,
        &ShardOptions::default(),
    )
    .unwrap();
    let corpus = Corpus::from_dir(&src).unwrap();
    let metas: Vec<_> = corpus.genomes.iter().map(|g| g.meta.clone()).collect();
    assert_eq!(shards.genomes(), &metas[..]);
    assert_eq!(
        shards.token_streams(&[0, 1], false).to_vecs(),
        corpus.token_streams(&[0, 1], &tok, false)
    );
}
