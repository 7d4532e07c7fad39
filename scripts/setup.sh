#!/usr/bin/env bash
# Install what genolm needs to build on a Debian/Ubuntu machine: HDF5 headers and pkg-config
# (for hdf5-metno), a C compiler, nasm and the autotools (isal-sys builds Intel's ISA-L, which
# inflates gzip input: feature `isal`, on by default), and for the tests of data-parallel
# training (feature `mpi`) Open MPI and libclang (the `mpi` crate generates its bindings).
# Safe to run again; does nothing when all is present.
set -euo pipefail
need=()
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
command -v autoreconf >/dev/null 2>&1 || need+=(autoconf)
command -v automake >/dev/null 2>&1 || need+=(automake)
command -v libtoolize >/dev/null 2>&1 || need+=(libtool)
if [ "$(uname -m)" = x86_64 ]; then command -v nasm >/dev/null 2>&1 || need+=(nasm); fi
pkg-config --exists hdf5 2>/dev/null || [ -e /usr/include/hdf5/serial/hdf5.h ] || need+=(libhdf5-dev)
command -v mpirun >/dev/null 2>&1 || need+=(openmpi-bin)
# Open MPI's headers and link library (mpicc alone proves nothing: openmpi-bin brings it)
pkg-config --exists ompi-c 2>/dev/null || [ -e /usr/include/x86_64-linux-gnu/openmpi/mpi.h ] \
  || [ -e /usr/lib/x86_64-linux-gnu/openmpi/include/mpi.h ] || need+=(libopenmpi-dev)
# libclang itself (libclang.so.N / libclang-N.so.N), not libclang-cpp, which LLVM's other
# packages bring and bindgen cannot use
ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 || ls /usr/lib/x86_64-linux-gnu/libclang-[0-9]*.so* >/dev/null 2>&1 \
  || need+=(libclang-dev)
# h5py: the tests check that states files open in Python
python3 -c "import h5py" >/dev/null 2>&1 || /usr/bin/python3 -c "import h5py" >/dev/null 2>&1 || need+=(python3-h5py)
if [ ${#need[@]} -gt 0 ]; then
  echo "genolm setup: installing ${need[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "genolm setup: cargo (Rust >= 1.89) is required: https://rustup.rs" >&2
  exit 1
fi
# A persistent target directory makes repeated runs fast; any location works.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/genolm/target}"
mkdir -p "$CARGO_TARGET_DIR"
