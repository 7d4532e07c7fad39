//! Which compute device a run uses, as a run file or a command line names it.
//!
//! ```
//! use genolm::models::device::DeviceChoice;
//! let d: DeviceChoice = "cpu".parse()?;
//! assert!(d.open()?.is_cpu());
//! assert!("tpu".parse::<DeviceChoice>().is_err());
//! # Ok::<(), genolm::Error>(())
//! ```

use candle_core::Device;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// `cpu`, `cuda` (alias `gpu`: CUDA device 0, an error without the `cuda` feature or a GPU), or
/// `auto` (CUDA when available, else the CPU).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// CUDA device 0 when available, otherwise the CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// CUDA device 0 (also read as `gpu`).
    Cuda,
}

impl DeviceChoice {
    /// Open the device.
    pub fn open(self) -> Result<Device> {
        match self {
            DeviceChoice::Cpu => Ok(Device::Cpu),
            DeviceChoice::Cuda => Device::new_cuda(0).map_err(|e| {
                Error::Config(format!(
                    "cannot open CUDA device 0 ({e}); build with `--features cuda` on a machine with a GPU"
                ))
            }),
            DeviceChoice::Auto => Ok(Device::cuda_if_available(0).unwrap_or(Device::Cpu)),
        }
    }
}

impl<'de> Deserialize<'de> for DeviceChoice {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        crate::error::deserialize_by_name(d)
    }
}

impl std::str::FromStr for DeviceChoice {
    type Err = Error;
    fn from_str(name: &str) -> Result<Self> {
        match name {
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" | "gpu" => Ok(DeviceChoice::Cuda),
            "auto" => Ok(DeviceChoice::Auto),
            other => Err(Error::Config(format!(
                "unknown device {other:?}; use cpu, cuda or auto"
            ))),
        }
    }
}

/// Open a device by name (`cpu`, `cuda`, `auto`).
pub fn parse_device(name: &str) -> Result<Device> {
    name.parse::<DeviceChoice>()?.open()
}
