#!/usr/bin/env python3
"""Decode the primate splice-junction sequences of Statlog's DNA data set (mlbench's DNA.rda)
into genolm's labelled CSV: `sequence,label` with the 60-nt window and its class
(`ei`: exon→intron junction, donor site; `ie`: intron→exon, acceptor site; `n`: neither).

Statlog encodes each base as three indicator columns (A = 100, C = 010, G = 001, T = 000); the
decoding is checked against the biology: every `ei` window has the donor's GT right after the
junction (positions 31–32) in all but a handful of windows, and every `ie` window the
acceptor's AG right before it (29–30).

Usage: splice-junctions.py DNA.rda OUT.csv   (needs the `rdata` package: pip install rdata)
"""
import sys
from collections import Counter

import rdata

CODE = {(1, 0, 0): "A", (0, 1, 0): "C", (0, 0, 1): "G", (0, 0, 0): "T"}

frame = rdata.conversion.convert(rdata.parser.parse_file(sys.argv[1]))["DNA"]
rows = []
for _, r in frame.iterrows():
    bits = [int(r[f"V{i}"]) for i in range(1, 181)]
    seq = "".join(CODE[tuple(bits[3 * j : 3 * j + 3])] for j in range(60))
    rows.append((seq, str(r["Class"])))
donor = Counter(s[30:32] for s, c in rows if c == "ei")
acceptor = Counter(s[28:30] for s, c in rows if c == "ie")
n_ei = sum(donor.values())
n_ie = sum(acceptor.values())
assert donor["GT"] > 0.95 * n_ei, f"ei windows without the donor GT: {donor.most_common(4)}"
assert acceptor["AG"] > 0.95 * n_ie, f"ie windows without the acceptor AG: {acceptor.most_common(4)}"
with open(sys.argv[2], "w") as f:
    f.write("sequence,label\n")
    for s, c in rows:
        f.write(f"{s},{c}\n")
print(
    f"{len(rows)} windows: {dict(Counter(c for _, c in rows))}; "
    f"donor GT in {donor['GT']}/{n_ei} ei, acceptor AG in {acceptor['AG']}/{n_ie} ie",
    file=sys.stderr,
)
