#!/usr/bin/env bash
# bench/kld_peer.sh — `lmc kld` against llama.cpp's `llama-perplexity --kl-divergence` on the same GGUF files and
# the same tokens, window for chunk.
#
# A benchmark, not a test (`make test` does not run it). From the repository root, after `bench/peer.sh build`:
#
#   bench/kld_peer.sh                  # demo model, F32 Q8_0 Q6_K Q4_K_M Q4_0, first 20 cc documents, ctx 512
#
# 1. models  demo-model → F32 GGUF with its vocabulary and add_bos_token false (tools/hf_to_gguf.py --hf-vocab
#            --no-bos), then llama-quantize to each type. Without a BOS neither tool changes any token: llama.cpp
#            otherwise overwrites the first token of every chunk with BOS, which lmc's overlapping windows cannot
#            copy. And each quantized file's dequantization as an F32 GGUF (lmc convert, then hf_to_gguf.py): the
#            function lmc computes (it dequantizes and multiplies in f32, bit-identical to this file), which
#            llama.cpp computes in f32 too; on the quantized file itself llama.cpp quantizes the activations.
# 2. text    lmc reads the documents as one plain text (lmc.txt); bench/kld_peer_text.py writes llama.txt, lmc's
#            windows (W = CTX−1, S = CTX/2−1) one after the other, so that llama's chunk k is lmc's window k and
#            both score the predictions of positions CTX/2 .. CTX−2 in it (docs/kld.md, "Against llama.cpp").
# 3. base    llama-perplexity -m F32 -f llama.txt -c CTX --kl-divergence-base base.kld; the token ids it stored
#            must be the ones lmc uses (checked).
# 4. each    llama-perplexity -m Q --kl-divergence-base base.kld --kl-divergence; lmc kld --base F32 --model Q
#            on lmc.txt (W CTX−1, S CTX/2−1) and on prefix.txt (W CTX/2: window 0's first CTX/2 targets, which
#            llama.cpp does not score and which are taken out of lmc's sums); llama-perplexity also on the
#            dequantized F32 file; then a table of mean KLD and Same top p.
#
# Environment: PEER_DIR (default /tmp/lmc-peer, as bench/peer.sh), KP_CTX (512), KP_DATA (demo-data/cc.jsonl),
# KP_DOCS (documents from it, 20), KP_TYPES ("F32 Q8_0 Q6_K Q4_K_M Q4_0"; F32 is the base against itself: lmc's
# KLD is 0 there, llama.cpp's is what its uint16 base file alone costs), KP_THREADS (2), LMC (./lmc).
set -euo pipefail

PEER_DIR=${PEER_DIR:-/tmp/lmc-peer}
KP_CTX=${KP_CTX:-512}
KP_DATA=${KP_DATA:-demo-data/cc.jsonl}
KP_DOCS=${KP_DOCS:-20}
KP_TYPES=${KP_TYPES:-F32 Q8_0 Q6_K Q4_K_M Q4_0}
KP_THREADS=${KP_THREADS:-2}
LMC=${LMC:-./lmc}
PY=/usr/bin/python3 # Debian's, for python3-numpy

die() { echo "kld_peer.sh: $*" >&2; exit 1; }
[ -f src/cli/kld.c ] || die "run me from the lmc repository root (bench/kld_peer.sh)"
case $KP_CTX in ''|*[!0-9]*) die "KP_CTX must be an even integer >= 8, not '$KP_CTX'";; esac
[ "$KP_CTX" -ge 8 ] && [ $((KP_CTX % 2)) = 0 ] || die "KP_CTX must be an even integer >= 8, not '$KP_CTX'"
BIN=$PEER_DIR/llama.cpp/build-native/bin
for t in llama-perplexity llama-quantize; do [ -x "$BIN/$t" ] || die "no $BIN/$t: run bench/peer.sh build first"; done
[ -x "$LMC" ] || make lmc >/dev/null || die "could not build $LMC"
D=$PEER_DIR/kld
mkdir -p "$D"
W=$((KP_CTX - 1)) S=$((KP_CTX / 2 - 1)) H=$((KP_CTX / 2))
export OMP_NUM_THREADS=$KP_THREADS

