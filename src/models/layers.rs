//! The building blocks, as functions of tensors, all with a backward pass in candle 0.11.
//!
//! candle's fast `LayerNorm`, `RmsNorm`, `softmax_last_dim` and `rope` kernels have no
//! backward pass, so every block here is written with differentiable primitives
//! (`matmul`, `exp`, `sum_keepdim`, `narrow`, `cat`, …). The gradient tests in
//! `tests/gradients.rs` check each block against finite differences in f64.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use genolm::models::layers::{linear, softmax};
//! let x = Tensor::new(&[[1f32, 2., 3.]], &Device::Cpu).unwrap();
//! let w = Tensor::new(&[[1f32, 0., 0.], [0., 0., 1.]], &Device::Cpu).unwrap();
//! let y = linear(&x, &w, None).unwrap();
//! assert_eq!(y.to_vec2::<f32>().unwrap(), vec![vec![1., 3.]]);
//! let p = softmax(&y).unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap();
//! assert!((p - 1.0).abs() < 1e-6);
//! ```

use candle_core::{DType, Device, Module, Tensor, D};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::Result;

/// `x · wᵀ + b` over the last dimension of `x` (any leading shape). The weight is cast to
/// `x`'s dtype, so a bf16 activation against an f32 master weight computes in bf16.
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    let w = if w.dtype() != x.dtype() {
        w.to_dtype(x.dtype())?
    } else {
        w.clone()
    };
    let dims = x.dims().to_vec();
    let last = *dims.last().unwrap_or(&1);
    let rows = x.elem_count() / last.max(1);
    let y = x.reshape((rows, last))?.matmul(&w.t()?)?;
    let y = match b {
        Some(b) => y.broadcast_add(&b.to_dtype(y.dtype())?)?,
        None => y,
    };
    let mut out = dims;
    *out.last_mut().unwrap() = w.dim(0)?;
    Ok(y.reshape(out)?)
}

/// [`linear`] through the fused CPU op ([`fused_linear`](super::fused_linear): one op on
/// candle's CPU pool, the bias added inside the GEMM) on the CPU in f32/f64, [`linear`]
/// otherwise. The transformer blocks and the LSTM's input projection use it (without a bias
/// its sums run in the same order as candle's matmul: the shipped checkpoints train to the
/// same bytes either way); the CNN blocks and the decoder keep [`linear`].
pub fn linear_fused(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    let same = |t: &Tensor| t.dtype() == x.dtype();
    if !(super::fused::applies(x) && same(w) && b.is_none_or(same)) {
        return linear(x, w, b);
    }
    let mut dims = x.dims().to_vec();
    let last = *dims.last().unwrap_or(&1);
    let rows = x.elem_count() / last.max(1);
    let y = super::fused_linear::linear(&x.reshape((rows, last))?, w, b)?;
    *dims.last_mut().unwrap() = w.dim(0)?;
    Ok(y.reshape(dims)?)
}

/// A dropout mask of `shape` with entries `0` or `1/(1-p)` (inverted dropout), drawn from `rng`.
pub fn dropout_mask(
    shape: &[usize],
    p: f64,
    rng: &mut ChaCha8Rng,
    device: &Device,
    dtype: DType,
) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let keep = (1.0 / (1.0 - p)) as f32;
    let v = draw_mask(n, p, keep, rng);
    Ok(Tensor::from_vec(v, shape, device)?.to_dtype(dtype)?)
}

/// `n` mask values (0 with probability `p`, else `keep`), one `f64` draw each. Large masks
/// (DropConnect on a 4 600 × 1 150 `W_hh`: 5.3 M draws) are drawn in parallel: each chunk's
/// generator is a copy of `rng` moved to the chunk's position in the stream (every draw takes
/// two 32-bit words), so the values are exactly the sequential ones, and `rng` ends where
/// the sequential draws would leave it.
fn draw_mask(n: usize, p: f64, keep: f32, rng: &mut ChaCha8Rng) -> Vec<f32> {
    use rayon::prelude::*;
    const CHUNK: usize = 1 << 16;
    let draw = |r: &mut ChaCha8Rng, out: &mut [f32]| {
        for x in out {
            *x = if r.random::<f64>() < p { 0.0 } else { keep };
        }
    };
    let mut v = vec![0f32; n];
    if n < 4 * CHUNK {
        draw(rng, &mut v);
        return v;
    }
    let start = rng.get_word_pos();
    let base = rng.clone();
    v.par_chunks_mut(CHUNK).enumerate().for_each(|(i, out)| {
        let mut r = base.clone();
        r.set_word_pos(start + 2 * (i * CHUNK) as u128);
        draw(&mut r, out);
    });
    rng.set_word_pos(start + 2 * n as u128);
    v
}

