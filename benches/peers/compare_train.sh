#!/usr/bin/env bash
# Side-by-side AWD-LSTM LM training throughput: genolm (candle, CPU) vs PyTorch, same config,
# same machine and threads, in one run. Prints both JSON lines and the ratio.
# The PyTorch venv is made by benches/peers/setup_peer_venv.sh (biopython + torch).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PEER_PY:-$HOME/.cache/genolm/peer-venv/bin/python}
BATCHES=${BATCHES:-20}
THREADS=${THREADS:-$(nproc)}
export RAYON_NUM_THREADS=$THREADS OMP_NUM_THREADS=$THREADS
R=$(cargo bench -q --bench train_throughput -- --bench --batches "$BATCHES" | tail -1)
P=$("$PY" benches/peers/awd_lstm_torch.py --batches "$BATCHES" --threads "$THREADS" | tail -1)
echo "$R"
echo "$P"
python3 - "$R" "$P" <<'PY'
import json, sys
r, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"genolm / pytorch tokens/s = {r['tokens_per_s']:.0f} / {p['tokens_per_s']:.0f} = {r['tokens_per_s'] / p['tokens_per_s']:.2f}x")
PY
