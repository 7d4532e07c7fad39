#!/usr/bin/env bash
# `genolm monitor` in a real browser (headless Chromium, Debian package): a small run trains in
# the background while the monitor serves it; two DOM snapshots a few seconds apart must show
# the run's curve growing (more steps), and a screenshot must show the drawn curves.
#
#   bash scripts/monitor-check.sh        (screenshot: runs/monitor-check/monitor.png)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
bash scripts/install-chromium.sh
cargo build -q --bin genolm ${GENOLM_FEATURES:+--features "$GENOLM_FEATURES"}
bin="$CARGO_TARGET_DIR/debug/genolm"
out=runs/monitor-check
rm -rf "$out"
mkdir -p "$out/runs"
cat > "$out/run.toml" <<TOML
output = "$out/runs/tiny"
[data]
bptt = 32
batch_size = 8
[model]
preset = "tiny"
[train]
epochs = 30
max_batches = 1000
valid_max_batches = 4
device = "cpu"
TOML
"$bin" train --config "$out/run.toml" >"$out/train.log" 2>&1 &
train_pid=$!
"$bin" monitor "$out/runs" --port 0 >"$out/monitor.log" 2>&1 &
mon_pid=$!
trap 'kill $train_pid $mon_pid 2>/dev/null || true' EXIT
url=""
for _ in $(seq 100); do
  url=$(grep -o 'http://127.0.0.1:[0-9]*' "$out/monitor.log" || true)
  [ -n "$url" ] && [ -s "$out/runs/tiny/metrics.jsonl" ] && break
  sleep 0.2
done
[ -n "$url" ] || { echo "monitor-check: the monitor did not start" >&2; cat "$out/monitor.log" >&2; exit 1; }
chrome() {
  local profile; profile="$(mktemp -d)"
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --hide-scrollbars \
    --user-data-dir="$profile" --window-size=1200,1300 --virtual-time-budget=3000 "$@" 2>/dev/null || true
  rm -rf "$profile"
}
steps() { grep -o 'data-steps="[0-9]*"' | head -1 | grep -o '[0-9]*' || echo 0; }
first=$(chrome --dump-dom "$url" | steps)
sleep 4
second=$(chrome --dump-dom "$url" | steps)
chrome --screenshot="$out/monitor.png" "$url" >/dev/null
still_training=no
kill -0 $train_pid 2>/dev/null && still_training=yes
echo "monitor-check: the page shows $first then $second steps of the run (still training: $still_training)"
[ "$first" -gt 0 ] && [ "$second" -gt "$first" ] || { echo "monitor-check: the curve did not grow" >&2; exit 1; }
# thin curves on white: fewer coloured pixels than a report with filled figures
python3 scripts/png-check.py "$out/monitor.png" 100 100
