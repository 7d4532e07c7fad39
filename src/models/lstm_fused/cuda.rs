//! The fused LSTM on CUDA (f32): the same op as on the CPU, with the whole recurrence in one
//! forward call and one backward call.
//!
//! Composed of candle primitives, each time step costs ~16 kernel launches forward and about
//! twice as many backward, each with its own allocation, so a GPU spends its time launching:
//! the small AWD-LSTM trained at 12 k tokens/s on an H200 at batch 32 × 64, a fifth of a
//! 16-core CPU, and PyTorch's cuDNN LSTM ran the same model at 156 k (docs/gpu/2026-12-04).
//! Here the input projection of every step is one cuBLAS GEMM; each step is then one GEMM
//! accumulating `h_{t-1}·W_hhᵀ` into its slice of the projection plus one kernel for the gate
//! arithmetic (`lstm.cu`, compiled by NVRTC the first time it runs). Backward walks the steps
//! in reverse the same way (one kernel for the gate gradients, one GEMM for the recurrent
//! gradient); the weight and input gradients are then three large matrix products over all
//! steps at once.

use std::sync::OnceLock;

use candle_core::backend::BackendStorage;
use candle_core::cuda_backend::cudarc::cublas::{sys::cublasOperation_t, Gemm, GemmConfig};
use candle_core::cuda_backend::cudarc::driver::{CudaSlice, LaunchConfig, PushKernelArg};
use candle_core::cuda_backend::cudarc::nvrtc::compile_ptx;
use candle_core::{CudaStorage, CustomOp1, Layout, Result, Shape, Storage, Tensor};

/// The kernels' source.
const SRC: &str = include_str!("lstm.cu");

/// Activations saved by the forward pass: the activated gates `(B, T, 4H)` and the cell
/// states `(T + 1, B, H)`.
pub(super) struct CudaSaved {
    gates: CudaSlice<f32>,
    cells: CudaSlice<f32>,
}

fn msg<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> candle_core::Error + '_ {
    move |e| candle_core::Error::Msg(format!("lstm-seq (CUDA) {what}: {e}"))
}

/// The PTX of `lstm.cu` (compiled by NVRTC once per process; candle's device then loads the
/// module once and caches it under `genolm_lstm`).
fn ptx() -> Result<&'static str> {
    static PTX: OnceLock<std::result::Result<String, String>> = OnceLock::new();
    let ptx = PTX.get_or_init(|| {
        compile_ptx(SRC)
            .map(|p| p.to_src())
            .map_err(|e| e.to_string())
    });
    Ok(ptx.as_ref().map_err(msg("NVRTC"))?.as_str())
}

/// cuBLAS's (column-major) GEMM parameters: `C (m × n) = op(A) · op(B)` with `op` the
/// transpose where `ta` / `tb`. A row-major matrix is its column-major transpose, so the row-major
/// `C = B · Aᵀ` of the callers is this call with the operands' roles as written there.
fn gemm_cfg(
    ta: bool,
    tb: bool,
    m: usize,
    n: usize,
    k: usize,
    (lda, ldb, ldc): (usize, usize, usize),
    beta: f32,
) -> GemmConfig<f32> {
    let op = |t| {
        if t {
            cublasOperation_t::CUBLAS_OP_T
        } else {
            cublasOperation_t::CUBLAS_OP_N
        }
    };
    GemmConfig {
        transa: op(ta),
        transb: op(tb),
        m: m as i32,
        n: n as i32,
        k: k as i32,
        alpha: 1.0,
        lda: lda as i32,
        ldb: ldb as i32,
        beta,
        ldc: ldc as i32,
    }
}

fn contiguous_slice<'a>(
    s: &'a CudaStorage,
    l: &Layout,
    what: &str,
) -> Result<candle_core::cuda_backend::cudarc::driver::CudaView<'a, f32>> {
    if !l.is_contiguous() {
        candle_core::bail!("lstm-seq (CUDA): {what} is not contiguous")
    }
    let n = l.shape().elem_count();
    let start = l.start_offset();
    Ok(s.as_cuda_slice::<f32>()?.slice(start..start + n))
}

fn launch_cfg(n: usize) -> LaunchConfig {
    LaunchConfig::for_num_elems(n as u32)
}

