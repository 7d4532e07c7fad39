#!/usr/bin/env python3
"""Leakage check of training genomes against held-out ones: the share of each held-out genome's
distinct 25-mers (its written strand) that occur in a training genome (either strand).
FASTA (plain or gzip) or GenBank (ORIGIN section).

Usage: scripts/shared-kmers.py --held FILE... --train FILE...   (run from the repository root)
e.g. --held datasets/euk/homo_sapiens_chr1_fragment.fa.gz datasets/euk/arabidopsis_thaliana_chloroplast.gb.gz
     --train datasets/euk/saccharomyces_cerevisiae_chrII.fa.gz datasets/euk/drosophila_melanogaster_upstream_chr2L.fa.gz
"""
import argparse
import gzip
import re

K = 25
COMP = str.maketrans("ACGT", "TGCA")


def sequences(path):
    text = (gzip.open(path, "rt") if path.endswith(".gz") else open(path)).read()
    if "\nORIGIN" in text:
        origin = text.split("\nORIGIN", 1)[1].split("//")[0]
        return ["".join(re.findall("[a-zA-Z]+", origin)).upper()]
    return ["".join(r.split("\n")[1:]).upper() for r in text.split(">")[1:]]


def kmers(seqs, both_strands):
    out = set()
    for s in seqs:
        for t in (s, s.translate(COMP)[::-1]) if both_strands else (s,):
            out.update(t[i:i + K] for i in range(len(t) - K + 1))
    return out


ap = argparse.ArgumentParser()
ap.add_argument("--held", nargs="+", required=True)
ap.add_argument("--train", nargs="+", required=True)
a = ap.parse_args()
train = {t: kmers(sequences(t), True) for t in a.train}
for h in a.held:
    hk = kmers(sequences(h), False)
    for t, tk in train.items():
        n = len(hk & tk)
        print(f"{h} vs {t}: {n} of {len(hk)} 25-mers shared ({100 * n / len(hk):.3f} %)")
