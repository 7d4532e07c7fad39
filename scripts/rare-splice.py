#!/usr/bin/env python3
"""Splice junctions with rare junctions: every 10th exon-intron (EI) and intron-exon (IE)
boundary of the shipped StatLog set kept, every non-junction (N): 77 + 77 against 1 654, the
situation of a scanner for splice sites among many candidate positions. A real set made
unbalanced on purpose, for `--balanced` (scripts/unbalanced-classes.sh with DATA=…).

Usage: scripts/rare-splice.py OUT.csv
"""
import collections, csv, gzip, sys

rows = list(csv.DictReader(gzip.open("datasets/labelled/splice_junctions_statlog.csv.gz", "rt")))
seen = collections.Counter()
with open(sys.argv[1], "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["sequence", "label"])
    kept = collections.Counter()
    for r in rows:
        label = r["label"]
        if label != "n":
            seen[label] += 1
            if seen[label] % 10 != 1:
                continue
        w.writerow([r["sequence"], label])
        kept[label] += 1
print(dict(kept), file=sys.stderr)
