#!/usr/bin/env python3
# Usage: scripts/markov-per-class.py TRAIN.csv TEST.csv ORDERS (e.g. 2,3,4)
"""Per-class Markov chains (order k, add-one) trained on TRAIN csv, accuracy on TEST csv; each
read scored on both strands (mean), as the benchmark scores reads."""
import csv, sys, math
from collections import Counter, defaultdict
comp = str.maketrans('ACGT', 'TGCA')
def load(p): return [(r['sequence'], r['label']) for r in csv.DictReader(open(p))]
def run(train, test, k):
    cnt = defaultdict(Counter); ctx = defaultdict(Counter); n = Counter()
    for s, l in train:
        n[l] += 1
        for x in (s, s.translate(comp)[::-1]):
            for i in range(k, len(x)):
                cnt[l][x[i-k:i+1]] += 1; ctx[l][x[i-k:i]] += 1
    classes = sorted(n); tot = sum(n.values())
    ok = 0
    for s, l in test:
        best, bl = None, -1e300
        for c in classes:
            v = math.log(n[c] / tot)
            for x in (s, s.translate(comp)[::-1]):
                for i in range(k, len(x)):
                    v += 0.5 * math.log((cnt[c][x[i-k:i+1]] + 1) / (ctx[c][x[i-k:i]] + 4))
            if v > bl: best, bl = c, v
        ok += best == l
    return ok / len(test)
tr, te = load(sys.argv[1]), load(sys.argv[2])
print(' '.join(f'k{k}={run(tr, te, k):.3f}' for k in map(int, sys.argv[3].split(','))))
