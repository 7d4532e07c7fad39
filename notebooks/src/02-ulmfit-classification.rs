// %% [markdown]
// # 02 · ULMFiT: from a genome language model to a promoter classifier
//
// **ULMFiT** (universal language-model fine-tuning) trains a classifier in three stages:
//
// 1. a **general language model** learns DNA from many genomes (notebook 01 trained one);
// 2. the language model is **fine-tuned** on the task's own sequences (no labels needed);
// 3. a **classifier** is built on the language model's encoder and trained **head first**: one
//    cycle with only the new head learning (the encoder frozen, so the random head's first
//    gradients do not disturb it), then every layer.
//
// (ULMFiT's paper unfreezes one more layer per cycle and gives lower layers smaller learning
// rates, ÷ 2.6 per layer — `Unfreezing::Gradual`. On genomes that kept the encoder too close to
// what it learned before: on the benchmark's splice junctions it lost to a CNN trained from
// scratch, 0.922 against 0.952, and head first it reaches 0.949; docs/training.md.)
//
// The task: the UCI *E. coli* promoter set — 106 sequences of 57 nt, half of them promoters
// (where RNA polymerase starts transcription), half not. With so few labelled examples, a model
// trained from scratch struggles; the pretrained one starts from what it learned about DNA.
// The data ships with genolm (`datasets/labelled/`, provenance in `docs/datasets.md`).

// %%
use genolm::data::tasks::{parse_labelled_csv, stratified_split};
use genolm::stats::BinaryMetrics;
use genolm::train::recipes::{classifier_from_lm, train_classifier};
let items = parse_labelled_csv(genolm::bench::classification::PROMOTERS_CSV, "ecoli_promoters_uci.csv")?;
let (train_items, test_items) = stratified_split(&items, 0);
println!("{} sequences: {} for training, {} held out; first promoter: {}", items.len(), train_items.len(), test_items.len(),
    String::from_utf8_lossy(&items.iter().find(|i| i.label == 1).unwrap().seq));

// %% [markdown]
// ## Stage 1: the general language model
// The model from notebook 01 (trained now if that notebook has not run).

// %%
let lm = train_or_load(&RunConfig::quickstart("../runs/notebooks/quickstart", 42, 2, 150))?;
let tok = lm.config().tokenizer()?;
let (train, test) = {
    let enc = |v: &[genolm::data::tasks::LabelledSeq]| -> Vec<(Vec<u32>, u32)> { v.iter().map(|i| (tok.encode(&i.seq), i.label)).collect() };
    (enc(&train_items), enc(&test_items))
};
let labels: Vec<bool> = test.iter().map(|(_, l)| *l == 1).collect();
println!("{} tokens per sequence", train[0].0.len());

// %% [markdown]
// ## Stage 2: fine-tune the language model on the promoter sequences
// Two epochs of next-token prediction on the training sequences only (the held-out sequences
// are never seen), with discriminative learning rates (each lower layer ÷ 2.6).

// %%
let streams: Vec<Vec<u32>> = train.iter().map(|(x, _)| x.clone()).collect();
let quiet = LearnerOptions { seed: 0, verbose: false, ..Default::default() };
let mut learn = Learner::new(lm, Data::Lm(LmBatcher::new(streams, 8, 32, false, 0)?), None, quiet.clone())?;
learn.opt.set_discriminative(2e-3, 2.6);
learn.fit_one_cycle(2, 2e-3)?;
learn.history.table()?

// %% [markdown]
// ## Stage 3: the classifier, head first, then every layer
// The same recipe from scratch (a randomly initialised encoder, everything trained at once) is
// the control: the difference is what pretraining bought.

