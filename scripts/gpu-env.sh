# Sourced by the GPU scripts (gpu-check.sh, gpu-compute.sh) on a machine with an NVIDIA GPU:
# sets CUDA_COMPUTE_CAP and $target, the folder holding the `genolm` and `gpu_check` programs —
# either GENOLM_PREBUILT (built elsewhere by scripts/gpu-bundle.sh; CUDA's libraries then come
# from this machine: its toolkit, else Python's nvidia-* packages) or a `--features cuda,nccl`
# release build here (nvcc from $PATH, else from the venv of scripts/gpu-bundle.sh).
# Writes nvidia-smi.csv and build.txt to $OUT.
if ! command -v nvcc >/dev/null 2>&1; then
  NV="$(ls -d "$HOME"/.cache/genolm/cuda13*/lib/python3*/site-packages/nvidia/cu13 2>/dev/null | head -1 || true)"
  [ -n "$NV" ] && export PATH="$NV/bin:$PATH" CUDA_ROOT="$NV"
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/nvidia-smi.csv"
cap="$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d .)"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-$cap}"
if [ -n "${GENOLM_PREBUILT:-}" ]; then
  libs="/usr/local/nvidia/lib64:/usr/local/cuda/lib64"
  py_nv="$(python3 -c 'import nvidia, os; print(list(nvidia.__path__)[0])' 2>/dev/null || true)"
  [ -n "$py_nv" ] && for d in "$py_nv"/*/lib; do libs="$libs:$d"; done
  export LD_LIBRARY_PATH="$libs:$PWD/$GENOLM_PREBUILT/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  tee "$OUT/build.txt" < "$GENOLM_PREBUILT/BUILD"
  target="$GENOLM_PREBUILT"
  if ldd "$target/genolm" | grep 'not found'; then echo "missing libraries (above)"; exit 1; fi
else
  t0=$(date +%s)
  cargo build --release --features cuda,nccl --example gpu_check --bin genolm 2>&1 | tail -3
  echo "build: $(( $(date +%s) - t0 )) s" | tee "$OUT/build.txt"
  target="${CARGO_TARGET_DIR:-target}/release"
  ln -sf examples/gpu_check "$target/gpu_check"
fi
