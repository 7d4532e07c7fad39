//! MPI engine (feature `mpi`): for CPU clusters and for several processes on one machine.
//! Launch as HPC jobs are launched:
//!
//! ```text
//! mpirun -np 4 genolm train --config run.toml --distributed mpi
//! srun --ntasks 16 --cpus-per-task 8 genolm train --config run.toml --distributed mpi
//! ```
//!
//! Built on the `mpi` crate (rsmpi) over the system's MPI library (Open MPI, MPICH, Intel MPI).
//! Gradients go through `MPI_Allreduce` as one f32 buffer per step; host numbers in f64.

use std::sync::Mutex;

use candle_core::{DType, Device, Tensor};
use mpi::collective::{CommunicatorCollectives, Root, SystemOperation};
use mpi::environment::Universe;
use mpi::topology::{Communicator, SimpleCommunicator};
use mpi::Threading;

use super::Collective;
use crate::{Error, Result};

/// An initialised MPI world. MPI is finalised when this is dropped (at the end of the run).
pub struct Mpi {
    // MPI_THREAD_SERIALIZED: any thread may call MPI, one at a time; the mutex makes it so.
    lock: Mutex<Universe>,
    rank: usize,
    size: usize,
}

// SAFETY: `Universe` holds no thread-bound state; MPI was initialised with
// MPI_THREAD_SERIALIZED (checked in `init`) and every MPI call below holds `lock`, so calls
// never overlap, which is all that level requires.
unsafe impl Send for Mpi {}
unsafe impl Sync for Mpi {}

impl std::fmt::Debug for Mpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mpi(rank {} of {})", self.rank, self.size)
    }
}

impl Mpi {
    /// Initialise MPI (once per process) and read this process's rank and the world size.
    pub fn init() -> Result<Mpi> {
        let (universe, level) = mpi::initialize_with_threading(Threading::Serialized)
            .ok_or_else(|| Error::Config("MPI was already initialised in this process".into()))?;
        if level < Threading::Serialized {
            return Err(Error::Config(format!(
                "the MPI library offers thread level {level:?}; genolm needs Serialized"
            )));
        }
        let world = universe.world();
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        Ok(Mpi {
            lock: Mutex::new(universe),
            rank,
            size,
        })
    }

    fn with_world<T>(&self, f: impl FnOnce(&SimpleCommunicator) -> T) -> T {
        let guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let world = guard.world();
        f(&world)
    }
}

fn host_f32(t: &Tensor) -> Result<(Vec<f32>, Device)> {
    Ok((
        t.to_dtype(DType::F32)?.to_vec1::<f32>()?,
        t.device().clone(),
    ))
}

impl Collective for Mpi {
    fn rank(&self) -> usize {
        self.rank
    }
    fn world_size(&self) -> usize {
        self.size
    }
    fn engine(&self) -> &'static str {
        "mpi"
    }
    fn all_reduce(&self, t: &Tensor) -> Result<Tensor> {
        let (send, dev) = host_f32(t)?;
        let mut recv = vec![0f32; send.len()];
        self.with_world(|w| w.all_reduce_into(&send[..], &mut recv[..], SystemOperation::sum()));
        Ok(Tensor::from_vec(recv, send.len(), &dev)?)
    }
    fn broadcast(&self, t: &Tensor, root: usize) -> Result<Tensor> {
        let (mut buf, dev) = host_f32(t)?;
        self.with_world(|w| w.process_at_rank(root as i32).broadcast_into(&mut buf[..]));
        let n = buf.len();
        Ok(Tensor::from_vec(buf, n, &dev)?)
    }
    fn sum(&self, v: &[f64]) -> Result<Vec<f64>> {
        let mut recv = vec![0f64; v.len()];
        self.with_world(|w| w.all_reduce_into(v, &mut recv[..], SystemOperation::sum()));
        Ok(recv)
    }
}
