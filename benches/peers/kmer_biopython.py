"""Peers of benches/kmer_throughput.rs: FASTA(.gz) -> k-mer ids in Python.

Two routes, both parsing with Biopython's SeqIO.parse (gzip.open for .gz), ids as genolm
gives them (specials 0..4, ambiguous k-mers -> UNK = 1, stride s):
* `biopython`: k-mer ids through a dictionary of all 4^k k-mers, in a Python loop (the
  idiomatic route);
* `biopython+numpy`: the strongest pure-Python peer: bases to 2-bit codes by a 256-entry
  lookup table, k-mer ids by k vectorised shifts-and-adds, ambiguous windows masked with a
  cumulative sum, all in numpy.
Prints one JSON line per case, like the Rust bench.
"""
import gzip
import itertools
import json
import os
import shutil
import sys
import tempfile
import time

import numpy as np
from Bio import SeqIO

SPECIALS = 5


def vocab(k):
    return {"".join(p): SPECIALS + i for i, p in enumerate(itertools.product("ACGT", repeat=k))}


def tokenize(path, k, s, table):
    opener = gzip.open if path.endswith(".gz") else open
    out = []
    with opener(path, "rt") as fh:
        for rec in SeqIO.parse(fh, "fasta"):
            seq = str(rec.seq).upper()
            get = table.get
            out.append([get(seq[i:i + k], 1) for i in range(0, len(seq) - k + 1, s)])
    return out


CODE = np.full(256, 4, dtype=np.uint8)
for i, b in enumerate(b"ACGT"):
    CODE[b] = i
    CODE[ord(chr(b).lower())] = i


def encode_numpy(seq, k, s):
    """k-mer ids of one sequence (bytes), vectorised."""
    c = CODE[np.frombuffer(seq, dtype=np.uint8)]
    n = len(c) - k + 1
    if n <= 0:
        return np.zeros(0, dtype=np.uint32)
    bad = np.concatenate(([0], np.cumsum(c == 4, dtype=np.int64)))
    ambiguous = (bad[k:k + n] - bad[:n]) > 0
    c = np.minimum(c, 3).astype(np.uint32)
    ids = np.zeros(n, dtype=np.uint32)
    for j in range(k):
        ids = (ids << 2) | c[j:j + n]
    ids += SPECIALS
    ids[ambiguous] = 1
    return ids[::s]


def tokenize_numpy(path, k, s, _table):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as fh:
        return [encode_numpy(bytes(rec.seq), k, s) for rec in SeqIO.parse(fh, "fasta")]


def main():
    gz = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "../../../shared/data/pro/escherichia_coli_MG1655.fa.gz")
    reps = int(os.environ.get("GENOLM_BENCH_REPS", "3"))
    tmp = tempfile.mkdtemp()
    plain = os.path.join(tmp, "genome.fa")
    with gzip.open(gz, "rb") as src, open(plain, "wb") as dst:
        shutil.copyfileobj(src, dst)
    size_mb = os.path.getsize(plain) / 1e6
    # The same text as BGZF (bgzip's blocked gzip), which gzip.open reads as multi-member gzip.
    from Bio import bgzf
    bgz = os.path.join(tmp, "genome.fa.bgz.gz")
    with open(plain, "rb") as src, bgzf.BgzfWriter(bgz, "wb") as dst:
        dst.write(src.read())
    tools = [("biopython", tokenize), ("biopython+numpy", tokenize_numpy)]
    only = os.environ.get("GENOLM_PEER")
    for tool, fn in tools:
        if only and tool != only:
            continue
        run(tool, fn, plain, gz, bgz, size_mb, reps)
    shutil.rmtree(tmp)


def run(tool, fn, plain, gz, bgz, size_mb, reps):
    for label, path in (("plain", plain), ("gzip", gz), ("bgzf", bgz)):
        for k, s in ((3, 1), (6, 1), (6, 3)):
            table = vocab(k)
            fn(path, k, s, table)  # untimed warm-up, as the Rust bench does
            times = []
            n = 0
            for _ in range(reps):
                t0 = time.perf_counter()
                out = fn(path, k, s, table)
                times.append(time.perf_counter() - t0)
                n = sum(len(x) for x in out)
            times.sort()
            med = times[len(times) // 2]
            print(json.dumps({"tool": tool, "input": label, "k": k, "stride": s,
                              "fasta_mb": round(size_mb, 3), "median_s": round(med, 5),
                              "mb_per_s": round(size_mb / med, 1), "tokens": n}), flush=True)


if __name__ == "__main__":
    main()