// %%
let opts = UlmfitOptions { seed: 0, learner: quiet.clone(), ..Default::default() };
let clf = classifier_from_lm(&learn.model, 2, 0)?;
let fit = train_classifier(clf, ClassificationBatcher::new(train.clone(), 16, true, 0)?, None, &opts)?;
let (clf, clf_history) = (fit.model, fit.history); // the best validated epoch's weights
let scratch = GenomicModel::new(learn.model.config().to_classifier(2), &Device::Cpu, 0)?;
let all = UlmfitOptions { cls_unfreezing: Unfreezing::All, ..opts.clone() };
let scratch = train_classifier(scratch, ClassificationBatcher::new(train.clone(), 16, true, 0)?, None, &all)?.model;
let (s_pre, s_scr) = {
    let score = |m: &GenomicModel| -> genolm::Result<Vec<f64>> {
        Ok(genolm::train::predict_proba(m, &ClassificationBatcher::new(test.clone(), 32, false, 0)?)?.iter().map(|p| p[1] as f64).collect())
    };
    (score(&clf)?, score(&scratch)?)
};
let results = vec![("ULMFiT (pretrained)".to_string(), BinaryMetrics::compute(&s_pre, &labels)),
                   ("from scratch".to_string(), BinaryMetrics::compute(&s_scr, &labels))];
BinaryMetrics::table(&results)?

// %% [markdown]
// **Reading the table.** Accuracy counts correct calls at probability 0.5; **MCC** (Matthews
// correlation) stays honest when classes are unbalanced (0 = chance, 1 = perfect); **AUROC** asks
// how often a random promoter scores above a random non-promoter (0.5 = chance). With 22 held-out
// sequences one mistake moves accuracy by 0.05: the benchmark (notebook 04) repeats this over seeds.

// %%
Figure::roc("Promoters, held-out sequences", &[("ULMFiT".into(), s_pre.clone(), labels.clone()), ("scratch".into(), s_scr.clone(), labels.clone())])?

// %%
Figure::pr("Promoters, held-out sequences", &[("ULMFiT".into(), s_pre.clone(), labels.clone()), ("scratch".into(), s_scr.clone(), labels.clone())])?

// %% [markdown]
// The classifier's training, stage by stage (each row one epoch of one cycle):

// %%
clf_history.table()?

// %% [markdown]
// ## Using the classifier on new DNA
// A trained classifier is applied to any sequence with `class_probs`: each record whole, or
// windows scanned along it. Naming the classes stores the names in the checkpoint
// (`clf.save(...)`), and `genolm predict` does the same from the command line. Here: 7 kb of
// phage λ around its early promoters pL (≈ 35.6 kb, leftward) and pR (≈ 38.0 kb, rightward),
// in windows of 57 bases (the training items' length) every 5 bases.
//
// Read the result as a lesson, not a promoter map: about 40 % of the windows get p > 0.5 (549 of 1 390 here), and the
// highest ones need not be at pL or pR. The 84 training sequences are half promoters, and their
// negatives are overlapping windows of one 1.2-kb sequence from outside the E. coli chromosome
// (docs/training.md, "Promoters against their own genome"); a classifier trained on them learns
// what separates those two sets, not what marks a promoter in a genome where promoters are rare.
// To scan genomes, train with genomic background as the negative class, many times more
// negatives than promoters, and weigh the classes equally: `genolm classify --balanced` on such
// a CSV, for instance `datasets/labelled/ecoli_promoters_genome.csv.gz` (these promoters with
// 1 060 windows of the E. coli genome; with `--probe`, a linear probe of the frozen LM). There
// `--balanced` doubles to triples the share of test promoters found (docs/training.md, "Rare
// classes").

// %%
let mut clf = clf;
clf.set_class_names(vec!["non-promoter".into(), "promoter".into()])?;
let lambda_scan = {
    let corpus = Corpus::embedded()?;
    let lambda = &corpus.genomes[corpus.index_of("phage_lambda").unwrap()].contigs[0];
    let region = [("lambda 33001-40000", &lambda.seq[33_000..40_000])];
    class_probs(&clf, &region, &ClassProbsOptions { window: 57, step: 5, ..Default::default() })?
};
let above: Vec<usize> = [0.5, 0.99].iter().map(|&t| lambda_scan.rows.iter().filter(|r| r.probs[1] > t).count()).collect();
println!("{} windows; p(promoter) > 0.5: {}, > 0.99: {}", lambda_scan.rows.len(), above[0], above[1]);
lambda_scan.plot()?

// %%
let mut top = lambda_scan.rows.clone();
top.sort_by(|a, b| b.probs[1].total_cmp(&a.probs[1]));
ClassProbs { rows: top[..8].to_vec(), ..lambda_scan.clone() }.table()?
