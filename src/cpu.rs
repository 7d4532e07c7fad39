//! Bottom layer: reading CPU tensor storage in place, and the pieces the CPU kernels share.
//! The fused ops ([`models::lstm_fused`](crate::models::lstm_fused),
//! [`models::fused`](crate::models::fused)) and the in-place AdamW
//! ([`train::optim`](crate::train::optim)) read their operands through [`contiguous`] instead
//! of copying them out of candle; the kernels split their work over candle's own CPU pool
//! (`run_chunks`), multiply with a strided single-threaded GEMM (`matmul`) and use a
//! vectorisable exponential (`exp_f32`). [`flush_subnormals`] sets the compute threads to
//! flush subnormal floats to zero (models do it when built on the CPU). Also the process's
//! memory ([`rss_mib`], [`peak_rss_mib`]), which training logs per step and the benchmark
//! reports.

use std::sync::Mutex;

use candle_core::{Layout, WithDType};

/// The values of a contiguous layout within its storage slice (an error otherwise).
///
/// ```
/// use candle_core::{Device, Storage, Tensor};
/// let t = Tensor::arange(0f32, 6., &Device::Cpu)?.reshape((2, 3))?;
/// let row = t.narrow(0, 1, 1)?; // a contiguous view at offset 3
/// let (st, l) = row.storage_and_layout();
/// let Storage::Cpu(c) = &*st else { unreachable!() };
/// assert_eq!(genolm::cpu::contiguous(c.as_slice::<f32>()?, l)?, &[3., 4., 5.]);
/// assert!(genolm::cpu::contiguous(c.as_slice::<f32>()?, t.t()?.layout()).is_err());
/// # Ok::<(), candle_core::Error>(())
/// ```
pub fn contiguous<'a, T: WithDType>(s: &'a [T], l: &Layout) -> candle_core::Result<&'a [T]> {
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&s[a..b]),
        None => candle_core::bail!("a CPU custom op needs contiguous operands"),
    }
}

/// `e^x` for f32 without branches or library calls, so loops over it vectorise: Cody–Waite
/// range reduction to `|r| ≤ ln2/2`, a degree-6 Taylor polynomial (truncation error
/// `r⁷/7! ≈ 1.2e-7`), and `2^n` built from the exponent bits. Inputs are clamped to
/// `[-87, 88]`, where the result is a normal f32.
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const SHIFTER: f32 = 12_582_912.0; // 1.5 · 2^23: adding it rounds to an integer.
    let x = x.clamp(-87.0, 88.0);
    let t = x * LOG2E + SHIFTER;
    let n = t - SHIFTER;
    let ni = (t.to_bits() as i32).wrapping_sub(0x4B40_0000);
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    p * f32::from_bits(((ni + 127) << 23) as u32)
}

/// Whether the CPU has AVX2 and FMA (checked once, cached by the standard library).
#[cfg(target_arch = "x86_64")]
pub(crate) fn has_avx2() -> bool {
    std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
}

/// Whether the CPU has AVX-512F (and AVX2 and FMA).
#[cfg(target_arch = "x86_64")]
pub(crate) fn has_avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512f") && has_avx2()
}

/// The SIMD instruction sets [`simd`] compiles for (x86-64; elsewhere only `Base`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isa {
    /// AVX-512F with AVX2 and FMA: 16 f32 lanes.
    Avx512,
    /// AVX2 with FMA: 8 lanes.
    Avx2,
    /// The build's baseline (SSE2 on x86-64: 4 lanes).
    Base,
}

impl Isa {
    /// The widest instruction set this CPU has.
    pub(crate) fn best() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if has_avx512() {
                return Isa::Avx512;
            }
            if has_avx2() {
                return Isa::Avx2;
            }
        }
        Isa::Base
    }

    /// Whether this CPU has it.
    pub(crate) fn supported(self) -> bool {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => has_avx512(),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => has_avx2(),
            #[cfg(not(target_arch = "x86_64"))]
            Isa::Avx512 | Isa::Avx2 => false,
            Isa::Base => true,
        }
    }
}

/// `f()` compiled for the widest SIMD the CPU has ([`Isa::best`]), so loops over floats in
/// `f` vectorise 16 or 8 lanes wide instead of 4. Rust never contracts `a * b + c` into an FMA
/// nor reorders a float sum, so every path gives the same bits. Code is compiled for the wider
/// instruction set only where it is inlined: `f` must be an `#[inline(always)]` closure, and so
/// must the functions it calls (as [`exp_f32`]).
#[inline(always)]
pub(crate) fn simd<R>(f: impl FnOnce() -> R) -> R {
    simd_on(Isa::best(), f).expect("the best instruction set is supported")
}

