#!/usr/bin/env bash
# Side-by-side AWD-LSTM LM training throughput: genolm (candle, CPU) vs PyTorch, same config,
# same machine and threads, in one run. Runs ROUNDS alternating rounds (genolm, then PyTorch)
# and prints every JSON line, each round's ratio and the median ratio: on a shared VM the
# machine's speed drifts by tens of per cent within minutes, so only ratios taken seconds
# apart mean anything.
# The PyTorch venv: python3 -m venv ~/.cache/genolm/peer-venv && ~/.cache/genolm/peer-venv/bin/pip install torch
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PEER_PY:-$HOME/.cache/genolm/peer-venv/bin/python}
BATCHES=${BATCHES:-20}
ROUNDS=${ROUNDS:-3}
THREADS=${THREADS:-$(nproc)}
export RAYON_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS
cargo bench -q --bench train_throughput --no-run
lines=()
for _ in $(seq "$ROUNDS"); do
  R=$(cargo bench -q --bench train_throughput -- --bench --batches "$BATCHES" | tail -1)
  P=$("$PY" benches/peers/awd_lstm_torch.py --batches "$BATCHES" --threads "$THREADS" | tail -1)
  echo "$R"
  echo "$P"
  lines+=("$R" "$P")
done
python3 - "${lines[@]}" <<'PY'
import json, statistics, sys
rows = [json.loads(a) for a in sys.argv[1:]]
ratios = []
for r, p in zip(rows[::2], rows[1::2]):
    ratios.append(r["tokens_per_s"] / p["tokens_per_s"])
    print(f"round {len(ratios)}: genolm / pytorch tokens/s = {r['tokens_per_s']:.0f} / {p['tokens_per_s']:.0f} = {ratios[-1]:.2f}x")
print(f"median genolm / pytorch over {len(ratios)} rounds = {statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f})")
PY