# ---- 1. models -----------------------------------------------------------------------------------------------
F32=$D/demo-F32-nobos.gguf
if [ ! -s "$F32" ]; then
    PYTHONPATH=$PEER_DIR/llama.cpp/gguf-py $PY tools/hf_to_gguf.py demo-model "$F32.tmp" --hf-vocab --no-bos \
        || die "converting demo-model failed"
    mv "$F32.tmp" "$F32"
fi
for q in $KP_TYPES; do
    f=$D/demo-$q-nobos.gguf
    [ -s "$f" ] && continue
    "$BIN/llama-quantize" "$F32" "$f.tmp" "$q" >"$D/quantize-$q.log" 2>&1 || die "llama-quantize $q failed; see $D/quantize-$q.log"
    mv "$f.tmp" "$f"
done
for q in $KP_TYPES; do
    g=$D/demo-$q-deq-nobos.gguf
    [ "$q" = F32 ] || [ -s "$g" ] && continue
    mkdir -p "$D/deq-$q"
    "$LMC" convert "$D/demo-$q-nobos.gguf" -o "$D/deq-$q/model.safetensors" --dtype f32 -q || die "lmc convert $q failed"
    cp demo-model/config.json demo-model/tokenizer.json demo-model/tokenizer_config.json "$D/deq-$q/"
    PYTHONPATH=$PEER_DIR/llama.cpp/gguf-py $PY tools/hf_to_gguf.py "$D/deq-$q" "$g.tmp" --hf-vocab --no-bos \
        || die "writing $q's dequantization as F32 failed"
    mv "$g.tmp" "$g"
done

# ---- 2. text -------------------------------------------------------------------------------------------------
$PY - "$KP_DATA" "$KP_DOCS" "$D/lmc.txt" <<'PY' || die "could not read $KP_DATA"
import gzip, json, sys
op = gzip.open if sys.argv[1].endswith(".gz") else open
docs = [json.loads(l)["content"] for l in op(sys.argv[1], "rt", encoding="utf-8") if l.strip()][:int(sys.argv[2])]
open(sys.argv[3], "w", encoding="utf-8").write("\n\n".join(docs))
PY
$PY bench/kld_peer_text.py "$LMC" "$F32" demo-model/tokenizer.json "$D/lmc.txt" "$KP_CTX" "$D" || die "building llama.txt failed"

# ---- 3. base -------------------------------------------------------------------------------------------------
# same_tokens: base.kld holds llama.cpp's tokenization of llama.txt, which must be lmc's tokens id for id
same_tokens() {
$PY - "$D/base.kld" "$D/tokens.json" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read(20)
assert b[:8] == b"_logits_", "not a llama-perplexity base file"
n_ctx, n_vocab, n_chunk = struct.unpack("<Iii", b[8:20])
with open(sys.argv[1], "rb") as f:
    f.seek(20)
    toks = list(struct.unpack("<%di" % (n_ctx * n_chunk), f.read(4 * n_ctx * n_chunk)))
want = json.load(open(sys.argv[2]))
if toks != want:
    i = next((i for i, (a, b) in enumerate(zip(toks, want)) if a != b), min(len(toks), len(want)))
    sys.exit(f"base.kld: {len(toks)} tokens, lmc {len(want)}; first difference at {i}")
print(f"llama-perplexity's {n_chunk} chunks of {n_ctx} tokens are lmc's tokens, id for id")
PY
}
# a base file of these very tokens from an earlier run is kept (the F32 file is cached too)
if ! { [ -s "$D/base.kld" ] && same_tokens 2>/dev/null; }; then
    "$BIN/llama-perplexity" -m "$F32" -f "$D/llama.txt" -c "$KP_CTX" -t "$KP_THREADS" \
        --kl-divergence-base "$D/base.kld" >"$D/base.log" 2>&1 || die "llama-perplexity (base) failed; see $D/base.log"
    same_tokens || die "llama.cpp's tokens are not lmc's"
fi

