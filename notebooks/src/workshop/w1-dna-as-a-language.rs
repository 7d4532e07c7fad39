// %% [markdown]
// # Workshop 1 · DNA as a language (about 5 minutes)
//
// **Goal.** See that genomes have "grammar" — regularities a model can learn — before training any
// model. No machine learning yet: we count things by hand. In machine-learning words, these counts
// are **handcrafted features**: properties we decided to measure. Later workshops let a model find
// its own (**learned features**).
//
// **Vocabulary.**
// * **Genome**: all the DNA of an organism, a string over the letters A, C, G, T (bases).
// * **Gene / CDS**: a coding sequence — a stretch read three bases at a time (**codons**), each codon
//   standing for one amino acid of a protein. It starts at a start codon (usually ATG).
// * **GC content**: the fraction of G and C bases; it differs a lot between species.
// * **k-mer**: a word of k bases. `ATG` is a 3-mer.

// %%
let corpus = Corpus::embedded()?;
let names: Vec<String> = corpus.genomes.iter().map(|g| g.meta.id.clone()).collect();
let gc: Vec<f64> = corpus.genomes.iter().map(|g| { let c = g.composition(); (c[1] + c[2]) as f64 / c.iter().sum::<u64>().max(1) as f64 }).collect();
println!("{} genomes, {} bases in all", names.len(), corpus.total_bases());

// %%
Figure::bars("GC content of the thirteen genomes", "fraction G + C", &names, &gc, None)?

// %% [markdown]
// Thirteen real genomes: bacteria (PRO), eukaryotes (EUK: yeast, human, a plant chloroplast) and
// viruses (VIR). GC content ranges from about 0.33 to 0.5: a model must cope with different "dialects".
//
// ## The grammar of a gene start
// Line up every gene start (the A of ATG at position 0) in three genomes that use bacterial-style
// translation, and count the bases at each position. A **sequence logo** draws the letters stacked
// by how often they occur; tall stacks mean the position is conserved (measured in bits of
// information, at most 2).

// %%
let mut counts = vec![[0f64; 4]; 30];
let mut n_starts = 0;
for id in ["ypestis_pPCP1", "athaliana_chloroplast", "phiX174"] {
    let g = &corpus.genomes[corpus.index_of(id).unwrap()];
    for c in &g.contigs {
        for f in c.features.iter().flatten().filter(|f| f.is_cds() && f.segments.len() == 1) {
            let s = &f.segments[0];
            let site: Option<Vec<u8>> = if s.strand == Strand::Reverse {
                (s.end + 20 <= c.seq.len() && s.end >= 10).then(|| revcomp(&c.seq[s.end - 10..s.end + 20]))
            } else {
                (s.start >= 20 && s.start + 10 <= c.seq.len()).then(|| c.seq[s.start - 20..s.start + 10].to_vec())
            };
            if let Some(site) = site {
                if &site[20..23] != b"ATG" { continue; }
                n_starts += 1;
                for (i, b) in site.iter().enumerate() {
                    if let Some(j) = b"ACGT".iter().position(|x| x == b) { counts[i][j] += 1.0; }
                }
            }
        }
    }
}
let pwm: Vec<[f64; 4]> = counts.iter().map(|c| { let t: f64 = c.iter().sum::<f64>() + 2.0; [(c[0] + 0.5) / t, (c[1] + 0.5) / t, (c[2] + 0.5) / t, (c[3] + 0.5) / t] }).collect();
println!("{n_starts} ATG gene starts (positions −20 … +9; ATG at 20–22)");
Figure::logo("Gene starts: 20 bases upstream, ATG, then the first codons", &pwm, true)?

// %% [markdown]
// Two things stand out: the **ATG** itself (2 bits: always the same), and a small G/A-rich bump
// about 8–12 bases upstream — the **Shine–Dalgarno** sequence where the ribosome binds. Nobody
// will tell our model about either; notebook 3 of this workshop asks whether it noticed.
//
// ## Codons: three bases at a time
// Inside genes, bases come in threes. Count how often each base appears at codon positions
// 1, 2 and 3 in phiX174's genes: the third position is the most "free" (changing it often keeps
// the amino acid), so its composition differs.

// %%
let phix = corpus.genomes[corpus.index_of("phiX174").unwrap()].contigs[0].clone();
let mut by_pos = [[0f64; 4]; 3];
for f in phix.features.iter().flatten().filter(|f| f.is_cds()) {
    let cds = f.spliced_seq(&phix.seq);
    for (i, b) in cds.iter().enumerate() {
        if let Some(j) = b"ACGT".iter().position(|x| x == b) { by_pos[i % 3][j] += 1.0; }
    }
}
let labels: Vec<String> = (1..=3).flat_map(|p| ["A", "C", "G", "T"].map(|b| format!("{b}@{p}"))).collect();
let values: Vec<f64> = by_pos.iter().flat_map(|c| { let t: f64 = c.iter().sum(); c.map(|x| x / t) }).collect();
Figure::bars("phiX174 genes: base frequency at codon positions 1, 2, 3", "fraction", &labels, &values, None)?

// %% [markdown]
// **Take-away.** Genomes are not random strings: composition, start signals and the three-base
// rhythm of genes are all visible by counting. A **language model** learns such regularities on
// its own by predicting the next base. That is workshop 2.
