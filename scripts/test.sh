#!/usr/bin/env bash
# README command 2: install prerequisites and run the whole test suite
# (unit, integration and doc tests; the benchmark binary is built but not timed).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --all-targets
cargo test --all-targets
cargo test --doc