/// [`simd`] on a given instruction set; `None` (and `f` not run) where the CPU lacks it.
#[inline(always)]
pub(crate) fn simd_on<R>(isa: Isa, f: impl FnOnce() -> R) -> Option<R> {
    if !isa.supported() {
        return None;
    }
    Some(match isa {
        // SAFETY: the CPU supports AVX-512F, AVX2 and FMA (checked just above).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { simd_avx512(f) },
        // SAFETY: the CPU supports AVX2 and FMA (checked just above).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => unsafe { simd_avx2(f) },
        _ => f(),
    })
}

/// [`simd`]'s AVX-512 path.
///
/// # Safety
/// The CPU must support AVX-512F, AVX2 and FMA ([`has_avx512`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn simd_avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// [`simd`]'s AVX2 path.
///
/// # Safety
/// The CPU must support AVX2 and FMA ([`has_avx2`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn simd_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// `dst (m × n, row stride dst_rs) (+)= lhs (m × k) · rhs (k × n)` with explicit strides,
/// single-threaded: each chunk of rows runs on its own thread already. `accumulate` adds to
/// `dst` instead of overwriting it; columns of `dst` beyond `n` are left untouched.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul<T: 'static + Copy + num_traits::One>(
    dst: &mut [T],
    dst_rs: usize,
    accumulate: bool,
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
    assert!(n <= dst_rs && dst.len() >= (m.max(1) - 1) * dst_rs + n);
    assert!(lhs.len() > (m.max(1) - 1) * lhs_rs as usize + (k.max(1) - 1) * lhs_cs as usize);
    assert!(rhs.len() > (k.max(1) - 1) * rhs_rs as usize + (n.max(1) - 1) * rhs_cs as usize);
    // SAFETY: the asserts above check that the slices cover every element addressed by the
    // shapes and (non-negative) strides.
    unsafe {
        gemm_raw(
            dst.as_mut_ptr(),
            dst_rs,
            accumulate,
            (lhs, lhs_cs, lhs_rs),
            (rhs, rhs_cs, rhs_rs),
            (m, n, k),
        )
    }
}

/// The single-threaded `gemm` call of [`matmul`] and [`matmul_into`].
///
/// # Safety
/// `dst` must address `m` rows of `n` values at row stride `dst_rs` (read only when
/// `accumulate`), and the operands every element their shapes and strides address.
unsafe fn gemm_raw<T: 'static + Copy + num_traits::One>(
    dst: *mut T,
    dst_rs: usize,
    accumulate: bool,
    (lhs, lhs_cs, lhs_rs): (&[T], isize, isize),
    (rhs, rhs_cs, rhs_rs): (&[T], isize, isize),
    (m, n, k): (usize, usize, usize),
) {
    if m == 1 && n > 0 && k > 2 {
        // One row is a matrix-vector product to the GEMM, which sums it in another order than
        // the same row inside a block of rows: run it as two identical rows (the second reads
        // the first's memory, row stride 0) and keep the first, so a row's values are the
        // same bits alone or in a batch. Memory-bound either way: the right operand is read once.
        let mut pair: Vec<T> = Vec::with_capacity(2 * n);
        if accumulate {
            // SAFETY: the caller's contract: `dst` holds `n` readable values when `accumulate`.
            let row = unsafe { std::slice::from_raw_parts(dst, n) };
            pair.extend_from_slice(row);
            pair.extend_from_slice(row);
        }
        // SAFETY: `pair` has room for 2 × n values, written by the GEMM (read first only when
        // `accumulate`, and then initialised above); the operands are the caller's.
        unsafe {
            gemm_raw(
                pair.as_mut_ptr(),
                n,
                accumulate,
                (lhs, lhs_cs, 0),
                (rhs, rhs_cs, rhs_rs),
                (2, n, k),
            );
            pair.set_len(2 * n);
            std::ptr::copy_nonoverlapping(pair.as_ptr(), dst, n);
        }
        return;
    }
    // SAFETY: the caller's contract.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs,
            lhs_rs,
            rhs.as_ptr(),
            rhs_cs,
            rhs_rs,
            T::one(),
            T::one(),
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// `dst (m × n) = lhs (m × k) · rhs (k × n)` into memory that need not be initialised: every
/// element of `dst` (exactly `m × n` values, rows contiguous) is written. Saves the zero-fill
/// pass of a fresh output buffer (see [`written`]); the same GEMM call as [`matmul`], so the
/// same bits.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matmul_into<T: 'static + Copy + num_traits::One + num_traits::Zero>(
    dst: &mut [std::mem::MaybeUninit<T>],
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
    assert_eq!(dst.len(), m * n);
    if k == 0 {
        dst.fill(std::mem::MaybeUninit::new(T::zero()));
        return;
    }
    assert!(lhs.len() > (m.max(1) - 1) * lhs_rs as usize + (k - 1) * lhs_cs as usize);
    assert!(rhs.len() > (k - 1) * rhs_rs as usize + (n.max(1) - 1) * rhs_cs as usize);
    // SAFETY: the asserts check that the slices cover every element addressed; with
    // `accumulate` false the GEMM writes every element of `dst` without reading it, and
    // `MaybeUninit<T>` has the layout of `T`.
    unsafe {
        gemm_raw(
            dst.as_mut_ptr() as *mut T,
            n,
            false,
            (lhs, lhs_cs, lhs_rs),
            (rhs, rhs_cs, rhs_rs),
            (m, n, k),
        )
    }
}

