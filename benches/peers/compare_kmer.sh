#!/usr/bin/env bash
# Side-by-side, one run: genolm vs Biopython, FASTA(.gz) -> k-mer ids on the same genome.
# Usage: benches/peers/compare_kmer.sh [GENOME.fa.gz]
set -euo pipefail
cd "$(dirname "$0")/../.."
genome=${1:-../shared/data/pro/escherichia_coli_MG1655.fa.gz}
venv=${GENOLM_PEER_VENV:-$HOME/.cache/genolm/peer-venv}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "biopython==1.85"
fi
out=$(mktemp)
cargo bench -q --bench kmer_throughput -- "$genome" | tee "$out"
"$venv/bin/python" benches/peers/kmer_biopython.py "$genome" | tee -a "$out"
python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
by = {(r["tool"], r["input"], r["k"], r["stride"]): r for r in rows}
print(f"\n{'input':6} {'k':>2} {'s':>2} {'genolm MB/s':>12} {'biopython MB/s':>15} {'ratio':>7}")
for (tool, inp, k, s), r in by.items():
    if tool != "genolm":
        continue
    p = by.get(("biopython", inp, k, s))
    if p:
        assert p["tokens"] == r["tokens"], ("token counts differ", r, p)
        print(f"{inp:6} {k:>2} {s:>2} {r['mb_per_s']:>12.1f} {p['mb_per_s']:>15.1f} {r['mb_per_s']/p['mb_per_s']:>6.1f}x")
PY
