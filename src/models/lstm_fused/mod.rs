//! A fused LSTM layer for the CPU: one candle custom op for the whole sequence, with a
//! hand-written backward pass (backpropagation through time).
//!
//! Composed of candle primitives, the recurrence costs ~16 small ops per step, and every
//! per-step slice of the input projection has a backward that allocates a tensor the size of
//! the whole sequence, which makes BPTT quadratic in the sequence length. This op takes the
//! layer's input `x: (B, T, D)` (batch-major), `[W_ih | W_hh | b]: (4H, D + H + 1)` (the input
//! and recurrent matrices with the summed gate bias as the last column, so the bias costs no
//! separate broadcast op or reduction) and the initial state `hc0: (2, B, H)`, and returns one
//! flat tensor of `B·T·H + B·H` values: the hidden states of every step `(B, T, H)`, then the
//! final cell state `(B, H)`. Both parts are contiguous views of it, so no transpose or copy
//! follows. The input projection `x·W_ihᵀ` runs inside the op in the row blocks of
//! [`fused_linear`](super::fused_linear) (the same sums as the linear layer), so its
//! `B·T·4H` values never become a tensor of the graph whose gradient candle would zero-fill
//! and add to.
//!
//! The batch rows are independent, so the rows are split into one chunk per thread of candle's
//! CPU pool (the threads that also run its elementwise ops) and
//! each chunk runs its whole recurrence (one small GEMM and the gate arithmetic per step)
//! without synchronising with the others. The gate non-linearities of the f32 path use a
//! branch-free exponential that the compiler vectorises (relative error ≈ 1e-7, the f32
//! rounding level); the f64 path uses the standard library's functions.
//! Gradients flow to `x`, `[W_ih | W_hh | b]` and `hc0`; `tests/gradients.rs` checks them

use std::cell::Cell;
use std::sync::Mutex;

use crate::cpu::{contiguous, cpu_slice, pool_threads, run_chunks, write_all, written};
use candle_core::{CpuStorage, CustomOp3, DType, Layout, Result, Shape, Tensor};

mod cell;
#[cfg(feature = "cuda")]
mod cuda;
mod pass;
mod rhs;
mod units;

/// Activations saved by the forward pass of one chunk of batch rows.
struct ChunkSaved<T> {
    /// (T, rows, 4H) activated gates i, f, g, o.
    gates: Vec<T>,
    /// (T + 1, rows, H) cell states c_0 … c_T.
    cells: Vec<T>,
}

/// Saved activations of every chunk, in the op's dtype.
#[derive(Default)]
enum Chunks {
    #[default]
    Empty,
    F32(Vec<ChunkSaved<f32>>),
    F64(Vec<ChunkSaved<f64>>),
}

/// Saved activations of every chunk, and the chunk size used.
#[derive(Default)]
struct Saved {
    rows_per_chunk: usize,
    chunks: Chunks,
}

/// The custom op (one instance per call, holding the saved activations).
pub struct LstmSeq {
    /// Whether a backward pass can follow (some input is tracked): only then are the gates
    /// and cell states of every step kept.
    save: bool,
    saved: Mutex<Saved>,
    /// What the CUDA forward pass saved for backward.
    #[cfg(feature = "cuda")]
    cuda_saved: Mutex<Option<cuda::CudaSaved>>,
}

impl LstmSeq {
    fn new(save: bool) -> Self {
        LstmSeq {
            save,
            saved: Mutex::new(Saved::default()),
            #[cfg(feature = "cuda")]
            cuda_saved: Mutex::new(None),
        }
    }
}

thread_local! {
    /// A chunk count that overrides the thread count (tests of the chunking).
    static CHUNKS: Cell<Option<usize>> = const { Cell::new(None) };
}

/// Run `f` with the fused LSTM split into `chunks` chunks of batch rows whatever the thread
/// count (chunks beyond the threads run in turn). For tests: results must not depend on it.
#[doc(hidden)]
pub fn with_chunk_count<R>(chunks: usize, f: impl FnOnce() -> R) -> R {
    let old = CHUNKS.replace(Some(chunks.max(1)));
    let r = f();
    CHUNKS.set(old);
    r
}

