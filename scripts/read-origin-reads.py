#!/usr/bin/env python3
# Usage: scripts/read-origin-reads.py N_TRAIN N_TEST SEED PREFIX [REGIONS [REGION_LEN]]
#   → PREFIX-train.csv, PREFIX-test.csv (and with REGIONS, PREFIX-test-seen.csv)
# (the same test reads for every N_TRAIN with one SEED; input: ../shared/data, or $GENOLM_DATA;
#  SPECIES=a,b,… keeps only those species, e.g. SPECIES=escherichia_coli,vibrio_cholerae)
"""150-nt reads per species from ../shared/data: train reads from the first 80 % of each
contig, test reads from the last 20 % (as the benchmark's read_origin task), either strand.

With REGIONS, training reads come only from REGIONS windows of REGION_LEN nt (default 1500, the
length of a 16S rRNA gene) per species inside the first 80 %, and PREFIX-test-seen.csv holds
N_TEST further reads per species from the same windows: the design of seed 003's shotgun task
(reads simulated from a fixed set of 16S sequences and split at random), where test reads
overlap training reads. PREFIX-test.csv stays the held-out last 20 %."""
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
def windows(seqs, m, length, rng):
    """m windows of at most `length` nt in the first 80 % of the contigs (weighted by length)."""
    spans = [(s, 0, int(len(s) * 0.8)) for s in seqs if int(len(s) * 0.8) > 150]
    w = [b - a for _, a, b in spans]
    out = []
    for _ in range(m):
        s, a, b = rng.choices(spans, weights=w)[0]
        n = min(length, b - a)
        i = rng.randrange(a, b - n + 1)
        out.append(s[i:i + n])
    return out
n_train, n_test, seed, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
regions = int(sys.argv[5]) if len(sys.argv) > 5 else 0
region_len = int(sys.argv[6]) if len(sys.argv) > 6 else 1500
rng = random.Random(seed)
names = sorted(species)
if os.environ.get('SPECIES'):
    keep = os.environ['SPECIES'].split(',')
    unknown = [k for k in keep if k not in species]
    if unknown: sys.exit(f'unknown species {unknown}; known: {names}')
    names = [n for n in names if n in keep]
print(len(names), names, file=sys.stderr)
with open(f'{out}-train.csv', 'w') as tr, open(f'{out}-test.csv', 'w') as te:
    tr.write('sequence,label\n'); te.write('sequence,label\n')
    rt = random.Random(seed + 1000)
    seen = open(f'{out}-test-seen.csv', 'w') if regions else None
    if seen: seen.write('sequence,label\n')
    for sp in names:
        src = windows(species[sp], regions, region_len, random.Random(f'{seed}:{sp}')) if regions else species[sp]
        hi = 1.0 if regions else 0.8
        for r in reads(src, n_train, 0.0, hi, rng): tr.write(f'{r},{sp}\n')
        for r in reads(species[sp], n_test, 0.8, 1.0, rt): te.write(f'{r},{sp}\n')
        if seen:
            for r in reads(src, n_test, 0.0, 1.0, rng): seen.write(f'{r},{sp}\n')
