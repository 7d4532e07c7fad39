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
for path in sys.argv[1:]:
    rep = json.load(open(path))
    model = rep.get("model", model)
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
print(f"{len(sys.argv) - 1} seeds; model: {model}\n")
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
