#!/usr/bin/env bash
# Files Python users open must load in their own tools. Trains a small run with the genolm CLI
# and reads it back with TensorBoard's own reader (EventAccumulator, PyPI `tensorboard`) and
# pandas (`read_json(lines=True)` on metrics.jsonl), checking that the per-step log, the
# TensorBoard events and summary.json agree.
#
#   bash scripts/python-check.sh
#
# Python packages go into $GENOLM_HOME/pycheck (default ~/.cache/genolm/pycheck), pinned.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
home="${GENOLM_HOME:-$HOME/.cache/genolm}"
venv="$home/pycheck"
if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
fi
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
if ! "$venv/bin/python" -c "import tensorboard, pandas" >/dev/null 2>&1; then
  "$venv/bin/pip" install -q --disable-pip-version-check "tensorboard==2.20.0" "pandas==2.2.3" "setuptools<81"
fi
cargo build -q --bin genolm ${GENOLM_FEATURES:+--features "$GENOLM_FEATURES"}
bin="$CARGO_TARGET_DIR/debug/genolm"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cat > "$tmp/run.toml" <<TOML
output = "$tmp/run"
[data]
bptt = 32
batch_size = 8
[model]
preset = "tiny"
[train]
epochs = 2
max_batches = 25
valid_max_batches = 3
device = "cpu"
TOML
"$bin" train --config "$tmp/run.toml" >/dev/null
"$venv/bin/python" - "$tmp/run" <<'PY'
import json, sys, warnings
from pathlib import Path
import numpy as np
import pandas as pd
warnings.filterwarnings("ignore")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

run = Path(sys.argv[1])
summary = json.loads((run / "summary.json").read_text())
log = pd.read_json(run / "metrics.jsonl", lines=True)
steps, epochs = log[log.kind == "step"], log[log.kind == "epoch"]
ea = EventAccumulator(str(run), size_guidance={"scalars": 0})
ea.Reload()
tags = ea.Tags()["scalars"]
for t in ["train/loss", "train/smooth_loss", "train/lr", "train/grad_norm", "valid/loss", "valid/accuracy"]:
    assert t in tags, (t, tags)
loss = ea.Scalars("train/loss")
assert [e.step for e in loss] == list(steps.step), "TensorBoard steps = log steps"
assert np.array_equal(np.float32([e.value for e in loss]), steps.loss.to_numpy(np.float32))
hist = summary["history"]
assert len(hist) == len(epochs) == 2, (len(hist), len(epochs))
valid = ea.Scalars("valid/loss")
assert [e.step for e in valid] == [h["step"] for h in hist]
assert np.allclose([e.value for e in valid], [h["valid_loss"] for h in hist], rtol=1e-6)
for h, (_, e) in zip(hist, epochs.iterrows()):
    assert e.train_loss == h["train_loss"] and e.step == h["step"]
    s = steps[steps.epoch == h["epoch"]]
    mean = float((s.loss * s.targets).sum() / s.targets.sum())
    assert abs(mean - h["train_loss"]) < 1e-9, (mean, h["train_loss"])
print(f"python-check: TensorBoard {len(loss)} steps, {len(valid)} evaluations and pandas "
      f"{len(steps)} step rows agree with summary.json (valid loss {hist[-1]['valid_loss']:.4f})")
PY
