"""Cross-check genolm's NCBI genetic-code tables (src/data/genetic_code.rs) against Biopython's
Bio.Data.CodonTable: every codon's amino acid and start status, every table.
Run: <venv with biopython>/bin/python benches/peers/check_genetic_codes.py"""
import os
import re
import sys

from Bio.Data import CodonTable

src = open(os.path.join(os.path.dirname(__file__), "../../src/data/genetic_code.rs")).read()
rows = re.findall(r'\(\s*(\d+),\s*"[^"]*",\s*b"([A-Z*]{64})",\s*b"([-M*]{64})",?\s*\)', src)
order = "TCAG"
bad = 0
for tid, aas, starts in rows:
    t = CodonTable.unambiguous_dna_by_id[int(tid)]
    for i in range(64):
        c = order[i // 16] + order[(i // 4) % 4] + order[i % 4]
        exp = "*" if c in t.stop_codons else t.forward_table[c]
        if aas[i] != exp or (starts[i] == "M") != (c in t.start_codons):
            print(f"table {tid} codon {c}: genolm {aas[i]}/{starts[i]}, biopython {exp}/{c in t.start_codons}")
            bad += 1
print(f"{len(rows)} tables checked, {bad} differences")
sys.exit(1 if bad or not rows else 0)