/// The forward pass: `x (B, T, D)`, `[W_ih | W_hh | b] (4H, D + H + 1)`, `hc0 (2, B, H)` →
/// the outputs and last cell state (one flat tensor), and the activations to save.
pub(super) fn forward(
    s1: &CudaStorage,
    l1: &Layout,
    s2: &CudaStorage,
    l2: &Layout,
    s3: &CudaStorage,
    l3: &Layout,
    (b, t_len, d, h): (usize, usize, usize, usize),
) -> Result<(CudaStorage, CudaSaved)> {
    let dev = s1.device().clone();
    let x = contiguous_slice(s1, l1, "x")?;
    let w = contiguous_slice(s2, l2, "[W_ih | W_hh | b]")?;
    let hc0 = contiguous_slice(s3, l3, "(h0, c0)")?;
    let (g4, ld_w, bh) = (4 * h, d + h + 1, b * h);
    let blas = dev.cublas_handle();
    let stream = dev.cuda_stream();
    // The input projection of every step: G (BT × 4H) = X · W_ihᵀ.
    let mut gates = dev.alloc_zeros::<f32>(b * t_len * g4)?;
    unsafe {
        blas.gemm(
            gemm_cfg(true, false, g4, b * t_len, d, (ld_w, d, g4), 0.0),
            &w,
            &x,
            &mut gates,
        )
        .map_err(msg("input projection"))?;
    }
    let mut cells = dev.alloc_zeros::<f32>((t_len + 1) * bh)?;
    stream
        .memcpy_dtod(&hc0.slice(bh..2 * bh), &mut cells.slice_mut(0..bh))
        .map_err(msg("c0"))?;
    let mut out = dev.alloc_zeros::<f32>(b * t_len * h + bh)?;
    let w_hh = w.slice(d..);
    let step = dev.get_or_load_custom_func("lstm_fwd_step", "genolm_lstm", ptx()?)?;
    let (bi, ti, hi, li, di) = (b as i32, t_len as i32, h as i32, ld_w as i32, d as i32);
    for t in 0..t_len {
        // G_t += h_{t-1} · W_hhᵀ (h_0 from hc0; later rows of `out`, T·H apart).
        {
            let mut g_t = gates.slice_mut(t * g4..);
            let r = unsafe {
                if t == 0 {
                    let h0 = hc0.slice(0..bh);
                    blas.gemm(
                        gemm_cfg(true, false, g4, b, h, (ld_w, h, t_len * g4), 1.0),
                        &w_hh,
                        &h0,
                        &mut g_t,
                    )
                } else {
                    let hp = out.slice((t - 1) * h..);
                    blas.gemm(
                        gemm_cfg(true, false, g4, b, h, (ld_w, t_len * h, t_len * g4), 1.0),
                        &w_hh,
                        &hp,
                        &mut g_t,
                    )
                }
            };
            r.map_err(msg("recurrent product"))?;
        }
        let mut lb = step.builder();
        lb.arg(&mut gates)
            .arg(&mut cells)
            .arg(&mut out)
            .arg(&w)
            .arg(&bi)
            .arg(&ti)
            .arg(&hi)
            .arg(&li)
            .arg(&di);
        let ti_step = t as i32;
        lb.arg(&ti_step);
        unsafe { lb.launch(launch_cfg(bh)) }.map_err(msg("gate kernel"))?;
    }
    Ok((
        CudaStorage::wrap_cuda_slice(out, dev),
        CudaSaved { gates, cells },
    ))
}

/// The backward recurrence as an op on the gradient of the result: returns one flat tensor
/// `dG (B·T·4H)`, then `dh0 (B·H)`, then `dc0 (B·H)`.
struct Back<'a> {
    saved: &'a CudaSaved,
    wcat: Tensor,
    dims: (usize, usize, usize, usize),
}