/// Standard dropout (a fresh mask per element) when `p > 0`.
pub fn dropout(x: &Tensor, p: f64, rng: Option<&mut ChaCha8Rng>) -> Result<Tensor> {
    match rng {
        Some(rng) if p > 0.0 => {
            let m = dropout_mask(x.dims(), p, rng, x.device(), x.dtype())?;
            Ok((x * m)?)
        }
        _ => Ok(x.clone()),
    }
}

/// Variational ("locked") dropout on `(batch, time, channels)`: one mask per row and channel,
/// shared by every time step.
pub fn locked_dropout(x: &Tensor, p: f64, rng: Option<&mut ChaCha8Rng>) -> Result<Tensor> {
    match rng {
        Some(rng) if p > 0.0 => {
            let (b, _, c) = x.dims3()?;
            let m = dropout_mask(&[b, 1, c], p, rng, x.device(), x.dtype())?;
            Ok(x.broadcast_mul(&m)?)
        }
        _ => Ok(x.clone()),
    }
}

/// Look up rows of `w` (`vocab × dim`) for `ids` of any shape; returns `ids.shape × dim`.
pub fn embedding(ids: &Tensor, w: &Tensor) -> Result<Tensor> {
    let mut dims = ids.dims().to_vec();
    dims.push(w.dim(1)?);
    let flat = ids.flatten_all()?;
    Ok(w.index_select(&flat, 0)?.reshape(dims)?)
}

/// Weights of one LSTM layer in PyTorch's layout (gates `i, f, g, o`).
#[derive(Debug, Clone)]
pub struct LstmWeights {
    /// `4h × in`.
    pub w_ih: Tensor,
    /// `4h × h`.
    pub w_hh: Tensor,
    /// `4h`.
    pub b_ih: Tensor,
    /// `4h`.
    pub b_hh: Tensor,
}

/// One LSTM layer over `x: (batch, time, in)` from state `(h0, c0)` (each `batch × h`).
/// The input projection of every time step is one matrix product; only the recurrent part
/// loops. `w_hh` may already carry a DropConnect mask. Returns `(outputs (batch, time, h), h_T, c_T)`.
///
/// On the CPU (f32/f64) the recurrence is the fused op of [`lstm_fused`](super::lstm_fused)
/// with a hand-written backward pass; on CUDA the same op runs its CUDA kernels, in f32 for
/// f32, bf16 and f16 inputs (the recurrence accumulates in f32, as cuDNN's does; the outputs
/// come back in the input's dtype). Elsewhere (f64 on CUDA, other devices, half types on the
/// CPU) it is composed of candle primitives ([`lstm_layer_composed`]). They give the same
/// values and gradients (tested on the CPU; `examples/gpu_check.rs` compares them on a GPU).
pub fn lstm_layer(
    x: &Tensor,
    w: &LstmWeights,
    h0: &Tensor,
    c0: &Tensor,
) -> Result<(Tensor, Tensor, Tensor)> {
    let dt = x.dtype();
    if x.device().is_cuda() && cfg!(feature = "cuda") && dt != DType::F64 {
        let f = DType::F32;
        let (out, h, c) = fused_lstm(&x.to_dtype(f)?, w, &h0.to_dtype(f)?, &c0.to_dtype(f)?)?;
        return Ok((out.to_dtype(dt)?, h.to_dtype(dt)?, c.to_dtype(dt)?));
    }
    if !x.device().is_cpu() || !(dt == DType::F32 || dt == DType::F64) {
        return lstm_layer_composed(x, w, h0, c0);
    }
    fused_lstm(x, w, h0, c0)
}

/// The fused op in `x`'s dtype (f32 or f64 on the CPU, f32 on CUDA).
fn fused_lstm(
    x: &Tensor,
    w: &LstmWeights,
    h0: &Tensor,
    c0: &Tensor,
) -> Result<(Tensor, Tensor, Tensor)> {
    let dt = x.dtype();
    // Batch-major (b, t, ·): the layout the fused op splits over threads by rows. The input
    // projection and the gate bias go into the fused op (the projection in the fused linear
    // op's row blocks, the bias added as each step is read).
    let bias = (&w.b_ih + &w.b_hh)?.to_dtype(dt)?;
    Ok(super::lstm_fused::lstm_seq(
        x,
        &w.w_ih.to_dtype(dt)?,
        &w.w_hh.to_dtype(dt)?,
        &bias,
        &h0.to_dtype(dt)?,
        &c0.to_dtype(dt)?,
    )?)
}

