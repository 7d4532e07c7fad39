#!/usr/bin/env bash
# Every throughput ratio of docs/benchmarks.md in one run, on this machine: FASTA(.gz) -> k-mer
# ids against Biopython and Biopython + numpy (compare_kmer.sh), one core's gzip decoders
# (gzip_decoders/), and LM training and inference against PyTorch for the three presets of the
# table (compare_train.sh, with the table's rounds and batches). Each output goes to
# OUT/<name>.txt (default docs/results/throughput/<today>/), with the CPU model at the top.
# Needs the peer venv of compare_train.sh (torch) and compare_kmer.sh (biopython, numpy);
# ≈ 10-15 minutes on two cores. Run it with nothing else running: the ratios come from
# alternating rounds, but a busy machine still skews them.
# Usage: benches/peers/compare_all.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${1:-docs/results/throughput/$(date +%F)}
mkdir -p "$out"
genome=../shared/data/pro/escherichia_coli_MG1655.fa.gz
host() { lscpu | grep -m1 'Model name' | sed 's/  */ /g'; echo "threads: $(nproc)"; }
run() { # name, command...
  local name=$1
  shift
  echo "== $name: $*" >&2
  { host; echo "command: $*"; "$@"; } > "$out/$name.txt" 2>&1
  tail -4 "$out/$name.txt" >&2
}
run kmer env ROUNDS=5 benches/peers/compare_kmer.sh "$genome"
run gzip_decoders cargo run -q --release --manifest-path benches/peers/gzip_decoders/Cargo.toml -- "$genome" 7
run awd_small env ROUNDS=7 BATCHES=40 benches/peers/compare_train.sh
run mlm env PRESET=transformer_mlm_small ROUNDS=5 BATCHES=20 benches/peers/compare_train.sh
run paper env PRESET=ulmfit_paper ROUNDS=3 BATCHES=10 benches/peers/compare_train.sh
echo "outputs in $out" >&2
