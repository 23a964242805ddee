#!/usr/bin/env bash
# bench/peer.sh — lmc and llama.cpp side by side, on the same model shape, in one run.
#
# A benchmark, not a test (`make test` does not run it). From the repository root:
#
#   bench/peer.sh                      # TinyLlama-1.1B shape, f32, bf16, q8_0, q4_k_m; W=1900, 2 threads
#   PEER_DTYPES="q8_0 q4_k_m" bench/peer.sh   # the quantized rows only
#   PEER_LAYERS=2 PEER_REPS=1 bench/peer.sh   # a quick end-to-end check on a 2-layer model
#   PEER_JOBS=2 bench/peer.sh build    # phases 1-3 only: the llama.cpp tools (bench/kld_peer.sh needs them)
#   bench/peer.sh gguf                 # phases 1-4: the tools and the model files (to time later on an idle machine)
#
# Phases (each prints its duration; everything but the run itself is cached in PEER_DIR, so a rerun only
# measures):
#   1. deps   Debian packages it needs (cmake g++ git npm python3-numpy), installed only when missing.
#   2. fetch  llama.cpp's source as node-llama-cpp@3.22.1 ships it: `npm pack`, extract, `git clone` the bundle
#             package/llama/gitRelease.bundle — a fixed llama.cpp revision anyone can get again.
#   3. build  llama-bench, llama-quantize and llama-perplexity in Release with GGML_NATIVE=ON, outside this
#             repository (in $PEER_DIR/llama.cpp/build-native/bin).
#   4. gguf   random-weight GGUFs of the TinyLlama-1.1B shape, f32 and bf16, written by llama.cpp's own gguf-py
#             (bench/peer_gguf.py); ~4.4 GB + 2.2 GB at 22 layers, so free space is checked first; q8_0 and
#             q4_k_m: `llama-quantize` of the f32 file (Q8_0, Q4_K_M), 1.2 GB and 0.7 GB.
#   5. run    for each round and dtype, alternately: `llama-bench -m X -p W -n 0 -t T` and
#             `lmc bench --shape tinyllama-1.1b --dtype D --block-size W` (f32, bf16: the same shape generated in
#             memory) or `lmc bench --model X --dtype int8` (q8_0, q4_k_m: the very file llama-bench ran), then a
#             table of the means.
#
# Both programs run with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset, as on a user's machine. llama-bench's
# prompt-processing figure (tokens/s over a W-token batch into an empty cache) and lmc's window-tokens/s
# (one W-token window per forward, scoring included) measure the same work: one causal forward of W tokens.
#
# Environment: PEER_DIR (default /tmp/lmc-peer), PEER_LAYERS (22), PEER_DTYPES ("f32 bf16 q8_0 q4_k_m"), PEER_BLOCK (1900),
# PEER_THREADS (2), PEER_WINDOWS (lmc windows per run, 3), PEER_REPS (llama-bench -r; its default when unset),
# PEER_ROUNDS (alternations, 1), PEER_JOBS (build jobs, default nproc), LMC (the lmc binary, default ./lmc, built
# with `make lmc` when absent). The one argument `build` stops after phase 3, `gguf` after phase 4.
set -euo pipefail

ONLY_BUILD=0 ONLY_GGUF=0
case ${1:-} in
    '') ;;
    build) ONLY_BUILD=1 ;;
    gguf) ONLY_GGUF=1 ;;
    *) echo "usage: bench/peer.sh [build|gguf]" >&2; exit 2 ;;
esac

PEER_DIR=${PEER_DIR:-/tmp/lmc-peer}
PEER_LAYERS=${PEER_LAYERS:-22}
PEER_DTYPES=${PEER_DTYPES:-f32 bf16 q8_0 q4_k_m}
PEER_BLOCK=${PEER_BLOCK:-1900}
PEER_THREADS=${PEER_THREADS:-2}
PEER_WINDOWS=${PEER_WINDOWS:-3}
PEER_REPS=${PEER_REPS:-}
PEER_ROUNDS=${PEER_ROUNDS:-1}
PEER_JOBS=${PEER_JOBS:-$(nproc)}
LMC=${LMC:-./lmc}
NODE_LLAMA_CPP=node-llama-cpp@3.22.1
PY=/usr/bin/python3 # Debian's, for python3-numpy (a pyenv python3 earlier on PATH would lack it)

die() { echo "peer.sh: $*" >&2; exit 1; }
phase_start() { PHASE=$1; T0=$(date +%s); echo "== $PHASE"; }
phase_end() { echo "== $PHASE done in $(( $(date +%s) - T0 )) s"; }