/// The input projection of every time step in one matmul, time-major: `(t, b, 4h)`.
fn input_projection(x: &Tensor, w: &LstmWeights) -> Result<Tensor> {
    let xt = x.transpose(0, 1)?.contiguous()?; // (t, b, in)
    let bias = (&w.b_ih + &w.b_hh)?;
    linear(&xt, &w.w_ih, Some(&bias))
}

/// [`lstm_layer`] written with candle primitives only (any device and dtype).
pub fn lstm_layer_composed(
    x: &Tensor,
    w: &LstmWeights,
    h0: &Tensor,
    c0: &Tensor,
) -> Result<(Tensor, Tensor, Tensor)> {
    lstm_layer_lifted(x, w, h0, c0, None, "lstm")
}

/// [`lstm_layer_composed`] with DeepLIFT's rules for the gates and their products when `lift`
/// is given (a DeepLIFT pass; `site` names the layer in its residual report).
pub fn lstm_layer_lifted(
    x: &Tensor,
    w: &LstmWeights,
    h0: &Tensor,
    c0: &Tensor,
    lift: Option<&super::lift::Lift>,
    site: &str,
) -> Result<(Tensor, Tensor, Tensor)> {
    use super::lift::{act, mul, Act};
    let (b, t, _) = x.dims3()?;
    let hd = w.w_hh.dim(1)?;
    let dt = x.dtype();
    // Time-major so that each step's slice is contiguous.
    let xp = input_projection(x, w)?; // (t, b, 4h)
    let w_hh_t = w.w_hh.to_dtype(dt)?.t()?;
    let mut h = h0.to_dtype(dt)?;
    let mut c = c0.to_dtype(dt)?;
    let mut outs = Vec::with_capacity(t);
    let (s_gate, s_cell, s_out) = (
        format!("{site}.sigmoid"),
        format!("{site}.tanh_g"),
        format!("{site}.tanh_c"),
    );
    for step in 0..t {
        let gates = (xp.get(step)? + h.matmul(&w_hh_t)?)?; // (b, 4h)
        let i_f = act(lift, &s_gate, &gates.narrow(1, 0, 2 * hd)?, Act::Sigmoid)?;
        let i = i_f.narrow(1, 0, hd)?;
        let f = i_f.narrow(1, hd, hd)?;
        let g = act(lift, &s_cell, &gates.narrow(1, 2 * hd, hd)?, Act::Tanh)?;
        let o = act(lift, &s_gate, &gates.narrow(1, 3 * hd, hd)?, Act::Sigmoid)?;
        c = (mul(lift, &f, &c)? + mul(lift, &i, &g)?)?;
        h = mul(lift, &o, &act(lift, &s_out, &c, Act::Tanh)?)?;
        outs.push(h.clone());
    }
    let out = Tensor::stack(&outs, 1)?; // (b, t, h)
    debug_assert_eq!(out.dims(), &[b, t, hd]);
    Ok((out, h, c))
}

/// Layer normalisation over the last dimension: the fused kernel
/// ([`fused::layer_norm`](super::fused::layer_norm)) on the CPU in f32/f64, otherwise
/// [`layer_norm_composed`].
pub fn layer_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f64) -> Result<Tensor> {
    if super::fused::applies(x) && gamma.dtype() == x.dtype() && beta.dtype() == x.dtype() {
        return super::fused::layer_norm(x, gamma, beta, eps);
    }
    layer_norm_composed(x, gamma, beta, eps)
}

/// Layer normalisation over the last dimension, written with differentiable primitives and
/// computed in f32 whatever the input dtype (any device).
pub fn layer_norm_composed(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f64) -> Result<Tensor> {
    let dt = x.dtype();
    let xf = upcast(x)?;
    let mean = xf.mean_keepdim(D::Minus1)?;
    let xc = xf.broadcast_sub(&mean)?;
    let var = xc.sqr()?.mean_keepdim(D::Minus1)?;
    let y = xc.broadcast_div(&(var + eps)?.sqrt()?)?;
    let y = y
        .broadcast_mul(&gamma.to_dtype(y.dtype())?)?
        .broadcast_add(&beta.to_dtype(y.dtype())?)?;
    Ok(y.to_dtype(dt)?)
}

