#!/usr/bin/env bash
# Render HTML reports in a real browser (headless Chromium, Debian package) to PNG screenshots,
# and fail when the page does not render (Chromium error, empty or blank screenshot).
#
#   bash scripts/browser-check.sh [REPORT_DIR_OR_HTML ...]   (default: runs/quickstart/report)
#
# Screenshots go next to each page: <dir>/screenshot.png. Look at them.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v chromium >/dev/null 2>&1; then
  echo "browser-check: installing chromium (Debian package)" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
fi
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
  python3 - "$out" <<'PY' || status=1
import sys, zlib, struct
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w, h, ct = 8, b"", 0, 0, 0
while pos < len(data):
    n, t = struct.unpack(">I4s", data[pos:pos + 8]); body = data[pos + 8:pos + 8 + n]; pos += 12 + n
    if t == b"IHDR": w, h, _, ct = struct.unpack(">IIBB", body[:10])
    elif t == b"IDAT": idat += body
raw = zlib.decompress(idat); bpp = {2: 3, 6: 4}[ct]; stride = w * bpp + 1
prev = bytearray(w * bpp); dark = colour = 0
for y in range(h):
    f = raw[y * stride]; line = bytearray(raw[y * stride + 1:(y + 1) * stride])
    for i in range(len(line)):
        a = line[i - bpp] if i >= bpp else 0; b = prev[i]; c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    if y % 4: continue
    for x in range(0, w, 4):
        r, g, bl = line[x * bpp:x * bpp + 3]
        if r < 80 and g < 80 and bl < 80: dark += 1
        if max(r, g, bl) - min(r, g, bl) > 60: colour += 1
print(f"browser-check: {sys.argv[1]}: {w}x{h}, {dark} dark and {colour} coloured sample pixels")
sys.exit(0 if dark > 200 and colour > 200 else 1)
PY
done
exit $status