[ -f src/cli/bench.c ] || die "run me from the lmc repository root (bench/peer.sh)"
case $PEER_LAYERS in ''|*[!0-9]*|0) die "PEER_LAYERS must be a positive integer, not '$PEER_LAYERS'";; esac
case $PEER_JOBS in ''|*[!0-9]*|0) die "PEER_JOBS must be a positive integer, not '$PEER_JOBS'";; esac
for d in $PEER_DTYPES; do case $d in f32|bf16|q8_0|q4_k_m) ;; *) die "PEER_DTYPES: unknown dtype '$d' (f32, bf16, q8_0, q4_k_m)";; esac; done
mkdir -p "$PEER_DIR"
PEER_DIR=$(cd "$PEER_DIR" && pwd)
SRC=$PEER_DIR/llama.cpp
BUILD=$SRC/build-native

# ---- 1. deps -------------------------------------------------------------------------------------------------
phase_start deps
missing=
# a command already on PATH is enough (npm often comes with a non-Debian Node.js, and installing Debian's npm
# next to it would conflict); numpy is checked in the python that will use it
for p in cmake g++ git npm; do command -v "$p" >/dev/null || missing="$missing $p"; done
$PY -c 'import numpy' 2>/dev/null || missing="$missing python3-numpy"
if [ -n "$missing" ]; then
    echo "installing:$missing"
    SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing \
        || die "could not install$missing"
fi
phase_end

# ---- 2. fetch ------------------------------------------------------------------------------------------------
phase_start fetch
if [ ! -f "$SRC/CMakeLists.txt" ]; then
    (cd "$PEER_DIR" && rm -rf package node-llama-cpp-*.tgz &&
        npm pack --silent "$NODE_LLAMA_CPP" >/dev/null && tar xzf node-llama-cpp-*.tgz) \
        || die "npm pack $NODE_LLAMA_CPP failed (network?)"
    [ -f "$PEER_DIR/package/llama/gitRelease.bundle" ] || die "$NODE_LLAMA_CPP has no package/llama/gitRelease.bundle"
    rm -rf "$SRC"
    git clone -q "$PEER_DIR/package/llama/gitRelease.bundle" "$SRC" 2>/dev/null || die "git clone of the bundle failed"
fi
echo "llama.cpp: $SRC (commit $(git -C "$SRC" rev-parse --short HEAD), from $NODE_LLAMA_CPP)"
phase_end

# ---- 3. build ------------------------------------------------------------------------------------------------
phase_start build
# only what llama-bench, llama-quantize and llama-perplexity need: no tests, examples, server, HTTPS or web UI
cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF \
    -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_UI=OFF >"$PEER_DIR/cmake.log" 2>&1 \
    || die "cmake configure failed; see $PEER_DIR/cmake.log"
cmake --build "$BUILD" --target llama-bench llama-quantize llama-perplexity -j "$PEER_JOBS" \
    >"$PEER_DIR/build.log" 2>&1 || die "llama.cpp build failed; see $PEER_DIR/build.log"
for t in llama-bench llama-quantize llama-perplexity; do
    [ -x "$BUILD/bin/$t" ] || die "no $BUILD/bin/$t after the build"
done
LLAMA_BENCH=$BUILD/bin/llama-bench
phase_end
if [ "$ONLY_BUILD" = 1 ]; then echo "llama.cpp tools: $BUILD/bin"; exit 0; fi
[ -x "$LMC" ] || make lmc >/dev/null || die "could not build $LMC"

# ---- 4. gguf -------------------------------------------------------------------------------------------------
phase_start gguf
# parameters of the shape: embeddings + lm_head + per layer q,o (D×D), k,v (256×D), gate,up,down (D×5632)
params=$(( 2 * 32000 * 2048 + PEER_LAYERS * (2 * 2048 * 2048 + 2 * 256 * 2048 + 3 * 2048 * 5632) ))
# the quantized files come from the f32 one
gguf_of() { echo "$PEER_DIR/tinyllama-L$PEER_LAYERS-$1.gguf"; }
want=$(for d in $PEER_DTYPES; do case $d in q8_0|q4_k_m) echo f32;; *) echo "$d";; esac; done | sort -u)
for d in $want; do
    f=$(gguf_of "$d")
    [ -s "$f" ] && continue
    [ "$d" = f32 ] && bytes=$(( params * 4 )) || bytes=$(( params * 2 ))
    avail=$(( $(df -Pk "$PEER_DIR" | awk 'NR==2 {print $4}') * 1024 ))
    if [ "$avail" -lt $(( bytes + (1 << 30) )) ]; then
        die "$f needs $(( bytes >> 20 )) MiB (+1 GiB margin) but $PEER_DIR has $(( avail >> 20 )) MiB free; set PEER_DIR elsewhere or PEER_LAYERS lower"
    fi
    echo "writing $f ($(( bytes >> 20 )) MiB)"
    PYTHONPATH=$SRC/gguf-py $PY bench/peer_gguf.py "$f.tmp" "$d" --layers "$PEER_LAYERS" \
        || { rm -f "$f.tmp"; die "writing $f failed"; }
    mv "$f.tmp" "$f"
