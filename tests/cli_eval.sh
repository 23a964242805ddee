#!/usr/bin/env bash
# CLI tests for `lmc eval`, `lmc tokenize`, `lmc convert`: outputs, JSON result file, and error messages.
cd "$(dirname "$0")/.." && . tests/lib_cli.sh

# --- a small real evaluation: the demo model on the first 3 demo cc documents, W=256 S=128 ---
if $LMC eval --model demo-model --data demo-data/cc.jsonl --file-num 3 --block-size 256 --stride 128 --quiet \
        --json "$TMP/r.json" >"$TMP/out.txt" 2>"$TMP/err.txt"; then
    if grep -q "demo-data/cc.jsonl" "$TMP/out.txt" && python3 - "$TMP/r.json" <<'PY'
import json, sys, math
r = json.load(open(sys.argv[1]))
res = r["results"][0]
need = ["data", "bpc", "bpb", "nll", "chars", "bytes", "docs", "tokens", "windows", "scored_tokens", "block_size", "stride", "seconds"]
missing = [k for k in need if k not in res]
assert not missing, missing
assert res["docs"] == 3 and res["block_size"] == 256 and res["stride"] == 128
assert res["scored_tokens"] == 256 + (res["windows"] - 1) * 128
assert abs(res["bpc"] - res["nll"] / (res["chars"] * math.log(2))) < 1e-12
assert r["model"]["architecture"] == "LlamaForCausalLM"
PY
    then pass eval_json_fields; else fail eval_json_fields "table or JSON content wrong: $(cat "$TMP/out.txt")"; fi
else
    fail eval_json_fields "$(cat "$TMP/err.txt")"
fi

# --- same BPC from a converted file (bit-identical) ---
if $LMC convert demo-model -o "$TMP/demo.safetensors" 2>/dev/null &&
   $LMC eval --model "$TMP/demo.safetensors" --data demo-data/cc.jsonl --file-num 3 --block-size 256 --stride 128 \
        --quiet --json "$TMP/r2.json" >/dev/null 2>&1; then
    a=$(python3 -c "import json,sys; print(repr(json.load(open(sys.argv[1]))['results'][0]['nll']))" "$TMP/r.json")
    b=$(python3 -c "import json,sys; print(repr(json.load(open(sys.argv[1]))['results'][0]['nll']))" "$TMP/r2.json")
    [ "$a" = "$b" ] && pass convert_round_trip_bit_identical || fail convert_round_trip_bit_identical "$a vs $b"
else
    fail convert_round_trip_bit_identical "convert or eval of the converted file failed"
fi

# --- JSON Lines by content: the same corpus named .txt, and with no extension, gives the same NLL and documents
# (it used to be scored as one plain-text document, JSON syntax included) ---
head -n 3 demo-data/cc.jsonl >"$TMP/cc3.txt"
cp "$TMP/cc3.txt" "$TMP/cc3"
a=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results'][0]; print(repr(r['nll']), r['docs'])" "$TMP/r.json")
for f in "$TMP/cc3.txt" "$TMP/cc3"; do
    if $LMC eval --model demo-model --data "$f" --block-size 256 --stride 128 --quiet --json "$TMP/rf.json" >/dev/null 2>&1
    then
        b=$(python3 -c "import json,sys; r=json.load(open(sys.argv[1]))['results'][0]; print(repr(r['nll']), r['docs'])" "$TMP/rf.json")
        [ "$a" = "$b" ] && pass "jsonl_by_content_$(basename "$f")" || fail "jsonl_by_content_$(basename "$f")" "$b vs .jsonl $a"
    else fail "jsonl_by_content_$(basename "$f")" "eval failed"; fi
done

# --- convert writes safetensors only: -o with another extension is refused before any work, no file left ---
expect_fail convert_out_gguf "$TMP/demo.gguf: lmc convert writes safetensors only (-o OUT.safetensors); for a GGUF file use tools/hf_to_gguf.py" \
    $LMC convert demo-model -o "$TMP/demo.gguf"
