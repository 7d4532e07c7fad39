// %% [markdown]
// # 07 · From attributions to motifs, and in-silico experiments
//
// Which bases make a model say what it says, and do they spell a known motif? This notebook
// runs the whole interpretation path on a model whose answer we know:
//
// 1. **Plant** three real JASPAR motifs (CTCF, TP53, CEBPB) into windows of a real bacterial
//    genome, and train a small CNN from scratch to tell which motif a window carries.
// 2. **Attribute** with DeepSHAP (DeepLIFT against dinucleotide-shuffled references), check
//    *summation-to-delta*, and look at the hypothetical contributions.
// 3. **Seqlets → motifs** (a TF-MoDISco-lite): call high-attribution stretches, cluster them,
//    build PWMs and contribution-weight matrices, and match them to all 879 JASPAR matrices
//    with Tomtom's p-values — once per attribution method.
// 4. **Scan** sequences for a motif with FIMO-style p-values (lightmotif).
// 5. **In-silico experiments**: insert a motif into shuffled backgrounds, vary the spacing of
//    two motifs, ablate a motif's occurrences; score a deletion with twin attributions.
//
// Everything here also runs from the command line: `genolm explain motifs MODEL seqs.fa
// --jaspar …` (attributions → motifs), `genolm explain attribution --method deepshap`,
// `genolm variants … --alleles` (indels). The full-size check is
// `cargo run --release --example motif_recovery` (docs/interpretation.md).

// %%
let db = read_jaspar("../datasets/motifs/JASPAR2024_CORE_vertebrates.jaspar.gz")?;
let planted: Vec<Pwm> = ["MA0139.2", "MA0106.3", "MA0466.4"]
    .iter()
    .map(|id| db.iter().find(|m| &m.id == id).unwrap().clone())
    .collect();
for m in &planted {
    println!("{} {:<6} width {:>2}, {:.1} bits, consensus {}", m.id, m.name, m.len(), m.information(), m.consensus());
}
let bg = read_fasta("../datasets/pro/staphylococcus_aureus_N315.fa.gz")?;
let task = planted_motif_task(&bg, &planted, &PlantOptions { length: 150, per_class: 250, seed: 0 })?;
let (train, test) = stratified_split(&task.items, 0);
println!("{} training and {} test windows; classes {:?}", train.len(), test.len(), task.classes);

// %% [markdown]
// ## A classifier that has to find the motifs
// A 4-layer CNN on one-hot nucleotides (k = 1), trained from scratch with the ULMFiT
// classifier recipe, every layer trainable from the start (`Unfreezing::All`: there is no
// pretrained encoder to protect).

// %%
let mut cfg = ModelConfig::cnn_small();
cfg.k = 1;
cfg.conv_channels = 64;
let fresh = GenomicModel::new(cfg, &Device::Cpu, 0)?;
let mut ulm = UlmfitOptions::quiet(0);
ulm.cls_unfreezing = Unfreezing::All;
ulm.cls_epochs = [6, 0, 0, 0];
ulm.cls_lrs = [5e-3, 0.0, 0.0, 0.0];
let model = {
    let c = classify(&fresh, &train, &test, &ClassifyOptions { ulmfit: ulm, batch_size: 32, ..Default::default() })?;
    let (acc, _) = c.metrics();
    println!("test accuracy {acc:.3} over 4 classes (chance 0.25)");
    c.classifier
};

// %% [markdown]
// ## DeepSHAP on one window, with its summation-to-delta check
// The contributions of each reference sum to `f(x) − f(reference)`; genolm's DeepLIFT rules are
// exact for every block it builds (rescale for element-wise functions, the Shapley split for
// products such as LSTM gates and attention, softmax and layer norm composed of those), so the
// check holds to rounding. `worst_site` names the layer whose rule is least exact.

// %%
// where the site was planted: the origin ends with "MA0466.4@<position><strand>"
fn site_of(x: &LabelledSeq) -> usize {
    let tag = x.origin.split('@').nth(1).unwrap();
    tag[..tag.len() - 1].parse().unwrap()
}
let x = test.iter().find(|x| x.label == 3 && (50..90).contains(&site_of(x))).unwrap().clone();   // a CEBPB window
println!("{}", x.origin);
let a = deep_shap(&model, &x.seq, &DeepShapOptions { objective: Objective::Class(3), references: 10, ..Default::default() })?;
let conv = a.convergence.clone().unwrap();
println!("f(x) = {:.3}, mean f(ref) = {:.3}, Σ contributions = {:.3}", a.output, a.baseline_output.unwrap(), a.total());
println!("max |Σ − Δf| over {} references: {:.1e}; least exact layer {:?}", conv.deltas.len(), conv.max_abs_delta, conv.worst_site());
a.plot()?

// %% [markdown]
// ## Seqlets → motifs → JASPAR, with every attribution method
// For 25 test windows of each planted class: attributions explaining the logit of the
// window's class, seqlets, clustering, and Tomtom against all of JASPAR. A row says which
// discovered motif holds that class's seqlets and where the planted matrix ranks among its
// database matches (`rank_by_name` counts other JASPAR matrices of the same factor).

