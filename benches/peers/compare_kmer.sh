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
  RAYON_NUM_THREADS=1 cargo bench -q --bench kmer_throughput -- "$genome" \
    | sed -e "s/^{/{\"round\": $r, /" -e 's/"tool":"genolm"/"tool":"genolm_1thread"/' | tee -a "$out"
  "$venv/bin/python" benches/peers/kmer_biopython.py "$genome" | sed "s/^{/{\"round\": $r, /" | tee -a "$out"
done
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
cases = sorted({(r["input"], r["k"], r["stride"]) for r in rows if r["tool"] == "genolm"})
ours = [t for t in ("genolm", "genolm_1thread") if any(r["tool"] == t for r in rows)]
peers = sorted({r["tool"] for r in rows} - set(ours))
med = lambda xs: statistics.median(xs)
print(f"\n{'input':6} {'k':>2} {'s':>2} " + " ".join(f"{t + ' MB/s':>20}" for t in ours)
      + " " + " ".join(f"{p + ' MB/s':>22} " + " ".join(f"{'ratio ' + t:>24}" for t in ours) for p in peers))
for c in cases:
    sel = lambda tool: {r["round"]: r for r in rows if r["tool"] == tool and (r["input"], r["k"], r["stride"]) == c}
    mine = {t: sel(t) for t in ours}
    line = f"{c[0]:6} {c[1]:>2} {c[2]:>2} " + " ".join(f"{med(r['mb_per_s'] for r in mine[t].values()):>20.1f}" for t in ours)
    for p in peers:
        q = sel(p)
        line += f" {med(r['mb_per_s'] for r in q.values()):>22.1f}"
        for t in ours:
            g = mine[t]
            for rd in q:
                assert q[rd]["tokens"] == g[rd]["tokens"], ("token counts differ", g[rd], q[rd])
            ratios = [g[rd]["mb_per_s"] / q[rd]["mb_per_s"] for rd in q if rd in g]
            line += f" {med(ratios):>10.1f}x ({min(ratios):.1f}-{max(ratios):.1f})"
    print(line)
PY
