#!/usr/bin/env bash
# The GPU check: one prepared script for a machine with an NVIDIA GPU (≤ 10 minutes once built).
#  1. `--features cuda,nccl` builds (nvcc from $PATH, else from scripts/cuda-build.sh's venv) —
#     or, where the GPU machine has no Rust, GENOLM_PREBUILT=gpu-bundle uses the programs that
#     scripts/gpu-bundle.sh built elsewhere (CUDA's libraries then come from the machine);
#  2. examples/gpu_check.rs: the small AWD-LSTM and transformer, the same batches on CPU and
#     GPU in f32 (per-step loss within 2e-3 relative), bf16 and f16 with loss scaling (finite,
#     falling, within 5 % of f32), tokens/s on each and the speed-up; training tokens/s of the
#     presets the PyTorch peers mirror, at their shapes;
#  3. the PyTorch peers on the same GPU (where python3 has torch with CUDA);
#  4. `genolm train` on the GPU from a config (the CLI path: checkpoint, metrics);
#  5. the NCCL engine on every GPU of the machine (2 ranks at least): data-parallel training of
#     the small model, loss per step against one process (the MPI test's comparison).
# Results go to $OUT (default docs/gpu/<date>), to be committed; docs/scaling.md reads them.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-docs/gpu/$(date +%F)}"; mkdir -p "$OUT"
export OUT
source scripts/gpu-env.sh
gpu_check="$target/gpu_check"
status=0
"$gpu_check" | tee "$OUT/gpu-check.txt" || status=1
if python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  for args in "--preset awd_lstm_small" "--preset ulmfit_paper"; do
    python3 benches/peers/awd_lstm_torch.py --device cuda --batches 40 $args || echo "peer failed: $args" >&2
  done | tee "$OUT/peers-torch.jsonl"
  { python3 benches/peers/transformer_mlm_torch.py --device cuda --batches 40 || echo "peer failed: transformer" >&2; } \
    | tee -a "$OUT/peers-torch.jsonl"
fi
cat > "$OUT/train.toml" <<TOML
output = "$OUT/train-cuda"
[data]
corpus = "embedded"
bptt = 64
batch_size = 32
[model]
preset = "awd_lstm_small"
[train]
epochs = 1
max_batches = 60
valid_max_batches = 20
device = "cuda"
precision = "bf16"
TOML
if "$target/genolm" train -c "$OUT/train.toml" > "$OUT/train-cuda.txt" 2>&1 \
   && [ -s "$OUT/train-cuda/metrics.jsonl" ]; then
  echo "genolm train on CUDA (bf16): ok, $(tail -1 "$OUT/train-cuda.txt")" | tee "$OUT/train-cuda-status.txt"
else
  echo "genolm train on CUDA: FAIL" | tee "$OUT/train-cuda-status.txt"; tail -20 "$OUT/train-cuda.txt"; status=1
fi
# Batch size on the GPU: tokens/s of `genolm train` (12 steps, the first 3 untimed) per preset.
for spec in "awd_lstm_small 64 256" "ulmfit_paper 64 256" \
            "ulmfit_paper 64 1024" "transformer_mlm_small 128 256"; do
  set -- $spec
  for p in f32 bf16; do
    d="$OUT/scale/$1-$3-$p"; mkdir -p "$d"
    printf 'output = "%s"\n[data]\ncorpus = "embedded"\nbptt = %s\nbatch_size = %s\n[model]\npreset = "%s"\n[train]\nepochs = 1\nmax_batches = 12\nvalid_max_batches = 1\ndevice = "cuda"\nprecision = "%s"\n' \
      "$d" "$2" "$3" "$1" "$p" > "$d.toml"
    "$target/genolm" train -c "$d.toml" > "$d.log" 2>&1 || { echo "$1 $3 $p: FAIL"; tail -3 "$d.log"; continue; }
    python3 - "$d/metrics.jsonl" "$1 batch $3 × $2 $p" <<'PY'
import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if '"units_per_s"' in l][3:]
print(f"{sys.argv[2]}: {sum(x['units_per_s'] for x in r) / max(len(r), 1):.0f} tokens/s ({len(r)} steps)")
PY
  done
done | tee "$OUT/batch-scaling.txt"
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
exit "$status"
