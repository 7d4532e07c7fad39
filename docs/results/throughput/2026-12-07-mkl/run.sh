#!/usr/bin/env bash
# The oneMKL experiment of 2026-12-07 (docs/benchmarks.md): genolm's CPU products through the
# `gemm` crate, through oneMKL (mkl.patch, the `mkl` feature), and PyTorch, in alternating
# rounds. Run from a clean checkout of the commit that added this folder:
#   python3 -m pip install --prefix ~/.cache/genolm/mkl mkl mkl-devel mkl-include
#   bash docs/results/throughput/2026-12-07-mkl/run.sh > docs/results/throughput/2026-12-07-mkl/log.txt
set -euo pipefail
cd "$(dirname "$0")/../../../.."
export MKLROOT=${MKLROOT:-$HOME/.cache/genolm/mkl} RAYON_NUM_THREADS=2 OMP_NUM_THREADS=2
PY=${PEER_PY:-$HOME/.cache/genolm/peer-venv/bin/python}
bin() { cargo bench -q --bench train_throughput "$@" --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m["target"]["name"]=="train_throughput" and m.get("executable"): print(m["executable"])' | tail -1; }
DEF=$(bin)
git apply docs/results/throughput/2026-12-07-mkl/mkl.patch
trap 'git apply -R docs/results/throughput/2026-12-07-mkl/mkl.patch' EXIT
MKL=$(bin --features mkl)
show() { python3 -c 'import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print("%.0f train, %.0f infer tokens/s" % (d["tokens_per_s"], d["infer_tokens_per_s"]))'; }
lscpu | grep "Model name"
for spec in "awd_lstm_small 40 5" "ulmfit_paper 10 3"; do
  set -- $spec
  for r in $(seq "$3"); do
    echo "$1 round $r gemm:    $("$DEF" --bench --batches "$2" --preset "$1" --bptt 64 | show)"
    echo "$1 round $r oneMKL:  $("$MKL" --bench --batches "$2" --preset "$1" --bptt 64 | show)"
    echo "$1 round $r PyTorch: $("$PY" benches/peers/awd_lstm_torch.py --batches "$2" --threads 2 --preset "$1" | show)"
  done
done
