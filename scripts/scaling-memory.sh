#!/usr/bin/env bash
# Peak resident memory and tokens/s of one training epoch at 1×, 4× and 16× the corpus, read
# into memory vs. streamed from token shards (docs/scaling.md, "Corpora larger than memory").
# The larger corpora repeat the embedded corpus's real genomes (copies are pinned to the
# training split, so validation and test stay the same genomes). Writes docs/scaling/memory.csv.
#
#   bash scripts/scaling-memory.sh            # ≈ 25 min on 2 cores
#   SCALES="1 4" bash scripts/scaling-memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh >/dev/null
cargo build -q --bin genolm
bin="$CARGO_TARGET_DIR/debug/genolm"
work="${WORK:-/tmp/genolm-scaling}"
rm -rf "$work"; mkdir -p "$work"
out=docs/scaling/memory.csv
echo "scale,mode,bases,train_tokens,peak_rss_mib,epoch_s,tokens_per_s" > "$out"
for n in ${SCALES:-1 4 16}; do
  python3 - "$n" "$work/x$n" <<'PY'
import json, os, sys
n, d = int(sys.argv[1]), sys.argv[2]
os.makedirs(d, exist_ok=True)
m = json.load(open("datasets/manifest.json"))
src = os.path.abspath("datasets")
out = []
for c in range(n):
    for g in m["genomes"]:
        g = json.loads(json.dumps(g))
        for f in g["files"]:
            f["path"] = os.path.join(src, f["path"])
        if c > 0:
            g["id"] += f"_copy{c}"
            g["split"] = "train"
        out.append(g)
m["genomes"] = out
m["name"] = f"embedded-x{n}"
json.dump(m, open(os.path.join(d, "manifest.json"), "w"), indent=1)
PY
  "$bin" shards "$work/x$n/manifest.json" --out "$work/x$n/shards" --preset awd_lstm_small >/dev/null
  for mode in memory shards; do
    corpus="$work/x$n/manifest.json"; [ "$mode" = shards ] && corpus="$work/x$n/shards"
    cat > "$work/x$n/$mode.toml" <<TOML
output = "$work/x$n/run-$mode"
[data]
corpus = "$corpus"
bptt = 64
batch_size = 32
[model]
preset = "awd_lstm_small"
emb_dim = 16
lstm_layers = 1
lstm_hidden = 32
[train]
epochs = 1
valid_max_batches = 20
device = "cpu"
TOML
    /usr/bin/time -f "%M" -o "$work/rss" "$bin" train -c "$work/x$n/$mode.toml" >/dev/null
    python3 - "$n" "$mode" "$work/x$n/run-$mode/summary.json" "$(cat "$work/rss")" "$out" <<'PY'
import json, sys
n, mode, summ, rss_kb, out = sys.argv[1:]
s = json.load(open(summ))
e = s["history"][-1]
steps = e["step"]
tokens = steps * 32 * 64
bases = 12_675_369 * int(n)
with open(out, "a") as f:
    f.write(f"{n},{mode},{bases},{tokens},{int(rss_kb)/1024:.0f},{e['seconds']:.1f},{e['train_throughput']:.0f}\n")
print(f"{n}x {mode}: peak RSS {int(rss_kb)/1024:.0f} MiB, {tokens} tokens in {e['seconds']:.1f} s")
PY
  done
done
column -s, -t "$out"
