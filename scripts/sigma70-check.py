#!/usr/bin/env python3
"""How σ70-like are a promoter scan's calls? For each 57-nt window, the best match to the E. coli
σ70 consensus on its forward strand: TTGACA (−35 box), a spacer of 15–19 nt, TATAAT (−10 box),
scored as identical bases out of 12. Compares the windows a scanner called (p > 0.5), those two
scanners both called, a random sample of the rest, and, as references, the 53 UCI promoters and
the 1 060 genome windows of datasets/labelled/ecoli_promoters_genome.csv.gz. No promoter map is
needed: a scanner that learned promoters, not composition, calls windows with these boxes.

Usage: scripts/sigma70-check.py GENOME.fa.gz SCAN.csv [SCAN2.csv] > table.md
"""
import csv, gzip, random, sys

M35, M10 = b"TTGACA", b"TATAAT"


def best(seq):
    s = seq.upper()
    top = 0
    for i in range(len(s) - 6):
        a = sum(x == y for x, y in zip(s[i:i + 6], M35))
        if a + 6 <= top:
            continue
        for sp in range(15, 20):
            j = i + 6 + sp
            if j + 6 > len(s):
                break
            b = sum(x == y for x, y in zip(s[j:j + 6], M10))
            top = max(top, a + b)
    return top


def genome(path):
    op = gzip.open if path.endswith(".gz") else open
    seq = []
    with op(path, "rb") as f:
        for line in f:
            if not line.startswith(b">"):
                seq.append(line.strip())
    return b"".join(seq)


def calls(path):
    with open(path) as f:
        r = csv.DictReader(f)
        return [(int(x["start"]), int(x["end"]), float(x["p_1"])) for x in r]


def summary(name, scores):
    n = len(scores)
    mean = sum(scores) / max(n, 1)
    ge9 = sum(s >= 9 for s in scores) / max(n, 1)
    ge10 = sum(s >= 10 for s in scores) / max(n, 1)
    return f"| {name} | {n} | {mean:.2f} | {ge9:.3f} | {ge10:.3f} |"


def main():
    g = genome(sys.argv[1])
    scans = [calls(p) for p in sys.argv[2:]]
    rng = random.Random(20261207)
    rows = []
    labelled = "datasets/labelled/ecoli_promoters_genome.csv.gz"
    with gzip.open(labelled, "rt") as f:
        items = list(csv.DictReader(f))
    prom = [best(x["sequence"].encode()) for x in items if x["label"] == "1"]
    back = [best(x["sequence"].encode()) for x in items if x["label"] == "0"]
    rows.append(summary("UCI promoters (training items)", prom))
    rows.append(summary("genome windows of the pool (training items)", back))
    called = []
    for k, (path, sc) in enumerate(zip(sys.argv[2:], scans)):
        c = {(a, b) for a, b, p in sc if p > 0.5}
        called.append(c)
        sample = rng.sample(sorted(c), min(5000, len(c)))
        rows.append(summary(f"called by {path} (sample)", [best(g[a:b]) for a, b in sample]))
    allw = [(a, b) for a, b, _ in scans[0]]
    if len(called) == 2:
        both = sorted(called[0] & called[1])
        sample = rng.sample(both, min(5000, len(both)))
        rows.append(summary("called by both (sample)", [best(g[a:b]) for a, b in sample]))
    union = set().union(*called)
    rest = [w for w in allw if w not in union]
    sample = rng.sample(rest, 5000)
    rows.append(summary("called by neither (sample)", [best(g[a:b]) for a, b in sample]))
    print("| windows | n | mean best match of 12 | share ≥ 9 | share ≥ 10 |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))


main()
