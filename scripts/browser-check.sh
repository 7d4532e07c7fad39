#!/usr/bin/env bash
# Render HTML reports in a real browser (headless Chromium, Debian package) to PNG screenshots,
# and fail when the page does not render (Chromium error, empty or blank screenshot).
#
#   bash scripts/browser-check.sh [REPORT_DIR_OR_HTML ...]   (default: runs/quickstart/report)
#
# Screenshots go next to each page: <dir>/screenshot.png. Look at them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-chromium.sh
pages=("$@")
[ ${#pages[@]} -eq 0 ] && pages=(runs/quickstart/report)
status=0
for p in "${pages[@]}"; do
  [ -d "$p" ] && p="$p/index.html"
  if [ ! -f "$p" ]; then echo "browser-check: no page $p" >&2; status=1; continue; fi
  out="$(dirname "$p")/screenshot.png"
  profile="$(mktemp -d)"
  rm -f "$out"
  # flags: no sandbox as root, no network chatter on a closed network, fresh profile
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" --window-size=1200,4000 \
    --screenshot="$out" "file://$(realpath "$p")" >/dev/null 2>&1 || true
  rm -rf "$profile"
  if [ ! -s "$out" ]; then echo "browser-check: Chromium produced no screenshot of $p" >&2; status=1; continue; fi
  # a rendered report has dark text and coloured figure pixels, not a blank page
  python3 scripts/png-check.py "$out" || status=1
done
exit $status
