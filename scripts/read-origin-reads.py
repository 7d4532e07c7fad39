#!/usr/bin/env python3
# Usage: scripts/read-origin-reads.py N_TRAIN N_TEST SEED PREFIX  → PREFIX-train.csv, PREFIX-test.csv
# (the same test reads for every N_TRAIN with one SEED; input: ../shared/data, or $GENOLM_DATA)
"""150-nt reads per species from ../shared/data: train reads from the first 80 % of each
contig, test reads from the last 20 % (as the benchmark's read_origin task), either strand."""
import gzip, os, random, sys, re
D = os.environ.get('GENOLM_DATA', os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'shared', 'data'))
def fasta(path):
    op = gzip.open if path.endswith('.gz') else open
    seqs, cur = [], []
    for line in op(path, 'rt'):
        if line.startswith('>'):
            if cur: seqs.append(''.join(cur)); cur = []
        else: cur.append(line.strip())
    if cur: seqs.append(''.join(cur))
    return seqs
def genbank(path):
    seqs, cur, on = [], [], False
    for line in open(path):
        if line.startswith('ORIGIN'): on = True; cur = []; continue
        if line.startswith('//'):
            if on: seqs.append(''.join(cur)); on = False
            continue
        if on: cur.append(re.sub(r'[^a-zA-Z]', '', line))
    return [s.upper() for s in seqs]
species = {}
for k in ('pro', 'euk', 'vir'):
    for f in sorted(os.listdir(f'{D}/{k}')):
        p = f'{D}/{k}/{f}'
        if f.endswith('.gff3'): continue
        seqs = genbank(p) if f.endswith(('.gb', '.gbk')) else fasta(p)
        sp = '_'.join(f.split('_')[:2]) if not f.startswith(('phiX', 'enterobacteria')) else f.split('.')[0]
        if f.startswith('influenza'): sp = 'influenza_A'
        species.setdefault(sp, []).extend(seqs)
comp = str.maketrans('ACGT', 'TGCA')
def reads(seqs, n, lo, hi, rng):
    out = []
    spans = [(s, int(len(s) * lo), int(len(s) * hi)) for s in seqs if int(len(s) * hi) - int(len(s) * lo) > 150]
    w = [b - a for _, a, b in spans]
    while len(out) < n:
        s, a, b = rng.choices(spans, weights=w)[0]
        i = rng.randrange(a, b - 150)
        r = s[i:i + 150]
        if set(r) - set('ACGT'): continue
        out.append(r if rng.random() < 0.5 else r.translate(comp)[::-1])
    return out
n_train, n_test, seed, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = random.Random(seed)
names = sorted(species)
print(len(names), names, file=sys.stderr)
with open(f'{out}-train.csv', 'w') as tr, open(f'{out}-test.csv', 'w') as te:
    tr.write('sequence,label\n'); te.write('sequence,label\n')
    rt = random.Random(seed + 1000)
    for sp in names:
        for r in reads(species[sp], n_train, 0.0, 0.8, rng): tr.write(f'{r},{sp}\n')
        for r in reads(species[sp], n_test, 0.8, 1.0, rt): te.write(f'{r},{sp}\n')
