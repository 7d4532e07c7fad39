//! Memory-bounded attention: FlashAttention's algorithm written with candle tensor ops.
//!
//! Plain attention materialises the `L × L` score matrix per head (16 × 512 nt = 8,192 nt
//! → 256 MiB per head and layer in f32, and the backward keeps several of them).
//! [`blocked_attention`] instead walks over query blocks and, inside each, over key blocks
//! with a streamed (online) softmax: a running row maximum `m`, normaliser `l` and
//! un-normalised output `acc` are rescaled by `exp(m_old − m_new)` as each key block arrives.
//! Causal attention skips the key blocks after the query block. Memory is `O(block²)` per
//! head for the scores plus `O(L·d)` for inputs and outputs: it grows with `L`, not `L²`.
//!
//! For training, the op carries its own backward ([`CustomOp3::bwd`]): it keeps no score
//! matrix from the forward and recomputes the attention probabilities one query block at a
//! time (`block × L` per head), as FlashAttention does; the gradients are
//! `dV = Pᵀ·dO`, `dP = dO·Vᵀ`, `dS = P ⊙ (dP − rowsum(dO ⊙ O))`, `dQ = dS·K·c`,
//! `dK = dSᵀ·Q·c` (`c = 1/√d`). `tests/gradients.rs` checks values and gradients against
//! plain attention and finite differences.
//!
//! Attention-probability dropout is not applied on this path (residual dropout is).
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use genolm::models::flash::{blocked_attention, plain_attention};
//! let dev = Device::Cpu;
//! let q = Tensor::randn(0f32, 1., (1, 2, 37, 8), &dev).unwrap();
//! let k = Tensor::randn(0f32, 1., (1, 2, 37, 8), &dev).unwrap();
//! let v = Tensor::randn(0f32, 1., (1, 2, 37, 8), &dev).unwrap();
//! let a = blocked_attention(&q, &k, &v, true, None, 16).unwrap();
//! let b = plain_attention(&q, &k, &v, true, None).unwrap();
//! let diff = (a - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
//! assert!(diff < 1e-5);
//! ```

use candle_core::{CpuStorage, CustomOp3, Layout, Shape, Storage, Tensor, D};

use crate::Result;

const NEG: f64 = -1e9;

/// `(rows, cols)` additive causal mask for query positions `q0..q0+rows` against key positions
/// `k0..k0+cols`: 0 where the key is not in the future, `NEG` where it is.
fn causal_bias(q0: usize, rows: usize, k0: usize, cols: usize, like: &Tensor) -> Result<Tensor> {
    let m: Vec<f32> = (0..rows * cols)
        .map(|i| {
            let (r, c) = (q0 + i / cols, k0 + i % cols);
            if c > r {
                NEG as f32
            } else {
                0.0
            }
        })
        .collect();
    Ok(Tensor::from_vec(m, (rows, cols), like.device())?.to_dtype(like.dtype())?)
}

/// Scores of a query block against keys `k0..k0+cols`, scaled, with the padding bias
/// (`(b, 1, 1, L)`) and the causal mask added.
#[allow(clippy::too_many_arguments)]
fn scores(
    qb: &Tensor,
    k: &Tensor,
    q0: usize,
    k0: usize,
    cols: usize,
    causal: bool,
    bias: Option<&Tensor>,
    scale: f64,
) -> Result<Tensor> {
    let kb = k.narrow(2, k0, cols)?;
    let mut s = (qb.matmul(&kb.t()?)? * scale)?;
    if let Some(b) = bias {
        s = s.broadcast_add(&b.narrow(3, k0, cols)?)?;
    }
    let rows = qb.dim(2)?;
    if causal && k0 + cols > q0 + 1 {
        s = s.broadcast_add(&causal_bias(q0, rows, k0, cols, &s)?)?;
    }
    Ok(s)
}

/// The forward pass without graph: online softmax over key blocks.
fn forward_detached(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    causal: bool,
    bias: Option<&Tensor>,
    block: usize,
) -> Result<Tensor> {
    let (b, h, t, hd) = q.dims4()?;
    let scale = 1.0 / (hd as f64).sqrt();
    // half-precision inputs keep the running softmax statistics in f32 (f16 cannot hold the
    // masking constants); f32 and f64 keep their own precision
    let acc_dt = match q.dtype() {
        candle_core::DType::F16 | candle_core::DType::BF16 => candle_core::DType::F32,
        d => d,
    };
    let mut outs = Vec::with_capacity(t.div_ceil(block));
    for q0 in (0..t).step_by(block) {
        let rows = block.min(t - q0);
        let qb = q.narrow(2, q0, rows)?;
        let kend = if causal { q0 + rows } else { t };
        let mut m = Tensor::full(-1e30f32, (b, h, rows, 1), q.device())?.to_dtype(acc_dt)?;
        let mut l = Tensor::zeros((b, h, rows, 1), acc_dt, q.device())?;
        let mut acc = Tensor::zeros((b, h, rows, hd), acc_dt, q.device())?;
        for k0 in (0..kend).step_by(block) {
            let cols = block.min(kend - k0);
            let s = scores(&qb, k, q0, k0, cols, causal, bias, scale)?.to_dtype(acc_dt)?;
            let m_new = m.maximum(&s.max_keepdim(D::Minus1)?)?;
            let p = s.broadcast_sub(&m_new)?.exp()?;
            let corr = (&m - &m_new)?.exp()?;
            l = (l.mul(&corr)? + p.sum_keepdim(D::Minus1)?)?;
            let pv = p
                .to_dtype(v.dtype())?
                .matmul(&v.narrow(2, k0, cols)?)?
                .to_dtype(acc_dt)?;
            acc = (acc.broadcast_mul(&corr)? + pv)?;
            m = m_new;
        }
        outs.push(acc.broadcast_div(&l)?.to_dtype(q.dtype())?);
    }
    Ok(Tensor::cat(&outs, 2)?)
}