/// `dst = src`, element by element, into memory that may be uninitialised (the rows a
/// [`written`] fill copies in).
pub(crate) fn write_all<T: Copy>(dst: &mut [std::mem::MaybeUninit<T>], src: &[T]) {
    assert_eq!(dst.len(), src.len());
    for (d, &v) in dst.iter_mut().zip(src) {
        d.write(v);
    }
}

/// A vector of `n` values that `fill` writes, without zero-filling it first (a fresh output of
/// tens of megabytes costs a serial `memset` otherwise: glibc's `calloc` clears heap memory).
///
/// # Safety
/// `fill` must initialise every element of the slice it is given (e.g. with
/// [`matmul_into`] over all of it, or `MaybeUninit::write` on each element).
pub(crate) unsafe fn written<T: Copy>(
    n: usize,
    fill: impl FnOnce(&mut [std::mem::MaybeUninit<T>]),
) -> Vec<T> {
    let mut v: Vec<std::mem::MaybeUninit<T>> = Vec::with_capacity(n);
    // SAFETY: `MaybeUninit` needs no initialisation.
    unsafe { v.set_len(n) };
    fill(&mut v);
    let mut v = std::mem::ManuallyDrop::new(v);
    // SAFETY: every element was initialised (the caller's contract), `MaybeUninit<T>` has the
    // layout of `T`, and the allocation is handed over whole (pointer, length, capacity).
    unsafe { Vec::from_raw_parts(v.as_mut_ptr() as *mut T, v.len(), v.capacity()) }
}

/// Threads the chunks run on: candle's CPU barrier pool (its workers plus the calling
/// thread), the pool that runs candle's own elementwise ops, so a training step keeps the
/// same threads busy instead of waking a second pool.
pub(crate) fn pool_threads() -> usize {
    candle_core::utils::barrier_pool().n_workers() + 1
}

/// `f(i, item)` for every item, on candle's barrier pool (thread `k` takes items `k`, `k + T`,
/// …); results in item order.
pub(crate) fn run_chunks<W: Send, R: Send>(
    items: Vec<W>,
    f: impl Fn(usize, W) -> R + Sync,
) -> Vec<R> {
    run_chunks_with(items, || (), |_, i, w| f(i, w))
}

/// [`run_chunks`] with a scratch value per thread: `f(&mut scratch, i, item)`, the scratch made
/// by `make` on a thread's first item and reused for its later ones (buffers that every item
/// overwrites, allocated once per thread instead of once per item).
pub(crate) fn run_chunks_with<W: Send, R: Send, S>(
    items: Vec<W>,
    make: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, usize, W) -> R + Sync,
) -> Vec<R> {
    let n = items.len();
    if n <= 1 {
        return items
            .into_iter()
            .enumerate()
            .map(|(i, w)| f(&mut make(), i, w))
            .collect();
    }
    let pool = candle_core::utils::barrier_pool();
    let t = pool.n_workers() + 1;
    let slots: Vec<Mutex<(Option<W>, Option<R>)>> = items
        .into_iter()
        .map(|w| Mutex::new((Some(w), None)))
        .collect();
    pool.execute(|tid| {
        let mut scratch: Option<S> = None;
        let mut k = tid;
        while k < n {
            let w = slots[k].lock().expect("chunk slot").0.take();
            if let Some(w) = w {
                let s = scratch.get_or_insert_with(&make);
                let r = f(s, k, w);
                slots[k].lock().expect("chunk slot").1 = Some(r);
            }
            k += t;
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .expect("chunk slot")
                .1
                .expect("every chunk ran")
        })
        .collect()
}

/// The CPU values of a contiguous tensor's storage, without copying.
pub(crate) fn cpu_slice<'a, T: WithDType>(
    st: &'a candle_core::Storage,
    l: &Layout,
) -> candle_core::Result<&'a [T]> {
    match st {
        candle_core::Storage::Cpu(c) => contiguous(c.as_slice::<T>()?, l),
        _ => candle_core::bail!("a CPU custom op got a tensor that is not on the CPU"),
    }
}

