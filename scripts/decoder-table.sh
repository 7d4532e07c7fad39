#!/usr/bin/env bash
# Gene-sized imputation with every decoder: the benchmark's impute_fragment task (24 gaps of
# 300 nt per held-out annotated genome) for MODEL (default: the shipped pretrained LM), once per
# decoder, the Markov baseline filled with the same decoder. Prints the Markdown table of
# docs/benchmark-results.md ("Gene-sized imputation: decoders"). About 2 minutes on 2 cores.
#   scripts/decoder-table.sh [MODEL] [OUT]
# With MLM=<run folder of a masked LM> it prints instead the table of the MLM's refinement
# settings (the task's default 6 gaps per genome; ≈ 20 minutes on 2 cores):
#   MLM=runs/arch20/transformer_mlm_small scripts/decoder-table.sh
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-pretrained}"
out="${2:-runs/decoders}"
source scripts/setup.sh
cargo build --release --bin genolm >&2
bin="$CARGO_TARGET_DIR/release/genolm"
mkdir -p "$out"
if [ -n "${MLM:-}" ]; then
  declare -A ref=(
    [confidence1]='order = "confidence"\nsamples = 1'
    [confidence16]='order = "confidence"\nsamples = 16'
    [outside_in1]='order = "outside_in"\nsamples = 1'
    [outside_in8]='order = "outside_in"\nsamples = 8'
    [outside_in32]='order = "outside_in"\nsamples = 32'
    [outside_in16_i30]='order = "outside_in"\nsamples = 16\niterations = 30'
  )
  names="confidence1 confidence16 outside_in1 outside_in8 outside_in32 outside_in16_i30"
  for d in $names; do
    printf "[fragment_refine]\n${ref[$d]}\n" > "$out/mlm_$d.toml"
    "$bin" bench "$MLM" --tasks impute_fragment --sizes "$out/mlm_$d.toml" --out "$out/mlm_$d" >&2
  done
  python3 - "$out" $names <<'PY'
import json, sys
out, names = sys.argv[1], sys.argv[2:]
print("| refinement | genome | gaps | nt identity (Markov) | aa identity (Markov) | longest homopolymer (Markov; truth) |")
print("|---|---|---|---|---|---|")
for d in names:
    for r in json.load(open(f"{out}/mlm_{d}/report.json"))["rows"]:
        e = {x[0]: (x[1], x[2]) for x in r["extra"]}
        a, h, t = e["aa_identity"], e["longest_homopolymer"], e["truth_longest_homopolymer"]
        print(f"| {d} | {r['dataset']} | {r['n']} | {r['value']:.3f} ({r['baseline']:.3f}) | "
              f"{a[0]:.3f} ({a[1]:.3f}) | {h[0]:.1f} ({h[1]:.1f}; {t[0]:.1f}) |")
PY
  exit 0
fi
declare -A dec=(
  [greedy]='"greedy"'
  [beam4]='{ beam = { width = 4 } }'
  [beam8]='{ beam = { width = 8 } }'
  [consensus32]='{ consensus = { samples = 32, temperature = 1.0 } }'
  [consensus32_t07]='{ consensus = { samples = 32, temperature = 0.7 } }'
  [sample]='{ sample = { temperature = 1.0 } }'
)
for d in greedy beam4 beam8 consensus32 consensus32_t07 sample; do
  printf 'fragments = 24\nfragment_decoder = %s\n' "${dec[$d]}" > "$out/$d.toml"
  "$bin" bench "$model" --tasks impute_fragment --sizes "$out/$d.toml" --out "$out/$d" >&2
done
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
print("| decoder | genome | gaps | nt identity (Markov) | codon identity (Markov) | aa identity (Markov) | longest homopolymer (Markov; truth) |")
print("|---|---|---|---|---|---|---|")
for d in ["greedy", "beam4", "beam8", "consensus32", "consensus32_t07", "sample"]:
    for r in json.load(open(f"{out}/{d}/report.json"))["rows"]:
        e = {x[0]: (x[1], x[2]) for x in r["extra"]}
        c, a, h, t = e["codon_identity"], e["aa_identity"], e["longest_homopolymer"], e["truth_longest_homopolymer"]
        print(f"| {d} | {r['dataset']} | {r['n']} | {r['value']:.3f} ({r['baseline']:.3f}) | "
              f"{c[0]:.3f} ({c[1]:.3f}) | {a[0]:.3f} ({a[1]:.3f}) | {h[0]:.1f} ({h[1]:.1f}; {t[0]:.1f}) |")
PY
