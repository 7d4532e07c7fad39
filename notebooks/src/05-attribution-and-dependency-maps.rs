// %% [markdown]
// # 05 · Attribution and dependency maps: which bases matter?
//
// Three ways to ask which input bases drive a prediction:
//
// * **Saliency**: the gradient of the model's output with respect to each input token — how much
//   an infinitesimal change there would move the output.
// * **Integrated gradients**: gradients averaged along a path from a neutral **baseline** input to
//   the real one; the attributions add up to the change in output.
// * **In-silico mutagenesis (ISM)**: actually mutate every base to each alternative and re-score.
//   Slow but assumption-free.
//
// A **dependency map** goes further: for every pair of positions (i, j), how much does
// substituting base i change the prediction at base j? Bases that depend on each other — codon
// partners, paired stems of an RNA hairpin — show up as off-diagonal blocks.
//
// We look at the start of phiX174 gene A (a held-out virus genome the model never saw).

// %%
let model = train_or_load(&RunConfig::quickstart("../runs/notebooks/quickstart", 42, 2, 150))?;
let corpus = Corpus::embedded()?;
let phix = corpus.genomes[corpus.index_of("phiX174").unwrap()].contigs[0].clone();
let gene_a = phix.features.as_deref().unwrap_or(&[]).iter().find(|f| f.is_cds() && f.name.as_deref() == Some("A")).cloned();
let start = gene_a.as_ref().and_then(|f| f.bounds()).map(|b| b.0).unwrap_or(3980);
let seq = phix.seq[start.saturating_sub(40)..start + 80].to_vec();
println!("window {}..{} (gene A starts at {start}): {}", start.saturating_sub(40), start + 80, String::from_utf8_lossy(&seq));

// %% [markdown]
// ## Integrated gradients of the sequence log-likelihood
// Objective: how likely the model finds the whole window. Positive attribution = the base makes
// the window more likely under the model. A sequence logo shows the attribution per base.

// Every analysis here has the same shape, `f(model, sequence, &options)`; the options have
// defaults, and the sequence can be bytes, a `SeqRecord` or a `Contig`.

// %%
let ig = integrated_gradients(&model, &seq, &AttributionOptions { baseline: Baseline::Shuffled(1), steps: 32, ..Default::default() })?;
ig.plot()?

// %%
let sal = saliency(&model, &seq, &AttributionOptions::default())?;
sal.plot()?

// %% [markdown]
// ## In-silico mutagenesis
// Every one of the 3 × 120 single-base substitutions, re-scored. Red: the substitution makes the
// window less likely (the model "expected" the reference base there).

// %%
let m = ism(&model, &seq, &AttributionOptions::default())?;
m.plot()?

// %% [markdown]
// ## Dependency map
// Rows: the substituted base; columns: the position whose prediction changes. A causal model
// reads left to right, so only the upper triangle (j > i) can light up.

// %%
let dm = dependency_map(&model, &seq[..80], &DepMapOptions::default())?;
dm.plot()?
