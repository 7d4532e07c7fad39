#!/usr/bin/env python3
"""Fail unless a PNG screenshot shows a rendered page: dark text and coloured figure pixels
(by default at least 200 of each among every 4th pixel of every 4th row; `png-check.py FILE
MIN_DARK MIN_COLOUR` for other pages). Standard library only."""
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
print(f"png-check: {sys.argv[1]}: {w}x{h}, {dark} dark and {colour} coloured sample pixels")
need_dark, need_colour = (int(a) for a in (sys.argv[2:4] if len(sys.argv) > 3 else (200, 200)))
sys.exit(0 if dark > need_dark and colour > need_colour else 1)
