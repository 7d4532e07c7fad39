#!/usr/bin/env bash
# One command: install the Jupyter kernel "Rust (genolm)".
#
#   bash kernel/install.sh            # venv + Jupyter, evcxr_jupyter, kernelspec, prebuild, timings
#   bash kernel/install.sh --no-lab   # only what headless execution needs (nbconvert), e.g. in CI
#   bash kernel/install.sh --user     # also register the kernel for a system Jupyter / VS Code
#
# Everything lands in $GENOLM_HOME (default ~/.cache/genolm): venv/ (Python + Jupyter),
# evcxr/ (evcxr_jupyter, pinned), kernel-build/ (evcxr's persistent build folders).
# Afterwards: ~/.cache/genolm/venv/bin/jupyter lab   (pick the "Rust (genolm)" kernel)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
lab=1 user=0 measure=1
for a in "$@"; do
  case "$a" in
    --no-lab) lab=0 ;;
    --user) user=1 ;;
    --no-measure) measure=0 ;;
    *) echo "usage: kernel/install.sh [--no-lab] [--user] [--no-measure]" >&2; exit 2 ;;
  esac
done
EVCXR_VERSION=0.22.0
genolm_home="${GENOLM_HOME:-$HOME/.cache/genolm}"
venv="$genolm_home/venv"
mkdir -p "$genolm_home"

# 1. System packages: genolm's own (HDF5, C compiler), mold (a fast linker evcxr picks up by
#    itself: every cell is a link against the whole library), python venv support.
source scripts/setup.sh
unset CARGO_TARGET_DIR   # evcxr and cargo install use their own target folders
need=()
command -v mold >/dev/null 2>&1 || need+=(mold)
command -v flock >/dev/null 2>&1 || need+=(util-linux)
python3 -c "import venv, ensurepip" >/dev/null 2>&1 || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  echo "genolm kernel: installing ${need[*]}" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 2. Python venv with Jupyter (pinned).
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
pkgs=("nbconvert==7.17.2" "nbclient==0.11.0" "jupyter_client==8.6.3" "nbformat==5.10.4")
[ "$lab" = 1 ] && pkgs+=("jupyterlab==4.6.6")
"$venv/bin/pip" install -q --disable-pip-version-check "${pkgs[@]}"

