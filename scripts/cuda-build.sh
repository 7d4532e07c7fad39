#!/usr/bin/env bash
# Build genolm with `--features cuda,nccl` on a machine without a GPU, so that a CUDA break is
# caught before it reaches one. nvcc, the CUDA headers and NCCL come from PyPI (CUDA 13.4 wheels:
# cudarc 0.19 knows CUDA ≤ 13.4), into ~/.cache/genolm/cuda13; candle's kernels are compiled to
# PTX by that nvcc. The library is built (every CUDA code path of genolm and candle compiles)
# and every target is type-checked; nothing is linked against libcuda, which only a machine with
# the NVIDIA driver has (scripts/gpu-check.sh builds and runs there).
#
#   bash scripts/cuda-build.sh            # ≈ 25 min cold on 2 cores, ≈ 1 min warm
#   CUDA_COMPUTE_CAP=90 bash scripts/cuda-build.sh   # PTX for another GPU generation
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${GENOLM_CUDA_VENV:-$HOME/.cache/genolm/cuda13}"
if [ ! -x "$VENV/bin/pip" ]; then
    python3 -m venv "$VENV"
fi
NV="$VENV/lib/python3.11/site-packages/nvidia"
NV="$(ls -d "$VENV"/lib/python3*/site-packages/nvidia 2>/dev/null | head -1 || true)"
if [ -z "$NV" ] || [ ! -x "$NV/cu13/bin/nvcc" ] || [ ! -e "$NV/cu13/include/nv/target" ]; then
    "$VENV/bin/pip" install -q "nvidia-cuda-nvcc==13.4.*" "nvidia-cuda-runtime==13.4.*" \
        "nvidia-cuda-nvrtc==13.4.*" "nvidia-nvvm==13.4.*" "nvidia-cuda-crt==13.4.*" "nvidia-cuda-cccl" "nvidia-cublas" "nvidia-curand" "nvidia-nccl-cu13"
    NV="$(ls -d "$VENV"/lib/python3*/site-packages/nvidia | head -1)"
fi
export CUDA_ROOT="$NV/cu13" CUDA_PATH="$NV/cu13"
export PATH="$CUDA_ROOT/bin:$PATH"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-80}"
export CARGO_TARGET_DIR="${CUDA_TARGET_DIR:-$HOME/.cache/genolm/target-cuda}"
nvcc --version | tail -1
t0=$(date +%s)
cargo build --lib --features cuda,nccl
cargo check --all-targets --features cuda,nccl
echo "cuda build: ok in $(( $(date +%s) - t0 )) s (compute capability $CUDA_COMPUTE_CAP)"
