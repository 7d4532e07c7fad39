//! Allocator tuning for training on the CPU.
//!
//! Every candle op allocates its output. With glibc's defaults, buffers above a dynamic
//! threshold are `mmap`ed and returned to the kernel on free, so a training step maps and
//! unmaps the same few megabytes dozens of times; on a multi-threaded process each unmap costs
//! page faults, zeroing and TLB shoot-downs. Measured on the small AWD-LSTM (2-core VM), this
//! was ~25 % of the step. [`tune_allocator`] raises the mmap threshold to 32 MiB (glibc's
//! maximum) and the trim threshold to 1 GiB, so freed buffers are reused in-process: peak
//! memory is unchanged, but memory freed after a peak is returned to the OS only when more
//! than 1 GiB lies free at the top of the heap.
//!
//! [`AdamW::new`](super::AdamW::new) calls it, so every training path gets it. Set
//! `GENOLM_MALLOC=system` to keep glibc's defaults; it does nothing on other platforms or
//! when `GLIBC_TUNABLES` already sets malloc options.

use std::sync::OnceLock;

/// Tune glibc's allocator for tensor workloads (once per process; see the module docs).
/// Returns whether the settings were applied (now or by an earlier call).
///
/// ```
/// let applied = genolm::train::alloc::tune_allocator();
/// assert_eq!(applied, genolm::train::alloc::tune_allocator());
/// ```
pub fn tune_allocator() -> bool {
    static APPLIED: OnceLock<bool> = OnceLock::new();
    *APPLIED.get_or_init(|| {
        let opted_out = std::env::var("GENOLM_MALLOC").is_ok_and(|v| v == "system")
            || std::env::var("GLIBC_TUNABLES").is_ok_and(|v| v.contains("malloc"));
        !opted_out && apply()
    })
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn apply() -> bool {
    // SAFETY: mallopt only changes allocator parameters; it is thread-safe in glibc.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30) == 1
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn apply() -> bool {
    false
}
