#!/usr/bin/env bash
# A corpus manifest in which the held-out H. pylori strains (G27, Puno120; ELS37 trains) carry a
# stand-in annotation: their open reading frames of at least 900 nt (scripts/long-orfs.py, ATG to
# the first in-frame stop, checked against the annotated genomes shipped). Used by
# scripts/variant-relatives.sh and, as CORPUS=WORK/corpus.json, scripts/decoder-table.sh.
#   scripts/long-orfs-corpus.sh CORPUS WORK   → WORK/corpus.json (and WORK/orfs/*.gff3)
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=$1
work=$2
mkdir -p "$work/orfs"
for d in pro euk vir; do ln -sfn "$PWD/datasets/$d" "$work/$d"; done
for g in G27 Puno120; do
  python3 scripts/long-orfs.py "datasets/pro/helicobacter_pylori_$g.fa.gz" > "$work/orfs/hpylori_$g.gff3"
done
python3 - "$corpus" "$work" <<'PY'
import hashlib, json, sys
corpus, work = sys.argv[1], sys.argv[2]
m = json.load(open(corpus))
m["name"] += "-long-orfs"
for g in m["genomes"]:
    if g["id"] in ("hpylori_G27", "hpylori_Puno120"):
        p = f"orfs/{g['id']}.gff3"
        g["files"].append({"path": p, "format": "gff3",
                           "sha256": hashlib.sha256(open(f"{work}/{p}", "rb").read()).hexdigest(),
                           "source_package": "scripts/long-orfs.py (ATG..stop, >= 900 nt)",
                           "path_in_package": "-", "license": "-"})
json.dump(m, open(f"{work}/corpus.json", "w"), indent=2)
PY