/// Softmax over the last dimension (max-subtracted; differentiable).
pub fn softmax(x: &Tensor) -> Result<Tensor> {
    Ok(candle_nn::ops::softmax(x, D::Minus1)?)
}

/// Log-softmax over the last dimension (differentiable).
pub fn log_softmax(x: &Tensor) -> Result<Tensor> {
    let max = x.max_keepdim(D::Minus1)?.detach();
    let xs = x.broadcast_sub(&max)?;
    let lse = xs.exp()?.sum_keepdim(D::Minus1)?.log()?;
    Ok(xs.broadcast_sub(&lse)?)
}

/// RoPE tables `(cos, sin)`, each `positions × dim/2`, for positions `offset..offset+len`.
/// `scale` divides positions (position interpolation); 1.0 is plain RoPE.
pub fn rope_tables(
    len: usize,
    offset: usize,
    dim: usize,
    theta: f64,
    scale: f64,
    device: &Device,
) -> Result<(Tensor, Tensor)> {
    let half = dim / 2;
    let mut cos = Vec::with_capacity(len * half);
    let mut sin = Vec::with_capacity(len * half);
    for p in offset..offset + len {
        for i in 0..half {
            let inv = theta.powf(-(2.0 * i as f64) / dim as f64);
            let a = p as f64 / scale * inv;
            cos.push(a.cos() as f32);
            sin.push(a.sin() as f32);
        }
    }
    Ok((
        Tensor::from_vec(cos, (len, half), device)?,
        Tensor::from_vec(sin, (len, half), device)?,
    ))
}

/// Rotary position embedding (rotate-half layout) on `x: (batch, heads, time, dim)` with
/// tables from [`rope_tables`]; differentiable, unlike candle's fused `rope` kernel.
pub fn rope(x: &Tensor, cos: &Tensor, sin: &Tensor) -> Result<Tensor> {
    let d = x.dim(D::Minus1)?;
    let half = d / 2;
    let cos = cos.to_dtype(x.dtype())?;
    let sin = sin.to_dtype(x.dtype())?;
    let x1 = x.narrow(D::Minus1, 0, half)?;
    let x2 = x.narrow(D::Minus1, half, half)?;
    let a = (x1.broadcast_mul(&cos)? - x2.broadcast_mul(&sin)?)?;
    let b = (x1.broadcast_mul(&sin)? + x2.broadcast_mul(&cos)?)?;
    Ok(Tensor::cat(&[a, b], D::Minus1)?)
}

/// Weights of one attention layer.
#[derive(Debug, Clone)]
pub struct AttentionWeights {
    /// `d × d` query projection.
    pub wq: Tensor,
    /// `d × d` key projection.
    pub wk: Tensor,
    /// `d × d` value projection.
    pub wv: Tensor,
    /// `d × d` output projection.
    pub wo: Tensor,
    /// `d` output bias.
    pub bo: Tensor,
}

/// How [`attention`] attends.
#[derive(Debug, Clone, Default)]
pub struct AttentionOptions<'a> {
    /// Number of heads (the width must be divisible by it).
    pub heads: usize,
    /// Hide the future (LM heads).
    pub causal: bool,
    /// `batch × time`, 1 = real token, 0 = padding (hidden from every query).
    pub key_mask: Option<&'a Tensor>,
    /// Dropout on the attention probabilities (plain path only).
    pub dropout: f64,
    /// Inputs longer than this use [`blocked_attention`](super::flash::blocked_attention) in
    /// blocks of this size (memory `O(L)`); 0 = always plain attention.
    pub block: usize,
    /// A DeepLIFT pass and this layer's site name: plain attention with DeepLIFT's rules
    /// for `QKᵀ`, the softmax and `PV` (see [`lift`](super::lift)).
    pub lift: Option<(&'a super::lift::Lift, String)>,
}

