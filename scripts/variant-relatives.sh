#!/usr/bin/env bash
# Missense against synonymous on held-out genomes that have a relative among the training
# genomes: the two held-out H. pylori strains (ELS37 trains), annotated by their long ORFs
# (scripts/long-orfs.py: ATG..stop >= 900 nt, checked against the annotated genomes shipped),
# scored by the variant task's sample (examples/variant_sites.rs) and summarised by
# scripts/variant-sites.py. docs/benchmark-results.md, "A relative in training".
# Usage: scripts/variant-relatives.sh [MODEL] [CORPUS] [OUT]   (≈ 5 min on two cores)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-pretrained:lstm_small_extended2_gorilla}
corpus=${2:-datasets/extended2_gorilla.json}
out=${3:-docs/results/variants/relatives}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/orfs"
for d in pro euk vir; do ln -s "$PWD/datasets/$d" "$work/$d"; done
for gb in ../shared/data/euk/arabidopsis_thaliana_chloroplast.gb ../shared/data/vir/phiX174.gbk \
  ../shared/data/pro/yersinia_pestis_pPCP1.gb; do
  if [ -f "$gb" ]; then python3 scripts/long-orfs.py --check "$gb"; fi
done > "$out/long-orfs-check.txt"
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
grep -c CDS "$work"/orfs/*.gff3 | sed "s|$work/orfs/||" >> "$out/long-orfs-check.txt"
cargo build -q --release --example variant_sites
name=$(basename "${model#pretrained:}")
"${CARGO_TARGET_DIR:-target}/release/examples/variant_sites" "$model" "$work/corpus.json" 2000 256 > "$work/sites.csv"
python3 scripts/variant-sites.py "$work/sites.csv" | tee "$out/$name.txt"
