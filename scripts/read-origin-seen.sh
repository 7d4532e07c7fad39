#!/bin/bash
# Read origin two ways (docs/training.md, "Seed 003's 0.88 is another task"): the benchmark's
# held-out regions, and seed 003's design (test reads drawn from the sequences the training
# reads came from). 11 species of ../shared/data, 150-nt reads, either strand, class LMs from
# pretrained:lstm_small_extended next to the baselines. Results: docs/results/classification/read-origin-seen/.
# Usage: scripts/read-origin-seen.sh [OUT=runs/read-origin-seen] [SEED=1]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-runs/read-origin-seen}; SEED=${2:-1}
G=${GENOLM:-genolm}
mkdir -p "$OUT"
run() { # NAME TRAIN TEST
  $G classify --lm pretrained:lstm_small_extended --generative --both-strands --baselines -q \
    --seed "$SEED" --data "$2" --test "$3" --out "$OUT/$1" | tee "$OUT/$1.log"
}
# the benchmark's design: training reads from the first 80 % of each contig, test from the last 20 %
python3 scripts/read-origin-reads.py 160 50 "$SEED" "$OUT/genome"
run genome-160 "$OUT/genome-train.csv" "$OUT/genome-test.csv"
# seed 003's design: training reads from ten 1.5-kb windows per species, test reads from the same
# windows (seen) and from the last 20 % (unseen); 160, 640 and 2 560 training reads per species
for n in 160 640 2560; do
  python3 scripts/read-origin-reads.py $n 50 "$SEED" "$OUT/w$n" 10
  run windows-$n-seen "$OUT/w$n-train.csv" "$OUT/w$n-test-seen.csv"
done
run windows-160-unseen "$OUT/w160-train.csv" "$OUT/w160-test.csv"
