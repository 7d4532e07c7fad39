//! Data-parallel training across processes: every rank holds the whole model, trains on its
//! own rows of every global batch, and the gradients are summed across ranks before each
//! optimizer step, so all ranks take the same step and keep identical weights.
//!
//! * [`Collective`]: the few collective operations training needs (sum, broadcast), with three
//!   engines: [`Single`] (one process; nothing to do), `mpi` (Open MPI or any MPI, for CPU
//!   clusters launched with `mpirun` / `srun`; feature `mpi`) and `nccl` (NVIDIA GPUs,
//!   cudarc's NCCL bindings; feature `nccl`).
//! * `shard_rows`: rank `r` of `w` takes rows `⌊rB/w⌋ .. ⌊(r+1)B/w⌋` of every global batch of
//!   `B` rows. Stateful LM batches keep each row on one rank for the whole epoch, so a rank
//!   carries its rows' LSTM states exactly as one process would.
//! * [`reduce_gradients`]: the weighted mean of the ranks' gradients, weighted by how many
//!   targets each rank scored, so the step equals one process's step on the global batch
//!   (exactly for the loss, up to float summation order).
//!
//! The [`Learner`](super::Learner) does the rest when given a collective
//! ([`Learner::set_collective`](super::Learner::set_collective)): rank 0 alone writes
//! checkpoints, `metrics.jsonl`, TensorBoard events and progress; validation is sharded the
//! same way and summed; a stop decided on rank 0 (time budget) is broadcast.
//!
//! ```
//! use genolm::train::dist::{shard_range, Collective, Single};
//! let one = Single;
//! assert_eq!((one.rank(), one.world_size()), (0, 1));
//! assert_eq!(one.sum(&[1.5, 2.0]).unwrap(), vec![1.5, 2.0]);
//! // 10 rows over 4 ranks: 2, 3, 2, 3
//! let parts: Vec<_> = (0..4).map(|r| shard_range(10, r, 4)).collect();
//! assert_eq!(parts, vec![0..2, 2..5, 5..7, 7..10]);
//! ```

use std::ops::Range;
use std::sync::Arc;

use candle_core::backprop::GradStore;
use candle_core::{DType, Tensor};

use crate::{Error, Result};

#[cfg(feature = "mpi")]
pub mod mpi;
#[cfg(feature = "nccl")]
pub mod nccl;

/// The collective operations data-parallel training needs.
pub trait Collective: Send + Sync {
    /// This process's rank, `0 .. world_size()`.
    fn rank(&self) -> usize;
    /// Number of processes.
    fn world_size(&self) -> usize;
    /// The engine's name (`single`, `mpi`, `nccl`).
    fn engine(&self) -> &'static str;
    /// Element-wise sum over all ranks of a 1-D f32 tensor (on the engine's device: CPU for
    /// MPI, the rank's GPU for NCCL); every rank gets the sum.
    fn all_reduce(&self, t: &Tensor) -> Result<Tensor>;
    /// Rank `root`'s 1-D f32 tensor, on every rank.
    fn broadcast(&self, t: &Tensor, root: usize) -> Result<Tensor>;
    /// Element-wise sum over all ranks of host numbers (losses, counts, flags), in f64.
    fn sum(&self, v: &[f64]) -> Result<Vec<f64>>;
}

/// One process: every operation is the identity.
#[derive(Debug, Clone, Copy, Default)]
pub struct Single;

impl Collective for Single {
    fn rank(&self) -> usize {
        0
    }
    fn world_size(&self) -> usize {
        1
    }
    fn engine(&self) -> &'static str {
        "single"
    }
    fn all_reduce(&self, t: &Tensor) -> Result<Tensor> {
        Ok(t.clone())
    }
    fn broadcast(&self, t: &Tensor, _root: usize) -> Result<Tensor> {
        Ok(t.clone())
    }
    fn sum(&self, v: &[f64]) -> Result<Vec<f64>> {
        Ok(v.to_vec())
    }
}

/// The rows of a global batch of `rows` that rank `rank` of `world` trains on.
pub fn shard_range(rows: usize, rank: usize, world: usize) -> Range<usize> {
    (rows * rank / world)..(rows * (rank + 1) / world)
}

/// Which data-parallel engine `genolm train --distributed` uses.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// MPI (CPU clusters; `mpirun -np N genolm train …` or `srun`).
    Mpi,
    /// NCCL (GPUs; one process per GPU, rank and world size from the launcher's environment).
    Nccl,
}

impl std::str::FromStr for Engine {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "mpi" => Ok(Engine::Mpi),
            "nccl" => Ok(Engine::Nccl),
            other => Err(Error::Config(format!(
                "unknown distributed engine '{other}' (expected mpi or nccl)"
            ))),
        }
    }
}

