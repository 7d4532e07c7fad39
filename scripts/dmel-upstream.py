#!/usr/bin/env python3
"""D. melanogaster genomic contigs from UCSC's dm3 upstream2000.fa.gz (as Bioconductor's
Biostrings ships it: extdata/dm3_upstream2000.fa.gz, Debian r-bioc-biostrings).

Each record is the 2 kb upstream of one RefSeq transcript, named like
`NM_078863_up_2000_chr2L_16764737_f chr2L:16764737-16766736`; many overlap (transcripts of one
gene share a start; neighbouring genes' regions touch). This puts every record back on the
genome (reverse-strand records reverse-complemented), checks that overlapping records agree
base for base, merges them into contigs, and writes the contigs of one chromosome in genomic
order up to a number of bases.

Usage: dmel-upstream.py UPSTREAM_FA_GZ CHROM MAX_BASES OUT_FA
"""
import gzip
import re
import sys


def records(path):
    name, buf = None, []
    for line in gzip.open(path, "rt"):
        if line.startswith(">"):
            if name:
                yield name, "".join(buf)
            name, buf = line[1:].strip(), []
        else:
            buf.append(line.strip())
    if name:
        yield name, "".join(buf)


def main(src, chrom, max_bases, out):
    comp = str.maketrans("acgtnACGTN", "tgcanTGCAN")
    bases = {}
    n = 0
    for name, seq in records(src):
        ident, loc = name.split(" ")
        c, rng = loc.split(":")
        if c != chrom:
            continue
        m = re.fullmatch(r"(-?\d+)-(-?\d+)", rng)
        lo, hi = int(m[1]), int(m[2])
        if lo < 1:
            continue  # runs off the chromosome's start
        if hi - lo + 1 != len(seq):
            sys.exit(f"{name}: {len(seq)} bases for {hi - lo + 1} positions")
        if ident.rsplit("_", 1)[1] == "r":
            seq = seq.translate(comp)[::-1]
        for i, b in enumerate(seq):
            if bases.setdefault(lo + i, b) != b:
                sys.exit(f"{name}: disagrees with an overlapping record at {chrom}:{lo + i}")
        n += 1
    runs = []
    for p in sorted(bases):
        if runs and runs[-1][1] == p - 1:
            runs[-1][1] = p
        else:
            runs.append([p, p])
    used = 0
    with open(out, "w") as f:
        for a, b in runs:
            if used >= max_bases:
                break
            seq = "".join(bases[p] for p in range(a, b + 1))
            f.write(f">{chrom}:{a}-{b} D. melanogaster dm3, merged upstream2000 regions\n")
            for i in range(0, len(seq), 60):
                f.write(seq[i:i + 60] + "\n")
            used += len(seq)
    print(f"{n} records of {chrom}, {len(runs)} contigs; wrote {used} bases", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
