#!/usr/bin/env bash
# Side-by-side, alternating rounds in one run: genolm vs Biopython (dictionary loop) and
# Biopython + numpy (vectorised), FASTA(.gz) -> k-mer ids on the same genome, one thread each.
# Prints per case the median and range over rounds of genolm's ratio to each peer.
# Usage: benches/peers/compare_kmer.sh [GENOME.fa.gz]   (ROUNDS=3 by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
genome=${1:-../shared/data/pro/escherichia_coli_MG1655.fa.gz}
venv=${GENOLM_PEER_VENV:-$HOME/.cache/genolm/peer-venv}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import Bio, numpy" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q "biopython==1.85" "numpy==2.2.6"
fi
out=$(mktemp)
cargo bench -q --bench kmer_throughput --no-run
for r in $(seq "${ROUNDS:-3}"); do
  cargo bench -q --bench kmer_throughput -- "$genome" | sed "s/^{/{\"round\": $r, /" | tee -a "$out"
  "$venv/bin/python" benches/peers/kmer_biopython.py "$genome" | sed "s/^{/{\"round\": $r, /" | tee -a "$out"
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
cases = sorted({(r["input"], r["k"], r["stride"]) for r in rows if r["tool"] == "genolm"})
peers = sorted({r["tool"] for r in rows} - {"genolm"})
print(f"\n{'input':6} {'k':>2} {'s':>2} {'genolm MB/s':>12} " + " ".join(f"{p + ' MB/s':>22} {'ratio (range)':>18}" for p in peers))
for c in cases:
    g = {r["round"]: r for r in rows if r["tool"] == "genolm" and (r["input"], r["k"], r["stride"]) == c}
    line = f"{c[0]:6} {c[1]:>2} {c[2]:>2} {statistics.median(r['mb_per_s'] for r in g.values()):>12.1f} "
    for p in peers:
        q = {r["round"]: r for r in rows if r["tool"] == p and (r["input"], r["k"], r["stride"]) == c}
        for rd in q:
            assert q[rd]["tokens"] == g[rd]["tokens"], ("token counts differ", g[rd], q[rd])
        ratios = [g[rd]["mb_per_s"] / q[rd]["mb_per_s"] for rd in q if rd in g]
        line += f"{statistics.median(r['mb_per_s'] for r in q.values()):>22.1f} {statistics.median(ratios):>7.1f}x ({min(ratios):.1f}-{max(ratios):.1f}) "
    print(line)
PY
