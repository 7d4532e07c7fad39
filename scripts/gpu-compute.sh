#!/usr/bin/env bash
# Loss against compute on a GPU: the 20-minute recipe of `pretrained:lstm_small_extended`
# (configs/lstm_small_extended.toml: 6 one-cycle epochs of 32 × 64 3-mers, peak LR 1e-2, f32)
# with more batches per epoch — the CPU budgets of docs/benchmark-results.md's "loss against
# compute" turned into steps (2 033 batches per epoch ≈ 20 minutes of the 2-core CPU, so 6 099 ≈ 60).
# Same batches and arithmetic as on the CPU (f32; the GPU check holds the per-step loss of the two
# within 3e-7 relative), so a GPU extends the CPU's curve without changing the recipe.
#
#   GENOLM_PREBUILT=gpu-bundle BATCHES="6099 2033" LIMIT_S=540 bash scripts/gpu-compute.sh
#   GENOLM_PREBUILT=gpu-bundle BATCHES=2033 SEEDS="1 2" bash scripts/gpu-compute.sh   # the spread
#
# Each budget is a run folder in $OUT/compute/b<BATCHES> with a checkpoint after every epoch; a
# run stopped by LIMIT_S (seconds for all runs together) is finished anywhere with
# `genolm train -c $OUT/compute/b<N>/run.toml --resume` (set device = "cpu" in it on a CPU).
# Score the runs on a CPU: `genolm bench $OUT/compute/b<N> --tasks transfer`. PACK=1 packs every
# run folder without its optimizer state into $OUT/compute.tgz (for a machine that hands back
# only a few files of limited size: the 2026-12-04 device returned eight, each under ~20 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-docs/gpu/$(date +%F)}"; mkdir -p "$OUT/compute"
export OUT
source scripts/gpu-env.sh
end=$(( $(date +%s) + ${LIMIT_S:-540} ))
# The recipe on the GPU: the run file with device and precision set (its other settings are
# overridden per run on the command line, and each run folder records its own run.toml).
sed -e 's|^device = .*|device = "cuda"\nprecision = "f32"|' configs/lstm_small_extended.toml \
  > "$OUT/compute/recipe.toml"
# One run: batches per epoch $1, initialisation seed $2 (the run file's 42 when empty).
run() {
  local seed=$2 d="$OUT/compute/b$1${2:+-s$2}"
  local left=$(( end - $(date +%s) )) t0=$(date +%s) args=(--max-batches "$1" --output "$d")
  [ "$left" -gt 30 ] || { echo "$d: no time left"; return; }
  [ -n "$seed" ] && args+=(--seed "$seed")
  [ -f "$d/state.json" ] && args+=(--resume)
  if timeout -s INT "$left" "$target/genolm" train -c "$OUT/compute/recipe.toml" "${args[@]}" > "$d.log" 2>&1; then
    echo "$d: done in $(( $(date +%s) - t0 )) s"
  else
    echo "$d: stopped after $(( $(date +%s) - t0 )) s (resume it)"
  fi
  grep -E '^fit ' "$d.log" | tail -6 || true
}
# Budgets one after another; SEEDS="1 2" trains those seeds of each budget side by side on the GPU
# (the run-to-run spread of the same recipe).
for n in ${BATCHES:-6099}; do
  if [ -n "${SEEDS:-}" ]; then
    for s in $SEEDS; do run "$n" "$s" > "$OUT/compute/b$n-s$s.status" & done
    wait; cat "$OUT"/compute/b"$n"-s*.status
  else
    run "$n" ""
  fi
done 2>&1 | tee -a "$OUT/compute/log.txt"
if [ "${PACK:-0}" = 1 ]; then
  (cd "$OUT" && tar czf compute.tgz --exclude=optimizer.safetensors --exclude='events.out.*' compute \
    && rm -rf compute/b*/ && ls -la compute.tgz)
fi