# 3. evcxr_jupyter, pinned to a version that builds with this toolchain, with genolm's patch
#    (kernel/evcxr-0.22.0-genolm.patch): evcxr's rust-analyzer, which indexes the
#    whole dependency graph before it can name a variable's type, runs only for cells that
#    define variables, and is loaded in the background (on all cores) after the first cell
#    instead of in its way; `:dep` is validated in a folder whose Cargo.lock persists, so a
#    kernel start no longer resolves genolm's dependency graph anew (docs/notebooks.md).
#    The crates' sources come from the registry through `cargo fetch`.
evcxr="$genolm_home/evcxr/bin/evcxr_jupyter"
patch="$repo/kernel/evcxr-$EVCXR_VERSION-genolm.patch"
want="evcxr_jupyter $EVCXR_VERSION + $(sha256sum "$patch" | cut -c1-16)"
if ! [ -x "$evcxr" ] || [ "$(cat "$genolm_home/evcxr/build-id" 2>/dev/null)" != "$want" ]; then
  echo "genolm kernel: building evcxr_jupyter $EVCXR_VERSION, patched (several minutes, once)" >&2
  src="$genolm_home/evcxr-src"
  rm -rf "$src"
  mkdir -p "$src/fetch/src"
  printf '[package]\nname = "fetch"\nversion = "0.0.0"\nedition = "2021"\n[dependencies]\nevcxr = "=%s"\n[build-dependencies]\nevcxr_jupyter = "=%s"\n' \
    "$EVCXR_VERSION" "$EVCXR_VERSION" > "$src/fetch/Cargo.toml"
  : > "$src/fetch/src/lib.rs"
  (cd "$src/fetch" && cargo fetch -q 2>/dev/null || cargo fetch)
  reg="${CARGO_HOME:-$HOME/.cargo}/registry/src"
  for c in evcxr evcxr_jupyter; do
    d=$(ls -d "$reg"/*/"$c-$EVCXR_VERSION" | head -1)
    cp -r "$d" "$src/"
    chmod -R u+w "$src/$c-$EVCXR_VERSION"
  done
  (cd "$src/evcxr-$EVCXR_VERSION" && git apply "$patch")
  printf '\n[patch.crates-io]\nevcxr = { path = "../evcxr-%s" }\n' "$EVCXR_VERSION" \
    >> "$src/evcxr_jupyter-$EVCXR_VERSION/Cargo.toml"
  cargo install --path "$src/evcxr_jupyter-$EVCXR_VERSION" --locked --force --root "$genolm_home/evcxr"
  mkdir -p "$genolm_home/evcxr"
  echo "$want" > "$genolm_home/evcxr/build-id"
  rm -rf "$src"
fi

# 4. evcxr's config folder: evcxr.toml and init.evcxr point at this checkout.
cfg="$repo/kernel/config"
cat > "$cfg/evcxr.toml" <<TOML
# Written by kernel/install.sh. evcxr reads this folder through EVCXR_CONFIG_DIR (kernel/launch.sh).
[evcxr]
# Cells and the library are compiled at -O2: training in a notebook runs at release speed.
opt_level = "2"
# Variables survive a panicking cell.
preserve_vars_on_panic = true
# The persistent build directory is not set here: kernel/launch.sh gives each running kernel
# its own slot under $genolm_home/kernel-build through EVCXR_TMPDIR (a tmpdir set in this file
# would be shared by two notebooks open at once). slot-0 is prebuilt by the installer.
TOML
cat > "$cfg/init.evcxr" <<INIT
:dep genolm = { path = "$repo" }
INIT
# genolm builds candle-core from vendor/ (its backpropagation stores the first gradient instead
# of adding it to zeros: vendor/README.md). A [patch] in genolm's Cargo.toml applies only where
# genolm is the root crate, not in evcxr's generated crate, so the same patch goes in a Cargo
# config file above the kernel's build slots, where Cargo looks for one.
kbuild="${GENOLM_KERNEL_BUILD:-$genolm_home/kernel-build}"
mkdir -p "$kbuild/.cargo"
cat > "$kbuild/.cargo/config.toml" <<TOML
# Written by kernel/install.sh: notebooks train with the same candle-core as genolm's own builds.
[patch.crates-io]
candle-core = { path = "$repo/vendor/candle-core" }
TOML

# 5. The kernelspec "Rust (genolm)" inside the venv (and for the user with --user).
write_spec() {
  local dir="$1/genolm"
  mkdir -p "$dir"
  cat > "$dir/kernel.json" <<JSON
{
  "argv": ["$repo/kernel/launch.sh", "--control_file", "{connection_file}"],
  "display_name": "Rust (genolm)",
  "language": "rust",
  "interrupt_mode": "message",
  "env": {"GENOLM_HOME": "$genolm_home"}
}
JSON
  echo "genolm kernel: kernelspec in $dir" >&2
}
write_spec "$venv/share/jupyter/kernels"
[ "$user" = 1 ] && write_spec "${XDG_DATA_HOME:-$HOME/.local/share}/jupyter/kernels"

# 6. Prebuild the library inside evcxr's build folder (slot-0) and measure start-up and a
#    trivial cell; the first notebook then starts in seconds instead of compiling for minutes.
"$venv/bin/python" "$repo/kernel/measure.py" --prebuild
if [ "$measure" = 1 ]; then
  "$venv/bin/python" "$repo/kernel/measure.py" --out "$repo/runs/kernel/timings.json"
fi
echo "genolm kernel: ready. Start Jupyter with: $venv/bin/jupyter lab" >&2
