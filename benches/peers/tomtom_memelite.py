"""Reference Tomtom p-values from memelite (pip install memelite==0.5.0), which reimplements
MEME's tomtom (complete score, all offsets, Euclidean column distance).

Queries: 8 JASPAR 2024 vertebrate matrices, each blurred (0.7·p + 0.075, the way a learned
motif is softer than its database entry) and half of them reverse-complemented; targets: the
whole database, both strands. Probabilities are made exactly as genolm makes them
(Pwm::from_counts: (count + 0.01) / (total + 0.04)). For each query, the 5 best targets and 5
fixed others are written to docs/interpretation/tomtom-memelite.csv, which tests/motifs.rs
compares with genolm's tomtom.

    python benches/peers/tomtom_memelite.py datasets/motifs/JASPAR2024_CORE_vertebrates.jaspar.gz
"""
import gzip
import sys

import numpy
from memelite import tomtom


def read_jaspar(path):
    opener = gzip.open if path.endswith(".gz") else open
    motifs, cur = [], None
    with opener(path, "rt") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            if line.startswith(">"):
                parts = line[1:].split(None, 1)
                cur = [parts[0], parts[1] if len(parts) > 1 else "", []]
                motifs.append(cur)
            else:
                body = line[1:].strip().lstrip("[").rstrip("]")
                cur[2].append([float(x) for x in body.split()])
    out = []
    for mid, name, rows in motifs:
        c = numpy.array(rows)  # 4 x L
        p = (c + 0.01) / (c.sum(axis=0, keepdims=True) + 0.04)
        out.append((mid, name, p))
    return out


def main():
    db = read_jaspar(sys.argv[1])
    names = ["CTCF", "GATA1", "Spi1", "CEBPB", "FOXA1", "REST", "SOX2", "TP53"]
    queries = []
    for i, n in enumerate(names):
        mid, name, p = next(m for m in db if m[1] == n)
        q = 0.7 * p + 0.075
        if i % 2 == 1:
            q = q[::-1, ::-1].copy()
        queries.append((f"{n}_blurred", q))
    Ts = [m[2] for m in db]
    p, s, off, ov, strand = tomtom([q for _, q in queries], Ts, n_target_bins=None)
    others = [0, 100, 200, 300, 400]
    print("query,target,name,p,score,offset,overlap,strand")
    for qi, (qn, _) in enumerate(queries):
        best = list(numpy.argsort(p[qi])[:5])
        for ti in best + [o for o in others if o not in best]:
            print(f"{qn},{db[ti][0]},{db[ti][1]},{p[qi, ti]:.6e},{s[qi, ti]:.1f},"
                  f"{int(off[qi, ti])},{int(ov[qi, ti])},{'-' if strand[qi, ti] else '+'}")


if __name__ == "__main__":
    main()
