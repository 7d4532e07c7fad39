#!/usr/bin/env bash
# The long-context experiment of seed 004 (docs/long-context.md), on two CPU cores:
#   1. pre-train the masked-LM transformer on 512-nt windows (configs/long_context_mlm.toml,
#      ~20 min; skipped when runs/long_context_mlm has a model);
#   2. every RoPE scaling at 1×–16× the training length, zero-shot and after the same
#      40-step fine-tuning at 4×, plus the coding-strand probe on 4-kb windows (~45 min);
#   3. time and peak memory per length, blocked against plain attention (~5 min).
# Results go to docs/long-context/ (CSV, JSON, SVG).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/genolm/target}"
cargo build --bin genolm
B="$CARGO_TARGET_DIR/debug/genolm"
out=docs/long-context
mkdir -p "$out"
if [ ! -f runs/long_context_mlm/model.safetensors ]; then
  "$B" train -c configs/long_context_mlm.toml
fi
cp runs/long_context_mlm/summary.json "$out/pretraining-summary.json"
"$B" bench runs/long_context_mlm --context-lengths 1,2,4,8,16 --windows 4 \
  --finetune-steps 40 --finetune-multiple 4 --probe-multiple 0 --out "$out"
# the coding-strand probe (4-kb windows against 512-nt windows), zero-shot and fine-tuned
"$B" bench runs/long_context_mlm --context-lengths 1,8 --windows 1 --finetune-steps 0 \
  --probe-multiple 8 --out "$out/probe"
# memory: plain attention (the L × L scores) against blocked attention, plain RoPE, one window;
# plain attention at 16× (8,192 nt) runs out of memory on a 23-GiB machine (capped at 16 GiB
# here, so that the allocation fails instead of the kernel's OOM killer picking a process)
"$B" bench runs/long_context_mlm --context-lengths 1,2,4,8,16 --rope-methods none \
  --windows 1 --finetune-steps 0 --probe-multiple 0 --attn-block 512 --out "$out/memory-block-512"
"$B" bench runs/long_context_mlm --context-lengths 1,2,4,8 --rope-methods none \
  --windows 1 --finetune-steps 0 --probe-multiple 0 --attn-block 0 --out "$out/memory-block-0"
if ! (ulimit -v 16777216; "$B" bench runs/long_context_mlm --context-lengths 16 --rope-methods none --windows 1 \
  --finetune-steps 0 --probe-multiple 0 --attn-block 0 > /dev/null 2>&1); then
  echo "plain attention at 8,192 nt: failed (out of memory)" | tee "$out/memory-block-0/16x.txt"
fi
# downstream at the extended length: a dependency map of a region read in 512 nt and in 4 kb,
# and zero-shot variant effect with 256-nt flanks (1×) and 1,024-nt flanks (4×)
# (a dynamic scaling, so the saved model picks its scale from each window's length)
method="${DOWNSTREAM_METHOD:-dynamic_ntk}"
cargo run --example long_context_downstream -- --model runs/long_context_mlm --method "$method" \
  --multiple 8 --out "$out"
echo '{"variants_per_genome": 40, "variant_flank": 256}' > "$out/variants-1x.json"
echo '{"variants_per_genome": 40, "variant_flank": 1024}' > "$out/variants-4x.json"
"$B" bench runs/long_context_mlm --tasks variants --sizes "$out/variants-1x.json" --out "$out/variants-1x"
"$B" bench "runs/long_context_mlm_$method" --tasks variants --sizes "$out/variants-4x.json" \
  --out "$out/variants-4x"
# the probe after the same fine-tuning (slow: every method fine-tuned again)
"$B" bench runs/long_context_mlm --context-lengths 1,8 --windows 1 --finetune-steps 40 \
  --finetune-multiple 4 --probe-multiple 8 --out "$out/probe-finetuned"
python3 scripts/long-context-tables.py "$out"