expect_fail convert_out_other "$TMP/demo.bin: lmc convert writes a safetensors file: name it OUT.safetensors" \
    $LMC convert demo-model -o "$TMP/demo.bin"
[ ! -e "$TMP/demo.gguf" ] && [ ! -e "$TMP/demo.bin" ] && pass convert_out_no_file || fail convert_out_no_file "$(ls "$TMP"/demo.*)"

# --- thread count does not change the result ---
if $LMC eval --model demo-model --data demo-data/cc.jsonl --file-num 3 --block-size 256 --stride 128 --quiet \
        --threads 1 --json "$TMP/r1.json" >/dev/null 2>&1; then
    a=$(python3 -c "import json,sys; print(repr(json.load(open(sys.argv[1]))['results'][0]['nll']))" "$TMP/r.json")
    b=$(python3 -c "import json,sys; print(repr(json.load(open(sys.argv[1]))['results'][0]['nll']))" "$TMP/r1.json")
    [ "$a" = "$b" ] && pass threads_bit_identical || fail threads_bit_identical "2 threads $a vs 1 thread $b"
else
    fail threads_bit_identical "eval --threads 1 failed"
fi

# --- tokenize ---
printf 'Hello world' >"$TMP/hello.txt"
ids=$($LMC tokenize --model demo-model "$TMP/hello.txt" 2>&1)
ids_ns=$($LMC tokenize --model demo-model --no-special "$TMP/hello.txt" 2>&1)
[ "${ids%% *}" = "0" ] && [ "$ids" = "0 $ids_ns" ] && pass tokenize_bos || fail tokenize_bos "'$ids' / '$ids_ns'"

# --- errors: one line naming the file and the problem, non-zero exit, no result file ---
expect_fail missing_data "no_such.jsonl" $LMC eval --model demo-model --data "$TMP/no_such.jsonl" --quiet
expect_fail missing_model "no_such_model" $LMC eval --model "$TMP/no_such_model" --data demo-data/cc.jsonl --quiet
: >"$TMP/empty.jsonl"
expect_fail empty_corpus "no non-empty documents" $LMC eval --model demo-model --data "$TMP/empty.jsonl" --quiet
printf '{"content": "tiny"}\n' >"$TMP/short.jsonl"
expect_fail corpus_too_short "smaller --block-size" $LMC eval --model demo-model --data "$TMP/short.jsonl" --quiet
expect_fail unknown_flag "unknown option" $LMC eval --model demo-model --data demo-data/cc.jsonl --frobnicate
if need_shared corpora/tricky/invalid_utf8.jsonl; then
    expect_fail invalid_utf8 "invalid_utf8.jsonl:2: invalid UTF-8" $LMC eval --model demo-model \
        --data "$SHARED/corpora/tricky/invalid_utf8.jsonl" --quiet --json "$TMP/bad.json"
    [ -e "$TMP/bad.json" ] && fail no_partial_result "a result file was written on error" || pass no_partial_result
else
    skip invalid_utf8 "shared corpora not found"
fi
# a --tokenizer of another model: refused before the corpus is read, naming both files and both sizes
if need_shared models/selftrained-gpt2-tiny/tokenizer.json; then
    expect_fail tokenizer_mismatch "tokenizer $SHARED/models/selftrained-gpt2-tiny/tokenizer.json has 50257 tokens but model demo-model has 4096" \
        $LMC eval --model demo-model --tokenizer "$SHARED/models/selftrained-gpt2-tiny" --data demo-data/cc.jsonl --quiet
else skip tokenizer_mismatch "shared models/selftrained-gpt2-tiny not found (set LMC_SHARED)"; fi
mkdir -p "$TMP/arch"
printf '{"architectures": ["BertModel"]}' >"$TMP/arch/config.json"
cp demo-model/model.safetensors "$TMP/arch/"
expect_fail unsupported_arch 'architecture "BertModel" is not supported' $LMC eval --model "$TMP/arch" --data demo-data/cc.jsonl --quiet
cli_summary
