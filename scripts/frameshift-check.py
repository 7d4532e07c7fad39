#!/usr/bin/env python3
"""Does a causal LM read a frameshift in the bases after it? 1-base (frameshift) and 3-base
(in-frame) deletions at the same 150 random places inside the long CDS (>= 800 bp) of the
A. thaliana chloroplast, a genome held out of the shipped models' training, scored by
`genolm variants --alleles`; prints how often the frameshift lowers the right flank's
log-likelihood more, the AUROC and the means (docs/interpretation.md §5).

    scripts/frameshift-check.py [MODEL (default: pretrained)] [GENOLM binary]
"""
import csv
import gzip
import random
import re
import statistics as st
import subprocess
import sys
import tempfile
from pathlib import Path

root = Path(__file__).resolve().parent.parent
model = sys.argv[1] if len(sys.argv) > 1 else "pretrained"
genolm = sys.argv[2] if len(sys.argv) > 2 else "genolm"
gb = root / "datasets/euk/arabidopsis_thaliana_chloroplast.gb.gz"
text = gzip.open(gb, "rt").read()
acc = re.search(r"^VERSION\s+(\S+)", text, re.M).group(1)
seq = "".join(re.sub(r"[^a-z]", "", l) for l in text.split("\nORIGIN")[1].split("\n")).upper()
cds = [(int(a), int(b)) for a, b in
       re.findall(r"^\s{5}CDS\s+(?:complement\()?(\d+)\.\.(\d+)\)?\s*$", text, re.M)]
long = [(a, b) for a, b in cds if b - a >= 800]
rnd = random.Random(1)
rows = []
for i in range(150):
    a, b = rnd.choice(long)
    p = rnd.randint(a + 20, b - 300)  # 1-based anchor base
    r4 = seq[p - 1:p + 3]
    if any(c not in "ACGT" for c in r4):
        continue
    rows.append((p, f"fs{i}", r4[:2], r4[0]))  # 1-base deletion: frameshift
    rows.append((p, f"if{i}", r4, r4[0]))  # 3-base deletion: in frame
rows.sort()
with tempfile.TemporaryDirectory() as d:
    vcf, out = Path(d) / "cds_deletions.vcf", Path(d) / "alleles.csv"
    with open(vcf, "w") as f:
        f.write("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        for p, i, r, a in rows:
            f.write(f"{acc}\t{p}\t{i}\t{r}\t{a}\t.\tPASS\t.\n")
    subprocess.run([genolm, "variants", model, "--vcf", str(vcf), "--fasta", str(gb),
                    "--out", str(Path(d) / "snv.csv"), "--alleles", str(out)], check=True)
    got = list(csv.DictReader(open(out)))
by = {}
for r in got:
    by.setdefault(r["pos"], {})[r["id"][:2]] = (float(r["right_flank_llr"]), float(r["window_llr"]))
pairs = [(v["fs"], v["if"]) for v in by.values() if "fs" in v and "if" in v]
fs = [p[0][0] for p in pairs]
inf = [p[1][0] for p in pairs]
auc = sum((a < b) + 0.5 * (a == b) for a in fs for b in inf) / (len(fs) * len(inf))
print(f"{len(long)} CDS of >= 800 bp, {len(pairs)} places")
print(f"right-flank LLR lower for the frameshift at {sum(a[0] < b[0] for a, b in pairs)} of {len(pairs)} places; "
      f"AUROC {auc:.3f}")
print(f"right-flank LLR: frameshift mean {st.mean(fs):.3f} (median {st.median(fs):.3f}), "
      f"in-frame mean {st.mean(inf):.3f} (median {st.median(inf):.3f})")
print(f"window LLR: frameshift mean {st.mean(p[0][1] for p in pairs):.3f}, "
      f"in-frame mean {st.mean(p[1][1] for p in pairs):.3f}")
