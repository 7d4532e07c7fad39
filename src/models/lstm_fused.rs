//! A fused LSTM recurrence for the CPU: one candle custom op for the whole sequence, with a
//! hand-written backward pass (backpropagation through time).
//!
//! Composed of candle primitives, the recurrence costs ~16 small ops per step, and every
//! per-step slice of the input projection has a backward that allocates a tensor the size of
//! the whole sequence, which makes BPTT quadratic in the sequence length. This op takes the
//! precomputed input projection `xp: (T, B, 4H)`, `W_hh: (4H, H)` and the initial state
//! `hc0: (2, B, H)`, runs the gates in plain loops with one GEMM per step, and returns
//! `(T + 1, B, H)`: the hidden states of every step, then the final cell state.
//! Gradients flow to `xp`, `W_hh` and `hc0`; `tests/gradients.rs` checks them against finite
//! differences and against the composed version.

use std::sync::Mutex;

use candle_core::{CpuStorage, CustomOp3, DType, Layout, Result, Shape, Tensor, WithDType};
use num_traits::Float;

/// Gate activations saved by the forward pass for the backward pass.
#[derive(Default)]
struct Saved {
    /// (T, B, 4H) activated gates i, f, g, o.
    gates: Vec<f64>,
    /// (T + 1, B, H) cell states c_0 … c_T.
    cells: Vec<f64>,
}

/// The custom op (one instance per call, holding the saved activations).
pub struct LstmSeq {
    saved: Mutex<Saved>,
}

fn sigmoid<T: Float>(x: T) -> T {
    T::one() / (T::one() + (-x).exp())
}

fn contiguous<'a, T: WithDType>(s: &'a [T], l: &Layout) -> Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&s[a..b]),
        None => candle_core::bail!("lstm_seq needs contiguous inputs"),
    }
}

