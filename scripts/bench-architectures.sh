#!/usr/bin/env bash
# Run the benchmark suite (seed 002) on every architecture trained by
# scripts/train-architectures.sh (same budget, embedded corpus) and write the comparison table
# to docs/benchmark-results.md.   Usage: scripts/bench-architectures.sh [SIZES]
# SIZES: default | quick | a BenchOptions JSON/TOML file.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
SIZES=${1:-default}
cargo build --release --bin genolm -q
BIN="${CARGO_TARGET_DIR:-target}/release/genolm"
# GNU time reports wall clock and peak memory when installed (Debian package `time`)
TIME=""
[ -x /usr/bin/time ] && TIME="/usr/bin/time -v"
MODELS="${MODELS:-awd_lstm_small lstm_small cnn_small cnn_lstm_small dilated_small transformer_small transformer_mlm_small}"
for p in $MODELS; do
  if [ ! -f "runs/arch_$p/model.safetensors" ]; then
    echo "runs/arch_$p missing: run scripts/train-architectures.sh first" >&2; exit 1
  fi
  $TIME "$BIN" bench "runs/arch_$p" --sizes "$SIZES" --out "runs/bench_arch_$p" \
    > "runs/bench_arch_$p.log" 2>&1 || { echo "$p failed"; tail -5 "runs/bench_arch_$p.log"; exit 1; }
done
python3 scripts/bench-table.py $MODELS > docs/benchmark-results.md.new
mv docs/benchmark-results.md.new docs/benchmark-results.md
echo "wrote docs/benchmark-results.md"
