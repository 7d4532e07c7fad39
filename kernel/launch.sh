#!/usr/bin/env bash
# Starts the "Rust (genolm)" kernel: evcxr_jupyter with genolm's config folder and a persistent
# build directory. Jupyter runs this through the kernelspec written by kernel/install.sh.
#
# Build directories are slots under $GENOLM_KERNEL_BUILD (slot-0 is prebuilt by the installer).
# Each running kernel holds a lock on its slot, so two notebooks open at once never share one
# (they would overwrite each other's cell code); a new slot starts as a copy of slot-0.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
genolm_home="${GENOLM_HOME:-$HOME/.cache/genolm}"
build="${GENOLM_KERNEL_BUILD:-$genolm_home/kernel-build}"
evcxr="${GENOLM_EVCXR:-$genolm_home/evcxr/bin/evcxr_jupyter}"
export EVCXR_CONFIG_DIR="$here/config"
export PATH="$HOME/.cargo/bin:$PATH"
# Cells are loaded as shared objects linked against Rust's libstd; cargo's relative rpath
# points at the wrong folder when the build directory shares a prefix with the toolchain
# (both under $HOME), so the toolchain's library folder is named explicitly.
sysroot="$(rustc --print sysroot)"
host="$(rustc -vV | sed -n 's/^host: //p')"
export LD_LIBRARY_PATH="$sysroot/lib/rustlib/$host/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
mkdir -p "$build"
for i in $(seq 0 15); do
  slot="$build/slot-$i"
  exec {lock}>"$build/slot-$i.lock"
  if flock -n "$lock"; then
    if [ ! -d "$slot" ] && [ -d "$build/slot-0/target" ] && [ "$i" -gt 0 ]; then
      cp -a "$build/slot-0" "$slot.tmp" && mv "$slot.tmp" "$slot"
    fi
    mkdir -p "$slot"
    export EVCXR_TMPDIR="$slot"
    # the lock stays held by this process (exec keeps the descriptor open)
    exec "$evcxr" "$@"
  fi
  exec {lock}>&-
done
echo "genolm kernel: all 16 build slots in $build are busy" >&2
exit 1
