#!/usr/bin/env bash
# Every architecture at the same realistic budget (issue 20): about 20 minutes of training on
# this project's 2-core CPU each, benchmarked with the whole suite; docs/benchmark-results.md
# shows the table. The budget is a fixed step count per architecture (configs/architectures/
# *.toml, measured once with `calibrate`), so a rerun gives the same numbers on a busy machine;
# the AWD-LSTM row is the shipped pretrained model (the same 20-minute budget, 9 000 steps).
#
#   scripts/architectures.sh calibrate [PRESETS]   # seconds per step → batches per epoch for 20 min
#   scripts/architectures.sh run [PRESETS]         # train (≈ 20 min each) + bench (2–8 min each)
#   scripts/architectures.sh table                 # markdown table from docs/results/architectures
#
# `run` keeps each model's summary.json, metrics.jsonl(.gz) and bench report in
# docs/results/architectures/<preset>/ (small files), so the table can be rebuilt, and a sweep
# split over several sessions, without the checkpoints.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
MODE=${1:-run}
shift || true
ALL="lstm_small cnn_small cnn_lstm_small dilated_small transformer_small transformer_mlm_small"
PRESETS=${*:-$ALL}
BUDGET_S=${BUDGET_S:-1140}   # seconds of optimizer steps (+ ≈ 1 min of validation = 20 min)
RESULTS=docs/results/architectures
NO_FRAGMENT=transfer,rare_species,conservation,impute_nucleotide,neurons_aa,neurons_cds,importance,classification,variants,cost
# BIN=path uses a binary built beforehand (e.g. a copy, so rebuilding during a long sweep does
# not change the code that later steps of the sweep run)
if [ -z "${BIN:-}" ]; then
  cargo build --release --bin genolm -q
  BIN="${CARGO_TARGET_DIR:-target}/release/genolm"
fi
mkdir -p runs/arch20 "$RESULTS"

case "$MODE" in
calibrate)
  for p in $PRESETS; do
    out="runs/arch20/calibrate_$p"
    rm -rf "$out"
    "$BIN" train --config "configs/architectures/$p.toml" --epochs 1 --max-batches 60 \
      --output "$out" > "$out.log" 2>&1
    python3 - "$out/metrics.jsonl" "$p" "$BUDGET_S" <<'PY'
import json, statistics, sys
path, preset, budget = sys.argv[1], sys.argv[2], float(sys.argv[3])
t = [r["time"] for r in map(json.loads, open(path)) if r["kind"] == "step"]
dt = statistics.median(b - a for a, b in zip(t[10:], t[11:]))
print(f"{preset}: {dt:.3f} s/step → max_batches = {round(budget / dt / 6)} (6 epochs)")
PY
  done
  ;;
run)
  for p in $PRESETS; do
    out="runs/arch20/$p"
    if [ ! -f "$out/summary.json" ]; then
      /usr/bin/env time -f "%e s wall, %M KiB peak" -o "$out.train.time" \
        "$BIN" train --config "configs/architectures/$p.toml" > "runs/arch20/$p.train.log" 2>&1 \
        || { echo "$p: training failed"; tail -5 "runs/arch20/$p.train.log"; exit 1; }
    fi
    # Gene-sized imputation re-reads the whole left context for every sampled base of a causal
    # model that cannot carry a state from step to step (CNNs; LSTMs carry their state, causal
    # transformers their key/value cache): 32 samples × 300 bases × 12 gaps take hours on two
    # cores, so their suite skips that task. The MLM fills by refinement (10 rounds per sample).
    tasks=()
    case "$p" in
      lstm_small|awd_lstm_small|transformer_small|transformer_mlm_small) ;;
      *) tasks=(--tasks "$NO_FRAGMENT") ;;
    esac
    if [ ! -f "$out/bench/report.json" ]; then
      /usr/bin/env time -f "%e s wall, %M KiB peak" -o "$out.bench.time" \
        "$BIN" bench "$out" "${tasks[@]}" --out "$out/bench" > "runs/arch20/$p.bench.log" 2>&1 \
        || { echo "$p: bench failed"; tail -5 "runs/arch20/$p.bench.log"; exit 1; }
    fi
    mkdir -p "$RESULTS/$p"
    cp "$out/summary.json" "$out/bench/report.json" "$out.train.time" "$out.bench.time" "$RESULTS/$p/"
    gzip -9 -n -c "$out/metrics.jsonl" > "$RESULTS/$p/metrics.jsonl.gz"
    cp "configs/architectures/$p.toml" "$RESULTS/$p/run.toml"
    echo "$p: $(cat "$out.train.time") training; results in $RESULTS/$p"
  done
  # the shipped AWD-LSTM (configs/awd_lstm_long.toml, 9 000 steps, 20.9 min): bench only
  p=awd_lstm_small
  if [ ! -f "$RESULTS/$p/report.json" ]; then
    out="runs/arch20/$p"
    mkdir -p "$out" "$RESULTS/$p"
    /usr/bin/env time -f "%e s wall, %M KiB peak" -o "$out.bench.time" \
      "$BIN" bench pretrained --out "$out/bench" > "runs/arch20/$p.bench.log" 2>&1
    cp models/pretrained/awd_lstm_long/summary.json "$out/bench/report.json" "$out.bench.time" "$RESULTS/$p/"
    cp configs/awd_lstm_long.toml "$RESULTS/$p/run.toml"
  fi
  ;;
table)
  python3 scripts/architectures-table.py "$RESULTS"
  ;;
*)
  echo "usage: scripts/architectures.sh calibrate|run|table [PRESETS]" >&2
  exit 2
  ;;
esac
