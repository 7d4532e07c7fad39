// %% [markdown]
// # 03 · Explainable neurons: what do the model's units encode?
//
// A language model is never told where genes are. Yet to predict the next base well, it may learn
// to track whether it is inside a **coding sequence (CDS)** and at which **codon position**. Here we
// record the activations (**states**) of every neuron along a genome the model never saw, and test
// each neuron against per-base annotations (**targets**): CDS or not, codon positions, amino acids.
//
// `identify_explainable_neurons(states, targets)` scores every neuron × target pair by AUROC
// (binary targets) or correlation, corrects for testing thousands of pairs (Benjamini–Hochberg
// false-discovery rate) and fits a small **probe** (a sparse classifier on a few neurons).

// %%
let model = train_or_load(&RunConfig::quickstart("../runs/notebooks/quickstart", 42, 2, 150))?;
let corpus = Corpus::embedded()?;
let g = corpus.genomes[corpus.index_of("athaliana_chloroplast").unwrap()].clone();
let c = g.contigs[0].clone();
let window = (c.name.clone(), c.seq[..40_000].to_vec());
println!("{} ({}), {} bp; analysing the first 40 kb", g.meta.id, c.name, c.seq.len());

// %% [markdown]
// ## States to HDF5
// Every layer's activations at every 2nd base go to an HDF5 file that h5py, R or Julia open
// directly (layout in `docs/explain.md`). Then we read them back.

// %%
let opts = PredictOptions { every: 2, ..Default::default() };
std::fs::create_dir_all("../runs/notebooks/neurons")?;
let h5 = "../runs/notebooks/neurons/chloroplast_states.h5";
let summary = write_states(&model, &[window.clone()], h5, &opts, H5Layout::Genolm)?;
let st = read_states(h5)?;
println!("{summary:?}");
println!("{} rows × {} layers", st.n_rows(), st.layers.len());

// %% [markdown]
// ## Targets from the annotation, and the test
// The GenBank annotation becomes one value per base: CDS (1/0), codon position 1/2/3, amino acid.
// Coding regions span hundreds of bases, so neurons are also smoothed over 51 rows (about 100 bp).

// %%
let tracks = c.tracks(&g.track_options()).unwrap()?.window(0..window.1.len());
let targets = targets_from_tracks(&st, 0, &tracks, 50)?;
let rep = identify_explainable_neurons(&st, &targets, &NeuronOptions { smooth: 51, ..Default::default() })?;
println!("{}", rep.print_top("CDS", 5));
println!("{}", rep.print_top("codon_pos_3", 3));

// %% [markdown]
// The heatmap shows the best neurons (rows) against every target (columns): AUROC for binary
// targets (0.5 = no information).

// %%
rep.plot(20)?

// %% [markdown]
// ## Is it real? A shift null
// Neighbouring bases are correlated, so p-values from independent-sample tests are too
// optimistic. The honest check shifts the annotation circularly against the states (keeping its
// structure but breaking its alignment) and asks how good the best neuron would look by chance.

// %%
let cds = targets.iter().find(|t| t.name == "CDS").unwrap().clone();
let null = genolm::explain::neurons::shift_null(&st, &cds, &NeuronOptions { smooth: 51, probe: false, ..Default::default() }, 5, 1)?;
println!("best CDS neuron AUROC {:.3} (|AUROC − 0.5| = {:.3}); best |AUROC − 0.5| under 5 circular shifts: {:.3?}",
    rep.top("CDS", 1)[0].auroc, (rep.top("CDS", 1)[0].auroc - 0.5).abs(), null);

// %% [markdown]
// ## Along the genome
// The top CDS neurons' activations along 12 kb, with the genes beneath (boxes above the line are
// on the forward strand, below on the reverse strand).

// %%
let top: Vec<(String, usize)> = rep.top("CDS", 3).iter().map(|s| (s.layer.clone(), s.unit)).collect();
let genes = TrackFeature::cds(c.features.as_deref().unwrap_or(&[]));
genolm::explain::neurons::activation_track(&st, 0, &top, &genes, 0, 12_000)?
