#!/usr/bin/env python3
"""AUROCs of the variant task's random CDS substitutions, by score and codon position.

Reads the CSV of `cargo run --release --example variant_sites -- MODEL CORPUS N FLANK` and prints,
per held-out genome and for each way of turning the candidate scores into a variant score,
the AUROC of missense vs synonymous, nonsense vs synonymous and nonsense vs missense (higher =
the first class scored as more damaging), and missense vs synonymous within each codon position
(the count of synonymous substitutions there in brackets). Standard library only.

Scores (`cand[b]` = log-likelihood of the window with base b at the site):
  both         forward + reverse-complement window (the benchmark's LLR)
  fwd          forward strand only
  coding       the strand the gene is read on (forward window for + genes, RC for − genes)
  anti         the other strand
  markov       the order-6 Markov chain's LLR (both strands)
  adj          both − markov (what the model knows beyond local composition)
  sitenorm     alt minus the mean of the three non-reference candidates (site predictability
               removed; only which alternative is preferred is left)
  sitepost     log posterior of alt among the four candidates
  adj_sitenorm sitenorm of the Markov-adjusted scores
"""
import csv
import math
import sys

BASES = "ACGT"
CLASSES = ("Synonymous", "Missense", "Nonsense")


def auroc(pos, neg):
    """P(pos > neg) + P(tie) / 2 (Mann-Whitney), NaN when a class is empty."""
    if not pos or not neg:
        return float("nan")
    allv = sorted([(v, 1) for v in pos] + [(v, 0) for v in neg])
    rank_sum, i = 0.0, 0
    while i < len(allv):
        j = i
        while j + 1 < len(allv) and allv[j + 1][0] == allv[i][0]:
            j += 1
        r = (i + j) / 2 + 1
        rank_sum += r * sum(1 for t in range(i, j + 1) if allv[t][1])
        i = j + 1
    n1, n0 = len(pos), len(neg)
    return (rank_sum - n1 * (n1 + 1) / 2) / (n1 * n0)


def logsumexp(x):
    m = max(x)
    return m + math.log(sum(math.exp(v - m) for v in x))


def score(r, kind):
    get = lambda p: [float(r[p + b]) for b in BASES]
    m, rc, b, rb = get("m"), get("r"), get("b"), get("rb")
    ref, alt = BASES.index(r["ref"]), BASES.index(r["alt"])
    both = [x + y for x, y in zip(m, rc)]
    bboth = [x + y for x, y in zip(b, rb)]
    fwd_gene = r["strand"] == "Forward"
    others = [i for i in range(4) if i != ref]
    if kind == "both":
        return both[alt] - both[ref]
    if kind == "fwd":
        return m[alt] - m[ref]
    if kind == "coding":
        c = m if fwd_gene else rc
        return c[alt] - c[ref]
    if kind == "anti":
        c = rc if fwd_gene else m
        return c[alt] - c[ref]
    if kind == "markov":
        return bboth[alt] - bboth[ref]
    if kind == "adj":
        return (both[alt] - both[ref]) - (bboth[alt] - bboth[ref])
    if kind == "sitenorm":
        return both[alt] - sum(both[i] for i in others) / 3
    if kind == "sitepost":
        return both[alt] - logsumexp(both)
    if kind == "adj_sitenorm":
        x = [p - q for p, q in zip(both, bboth)]
        return x[alt] - sum(x[i] for i in others) / 3
    raise ValueError(kind)


KINDS = ["both", "fwd", "coding", "anti", "markov", "adj", "sitenorm", "sitepost", "adj_sitenorm"]


def main(path):
    rows = list(csv.DictReader(open(path)))
    for g in sorted({r["genome"] for r in rows}):
        rs = [r for r in rows if r["genome"] == g]
        counts = {c: sum(r["consequence"] == c for r in rs) for c in CLASSES}
        print(f"{g}: {len(rs)} substitutions {counts}")
        for k in KINDS:
            # −LLR: higher = more damaging
            s = {c: [-score(r, k) for r in rs if r["consequence"] == c] for c in CLASSES}
            line = (
                f"  {k:13s} mis>syn {auroc(s['Missense'], s['Synonymous']):.3f}"
                f"  non>syn {auroc(s['Nonsense'], s['Synonymous']):.3f}"
                f"  non>mis {auroc(s['Nonsense'], s['Missense']):.3f}"
            )
            by_pos = []
            for cp in "012":
                sp = {
                    c: [-score(r, k) for r in rs if r["consequence"] == c and r["codon_pos"] == cp]
                    for c in ("Synonymous", "Missense")
                }
                a = auroc(sp["Missense"], sp["Synonymous"])
                by_pos.append(f"pos{int(cp) + 1} {a:.2f} ({len(sp['Synonymous'])})")
            print(line, "  mis>syn by codon position:", ", ".join(by_pos))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
