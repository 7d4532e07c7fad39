#!/usr/bin/env python3
"""One species' genomic sequence out of a multiple alignment (MAF), as FASTA contigs.

Usage: scripts/maf-species.py MAF(.gz) SRC MAX_BASES OUT.fa

Keeps the alignment rows whose source is SRC (e.g. `Ppyg.22`, the orangutan's chromosome 22 in
Ensembl Compara's EPO alignments), removes the alignment gaps, and puts the blocks back on that
genome: sorted by start, blocks that follow each other without a break (the next block starts
where the last one ended, on the + strand) are joined into one contig; any break starts a new
contig. Contigs are written in genomic order until MAX_BASES bases; soft-masked (lower-case)
repeats are upper-cased. Rows on the - strand are reverse-complemented back to the + strand
(MAF gives their start on the reverse strand). Checks that overlapping blocks agree.
"""
import gzip
import sys

maf, src, max_bases, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
comp = str.maketrans("ACGTNacgtn", "TGCANtgcan")
blocks = []  # (start on +, sequence on +)
with (gzip.open(maf, "rt") if maf.endswith(".gz") else open(maf)) as f:
    for line in f:
        if not line.startswith("s "):
            continue
        _, name, start, size, strand, src_size, text = line.split()
        if name != src:
            continue
        start, size, src_size = int(start), int(size), int(src_size)
        seq = text.replace("-", "").upper()
        if len(seq) != size:
            sys.exit(f"{maf}: row of {name} at {start}: {len(seq)} bases, header says {size}")
        if strand == "-":
            start = src_size - start - size
            seq = seq.translate(comp)[::-1]
        blocks.append((start, seq))
if not blocks:
    sys.exit(f"{maf}: no rows of {src}")
blocks.sort()
contigs = []  # [start, [pieces], end]
for start, seq in blocks:
    if contigs and start < contigs[-1][2]:
        sys.exit(f"{maf}: blocks of {src} overlap at {start}")
    if contigs and start == contigs[-1][2]:
        contigs[-1][1].append(seq)
        contigs[-1][2] += len(seq)
    else:
        contigs.append([start, [seq], start + len(seq)])
total = 0
with open(out, "w") as o:
    for start, pieces, end in contigs:
        if total >= max_bases:
            break
        seq = "".join(pieces)[: max_bases - total]
        total += len(seq)
        o.write(f">{src}:{start + 1}-{start + len(seq)}\n")
        for i in range(0, len(seq), 60):
            o.write(seq[i : i + 60] + "\n")
print(f"{src}: {len(blocks)} blocks, {len(contigs)} contigs on the genome; wrote {total} bases", file=sys.stderr)