done
for d in $PEER_DTYPES; do
    case $d in q8_0) q=Q8_0;; q4_k_m) q=Q4_K_M;; *) continue;; esac
    f=$(gguf_of "$d")
    [ -s "$f" ] && continue
    echo "quantizing $(gguf_of f32) to $q"
    "$BUILD/bin/llama-quantize" "$(gguf_of f32)" "$f.tmp" "$q" "$PEER_THREADS" >"$PEER_DIR/quantize.log" 2>&1 \
        || { rm -f "$f.tmp"; die "llama-quantize $q failed; see $PEER_DIR/quantize.log"; }
    mv "$f.tmp" "$f"
done
phase_end
if [ "$ONLY_GGUF" = 1 ]; then ls -l "$PEER_DIR"/tinyllama-L"$PEER_LAYERS"-*.gguf; exit 0; fi

# ---- 5. run --------------------------------------------------------------------------------------------------
phase_start run
RES=$PEER_DIR/results-$$.tsv
: >"$RES"
reps=(); [ -n "$PEER_REPS" ] && reps=(-r "$PEER_REPS")
lmc_layers=(); [ "$PEER_LAYERS" != 22 ] && lmc_layers=(--layers "$PEER_LAYERS")
for round in $(seq 1 "$PEER_ROUNDS"); do
    for d in $PEER_DTYPES; do
        f=$(gguf_of "$d")
        echo "-- round $round, $d: llama-bench"
        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$LLAMA_BENCH" -m "$f" -p "$PEER_BLOCK" -n 0 \
            -t "$PEER_THREADS" "${reps[@]}" -o json >"$PEER_DIR/llama-bench.json" 2>"$PEER_DIR/llama-bench.err" \
            || { cat "$PEER_DIR/llama-bench.err" >&2; die "llama-bench failed on $f"; }
        # the prompt-processing entry: n_prompt = W, n_gen = 0; avg_ts is its mean tokens/s over the repetitions
        lts=$($PY -c '
import json, sys
rows = [r for r in json.load(open(sys.argv[1])) if r.get("n_prompt") == int(sys.argv[2]) and r.get("n_gen") == 0]
if len(rows) != 1: sys.exit("llama-bench output: expected one pp%s entry, found %d" % (sys.argv[2], len(rows)))
r = rows[0]
print("%.2f" % r["avg_ts"])
print("llama-bench: %s, %s, %d threads, pp%d %.2f ± %.2f t/s over %d reps (%s)" % (r.get("model_type", "?"),
      r.get("cpu_info", "?"), r.get("n_threads", 0), r["n_prompt"], r["avg_ts"], r.get("stddev_ts", 0),
      len(r.get("samples_ts", [])), r.get("build_commit", "?")), file=sys.stderr)
' "$PEER_DIR/llama-bench.json" "$PEER_BLOCK") || die "could not parse $PEER_DIR/llama-bench.json"
        echo "-- round $round, $d: lmc bench"
        case $d in
            q8_0|q4_k_m) what=(--model "$f" --dtype int8) ;; # the file llama-bench ran, computed in int8
            *) what=(--shape tinyllama-1.1b "${lmc_layers[@]}" --dtype "$d") ;;
        esac
        env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$LMC" bench "${what[@]}" \
            --block-size "$PEER_BLOCK" --windows "$PEER_WINDOWS" --threads "$PEER_THREADS" \
            --json "$PEER_DIR/lmc-bench.json" || die "lmc bench failed"
        mts=$($PY -c 'import json, sys; print("%.2f" % json.load(open(sys.argv[1]))["window_tokens_per_s"])' \
            "$PEER_DIR/lmc-bench.json") || die "could not parse $PEER_DIR/lmc-bench.json"
        core=$($PY -c 'import json, sys; print(json.load(open(sys.argv[1]))["openblas_core"])' "$PEER_DIR/lmc-bench.json")
        printf '%s\t%s\t%s\t%s\n' "$d" "$mts" "$lts" "$core" >>"$RES"
    done
done
phase_end

echo
echo "TinyLlama-1.1B shape ($PEER_LAYERS layers), W=$PEER_BLOCK, $PEER_THREADS threads, $PEER_ROUNDS round(s); tokens/s, mean over rounds"
awk -F'\t' -v dts="$PEER_DTYPES" '
    { m[$1] += $2; l[$1] += $3; n[$1]++; core[$1] = $4 }
    END {
        printf "%-6s %12s %14s %16s   %s\n", "dtype", "lmc t/s", "llama.cpp t/s", "lmc/llama.cpp", "lmc OpenBLAS core"
        # q8_0, q4_k_m: lmc computes those files in int8 (--dtype int8), llama.cpp with its own quantized kernels
        k = split(dts, d, " ")
        for (i = 1; i <= k; i++) if (n[d[i]])
            printf "%-6s %12.1f %14.1f %16.2f   %s\n", d[i], m[d[i]] / n[d[i]], l[d[i]] / n[d[i]],
                   m[d[i]] / l[d[i]], core[d[i]]
    }' "$RES"
rm -f "$RES"