/// `dst (m × n) = lhs (m × k) · rhs (k × n)` with explicit strides, single-threaded: the
/// per-step products are small enough that thread synchronisation would dominate.
#[allow(clippy::too_many_arguments)]
fn matmul<T: 'static + Copy + num_traits::Zero + num_traits::One>(
    dst: &mut [T],
    lhs: &[T],
    lhs_cs: isize,
    lhs_rs: isize,
    rhs: &[T],
    rhs_cs: isize,
    rhs_rs: isize,
    m: usize,
    n: usize,
    k: usize,
) {
    assert!(dst.len() >= m * n);
    // SAFETY: the slices cover every element addressed by the given shapes and strides
    // (checked by the callers' constructions and the assert above for dst).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            false,
            lhs.as_ptr(),
            lhs_cs,
            lhs_rs,
            rhs.as_ptr(),
            rhs_cs,
            rhs_rs,
            T::zero(),
            T::one(),
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

impl LstmSeq {
    #[allow(clippy::too_many_arguments)]
    fn fwd_laid_out<T: WithDType + Float>(
        &self,
        x: &[T],
        lx: &Layout,
        w: &[T],
        lw: &Layout,
        hc: &[T],
        lhc: &Layout,
        t_len: usize,
        b: usize,
        h: usize,
    ) -> Result<Vec<T>> {
        self.fwd(
            contiguous(x, lx)?,
            contiguous(w, lw)?,
            contiguous(hc, lhc)?,
            t_len,
            b,
            h,
        )
    }

    fn fwd<T: WithDType + Float>(
        &self,
        xp: &[T],
        w: &[T],
        hc0: &[T],
        t_len: usize,
        b: usize,
        h: usize,
    ) -> Result<Vec<T>> {
        let g4 = 4 * h;
        let mut rec = vec![T::zero(); b * g4];
        let mut out = vec![T::zero(); (t_len + 1) * b * h];
        let mut hprev: Vec<T> = hc0[..b * h].to_vec();
        let mut c: Vec<T> = hc0[b * h..2 * b * h].to_vec();
        let mut saved_g = vec![0f64; t_len * b * g4];
        let mut saved_c = vec![0f64; (t_len + 1) * b * h];
        for (k, v) in c.iter().enumerate() {
            saved_c[k] = WithDType::to_f64(*v);
        }
        for t in 0..t_len {
            // rec (b × 4h) = hprev (b × h) · W_hhᵀ, W_hh row-major (4h × h).
            matmul(&mut rec, &hprev, 1, h as isize, w, h as isize, 1, b, g4, h);
            let base = t * b * g4;
            for r in 0..b {
                for j in 0..h {
                    let at = |q: usize| xp[base + r * g4 + q * h + j] + rec[r * g4 + q * h + j];
                    let i = sigmoid(at(0));
                    let f = sigmoid(at(1));
                    let g = at(2).tanh();
                    let o = sigmoid(at(3));
                    let cn = f * c[r * h + j] + i * g;
                    let hn = o * cn.tanh();
                    c[r * h + j] = cn;
                    hprev[r * h + j] = hn;
                    out[t * b * h + r * h + j] = hn;
                    let sg = &mut saved_g[base + r * g4..base + (r + 1) * g4];
                    sg[j] = i.to_f64();
                    sg[h + j] = f.to_f64();
                    sg[2 * h + j] = g.to_f64();
                    sg[3 * h + j] = o.to_f64();
                    saved_c[(t + 1) * b * h + r * h + j] = cn.to_f64();
                }
            }
        }
        out[t_len * b * h..].copy_from_slice(&c);
        let mut s = self.saved.lock().expect("lstm saved state");
        s.gates = saved_g;
        s.cells = saved_c;
        Ok(out)
    }
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
        let (t_len, b, g4) = l1.shape().dims3()?;
        let h = g4 / 4;
        let shape = Shape::from((t_len + 1, b, h));
        let out = match (s1, s2, s3) {
            (CpuStorage::F32(x), CpuStorage::F32(w), CpuStorage::F32(hc)) => {
                CpuStorage::F32(self.fwd_laid_out(x, l1, w, l2, hc, l3, t_len, b, h)?)
            }
            (CpuStorage::F64(x), CpuStorage::F64(w), CpuStorage::F64(hc)) => {
                CpuStorage::F64(self.fwd_laid_out(x, l1, w, l2, hc, l3, t_len, b, h)?)
            }
            _ => candle_core::bail!("lstm-seq supports f32 and f64 inputs of one dtype"),
        };
        Ok((out, shape))
    }

    fn bwd(
        &self,
        xp: &Tensor,
        w_hh: &Tensor,
        hc0: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dxp, dw, dhc0) = match xp.dtype() {
            DType::F32 => self.bwd_impl::<f32>(xp, w_hh, hc0, res, grad_res)?,
            DType::F64 => self.bwd_impl::<f64>(xp, w_hh, hc0, res, grad_res)?,
            d => candle_core::bail!("lstm-seq backward: unsupported dtype {d:?}"),
        };
        Ok((Some(dxp), Some(dw), Some(dhc0)))
    }
}

