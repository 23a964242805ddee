#!/usr/bin/env bash
# CLI tests for bad and tricky input through `lmc eval`: every file in $LMC_SHARED/corpora/tricky gives its
# documented outcome (exit status, message, counts), the zlib baseline matches Python's zlib, and no failing run
# leaves a result file. Documented outcomes (README "Bad input"):
#   counts as in EXPECTED.json, exit 0: crlf_content, crlf_file, tabs_controls, binaryish, long_line_1MiB,
#       long_line_cjk, empty_docs, emoji_cjk, emoji_cjk_ascii_escaped, combining, bom_file, tiny_known
#   exit 1 "no non-empty documents ... BPC is undefined": empty_file, all_empty
#   exit 1 "FILE:LINE: invalid UTF-8": invalid_utf8.jsonl (line 2); --skip-bad-records keeps the 2 valid records
#   exit 1 "invalid UTF-8 at byte offset": invalid_utf8.txt, binaryish_raw.bin (not .jsonl: read as plain text)
#   exit 1 "FILE:1: lone surrogate escape": lone_surrogate.jsonl; with --skip-bad-records all 3 are skipped
#   exit 1 "FILE:4: record has no "content" field": schema_variants.jsonl; --skip-bad-records: 6 docs, 5 skipped
cd "$(dirname "$0")/.." && . tests/lib_cli.sh
T="$SHARED/corpora/tricky"
if [ ! -f "$T/EXPECTED.json" ] || [ ! -x "$LMC" ] || [ ! -f demo-model/tokenizer.json ]; then
    skip tricky_corpora "needs $T, ./lmc and demo-model"
    cli_summary
    exit $?
fi
if ! python3 -c 'import zlib, json' 2>/dev/null; then
    skip tricky_corpora "python3 with zlib not found"
    cli_summary
    exit $?
fi

# run NAME ARGS...: lmc eval on the demo model, stdout/stderr/rc kept under $TMP/NAME.*
run() {
    local name=$1; shift
    $LMC eval --model demo-model --quiet --json "$TMP/$name.json" --per-doc "$TMP/$name.pd" \
        --per-window "$TMP/$name.pw" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
    echo $? >"$TMP/$name.rc"
}

# fails NAME NEEDLE ARGS...: exit 1, one stderr line "lmc: ..." with NEEDLE, no stdout, no result file
fails() {
    local name=$1 needle=$2; shift 2
    run "$name" "$@"
    local rc err
    rc=$(cat "$TMP/$name.rc"); err=$(cat "$TMP/$name.err")
    if [ "$rc" != 1 ]; then fail "$name" "exit $rc (expected 1): $err"; return; fi
    if [ "$(grep -c . "$TMP/$name.err")" != 1 ] || [ "${err#lmc: }" = "$err" ]; then
        fail "$name" "stderr is not one 'lmc: ' line: $err"; return
    fi
    case "$err" in *"$needle"*) ;; *) fail "$name" "stderr lacks '$needle': $err"; return ;; esac
    if [ -s "$TMP/$name.out" ]; then fail "$name" "stdout not empty: $(cat "$TMP/$name.out")"; return; fi
    if [ -e "$TMP/$name.json" ] || [ -e "$TMP/$name.pd" ] || [ -e "$TMP/$name.pw" ]; then
        fail "$name" "a result file was written"; return
    fi
    pass "$name"
}