/// `f(values)` on the values of `x` (made contiguous; on the CPU, in dtype `T`), read in
/// place rather than copied out of candle.
pub(crate) fn with_values<T: WithDType, R>(
    x: &candle_core::Tensor,
    f: impl FnOnce(&[T]) -> R,
) -> candle_core::Result<R> {
    let x = x.contiguous()?;
    let (st, l) = x.storage_and_layout();
    Ok(f(cpu_slice::<T>(&st, l)?))
}

/// Set flush-to-zero and denormals-are-zero (MXCSR bits 15 and 6) on the calling thread.
#[cfg(target_arch = "x86_64")]
#[allow(deprecated)]
fn ftz_daz_this_thread() {
    use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
    // SAFETY: reading and writing this thread's SSE control register; FTZ and DAZ change only
    // how subnormal floats are produced and read.
    unsafe { _mm_setcsr(_mm_getcsr() | 0x8040) }
}

/// [`flush_subnormals`] once per process, unless the environment sets
/// `GENOLM_KEEP_SUBNORMALS`: models call it when they are built or loaded on the CPU.
pub fn flush_subnormals_once() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var_os("GENOLM_KEEP_SUBNORMALS").is_none() {
            flush_subnormals();
        }
    });
}

/// Make every CPU compute thread (this one, candle's barrier pool, rayon's pool) flush
/// subnormal floats to zero and read subnormal inputs as zero (x86-64 FTZ + DAZ).
///
/// Subnormal numbers (below ~1.2e-38 in f32) cost about a hundred cycles per operation on x86.
/// A trained network can produce them in bulk — a saturated sigmoid gate gives `e^-90` — and
/// every product with them is subnormal too: a trained dilated CNN trained 2.5× slower per
/// step than the same network freshly initialised. Flushing them changes results only where a
/// value was already below f32's normal range. Returns false where it does not apply (not
/// x86-64).
///
/// ```
/// use candle_core::{Device, Tensor};
/// if genolm::cpu::flush_subnormals() {
///     let tiny = Tensor::new(&[1e-30f32], &Device::Cpu).unwrap();
///     let p = (&tiny * 1e-10).unwrap().to_vec1::<f32>().unwrap();
///     assert_eq!(p[0], 0.0); // 1e-40 is subnormal in f32: flushed
/// }
/// ```
pub fn flush_subnormals() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        ftz_daz_this_thread();
        candle_core::utils::barrier_pool().execute(|_| ftz_daz_this_thread());
        rayon::broadcast(|_| ftz_daz_this_thread());
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

fn proc_status_mib(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Resident set size of this process now, in MiB (Linux `VmRSS`; NaN elsewhere).
///
/// ```
/// let now = genolm::cpu::rss_mib();
/// assert!(now.is_nan() || (now > 0.0 && now <= genolm::cpu::peak_rss_mib()));
/// ```
pub fn rss_mib() -> f64 {
    proc_status_mib("VmRSS:")
}

/// Peak resident set size of this process in MiB (Linux `VmHWM`; NaN elsewhere).
pub fn peak_rss_mib() -> f64 {
    proc_status_mib("VmHWM:")
}

/// The machine a result was computed on, for reports: the CPU's model name (Linux
/// `/proc/cpuinfo`; the architecture elsewhere), the widest instruction set genolm's kernels
/// use on it, and the compute threads. Results are the same bits on any thread count; across
/// hosts the matrix products may block their sums differently (the GEMM sizes its blocks
/// from the caches, recorded here), so a bit-for-bit comparison needs the same CPU model,
/// instruction set and cache sizes.
///
/// ```
/// let h = genolm::cpu::host_summary();
/// assert!(h.contains("threads"));
/// ```
pub fn host_summary() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let isa = match Isa::best() {
        Isa::Avx512 => "AVX-512",
        Isa::Avx2 => "AVX2 + FMA",
        Isa::Base => "baseline SIMD",
    };
    let caches = cache_sizes();
    let caches = if caches.is_empty() {
        String::new()
    } else {
        format!("; caches {caches}")
    };
    format!("{model} ({isa}{caches}), {} threads", pool_threads())
}

