//! The long-window task: a linear probe of the body states predicting the coding strand of
//! every nucleotide, from states computed in short or long windows.

use crate::data::corpus::Corpus;
use crate::infer::{predict_each, PredictOptions};
use crate::models::GenomicModel;
use crate::stats::regression::{softmax_regression, standardised};
use crate::{Error, Result};

/// A token sequence with a coding-strand label per position.
type Labelled = (Vec<u32>, Vec<Option<u32>>);

/// Coding strand of every kept position of a held-out annotated genome: 0 none, 1 forward
/// CDS, 2 reverse CDS (positions on both strands are left out).
fn strand_labels(cds: &[u8]) -> Vec<Option<u32>> {
    cds.iter()
        .map(|&c| match c & 3 {
            0 => Some(0),
            1 => Some(1),
            2 => Some(2),
            _ => None,
        })
        .collect()
}

/// Body states of `ids` in windows of `window` tokens (no extra context), every `every`-th
/// position: `(position, state)`.
fn window_states(
    model: &GenomicModel,
    ids: &[u32],
    window: usize,
    every: usize,
) -> Result<Vec<(usize, Vec<f32>)>> {
    let opts = PredictOptions {
        batch_size: 1,
        window,
        context: 0,
        every,
        layers: vec!["body".into()],
        ..PredictOptions::default()
    };
    let mut out = Vec::new();
    predict_each(model, ids, &opts, &mut |c| {
        let w = c.layers[0].1.len() / c.tokens.len().max(1);
        for (j, &t) in c.tokens.iter().enumerate() {
            out.push((t, c.layers[0].1[j * w..(j + 1) * w].to_vec()));
        }
        Ok(())
    })?;
    out.sort_by_key(|x| x.0);
    Ok(out)
}

/// Fit the coding-strand probe on alternate blocks (256 nt; an eighth of shorter stretches) of
/// every stretch and test it on the blocks in between (so both sets have the same genomes and strand composition).
pub(super) fn probe(
    model: &GenomicModel,
    seqs: &[Labelled],
    window: usize,
    every: usize,
) -> Result<(f64, f64, usize)> {
    let (mut rtr, mut ytr, mut rte, mut yte) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (ids, labels) in seqs {
        let block = (ids.len() / 8).clamp(1, 256);
        for (p, s) in window_states(model, ids, window, every)? {
            let Some(y) = labels[p] else { continue };
            let s: Vec<f64> = s.into_iter().map(f64::from).collect();
            if (p / block) % 2 == 0 {
                rtr.push(s);
                ytr.push(y);
            } else {
                rte.push(s);
                yte.push(y);
            }
        }
    }
    if ytr.is_empty() || yte.is_empty() {
        return Err(Error::Input("no annotated positions for the probe".into()));
    }
    let d = rtr[0].len();
    let (xtr, xte) = standardised(&rtr, &rte);
    let m = softmax_regression(&xtr, d, &ytr, 3, 1e-3, 1000);
    let pred: Vec<u32> = m
        .predict(&xte)
        .iter()
        .map(|p| (0..3).max_by(|&a, &b| p[a].total_cmp(&p[b])).unwrap_or(0) as u32)
        .collect();
    let acc = pred.iter().zip(&yte).filter(|(a, b)| a == b).count() as f64 / yte.len() as f64;
    let mut f1 = 0.0;
    for c in 0..3u32 {
        let tp = pred
            .iter()
            .zip(&yte)
            .filter(|(a, b)| **a == c && **b == c)
            .count() as f64;
        let fp = pred
            .iter()
            .zip(&yte)
            .filter(|(a, b)| **a == c && **b != c)
            .count() as f64;
        let fneg = pred
            .iter()
            .zip(&yte)
            .filter(|(a, b)| **a != c && **b == c)
            .count() as f64;
        f1 += if tp > 0.0 {
            2.0 * tp / (2.0 * tp + fp + fneg)
        } else {
            0.0
        };
    }
    Ok((acc, f1 / 3.0, yte.len()))
}

/// Annotated held-out sequences for the probe: up to `n` stretches of `len` tokens with
/// their coding-strand labels.
pub(super) fn probe_sequences(
    corpus: &Corpus,
    held_out: &[usize],
    model: &GenomicModel,
    len: usize,
    n: usize,
) -> Result<Vec<Labelled>> {
    let tok = model.config().tokenizer()?;
    if tok.k != 1 {
        return Err(Error::Config(
            "the long-window probe needs a single-nucleotide tokenizer".into(),
        ));
    }
    let mut out = Vec::new();
    for &g in held_out {
        let topts = corpus.genomes[g].track_options();
        for c in &corpus.genomes[g].contigs {
            let Some(tracks) = c.tracks(&topts) else {
                continue;
            };
            let tracks = tracks?;
            let ids = tok.encode(&c.seq);
            let labels = strand_labels(&tracks.cds);
            // up to 4 stretches per contig, evenly spaced
            let k = (ids.len() / len).min(4);
            let step = if k > 1 {
                (ids.len() - len) / (k - 1)
            } else {
                0
            };
            for j in 0..k {
                if out.len() == n {
                    break;
                }
                let p = j * step;
                out.push((ids[p..p + len].to_vec(), labels[p..p + len].to_vec()));
            }
        }
    }
    if out.is_empty() {
        return Err(Error::Input(format!(
            "no annotated held-out contig of {len} nt for the probe"
        )));
    }
    Ok(out)
}