impl CustomOp1 for Back<'_> {
    fn name(&self) -> &'static str {
        "lstm-seq-backward"
    }

    fn cpu_fwd(
        &self,
        _: &candle_core::CpuStorage,
        _: &Layout,
    ) -> Result<(candle_core::CpuStorage, Shape)> {
        candle_core::bail!("lstm-seq-backward runs on CUDA only")
    }

    fn cuda_fwd(&self, s: &CudaStorage, l: &Layout) -> Result<(CudaStorage, Shape)> {
        let (b, t_len, d, h) = self.dims;
        let (g4, ld_w, bh) = (4 * h, d + h + 1, b * h);
        let dev = s.device().clone();
        let dres = contiguous_slice(s, l, "the gradient")?;
        let (ws, wl) = self.wcat.storage_and_layout();
        let Storage::Cuda(ws) = &*ws else {
            candle_core::bail!("lstm-seq (CUDA): the weights are not on the GPU")
        };
        let w = contiguous_slice(ws, wl, "[W_ih | W_hh | b]")?;
        let w_hh = w.slice(d..);
        let blas = dev.cublas_handle();
        let stream = dev.cuda_stream();
        let n_dg = b * t_len * g4;
        let mut res = dev.alloc_zeros::<f32>(n_dg + 2 * bh)?;
        let mut dh = dev.alloc_zeros::<f32>(bh)?;
        let mut dc = dev.alloc_zeros::<f32>(bh)?;
        let step = dev.get_or_load_custom_func("lstm_bwd_step", "genolm_lstm", ptx()?)?;
        let (bi, ti, hi) = (b as i32, t_len as i32, h as i32);
        for t in (0..t_len).rev() {
            let mut lb = step.builder();
            let t_i = t as i32;
            lb.arg(&dres)
                .arg(&self.saved.gates)
                .arg(&self.saved.cells)
                .arg(&mut res)
                .arg(&dh)
                .arg(&mut dc)
                .arg(&bi)
                .arg(&ti)
                .arg(&hi)
                .arg(&t_i);
            unsafe { lb.launch(launch_cfg(bh)) }.map_err(msg("gate gradient kernel"))?;
            // dh_{t-1} = dG_t · W_hh (B × H); after step 0 it is the gradient of h0.
            let dg_t = res.slice(t * g4..);
            let r = unsafe {
                blas.gemm(
                    gemm_cfg(false, false, h, b, g4, (ld_w, t_len * g4, h), 0.0),
                    &w_hh,
                    &dg_t,
                    &mut dh,
                )
            };
            r.map_err(msg("recurrent gradient"))?;
        }
        stream
            .memcpy_dtod(&dh, &mut res.slice_mut(n_dg..n_dg + bh))
            .map_err(msg("dh0"))?;
        stream
            .memcpy_dtod(&dc, &mut res.slice_mut(n_dg + bh..n_dg + 2 * bh))
            .map_err(msg("dc0"))?;
        Ok((
            CudaStorage::wrap_cuda_slice(res, dev),
            Shape::from(n_dg + 2 * bh),
        ))
    }
}

/// The gradients of `x`, `[W_ih | W_hh | b]` and `hc0` from the gradient of the result.
pub(super) fn backward(
    saved: &CudaSaved,
    x: &Tensor,
    wcat: &Tensor,
    hc0: &Tensor,
    res: &Tensor,
    grad_res: &Tensor,
) -> Result<(Tensor, Tensor, Tensor)> {
    let (b, t_len, d) = x.dims3()?;
    let g4 = wcat.dim(0)?;
    let h = g4 / 4;
    let back = Back {
        saved,
        wcat: wcat.clone(),
        dims: (b, t_len, d, h),
    };
    let flat = grad_res.contiguous()?.apply_op1_no_bwd(&back)?;
    let n_dg = b * t_len * g4;
    let dg = flat.narrow(0, 0, n_dg)?.reshape((b * t_len, g4))?;
    let dh0 = flat.narrow(0, n_dg, b * h)?.reshape((b, h))?;
    let dc0 = flat.narrow(0, n_dg + b * h, b * h)?.reshape((b, h))?;
    let w_ih = wcat.narrow(1, 0, d)?.contiguous()?;
    let dx = dg.matmul(&w_ih)?.reshape((b, t_len, d))?;
    let dg_t = dg.t()?;
    let dw_ih = dg_t.matmul(&x.reshape((b * t_len, d))?)?;
    // h_{t-1} of every step: h0, then the outputs of steps 0 … T-2.
    let h0 = hc0.get(0)?.reshape((b, 1, h))?;
    let prev = if t_len > 1 {
        let hs = res.narrow(0, 0, b * t_len * h)?.reshape((b, t_len, h))?;
        Tensor::cat(&[&h0, &hs.narrow(1, 0, t_len - 1)?], 1)?
    } else {
        h0
    };
    let dw_hh = dg_t.matmul(&prev.reshape((b * t_len, h))?)?;
    let db = dg.sum(0)?.reshape((g4, 1))?;
    let dw = Tensor::cat(&[dw_ih, dw_hh, db], 1)?;
    let dhc0 = Tensor::stack(&[dh0, dc0], 0)?;
    Ok((dx, dw, dhc0))
}
