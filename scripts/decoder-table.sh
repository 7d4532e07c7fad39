#!/usr/bin/env bash
# Gene-sized imputation with every decoder: the benchmark's impute_fragment task (24 gaps of
# 300 nt per held-out annotated genome) for MODEL (default: the shipped pretrained LM), once per
# decoder, the Markov baseline filled with the same decoder. Prints the Markdown table of
# docs/benchmark-results.md ("Gene-sized imputation: decoders"). About 2 minutes on 2 cores.
#   scripts/decoder-table.sh [MODEL] [OUT]
# With MLM=<run folder of a masked LM> it prints instead the table of the MLM's refinement
# settings (the task's default 6 gaps per genome; ≈ 20 minutes on 2 cores):
#   MLM=runs/arch20/transformer_mlm_small scripts/decoder-table.sh
# CORPUS=<manifest or folder> draws the gaps from that corpus's held-out annotated genomes instead
# of the model's own corpus, e.g. the held-out H. pylori strains annotated by their long ORFs:
#   scripts/long-orfs-corpus.sh datasets/extended2_gorilla.json runs/orfs
#   CORPUS=runs/orfs/corpus.json scripts/decoder-table.sh pretrained:lstm_small_extended2_gorilla runs/decoders-relatives
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-pretrained}"
out="${2:-runs/decoders}"
source scripts/setup.sh
cargo build --release --bin genolm >&2
bin="$CARGO_TARGET_DIR/release/genolm"
mkdir -p "$out"
# The Markdown table of the reports $out/<PREFIX><NAME>/report.json:
#   table FIRST_COLUMN PREFIX WITH_CODON_COLUMN NAME...
table() {
  python3 - "$out" "$@" <<'PY'
import json, sys
out, first, prefix, codons, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1", sys.argv[5:]
metrics = (["codon_identity"] if codons else []) + ["aa_identity"]
cols = ["nt identity (Markov)"] + [m.replace("_", " ") + " (Markov)" for m in metrics]
cols.append("longest homopolymer (Markov; truth)")
print("| " + " | ".join([first, "genome", "gaps"] + cols) + " |")
print("|" + "---|" * (3 + len(cols)))
for d in names:
    for r in json.load(open(f"{out}/{prefix}{d}/report.json"))["rows"]:
        e = {x[0]: (x[1], x[2]) for x in r["extra"]}
        cells = [f"{r['value']:.3f} ({r['baseline']:.3f})"]
        cells += [f"{e[m][0]:.3f} ({e[m][1]:.3f})" for m in metrics]
        h, t = e["longest_homopolymer"], e["truth_longest_homopolymer"]
        cells.append(f"{h[0]:.1f} ({h[1]:.1f}; {t[0]:.1f})")
        print(f"| {d} | {r['dataset']} | {r['n']} | " + " | ".join(cells) + " |")
PY
}
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
    "$bin" bench "$MLM" --tasks impute_fragment --sizes "$out/mlm_$d.toml" --out "$out/mlm_$d" \
      ${CORPUS:+--corpus "$CORPUS"} >&2
  done
  table refinement mlm_ 0 $names
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
  "$bin" bench "$model" --tasks impute_fragment --sizes "$out/$d.toml" --out "$out/$d" \
    ${CORPUS:+--corpus "$CORPUS"} >&2
done
table decoder "" 1 greedy beam4 beam8 consensus32 consensus32_t07 sample