# check_counts NAME FILE: the JSON result agrees with EXPECTED.json and with Python's own reading of FILE
# (documents, code points, UTF-8 bytes, records, per-document chars/bytes) and zlib.compress(..., 9).
check_counts() {
    local name=$1 file=$2
    local rc; rc=$(cat "$TMP/$name.rc")
    if [ "$rc" != 0 ]; then fail "$name" "exit $rc: $(cat "$TMP/$name.err")"; return; fi
    if msg=$(python3 - "$T/EXPECTED.json" "$T/$file" "$TMP/$name.json" "$TMP/$name.pd" "$file" <<'PY' 2>&1
import json, sys, zlib, math
exp_all, path, res_path, pd_path, key = sys.argv[1:6]
exp = json.load(open(exp_all))[key]
raw = open(path, 'rb').read()
if raw.startswith(b'\xef\xbb\xbf'):
    raw = raw[3:]
records = [json.loads(l.decode('utf-8')) for l in raw.split(b'\n') if l.strip(b' \t\r')]
docs = [r['content'] for r in records if len(r['content']) > 0]
cat = ''.join(docs).encode('utf-8')
r = json.load(open(res_path))['results'][0]
want = {'docs': len(docs), 'chars': sum(map(len, docs)), 'bytes': len(cat), 'records': len(records),
        'zlib_bytes': len(zlib.compress(cat, 9))}
assert (want['docs'], want['chars'], want['bytes'], want['records']) == \
       (exp['nonempty_docs'], exp['chars_nonempty'], exp['utf8_bytes_nonempty'], exp['records']), \
       'python reading disagrees with EXPECTED.json: %r' % want
bad = {k: (r.get(k), v) for k, v in want.items() if r.get(k) != v}
assert not bad, 'lmc vs python (got, want): %r' % bad
zb = 8.0 * want['zlib_bytes'] / want['chars']
assert r['zlib_bpc'] == zb, 'zlib_bpc %r vs %r' % (r['zlib_bpc'], zb)
assert abs(r['bpc'] - r['nll'] / (want['chars'] * math.log(2))) <= 1e-12 * r['bpc'], 'bpc'
assert math.isfinite(r['bpc']) and r['bpc'] > 0, 'bpc %r' % r['bpc']
pd = [json.loads(l) for l in open(pd_path)]
assert [d['chars'] for d in pd] == [len(d) for d in docs], 'per-doc chars %r' % [d['chars'] for d in pd]
assert [d['bytes'] for d in pd] == [len(d.encode('utf-8')) for d in docs], 'per-doc bytes'
assert sum(d['tokens'] for d in pd) == r['tokens'], 'per-doc tokens'
assert sum(d['scored_tokens'] for d in pd) == r['scored_tokens'], 'per-doc scored'
assert abs(sum(d['nll'] for d in pd) - r['nll']) <= 1e-12 * r['nll'], 'per-doc nll sum'
PY
    ); then pass "$name"; else fail "$name" "$(printf '%s' "$msg" | tail -1)"; fi
}

# --- files that evaluate: full runs with small windows, counts checked against Python and EXPECTED.json ---
for f in crlf_content crlf_file tabs_controls empty_docs emoji_cjk emoji_cjk_ascii_escaped combining bom_file \
         tiny_known; do
    run "ok_$f" --data "$T/$f.jsonl" --block-size 8 --stride 4
    check_counts "ok_$f" "$f.jsonl"
done
# the same text written two ways tokenizes and scores identically
same_bits() {
    local a b
    a=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(r["tokens_sha256"], r["nll_bits"])' "$TMP/$1.json" 2>/dev/null)
    b=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(r["tokens_sha256"], r["nll_bits"])' "$TMP/$2.json" 2>/dev/null)
    [ -n "$a" ] && [ "$a" = "$b" ] && pass "$3" || fail "$3" "'$a' vs '$b'"
}
same_bits ok_emoji_cjk ok_emoji_cjk_ascii_escaped escaped_equals_raw
same_bits ok_crlf_content ok_crlf_file crlf_records_equal_lf_records

# --- large files: counts through the corpus-too-short message (a full run would take minutes) ---
counts_via_error() {
    local name=$1 file=$2 needle=$3
    fails "$name" "$needle" --data "$T/$file" --block-size 1000000
}
counts_via_error big_binaryish binaryish.jsonl "(3 documents, 9144 characters, 15229 bytes): corpus too short"
counts_via_error big_long_line_1MiB long_line_1MiB.jsonl "(1 document, 1048576 characters, 1048576 bytes): corpus too short"
counts_via_error big_long_line_cjk long_line_cjk.jsonl "(1 document, 200000 characters, 600000 bytes): corpus too short"
run binaryish_eval --data "$T/binaryish.jsonl" --block-size 4096 --stride 4096 --file-num 1
rc=$(cat "$TMP/binaryish_eval.rc")
[ "$rc" = 0 ] && grep -q '"docs":	1' "$TMP/binaryish_eval.json" && pass binaryish_first_record_evaluates ||
    fail binaryish_first_record_evaluates "exit $rc: $(cat "$TMP/binaryish_eval.err")"

# --- files that fail, and what --skip-bad-records does with them ---
fails empty_file "empty_file.jsonl: no non-empty documents (0 records read): BPC is undefined" --data "$T/empty_file.jsonl" --block-size 8 --stride 4
fails all_empty "all_empty.jsonl: no non-empty documents (3 records read): BPC is undefined" --data "$T/all_empty.jsonl" --block-size 8 --stride 4
fails invalid_utf8_jsonl "invalid_utf8.jsonl:2: invalid UTF-8" --data "$T/invalid_utf8.jsonl" --block-size 8 --stride 4
fails invalid_utf8_txt "invalid_utf8.txt: invalid UTF-8 at byte offset" --data "$T/invalid_utf8.txt" --block-size 8 --stride 4
fails binaryish_raw "binaryish_raw.bin: invalid UTF-8 at byte offset" --data "$T/binaryish_raw.bin" --block-size 8 --stride 4
fails lone_surrogate "lone_surrogate.jsonl:1: lone surrogate escape" --data "$T/lone_surrogate.jsonl" --block-size 8 --stride 4
fails lone_surrogate_skip "lone_surrogate.jsonl: no non-empty documents (3 records read, some skipped as malformed)" \
    --data "$T/lone_surrogate.jsonl" --block-size 8 --stride 4 --skip-bad-records