/// Start the engine: MPI reads its rank and size from `mpirun` / `srun`; NCCL reads them from
/// the launcher's environment ([`launcher_rank`]) and meets its peers through a file in
/// `rendezvous` (a folder every rank can read: the run folder). A build without the engine's
/// feature says which feature to build with.
pub fn connect(
    engine: Engine,
    device: &candle_core::Device,
    rendezvous: &std::path::Path,
) -> Result<Arc<dyn Collective>> {
    let _ = (device, rendezvous);
    match engine {
        #[cfg(feature = "mpi")]
        Engine::Mpi => Ok(Arc::new(mpi::Mpi::init()?)),
        #[cfg(not(feature = "mpi"))]
        Engine::Mpi => Err(Error::Config(
            "this genolm was built without MPI: build with `cargo build --release --features mpi` \
             (needs an MPI library, e.g. Debian's libopenmpi-dev, and libclang-dev)"
                .into(),
        )),
        #[cfg(feature = "nccl")]
        Engine::Nccl => {
            let (rank, world) = launcher_rank().ok_or_else(|| {
                Error::Config(
                    "NCCL needs the rank and world size from the launcher: set RANK and \
                     WORLD_SIZE, or start under mpirun / srun"
                        .into(),
                )
            })?;
            Ok(Arc::new(nccl::Nccl::init(device, rank, world, rendezvous)?))
        }
        #[cfg(not(feature = "nccl"))]
        Engine::Nccl => Err(Error::Config(
            "this genolm was built without NCCL: build with `--features nccl` (CUDA toolkit and \
             libnccl; see scripts/cuda-build.sh)"
                .into(),
        )),
    }
}

/// `(rank, world_size)` from the environment a launcher sets: `RANK` / `WORLD_SIZE`
/// (torchrun-style), Open MPI's `OMPI_COMM_WORLD_RANK` / `_SIZE`, MPICH's `PMI_RANK` /
/// `PMI_SIZE`, or Slurm's `SLURM_PROCID` / `SLURM_NTASKS`.
pub fn launcher_rank() -> Option<(usize, usize)> {
    let get = |k: &str| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
    };
    [
        ("RANK", "WORLD_SIZE"),
        ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
        ("PMI_RANK", "PMI_SIZE"),
        ("SLURM_PROCID", "SLURM_NTASKS"),
    ]
    .iter()
    .find_map(|(r, w)| Some((get(r)?, get(w)?)))
    .filter(|(r, w)| r < w)
}

/// This process's index among the ranks on its node (which GPU it takes): `LOCAL_RANK`,
/// `OMPI_COMM_WORLD_LOCAL_RANK`, `MPI_LOCALRANKID` or `SLURM_LOCALID`; 0 when none is set.
pub fn local_rank() -> usize {
    [
        "LOCAL_RANK",
        "OMPI_COMM_WORLD_LOCAL_RANK",
        "MPI_LOCALRANKID",
        "SLURM_LOCALID",
    ]
    .iter()
    .find_map(|k| std::env::var(k).ok()?.trim().parse().ok())
    .unwrap_or(0)
}

/// Rank `rank`'s rows of one host batch.
pub(crate) fn shard_rows(
    hb: &super::data::HostBatch,
    rank: usize,
    world: usize,
) -> super::data::HostBatch {
    if world <= 1 {
        return hb.clone();
    }
    let r = shard_range(hb.batch, rank, world);
    let t = hb.seq_len;
    let cut_pos = |v: &[u32]| v[r.start * t..r.end * t].to_vec();
    super::data::HostBatch {
        x: cut_pos(&hb.x),
        y_u32: if hb.per_row {
            hb.y_u32[r.clone()].to_vec()
        } else if hb.y_u32.is_empty() {
            Vec::new()
        } else {
            cut_pos(&hb.y_u32)
        },
        y_i64: if hb.y_i64.is_empty() {
            Vec::new()
        } else {
            hb.y_i64[r.start * t..r.end * t].to_vec()
        },
        per_row: hb.per_row,
        batch: r.len(),
        seq_len: t,
        reset: hb.reset.as_ref().map(|v| v[r].to_vec()),
    }
}

/// Replace every gradient in `grads` of the tensors `params` by the weighted mean over ranks:
/// `Σ_r weight_r · g_r / Σ_r weight_r`, where `weight` is this rank's number of targets. The
/// `extra` numbers (weighted the same way: the loss, its cross-entropy) come back averaged,
/// with the total weight last. One all-reduce for everything (a flat f32 buffer).
pub fn reduce_gradients(
    c: &dyn Collective,
    params: &[Tensor],
    grads: &mut GradStore,
    weight: f64,
    extra: &[f64],
) -> Result<Vec<f64>> {
    // The host numbers travel in f64 on their own (an f32 sum of losses over many ranks
    // would round); the gradients in one f32 buffer.
    let mut host: Vec<f64> = extra.iter().map(|e| e * weight).collect();
    host.push(weight);
    let host = c.sum(&host)?;
    let total = *host.last().unwrap_or(&0.0);
    if total <= 0.0 {
        return Err(Error::Training {
            epoch: 0,
            step: 0,
            msg: "no rank had a target in this batch".into(),
            checkpoint: None,
        });
    }
    let mut out: Vec<f64> = host[..extra.len()].iter().map(|s| s / total).collect();
    out.push(total);
    if c.world_size() <= 1 {
        return Ok(out);
    }
    let mut parts = Vec::with_capacity(params.len());
    let mut shapes = Vec::with_capacity(params.len());
    for p in params {
        let (g, dt) = match grads.get(p) {
            Some(g) => (g.to_dtype(DType::F32)?.flatten_all()?, g.dtype()),
            // a parameter this rank's batch did not reach: it contributes zeros
            None => (
                Tensor::zeros(p.elem_count(), DType::F32, p.device())?,
                p.dtype(),
            ),
        };
        shapes.push((p.dims().to_vec(), dt));
        parts.push((g * weight)?);
    }
    if parts.is_empty() {
        return Ok(out);
    }
    let flat = Tensor::cat(&parts, 0)?;
    let summed = (c.all_reduce(&flat)? / total)?;
    let mut off = 0;
    for (p, (dims, dt)) in params.iter().zip(shapes) {
        let n = p.elem_count();
        let g = summed
            .narrow(0, off, n)?
            .reshape(dims)?
            .to_dtype(dt)?
            .contiguous()?;
        grads.insert(p, g);
        off += n;
    }
    Ok(out)
}

