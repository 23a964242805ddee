#!/usr/bin/env bash
# bench/corpus.sh — throughput of `lmc corpus wet` (two-pass dedup, no language id; plain and one gzip member per
# record, as Common Crawl writes them) and `lmc corpus code` (with MinHash near-dedup) on data it generates: MB per
# second of uncompressed input, wall clock and CPU, at T threads, and the peak resident size.
# Not a test: the figures depend on the machine and its load (docs/corpus.md "Speed").
#   bench/corpus.sh                  # 100 MB of WET text, 20 MB of Python files, T=2
#   WET_MB=500 CODE_MB=50 T=4 REPS=1 bench/corpus.sh
set -euo pipefail
cd "$(dirname "$0")/.."
WET_MB=${WET_MB:-100} CODE_MB=${CODE_MB:-20} T=${T:-2} REPS=${REPS:-3}
LMC=${LMC:-./lmc}
TMP=$(mktemp -d /tmp/lmc_corpusbench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

# WET records: lines of random words from a 5000-word vocabulary, 1 line in 5 drawn from 200 boilerplate lines
python3 - "$TMP/bench.warc.wet" "$WET_MB" <<'PY'
import random, sys
random.seed(1)
words = [''.join(random.choice('abcdefghijklmnopqrstuvwxyz') for _ in range(random.randint(2, 9))) for _ in range(5000)]
target, size, i = int(sys.argv[2]) * 1_000_000, 0, 0
with open(sys.argv[1], 'wb') as f:
    while size < target:
        lines = ['Title %d' % i] + [('boilerplate line %s' % random.choice(words[:200])) if random.random() < 0.2 else
                                    ' '.join(random.choices(words, k=random.randint(5, 30))) for _ in range(random.randint(5, 40))]
        body = ('\n'.join(lines) + '\n').encode()
        head = ('WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: http://s%d.example/p\r\nWARC-Date: '
                '2024-05-01T00:00:00Z\r\nWARC-Record-ID: <urn:uuid:%d>\r\nContent-Length: %d\r\n\r\n' % (i % 977, i, len(body)))
        rec = head.encode() + body + b'\r\n\r\n'
        f.write(rec); size += len(rec); i += 1
PY
# Python files: functions over random identifiers, 40 files per directory, a tenth of them near-copies
python3 - "$TMP/repo" "$CODE_MB" <<'PY'
import os, random, sys
random.seed(2)
names = [''.join(random.choice('abcdefghijklmnopqrstuvwxyz_') for _ in range(random.randint(3, 10))) for _ in range(20000)]
target, size, i, last = int(sys.argv[2]) * 1_000_000, 0, 0, ''
while size < target:
    if last and random.random() < 0.1:
        text = last.replace('return', 'return  ', 1)
    else:
        out = []
        for _ in range(random.randint(3, 30)):
            a, b, c = random.sample(names, 3)
            out.append('def %s(%s, %s):\n    for x in range(10):\n        %s = %s + x\n    return %s\n\n' % (a, b, c, b, c, b))
        text = ''.join(out)
    d = os.path.join(sys.argv[1], 'pkg%d' % (i // 40)); os.makedirs(d, exist_ok=True)
    open(os.path.join(d, 'm%d.py' % i), 'w').write(text)
    size += len(text); i += 1; last = text
PY

sync # the generated files on disk first: their writeback would otherwise land in the first run
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs; T=$T; best of $REPS runs"
# run NAME BYTES CMD...: the best of REPS runs (outputs removed before each): wall clock and CPU seconds
# (user + sys); on a loaded machine the CPU figure is the one that says what the code costs (MB per CPU-second
# × T is what T idle cores would give, at best).
run() {
    local name=$1 bytes=$2; shift 2
    local t0 t1 best=""
    for _ in $(seq "$REPS"); do
        rm -f "$TMP"/*.jsonl "$TMP"/*.manifest.json
        t0=$(date +%s.%N)
        /usr/bin/time -o "$TMP/time" -f "%U %S %M" "$@" >/dev/null
        t1=$(date +%s.%N)
        best=$(awk -v a="$t0" -v z="$t1" -v c="$(tail -1 "$TMP/time")" -v b="$best" 'BEGIN {
            w = z - a; split(b, o, " "); if (b == "" || w < o[1]) print w, c; else print b }')
    done
    awk -v n="$name" -v b="$bytes" -v r="$best" 'BEGIN {
        split(r, u, " "); w = u[1]; cs = u[2] + u[3]
        printf "%-40s %d bytes: %.2f s wall (%.1f MB/s), %.2f CPU s (%.1f MB per CPU-second), peak RSS %.0f MB\n",
               n, b, w, b / 1e6 / w, cs, b / 1e6 / cs, u[4] / 1024 }'
}
run "corpus wet (two-pass dedup, no lid)" "$(stat -c %s "$TMP/bench.warc.wet")" \
    $LMC corpus wet -q -t "$T" -o "$TMP/cc.jsonl" "$TMP/bench.warc.wet"
# the same text as one gzip member per record, as Common Crawl writes WET files (MB/s still of the text)
python3 - "$TMP/bench.warc.wet" "$TMP/bench.warc.wet.gz" <<'PY'
import gzip, sys
recs = open(sys.argv[1], 'rb').read().split(b'WARC/1.0\r\n')[1:]
with open(sys.argv[2], 'wb') as f:
    for r in recs:
        f.write(gzip.compress(b'WARC/1.0\r\n' + r, 6))
PY
run "corpus wet, gzip input (as above)" "$(stat -c %s "$TMP/bench.warc.wet")" \
    $LMC corpus wet -q -t "$T" -o "$TMP/cc2.jsonl" "$TMP/bench.warc.wet.gz"
run "corpus code (near-dedup 0.85)" "$(du -sb "$TMP/repo" | cut -f1)" $LMC corpus code -q -t "$T" -o "$TMP/py.jsonl" "$TMP/repo"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
