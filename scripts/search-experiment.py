#!/usr/bin/env python3
"""Does ASHA pay? ASHA vs random search with the same step budget, over several seeds, on the
embedded corpus (examples/search/lm.toml), then the best configuration ASHA found against the
awd_lstm_small preset at the same training time. Writes docs/search-results.json and prints the
markdown tables of docs/search.md.

    python3 scripts/search-experiment.py [--seeds 1 2 3] [--minutes 3] [--workers 2]

GENOLM_BIN selects the binary (default: the debug build in $CARGO_TARGET_DIR or
~/.cache/genolm/target). About 1 h on 2 cores with the defaults.
"""
import argparse, json, os, re, statistics, subprocess, sys, time
from pathlib import Path

root = Path(__file__).resolve().parent.parent
target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/genolm/target"))
BIN = os.environ.get("GENOLM_BIN", str(target / "debug/genolm"))
ap = argparse.ArgumentParser()
ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
ap.add_argument("--minutes", type=float, default=3.0, help="training time of the final comparison")
ap.add_argument("--workers", type=int, default=2)
ap.add_argument("--out", default="runs/search-exp")
ap.add_argument("--final-only", action="store_true",
                help="reuse the finished searches in --out and run only the equal-time comparison")
args = ap.parse_args()
out = root / args.out
out.mkdir(parents=True, exist_ok=True)
space = (root / "examples/search/lm.toml").read_text()


def run(cmd):
    print("+", " ".join(map(str, cmd)), file=sys.stderr, flush=True)
    subprocess.run([str(c) for c in cmd], check=True, stdout=subprocess.DEVNULL)


def trials(d):
    res = []
    for t in sorted((d / "trials").iterdir()):
        rungs = {}
        for f in t.glob("rung*.json"):
            r = json.loads(f.read_text())
            rungs[r["rung"]] = r
        p = json.loads((t / "params.json").read_text())
        res.append((p, rungs))
    return res


searches = []
for seed in args.seeds:
    for method in ["asha", "random"]:
        d = out / f"{method}-s{seed}"
        f = out / f"{method}-s{seed}.toml"
        f.write_text(re.sub(r'method = "\w+"', f'method = "{method}"',
                            re.sub(r"\nseed = \d+", f"\nseed = {seed}", space)))
        t0 = time.time()
        if not args.final_only:
            run([BIN, "search", "--space", f, "--out", d, "--workers", args.workers, "--quiet"])
        tr = trials(d)
        top = [(rs[2]["valid_loss"], p) for p, rs in tr if 2 in rs and rs[2]["valid_loss"] < 1e300]
        best_loss, best_p = min(top, key=lambda x: x[0])
        steps = sum(max(r["steps"] for r in rs.values()) for _, rs in tr if rs)
        minutes = (time.time() - t0) / 60
        if args.final_only:  # the searches' own training time, from their rung results
            minutes = sum(r["seconds"] for _, rs in tr for r in rs.values()) / 60 / args.workers
        searches.append(dict(method=method, seed=seed, trials=len(tr), at_top=len(top), steps=steps,
                             minutes=minutes, best_valid_loss=best_loss,
                             best_trial=best_p["id"], best_params=best_p["params"], folder=str(d)))
        print(json.dumps(searches[-1]), file=sys.stderr, flush=True)


def train(cfg_text, name, steps, full_eval=True):
    """Train one run of `steps` optimizer steps (one epoch, one-cycle over all of them); with
    `full_eval` the validation and per-kingdom evaluations use every held-out token, so runs
    with different windows are compared on the same tokens."""
    d = out / "final" / name
    cfg = out / "final" / f"{name}.toml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    text = re.sub(r'^output = .*$', f'output = "{d}"', cfg_text, flags=re.M)
    text = re.sub(r"^epochs = \d+$", "epochs = 1", text, flags=re.M)
    text = re.sub(r"^max_batches = \d+$", f"max_batches = {int(round(steps))}", text, flags=re.M)
    text = re.sub(r"^valid_max_batches = \d+$", f"valid_max_batches = {0 if full_eval else 4}", text, flags=re.M)
    cfg.write_text(text)
    run([BIN, "train", "--config", cfg])
    s = json.loads((d / "summary.json").read_text())
    log = [json.loads(l) for l in (d / "metrics.jsonl").read_text().splitlines()]
    st = [r for r in log if r["kind"] == "step"]
    return dict(name=name, steps=st[-1]["step"], train_minutes=(st[-1]["time"] - st[0]["time"]) / 60,
                sec_per_step=(st[-1]["time"] - st[0]["time"]) / max(1, len(st) - 1),
                valid_loss=s["history"][-1]["valid_loss"],
                valid=[(k["kingdom"], k["loss"]) for k in s["valid"]],
                test=[(k["kingdom"], k["loss"]) for k in s["test"]], params=s["n_params"])


# the best configuration ASHA found (over all seeds) against the preset, same training time
asha = [s for s in searches if s["method"] == "asha"]
best = min(asha, key=lambda s: s["best_valid_loss"])
run([BIN, "search", "--out", best["folder"], "--results", "--quiet"])
best_toml = (Path(best["folder"]) / "best.toml").read_text()
# the preset: the search's base run with no searched value changed
preset_toml = """output = "x"
[data]
batch_size = 16
[model]
preset = "awd_lstm_small"
[train]
epochs = 1
max_batches = 45
valid_max_batches = 12
device = "cpu"
"""
probe = train(best_toml, "probe-best", 60, full_eval=False)
probe_p = train(preset_toml, "probe-preset", 60, full_eval=False)
budget_s = args.minutes * 60
final = [train(preset_toml, "preset", budget_s / probe_p["sec_per_step"]),
         train(best_toml, "asha-best", budget_s / probe["sec_per_step"])]
result = dict(command="python3 scripts/search-experiment.py " + " ".join(sys.argv[1:]),
              binary=BIN, searches=searches, best_search=best["folder"], final=final)
(root / "docs/search-results.json").write_text(json.dumps(result, indent=1))

print("| seed | method | trials (at top rung) | steps | minutes | best valid loss |")
print("|---|---|---|---|---|---|")
for s in searches:
    print(f"| {s['seed']} | {s['method']} | {s['trials']} ({s['at_top']}) | {s['steps']} | "
          f"{s['minutes']:.1f} | {s['best_valid_loss']:.4f} |")
for m in ["asha", "random"]:
    v = [s["best_valid_loss"] for s in searches if s["method"] == m]
    sd = statistics.stdev(v) if len(v) > 1 else 0.0
    print(f"| mean | {m} | | | | {statistics.mean(v):.4f} ± {sd:.4f} |")
print()
print("| model | steps | training minutes | s/step | pooled valid loss | valid per kingdom | test per kingdom |")
print("|---|---|---|---|---|---|---|")
for f in final:
    fmt = lambda xs: ", ".join(f"{k} {v:.4f}" for k, v in xs)
    print(f"| {f['name']} | {f['steps']} | {f['train_minutes']:.2f} | {f['sec_per_step']:.3f} | "
          f"{f['valid_loss']:.4f} | {fmt(f['valid'])} | {fmt(f['test'])} |")
