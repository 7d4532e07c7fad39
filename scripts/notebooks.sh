#!/usr/bin/env bash
# Execute every notebook headless in the "Rust (genolm)" kernel and write them back with their
# outputs (notebooks/*.ipynb, notebooks/workshop/*.ipynb). Installs the kernel first if needed.
#
#   bash scripts/notebooks.sh                 # all notebooks, in place
#   bash scripts/notebooks.sh 01 workshop     # only those whose source path matches
#
# Per-notebook wall times go to runs/notebooks/timings.json, kernel timings to
# runs/kernel/timings.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash kernel/install.sh --no-lab
"${GENOLM_HOME:-$HOME/.cache/genolm}/venv/bin/python" notebooks/build.py "$@"
