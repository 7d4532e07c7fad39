// %% [markdown]
// # 04 · Benchmark: how good is the model, and compared to what?
//
// A loss number alone says little. The genolm benchmark (specification in `docs/benchmark.md`)
// runs a model through twelve tasks on genomes it was **not trained on**, and every number comes
// with a **baseline** it must beat: an order-6 **Markov chain** fitted on the same training genomes
// (it predicts the next base from the previous six), the informed-random loss, or chance.
//
// `transferability_test(model)` runs the whole suite at its default sizes (about 20 minutes for
// the small AWD-LSTM on two CPU cores). Here `BenchOptions::small()` runs it at a tenth of those
// sizes, without the classification tasks (they fine-tune about ten classifiers; notebook 02 is
// about classification): a first look in about two minutes, with noisier rows. Numbers you report
// come from the default sizes (`docs/benchmark-results.md` has them for every architecture).

// %%
train_or_load(&RunConfig::quickstart("../runs/notebooks/quickstart", 42, 2, 150))?;
let t0 = std::time::Instant::now();
let opts = BenchOptions {
    tasks: Task::ALL.into_iter().filter(|&t| t != Task::Classification).collect(),
    ..BenchOptions::small()
};
let report = benchmark("../runs/notebooks/quickstart", &opts)?;
println!("{} results in {:.1} min", report.rows.len(), t0.elapsed().as_secs_f64() / 60.0);
report

// %% [markdown]
// **Reading it.** Each row is one task on one dataset. `value` is the model's main metric,
// `baseline` the reference's, and **skill** the improvement in the better direction (positive:
// the model wins). Transfer rows are cross-entropies in nats per token on held-out genomes of each
// kingdom (PRO, EUK, VIR) and on 150-nt reads; a small model trained for minutes rarely beats a
// Markov chain there, and the benchmark says so plainly. The `adaptive` rows score the same
// genomes while the model keeps learning as it reads each one (dynamic evaluation), against a
// Markov chain that keeps counting as it reads: what is left of a margin there is what the model
// brought from training, not the genome's composition it could pick up by reading. The neuron rows test whether single units
// track coding sequence or amino acids in unseen genomes, against a circular-shift null.

// %%
report.plot()?

// %% [markdown]
// ## One row, all its numbers
// `get(task, dataset)` returns a row; `extra` holds every secondary metric.

// %%
let row = report.get("transfer", "EUK").unwrap().clone();
println!("{} on {}: {} = {:.4} (baseline {} = {:.4}), skill {:+.4}, n = {}", row.task, row.dataset, row.metric, row.value,
    row.baseline_name, row.baseline, row.skill(), row.n);
for (k, m, b) in &row.extra { println!("  {k}: model {m:.4}, baseline {b:.4}"); }

// %% [markdown]
// ## Saving
// The table exports to CSV, Parquet (pandas, R) and LaTeX; the JSON keeps everything and loads back.

// %%
std::fs::create_dir_all("../runs/notebooks/benchmark")?;
report.table()?.to_csv("../runs/notebooks/benchmark/table.csv")?;
report.table()?.to_parquet("../runs/notebooks/benchmark/table.parquet")?;
report.save_json("../runs/notebooks/benchmark/report.json")?;
println!("{}", report.table()?.to_latex().lines().take(8).collect::<Vec<_>>().join("\n"));
