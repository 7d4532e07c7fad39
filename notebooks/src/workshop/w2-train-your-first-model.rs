// %% [markdown]
// # Workshop 2 · Train your first genomic language model (about 5 minutes)
//
// **Goal.** Train a small neural network to predict the next base of a genome, and check whether
// it learned anything on a genome it has never seen.
//
// **Vocabulary.**
// * **Language model**: predicts the next token from the previous ones.
// * **Recurrent network (LSTM)**: reads a sequence one step at a time and keeps a memory that it
//   updates at each step — like reading DNA left to right with a notepad.
// * **Loss function**: what training minimises; here the **cross-entropy**, the average surprise
//   (−log probability) of the true next token. Lower is better.
// * **Training / test data**: the model learns from the first, and is judged on the second,
//   which it never sees while learning.
// * **Learning rate**: how big a step the model takes when it corrects itself.

// %%
let corpus = Corpus::embedded()?;
let tok = KmerTokenizer::new(3, 1)?;
// learn from phage lambda (48.5 kb, both strands); test on phage phiX174 (5.4 kb), never seen
let train = corpus.token_streams(&[corpus.index_of("phage_lambda").unwrap()], &tok, true);
let test = corpus.token_streams(&[corpus.index_of("phiX174").unwrap()], &tok, false);
println!("training tokens: {}; test tokens: {}", train.iter().map(|s| s.len()).sum::<usize>(), test[0].len());
println!("a model that has learned nothing scores {:.3} nats per token (the informed-random loss)", informed_random_loss(1));

// %% [markdown]
// ## The model
// A "tiny" AWD-LSTM: an **embedding** turns each 3-mer into 16 numbers, one LSTM layer with 32
// memory units reads them, and a final layer gives a probability for each of the 64 possible
// next 3-mers. `42` is the **seed**: the same seed gives the same model and the same result.

// %%
let model = GenomicModel::new(ModelConfig::preset("tiny")?, &Device::Cpu, 42)?;
println!("{} trainable numbers (parameters)", model.n_params());
let opts = LearnerOptions { max_batches: 80, checkpoint_dir: Some("../../runs/notebooks/workshop/checkpoint".into()), ..Default::default() };
fn data(train: &[Vec<u32>], test: &[Vec<u32>]) -> genolm::Result<(Data, Option<Data>)> {
    Ok((Data::Lm(LmBatcher::new(train.to_vec(), 16, 64, true, 1)?), Some(Data::Lm(LmBatcher::new(test.to_vec(), 4, 64, true, 1)?))))
}

// %% [markdown]
// ## Choosing a learning rate
// The **LR finder** trains briefly while raising the learning rate, and watches the loss: too
// small and nothing happens, too large and the loss explodes. The suggestion is where the loss
// falls fastest. (It puts the model back as it was afterwards.)

// %%
let finder = { let (tr, va) = data(&train, &test)?; Learner::new(model.rebuilt()?, tr, va, opts.clone())?.lr_find(1e-5, 1.0, 60)? };
let lr = finder.suggestion.clamp(1e-3, 3e-2);
finder

// %% [markdown]
// ## Training, in chunks
// `fit_for` trains for about 60 seconds at a time and returns; the loop prints one line per
// **epoch** (one pass over the training batches) as it goes. A checkpoint is written after every
// epoch: if the kernel dies, `Learner::resume` on the checkpoint folder continues the same fit
// (the result equals one uninterrupted run). The learner is made in one cell and trained in the
// next, and every later cell can train it further.

// %%
let mut learn = { let (tr, va) = data(&train, &test)?; Learner::new(model, tr, va, opts.clone())? };
println!("a learner for {} parameters, {} training batches per epoch", learn.model.n_params(), 80);

// %%
while !learn.fit_for(6, Schedule::OneCycle { lr_max: lr }, 60.0)? {
    println!("… {} epochs done, continuing", learn.history.len());
}
learn.history.plot_with_reference(informed_random_loss(1))?

// %% [markdown]
// **Reading the curve.** The training loss (what the model sees) falls fast at first: the
// model learns which 3-mers follow which. The valid loss (phiX174, never seen) is the honest
// number: compare it with the dashed informed-random line. With 3,349 parameters, six short epochs
// and a single 48-kb genome to learn from, it ends close to the line, usually just above it —
// the model learned lambda's "accent" more than rules that carry over to another virus. If the
// valid loss rose while the training loss kept falling, the model would be **overfitting**
// (memorising instead of generalising). Try: more epochs, `ModelConfig::preset("awd_lstm_small")`,
// or learning from several genomes (notebook 01 does).

// %%
std::fs::create_dir_all("../../runs/notebooks/workshop")?;
learn.model.save("../../runs/notebooks/workshop/tiny_lambda.safetensors")?;
println!("saved; final valid loss {:.3} vs {:.3}", learn.history.last().unwrap().valid_loss.unwrap(), informed_random_loss(1));
