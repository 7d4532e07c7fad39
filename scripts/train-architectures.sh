#!/usr/bin/env bash
# Train every architecture on the embedded corpus under the same budget and print a markdown
# table of held-out loss per kingdom against the informed-random point (docs/training.md).
# Usage: scripts/train-architectures.sh [EPOCHS] [BATCHES]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
EPOCHS=${1:-1}
BATCHES=${2:-150}
cargo build --release --bin genolm -q
BIN="${CARGO_TARGET_DIR:-target}/release/genolm"
for p in awd_lstm_small lstm_small cnn_small cnn_lstm_small dilated_small transformer_small transformer_mlm_small; do
  "$BIN" train --config configs/awd_lstm_small.toml --preset "$p" --output "runs/arch_$p" \
    --epochs "$EPOCHS" --max-batches "$BATCHES" > "runs/arch_$p.log" 2>&1 || { echo "$p failed"; tail -5 "runs/arch_$p.log"; }
done
python3 - <<'PY'
import json, os
print("| model | arch | params | kingdom | valid loss | ln(4^s) | valid acc | test loss | minutes |")
print("|---|---|---|---|---|---|---|---|---|")
for p in ["awd_lstm_small", "lstm_small", "cnn_small", "cnn_lstm_small", "dilated_small", "transformer_small", "transformer_mlm_small"]:
    f = f"runs/arch_{p}/summary.json"
    if not os.path.exists(f):
        continue
    s = json.load(open(f))
    test = {r["kingdom"]: r for r in s["test"]}
    for r in s["valid"]:
        t = test.get(r["kingdom"], {})
        print(f"| {p} | {s['arch']} | {s['n_params']} | {r['kingdom']} | {r['loss']:.4f} | {r['informed_random']:.4f} | {r['accuracy']:.4f} | {t.get('loss', float('nan')):.4f} | {s['minutes']:.1f} |")
PY