/// The parts a pass splits its work into: the threads, or the count a test sets
/// ([`with_chunk_count`]).
fn chunk_count() -> usize {
    CHUNKS.get().unwrap_or_else(pool_threads)
}

/// Rows per chunk: the batch split evenly over the threads, within the bounds that keep every
/// row's bits independent of the split (see [`chunk_rows_for`]).
fn rows_per_chunk(b: usize) -> usize {
    chunk_rows_for(b, chunk_count())
}

/// Most rows in a chunk: up to 64 rows a step's GEMM blocks its sums the same way (beyond,
/// with more than 512 units, the GEMM picks its depth blocks from the cache sizes instead).
const MAX_CHUNK_ROWS: usize = 64;

/// Rows per chunk of `b` rows over `chunks` chunks: `b / chunks` rounded up, but at least 2,
/// at most [`MAX_CHUNK_ROWS`], and never leaving a last chunk of one row (the GEMM would take
/// it as a matrix-vector product, summed in another order; [`crate::cpu::matmul`] now runs a
/// lone row as a pair, so this is a second guard, and it keeps rows in blocks the GEMM runs
/// fastest). So a row's values are the same bits
/// whatever the thread count; the weights' gradient sums over fixed parts of the batch
/// (`pass::recurrent_weight_grad`), so they are too.
fn chunk_rows_for(b: usize, chunks: usize) -> usize {
    if b <= 2 {
        return b.max(1);
    }
    let want = b.div_ceil(chunks.max(1)).clamp(2, MAX_CHUNK_ROWS.min(b));
    let ok = |r: usize| b % r != 1;
    (0..MAX_CHUNK_ROWS)
        .flat_map(|d| [want.checked_sub(d), Some(want + d)])
        .flatten()
        .find(|&r| (2..=MAX_CHUNK_ROWS.min(b)).contains(&r) && ok(r))
        .unwrap_or(b.min(MAX_CHUNK_ROWS))
}

