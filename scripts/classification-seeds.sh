#!/usr/bin/env bash
# The benchmark's classification rows (promoters, coding vs intergenic, read kingdom) for one
# model over several seeds — each seed draws its own split, reads, head initialisation and
# batch order — next to every baseline (per-class Markov chain, k-mer logistic regression,
# one-hot CNN from scratch), as mean ± sd: the table in docs/classification.md.
# Usage: scripts/classification-seeds.sh MODEL [SEEDS="1 2 3"] [OUT=runs/classification-seeds] [ITEMS=200]
# CORPUS=embedded (or a folder or manifest) draws the items from that corpus instead of the model's
# own: a model trained on another corpus then gets the same promoter and coding/intergenic items
# (the read tasks also use its training genomes that the corpus lacks, which bench adds).
# DATASETS="coding_vs_intergenic read_kingdom" runs only those rows (a seed of the whole task
# takes about half an hour on two cores, a coding/intergenic row a few minutes).
# HEAD_ONLY=1 trains only the LM's classifier head and the Markov baselines (a head recipe change
# in minutes); UNFREEZING=gradual (or all) trains the head with that unfreezing schedule.
# SIZES_EXTRA adds lines to each seed's sizes file (e.g. SIZES_EXTRA='classification_generative_steps = 20').
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=$1
SEEDS=${2:-"1 2 3"}
OUT=${3:-runs/classification-seeds}
ITEMS=${4:-200}
cargo build --release --bin genolm -q
BIN="${CARGO_TARGET_DIR:-target}/release/genolm"
mkdir -p "$OUT"
for s in $SEEDS; do
  printf 'seed = %s\nclassification_items = %s\nverbose = false\n' "$s" "$ITEMS" > "$OUT/sizes-seed$s.toml"
  if [ -n "${HEAD_ONLY:-}" ]; then
    echo 'classification_head_only = true' >> "$OUT/sizes-seed$s.toml"
  fi
  if [ -n "${UNFREEZING:-}" ]; then
    echo "classification_unfreezing = \"$UNFREEZING\"" >> "$OUT/sizes-seed$s.toml"
  fi
  if [ -n "${SIZES_EXTRA:-}" ]; then
    echo "$SIZES_EXTRA" >> "$OUT/sizes-seed$s.toml"
  fi
  if [ -n "${DATASETS:-}" ]; then
    printf 'classification_datasets = [%s]\n' "$(printf '"%s", ' $DATASETS | sed 's/, $//')" >> "$OUT/sizes-seed$s.toml"
  fi
  "$BIN" bench "$MODEL" --tasks classification --sizes "$OUT/sizes-seed$s.toml" --out "$OUT/seed$s" \
    ${CORPUS:+--corpus "$CORPUS"} \
    > "$OUT/seed$s.log" 2>&1 || { echo "seed $s failed"; tail -5 "$OUT/seed$s.log"; exit 1; }
done
python3 scripts/classification-table.py "$OUT"/seed*/report.json | tee "$OUT/table.md"
