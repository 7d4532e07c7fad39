#!/usr/bin/env python3
"""Table of scripts/unbalanced-classes.sh: mean ± sd over seeds of each classifier's test
metrics, without and with --balanced (the probe's baselines weighted the same way)."""
import json, pathlib, statistics, sys

out = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "runs/unbalanced")
keys = ["balanced_accuracy", "recall", "precision", "f1", "mcc", "auroc", "auprc", "accuracy"]
rows = {}  # (method, weighting) -> list of metric dicts
for d in sorted(out.glob("*-seed*")):
    if not d.is_dir():
        continue
    method, weighting, _ = d.name.split("-")
    m = json.loads((d / "metrics.json").read_text())
    name = {"probe": "linear probe", "head": "ULMFiT head", "gen": "class LMs"}[method]
    rows.setdefault((name, weighting), []).append(m)
    for b, bm in (m.get("baselines") or {}).items():
        rows.setdefault((b, weighting), []).append(bm)


def cell(vals):
    if not vals:
        return "–"
    if len(vals) == 1:
        return f"{vals[0]:.3f}"
    return f"{statistics.mean(vals):.3f} ± {statistics.stdev(vals):.3f}"


print("| classifier | classes | seeds | " + " | ".join(keys) + " |")
print("|---|---|---|" + "---|" * len(keys))
order = ["linear probe", "ULMFiT head", "class LMs", "markov_per_class", "kmer_logreg", "cnn_scratch"]
for name in order:
    for w in ["plain", "balanced"]:
        ms = rows.get((name, w))
        if not ms:
            continue
        cells = [cell([m[k] for m in ms if k in m]) for k in keys]
        print(f"| {name} | {w} | {len(ms)} | " + " | ".join(cells) + " |")
