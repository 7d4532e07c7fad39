//! NCCL engine (feature `nccl`): one process per GPU, gradients all-reduced on the GPUs with
//! cudarc's NCCL bindings (as candle's multi-process example does). Rank and world size come
//! from the launcher ([`super::launcher_rank`]); the ranks meet through a file holding rank 0's
//! NCCL unique id in the run folder.
//!
//! ```text
//! # one node, 8 GPUs (Open MPI only launches the processes here; NCCL moves the data)
//! mpirun -np 8 genolm train --config run.toml --distributed nccl
//! # or any launcher that sets RANK / WORLD_SIZE, with --device cuda:$LOCAL_RANK in the run file
//! ```

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use candle_core::backend::BackendStorage;
use candle_core::cuda_backend::cudarc::nccl::safe::{Comm, Id, ReduceOp};
use candle_core::cuda_backend::CudaStorage;
use candle_core::{CpuStorage, CustomOp1, DType, Device, Layout, Shape, Tensor};

use super::Collective;
use crate::{Error, Result};

/// An NCCL communicator for this process's GPU.
pub struct Nccl {
    comm: Mutex<Comm>,
    rank: usize,
    size: usize,
    device: Device,
    id_file: Option<PathBuf>,
}

// SAFETY: NCCL communicators may be used from any thread as long as calls on one communicator
// do not overlap; every call below holds the mutex.
unsafe impl Send for Nccl {}
unsafe impl Sync for Nccl {}

impl std::fmt::Debug for Nccl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Nccl(rank {} of {})", self.rank, self.size)
    }
}

fn nccl_err(e: impl std::fmt::Debug) -> Error {
    Error::Training {
        epoch: 0,
        step: 0,
        msg: format!("NCCL: {e:?}"),
        checkpoint: None,
    }
}

/// The rendezvous file for this job: one name per launcher job, so concurrent jobs sharing a
/// folder do not meet each other.
fn id_path(dir: &Path) -> PathBuf {
    let job = [
        "SLURM_JOB_ID",
        "PMIX_NAMESPACE",
        "OMPI_MCA_orte_ess_jobid",
        "MASTER_PORT",
    ]
    .iter()
    .find_map(|k| std::env::var(k).ok())
    .unwrap_or_else(|| "local".into());
    let job: String = job
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    dir.join(format!(".nccl-id-{job}"))
}

impl Nccl {
    /// Join the NCCL world of `world` ranks as `rank` on `device` (a CUDA device). Rank 0
    /// writes the unique id to a file in `rendezvous`; the others wait up to two minutes for a
    /// file written after they started.
    pub fn init(device: &Device, rank: usize, world: usize, rendezvous: &Path) -> Result<Nccl> {
        let Device::Cuda(cd) = device else {
            return Err(Error::Config(
                "NCCL trains on GPUs: set the run's device to cuda (one GPU per rank)".into(),
            ));
        };
        let path = id_path(rendezvous);
        let id = if rank == 0 {
            let id = Id::new().map_err(nccl_err)?;
            let bytes: Vec<u8> = id.internal().iter().map(|&c| c as u8).collect();
            crate::fsio::atomic_write(&path, &bytes)?;
            id
        } else {
            let started = SystemTime::now() - Duration::from_secs(60);
            let t0 = Instant::now();
            loop {
                let fresh = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .is_ok_and(|m| m >= started);
                if fresh {
                    let b = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
                    if b.len() == 128 {
                        let mut raw = [0 as std::ffi::c_char; 128];
                        for (r, x) in raw.iter_mut().zip(&b) {
                            *r = *x as std::ffi::c_char;
                        }
                        break Id::uninit(raw);
                    }
                }
                if t0.elapsed() > Duration::from_secs(120) {
                    return Err(Error::Config(format!(
                        "rank {rank}: rank 0 did not write {} within two minutes (is the run \
                         folder shared between the ranks?)",
                        path.display()
                    )));
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        };
        let comm = Comm::from_rank(cd.cuda_stream(), rank, world, id).map_err(nccl_err)?;
        Ok(Nccl {
            comm: Mutex::new(comm),
            rank,
            size: world,
            device: device.clone(),
            id_file: (rank == 0).then_some(path),
        })
    }
}

impl Drop for Nccl {
    fn drop(&mut self) {
        if let Some(p) = &self.id_file {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// The collective as a candle op on CUDA storage (no backward: gradients are reduced after
/// the backward pass).
struct Op<'a> {
    comm: &'a Comm,
    root: Option<usize>,
}

// SAFETY: the op lives for one call, made while the communicator's mutex is held.
unsafe impl Send for Op<'_> {}
unsafe impl Sync for Op<'_> {}

impl Op<'_> {
    fn run<T>(&self, s: &CudaStorage, l: &Layout) -> candle_core::Result<CudaStorage>
    where
        T: candle_core::cuda_backend::CudaDType
            + candle_core::cuda_backend::cudarc::nccl::NcclType
            + candle_core::cuda_backend::cudarc::driver::DeviceRepr,
    {
        let n = l.shape().elem_count();
        let src = s.as_cuda_slice::<T>()?;
        let Some((a, b)) = l.contiguous_offsets() else {
            candle_core::bail!("NCCL: the buffer must be contiguous");
        };
        let src = src.slice(a..b);
        let dev = s.device().clone();
        // SAFETY: every element is written by the collective below before it is read.
        let mut dst = unsafe { dev.alloc::<T>(n)? };
        let r = match self.root {
            None => self.comm.all_reduce(&src, &mut dst, &ReduceOp::Sum),
            Some(root) => self.comm.broadcast(Some(&src), &mut dst, root as i32),
        };
        r.map_err(|e| candle_core::Error::Msg(format!("NCCL: {e:?}")))?;
        Ok(CudaStorage::wrap_cuda_slice(dst, dev))
    }
}

impl CustomOp1 for Op<'_> {
    fn name(&self) -> &'static str {
        "nccl"
    }
    fn cpu_fwd(&self, _: &CpuStorage, _: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        candle_core::bail!("NCCL works on CUDA tensors")
    }
    fn cuda_fwd(&self, s: &CudaStorage, l: &Layout) -> candle_core::Result<(CudaStorage, Shape)> {
        let out = match s.dtype() {
            DType::F32 => self.run::<f32>(s, l)?,
            DType::F64 => self.run::<f64>(s, l)?,
            dt => candle_core::bail!("NCCL: {dt:?} buffers are not supported"),
        };
        Ok((out, l.shape().clone()))
    }
}

impl Nccl {
    fn apply(&self, t: &Tensor, root: Option<usize>) -> Result<Tensor> {
        let t = t.to_device(&self.device)?.contiguous()?;
        let comm = self.comm.lock().unwrap_or_else(|p| p.into_inner());
        let op = Op { comm: &comm, root };
        Ok(t.apply_op1_no_bwd(&op)?)
    }
}

impl Collective for Nccl {
    fn rank(&self) -> usize {
        self.rank
    }
    fn world_size(&self) -> usize {
        self.size
    }
    fn engine(&self) -> &'static str {
        "nccl"
    }
    fn all_reduce(&self, t: &Tensor) -> Result<Tensor> {
        self.apply(&t.to_dtype(DType::F32)?, None)
    }
    fn broadcast(&self, t: &Tensor, root: usize) -> Result<Tensor> {
        self.apply(&t.to_dtype(DType::F32)?, Some(root))
    }
    fn sum(&self, v: &[f64]) -> Result<Vec<f64>> {
        let t = Tensor::from_slice(v, v.len(), &self.device)?;
        Ok(self.apply(&t, None)?.to_vec1::<f64>()?)
    }
}