impl CustomOp3 for LstmSeq {
    fn name(&self) -> &'static str {
        "lstm-seq"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (b, t_len, d) = l1.shape().dims3()?;
        let (g4, cols) = l2.shape().dims2()?;
        let h = g4 / 4;
        if cols != d + h + 1 {
            candle_core::bail!(
                "lstm-seq: [W_ih | W_hh | b] is {g4}×{cols}, want {g4}×{}",
                d + h + 1
            )
        }
        let shape = Shape::from(b * t_len * h + b * h);
        let out = match (s1, s2, s3) {
            (CpuStorage::F32(x), CpuStorage::F32(w), CpuStorage::F32(hc)) => {
                CpuStorage::F32(self.fwd_from_input(
                    contiguous(x, l1)?,
                    contiguous(w, l2)?,
                    contiguous(hc, l3)?,
                    (b, t_len, d, h),
                )?)
            }
            (CpuStorage::F64(x), CpuStorage::F64(w), CpuStorage::F64(hc)) => {
                CpuStorage::F64(self.fwd_from_input(
                    contiguous(x, l1)?,
                    contiguous(w, l2)?,
                    contiguous(hc, l3)?,
                    (b, t_len, d, h),
                )?)
            }
            _ => candle_core::bail!("lstm-seq supports f32 and f64 inputs of one dtype"),
        };
        Ok((out, shape))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
        s3: &candle_core::CudaStorage,
        l3: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let (b, t_len, d) = l1.shape().dims3()?;
        let (g4, cols) = l2.shape().dims2()?;
        let h = g4 / 4;
        if cols != d + h + 1 || l3.shape().elem_count() != 2 * b * h {
            candle_core::bail!(
                "lstm-seq: [W_ih | W_hh | b] is {g4}×{cols}, want {g4}×{}",
                d + h + 1
            )
        }
        let (out, saved) = cuda::forward(s1, l1, s2, l2, s3, l3, (b, t_len, d, h))?;
        if self.save {
            *self.cuda_saved.lock().expect("lstm-seq saved state") = Some(saved);
        }
        Ok((out, Shape::from(b * t_len * h + b * h)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        wcat: &Tensor,
        hc0: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        #[cfg(feature = "cuda")]
        if x.device().is_cuda() {
            let saved = self.cuda_saved.lock().expect("lstm-seq saved state");
            let Some(saved) = saved.as_ref() else {
                candle_core::bail!("lstm-seq backward: no saved forward pass")
            };
            let (dx, dw, dhc0) = cuda::backward(saved, x, wcat, hc0, res, grad_res)?;
            return Ok((Some(dx), Some(dw), Some(dhc0)));
        }
        let (dx, dw, dhc0) = match x.dtype() {
            DType::F32 => self.bwd_impl::<f32>(x, wcat, hc0, res, grad_res)?,
            DType::F64 => self.bwd_impl::<f64>(x, wcat, hc0, res, grad_res)?,
            d => candle_core::bail!("lstm-seq backward: unsupported dtype {d:?}"),
        };
        Ok((Some(dx), dw, Some(dhc0)))
    }
}

/// `[W_ih | W_hh | b] (4h × (d + h + 1))` split into `W_ih (4h × d)` and the next `rec`
/// columns of each row (`h + 1`: `[W_hh | b]`; `h`: `W_hh` alone), each contiguous.
/// Blocks of [`COPY_ROWS`] rows of the weights run on candle's pool (a copy: the same values
/// whatever the blocks).
fn split_weights<T: Copy + Send + Sync>(
    wcat: &[T],
    g4: usize,
    d: usize,
    rec: usize,
) -> (Vec<T>, Vec<T>) {
    let cols = wcat.len() / g4.max(1);
    if d == 0 || rec == 0 || g4 == 0 {
        let (mut w_ih, mut w_rec) = (Vec::new(), Vec::new());
        for row in wcat.chunks_exact(cols.max(1)) {
            w_ih.extend_from_slice(&row[..d]);
            w_rec.extend_from_slice(&row[d..d + rec]);
        }
        return (w_ih, w_rec);
    }
    let mut w_rec = Vec::new();
    // SAFETY: every block's rows are written whole in both outputs (`d` and `rec` values each).
    let w_ih = unsafe {
        written(g4 * d, |a| {
            w_rec = written(g4 * rec, |r| {
                let items: Vec<_> = a
                    .chunks_mut(COPY_ROWS * d)
                    .zip(r.chunks_mut(COPY_ROWS * rec))
                    .zip(wcat.chunks(COPY_ROWS * cols))
                    .collect();
                run_chunks(items, |_, ((a, r), w)| {
                    for ((a, r), row) in a
                        .chunks_exact_mut(d)
                        .zip(r.chunks_exact_mut(rec))
                        .zip(w.chunks_exact(cols))
                    {
                        write_all(a, &row[..d]);
                        write_all(r, &row[d..d + rec]);
                    }
                });
            })
        })
    };
    (w_ih, w_rec)
}

/// Rows per block of the weight copies ([`split_weights`], the weight gradient's assembly).
const COPY_ROWS: usize = 64;

/// Run the fused LSTM layer: `x: (B, T, D)` the input, `w_ih: (4H, D)`, `w_hh: (4H, H)`,
/// `bias: (4H)` (the summed input and recurrent gate biases), `h0`, `c0: (B, H)`. The input
/// projection runs inside the op, so its `(B, T, 4H)` result never becomes a tensor of the
/// graph (no gradient buffer to zero-fill and add to).
/// Returns `(outputs (B, T, H), h_T, c_T)`; the outputs and `c_T` are contiguous views of the
/// op's result, `h_T` a strided view of the outputs.
pub fn lstm_seq(
    x: &Tensor,
    w_ih: &Tensor,
    w_hh: &Tensor,
    bias: &Tensor,
    h0: &Tensor,
    c0: &Tensor,
) -> Result<(Tensor, Tensor, Tensor)> {
    let (b, t_len, _) = x.dims3()?;
    let g4 = w_hh.dim(0)?;
    let h = g4 / 4;
    let hc0 = Tensor::stack(&[h0, c0], 0)?.contiguous()?;
    let x = x.contiguous()?;
    let tracked = [&x, w_ih, w_hh, bias, &hc0].iter().any(|t| t.track_op());
    let out = match x.dtype() {
        // Nothing to differentiate (an inference view) on the CPU: the pass from the weights as
        // they are, with no op in a graph and no joined weight matrix.
        DType::F32 if !tracked && x.device().is_cpu() => {
            untracked::<f32>(&x, w_ih, w_hh, bias, &hc0)?
        }
        DType::F64 if !tracked && x.device().is_cpu() => {
            untracked::<f64>(&x, w_ih, w_hh, bias, &hc0)?
        }
        _ => {
            let wcat = Tensor::cat(&[w_ih, w_hh, &bias.reshape((g4, 1))?], 1)?.contiguous()?;
            // candle records the op for backward exactly when one of its inputs is tracked
            let op = LstmSeq::new(tracked);
            x.apply_op3_arc(&wcat, &hc0, std::sync::Arc::new(Box::new(op)))?
        }
    };
    let hs = out.narrow(0, 0, b * t_len * h)?.reshape((b, t_len, h))?;
    let h_last = hs.narrow(1, t_len - 1, 1)?.squeeze(1)?;
    let c_last = out.narrow(0, b * t_len * h, b * h)?.reshape((b, h))?;
    Ok((hs, h_last, c_last))
}

/// [`lstm_seq`]'s flat output when no input is tracked, on the CPU (see
/// [`LstmSeq::fwd_from_parts`]).
fn untracked<T: cell::LstmFloat>(
    x: &Tensor,
    w_ih: &Tensor,
    w_hh: &Tensor,
    bias: &Tensor,
    hc0: &Tensor,
) -> Result<Tensor> {
    let (b, t_len, d) = x.dims3()?;
    let (g4, h) = w_hh.dims2()?;
    if g4 != 4 * h
        || w_ih.dims() != [g4, d]
        || bias.elem_count() != g4
        || hc0.elem_count() != 2 * b * h
    {
        candle_core::bail!(
            "lstm-seq: W_ih {:?}, W_hh {:?}, bias {:?} and state {:?} do not fit an input of {d} \
             values and {h} units",
            w_ih.dims(),
            w_hh.dims(),
            bias.dims(),
            hc0.dims()
        )
    }
    let (w_ih, w_hh, bias) = (w_ih.contiguous()?, w_hh.contiguous()?, bias.contiguous()?);
    let (xs, xl) = x.storage_and_layout();
    let (is, il) = w_ih.storage_and_layout();
    let (hs, hl) = w_hh.storage_and_layout();
    let (bs, bl) = bias.storage_and_layout();
    let (cs, cl) = hc0.storage_and_layout();
    let out = LstmSeq::new(false).fwd_from_parts(
        cpu_slice::<T>(&xs, xl)?,
        (
            cpu_slice::<T>(&is, il)?,
            cpu_slice::<T>(&hs, hl)?,
            cpu_slice::<T>(&bs, bl)?,
        ),
        cpu_slice::<T>(&cs, cl)?,
        (b, t_len, h),
    )?;
    let n = out.len();
    Tensor::from_vec(out, n, x.device())
}

#[cfg(test)]
mod tests {
    /// `n` fixed values in [-0.5, 0.5) from a linear congruential sequence started at `seed`.
    fn lcg_values(n: usize, seed: u64) -> Vec<f32> {
        let mut st = seed;
        (0..n)
            .map(|_| {
                st = st
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (st >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect()
    }

    use super::cell::{bwd_row, fwd_row, LstmFloat};
    use super::rhs::{Rhs, PANEL};
    use crate::cpu::{matmul, simd_on, Isa};

    /// Rows per chunk stay within 2..=64 and leave no one-row chunk; two threads split a
    /// batch in halves, as they always did (the shipped checkpoints keep their bytes).
    #[test]
    fn chunk_rows_avoid_one_row_gemms() {
        use super::chunk_rows_for;
        assert_eq!(chunk_rows_for(32, 2), 16);
        assert_eq!(chunk_rows_for(13, 2), 7);
        assert_eq!(chunk_rows_for(1, 8), 1);
        assert_eq!(chunk_rows_for(2, 2), 2);
        assert_eq!(chunk_rows_for(129, 1), 63); // 64 would leave one row, 63 leaves 3
        assert_eq!(chunk_rows_for(3, 2), 3);
        for b in 3..300 {
            for chunks in 1..20 {
                let r = chunk_rows_for(b, chunks);
                assert!(
                    (2..=64).contains(&r) && b % r != 1,
                    "b {b}, {chunks} chunks: {r}"
                );
            }
        }
    }

    /// The values and every gradient are the same bits whatever the chunk count (the thread
    /// count by default), so a seed gives the same numbers on a laptop and a 64-core node.
    #[test]
    fn bits_do_not_depend_on_the_chunk_count() {
        use candle_core::{Device, Tensor, Var};
        let dev = Device::Cpu;
        let (b, t, d, h) = (13, 9, 12, 40);
        let mut seed = 3u64;
        let mut r = |n: usize, shape: &[usize]| {
            seed += 1;
            let v = lcg_values(n, seed);
            Var::from_tensor(&Tensor::from_vec(v, shape, &dev).unwrap()).unwrap()
        };
        let vars = [
            r(b * t * d, &[b, t, d]),
            r(4 * h * d, &[4 * h, d]),
            r(4 * h * h, &[4 * h, h]),
            r(4 * h, &[4 * h]),
            r(b * h, &[b, h]),
            r(b * h, &[b, h]),
        ];
        let proj = r(b * t * h, &[b, t, h]);
        let run = |chunks: usize| {
            super::with_chunk_count(chunks, || {
                let v: Vec<&Tensor> = vars.iter().map(|v| v.as_tensor()).collect();
                let (o, hn, cn) = super::lstm_seq(v[0], v[1], v[2], v[3], v[4], v[5]).unwrap();
                let loss = ((o * proj.as_tensor()).unwrap().sum_all().unwrap()
                    + (hn.sqr().unwrap().sum_all().unwrap() + cn.sum_all().unwrap()).unwrap())
                .unwrap();
                let g = loss.backward().unwrap();
                let mut out = vec![loss.to_vec0::<f32>().unwrap()];
                for v in &vars {
                    out.extend(
                        g.get(v)
                            .unwrap()
                            .flatten_all()
                            .unwrap()
                            .to_vec1::<f32>()
                            .unwrap(),
                    );
                }
                out
            })
        };
        let one = run(1);
        for chunks in [2, 3, 4, 6, 13] {
            let got = run(chunks);
            let names = ["loss", "x", "w_ih", "w_hh", "bias", "h0", "c0"];
            let lens = [1, b * t * d, 4 * h * d, 4 * h * h, 4 * h, b * h, b * h];
            let mut at = 0;
            let mut differ = Vec::new();
            for (name, n) in names.iter().zip(lens) {
                let k = (at..at + n)
                    .filter(|&i| one[i].to_bits() != got[i].to_bits())
                    .count();
                if k > 0 {
                    differ.push(format!("{name}: {k} of {n}"));
                }
                at += n;
            }
            assert!(differ.is_empty(), "{chunks} chunks: {differ:?}");
        }
    }

    /// Without a tracked input (an inference view) the pass takes the weights as they are and
    /// keeps no per-step state, and gives the same bits as the op that joins them and keeps
    /// it, over several chunks and a final cell state; also at 520 units, where the recurrent
    /// matrix is stored in panels and the unsaved pass splits the units over the threads
    /// (one row, and more rows than one GEMM call takes, too), and with whole matrices and too
    /// few rows for the row split (split by units too, the GEMM reading the share in panels).
    #[test]
    fn unsaved_forward_equals_the_saving_one() {
        for dims in [
            (5, 7, 6, 8),
            (3, 3, 5, 520),
            (1, 4, 3, 520),
            (70, 2, 3, 520),
            (1, 5, 3, 256),
            (3, 4, 6, 200),
        ] {
            unsaved_equals_saving(dims);
        }
        // Weights that do not fit the input are an error, not a panic.
        use candle_core::{Device, Tensor};
        let z =
            |shape: &[usize]| Tensor::zeros(shape, candle_core::DType::F32, &Device::Cpu).unwrap();
        let (x, h0) = (z(&[2, 3, 5]), z(&[2, 8]));
        let err = super::lstm_seq(&x, &z(&[32, 4]), &z(&[32, 8]), &z(&[32]), &h0, &h0);
        assert!(err.unwrap_err().to_string().contains("do not fit"));
    }

    fn unsaved_equals_saving((b, t, d, h): (usize, usize, usize, usize)) {
        use candle_core::{Device, Tensor, Var};
        let dev = Device::Cpu;
        assert!(h < 500 || 4 * h * h * 4 > super::rhs::PANEL_BYTES);
        let r = lcg_values;
        let x = Tensor::from_vec(r(b * t * d, 1), (b, t, d), &dev).unwrap();
        let w_ih = Tensor::from_vec(r(4 * h * d, 2), (4 * h, d), &dev).unwrap();
        let w_hh = Tensor::from_vec(r(4 * h * h, 3), (4 * h, h), &dev).unwrap();
        let bias = Tensor::from_vec(r(4 * h, 4), 4 * h, &dev).unwrap();
        let h0 = Tensor::from_vec(r(b * h, 5), (b, h), &dev).unwrap();
        let c0 = Tensor::from_vec(r(b * h, 6), (b, h), &dev).unwrap();
        let tracked = Var::from_tensor(&w_hh).unwrap();
        for chunks in [1, 2, 3] {
            super::with_chunk_count(chunks, || {
                let (o1, h1, c1) = super::lstm_seq(&x, &w_ih, &w_hh, &bias, &h0, &c0).unwrap();
                let (o2, h2, c2) =
                    super::lstm_seq(&x, &w_ih, tracked.as_tensor(), &bias, &h0, &c0).unwrap();
                assert!(!o1.track_op() && o2.track_op());
                for (a, b) in [(o1, o2), (h1, h2), (c1, c2)] {
                    let a = a.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                    let b = b.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                    assert_eq!(a, b, "{chunks} chunks, {h} units");
                }
            });
        }
    }

    /// The operand written straight into panels is the transposed matrix copied into them,
    /// value for value; small ones stay whole.
    #[test]
    fn transposed_panels_are_the_transpose_in_panels() {
        use super::rhs::transpose_w_hh;
        for h in [8, 520, 530] {
            let g4 = 4 * h;
            let w = lcg_values(g4 * h, h as u64);
            let direct = Rhs::transposed(&w, g4, h);
            let copied = Rhs::new(transpose_w_hh(&w, g4, h), h, g4);
            assert_eq!(direct.width, copied.width, "{h} units");
            assert_eq!(direct.width == PANEL, h >= 520, "{h} units");
            assert!(direct.data == copied.data, "{h} units");
        }
    }

    /// A matrix above `PANEL_BYTES` is stored in column panels and multiplied panel by panel;
    /// the products equal one GEMM over the whole matrix (to rounding: the GEMM may split the
    /// sums differently), overwriting or accumulating, with a strided left operand.
    #[test]
    fn panels_multiply_as_the_whole_matrix() {
        let (m, k, n) = (5, 600, 2_410); // 5.8 MB of f32: panels, the last one narrower
        let mut state = 7u64;
        let mut rnd = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 40) as f32 / (1u64 << 24) as f32 - 0.5
        };
        let w: Vec<f32> = (0..k * n).map(|_| rnd()).collect();
        // lhs rows 2k apart (every other row of a bigger matrix)
        let lhs: Vec<f32> = (0..2 * m * k).map(|_| rnd()).collect();
        let start: Vec<f32> = (0..m * n).map(|_| rnd()).collect();
        let rhs = Rhs::new(w.clone(), k, n);
        assert_eq!(rhs.width, PANEL);
        for accumulate in [false, true] {
            let mut want = start.clone();
            matmul(
                &mut want,
                n,
                accumulate,
                &lhs,
                1,
                2 * k as isize,
                &w,
                1,
                n as isize,
                m,
                n,
                k,
            );
            let mut got = start.clone();
            rhs.mul(&mut got, accumulate, (&lhs, 1, 2 * k as isize), m);
            for (a, b) in got.iter().zip(&want) {
                assert!((a - b).abs() <= 1e-4 * (1.0 + b.abs()), "{a} vs {b}");
            }
        }
        // Small matrices are kept whole.
        assert_eq!(Rhs::new(vec![0f32; 256 * 1024], 256, 1024).width, 1024);
    }

    /// The dispatched (AVX-512 or AVX2 where the CPU has it) and portable row loops give the
    /// same bits, and the fast f32 gate functions stay within 2e-7 of the f64 ones.
    #[test]
    fn row_loops_agree_across_instruction_sets() {
        let h = 37;
        let mut state = 12345u64;
        let mut rnd = |scale: f32| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 2.0 * scale
        };
        let g0: Vec<f32> = (0..4 * h).map(|_| rnd(6.0)).collect();
        let cp: Vec<f32> = (0..h).map(|_| rnd(2.0)).collect();
        let (mut g1, mut g2) = (g0.clone(), g0.clone());
        let (mut c1, mut c2, mut h1, mut h2) =
            (vec![0f32; h], vec![0f32; h], vec![0f32; h], vec![0f32; h]);
        let mut tc = vec![0f32; h];
        <f32 as LstmFloat>::fwd_row(&mut g1, &cp, &mut c1, &mut h1, &mut tc);
        fwd_row::<f32>(&mut g2, &cp, &mut c2, &mut h2, &mut tc);
        assert_eq!((&g1, &c1, &h1), (&g2, &c2, &h2));
        for (&a, &x) in g1.iter().zip(&g0).take(2 * h) {
            let exact = 1.0 / (1.0 + (-(x as f64)).exp());
            assert!(
                (a as f64 - exact).abs() < 2e-7,
                "sigmoid({x}) = {a}, exact {exact}"
            );
        }
        for (&a, &x) in g1.iter().zip(&g0).skip(2 * h).take(h) {
            assert!(
                (a as f64 - (x as f64).tanh()).abs() < 2e-7,
                "tanh({x}) = {a}"
            );
        }
        let go: Vec<f32> = (0..h).map(|_| rnd(1.0)).collect();
        let dhn: Vec<f32> = (0..h).map(|_| rnd(1.0)).collect();
        let dc0: Vec<f32> = (0..h).map(|_| rnd(1.0)).collect();
        let (mut d1, mut d2) = (vec![0f32; 4 * h], vec![0f32; 4 * h]);
        let dc_start = dc0.clone();
        let (mut dc1, mut dc2) = (dc0.clone(), dc0);
        <f32 as LstmFloat>::bwd_row(&g1, &c1, &cp, &go, &mut d1, &dhn, &mut dc1, &mut tc);
        bwd_row::<f32>(&g1, &c1, &cp, &go, &mut d2, &dhn, &mut dc2, &mut tc);
        assert_eq!((&d1, &dc1), (&d2, &dc2));
        // Each instruction set the CPU has gives the same bits too.
        for isa in [Isa::Avx512, Isa::Avx2, Isa::Base] {
            let (mut g3, mut c3, mut h3) = (g0.clone(), vec![0f32; h], vec![0f32; h]);
            let ran = simd_on(
                isa,
                #[inline(always)]
                || fwd_row::<f32>(&mut g3, &cp, &mut c3, &mut h3, &mut tc),
            );
            if ran.is_none() {
                continue;
            }
            assert_eq!((&g3, &c3, &h3), (&g2, &c2, &h2), "{isa:?}");
            let (mut d3, mut dc3) = (vec![0f32; 4 * h], dc_start.clone());
            simd_on(
                isa,
                #[inline(always)]
                || bwd_row::<f32>(&g1, &c1, &cp, &go, &mut d3, &dhn, &mut dc3, &mut tc),
            );
            assert_eq!((&d3, &dc3), (&d2, &dc2), "{isa:?}");
        }
        // Extreme inputs stay finite and saturate.
        let mut v = vec![-1e4f32, -100.0, 100.0, 1e4, 0.0];
        f32::sigmoid_slice(&mut v);
        assert_eq!(&v[2..], &[1.0, 1.0, 0.5]);
        assert!(v[..2].iter().all(|&x| (0.0..1e-37).contains(&x)));
        let mut t = vec![-1e4f32, 1e4, 0.0];
        f32::tanh_slice(&mut t);
        assert_eq!(t, vec![-1.0, 1.0, 0.0]);
    }
}