/// Multi-head self-attention with RoPE on `x: (batch, time, d)`: tables `cos`, `sin` from
/// [`rope_tables`] (or a scaled [`rope`](super::rope)); `rng` draws dropout masks in training.
///
/// ```
/// use candle_core::{Device, Tensor};
/// use genolm::models::layers::{attention, rope_tables, AttentionOptions, AttentionWeights};
/// let dev = Device::Cpu;
/// let w = |s: &[usize]| Tensor::randn(0f32, 0.3, s, &dev).unwrap();
/// let aw = AttentionWeights { wq: w(&[8, 8]), wk: w(&[8, 8]), wv: w(&[8, 8]), wo: w(&[8, 8]), bo: w(&[8]) };
/// let x = w(&[1, 40, 8]);
/// let (cos, sin) = rope_tables(40, 0, 4, 10_000.0, 1.0, &dev).unwrap();
/// let opts = AttentionOptions { heads: 2, causal: true, ..Default::default() };
/// let plain = attention(&x, &aw, &cos, &sin, &opts, None).unwrap();
/// let blocked = attention(&x, &aw, &cos, &sin, &AttentionOptions { block: 16, ..opts }, None).unwrap();
/// let d = (plain - blocked).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
/// assert!(d < 1e-5);
/// ```
pub fn attention(
    x: &Tensor,
    w: &AttentionWeights,
    cos: &Tensor,
    sin: &Tensor,
    opts: &AttentionOptions<'_>,
    rng: Option<&mut ChaCha8Rng>,
) -> Result<Tensor> {
    let (b, t, d) = x.dims3()?;
    let heads = opts.heads.max(1);
    let hd = d / heads;
    let neg = -1e9f32;
    let fused = opts.lift.is_none()
        && super::fused::applies(x)
        && !cos.track_op()
        && !sin.track_op()
        && (opts.block == 0 || t <= opts.block)
        && d % heads == 0
        && hd.is_multiple_of(2);
    if fused {
        let q = linear_fused(x, &w.wq, None)?;
        let k = linear_fused(x, &w.wk, None)?;
        let v = linear_fused(x, &w.wv, None)?;
        let bias = match opts.key_mask {
            Some(km) => Some(((km.to_dtype(x.dtype())? - 1.0)? * (-(neg as f64)))?),
            None => None,
        };
        let mask = match rng {
            Some(rng) if opts.dropout > 0.0 => Some(dropout_mask(
                &[b, heads, t, t],
                opts.dropout,
                rng,
                x.device(),
                x.dtype(),
            )?),
            _ => None,
        };
        let y = super::fused::self_attention(
            &q,
            &k,
            &v,
            heads,
            cos,
            sin,
            opts.causal,
            bias.as_ref(),
            mask.as_ref(),
        )?;
        return linear_fused(&y, &w.wo, Some(&w.bo));
    }
    let split = |y: Tensor| -> Result<Tensor> {
        Ok(y.reshape((b, t, heads, hd))?
            .transpose(1, 2)?
            .contiguous()?)
    };
    let q = rope(&split(linear(x, &w.wq, None)?)?, cos, sin)?;
    let k = rope(&split(linear(x, &w.wk, None)?)?, cos, sin)?;
    let v = split(linear(x, &w.wv, None)?)?;
    let bias = match opts.key_mask {
        Some(km) => Some(
            ((km.to_dtype(DType::F32)? - 1.0)? * (-(neg as f64)))?
                .to_dtype(q.dtype())?
                .reshape((b, 1, 1, t))?,
        ),
        None => None,
    };
    let lifted = opts.lift.as_ref();
    let y = if opts.block > 0 && t > opts.block && lifted.is_none() {
        super::flash::blocked_attention(&q, &k, &v, opts.causal, bias.as_ref(), opts.block)?
    } else {
        let kt = k.t()?.contiguous()?;
        let qk = match lifted {
            Some((l, _)) => l.matmul(&q, &kt)?,
            None => q.matmul(&kt)?,
        };
        let mut scores = (qk / (hd as f64).sqrt())?; // (b, h, t, t)
        if opts.causal {
            let m: Vec<f32> = (0..t * t)
                .map(|i| if i % t > i / t { neg } else { 0.0 })
                .collect();
            let m = Tensor::from_vec(m, (t, t), x.device())?.to_dtype(scores.dtype())?;
            scores = scores.broadcast_add(&m)?;
        }
        if let Some(bias) = &bias {
            scores = scores.broadcast_add(bias)?;
        }
        match lifted {
            Some((l, site)) => l.matmul(&l.softmax(&format!("{site}.softmax"), &scores)?, &v)?,
            None => {
                let probs = softmax(&scores)?;
                let probs = dropout(&probs, opts.dropout, rng)?;
                probs.matmul(&v)?
            }
        }
    };
    let y = y.transpose(1, 2)?.reshape((b, t, d))?;
    linear(&y, &w.wo, Some(&w.bo))
}

