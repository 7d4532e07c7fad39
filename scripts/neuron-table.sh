#!/usr/bin/env bash
# Explainable neurons per held-out annotated genome for every 20-minute model of
# docs/benchmark-results.md: the benchmark's neurons_cds and neurons_aa tasks (the best single
# neuron against a circular-shift null, and the sparse probe scored by blocked cross-validation
# along the genome), on both strands (the benchmark's default since 2026-12-03). Needs the trained
# models of `scripts/architectures.sh run` in runs/arch20/ (the AWD-LSTM and LSTM columns are the
# shipped pretrained models; a model without a checkpoint keeps its committed column, marked
# "forward strand only" when it predates reading both strands). About 2 minutes a model on 2 cores. Prints the
# Markdown table of docs/benchmark-results.md ("Explainable neurons per genome"); each model's
# report.json is kept in docs/results/neurons/<model>/ (the table is built from there).
#   scripts/neuron-table.sh [OUT]          # run (skips models already done) and print
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-runs/neurons}"
source scripts/setup.sh
cargo build --release --bin genolm >&2
bin="$CARGO_TARGET_DIR/release/genolm"
models="awd_lstm_small lstm_small cnn_small cnn_lstm_small dilated_small transformer_small transformer_mlm_small"
mkdir -p "$out"
for p in $models; do
  m="runs/arch20/$p"
  [ "$p" = awd_lstm_small ] && m=pretrained
  # the 20-minute lstm_small is shipped: its checkpoint need not be in runs/arch20
  [ "$p" = lstm_small ] && [ ! -f "$m/model.safetensors" ] && m=pretrained:lstm_small
  if [ "${m#pretrained}" = "$m" ] && [ ! -f "$m/model.safetensors" ]; then
    # a model whose checkpoint this checkout lacks keeps its committed column (from an earlier
    # run; the report's date and options say which)
    echo "$p: no checkpoint in $m; keeping docs/results/neurons/$p" >&2
    continue
  fi
  if [ ! -f "$out/$p/report.json" ]; then
    "$bin" bench "$m" --tasks neurons_cds,neurons_aa --out "$out/$p" > "$out/$p.log" 2>&1 \
      || { echo "$p: bench failed" >&2; tail -5 "$out/$p.log" >&2; exit 1; }
  fi
  mkdir -p "docs/results/neurons/$p"
  cp "$out/$p/report.json" "docs/results/neurons/$p/"
done
python3 - docs/results/neurons $models <<'PY'
import json, sys
out, models = sys.argv[1], sys.argv[2:]
rows = {}
for m in models:
    for r in json.load(open(f"{out}/{m}/report.json"))["rows"]:
        ex = {e[0]: (e[1], e[2]) for e in r["extra"]}
        rows.setdefault((r["task"], r["dataset"]), {})[m] = (r["value"], r["baseline"], ex)
def strands(m):
    opts = json.load(open(f"{out}/{m}/report.json")).get("options", {})
    return "" if opts.get("neuron_reverse_strand", False) else " (forward strand only)"
print("| task | genome | metric | " + " | ".join(m + strands(m) for m in models) + " |")
print("|" + "---|" * (3 + len(models)))
for (task, ds), by in sorted(rows.items()):
    what = "CDS" if task == "neurons_cds" else "amino acids (mean)"
    cells = [f"{by[m][0]:.3f} (null {by[m][1]:.3f})" if m in by else "–" for m in models]
    print(f"| {what} | {ds} | best single neuron AUROC | " + " | ".join(cells) + " |")
    cells = [f"{by[m][2]['probe_auroc'][0]:.3f}" if m in by else "–" for m in models]
    print(f"| {what} | {ds} | probe AUROC (blocked 5-fold) | " + " | ".join(cells) + " |")
    cells = [f"{by[m][2]['probe_accuracy'][0]:.3f} ({by[m][2]['probe_accuracy'][1]:.3f})" if m in by else "–" for m in models]
    print(f"| {what} | {ds} | probe accuracy (majority class) | " + " | ".join(cells) + " |")
PY
