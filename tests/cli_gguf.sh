#!/usr/bin/env bash
# CLI tests for GGUF models (tests/data/gguf, see make.sh there): the same random-weight checkpoint as HF
# safetensors and as llama.cpp's F32 GGUF gives bit-identical BPC (Llama: q/k rows un-permuted; GPT-2: Conv1D
# layout, position table) under f32 and bf16 compute; Q8_0 stays within 0.02 BPC of F32 (measured: 0.0006 for
# Llama, 0.0016 for GPT-2 on these 11904 scored tokens, BPC about 6.5; Q8_0 moves a weight by at most 1/254 of its block's
# maximum, so a larger shift means a misread block, not rounding); `lmc convert` accepts a GGUF and the
# converted file (tokenizer embedded) gives the GGUF's bits; the Llama files' own vocabulary (tok512.bin written
# as tokenizer.ggml.*) gives the bits of --tokenizer tok512.bin; eval --verbose states the weight memory.
# The tokenizer is stories260K's tok512.bin from $LMC_SHARED (vocabulary 512, as these models have).
cd "$(dirname "$0")/.." && . tests/lib_cli.sh
TOK=$SHARED/models/stories260K/tok512.bin D=tests/data/gguf
if [ ! -x "$LMC" ] || [ ! -f "$TOK" ]; then
    skip gguf "needs ./lmc and \$LMC_SHARED/models/stories260K/tok512.bin"
    cli_summary
    exit $?
