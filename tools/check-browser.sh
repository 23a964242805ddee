#!/usr/bin/env bash
# make check-browser: renders an `lmc report` in headless Chromium and checks the PNG is not blank.
# Installs Debian's chromium when missing (sudo when not root). Results come from a small real evaluation of
# the demo model (and the shared tiny models when ../shared, or $LMC_SHARED, is present).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${LMC_SHARED:-../shared}
if ! command -v chromium >/dev/null; then
    echo "check-browser: installing chromium" >&2
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
fi
TMP=$(mktemp -d /tmp/lmc_browser.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
EV="--data demo-data/cc.jsonl --data demo-data/python.jsonl --file-num 3 --block-size 256 --stride 128 --quiet"
./lmc eval --model demo-model $EV --json "$TMP/demo.json" >/dev/null
inputs=("$TMP/demo.json")
scores='"demo-model": 40'
if [ -d "$SHARED/models/TinyStories-656K-f32" ]; then
    ./lmc eval --model "$SHARED/models/TinyStories-656K-f32" $EV --json "$TMP/tiny.json" >/dev/null
    inputs+=("$TMP/tiny.json")
    scores="$scores, \"TinyStories-656K-f32\": 25"
fi
printf '{"label": "example score", "scores": {%s}}\n' "$scores" >"$TMP/scores.json"
./lmc report "${inputs[@]}" --scores "$TMP/scores.json" -o "$TMP/report.html" 2>/dev/null
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1400,1000 \
    --screenshot="$TMP/report.png" "file://$TMP/report.html" >/dev/null 2>&1 || true
[ -s "$TMP/report.png" ] || { echo "FAIL check-browser: chromium wrote no screenshot"; exit 1; }
# Not blank: decode the PNG (stdlib zlib, filters undone) and require both a good share of non-background
# pixels and many distinct colours (text, table rules, blue points, the red fit line).
python3 - "$TMP/report.png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, typ = struct.unpack(">I4s", data[pos:pos + 8]); body = data[pos + 8:pos + 8 + n]; pos += 12 + n
    if typ == b"IHDR": w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
    elif typ == b"IDAT": idat += body
assert depth == 8 and ctype in (2, 6), f"unexpected PNG format {depth}/{ctype}"
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(idat), w * bpp
prev, rows = bytearray(stride), []
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0; b = prev[i]; c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line)); prev = line
px = [r[i:i + 3] for r in rows[::4] for i in range(0, stride, bpp * 4)]
ink = sum(1 for p in px if p != b"\xff\xff\xff") / len(px)
colours = len(set(px))
blue = sum(1 for p in px if p[2] > 150 and p[0] < 80)
red = sum(1 for p in px if p[0] > 150 and p[1] < 90 and p[2] < 90)
print(f"check-browser: {w}x{h} PNG, {100 * ink:.1f}% non-white, {colours} colours, blue {blue}, red {red} (sampled)")
assert ink > 0.02 and colours > 20 and blue > 0 and red > 0, "the rendered report looks blank"
print("PASS check-browser")
PY
