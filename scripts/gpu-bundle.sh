#!/usr/bin/env bash
# Build the GPU check's programs here (no GPU, no Rust on the GPU machine) and pack them with the
# shared libraries they need into one folder that travels to a GPU machine:
#
#   bash scripts/gpu-bundle.sh            # → gpu-bundle/ (git-ignored), ≈ 15 min warm on 2 cores
#   # on the GPU machine, from the repository root:
#   GENOLM_PREBUILT=gpu-bundle bash scripts/gpu-check.sh
#
# CUDA comes from PyPI wheels of the version the GPU machine's driver speaks (CUDA_VERSION,
# default 13.0: a driver runs PTX from its own nvcc or older, never newer). The driver's
# libcuda.so exists only where a driver is installed, so the link uses a stub that defines
# every driver function cudarc declares (SONAME libcuda.so.1); at run time the driver's own
# library is loaded instead. cuBLAS, cuRAND, NVRTC and NCCL are linked against the wheels'
# libraries and found on the GPU machine in its CUDA installation or Python's nvidia packages
# (gpu-check.sh sets LD_LIBRARY_PATH). The Debian libraries genolm links (HDF5 and its
# dependencies) travel in gpu-bundle/lib.
set -euo pipefail
cd "$(dirname "$0")/.."
CUDA_VERSION="${CUDA_VERSION:-13.0}"
VENV="${GENOLM_CUDA_VENV:-$HOME/.cache/genolm/cuda${CUDA_VERSION/./}}"
if [ ! -x "$VENV/bin/pip" ]; then python3 -m venv "$VENV"; fi
NV="$(ls -d "$VENV"/lib/python3*/site-packages/nvidia 2>/dev/null | head -1 || true)"
if [ -z "$NV" ] || [ ! -x "$NV/cu13/bin/nvcc" ]; then
    "$VENV/bin/pip" install -q "nvidia-cuda-nvcc==$CUDA_VERSION.*" "nvidia-cuda-runtime==$CUDA_VERSION.*" \
        "nvidia-cuda-nvrtc==$CUDA_VERSION.*" "nvidia-nvvm==$CUDA_VERSION.*" "nvidia-cuda-crt==$CUDA_VERSION.*" \
        "nvidia-cuda-cccl==$CUDA_VERSION.*" "nvidia-cublas==$CUDA_VERSION.*" nvidia-curand nvidia-nccl-cu13
    NV="$(ls -d "$VENV"/lib/python3*/site-packages/nvidia | head -1)"
fi
L="$NV/cu13/lib"
# Unversioned names for the linker, and the driver stub.
for f in libcublas.so.13 libcublasLt.so.13 libcurand.so.10 libnvrtc.so.13 libcudart.so.13; do
    ln -sf "$f" "$L/${f%%.so*}.so"
done
ln -sf ../../nccl/lib/libnccl.so.2 "$L/libnccl.so"
mkdir -p "$L/stubs"
# cudarc is only a dependency of the cuda feature: fetch it before reading its source.
cargo fetch --quiet
CUDARC="$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/cudarc-0.19.* | tail -1)"
grep -ohE '^\s+(pub )?fn (cu[A-Za-z0-9_]+)\(' "$CUDARC/src/driver/sys/mod.rs" \
    | sed -E 's/.*fn (cu[A-Za-z0-9_]+)\(/\1/' | sort -u | awk '{print "void "$1"(void){}"}' > "$L/stubs/cuda-stub.c"
gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$L/stubs/libcuda.so" "$L/stubs/cuda-stub.c"

export CUDA_ROOT="$NV/cu13" CUDA_PATH="$NV/cu13" PATH="$NV/cu13/bin:$PATH"
export CUDA_COMPUTE_CAP="${CUDA_COMPUTE_CAP:-90}" CUDARC_CUDA_VERSION="${CUDA_VERSION/./0}0"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
cargo build --release --features cuda,nccl --example gpu_check --bin genolm
rel="$CARGO_TARGET_DIR/release"
B=gpu-bundle
rm -rf "$B"; mkdir -p "$B/lib"
strip -o "$B/genolm" "$rel/genolm"
strip -o "$B/gpu_check" "$rel/examples/gpu_check"
# Every library the programs load except glibc's own and CUDA's (those come from the GPU machine).
ldd "$rel/genolm" | awk '/=> \//{print $1" "$3}' \
    | grep -vE '^(libc|libm|libdl|libpthread|librt|libresolv|ld-linux|libgcc_s|libstdc\+\+|libcuda|libcublas|libcurand|libnvrtc|libnccl|libcudart)\.' \
    | while read -r _ path; do cp -L "$path" "$B/lib/"; done
echo "CUDA $CUDA_VERSION, compute capability $CUDA_COMPUTE_CAP, built $(git rev-parse --short HEAD)" > "$B/BUILD"
du -sh "$B"