# ---- 4. each type --------------------------------------------------------------------------------------------
RES=$D/results.tsv
: >"$RES"
for q in $KP_TYPES; do
    f=$D/demo-$q-nobos.gguf
    echo "-- $q"
    deq=; [ "$q" = F32 ] || deq=-deq
    for v in "" $deq; do
        # a finished llama.cpp run against this base file (newer than it and than the model) is kept
        m=$D/demo-$q$v-nobos.gguf log=$D/kld-$q$v.log
        if ! { [ "$log" -nt "$D/base.kld" ] && [ "$log" -nt "$m" ] && grep -q "^Same top p" "$log"; }; then
            "$BIN/llama-perplexity" -m "$m" -c "$KP_CTX" -t "$KP_THREADS" --kl-divergence-base "$D/base.kld" \
                --kl-divergence >"$log" 2>&1 || die "llama-perplexity $q$v failed; see $log"
        fi
    done
    "$LMC" kld -q --base "$F32" --model "$f" --data "$D/lmc.txt" -w "$W" --stride "$S" -t "$KP_THREADS" \
        --bootstrap 0 --json "$D/lmc-$q.json" >"$D/lmc-$q.txt" || die "lmc kld $q failed"
    "$LMC" kld -q --base "$F32" --model "$f" --data "$D/prefix.txt" -w "$H" -t "$KP_THREADS" \
        --bootstrap 0 --json "$D/lmc-prefix-$q.json" >/dev/null || die "lmc kld $q (prefix) failed"
    dlog=$D/kld-$q$deq.log
    $PY - "$q" "$D/kld-$q.log" "$D/lmc-$q.json" "$D/lmc-prefix-$q.json" "$H" "$dlog" >>"$RES" <<'PY' || die "could not read the $q results"
import json, re, sys
q, full, pre, h = sys.argv[1], *(json.load(open(p))["results"][0] for p in sys.argv[3:5]), int(sys.argv[5])
def grab(path, pat):
    m = re.search(pat, open(path).read())
    if not m: sys.exit(f"{path}: no line matching {pat}")
    return float(m.group(1)), float(m.group(2))
KLD, TOP = r"Mean    KLD:\s*([-\d.e]+)\s*±\s*([-\d.e]+)", r"Same top p:\s*([-\d.e]+)\s*±\s*([-\d.e]+)\s*%"
lk, lks = grab(sys.argv[2], KLD)
lt, lts = grab(sys.argv[2], TOP)
dk, dt = grab(sys.argv[6], KLD)[0], grab(sys.argv[6], TOP)[0] # the F32 file: the same as the run above
assert pre["scored_tokens"] == h, pre["scored_tokens"]
n = full["scored_tokens"] - h
# lmc's sums less window 0's first CTX/2 targets: the same tokens as llama-perplexity's
mk = (full["kld"]["mean"] * full["scored_tokens"] - pre["kld"]["mean"] * h) / n
mt = 100 * (full["same_top_p"]["est"] * full["scored_tokens"] - pre["same_top_p"]["est"] * h) / n
print(f"{q}\t{n}\t{lk:.6f}\t{lks:.6f}\t{dk:.6f}\t{mk:.7f}\t{full['kld']['se']:.7f}\t{lt:.3f}\t{lts:.3f}\t{dt:.3f}\t{mt:.3f}\t{full['same_top_p']['se'] * 100:.3f}")
PY
done

echo
echo "demo model, $KP_DOCS documents of $KP_DATA, llama-perplexity -c $KP_CTX = lmc kld -w $W --stride $S (same tokens)"
echo "(llama Q: on the quantized file; llama deq: on its dequantization written as F32, lmc's computation)"
awk -F'\t' 'BEGIN { printf "%-7s %6s | %-21s %-10s %-22s | %-17s %-9s %-16s\n", "type", "tokens", "llama Q mean KLD",
                    "llama deq", "lmc mean KLD", "llama Q Same top", "llama deq", "lmc Same top" }
            { printf "%-7s %6d | %9.6f ± %-9.6f %-10.6f %10.7f ± %-9.7f | %6.3f ± %-6.3f %% %6.3f %%  %6.3f ± %-6.3f %%\n",
                     $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12 }' "$RES"