/// The op: its forward is computed beforehand (on detached inputs) and handed over; its
/// backward recomputes the probabilities block by block.
struct BlockedAttention {
    out: Tensor,
    causal: bool,
    bias: Option<Tensor>,
    block: usize,
}

impl BlockedAttention {
    fn gradients(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        o: &Tensor,
        d_o: &Tensor,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let (q, k, v, o) = (q.detach(), k.detach(), v.detach(), o.detach());
        let d_o = d_o.detach().contiguous()?;
        let (_, _, t, hd) = q.dims4()?;
        let scale = 1.0 / (hd as f64).sqrt();
        let delta = (&d_o * &o)?.sum_keepdim(D::Minus1)?; // (b, h, t, 1)
        let mut dq = Vec::with_capacity(t.div_ceil(self.block));
        let mut dk = k.zeros_like()?;
        let mut dv = v.zeros_like()?;
        for q0 in (0..t).step_by(self.block) {
            let rows = self.block.min(t - q0);
            let kend = if self.causal { q0 + rows } else { t };
            let qb = q.narrow(2, q0, rows)?;
            let dob = d_o.narrow(2, q0, rows)?;
            let s = scores(&qb, &k, q0, 0, kend, self.causal, self.bias.as_ref(), scale)?;
            let p = super::layers::softmax(&s)?; // (b, h, rows, kend)
            let kk = k.narrow(2, 0, kend)?;
            let vv = v.narrow(2, 0, kend)?;
            let dvb = p.t()?.matmul(&dob)?; // (b, h, kend, hd)
            let dp = dob.matmul(&vv.t()?)?;
            let ds = (p * dp.broadcast_sub(&delta.narrow(2, q0, rows)?)?)?;
            dq.push((ds.matmul(&kk)? * scale)?);
            let dkb = (ds.t()?.matmul(&qb)? * scale)?;
            dk = (dk + dkb.pad_with_zeros(2, 0, t - kend)?)?;
            dv = (dv + dvb.pad_with_zeros(2, 0, t - kend)?)?;
        }
        Ok((Tensor::cat(&dq, 2)?, dk, dv))
    }
}

impl CustomOp3 for BlockedAttention {
    fn name(&self) -> &'static str {
        "blocked-attention"
    }

    fn cpu_fwd(
        &self,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
        _: &CpuStorage,
        _: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (s, l) = self.out.storage_and_layout();
        match &*s {
            Storage::Cpu(c) if l.is_contiguous() && l.start_offset() == 0 => {
                Ok((c.clone(), l.shape().clone()))
            }
            _ => candle_core::bail!("blocked-attention: the output is not a contiguous CPU tensor"),
        }
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        _: &candle_core::CudaStorage,
        _: &Layout,
        _: &candle_core::CudaStorage,
        _: &Layout,
        _: &candle_core::CudaStorage,
        _: &Layout,
    ) -> candle_core::Result<(candle_core::CudaStorage, Shape)> {
        use candle_core::backend::BackendStorage;
        let (s, l) = self.out.storage_and_layout();
        match &*s {
            Storage::Cuda(c) if l.is_contiguous() && l.start_offset() == 0 => {
                Ok((c.try_clone(l)?, l.shape().clone()))
            }
            _ => {
                candle_core::bail!("blocked-attention: the output is not a contiguous CUDA tensor")
            }
        }
    }

    fn bwd(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dq, dk, dv) = self
            .gradients(q, k, v, res, grad_res)
            .map_err(|e| candle_core::Error::Msg(e.to_string()))?;
        Ok((Some(dq), Some(dk), Some(dv)))
    }
}

/// Scaled dot-product attention on `q, k, v: (batch, heads, L, d)` in blocks of `block`
/// positions, memory `O(L)` (see the [module documentation](self)). `key_bias` is an
/// additive `(batch, 1, 1, L)` bias (0 for real tokens, a large negative number for padding).
pub fn blocked_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    causal: bool,
    key_bias: Option<&Tensor>,
    block: usize,
) -> Result<Tensor> {
    let block = block.max(1);
    let (q, k, v) = (q.contiguous()?, k.contiguous()?, v.contiguous()?);
    let bias = key_bias.map(|b| b.detach());
    let out = forward_detached(
        &q.detach(),
        &k.detach(),
        &v.detach(),
        causal,
        bias.as_ref(),
        block,
    )?
    .contiguous()?;
    let tracked = [&q, &k, &v].iter().any(|t| t.track_op());
    if !tracked {
        return Ok(out);
    }
    let op = BlockedAttention {
        out,
        causal,
        bias,
        block,
    };
    Ok(q.apply_op3(&k, &v, op)?)
}

/// Plain attention (the full `L × L` probabilities), the reference [`blocked_attention`] is
/// tested against.
pub fn plain_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    causal: bool,
    key_bias: Option<&Tensor>,
) -> Result<Tensor> {
    let (_, _, t, hd) = q.dims4()?;
    let s = scores(q, k, 0, 0, t, causal, key_bias, 1.0 / (hd as f64).sqrt())?;
    Ok(super::layers::softmax(&s)?.matmul(v)?)
}
