// %% [markdown]
// # 01 · Quickstart: a language model of real genomes
//
// A **genomic language model** reads DNA one token at a time and learns to predict the next one.
// How well it predicts (its **cross-entropy**, in nats per token) measures how much structure of the
// genome it has learned. In this notebook you will
//
// 1. load thirteen real genomes that ship with genolm (bacteria, eukaryotes, viruses),
// 2. cut them into **3-mer tokens** (overlapping words of three bases),
// 3. train a small **AWD-LSTM** (the ULMFiT language model) for a few minutes on the CPU,
// 4. evaluate it on genomes it has never seen, plot the result,
// 5. write a reproducible report, and
// 6. run the whole pipeline from the **pretrained model genolm ships** — fine-tune, benchmark
//    against the Markov floor, states, explainable neurons, report — exactly as
//    `genolm quickstart` does on the command line.
//
// The kernel "Rust (genolm)" has already run `use genolm::prelude::*;`. Every cell's last value is
// shown below it: tables as HTML, figures as SVG.

// %%
let corpus = Corpus::embedded()?;
let splits = corpus.split(&SplitOptions::default())?;
println!("{} genomes, {:.1} Mb; {} for training, {} for validation, {} for testing",
    corpus.genomes.len(), corpus.total_bases() as f64 / 1e6, splits.train.len(), splits.valid.len(), splits.test.len());

// %%
corpus.summary_table(Some(&splits))?

// %% [markdown]
// Each row is one genome with its **kingdom** (PRO: prokaryotes, EUK: eukaryotes, VIR: viruses),
// its size and GC content, and the split it belongs to. Splits are made **per genome**: the model
// is tested on whole genomes it never saw, which is the honest way to ask whether it learned
// biology rather than memorised sequence.
//
// ## Tokens
//
// A 3-mer tokenizer with stride 1 turns `ATCGCG` into the overlapping words `ATC TCG CGC GCG`.
// Because consecutive 3-mers share two bases, only one new base is unknown at each step: a model
// that knows nothing but the overlap pays ln(4) ≈ 1.386 nats per token — the **informed random**
// loss. Anything below it is learned structure.

// %%
let tok = KmerTokenizer::new(3, 1)?;
let ids = tok.encode(b"ATCGCGTA");
println!("tokens {:?} -> {}", ids, String::from_utf8_lossy(&tok.decode(&ids)));
println!("vocabulary {} tokens; informed random loss {:.3} nats", tok.vocab_size(), informed_random_loss(1));

// %% [markdown]
// ## Train
//
// `RunConfig::quickstart` is the same run as `genolm quickstart` on the command line: the small
// AWD-LSTM, two epochs of 150 batches (32 sequences × 64 tokens) over the training genomes and
// their reverse complements. `train_or_load` trains it once and reuses the checkpoint when the cell
// runs again, so re-running the notebook (or notebooks 03–05, which use this model) is fast.
// Training writes a checkpoint after every epoch: if the kernel dies, running the cell again resumes.

// %%
let cfg = RunConfig::quickstart("../runs/notebooks/quickstart", 42, 2, 150);
let t0 = std::time::Instant::now();
let model = train_or_load(&cfg)?;
println!("{} with {} parameters, ready in {:.0} s", model.config().arch_label(), model.n_params(), t0.elapsed().as_secs_f64());

// %% [markdown]
// The run wrote `metrics.jsonl` (every optimizer step: loss, smoothed loss, learning rate,
// gradient norm, tokens/s, memory; also as TensorBoard events, `tensorboard --logdir runs/`) and
// `summary.json` (every epoch, and the quality on the validation and test genomes per kingdom).
// The thin line is the loss of each batch, the bold one its moving average, the dots the
// validation loss after each epoch. `genolm monitor ../runs` draws the same curves live while
// a run trains.

// %%
let summary = RunSummary::load(&cfg.output)?;
read_metrics(&cfg.output)?.plot_with_reference(informed_random_loss(1))?

// %%
let lines: Vec<String> = summary.test.iter().map(|k| format!("  {}: {:.3} nats/token ({} tokens, {} genomes), {:+.3} vs informed random",
    k.kingdom, k.loss, k.tokens, k.genomes.len(), k.loss - k.informed_random)).collect();
