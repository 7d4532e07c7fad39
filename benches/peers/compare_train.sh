#!/usr/bin/env bash
# Side-by-side LM training throughput: genolm (candle, CPU) vs PyTorch, same config, same
# machine and threads, in one run. PRESET=awd_lstm_small (default) or ulmfit_paper (peer awd_lstm_torch.py) or
# PRESET=transformer_mlm_small (peer transformer_mlm_torch.py, BPTT=128 by default). BATCH=B rows
# per batch (32 by default). Runs ROUNDS alternating rounds (genolm, then PyTorch)
# and prints every JSON line, each round's ratio and the median ratio: on a shared VM the
# machine's speed drifts by tens of per cent within minutes, so only ratios taken seconds
# apart mean anything.
# The PyTorch venv: python3 -m venv ~/.cache/genolm/peer-venv && ~/.cache/genolm/peer-venv/bin/pip install torch
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PEER_PY:-$HOME/.cache/genolm/peer-venv/bin/python}
BATCHES=${BATCHES:-20}
PRESET=${PRESET:-awd_lstm_small}
case "$PRESET" in
  transformer_mlm_small) PEER=benches/peers/transformer_mlm_torch.py; BPTT=${BPTT:-128} ;;
  *) PEER=benches/peers/awd_lstm_torch.py; BPTT=${BPTT:-64} ;;
esac
ROUNDS=${ROUNDS:-3}
BATCH=${BATCH:-32}
THREADS=${THREADS:-$(nproc)}
export RAYON_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS
cargo bench -q --bench train_throughput --no-run
lines=()
for _ in $(seq "$ROUNDS"); do
  R=$(cargo bench -q --bench train_throughput -- --bench --batches "$BATCHES" --preset "$PRESET" --bptt "$BPTT" --batch "$BATCH" | tail -1)
  if [ "$PEER" = benches/peers/transformer_mlm_torch.py ]; then
    P=$("$PY" "$PEER" --batches "$BATCHES" --threads "$THREADS" --bptt "$BPTT" --batch "$BATCH" | tail -1)
  else
    P=$("$PY" "$PEER" --batches "$BATCHES" --threads "$THREADS" --preset "$PRESET" --batch "$BATCH" --bptt "$BPTT" | tail -1)
  fi
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
inf = [r["infer_tokens_per_s"] / p["infer_tokens_per_s"] for r, p in zip(rows[::2], rows[1::2]) if "infer_tokens_per_s" in p]
if inf:
    print(f"inference (eval forward): median genolm / pytorch = {statistics.median(inf):.2f}x (range {min(inf):.2f}-{max(inf):.2f})")
for name, rs in (("genolm", rows[::2]), ("pytorch", rows[1::2])):
    print(f"{name} peak RSS: " + ", ".join(f"{r.get('peak_rss_mib', float('nan')):.0f}" for r in rs) + " MiB")
PY
