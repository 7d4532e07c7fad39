// %% [markdown]
// # 06 · Long context: reading 16× longer windows by changing only the positional encoding
//
// A transformer knows where each nucleotide is through its **rotary position embedding (RoPE)**:
// every pair of channels is rotated by an angle that grows with the position, fast for some
// pairs, slowly for others. A model trained on 512-nt windows has only ever seen the angles of
// positions 0–511. Seed 004 asks: can it read a window 16× longer (8 kb) if we only change how
// positions become angles — squeezing them (**PI**), stretching the slow rotations more than the
// fast ones (**NTK**, **dynamic NTK**, **YaRN**, **GeNE**), or learning the stretch (**CLEX**) —
// with little or no further training?
//
// This notebook runs the experiment end to end on a small masked-language-model transformer it
// trains itself in about two minutes (so it runs anywhere), then shows the full experiment from
// `docs/long-context.md` (a 20-minute model, every method, with fine-tuning and a downstream
// task).

// %%
let mut cfg = RunConfig::from_file("../configs/long_context_mlm.toml")?;
cfg.output = "../runs/notebooks/long_context".into();
cfg.data.bptt = 256;           // train on 256-nt windows
cfg.train.max_batches = 80;    // about two minutes on two CPU cores
cfg.train.valid_max_batches = 10;
let model = train_or_load(&cfg)?;
println!("{} parameters; masked-LM transformer, trained on {}-nt windows", model.n_params(), cfg.data.bptt);

// %% [markdown]
// ## Every scaling at 1×, 2×, 4×, 8× and 16× the training length
// The same held-out stretch of 4,096 nt is cut into windows of 256, 512, …, 4,096 nt; the same
// 15 % of positions are masked in every column, so the columns compare like with like. Static
// methods are set to the column's scale `s` (target length / training length); dynamic NTK,
// CLEX and genolm's hybrid pick `s` from the window length themselves. Then every method gets
// the same five fine-tuning steps on 512-nt windows and is measured again.

// %%
let opts = LongContextOptions {
    train_len: 256,
    multiples: vec![1, 2, 4, 8, 16],
    windows: 1,
    finetune: Some(FinetuneOptions { steps: 5, multiple: 2, batch_size: 2, lr: 3e-4 }),
    probe_multiple: None,
    ..Default::default()
};
let corpus = Corpus::embedded()?;
let small = long_context(&model, &corpus, &opts)?;
small.figure()?

// %%
small.figure_for(true)?

// %%
small.table()?

// %% [markdown]
// At 1× every method is plain RoPE (the same loss to the last digit). This model is small,
// briefly trained and scored on a single 4-kb stretch (about 600 masked positions), so its
// curves are flat within noise and five fine-tuning steps do not help it: the notebook shows the
// mechanics. The full experiment below is the one to read.
//
// ## The full experiment (docs/long-context.md)
// A 20-minute model on 512-nt windows, every method from 512 nt to 8 kb on four held-out 8-kb
// stretches, zero-shot and after 40 fine-tuning steps on 2-kb windows, with time and memory
// per length. Regenerate with `bash scripts/long-context.sh`.

// %%
let full = LongContextResults::load("../docs/long-context")?;
println!("model {} · held-out genomes: {}", full.model, full.genomes.join(", "));
full.figure()?

// %%
full.figure_for(true)?

// %% [markdown]
// ## Is the longer window worth it? A downstream task
// A linear probe reads the model's states and predicts, for every nucleotide of held-out
// annotated genomes, whether it is in a gene on the forward strand, on the reverse strand, or in
// none. The states come from windows of 512 nt (1×) or of 4 kb (8×): with the longer window each
// nucleotide's state can depend on sequence kilobases away.

// %%
LongContextResults::load("../docs/long-context/probe")?.probe_table()?

// %% [markdown]
// The same probe after each method's fine-tuning (40 steps on 2-kb windows):

// %%
LongContextResults::load("../docs/long-context/probe-finetuned")?.probe_table()?
