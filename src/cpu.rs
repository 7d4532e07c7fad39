//! Bottom layer: reading CPU tensor storage in place. The fused LSTM op
//! ([`models::lstm_fused`](crate::models::lstm_fused)) and the in-place AdamW
//! ([`train::optim`](crate::train::optim)) read their operands through [`contiguous`] instead
//! of copying them out of candle. Also the process's memory ([`rss_mib`], [`peak_rss_mib`]),
//! which training logs per step and the benchmark reports.

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
