"""The every-architecture table of docs/benchmark-results.md, from the results that
scripts/architectures.sh keeps in docs/results/architectures/<preset>/ (summary.json, the bench
report.json, the /usr/bin/time lines of training and bench).

Usage: python3 scripts/architectures-table.py [RESULTS_DIR]   (prints markdown)
"""
import json, math, os, sys

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
print("| model | arch | params | window × batch | steps | training tokens | training | bench suite | peak RSS (train / bench) |")
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
    rss = f"{fmt(tr_rss) if tr_rss else '–'} / {fmt(be_rss) if be_rss else '–'} MiB"
    print(f"| {m} | {rep['arch']} | {rep['n_params']} | {bptt} × {batch} | {steps or '–'} | {tokens} "
          f"| {minutes} | {bench} | {rss} |")
if missing:
    print(f"\nNot yet trained at this budget: {', '.join(missing)}.")