/// 1-D convolution over `x: (batch, channels, time)` with `w: (out, in, kernel)`, keeping the
/// length: `causal` pads only on the left (no output sees a later input), otherwise both sides.
pub fn conv1d_same(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    dilation: usize,
    causal: bool,
) -> Result<Tensor> {
    let k = w.dim(2)?;
    let span = (k - 1) * dilation;
    let (left, right) = if causal {
        (span, 0)
    } else {
        (span / 2, span - span / 2)
    };
    let (n, _, t) = x.dims3()?;
    let (o, c, _) = w.dims3()?;
    // im2col with K shifted views and one matrix product over every position of the batch,
    // (o, k·c) × (k·c, b·t); differentiable through narrow/cat/matmul (candle 0.11's conv1d
    // input gradient is wrong for some shapes). Channels first, so that the columns of all
    // sequences form one wide product (one product per sequence trained a CNN at half the
    // speed); the transposed input is copied once so the shifted views are gathered in runs.
    let xp = x
        .transpose(0, 1)?
        .contiguous()?
        .pad_with_zeros(2, left, right)?; // (c, b, t + span)
    let cols: Vec<Tensor> = (0..k)
        .map(|j| xp.narrow(2, j * dilation, t))
        .collect::<candle_core::Result<_>>()?;
    let cols = Tensor::cat(&cols, 0)?.reshape((k * c, n * t))?; // k-major rows
    let w2 = w
        .to_dtype(x.dtype())?
        .transpose(1, 2)?
        .contiguous()?
        .reshape((o, k * c))?;
    let y = w2.matmul(&cols)?.reshape((o, n, t))?.transpose(0, 1)?; // (b, o, t)
    Ok(match b {
        Some(b) => y.broadcast_add(&b.to_dtype(y.dtype())?.reshape((1, (), 1))?)?,
        None => y.contiguous()?,
    })
}

/// Batch normalisation over `x: (batch, features)`. In training it normalises by the batch
/// statistics and updates the running ones (momentum 0.1, unbiased variance as PyTorch);
/// in evaluation it uses the running statistics. Computed in f32.
pub fn batch_norm(
    x: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    running_mean: &candle_core::Var,
    running_var: &candle_core::Var,
    train: bool,
) -> Result<Tensor> {
    let eps = 1e-5;
    let dt = x.dtype();
    let x = x.to_dtype(running_mean.dtype())?;
    let (mean, var) = if train && x.dim(0)? > 1 {
        let n = x.dim(0)? as f64;
        let mean = x.mean_keepdim(0)?;
        let var = x.broadcast_sub(&mean)?.sqr()?.mean_keepdim(0)?;
        let m = 0.1;
        let rm = ((running_mean.as_tensor() * (1.0 - m))? + (mean.squeeze(0)?.detach() * m)?)?;
        let unbiased = (var.squeeze(0)?.detach() * (n / (n - 1.0)))?;
        let rv = ((running_var.as_tensor() * (1.0 - m))? + (unbiased * m)?)?;
        running_mean.set(&rm)?;
        running_var.set(&rv)?;
        (mean, var)
    } else {
        (
            running_mean.as_tensor().unsqueeze(0)?,
            running_var.as_tensor().unsqueeze(0)?,
        )
    };
    let y = x
        .broadcast_sub(&mean)?
        .broadcast_div(&(var + eps)?.sqrt()?)?
        .broadcast_mul(&weight.to_dtype(x.dtype())?.unsqueeze(0)?)?
        .broadcast_add(&bias.to_dtype(x.dtype())?.unsqueeze(0)?)?;
    Ok(y.to_dtype(dt)?)
}

/// `x` in f32 when it is a half type (f16/bf16); unchanged otherwise (f32, f64).
pub fn upcast(x: &Tensor) -> Result<Tensor> {
    Ok(match x.dtype() {
        DType::F16 | DType::BF16 => x.to_dtype(DType::F32)?,
        _ => x.clone(),
    })
}

/// Mean cross-entropy of `logits: (n, classes)` against `targets: (n,)` (u32), in f32.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let lp = log_softmax(&upcast(logits)?)?;
    let picked = lp.gather(&targets.to_dtype(DType::U32)?.unsqueeze(1)?, 1)?;
    Ok(picked.mean_all()?.neg()?)
}

