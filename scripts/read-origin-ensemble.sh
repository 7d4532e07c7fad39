#!/bin/bash
# Read origin (the benchmark's design: 11 species of ../shared/data, 160 training reads per
# species from the first 80 % of each contig, 50 test reads from the last 20 %) with class LMs
# from several LMs, averaged, next to the best shipped LM alone (docs/training.md, "From the
# command line"). Results: docs/results/classification/read-origin-ensemble/.
# Usage: scripts/read-origin-ensemble.sh OUT "SEEDS" LM [LM …]
#   e.g. scripts/read-origin-ensemble.sh runs/ro-ens "1 2 3" pretrained:lstm_small_extended2_gorilla \
#        runs/extended2/lstm_small_gorilla_s{1,2,3,4} runs/extended2c/lstm_small_gorilla_s{42,1}
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=$1; SEEDS=$2; shift 2
G=${GENOLM:-genolm}
mkdir -p "$OUT"
lms=(); for lm in "$@"; do lms+=(--lm "$lm"); done
for s in $SEEDS; do
  python3 scripts/read-origin-reads.py 160 50 "$s" "$OUT/r$s"
  $G classify "${lms[@]}" --generative --both-strands -q --seed "$s" \
    --data "$OUT/r$s-train.csv" --test "$OUT/r$s-test.csv" --out "$OUT/ens-s$s" | tee "$OUT/ens-s$s.log"
  $G classify --lm pretrained:lstm_small_extended --generative --both-strands --baselines -q --seed "$s" \
    --data "$OUT/r$s-train.csv" --test "$OUT/r$s-test.csv" --out "$OUT/ext-s$s" | tee "$OUT/ext-s$s.log"
done
