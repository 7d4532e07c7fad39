#!/usr/bin/env python3
"""Mean ± sd over seeds of the benchmark's classification rows (report.json files of
`genolm bench --tasks classification`), the model next to every baseline.
Usage: classification-table.py runs/classification-seeds/seed*/report.json
           [--head runs/head-only/seed*/report.json]

--head adds the LM classifier head of other reports (e.g. `HEAD_ONLY=1
scripts/classification-seeds.sh` after a change to the head's recipe) as a column of its own,
and their class-conditional LMs, where they have them, as another, matched to the first
reports by seed and dataset: the baselines do not depend on either, so they need not be
trained again to compare a new recipe with them."""
import json
import statistics
import sys


def ms(v):
    v = [x for x in v if x is not None]
    if not v:
        return "–"
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    return f"{statistics.mean(v):.3f} ± {sd:.3f}"


args = sys.argv[1:]
full, head = (args[:args.index("--head")], args[args.index("--head") + 1:]) if "--head" in args else (args, [])

# values[dataset][metric][method][seed]
values = {}
n_items = {}
model = None
hosts = []
seeds = []


def put(ds, metric, method, seed, v):
    values.setdefault(ds, {}).setdefault(metric, {}).setdefault(method, {})[seed] = v


for path, is_head in [(p, False) for p in full] + [(p, True) for p in head]:
    rep = json.load(open(path))
    seed = rep.get("options", {}).get("seed", path)
    hosts.append((path, rep.get("host") or "not recorded"))
    if not is_head:
        model = rep.get("model", model)
        if seed not in seeds:  # one seed may span several reports (one per row)
            seeds.append(seed)
    for r in rep["rows"]:
        if r["task"] != "classification":
            continue
        ds = r["dataset"]
        if is_head and ds not in n_items:
            continue  # a row the first reports lack: nothing to compare it with
        n_items.setdefault(ds, r["n"])
        me = "head" if is_head else "model"
        put(ds, "acc", me, seed, r["value"])
        if not is_head:
            put(ds, "acc", "markov", seed, r["baseline"])
        for name, m, b in r["extra"]:
            if name in ("auroc", "accuracy_seen", "accuracy_unseen"):
                put(ds, name, me, seed, m)
                if not is_head:
                    put(ds, name, "markov", seed, b)
        for name, v in r["more_baselines"]:
            base, metric = name.rsplit(" ", 1)
            if is_head:
                if base != "lm_generative":
                    continue
                base = "generative2"
            put(ds, "acc" if metric == "accuracy" else metric, base, seed, v)


def series(ds, metric, method):
    """The method's values over the first reports' seeds (None where it has none)."""
    got = values.get(ds, {}).get(metric, {}).get(method, {})
    return [got.get(s) for s in seeds]


has_gen2 = any("generative2" in m for d in values.values() for m in d.values())
has_probe = any("lm_probe" in m for d in values.values() for m in d.values())
cols = (["model"] + (["head"] if head else []) + ["lm_generative"] + (["generative2"] if has_gen2 else [])
        + (["lm_probe"] if has_probe else []) + ["markov", "kmer_logreg", "cnn_scratch"])
headers = {"model": f"{model or 'model'} (ULMFiT classifier)",
           "head": f"{model or 'model'} (ULMFiT classifier, --head reports)",
           "lm_generative": "class-conditional LMs from it",
           "lm_probe": "linear probe of it (frozen)",
           "generative2": "class-conditional LMs (--head reports)", "markov": "Markov per class",
           "kmer_logreg": "k-mer logistic regression", "cnn_scratch": "CNN from scratch"}
print(f"{len(seeds)} seeds; model: {model}" + (f"; head from {len(head)} other reports" if head else ""))
# The GEMM orders its sums by the host's cache sizes, so trained classifiers can differ in the
# last items across hosts: say which host each report ran on.
by_host = {}
for path, h in hosts:
    by_host.setdefault(h, []).append(path)
if len(by_host) == 1:
    print(f"host: {hosts[0][1]}\n")
else:
    print("hosts differ between reports (numbers of the trained classifiers may differ by host):")
    for h, paths in by_host.items():
        print(f"- {h}: {', '.join(paths)}")
    print()
print("| dataset | metric | test items | " + " | ".join(headers[c] for c in cols) + " |")
print("|---|---|---|" + "---|" * len(cols))
names = {"acc": "accuracy", "auroc": "AUROC", "accuracy_seen": "accuracy, genomes the LM trained on",
         "accuracy_unseen": "accuracy, other genomes"}
for ds, d in values.items():
    for metric in ["acc", "auroc", "accuracy_seen", "accuracy_unseen"]:
        if metric not in d:
            continue
        cells = [ms(series(ds, metric, c)) for c in cols]
        print(f"| {ds} | {names[metric]} | {n_items[ds]} | " + " | ".join(cells) + " |")

# Paired per-seed comparison: each seed draws its own split, and every method is scored on the
# same test items of that seed, so "does A beat B" is a question about the per-seed differences,
# not about two means with overlapping spreads.
short = {"model": "ULMFiT classifier", "head": "ULMFiT classifier (--head)",
         "lm_generative": "class-conditional LMs", "generative2": "class-conditional LMs (--head)",
         "lm_probe": "linear probe", "markov": "Markov per class",
         "kmer_logreg": "k-mer logistic regression", "cnn_scratch": "CNN from scratch"}
lm_cols = [c for c in cols if c in ("model", "head", "lm_generative", "generative2", "lm_probe")]
others = ["markov", "kmer_logreg", "cnn_scratch"]


def mean_of(v):
    v = [x for x in v if x is not None]
    return statistics.mean(v) if v else float("-inf")


if len(seeds) > 1:
    against = (["model"] if head else []) + (["lm_generative"] if has_gen2 else []) + others
    print(f"\nPaired over the {len(seeds)} seeds (same test items within a seed): the best of genolm's LM "
          "classifiers on each row (by mean accuracy) minus each other method; mean ± sd of the per-seed "
          "differences, and seeds won / tied / lost\n")
    print("| dataset | metric | LM classifier | " + " | ".join(f"− {short[c]}" for c in against) + " |")
    print("|---|---|---|" + "---|" * len(against))
    for ds, d in values.items():
        best = max(lm_cols, key=lambda c: mean_of(series(ds, "acc", c)))
        for metric in ["acc", "auroc"]:
            a = series(ds, metric, best)
            if metric not in d or None in a:
                continue
            cells = []
            for c in against:
                b = series(ds, metric, c)
                if c == best or None in b:
                    cells.append("–")
                    continue
                diff = [x - y for x, y in zip(a, b)]
                won = sum(x > 1e-9 for x in diff)
                lost = sum(x < -1e-9 for x in diff)
                sd = statistics.stdev(diff) if len(diff) > 1 else 0.0
                cells.append(f"{statistics.mean(diff):+.3f} ± {sd:.3f} ({won}/{len(diff) - won - lost}/{lost})")
            print(f"| {ds} | {'accuracy' if metric == 'acc' else 'AUROC'} | {short[best]} | " + " | ".join(cells) + " |")