/// Weighted mean cross-entropy of `logits: (n, classes)` against `targets: (n,)`:
/// `Σ w[yᵢ] (−log p(yᵢ)) / Σ w[yᵢ]` with `weights: (classes,)` (PyTorch's
/// `cross_entropy(weight=…)`), in f32 (f64 logits stay f64); all weights 1 is
/// [`cross_entropy`].
///
/// ```
/// use candle_core::{Device, Tensor};
/// use genolm::models::layers::{cross_entropy, weighted_cross_entropy};
/// let dev = Device::Cpu;
/// let logits = Tensor::new(&[[2f32, 0.0], [0.0, 1.0], [1.0, 0.0]], &dev)?;
/// let y = Tensor::new(&[0u32, 1, 1], &dev)?;
/// let ones = Tensor::new(&[1f32, 1.0], &dev)?;
/// let a = cross_entropy(&logits, &y)?.to_scalar::<f32>()?;
/// let b = weighted_cross_entropy(&logits, &y, &ones)?.to_scalar::<f32>()?;
/// assert!((a - b).abs() < 1e-6);
/// // class 1 alone: the mean over its two rows
/// let only1 = Tensor::new(&[0f32, 1.0], &dev)?;
/// let c = weighted_cross_entropy(&logits, &y, &only1)?.to_scalar::<f32>()?;
/// let l1 = (1.0 + (-1f32).exp()).ln();
/// let l2 = (1.0 + 1f32.exp()).ln();
/// assert!((c - (l1 + l2) / 2.0).abs() < 1e-5);
/// # Ok::<(), genolm::Error>(())
/// ```
pub fn weighted_cross_entropy(
    logits: &Tensor,
    targets: &Tensor,
    weights: &Tensor,
) -> Result<Tensor> {
    let lp = log_softmax(&upcast(logits)?)?;
    let t = targets.to_dtype(DType::U32)?;
    let picked = lp.gather(&t.unsqueeze(1)?, 1)?.squeeze(1)?;
    let w = weights
        .to_dtype(lp.dtype())?
        .to_device(logits.device())?
        .index_select(&t, 0)?;
    let total = w.sum_all()?;
    Ok(((picked * &w)?.sum_all()? / total)?.neg()?)
}

/// How a classifier's cross-entropy treats classes of unequal size
/// ([`ClassBalance::cross_entropy`]; `genolm classify --balanced`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassBalance {
    /// Each item's cross-entropy weighted by its class's weight
    /// ([`weighted_cross_entropy`]).
    Weights(Vec<f32>),
    /// The training classes' log priors added to the logits inside the loss, so that the
    /// logits themselves learn the posterior under equal priors (logit adjustment, Menon et
    /// al. 2021, "Long-tail learning via logit adjustment"). Unlike weights, which a network
    /// that fits its training items exactly soon ignores (every item's loss near zero,
    /// whatever its weight), it moves the decision boundary by a margin that stays.
    LogitAdjustment(Vec<f32>),
}

impl ClassBalance {
    /// The logit adjustment of classes with `counts` training items each: their log shares
    /// (a class without items counts as one).
    ///
    /// ```
    /// use genolm::models::layers::ClassBalance;
    /// let ClassBalance::LogitAdjustment(lp) = ClassBalance::logit_adjustment(&[3, 1]) else {
    ///     unreachable!()
    /// };
    /// assert!((lp[0] - 0.75f32.ln()).abs() < 1e-6 && (lp[1] - 0.25f32.ln()).abs() < 1e-6);
    /// ```
    pub fn logit_adjustment(counts: &[usize]) -> Self {
        let c: Vec<f64> = counts.iter().map(|&n| n.max(1) as f64).collect();
        let total: f64 = c.iter().sum();
        ClassBalance::LogitAdjustment(c.iter().map(|n| (n / total).ln() as f32).collect())
    }

    /// Mean cross-entropy of `logits: (n, classes)` against `targets: (n,)` under this
    /// balance: weighted, or of the logits plus the log priors.
    pub fn cross_entropy(&self, logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
        match self {
            ClassBalance::Weights(w) => {
                let w = Tensor::from_slice(w, w.len(), logits.device())?;
                weighted_cross_entropy(logits, targets, &w)
            }
            ClassBalance::LogitAdjustment(lp) => {
                let lp = Tensor::from_slice(lp, lp.len(), logits.device())?;
                let z = upcast(logits)?;
                cross_entropy(&z.broadcast_add(&lp.to_dtype(z.dtype())?)?, targets)
            }
        }
    }

    /// What an item of class `c` counts for in a mean over items: its weight, or 1.
    pub fn item_weight(&self, c: u32) -> f64 {
        match self {
            ClassBalance::Weights(w) => f64::from(w[c as usize]),
            ClassBalance::LogitAdjustment(_) => 1.0,
        }
    }
}

