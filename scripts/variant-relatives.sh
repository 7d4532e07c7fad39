#!/usr/bin/env bash
# Missense against synonymous on held-out genomes that have a relative among the training
# genomes: the two held-out H. pylori strains (ELS37 trains), annotated by their long ORFs
# (scripts/long-orfs.py: ATG..stop >= 900 nt, checked against the annotated genomes shipped),
# scored by the variant task's sample (examples/variant_sites.rs) and summarised by
# scripts/variant-sites.py. docs/benchmark-results.md, "A relative in training".
# Usage: scripts/variant-relatives.sh [MODEL] [CORPUS] [OUT]   (≈ 5 min on two cores)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-pretrained:lstm_small_extended2_gorilla}
corpus=${2:-datasets/extended2_gorilla.json}
out=${3:-docs/results/variants/relatives}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
for gb in ../shared/data/euk/arabidopsis_thaliana_chloroplast.gb ../shared/data/vir/phiX174.gbk \
  ../shared/data/pro/yersinia_pestis_pPCP1.gb; do
  if [ -f "$gb" ]; then python3 scripts/long-orfs.py --check "$gb"; fi
done > "$out/long-orfs-check.txt"
scripts/long-orfs-corpus.sh "$corpus" "$work"
grep -c CDS "$work"/orfs/*.gff3 | sed "s|$work/orfs/||" >> "$out/long-orfs-check.txt"
cargo build -q --release --example variant_sites
name=$(basename "${model#pretrained:}")
"${CARGO_TARGET_DIR:-target}/release/examples/variant_sites" "$model" "$work/corpus.json" 2000 256 > "$work/sites.csv"
python3 scripts/variant-sites.py "$work/sites.csv" | tee "$out/$name.txt"
