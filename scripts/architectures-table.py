"""The every-architecture table of docs/benchmark-results.md, from the results that
scripts/architectures.sh keeps in docs/results/architectures/<preset>/ (summary.json, the bench
report.json, the /usr/bin/time lines of training and bench).

Usage: python3 scripts/architectures-table.py [RESULTS_DIR]   (prints markdown)
"""
import json, math, os, re, sys

root = sys.argv[1] if len(sys.argv) > 1 else "docs/results/architectures"
ORDER = ["awd_lstm_small", "lstm_small", "cnn_small", "cnn_lstm_small", "dilated_small",
         "transformer_small", "transformer_mlm_small"]
models = [m for m in ORDER if os.path.exists(f"{root}/{m}/report.json")]
missing = [m for m in ORDER if m not in models]
if not models:
    sys.exit(f"no results in {root}: run scripts/architectures.sh run")
reps = {m: json.load(open(f"{root}/{m}/report.json")) for m in models}
sums = {m: json.load(open(f"{root}/{m}/summary.json")) for m in models}


def num(v):
    return v is not None and not (isinstance(v, float) and math.isnan(v))


def fmt(v):
    if not num(v):
        return "–"
    return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.3f}"


def timing(m, what):
    """'<secs> s wall, <kib> KiB peak' written by /usr/bin/time -f."""
    path = f"{root}/{m}/{m}.{what}.time"
    if not os.path.exists(path):
        return None, None
    parts = open(path).read().split()
    try:
        return float(parts[0]), float(parts[3]) / 1024
    except (IndexError, ValueError):
        return None, None


# issue 20's variant goal is nonsense vs synonymous: that extra metric gets rows of its own
EXTRA_ROWS = {"variants": ["auroc_nonsense_vs_synonymous"]}
for m in models:
    extra = []
    for r in reps[m]["rows"]:
        for name in EXTRA_ROWS.get(r["task"], []):
            for n, v, base in r["extra"]:
                if n == name:
                    extra.append(dict(r, metric=n, value=v, baseline=base, more_baselines=[]))
    # after the task's own rows
    rows_m = reps[m]["rows"]
    last = max((i for i, r in enumerate(rows_m) if r["task"] in EXTRA_ROWS), default=len(rows_m) - 1)
    reps[m]["rows"] = rows_m[: last + 1] + extra + rows_m[last + 1 :]

# rows in the order of the first report, then any row only another model has
rows = []
for m in models:
    for r in reps[m]["rows"]:
        key = (r["task"], r["dataset"], r["metric"])
        if key not in rows:
            rows.append(key)

print("| task | dataset | metric | " + " | ".join(models) + " | Markov / null | supervised baselines |")
print("|---|---|---|" + "---|" * (len(models) + 2))
for (t, d, me) in rows:
    cells, base, more = [], None, ""
    for m in models:
        r = next((x for x in reps[m]["rows"] if (x["task"], x["dataset"], x["metric"]) == (t, d, me)), None)
        if r is None:
            cells.append("–")
            continue
        if not num(r["value"]) or not num(r["baseline"]):
            cells.append(fmt(r["value"]))
        else:
            skill = (r["value"] - r["baseline"]) if r["higher_is_better"] else (r["baseline"] - r["value"])
            cells.append(f"{fmt(r['value'])} ({skill:+.3f})")
        if base is None and num(r["baseline"]):
            base = r["baseline"]
        if not more and r.get("more_baselines"):
            pairs = r["more_baselines"]
            if isinstance(pairs, dict):
                pairs = list(pairs.items())
            more = ", ".join(f"{n} {fmt(v)}" for n, v in pairs if "accuracy" in n or "auroc" not in n)
    print(f"| {t} | {d} | {me} | " + " | ".join(cells) + f" | {fmt(base)} | {more or '–'} |")
print()
print("| model | arch | params | window × batch | steps | training tokens | budget (idle) | wall clock: training, bench suite | peak RSS (train / bench) |")
print("|---|---|---|---|---|---|---|---|---|")
for m in models:
    s, rep = sums[m], reps[m]
    d = s.get("data", {})
    bptt, batch = d.get("bptt"), d.get("batch_size")
    steps = s["history"][-1]["step"] if s.get("history") else None
    tokens = f"{steps * bptt * batch / 1e6:.1f} M" if steps and bptt and batch else "–"
    tr_s, tr_rss = timing(m, "train")
    be_s, be_rss = timing(m, "bench")
    minutes = f"{(tr_s / 60 if tr_s else s['minutes']):.1f} min"
    bench = f"{be_s / 60:.1f} min" if be_s else "–"
    # the step time measured on the idle machine (`calibrate`), written into the run file
    run_toml = f"{root}/{m}/run.toml"
    per_step = re.search(r"Measured: ([0-9.]+) s per step", open(run_toml).read()) if os.path.exists(run_toml) else None
    budget = f"{steps * float(per_step.group(1)) / 60:.1f} min of steps" if per_step and steps else f"{s['minutes']:.1f} min"
    rss = f"{f'{tr_rss:.0f}' if tr_rss else '–'} / {f'{be_rss:.0f}' if be_rss else '–'} MiB"
    print(f"| {m} | {rep['arch']} | {rep['n_params']} | {bptt} × {batch} | {steps or '–'} | {tokens} "
          f"| {budget} | {minutes}, {bench} | {rss} |")
if missing:
    print(f"\nNot yet trained at this budget: {', '.join(missing)}.")
print("\nGenomes (held out = never trained on) and the first 12 hex digits of each file's SHA-256:\n")
print("| genome | kingdom | role | sha256 |")
print("|---|---|---|---|")
for d in reps[models[0]]["datasets"]:
    print(f"| {d['genome']} | {d['kingdom']} | {d['role']} | {' '.join(f[1][:12] for f in d['files'])} |")