// %%
let test_set = LabelledSet { items: test.clone(), classes: task.classes.clone() };
let ropts = RecoveryOptions {
    methods: vec![AttributionMethod::DeepShap, AttributionMethod::IntegratedGradients, AttributionMethod::InputXGradient],
    per_class: 25,
    ..Default::default()
};
let rec = motif_recovery(&model, &test_set, &planted, &db, &ropts)?;
rec.table()?

// %% [markdown]
// The DeepSHAP motifs as contribution-weight matrices (letters scaled by their mean
// contribution), each titled with its best JASPAR match:

// %%
let deepshap = rec.discoveries[0].clone();
deepshap.table()?

// %% [markdown]
// Besides CTCF, the CTCF windows can carry a *negative* motif: CEBPB-like words that occur by
// chance in the genomic backgrounds pull the logit away from the CTCF class — the model reads
// them as evidence for CEBPB. Signed contributions keep the two apart.

// %%
deepshap.figure_for(0)?

// %% [markdown]
// ## Tomtom p-values and FIMO-style scanning
// Tomtom's p-values come from its analytic null (each query column against every database
// column, binned, convolved over the aligned columns, the best of all offsets), so matches are
// ranked by p-values far below 1/101 — they agree with memelite/MEME to a median of 0.002 in
// log10 (tests/motifs.rs). Scanning the test windows for CEBPB with p < 10⁻⁴ finds the planted
// sites, on both strands.

// %%
let cebpb = planted[2].clone();
let hits = tomtom(&cebpb, &db, &TomtomOptions::default());
println!("CEBPB against JASPAR: best {} {} p = {:.1e}, 10th {} p = {:.1e}", hits[0].target, hits[0].target_name, hits[0].p, hits[9].target_name, hits[9].p);
let named: Vec<(String, Vec<u8>)> = test.iter().enumerate().map(|(i, x)| (format!("{i}:{}", task.classes[x.label as usize]), x.seq.clone())).collect();
let found = {
    let input: Vec<(&str, &[u8])> = named.iter().map(|(n, s)| (n.as_str(), s.as_slice())).collect();
    scan(std::slice::from_ref(&cebpb), &input, &ScanOptions::default())?
};
let in_class = found.iter().filter(|h| h.sequence.ends_with("MA0466.4")).count();
println!("{} CEBPB hits at p < 1e-4, {} of them in CEBPB windows", found.len(), in_class);
hits_table(&found[..found.len().min(8)])?

// %% [markdown]
// ## In-silico experiments
// **Marginalisation**: write a motif's consensus into the middle of 40 dinucleotide-shuffled
// backgrounds (the genome's own motifs destroyed, its composition kept) and measure each
// class logit before and after. **Spacing**: CEBPB alone vs CEBPB plus TP53 at growing
// distances. **Ablation**: shuffle every CEBPB occurrence in the CEBPB test windows.

// %%
let windows: Vec<Vec<u8>> = test.iter().filter(|x| x.label == 0).take(40).map(|x| x.seq.clone()).collect();
let shuffled = shuffled_backgrounds(&windows, 40, 1);
let mut effects = Vec::new();
for (i, m) in planted.iter().enumerate() {
    let cons = m.consensus().to_ascii_uppercase();
    let mut e = marginalize(&model, &Insertion { backgrounds: &shuffled, insert: cons.as_bytes() },
        &InsilicoOptions { objective: Objective::Class(i + 1), ..Default::default() })?;
    e.label = format!("{} → logit of class {}", e.label, m.name);
    effects.push(e);
}
let cebpb_windows: Vec<Vec<u8>> = test.iter().filter(|x| x.label == 3).map(|x| x.seq.clone()).collect();
let (ab, n) = ablate(&model, &cebpb_windows, &cebpb, &ScanOptions::default(), &InsilicoOptions { objective: Objective::Class(3), ..Default::default() })?;
println!("ablation shuffled {n} CEBPB occurrences");
effects.push(ab);
effects_table(&effects)?

// %%
let p53 = planted[1].consensus().to_ascii_uppercase();
let ceb = planted[2].consensus().to_ascii_uppercase();
let sp = spacing(&model, &Pair { backgrounds: &shuffled, first: ceb.as_bytes(), second: p53.as_bytes() },
    &[0, 2, 5, 10, 20, 40], &InsilicoOptions { objective: Objective::Class(2), ..Default::default() })?;
spacing_figure(&sp)?

// %% [markdown]
// ## A deletion inside a planted site, with twin attributions
// Delete three bases in the middle of a window's CEBPB site: the class logit drops, and the
// aligned reference/alternative DeepSHAP maps show which flanking bases lost their
// contribution.

// %%
let v = {
    let centre = site_of(&x) + 3;
    let del = Allele { position: centre, reference: &x.seq[centre..centre + 4], alt: &x.seq[centre..centre + 1] };
    variant_effect(&model, &x.seq, &del, &VariantOptions { flank: 40, objective: Objective::Class(3), ..Default::default() })?
};
println!("{}: CEBPB logit {:.3} → {:.3} (Δ = {:.3})", v.kind, v.ref_score, v.alt_score, v.delta);
v.plot()?

// %% [markdown]
// ## The full-size check
// `cargo run --release --example motif_recovery` plants the same motifs into 800 windows per
// class from two genomes, trains for 16 epochs and runs all five attribution methods on 60
// windows per class; its table is in docs/interpretation.md and below.

// %%
let full = Table::read_csv("../docs/interpretation/motif-recovery.csv")?;
full
