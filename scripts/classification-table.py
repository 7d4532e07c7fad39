#!/usr/bin/env python3
"""Mean ± sd over seeds of the benchmark's classification rows (report.json files of
`genolm bench --tasks classification`), the model next to every baseline.
Usage: classification-table.py runs/classification-seeds/seed*/report.json"""
import json
import statistics
import sys


def ms(v):
    v = [x for x in v if x is not None]
    if not v:
        return "–"
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    return f"{statistics.mean(v):.3f} ± {sd:.3f}"


rows = {}
model = None
hosts = []
for path in sys.argv[1:]:
    rep = json.load(open(path))
    model = rep.get("model", model)
    hosts.append(rep.get("host") or "not recorded")
    for r in rep["rows"]:
        if r["task"] != "classification":
            continue
        d = rows.setdefault(r["dataset"], {"n": [], "acc": {}, "auroc": {}})
        d["n"].append(r["n"])
        d["acc"].setdefault("model", []).append(r["value"])
        d["acc"].setdefault("markov", []).append(r["baseline"])
        for name, m, b in r["extra"]:
            if name in ("auroc", "accuracy_seen", "accuracy_unseen"):
                d.setdefault(name, {}).setdefault("model", []).append(m)
                d[name].setdefault("markov", []).append(b)
        for name, v in r["more_baselines"]:
            base, metric = name.rsplit(" ", 1)
            key = "acc" if metric == "accuracy" else metric
            d.setdefault(key, {}).setdefault(base, []).append(v)

cols = ["model", "lm_generative", "markov", "kmer_logreg", "cnn_scratch"]
print(f"{len(sys.argv) - 1} seeds; model: {model}")
# The GEMM orders its sums by the host's cache sizes, so trained classifiers can differ in the
# last items across hosts: say which host each seed ran on.
if len(set(hosts)) == 1:
    print(f"host: {hosts[0]}\n")
else:
    print("hosts differ between seeds (numbers of the trained classifiers may differ by host):")
    for path, h in zip(sys.argv[1:], hosts):
        print(f"- {path}: {h}")
    print()
print("| dataset | metric | test items | " + " | ".join(
    [f"{model or 'model'} (ULMFiT classifier)", "class-conditional LMs from it", "Markov per class", "k-mer logistic regression", "CNN from scratch"]) + " |")
print("|---|---|---|" + "---|" * len(cols))
for ds, d in rows.items():
    for metric in ["acc", "auroc", "accuracy_seen", "accuracy_unseen"]:
        if metric not in d:
            continue
        cells = [ms(d[metric].get(c, [])) for c in cols]
        name = {"acc": "accuracy", "auroc": "AUROC", "accuracy_seen": "accuracy, genomes the LM trained on",
                "accuracy_unseen": "accuracy, other genomes"}[metric]
        print(f"| {ds} | {name} | {d['n'][0]} | " + " | ".join(cells) + " |")

# Paired per-seed comparison: each seed draws its own split, and every method is scored on the
# same test items of that seed, so "does A beat B" is a question about the per-seed differences,
# not about two means with overlapping spreads.
names = {"model": "ULMFiT classifier", "lm_generative": "class-conditional LMs", "markov": "Markov per class",
         "kmer_logreg": "k-mer logistic regression", "cnn_scratch": "CNN from scratch"}
n_seeds = len(sys.argv) - 1
if n_seeds > 1:
    print(f"\nPaired over the {n_seeds} seeds (same test items within a seed): the best of genolm's two LM "
          "classifiers on each row (by mean accuracy) minus each other method; mean ± sd of the per-seed "
          "differences, and seeds won / tied / lost\n")
    print("| dataset | metric | LM classifier | " + " | ".join(f"− {names[c]}" for c in cols[2:]) + " |")
    print("|---|---|---|" + "---|" * len(cols[2:]))
    for ds, d in rows.items():
        best = max(("model", "lm_generative"),
                   key=lambda c: statistics.mean(d["acc"][c]) if d["acc"].get(c) else float("-inf"))
        for metric in ["acc", "auroc"]:
            if metric not in d or not d[metric].get(best):
                continue
            cells = []
            for c in cols[2:]:
                a, b = d[metric][best], d[metric].get(c, [])
                if len(a) != len(b):
                    cells.append("–")
                    continue
                diff = [x - y for x, y in zip(a, b)]
                won = sum(x > 1e-9 for x in diff)
                lost = sum(x < -1e-9 for x in diff)
                sd = statistics.stdev(diff) if len(diff) > 1 else 0.0
                cells.append(f"{statistics.mean(diff):+.3f} ± {sd:.3f} ({won}/{len(diff) - won - lost}/{lost})")
            name = "accuracy" if metric == "acc" else "AUROC"
            print(f"| {ds} | {name} | {names[best]} | " + " | ".join(cells) + " |")
