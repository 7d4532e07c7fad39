#!/usr/bin/env bash
# README command 1: install prerequisites, build, and run the quickstart.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo run --release --bin genolm -- quickstart "$@"
