#!/usr/bin/env python3
"""Long open reading frames of a genome as a GFF3 of CDS rows (a stand-in annotation for
genomes shipped without one, e.g. the held-out H. pylori strains).

An ORF here runs from an ATG to the first in-frame stop (TAA, TAG, TGA; genetic code 11) on
either strand, the longest one per stop, and is kept when it is at least MIN_NT long
(stop included). ORFs are taken longest first; one that overlaps an ORF already taken by more
than MAX_OVERLAP bases is dropped (a shadow on the other strand or frame). At 35-40 % GC, ORFs
of 900 nt or more are almost all real genes: `--check GENBANK` reports how many of the ORFs
found in an annotated genome end at an annotated CDS's stop codon on the same strand.

Usage: scripts/long-orfs.py GENOME.fa[.gz] [--min-nt 900] > genome.gff3
       scripts/long-orfs.py --check annotated.gb [--min-nt 900]
Standard library only.
"""
import argparse
import gzip
import re
import sys

STOPS = {"TAA", "TAG", "TGA"}
COMP = str.maketrans("ACGTacgtNn", "TGCAtgcaNn")


def read_fasta(path):
    with open(path, "rb") as f:
        opener = gzip.open if f.read(2) == b"\x1f\x8b" else open
    recs, name, seq = [], None, []
    with opener(path, "rt") as f:
        for line in f:
            if line.startswith(">"):
                if name is not None:
                    recs.append((name, "".join(seq).upper()))
                name, seq = line[1:].split()[0], []
            else:
                seq.append(line.strip())
    if name is not None:
        recs.append((name, "".join(seq).upper()))
    return recs


def read_genbank(path):
    """The sequence, the CDS (strand, stop-codon end) pairs and the CDS count of a GenBank file."""
    with open(path) as f:
        text = f.read()
    seq = "".join(re.findall(r"[a-z]+", text.split("\nORIGIN", 1)[1].split("//")[0])).upper()
    ends, count = set(), 0
    for m in re.finditer(r"\n {5}CDS {13}(.+?)\n {21}/", text, re.S):
        loc = m.group(1).replace("\n", "").replace(" ", "")
        nums = [int(x) for x in re.findall(r"\d+", loc)]
        # complement(...), complement(join(...)) and join(complement(...), ...) end at their
        # lowest coordinate (a trans-spliced gene with parts on both strands counts as minus)
        if "complement" in loc:
            ends.add(("-", min(nums)))
        else:
            ends.add(("+", max(nums)))
        count += 1
    return seq, ends, count


def orfs_one_strand(seq, min_nt):
    """(start, end) 0-based half-open on this strand, the longest ATG..stop per stop."""
    out = []
    n = len(seq)
    for frame in range(3):
        start = None
        for i in range(frame, n - 2, 3):
            c = seq[i:i + 3]
            if c in STOPS:
                if start is not None and i + 3 - start >= min_nt:
                    out.append((start, i + 3))
                start = None
            elif c == "ATG" and start is None:
                start = i
    return out


def long_orfs(seq, min_nt, max_overlap):
    n = len(seq)
    cands = [(s, e, "+") for s, e in orfs_one_strand(seq, min_nt)]
    rc = seq.translate(COMP)[::-1]
    cands += [(n - e, n - s, "-") for s, e in orfs_one_strand(rc, min_nt)]
    cands.sort(key=lambda x: (-(x[1] - x[0]), x[0]))
    taken = []
    for s, e, strand in cands:
        if all(min(e, te) - max(s, ts) <= max_overlap for ts, te, _ in taken):
            taken.append((s, e, strand))
    return sorted(taken)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("genome", nargs="?")
    ap.add_argument("--check", metavar="GENBANK")
    ap.add_argument("--min-nt", type=int, default=900)
    ap.add_argument("--max-overlap", type=int, default=60)
    a = ap.parse_args()
    if a.check:
        seq, ends, n_cds = read_genbank(a.check)
        found = long_orfs(seq, a.min_nt, a.max_overlap)
        hit = sum(1 for s, e, st in found if (st, e if st == "+" else s + 1) in ends)
        print(f"{a.check}: {len(found)} ORFs >= {a.min_nt} nt, {hit} end at an annotated CDS stop "
              f"({hit / max(len(found), 1):.1%}); {n_cds} annotated CDS")
        return
    if not a.genome:
        ap.error("give a genome or --check")
    print("##gff-version 3")
    for name, seq in read_fasta(a.genome):
        for i, (s, e, strand) in enumerate(long_orfs(seq, a.min_nt, a.max_overlap)):
            print(f"{name}\tlong-orfs.py\tCDS\t{s + 1}\t{e}\t.\t{strand}\t0\tID=orf{i + 1}")


if __name__ == "__main__":
    main()