/// Give every rank rank 0's values of `params` (one broadcast of a flat buffer), so ranks
/// start from the same weights even when initialisation differs between machines.
pub fn broadcast_params(c: &dyn Collective, params: &[candle_core::Var]) -> Result<()> {
    if c.world_size() <= 1 || params.is_empty() {
        return Ok(());
    }
    let flat = Tensor::cat(
        &params
            .iter()
            .map(|v| v.as_tensor().to_dtype(DType::F32)?.flatten_all())
            .collect::<candle_core::Result<Vec<_>>>()?,
        0,
    )?;
    let got = c.broadcast(&flat, 0)?;
    let mut off = 0;
    for v in params {
        let n = v.elem_count();
        let t = got
            .narrow(0, off, n)?
            .reshape(v.dims())?
            .to_dtype(v.dtype())?;
        v.set(&t)?;
        off += n;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Two "ranks" simulated in one process: a collective that adds a fixed other rank's
    /// buffer, to check the weighting arithmetic.
    struct Pair {
        other: Vec<f32>,
        other_host: Vec<f64>,
    }
    impl Collective for Pair {
        fn rank(&self) -> usize {
            0
        }
        fn world_size(&self) -> usize {
            2
        }
        fn engine(&self) -> &'static str {
            "pair"
        }
        fn all_reduce(&self, t: &Tensor) -> Result<Tensor> {
            let o = Tensor::from_slice(&self.other, t.dims(), t.device())?;
            Ok((t + o)?)
        }
        fn broadcast(&self, t: &Tensor, _root: usize) -> Result<Tensor> {
            Ok(t.clone())
        }
        fn sum(&self, v: &[f64]) -> Result<Vec<f64>> {
            Ok(v.iter().zip(&self.other_host).map(|(a, b)| a + b).collect())
        }
    }

    #[test]
    fn gradients_are_the_target_weighted_mean() {
        let dev = Device::Cpu;
        let a = Var::from_slice(&[1f32, 2.0], 2, &dev).unwrap();
        let b = Var::from_slice(&[3f32], (1, 1), &dev).unwrap();
        let loss = ((a.as_tensor().sum_all().unwrap() * 2.0).unwrap()
            + (b.as_tensor().sum_all().unwrap() * 5.0).unwrap())
        .unwrap();
        let mut g = loss.backward().unwrap();
        // this rank: weight 1, grads a = [2, 2], b = [[5]]; the other: weight 3 and grads
        // (as sent, i.e. times its weight) [3·4, 3·4, 3·1], loss 3·0.5
        let c = Pair {
            other: vec![12.0, 12.0, 3.0],
            other_host: vec![1.5, 3.0],
        };
        let params = [a.as_tensor().clone(), b.as_tensor().clone()];
        let out = reduce_gradients(&c, &params, &mut g, 1.0, &[2.5]).unwrap();
        assert_eq!(out, vec![(2.5 + 1.5) / 4.0, 4.0]);
        let ga = g.get(a.as_tensor()).unwrap().to_vec1::<f32>().unwrap();
        let gb = g.get(b.as_tensor()).unwrap().to_vec2::<f32>().unwrap();
        assert_eq!(ga, vec![3.5, 3.5]); // (2 + 12) / 4
        assert_eq!(gb, vec![vec![2.0]]); // (5 + 3) / 4
    }

    #[test]
    fn rows_are_cut_per_rank() {
        let hb = super::super::data::HostBatch {
            x: (0..12).collect(),
            y_u32: (100..112).collect(),
            y_i64: Vec::new(),
            per_row: false,
            batch: 4,
            seq_len: 3,
            reset: Some(vec![true, false, true, false]),
        };
        let r1 = shard_rows(&hb, 1, 2);
        assert_eq!(r1.x, vec![6, 7, 8, 9, 10, 11]);
        assert_eq!(r1.y_u32, vec![106, 107, 108, 109, 110, 111]);
        assert_eq!(r1.reset, Some(vec![true, false]));
        assert_eq!(r1.batch, 2);
        assert!(Engine::Mpi == "MPI".parse().unwrap());
        assert!("gloo".parse::<Engine>().is_err());
    }
}
