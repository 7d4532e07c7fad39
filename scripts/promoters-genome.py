#!/usr/bin/env python3
"""The UCI E. coli promoters against windows of the E. coli genome itself.

Usage: scripts/promoters-genome.py MG1655.fa.gz UCI.csv OUT.csv.gz [SEED] > construction.txt

Checks how the UCI promoter set (datasets/labelled/ecoli_promoters_uci.csv) was built, and
writes a promoter task whose negatives come from the genome the promoters come from:

1. Where its items come from. Every item's 57 nt are looked up in the E. coli K-12 MG1655
   chromosome (both strands), exactly and by shared 20-mers; and every item's 15-mers are
   compared with every other item of its class (both strands), which finds items cut from one
   longer sequence with overlaps.
2. OUT.csv.gz (gzip): the 53 UCI promoters (label 1) and a pool of 20 windows of 57 nt of the
   MG1655 chromosome per promoter (label 0), from which the benchmark's `promoters_genome` row
   draws as many as there are promoters with each seed: uniform random starts and strands
   (Python's `random`, seed SEED; the default, 20261206, gives the shipped file), none within
   1 000 nt of a located promoter, none sharing a 20-mer (either strand) with a promoter or an
   earlier window (so repeats such as the rRNA operons give at most one). Column `source` gives
   each item's origin (`uci:<line>` or `MG1655:<strand>:<start>-<end>`, 1-based closed), which
   the benchmark's reader ignores. About 3 % of such windows may hold one of the genome's few
   thousand promoters, unannotated here: label noise the task states rather than hides.
"""
import csv
import gzip
import io
import random
import sys

K_EXACT = 20
K_OVERLAP = 15
MARGIN = 1000
SEED = 20261206
POOL = 20
COMP = str.maketrans("ACGT", "TGCA")


def rc(s):
    return s.translate(COMP)[::-1]


def read_fasta(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        return "".join(l.strip() for l in f if not l.startswith(">")).upper()


def kmers(s, k):
    return {s[i : i + k] for i in range(len(s) - k + 1)}


def main():
    genome_path, uci_path, out_path = sys.argv[1:4]
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else SEED
    genome = read_fasta(genome_path)
    rev = rc(genome)
    rows = list(csv.DictReader(open(uci_path)))
    items = [(i + 2, r["sequence"].upper(), r["label"]) for i, r in enumerate(rows)]
    n = len(genome)
    print(f"MG1655 chromosome: {n} nt; UCI items: {len(items)}")

    # 1. where the items come from
    located = []  # (start, end) on the forward strand, 0-based half-open
    for cls, name in (("1", "promoters"), ("0", "non-promoters")):
        grp = [(line, s) for line, s, l in items if l == cls]
        exact = shared = 0
        for line, s in grp:
            hits = [p for p in (genome.find(s), rev.find(s)) if p >= 0]
            if genome.find(s) >= 0:
                located.append((genome.find(s), genome.find(s) + len(s)))
            if rev.find(s) >= 0:
                p = n - rev.find(s) - len(s)
                located.append((p, p + len(s)))
            if hits:
                exact += 1
            elif any(
                s[i : i + K_EXACT] in genome or s[i : i + K_EXACT] in rev
                for i in range(len(s) - K_EXACT + 1)
            ):
                shared += 1
                # locate by the first shared 20-mer, for the exclusion zone
                for i in range(len(s) - K_EXACT + 1):
                    w = s[i : i + K_EXACT]
                    p = genome.find(w)
                    if p < 0 and rev.find(w) >= 0:
                        p = n - rev.find(w) - K_EXACT
                    if p >= 0:
                        located.append((p, p + K_EXACT))
                        break
        print(
            f"{name}: {len(grp)}; in MG1655 exactly (either strand): {exact}; "
            f"not exactly but sharing a {K_EXACT}-mer: {shared}; neither: {len(grp) - exact - shared}"
        )
        own = [kmers(s, K_OVERLAP) for _, s in grp]
        both = [k | kmers(rc(s), K_OVERLAP) for k, (_, s) in zip(own, grp)]
        best = []
        for i, ki in enumerate(own):
            best.append(max(len(ki & both[j]) for j in range(len(grp)) if j != i))
        with_overlap = sum(b > 0 for b in best)
        best.sort()
        distinct = set().union(*own)
        print(
            f"  items sharing a {K_OVERLAP}-mer with another item of their class: {with_overlap} of {len(grp)}; "
            f"an item's largest overlap with another, median {best[len(best) // 2]} of "
            f"{len(grp[0][1]) - K_OVERLAP + 1} {K_OVERLAP}-mers; distinct {K_OVERLAP}-mers in the class: "
            f"{len(distinct)} of {sum(len(k) for k in own)}"
        )

    # 2. negatives from the genome
    rng = random.Random(seed)
    blocked = sorted((max(0, a - MARGIN), min(n, b + MARGIN)) for a, b in located)
    taken = []
    width = 57

    def free(a):
        b = a + width
        return all(b <= x or a >= y for x, y in blocked) and all(
            b <= x or a >= y for x, y in taken
        )

    seen = set()
    for _, s, l in items:
        if l == "1":
            seen |= kmers(s, K_EXACT) | kmers(rc(s), K_EXACT)
    negs = []
    n_pos = sum(1 for _, _, l in items if l == "1")
    while len(negs) < POOL * n_pos:
        a = rng.randrange(0, n - width)
        strand = rng.choice("+-")
        if not free(a):
            continue
        s = genome[a : a + width]
        if strand == "-":
            s = rc(s)
        if set(s) - set("ACGT"):
            continue
        k = kmers(s, K_EXACT) | kmers(rc(s), K_EXACT)
        if k & seen:
            continue
        seen |= k
        taken.append((a, a + width))
        negs.append((s, f"MG1655:{strand}:{a + 1}-{a + width}"))
    # no time stamp or name in the gzip header: the same seed writes the same bytes
    with open(out_path, "wb") as raw, gzip.GzipFile(
        filename="", mode="wb", fileobj=raw, mtime=0
    ) as gz, io.TextIOWrapper(gz, newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["sequence", "label", "source"])
        for line, s, l in items:
            if l == "1":
                w.writerow([s, 1, f"uci:{line}"])
        for s, src in negs:
            w.writerow([s, 0, src])
    gc = lambda xs: sum(x.count("G") + x.count("C") for x in xs) / sum(len(x) for x in xs)
    pos = [s for _, s, l in items if l == "1"]
    neg_uci = [s for _, s, l in items if l == "0"]
    print(
        f"wrote {out_path}: {len(pos)} promoters, {len(negs)} genome windows "
        f"(seed {seed}, {MARGIN} nt from {len(located)} located promoter stretches)"
    )
    print(
        f"GC: UCI promoters {gc(pos):.3f}, UCI non-promoters {gc(neg_uci):.3f}, "
        f"genome windows {gc([s for s, _ in negs]):.3f}, MG1655 {gc([genome]):.3f}"
    )


if __name__ == "__main__":
    main()