fi
bits() { python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results'][0]; print(r['nll_bits'], r['bpc'])" "$1"; }
ev() { # ev OUT.json MODEL [flags]: one small evaluation, the result's nll bits and BPC on stdout
    local out=$1; shift
    $LMC eval --data demo-data/cc.jsonl --file-num 2 --block-size 128 --stride 64 --bootstrap 0 --quiet \
        --json "$out" --model "$@" >/dev/null 2>"$out.err" && bits "$out"
}

for m in llama gpt2; do
    for dt in f32 bf16; do
        a=$(ev "$TMP/$m-hf-$dt.json" "$D/$m-hf" --tokenizer "$TOK" --dtype $dt)
        b=$(ev "$TMP/$m-gguf-$dt.json" "$D/$m-f32.gguf" --tokenizer "$TOK" --dtype $dt)
        if [ -z "$a" ] || [ -z "$b" ]; then fail "gguf_${m}_bpc_$dt" "$(cat "$TMP/$m-hf-$dt.json.err" "$TMP/$m-gguf-$dt.json.err")"
        elif [ "${a%% *}" != "${b%% *}" ]; then fail "gguf_${m}_bpc_$dt" "HF $a vs GGUF F32 $b"
        else pass "gguf_${m}_bpc_$dt"; fi
    done
    q=$(ev "$TMP/$m-q8.json" "$D/$m-q8_0.gguf" --tokenizer "$TOK")
    f=$(ev "$TMP/$m-f32.json" "$D/$m-f32.gguf" --tokenizer "$TOK")
    if [ -z "$q" ] || [ -z "$f" ]; then fail "gguf_${m}_q8_0" "$(cat "$TMP/$m-q8.json.err")"
    elif ! awk -v q="${q#* }" -v f="${f#* }" 'BEGIN { d = q - f; if (d < 0) d = -d; exit !(d < 0.02 && d > 0) }'
    then fail "gguf_${m}_q8_0" "Q8_0 BPC ${q#* } vs F32 ${f#* }"
    else pass "gguf_${m}_q8_0"; fi
done

# convert: the GGUF's tensors under HF names, Q8_0 dequantized to F32, tokenizer embedded; same bits
if $LMC convert "$D/gpt2-q8_0.gguf" -o "$TMP/g.safetensors" --tokenizer "$TOK" 2>"$TMP/c.err"; then
    a=$(ev "$TMP/conv.json" "$TMP/g.safetensors")
    b=$(ev "$TMP/orig.json" "$D/gpt2-q8_0.gguf" --tokenizer "$TOK")
    if [ -n "$a" ] && [ "${a%% *}" = "${b%% *}" ]; then pass gguf_convert
    else fail gguf_convert "converted $a vs GGUF $b: $(cat "$TMP/conv.json.err")"; fi
else fail gguf_convert "$(cat "$TMP/c.err")"; fi

# the Llama files carry tok512.bin as their own vocabulary (tokenizer.ggml.*): without --tokenizer, the same bits
a=$(ev "$TMP/own.json" "$D/llama-q8_0.gguf")
b=$(ev "$TMP/tok.json" "$D/llama-q8_0.gguf" --tokenizer "$TOK")
if [ -n "$a" ] && [ "$a" = "$b" ]; then pass gguf_own_tokenizer
else fail gguf_own_tokenizer "own vocabulary $a vs tok512.bin $b: $(cat "$TMP/own.json.err")"; fi

$LMC eval --model "$D/llama-q8_0.gguf" --tokenizer "$TOK" --data demo-data/cc.jsonl --file-num 1 --block-size 64 \
    --bootstrap 0 --quiet --verbose >/dev/null 2>"$TMP/v.err"
if grep -q 'weights Q8_0, compute f32' "$TMP/v.err" && grep -Eq '^weight memory: [0-9.]+ MB mmapped' "$TMP/v.err"
then pass gguf_verbose; else fail gguf_verbose "$(cat "$TMP/v.err")"; fi

# tools/hf_to_gguf.py on TinyStories-656K-f32, whose tied embedding is stored only as lm_head.weight with the
# __metadata__ alias "model.embed_tokens.weight": "lm_head.weight": the GGUF must keep it as token_embd.weight
# (it was dropped, and lmc and llama.cpp refused the file) and give the checkpoint's BPC. The script needs numpy
# and llama.cpp's gguf-py (PYTHONPATH); without them this check is skipped.
PY=${PYTHON:-python3} TS=$SHARED/models/TinyStories-656K-f32
if [ ! -f "$TS/model.safetensors" ]; then skip hf_to_gguf_tied_alias "shared models/TinyStories-656K-f32 not found"
elif ! $PY -c 'import numpy, gguf' 2>/dev/null; then
    skip hf_to_gguf_tied_alias "$PY has no numpy or no llama.cpp gguf-py (put gguf-py on PYTHONPATH to run it)"
elif ! $PY tools/hf_to_gguf.py "$TS" "$TMP/ts.gguf" >/dev/null 2>"$TMP/ts.err"; then
    fail hf_to_gguf_tied_alias "hf_to_gguf.py: $(cat "$TMP/ts.err")"
else
    a=$(ev "$TMP/ts-hf.json" "$TS")
    b=$(ev "$TMP/ts-gguf.json" "$TMP/ts.gguf" --tokenizer "$TS")
    if [ -z "$a" ] || [ -z "$b" ]; then fail hf_to_gguf_tied_alias "$(cat "$TMP/ts-hf.json.err" "$TMP/ts-gguf.json.err")"
    elif ! awk -v x="${a#* }" -v y="${b#* }" 'BEGIN { d = x - y; if (d < 0) d = -d; exit !(d <= 1e-9 * x) }'
    then fail hf_to_gguf_tied_alias "HF BPC ${a#* } vs GGUF ${b#* }"
    else pass hf_to_gguf_tied_alias; fi
fi

# the same conversion where gguf-py is missing but numpy is not: a stand-in GGUFWriter records the tensors the
# script writes; token_embd.weight must be among them with the embedding's shape, and no output.weight (tied)
NPY=
for cand in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$cand" >/dev/null && "$cand" -c 'import numpy' 2>/dev/null; then NPY=$cand; break; fi
done
if [ ! -f "$TS/model.safetensors" ]; then skip hf_to_gguf_tied_alias_names "shared models/TinyStories-656K-f32 not found"
elif [ -z "$NPY" ]; then skip hf_to_gguf_tied_alias_names "no python3 with numpy found"
else
    mkdir -p "$TMP/standin"
    cat >"$TMP/standin/gguf.py" <<'PY'
import json, types
LlamaFileType = types.SimpleNamespace(ALL_F32=0, MOSTLY_F16=1, MOSTLY_BF16=32)
GGMLQuantizationType = types.SimpleNamespace(BF16=30)
class GGUFWriter:
    def __init__(self, out, arch): self.out, self.tensors = out, {}
    def add_tensor(self, name, t, raw_shape=None, raw_dtype=None): self.tensors[name] = list(t.shape)
    def close(self): json.dump(self.tensors, open(self.out, "w"))
    def __getattr__(self, key): return lambda *args, **kwargs: None
PY
    if PYTHONPATH="$TMP/standin" "$NPY" tools/hf_to_gguf.py "$TS" "$TMP/ts-names.json" 2>"$TMP/names.err" &&
        got=$("$NPY" -c 'import json,sys; t=json.load(open(sys.argv[1])); print(t.get("token_embd.weight"), "output.weight" in t, len(t))' "$TMP/ts-names.json") &&
        [ "$got" = "[2048, 128] False 20" ]
    then pass hf_to_gguf_tied_alias_names
    else fail hf_to_gguf_tied_alias_names "token_embd.weight shape, output.weight present, tensors: ${got:-$(cat "$TMP/names.err")}"; fi
fi

printf 'GGUF\003\000\000\000' >"$TMP/short.gguf"
expect_fail gguf_truncated "short.gguf" $LMC eval --model "$TMP/short.gguf" --tokenizer "$TOK" --data demo-data/cc.jsonl
cli_summary