/// Mean cross-entropy over the positions whose label is not
/// [`IGNORE_INDEX`](crate::data::batch::IGNORE_INDEX) (`labels: (n,)`, i64). Returns the loss
/// and the number of counted positions.
pub fn masked_cross_entropy(logits: &Tensor, labels: &Tensor) -> Result<(Tensor, usize)> {
    let lab: Vec<i64> = labels.to_dtype(DType::I64)?.to_vec1()?;
    let keep: Vec<f32> = lab
        .iter()
        .map(|&l| if l >= 0 { 1.0 } else { 0.0 })
        .collect();
    let n = keep.iter().filter(|&&k| k > 0.0).count();
    let idx: Vec<u32> = lab.iter().map(|&l| l.max(0) as u32).collect();
    let dev = logits.device();
    let idx = Tensor::from_vec(idx, lab.len(), dev)?;
    let lp = log_softmax(&upcast(logits)?)?;
    let keep = Tensor::from_vec(keep, lab.len(), dev)?.to_dtype(lp.dtype())?;
    let picked = lp.gather(&idx.unsqueeze(1)?, 1)?.squeeze(1)?;
    let loss = ((picked * keep)?.sum_all()? / (n.max(1) as f64))?.neg()?;
    Ok((loss, n))
}

/// GELU (erf form); candle's `gelu_erf` has a backward pass.
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    Ok(x.gelu_erf()?)
}

/// `GELU(x + bias)` with `bias` over the last dimension: one fused pass each way on the CPU
/// in f32/f64 ([`fused::bias_gelu`](super::fused::bias_gelu)), composed otherwise.
pub fn bias_gelu(x: &Tensor, bias: &Tensor) -> Result<Tensor> {
    if super::fused::applies(x) && bias.dtype() == x.dtype() {
        return super::fused::bias_gelu(x, bias);
    }
    gelu(&x.broadcast_add(&bias.to_dtype(x.dtype())?)?)
}

/// ReLU.
pub fn relu(x: &Tensor) -> Result<Tensor> {
    Ok(candle_nn::Activation::Relu.forward(x)?)
}

#[cfg(test)]
mod tests {

    /// Masks drawn in parallel chunks equal the sequential draws, and leave the generator where
    /// the sequential draws do (from an odd word position, across ChaCha's block boundaries).
    #[test]
    fn parallel_masks_equal_sequential_draws() {
        use rand::{Rng, SeedableRng};
        let mut a = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let _ = a.random::<u32>();
        let mut b = a.clone();
        let n = 4 * (1 << 16) + 12_345;
        let got = super::draw_mask(n, 0.3, 2.0, &mut a);
        let want: Vec<f32> = (0..n)
            .map(|_| if b.random::<f64>() < 0.3 { 0.0 } else { 2.0 })
            .collect();
        assert_eq!(got, want);
        assert_eq!(a.random::<u64>(), b.random::<u64>());
    }

    use super::*;
    use candle_core::Device;

    /// The batched im2col convolution against candle's own conv1d (its forward is right; only
    /// its input gradient is not), every batch row, both paddings, dilated, and with an even
    /// kernel (asymmetric "same" padding).
    #[test]
    fn conv1d_same_matches_candle() {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (3, 5, 11), &dev).unwrap();
        let b = Tensor::randn(0f32, 1.0, 4, &dev).unwrap();
        for (k, dilation, causal) in [(3, 1, false), (3, 2, false), (3, 2, true), (4, 1, false)] {
            let w = Tensor::randn(0f32, 1.0, (4, 5, k), &dev).unwrap();
            let span = (k - 1) * dilation;
            let (left, right) = if causal {
                (span, 0)
            } else {
                (span / 2, span - span / 2)
            };
            let want = x
                .pad_with_zeros(2, left, right)
                .unwrap()
                .conv1d(&w, 0, 1, dilation, 1)
                .unwrap()
                .broadcast_add(&b.reshape((1, 4, 1)).unwrap())
                .unwrap();
            let got = conv1d_same(&x, &w, Some(&b), dilation, causal).unwrap();
            assert_eq!(got.dims(), [3, 4, 11]);
            let d = (got - want).unwrap().abs().unwrap().max_all().unwrap();
            assert!(
                d.to_scalar::<f32>().unwrap() < 1e-4,
                "k {k} dilation {dilation} causal {causal}"
            );
            let no_bias = conv1d_same(&x, &w, None, dilation, causal).unwrap();
            assert!(no_bias.is_contiguous());
        }
    }
}
