#!/usr/bin/env bash
# The GPU check: one prepared script for a machine with an NVIDIA GPU (≤ 10 minutes once built).
#  1. `--features cuda,nccl` builds (nvcc from $PATH, else from scripts/cuda-build.sh's venv);
#  2. examples/gpu_check.rs: the small AWD-LSTM and transformer, the same batches on CPU and
#     GPU in f32 (per-step loss within 2e-3 relative), bf16 and f16 with loss scaling (finite,
#     falling, within 5 % of f32), tokens/s on each and the speed-up;
#  3. the NCCL engine on every GPU of the machine (2 ranks at least): data-parallel training of
#     the small model, loss per step against one process (the MPI test's comparison).
# Results go to $OUT (default docs/gpu/<date>), to be committed; docs/scaling.md reads them.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-docs/gpu/$(date +%F)}"; mkdir -p "$OUT"
export OUT
if ! command -v nvcc >/dev/null 2>&1; then
  NV="$(ls -d "$HOME"/.cache/genolm/cuda13/lib/python3*/site-packages/nvidia/cu13 2>/dev/null | head -1 || true)"
  [ -n "$NV" ] && export PATH="$NV/bin:$PATH" CUDA_ROOT="$NV"
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/nvidia-smi.csv"
cap="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-$cap}"
t0=$(date +%s)
cargo build --release --features cuda,nccl --example gpu_check --bin genolm 2>&1 | tail -3
echo "build: $(( $(date +%s) - t0 )) s" | tee "$OUT/build.txt"
target="${CARGO_TARGET_DIR:-target}/release"
"$target/examples/gpu_check" | tee "$OUT/gpu-check.txt"
n=$(nvidia-smi -L | wc -l)
if [ "$n" -ge 2 ] && command -v mpirun >/dev/null 2>&1; then
  cat > "$OUT/nccl.toml" <<TOML
output = "$OUT/nccl-one"
[data]
corpus = "embedded"
bptt = 64
batch_size = 32
[model]
preset = "awd_lstm_small"
drop_mult = 0.0
[train]
epochs = 1
max_batches = 40
device = "cuda"
precision = "f32"
TOML
  "$target/genolm" train -c "$OUT/nccl.toml" > "$OUT/nccl-one.txt"
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np "$n" --oversubscribe \
    "$target/genolm" train -c "$OUT/nccl.toml" --output "$OUT/nccl-$n" --distributed nccl > "$OUT/nccl-$n.txt"
  python3 - "$OUT/nccl-one" "$OUT/nccl-$n" <<'PY' | tee "$OUT/nccl-compare.txt"
import json, sys
def steps(d): return [json.loads(l)["loss"] for l in open(d + "/metrics.jsonl") if '"smooth_loss"' in l]
a, b = steps(sys.argv[1]), steps(sys.argv[2])
d = max(abs(x - y) / abs(x) for x, y in zip(a, b))
print(f"NCCL vs one process: {len(a)} steps, max relative loss difference {d:.2e} ({'ok' if d < 2e-3 and len(a) == len(b) else 'FAIL'})")
PY
else
  echo "NCCL: needs ≥ 2 GPUs and mpirun (as a launcher); skipped on this machine" | tee "$OUT/nccl-compare.txt"
fi