println!("held-out test genomes\n{}", lines.join("\n"));

// %% [markdown]
// A loss below 1.386 would mean the model predicts bases better than the overlap alone on genomes
// it never saw. Two short epochs (about two minutes) bring it close to that line but usually not
// below it — this is a quickstart, not a finished model. `genolm train --config
// configs/awd_lstm_small.toml` (600 steps, about two minutes) reaches 1.363 on the held-out
// bacteria, and `configs/awd_lstm_long.toml` (about twenty minutes) gets below the line in every
// kingdom: 1.263 (bacteria), 1.345 (chloroplast), 1.371 (phiX174); see `docs/training.md`.
// genolm ships that model (`models/pretrained/awd_lstm_long`); section 6 starts from it.
// Small differences matter: 0.05 nats per token over a 5-megabase genome is a lot of information.
//
// ## Where does the model find it easy?
//
// `token_scores` gives the log-probability of every token; `loss_track` plots the loss along a
// genome with its genes beneath (the same figure `genolm quickstart` puts in its report). Along
// the phage phiX174 it shows where the sequence is predictable.

// %%
genolm::report::loss_track(&model, &corpus, "phiX174")?

// %% [markdown]
// ## A reproducible report
//
// `Report` collects text, figures, tables and metrics and writes `index.html` (open it in a
// browser), `manifest.json` (versions, seeds, dataset checksums, every metric) and the figures as
// SVG and PNG. `genolm reproduce manifest.json` re-runs a recorded command and lists any metric
// that changed. `quickstart_report` is the report `genolm quickstart` writes: the run, the corpus
// and split, the learning curve, per-kingdom quality and the loss along phiX174.

// %%
let report = genolm::report::quickstart_report("Notebook 01: quickstart", &corpus, &cfg, &summary, &model)?;
let dir = std::path::Path::new("../runs/notebooks/quickstart/report");
report.write(dir)?;
println!("wrote {}", dir.join("index.html").display());

// %% [markdown]
// ## 6. The whole pipeline from the pretrained model
//
// `quickstart` is `genolm quickstart`: it checks the shipped model's SHA-256, fine-tunes it for
// 200 steps at a low learning rate (the `[train] init = "pretrained"` of a run file), benchmarks
// it on every held-out genome next to an order-6 **Markov chain** (the non-neural floor a language
// model must pass), writes the states of a held-out annotated genome to HDF5, finds the neurons
// that track its genes, and writes one report. `reuse: true` loads the fine-tuned model when the
// cell runs again.

// %%
let f = quickstart(&QuickstartOptions { out: "../runs/notebooks/pretrained".into(), reuse: true, ..Default::default() })?
    .findings.unwrap();

// %% [markdown]
// Every dot on the left of its orange partner is a held-out genome the model predicts better
// than the Markov chain; everything left of the dashed line is below ln 4.

// %%
genolm::report::floor_figure(&f.bench)?

// %% [markdown]
// The model was never told where genes are, yet single neurons switch on inside coding
// sequence of the chloroplast (a genome it never saw); the circular-shift null above says how
// high the best neuron would reach by chance.

// %%
f.activation.clone()

// %% [markdown]
// ## Searching for a better configuration
//
// `search` runs a hyperparameter search (ASHA by default): many configurations get a few steps,
// the best third of each rung trains three times longer, and so on. Every trial is an ordinary
// run folder. Here a toy search over the learning rate and width of the tiny model, with two
// workers in this kernel (on the command line: `genolm search --space … --workers N`; see
// `docs/search.md` for the search over the small language models and its results).

// %%
use genolm::search::{search, LocalOptions, SearchSpec};
let spec = SearchSpec::from_toml_str(r#"
[search]
min_budget = 10
max_budget = 90
eta = 3
total_budget = 400
max_trials = 16
valid_tokens = 1024
[base.data]
bptt = 32
batch_size = 8
[base.model]
preset = "tiny"
[base.train]
device = "cpu"
[space]
"train.lr" = { log_uniform = [1e-3, 5e-2] }
"model.lstm_hidden" = { choice = [16, 32, 64] }
"#)?;
let results = search("../runs/notebooks/search".as_ref(), &spec, &LocalOptions { workers: 2, ..Default::default() })?;
println!("{}", results.text());
results.plot_budget()?