impl LstmSeq {
    fn bwd_impl<T: WithDType + Float>(
        &self,
        xp: &Tensor,
        w_hh: &Tensor,
        hc0: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let (t_len, b, g4) = xp.dims3()?;
        let h = g4 / 4;
        let dev = xp.device().clone();
        let s = self.saved.lock().expect("lstm saved state");
        let gr: Vec<f64> = grad_res.to_dtype(DType::F64)?.flatten_all()?.to_vec1()?;
        let w: Vec<T> = w_hh.detach().flatten_all()?.to_vec1()?; // (4h, h) row-major
        let mut dgates = vec![T::zero(); t_len * b * g4];
        let mut dh_next_t = vec![T::zero(); b * h];
        let mut dh_next = vec![0f64; b * h];
        // The final cell state's gradient enters through row T of the output.
        let mut dc_next: Vec<f64> = gr[t_len * b * h..].to_vec();
        for t in (0..t_len).rev() {
            let base = t * b * g4;
            for r in 0..b {
                for j in 0..h {
                    let k = r * h + j;
                    let gi = base + r * g4;
                    let (i, f, g, o) = (
                        s.gates[gi + j],
                        s.gates[gi + h + j],
                        s.gates[gi + 2 * h + j],
                        s.gates[gi + 3 * h + j],
                    );
                    let c = s.cells[(t + 1) * b * h + k];
                    let c_prev = s.cells[t * b * h + k];
                    let tc = c.tanh();
                    let dh = gr[t * b * h + k] + dh_next[k];
                    let dc = dh * o * (1.0 - tc * tc) + dc_next[k];
                    let d = &mut dgates[gi..gi + g4];
                    d[j] = T::from_f64(dc * g * i * (1.0 - i));
                    d[h + j] = T::from_f64(dc * c_prev * f * (1.0 - f));
                    d[2 * h + j] = T::from_f64(dc * i * (1.0 - g * g));
                    d[3 * h + j] = T::from_f64(dh * tc * o * (1.0 - o));
                    dc_next[k] = dc * f;
                }
            }
            // dh_{t-1} (b × h) = dgates_t (b × 4h) · W_hh (4h × h).
            matmul(
                &mut dh_next_t,
                &dgates[base..base + b * g4],
                1,
                g4 as isize,
                &w,
                1,
                h as isize,
                b,
                h,
                g4,
            );
            for (a, v) in dh_next.iter_mut().zip(&dh_next_t) {
                *a = WithDType::to_f64(*v);
            }
        }
        // dW_hh = Σ_t dgates_tᵀ · h_{t-1}, with h_{-1} = h0 and h_t from the output.
        let h0 = hc0.detach().get(0)?.unsqueeze(0)?; // (1, b, h)
        let hs = res.detach().narrow(0, 0, t_len)?; // (t, b, h)
        let hprev = if t_len > 1 {
            Tensor::cat(&[h0, hs.narrow(0, 0, t_len - 1)?], 0)?
        } else {
            h0
        }
        .reshape((t_len * b, h))?;
        let dg_all = Tensor::from_vec(dgates, (t_len * b, g4), &dev)?;
        let dw = dg_all.t()?.matmul(&hprev)?;
        let dxp = dg_all.reshape((t_len, b, g4))?;
        let dh0: Vec<T> = dh_next.iter().map(|&v| T::from_f64(v)).collect();
        let dc0: Vec<T> = dc_next.iter().map(|&v| T::from_f64(v)).collect();
        let dhc0 = Tensor::cat(
            &[
                Tensor::from_vec(dh0, (1, b, h), &dev)?,
                Tensor::from_vec(dc0, (1, b, h), &dev)?,
            ],
            0,
        )?;
        Ok((dxp, dw, dhc0))
    }
}

/// Run the fused recurrence: `xp: (T, B, 4H)`, `w_hh: (4H, H)`, `h0`, `c0: (B, H)`.
/// Returns `(outputs (T, B, H), h_T, c_T)`.
pub fn lstm_seq(
    xp: &Tensor,
    w_hh: &Tensor,
    h0: &Tensor,
    c0: &Tensor,
) -> Result<(Tensor, Tensor, Tensor)> {
    let t_len = xp.dim(0)?;
    let hc0 = Tensor::stack(&[h0, c0], 0)?.contiguous()?;
    let op = LstmSeq {
        saved: Mutex::new(Saved::default()),
    };
    let out = xp.contiguous()?.apply_op3_arc(
        &w_hh.contiguous()?,
        &hc0,
        std::sync::Arc::new(Box::new(op)),
    )?;
    let hs = out.narrow(0, 0, t_len)?;
    let h_last = out.get(t_len - 1)?;
    let c_last = out.get(t_len)?;
    Ok((hs, h_last, c_last))
}
