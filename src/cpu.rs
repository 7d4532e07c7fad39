//! Bottom layer: reading CPU tensor storage in place. The fused LSTM op
//! ([`models::lstm_fused`](crate::models::lstm_fused)) and the in-place AdamW
//! ([`train::optim`](crate::train::optim)) read their operands through [`contiguous`] instead
//! of copying them out of candle.

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
