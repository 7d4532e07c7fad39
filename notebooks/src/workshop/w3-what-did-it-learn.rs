// %% [markdown]
// # Workshop 3 · What did the model learn? (about 5 minutes)
//
// **Goal.** Open the model from workshop 2 and look inside: do any of its 32 memory units
// (**neurons**) switch on inside genes? Which bases does it rely on?
//
// **Vocabulary.**
// * **Activation / state**: the number a neuron outputs at each position of the genome.
// * **Target**: what we compare activations to — here the annotation "inside a gene or not".
// * **AUROC**: how well one number separates two groups; 0.5 is a coin flip, 1.0 perfect.
// * **Attribution**: how much each input base contributed to a prediction.

// %%
let path = "../../runs/notebooks/workshop/tiny_lambda.safetensors";
if !std::path::Path::new(path).exists() { println!("run workshop 2 first: it trains and saves the model"); }
let model = GenomicModel::load(path, &Device::Cpu)?;
let corpus = Corpus::embedded()?;
let g = corpus.genomes[corpus.index_of("phiX174").unwrap()].clone();
let c = g.contigs[0].clone();
let st = states(&model, &[(c.name.clone(), c.seq.clone())], &PredictOptions::default())?;
println!("{} positions × {} layers of activations", st.n_rows(), st.layers.len());

// %% [markdown]
// ## Neurons against the gene annotation
// For every neuron and every annotation track (inside a gene, codon position, amino acid), how
// well does the neuron's activation separate the two groups? Rows: the best neurons; columns:
// the tracks; colour: AUROC.

// %%
let targets = targets_from_tracks(&st, 0, &c.tracks(&g.track_options()).unwrap()?, 30)?;
let rep = identify_explainable_neurons(&st, &targets, &NeuronOptions { smooth: 25, ..Default::default() })?;
println!("{}", rep.print_top("CDS", 3));
rep.plot(12)?

// %% [markdown]
// Now the best "gene neuron" along the genome, with phiX174's genes drawn beneath. phiX174 is
// tiny and packs genes on top of each other, so most of it is coding: a hard test.

// %%
let top: Vec<(String, usize)> = rep.top("CDS", 2).iter().map(|s| (s.layer.clone(), s.unit)).collect();
genolm::explain::neurons::activation_track(&st, 0, &top, &TrackFeature::cds(c.features.as_deref().unwrap_or(&[])), 0, c.seq.len())?

// %% [markdown]
// ## Which bases does a prediction depend on?
// Take 60 bases around the start of gene A and mutate each one to every other base
// (**in-silico mutagenesis**). Red cells: mutations that make the real sequence less likely —
// the model "expected" the real base there.

// %%
let a = c.features.as_deref().unwrap_or(&[]).iter().find(|f| f.is_cds() && f.name.as_deref() == Some("A")).and_then(|f| f.bounds()).map(|b| b.0).unwrap_or(3980);
let window = c.seq[a - 30..a + 30].to_vec();
let m = ism(&model, &window, &AttributionOptions::default())?;
m.plot()?

// %% [markdown]
// **Take-away.** Nobody told the model what a gene is, yet some neurons respond differently
// inside genes, and its predictions depend on specific bases. Whether such signals are strong
// and real needs the careful statistics of notebook 03 (false-discovery rates and shift nulls)
// and the benchmark of notebook 04. Questions to try: train longer in workshop 2 — do the
// neurons get sharper? Use a bigger model (`ModelConfig::preset("awd_lstm_small")`)?