/// The first core's data and unified caches as Linux reports them (`L1d 48K, L2 2048K, L3
/// 491520K`), the sizes the GEMM blocks its sums by; empty where `/sys` does not say.
fn cache_sizes() -> String {
    let Ok(dir) = std::fs::read_dir("/sys/devices/system/cpu/cpu0/cache") else {
        return String::new();
    };
    let read = |p: &std::path::Path, f: &str| {
        std::fs::read_to_string(p.join(f))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let mut levels: Vec<(String, String)> = dir
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("index"))
        })
        .filter(|p| read(p, "type") != "Instruction")
        .map(|p| {
            let kind = if read(&p, "type") == "Data" { "d" } else { "" };
            (format!("L{}{kind}", read(&p, "level")), read(&p, "size"))
        })
        .filter(|(_, size)| !size.is_empty())
        .collect();
    levels.sort();
    levels
        .iter()
        .map(|(l, s)| format!("{l} {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Memory the system can still give without swapping, in MiB (Linux `MemAvailable` of
/// `/proc/meminfo`; NaN elsewhere).
///
/// ```
/// let a = genolm::cpu::available_mib();
/// assert!(a.is_nan() || a > 0.0);
/// ```
pub fn available_mib() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemAvailable:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Reset this process's peak resident set size to its current size (Linux: `5` written to
/// `/proc/self/clear_refs`), so that [`peak_rss_mib`] measures the peak of what follows.
/// Returns false where that is not possible.
///
/// ```
/// if genolm::cpu::reset_peak_rss() {
///     assert!(genolm::cpu::peak_rss_mib() <= genolm::cpu::rss_mib() + 1.0);
/// }
/// ```
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", b"5").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        // a fixed, irregular sequence of values in (-1, 1)
        (0..n as u32)
            .map(|i| {
                let x = (i.wrapping_mul(2_654_435_761) ^ seed.wrapping_mul(40_503)) >> 8;
                (x as f32 / (1 << 23) as f32) - 1.0
            })
            .collect()
    }

    /// A row's product is the same bits computed alone as inside a block of rows (the GEMM
    /// would otherwise take one row as a matrix-vector product, summed in another order), with
    /// and without accumulation, for row-major and transposed right operands.
    #[test]
    fn one_row_has_the_bits_it_has_in_a_block() {
        for &(m, n, k) in &[(5, 7, 3), (3, 64, 100), (6, 300, 257), (2, 1024, 256)] {
            let lhs = values(m * k, 1);
            let rhs = values(k * n, 2);
            let init = values(m * n, 3);
            for (rhs_cs, rhs_rs) in [(1, n as isize), (k as isize, 1)] {
                for accumulate in [false, true] {
                    let mut block = init.clone();
                    matmul(
                        &mut block, n, accumulate, &lhs, 1, k as isize, &rhs, rhs_cs, rhs_rs, m, n,
                        k,
                    );
                    for r in 0..m {
                        let mut one = init[r * n..(r + 1) * n].to_vec();
                        matmul(
                            &mut one,
                            n,
                            accumulate,
                            &lhs[r * k..(r + 1) * k],
                            1,
                            k as isize,
                            &rhs,
                            rhs_cs,
                            rhs_rs,
                            1,
                            n,
                            k,
                        );
                        let want: Vec<u32> = block[r * n..(r + 1) * n]
                            .iter()
                            .map(|v| v.to_bits())
                            .collect();
                        let got: Vec<u32> = one.iter().map(|v| v.to_bits()).collect();
                        assert_eq!(got, want, "row {r} of {m}×{n}×{k}, accumulate {accumulate}");
                    }
                    let mut fresh = vec![std::mem::MaybeUninit::new(0.0f32); n];
                    matmul_into(
                        &mut fresh,
                        &lhs[..k],
                        1,
                        k as isize,
                        &rhs,
                        rhs_cs,
                        rhs_rs,
                        1,
                        n,
                        k,
                    );
                    if !accumulate {
                        let got: Vec<u32> = fresh
                            .iter()
                            .map(|v| unsafe { v.assume_init() }.to_bits())
                            .collect();
                        let want: Vec<u32> = block[..n].iter().map(|v| v.to_bits()).collect();
                        assert_eq!(got, want, "matmul_into, {m}×{n}×{k}");
                    }
                }
            }
        }
    }
}
