#!/usr/bin/env bash
# README command 2: install prerequisites and run the whole test suite — what CI runs:
#  0. `cargo fmt --check`, `cargo clippy --all-targets -- -D warnings` and rustdoc with
#     warnings as errors (broken intra-doc links);
#  1. unit, integration and doc tests (the benchmark binaries are built but not timed);
#  2. every notebook executed headless in the "Rust (genolm)" kernel (installs the kernel:
#     Jupyter venv, evcxr_jupyter, prebuilt library; ~20 minutes the first time on 2 cores);
#  3. the notebook quickstart's HTML report rendered in headless Chromium and checked;
#  4. files Python users open, read by TensorBoard and pandas (scripts/python-check.sh), and the
#     live monitor in headless Chromium while a run trains (scripts/monitor-check.sh).
# The library is built and tested with `--features mpi` (data-parallel training: tests/distributed.rs
# runs `mpirun -np 2`); the default build is the same code without the MPI engine.
# GENOLM_SKIP_NOTEBOOKS=1 runs only step 1.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
export GENOLM_FEATURES="${GENOLM_FEATURES:-mpi}"
F=(--features "$GENOLM_FEATURES")
# Each step's wall time goes to stderr, and all of them at the end (CI must stay well under
# its limit on a fresh 2-core machine; these lines say where the time goes).
times=()
step() {
  local t0=$SECONDS
  "$@"
  times+=("$(printf '%5d s  %s' $((SECONDS - t0)) "$*")")
  echo "genolm test: ${times[-1]}" >&2
}
trap 'printf "genolm test: step times\n" >&2; printf "  %s\n" "${times[@]}" >&2' EXIT
# Style gates. rustfmt and clippy come with rustup's default profile; where they are missing
# and cannot be installed (no network), say so loudly and go on to the tests.
for c in fmt clippy; do
  if ! cargo "$c" --version >/dev/null 2>&1 && command -v rustup >/dev/null 2>&1; then
    rustup component add "$([ "$c" = fmt ] && echo rustfmt || echo clippy)" || true
  fi
done
if cargo fmt --version >/dev/null 2>&1; then
  step cargo fmt --check
else
  echo "genolm test: WARNING: rustfmt is not installed; formatting NOT checked" >&2
fi
if cargo clippy --version >/dev/null 2>&1; then
  step cargo clippy --all-targets "${F[@]}" -- -D warnings
else
  echo "genolm test: WARNING: clippy is not installed; lints NOT checked" >&2
fi
# Rustdoc: every intra-doc link resolves (a broken link is a warning, made an error here).
step env RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --lib "${F[@]}"
step cargo build --all-targets "${F[@]}"
step cargo test --all-targets "${F[@]}"
step cargo test --doc "${F[@]}"
step bash scripts/python-check.sh
if [ "${GENOLM_SKIP_NOTEBOOKS:-0}" != 1 ]; then
  step bash scripts/notebooks.sh
  step bash scripts/browser-check.sh runs/notebooks/quickstart/report
fi
step bash scripts/monitor-check.sh
