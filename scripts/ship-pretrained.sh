#!/usr/bin/env bash
# Ship a trained run as a pretrained model: models/pretrained/NAME/ gets the run's
# model.safetensors, summary.json and run.toml, and provenance.json (the training command, the
# commit, the corpus files' and the checkpoint's SHA-256, the held-out losses).
# Usage: scripts/ship-pretrained.sh CONFIG NAME [RUN]
#   CONFIG  the run file it was trained with (e.g. configs/lstm_asha_20min.toml)
#   RUN     the run folder (default: train it now: genolm train --config CONFIG)
# Check it later with: genolm reproduce models/pretrained/NAME/provenance.json
set -euo pipefail
cd "$(dirname "$0")/.."
CONFIG=$1
NAME=$2
RUN=${3:-}
BIN="${CARGO_TARGET_DIR:-target}/release/genolm"
if [ -z "$RUN" ]; then
  cargo build --release --bin genolm -q
  RUN=$(python3 -c "import tomllib,sys;print(tomllib.load(open(sys.argv[1],'rb'))['output'])" "$CONFIG")
  "$BIN" train --config "$CONFIG"
fi
DEST=models/pretrained/$NAME
mkdir -p "$DEST"
cp "$RUN/model.safetensors" "$RUN/summary.json" "$RUN/run.toml" "$DEST/"
python3 - "$CONFIG" "$NAME" "$RUN" "$DEST" <<'PY'
import hashlib, json, os, subprocess, sys
config, name, run, dest = sys.argv[1:]
sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()
summary = json.load(open(os.path.join(run, "summary.json")))
# The run's corpus: the embedded one is datasets/manifest.json; a manifest file or a folder
# with one (paths relative to the repository root, as run files give them).
corpus = (summary.get("data") or {}).get("corpus", "embedded")
mpath = "datasets/manifest.json" if corpus == "embedded" else (
    corpus if os.path.isfile(corpus) else os.path.join(corpus, "manifest.json"))
manifest = json.load(open(mpath))
files = []
for g in manifest["genomes"]:
    if g["id"] in summary.get("train_genomes", []):
        for f in g["files"]:
            p = os.path.join(os.path.dirname(mpath), f["path"])
            files.append({"genome": g["id"], "path": f["path"], "sha256": sha(p)})
steps = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl")) if '"kind":"step"' in l]
prov = {
    "name": name,
    "command": f"genolm train --config {config}",
    "run_file": "run.toml (the resolved run file of that command)",
    "git_commit": subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip(),
    "model": summary["model"],
    "arch": summary["arch"],
    "n_params": summary["n_params"],
    "training": {
        "steps": len(steps),
        "tokens": sum(s["targets"] for s in steps),
        "minutes_wall_clock": round(summary["minutes"], 2),
        "train_genomes": summary.get("train_genomes", []),
    },
    "corpus": {"manifest": mpath, "manifest_sha256": sha(mpath), "training_files": files},
    "held_out": {"valid": summary["valid"], "test": summary["test"]},
    "model_sha256": sha(os.path.join(dest, "model.safetensors")),
    # the same bytes again on the same kind of host (CPU model, instruction set, caches)
    "host": summary.get("host", ""),
    "reproduce": f"genolm reproduce models/pretrained/{name}/provenance.json",
}
json.dump(prov, open(os.path.join(dest, "provenance.json"), "w"), indent=2)
print(f"shipped {dest}: model SHA-256 {prov['model_sha256']}")
PY
