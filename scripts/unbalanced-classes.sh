#!/usr/bin/env bash
# Rare classes: `genolm classify` with and without --balanced on the whole genome-window pool
# (53 E. coli promoters against 1 060 windows of the same genome, 1:20), the linear probe and
# the fine-tuned head and the class LMs of one LM, the baselines beside the probe, one stratified 80/20 split per
# seed (11 test promoters). Writes OUT/<method>-<weighting>-seed<s>/ and the table of
# docs/training.md ("Rare classes") via scripts/unbalanced-classes.py.
# Usage: scripts/unbalanced-classes.sh [LM=pretrained:lstm_small_extended2_gorilla] [SEEDS="1 2 3 4 5"] [OUT=runs/unbalanced]
# About 4 minutes per seed on two cores (the heads and the baselines' CNNs); WEIGHTINGS=balanced
# runs only the --balanced half.
set -euo pipefail
cd "$(dirname "$0")/.."
LM=${1:-pretrained:lstm_small_extended2_gorilla}
SEEDS=${2:-"1 2 3 4 5"}
OUT=${3:-runs/unbalanced}
DATA=${DATA:-datasets/labelled/ecoli_promoters_genome.csv.gz}
cargo build --release --bin genolm -q
BIN="${CARGO_TARGET_DIR:-target}/release/genolm"
mkdir -p "$OUT"
for s in $SEEDS; do
  for w in ${WEIGHTINGS:-plain balanced}; do
    flag=""
    [ "$w" = balanced ] && flag="--balanced"
    "$BIN" classify --lm "$LM" --data "$DATA" --seed "$s" --probe --baselines $flag -q \
      --out "$OUT/probe-$w-seed$s" > "$OUT/probe-$w-seed$s.log" 2>&1
    "$BIN" classify --lm "$LM" --data "$DATA" --seed "$s" $flag -q \
      --out "$OUT/head-$w-seed$s" > "$OUT/head-$w-seed$s.log" 2>&1
    "$BIN" classify --lm "$LM" --data "$DATA" --seed "$s" --generative $flag -q \
      --out "$OUT/gen-$w-seed$s" > "$OUT/gen-$w-seed$s.log" 2>&1
    echo "seed $s $w done"
  done
done
python3 scripts/unbalanced-classes.py "$OUT"
