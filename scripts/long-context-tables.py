#!/usr/bin/env python3
"""Render the long-context results (docs/long-context/, written by scripts/long-context.sh) as
Markdown tables between the `<!-- tables:begin -->` and `<!-- tables:end -->` markers of
docs/long-context.md. Standard library only.

  python3 scripts/long-context-tables.py [docs/long-context]
"""
import csv, json, math, os, re, sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
D = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "docs", "long-context")
DOC = os.path.join(ROOT, "docs", "long-context.md")


def rows(name):
    p = os.path.join(D, name)
    return list(csv.DictReader(open(p))) if os.path.exists(p) else []


def f(x, nd=3):
    try:
        v = float(x)
    except (TypeError, ValueError):
        return "–"
    return "–" if math.isnan(v) else f"{v:.{nd}f}"


out = []
lc = rows("long_context.csv")
methods = list(dict.fromkeys(r["method"] for r in lc))
mults = sorted({int(r["multiple"]) for r in lc})
for ft in ("false", "true"):
    sel = [r for r in lc if r["finetuned"] == ft]
    if not sel:
        continue
    out.append("**" + ("After the same fine-tuning" if ft == "true" else "Zero-shot (no fine-tuning)")
               + "**: masked-token perplexity per nucleotide (accuracy) at each window length\n")
    lens = {int(r["multiple"]): int(r["len"]) for r in sel}
    out.append("| method | " + " | ".join(f"{m}× ({lens[m]:,} nt)" for m in mults) + " |")
    out.append("|---|" + "---:|" * len(mults))
    for m in methods:
        cells = []
        for k in mults:
            r = next((r for r in sel if r["method"] == m and int(r["multiple"]) == k), None)
            cells.append(f"{f(r['perplexity'])} ({f(r['accuracy'])})" if r else "–")
        out.append(f"| {m} | " + " | ".join(cells) + " |")
    out.append("")

if lc:
    r0 = lc[0]
    out.append(f"Every column scores the same {int(r0['masked']):,} masked positions.\n")
    out.append("**Near the window edges vs far from them** (loss in nats at masked positions < 32 nt from an "
               "edge / ≥ 128 nt from both edges), zero-shot and fine-tuned\n")
    out.append("| method | fine-tuned | " + " | ".join(f"{m}× edge / centre" for m in mults) + " |")
    out.append("|---|---|" + "---:|" * len(mults))
    for ft in ("false", "true"):
        for m in methods:
            cells = []
            for k in mults:
                r = next((r for r in lc if r["method"] == m and r["finetuned"] == ft and int(r["multiple"]) == k), None)
                cells.append(f"{f(r['loss_edge'])} / {f(r['loss_centre'])}" if r else "–")
            if any(c != "– / –" for c in cells):
                out.append(f"| {m} | {'yes' if ft == 'true' else 'no'} | " + " | ".join(cells) + " |")
    out.append("")

pr = rows("probe/long_context_probe.csv") + rows("probe-finetuned/long_context_probe.csv")
if pr:
    out.append("**Coding-strand probe** (none / forward CDS / reverse CDS per nucleotide of held-out annotated "
               "genomes; linear probe on the body states; accuracy and macro-F1 on the held-out halves)\n")
    pm = sorted({int(r["multiple"]) for r in pr})
    out.append("| method | fine-tuned | " + " | ".join(f"{m}× acc / F1" for m in pm) + " |")
    out.append("|---|---|" + "---:|" * len(pm))
    for ft in ("false", "true"):
        for m in methods:
            cells = []
            for k in pm:
                r = next((r for r in pr if r["method"] == m and r["finetuned"] == ft and int(r["multiple"]) == k), None)
                cells.append(f"{f(r['accuracy'])} / {f(r['macro_f1'])}" if r else "–")
            if any(c != "–" for c in cells):
                out.append(f"| {m} | {'yes' if ft == 'true' else 'no'} | " + " | ".join(cells) + " |")
    n = pr[0]["n_test"]
    out.append(f"\n{int(n):,} test positions per cell.\n")

mem = {b: rows(f"memory-block-{b}/long_context.csv") for b in ("512", "0")}
if mem["512"] or mem["0"]:
    out.append("**Time and peak memory per window** (plain RoPE, one window, batch 1, 2 CPU cores; peak RSS of the "
               "whole process, reset before each length)\n")
    out.append("| window | blocked attention: s / window | peak RSS MiB | plain attention: s / window | peak RSS MiB |")
    out.append("|---:|---:|---:|---:|---:|")
    lens = sorted({int(r["len"]) for b in mem for r in mem[b]})
    for L in lens:
        c = []
        for b in ("512", "0"):
            r = next((r for r in mem[b] if int(r["len"]) == L), None)
            oom = b == "0" and os.path.exists(os.path.join(D, "memory-block-0", "16x.txt"))
            c += ([f(r["seconds_per_window"], 2), f(r["peak_rss_mib"], 0)] if r
                  else ["out of memory", "> 16,384"] if oom else ["–", "–"])
        out.append(f"| {L:,} | " + " | ".join(c) + " |")
    out.append("")

for p in sorted(os.listdir(D)) if os.path.isdir(D) else []:
    if p.startswith("depmap-") and p.endswith(".json"):
        j = json.load(open(os.path.join(D, p)))
        out.append(f"**Dependency map of a region** ({j['rows']} substituted positions at the centre of "
                   f"{j['genome']}:{j['window_start']:,}+, method `{j['method']}`): mean max |Δ log2 odds| by distance\n")
        s, l = dict(j["short_by_distance"]), dict(j["long_by_distance"])
        keys = list(l.keys())
        out.append(f"| read in | " + " | ".join(f"{k} nt" for k in keys) + " | seconds |")
        out.append("|---|" + "---:|" * (len(keys) + 1))
        out.append(f"| {j['short_window']:,} nt | " + " | ".join(f(s.get(k), 4) if k in s else "–" for k in keys)
                   + f" | {j['short_seconds']:.0f} |")
        out.append(f"| {j['long_window']:,} nt | " + " | ".join(f(l[k], 4) for k in keys)
                   + f" | {j['long_seconds']:.0f} |")
        out.append("")

var = []
for tag in ("1x", "4x"):
    p = os.path.join(D, f"variants-{tag}", "metrics.csv")
    if os.path.exists(p):
        var.append((tag, list(csv.DictReader(open(p)))))
if var:
    out.append("**Zero-shot variant effect** (AUROC of −LLR, nonsynonymous vs synonymous CDS substitutions of "
               "held-out genomes; Markov order-6 LLR alongside)\n")
    out.append("| flank | dataset | model AUROC | Markov AUROC |")
    out.append("|---|---|---:|---:|")
    for tag, rs in var:
        for r in rs:
            if r.get("metric") == "auroc_nonsyn_vs_syn":
                out.append(f"| {tag} | {r['dataset']} | {f(r['value'])} | {f(r['baseline'])} |")
    out.append("")

text = open(DOC).read()
block = "<!-- tables:begin -->\n" + "\n".join(out) + "\n<!-- tables:end -->"
if "<!-- tables:begin -->" in text:
    text = re.sub(r"<!-- tables:begin -->.*?<!-- tables:end -->", lambda _: block, text, flags=re.S)
else:
    text = text.rstrip() + "\n\n" + block + "\n"
open(DOC, "w").write(text)
print("\n".join(out))
