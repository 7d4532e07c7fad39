#!/usr/bin/env python3
"""Held-out LM quality of one or more `genolm bench --tasks transfer --out DIR` reports as a
markdown table: per genome and per kingdom, the model's and the order-6 Markov chain's
cross-entropy and the margin (Markov − model) with its standard error between 5-kb blocks
(`skill_se`; reads: between reads), and the bases scored.

Usage: python3 scripts/transfer-table.py [--margins] LABEL=DIR/report.json [...]
  --margins: only the margin ± se in each cell
"""
import json
import sys

ORDER = ["hpylori_G27", "hpylori_Puno120", "PRO", "PRO_reads",
         "hsapiens_chr1_fragment", "athaliana_chloroplast", "EUK", "EUK_reads",
         "phage_lambda", "phiX174", "VIR", "VIR_reads"]


def rows(path):
    rep = json.load(open(path))
    out = {}
    for r in rep["rows"]:
        if r["task"] not in ("transfer", "transfer_genome"):
            continue
        extra = {e[0]: e[1] for e in r["extra"]}
        se = extra.get("skill_se")
        out[r["dataset"]] = (r["value"], r["baseline"], r["baseline"] - r["value"], se, r["n"])
    return rep["options"]["bases_per_genome"], out


def main():
    args = sys.argv[1:]
    margins = "--margins" in args
    args = [a for a in args if a != "--margins"]
    if not args:
        sys.exit(__doc__)
    reps = []
    for a in args:
        label, _, path = a.partition("=")
        reps.append((label, *rows(path)))
    head = "| held out | " + " | ".join(
        f"{l} ({'whole genomes' if b == 0 else f'{b:,} bases per genome'})"
        + ("" if margins else ": model / Markov, margin ± se")
        for l, b, _ in reps) + " |"
    print(head)
    print("|---" * (len(reps) + 1) + "|")
    for d in ORDER:
        if not any(d in r for _, _, r in reps):
            continue
        cells = []
        for _, _, r in reps:
            if d not in r:
                cells.append("–")
                continue
            m, b, s, se, n = r[d]
            se_s = "" if se is None or se != se else f" ± {se:.3f}"
            if margins:
                cells.append(f"{s:+.3f}{se_s}")
            else:
                cells.append(f"{m:.4f} / {b:.4f}, **{s:+.3f}**{se_s}")
        name = d.replace("_reads", " reads") if d.endswith("_reads") else d
        if d in ("PRO", "EUK", "VIR"):
            name = f"**{d}**"
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