fails schema_variants 'schema_variants.jsonl:4: record has no "content" field' --data "$T/schema_variants.jsonl" --block-size 8 --stride 4

skipped() { # NAME FILE DOCS SKIPPED RECORDS
    run "$1" --data "$T/$2" --block-size 8 --stride 4 --skip-bad-records
    local rc got
    rc=$(cat "$TMP/$1.rc")
    got=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print(r["docs"], r["skipped_records"], r["records"])' "$TMP/$1.json" 2>/dev/null)
    if [ "$rc" = 0 ] && [ "$got" = "$3 $4 $5" ] && grep -q "skipped $4 malformed records of $5 (--skip-bad-records)" "$TMP/$1.err"; then
        pass "$1"
    else
        fail "$1" "exit $rc, docs/skipped/records '$got' (want '$3 $4 $5'): $(cat "$TMP/$1.err")"
    fi
}
skipped schema_variants_skip schema_variants.jsonl 6 5 11
skipped invalid_utf8_skip invalid_utf8.jsonl 2 8 10

# --- a result file is replaced only by a complete one: a failing run leaves an old one untouched ---
echo '{"old": true}' >"$TMP/keep.json"
# the wrong kind of file as a model: named for what it is, with what to pass instead (it used to be "header
# length 9287020993001037859 is implausible")
M260=$SHARED/models/stories260K
expect_fail model_is_json "demo-model/config.json is a JSON file, not a model: pass its directory (demo-model)" \
    $LMC eval --model demo-model/config.json --data demo-data/cc.jsonl --quiet
printf 'Once upon a time there was a model file that was really a story.\n' >"$TMP/story.txt"
expect_fail model_is_text "$TMP/story.txt is a text file, not a model" \
    $LMC eval --model "$TMP/story.txt" --data demo-data/cc.jsonl --quiet
if [ -f "$M260/stories260K.bin" ] && [ -f "$M260/tok512.bin" ]; then
    expect_fail model_is_llama2c "stories260K.bin looks like a llama2.c checkpoint: convert it with \`lmc convert $M260/stories260K.bin -o stories260K.safetensors\`" \
        $LMC eval --model "$M260/stories260K.bin" --data demo-data/cc.jsonl --quiet
    expect_fail model_is_llama2c_tokenizer "tok512.bin looks like a llama2.c tokenizer, not a model" \
        $LMC eval --model "$M260/tok512.bin" --data demo-data/cc.jsonl --quiet
    expect_fail model_dir_llama2c "no model.safetensors or model.safetensors.index.json (stories260K.bin looks like a llama2.c checkpoint" \
        $LMC eval --model "$M260" --data demo-data/cc.jsonl --quiet
    expect_fail tokenizer_is_llama2c "stories260K.bin looks like a llama2.c checkpoint, not a tokenizer: pass its tok*.bin" \
        $LMC tokenize --model "$M260/stories260K.bin" "$TMP/story.txt"
    # the folder's tok512.bin is its tokenizer: the same ids as the converted file's
    printf 'Once upon a time.\nOnce more.' >"$TMP/once.txt"
    a=$($LMC tokenize --model "$M260" "$TMP/once.txt" 2>&1)
    if $LMC convert "$M260/stories260K.bin" -o "$TMP/s260.safetensors" >/dev/null 2>&1 &&
        b=$($LMC tokenize --model "$TMP/s260.safetensors" "$TMP/once.txt" 2>&1) && [ "$a" = "$b" ] && [ "${a%% *}" = 1 ]
    then pass tokenize_llama2c_dir; else fail tokenize_llama2c_dir "folder: '$a', converted: '$b'"; fi
else skip model_is_llama2c "shared models/stories260K not found (set LMC_SHARED)"; fi

$LMC eval --model demo-model --quiet --data "$T/all_empty.jsonl" --json "$TMP/keep.json" >/dev/null 2>&1
[ "$(cat "$TMP/keep.json")" = '{"old": true}' ] && pass failed_run_keeps_old_result || fail failed_run_keeps_old_result "overwritten"
ls "$TMP" | grep -q '\.tmp\.' && fail no_tmp_files_left "$(ls "$TMP" | grep '\.tmp\.')" || pass no_tmp_files_left

cli_summary
