"""Peer of benches/kmer_throughput.rs: FASTA(.gz) -> k-mer ids with Biopython.

The idiomatic Biopython route: SeqIO.parse (gzip.open for .gz), then k-mer ids via a
dictionary of all 4^k k-mers, stride s, ambiguous k-mers -> UNK (id 1), specials 0..4 as in
genolm. Prints one JSON line per case, like the Rust bench.
"""
import gzip
import itertools
import json
import os
import shutil
import sys
import tempfile
import time

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


def main():
    gz = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "../../../shared/data/pro/escherichia_coli_MG1655.fa.gz")
    reps = int(os.environ.get("GENOLM_BENCH_REPS", "3"))
    tmp = tempfile.mkdtemp()
    plain = os.path.join(tmp, "genome.fa")
    with gzip.open(gz, "rb") as src, open(plain, "wb") as dst:
        shutil.copyfileobj(src, dst)
    size_mb = os.path.getsize(plain) / 1e6
    for label, path in (("plain", plain), ("gzip", gz)):
        for k, s in ((3, 1), (6, 1), (6, 3)):
            table = vocab(k)
            tokenize(path, k, s, table)  # untimed warm-up, as the Rust bench does
            times = []
            n = 0
            for _ in range(reps):
                t0 = time.perf_counter()
                out = tokenize(path, k, s, table)
                times.append(time.perf_counter() - t0)
                n = sum(len(x) for x in out)
            times.sort()
            med = times[len(times) // 2]
            print(json.dumps({"tool": "biopython", "input": label, "k": k, "stride": s,
                              "fasta_mb": round(size_mb, 3), "median_s": round(med, 5),
                              "mb_per_s": round(size_mb / med, 1), "tokens": n}), flush=True)
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
