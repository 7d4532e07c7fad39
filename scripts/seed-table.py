#!/usr/bin/env python3
"""Margins over the order-6 Markov chain of one recipe trained with several seeds, next to
another recipe's, from `genolm bench --tasks transfer --out DIR` reports: per held-out genome
and kingdom, each seed's margin, the mean ± standard deviation over seeds, the lowest, and (when
the two recipes have the same seeds) the mean paired difference B − A with the seeds B wins.

Usage: python3 scripts/seed-table.py LABEL_A=SEED:DIR[,SEED:DIR...] LABEL_B=SEED:DIR[,...]
  e.g. restart=42:docs/results/extended2/lstm_small_gorilla,1:docs/results/extended2/lstm_small_gorilla_seed1
"""
import json
import statistics
import sys

ORDER = ["hpylori_G27", "hpylori_Puno120", "PRO", "hsapiens_chr1_fragment",
         "athaliana_chloroplast", "EUK", "phage_lambda", "phiX174", "VIR"]


def margins(d):
    rep = json.load(open(f"{d}/report.json"))
    return {r["dataset"]: r["baseline"] - r["value"] for r in rep["rows"]
            if r["task"] in ("transfer", "transfer_genome")}


def parse(arg):
    label, _, runs = arg.partition("=")
    seeds = {}
    for part in runs.split(","):
        seed, _, d = part.partition(":")
        seeds[seed] = margins(d)
    return label, seeds


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    groups = [parse(a) for a in sys.argv[1:]]
    head = ["held out"]
    for label, seeds in groups:
        head += [f"{label}: seeds {' / '.join(seeds)}", f"{label}: mean ± sd (lowest)"]
    paired = len(groups) == 2 and list(groups[0][1]) == list(groups[1][1])
    if paired:
        head.append(f"{groups[1][0]} − {groups[0][0]}, paired (seeds won)")
    print("| " + " | ".join(head) + " |")
    print("|---" * len(head) + "|")
    for d in ORDER:
        cells = []
        for _, seeds in groups:
            v = [s[d] for s in seeds.values()]
            sd = statistics.stdev(v) if len(v) > 1 else float("nan")
            cells.append(" / ".join(f"{x:+.3f}" for x in v))
            cells.append(f"{statistics.mean(v):+.3f} ± {sd:.3f} ({min(v):+.3f})")
        if paired:
            a, b = groups[0][1], groups[1][1]
            diff = [b[s][d] - a[s][d] for s in a]
            won = sum(x > 0 for x in diff)
            cells.append(f"{statistics.mean(diff):+.3f} ({won} of {len(diff)})")
        name = f"**{d}**" if d in ("PRO", "EUK", "VIR") else d
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
