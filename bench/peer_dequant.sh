#!/usr/bin/env bash
# bench/peer_dequant.sh — lmc's dequantizers on files that llama.cpp's own quantizer wrote, against gguf-py.
#
# Uses bench/peer.sh's llama.cpp (run that first; PEER_DIR as there): writes a small random-weight Llama GGUF in
# f32 (bench/peer_gguf.py --tiny), has llama-quantize make Q8_0, Q4_0, Q4_K_M (Q4_K with Q6_K), Q6_K, F16 and
# BF16 of it, then dequantizes every tensor of each with lmc (build/bench/bench_dequant) and with gguf-py's numpy
# code (bench/peer_dequant.py) and requires the two to be bit-identical. A check, not part of `make test` (it
# needs the llama.cpp build); tests/test_gguf.c covers the same layouts with a committed fixture.
set -euo pipefail
PEER_DIR=${PEER_DIR:-/tmp/lmc-peer}
PY=/usr/bin/python3
die() { echo "peer_dequant.sh: $*" >&2; exit 1; }
[ -f src/model/gguf.c ] || die "run me from the lmc repository root (bench/peer_dequant.sh)"
SRC=$PEER_DIR/llama.cpp
QUANT=$SRC/build-native/bin/llama-quantize
[ -x "$QUANT" ] || die "no $QUANT: run bench/peer.sh first (it builds llama.cpp there)"
make build/bench/bench_dequant >/dev/null || die "could not build build/bench/bench_dequant"
D=$PEER_DIR/dequant
mkdir -p "$D"
PYTHONPATH=$SRC/gguf-py $PY bench/peer_gguf.py "$D/tiny-f32.gguf" f32 --tiny || die "writing the f32 model failed"
rc=0
for q in Q8_0 Q4_0 Q4_K_M Q6_K F16 BF16; do
    "$QUANT" "$D/tiny-f32.gguf" "$D/tiny-$q.gguf" "$q" >"$D/quantize-$q.log" 2>&1 \
        || die "llama-quantize $q failed; see $D/quantize-$q.log"
    build/bench/bench_dequant "$D/tiny-$q.gguf" "$D/tiny-$q.bin" >/dev/null
    PYTHONPATH=$SRC/gguf-py $PY bench/peer_dequant.py "$D/tiny-$q.gguf" "$D/tiny-$q.bin" || rc=1
done
exit $rc
