#!/usr/bin/env bash
# What a new user hit in the first hour (issue 23): numbers that were wrong or misleading without a word, flag
# combinations found only after loading, names that collide, odd messages. Each check failed before its fix.
cd "$(dirname "$0")/.." && . tests/lib_cli.sh

json() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

# --- an unscored tail says so, and the JSON records the scored fraction (SPEC §3: the tail is never scored) ---
head -n 1 demo-data/cc.jsonl >"$TMP/one.jsonl"
if $LMC eval -m demo-model -d "$TMP/one.jsonl" --block-size 511 --stride 511 -o "$TMP/tail.json" --quiet \
        >"$TMP/out" 2>"$TMP/err"; then
    f=$(json "$TMP/tail.json" "r['results'][0]['scored_fraction']")
    s=$(json "$TMP/tail.json" "r['results'][0]['scored_tokens'] / (r['results'][0]['tokens'] - 1)")
    if grep -q "lie after the last window and are never scored" "$TMP/err" && [ "$f" = "$s" ] &&
       python3 -c "import sys; assert float(sys.argv[1]) < 0.99" "$f"; then pass unscored_tail_warned
    else fail unscored_tail_warned "fraction $f (expected $s), stderr: $(cat "$TMP/err")"; fi
else
    fail unscored_tail_warned "$(cat "$TMP/err")"
fi
# ... and says nothing when (almost) every target is scored
$LMC eval -m demo-model -d "$TMP/one.jsonl" --block-size 256 --stride 8 --quiet >/dev/null 2>"$TMP/err"
grep -q "never scored" "$TMP/err" && fail unscored_tail_quiet_when_small "$(cat "$TMP/err")" || pass unscored_tail_quiet_when_small

# --- --format, and a note when the content decided ---
head -n 2 demo-data/cc.jsonl >"$TMP/two.txt"
$LMC eval -m demo-model -d "$TMP/two.txt" -w 128 -o "$TMP/auto.json" >/dev/null 2>"$TMP/err"
if grep -q "read as JSON Lines by its content (--format text" "$TMP/err" &&
   [ "$(json "$TMP/auto.json" "r['results'][0]['format'], r['results'][0]['docs']")" = "('jsonl', 2)" ]; then
    pass format_note_and_json
else fail format_note_and_json "$(cat "$TMP/err")"; fi
if $LMC eval -m demo-model -d "$TMP/two.txt" -w 128 --format text -o "$TMP/text.json" --quiet >/dev/null 2>&1 &&
   [ "$(json "$TMP/text.json" "r['results'][0]['format'], r['results'][0]['docs']")" = "('text', 1)" ]; then
    pass format_text_override
else fail format_text_override "--format text did not read one plain-text document"; fi
expect_fail format_bad_value "--format must be auto, jsonl or text, not 'csv'" \
    $LMC eval -m demo-model -d "$TMP/two.txt" --format csv

# --- a window past the trained context: eval warns, compress refuses; both name the model's limit ---
$LMC eval -m demo-model -d demo-data/cc.jsonl --file-num 2 -w 2100 --stride 2100 --quiet >/dev/null 2>"$TMP/err"
grep -q "exceeds the 2048-token context demo-model was trained with" "$TMP/err" && pass eval_warns_past_context ||
    fail eval_warns_past_context "$(cat "$TMP/err")"
$LMC eval -m demo-model -d demo-data/cc.jsonl --file-num 2 -w 2048 --stride 2048 --quiet >/dev/null 2>"$TMP/err"
grep -q "trained with" "$TMP/err" && fail eval_silent_within_context "$(cat "$TMP/err")" || pass eval_silent_within_context
expect_fail compress_refuses_past_limit "exceeds the model's limit of 2048" \
    $LMC compress -m demo-model demo-data/README.md -o "$TMP/x.lmcz" --window 5000
[ -e "$TMP/x.lmcz" ] && fail compress_refused_leaves_nothing "x.lmcz written" || pass compress_refused_leaves_nothing

# --- flag combinations are checked before anything is loaded (exit 2), eval and bench alike ---
expect_fail eval_stride_over_window "--stride 200 exceeds --block-size 128" \
    $LMC eval -m /nonexistent/model -d /nonexistent/data --block-size 128 --stride 200
[ "$($LMC eval -m /nonexistent/model -d x -w 128 --stride 200 2>/dev/null; echo $?)" = 2 ] && pass eval_usage_exit_2 ||
    fail eval_usage_exit_2 "exit status not 2"
expect_fail bench_stride_over_window "--stride 200 exceeds --block-size 128" \
    $LMC bench --shape tinyllama-1.1b --block-size 128 --stride 200
# a window below the default stride: the stride follows it (as in bench), the README's GGUF example runs
if $LMC eval -m demo-model -d "$TMP/one.jsonl" -w 128 -o "$TMP/w128.json" --quiet >/dev/null 2>"$TMP/err" &&
   [ "$(json "$TMP/w128.json" "r['results'][0]['stride']")" = 128 ]; then pass eval_default_stride_follows_window
else fail eval_default_stride_follows_window "$(cat "$TMP/err")"; fi

# --- convert to a name that is not .safetensors: a usage error before any work ---
expect_fail convert_gguf_name "tools/hf_to_gguf.py" $LMC convert demo-model -o "$TMP/demo.gguf"
[ "$($LMC convert demo-model -o "$TMP/demo.gguf" 2>/dev/null; echo $?)" = 2 ] && [ ! -e "$TMP/demo.gguf" ] &&
    pass convert_gguf_name_exit_2 || fail convert_gguf_name_exit_2 "exit status not 2, or a file was written"

# --- model names: --name, the config's _name_or_path, HF cache snapshots; report tells two 'final' apart ---
for d in a/final b/final hub/models--acme--tiny-lm/snapshots/0123abcd named; do
    mkdir -p "$TMP/$d" && ln -s "$PWD"/demo-model/* "$TMP/$d/"
done
rm "$TMP/named/config.json"
python3 - "$PWD/demo-model/config.json" "$TMP/named/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); c["_name_or_path"] = "acme/demo-from-config"
json.dump(c, open(sys.argv[2], "w"))
PY
ev() { $LMC eval -m "$TMP/$1" -d "$TMP/one.jsonl" -w 64 --stride 32 -o "$TMP/$2.json" "${@:3}" >/dev/null 2>"$TMP/err"; }
ev a/final fa --name model-A && ev b/final fb --name model-B && ev hub/models--acme--tiny-lm/snapshots/0123abcd hub &&
    ev named named
names=$(for f in fa fb hub named; do json "$TMP/$f.json" "r['model']['name']"; done | tr '\n' ' ')
[ "$names" = "model-A model-B acme/tiny-lm acme/demo-from-config " ] && pass model_names || fail model_names "$names"
grep -q "model named 'acme/demo-from-config', from the config's _name_or_path" "$TMP/err" && pass model_name_said ||
    fail model_name_said "$(cat "$TMP/err")"
if $LMC report "$TMP/fa.json" "$TMP/fb.json" --md "$TMP/r.md" -o "$TMP/r.html" >/dev/null 2>"$TMP/err" &&
   grep -q "model-A" "$TMP/r.md" && grep -q "model-B" "$TMP/r.md"; then pass report_two_finals
else fail report_two_finals "$(cat "$TMP/err")"; fi

# --- odd messages: one document has no interval; long paths get an ellipsis; bench on a real model ---
deep="$TMP/a/rather/deep/folder/with/a/long/name"
mkdir -p "$deep" && cp "$TMP/one.jsonl" "$deep/cc.jsonl"
$LMC eval -m demo-model -d "$deep/cc.jsonl" -w 256 --quiet >"$TMP/out" 2>&1
grep -q "no standard error or interval (one document" "$TMP/out" && ! grep -q "interval \[" "$TMP/out" &&
    pass one_document_no_interval || fail one_document_no_interval "$(cat "$TMP/out")"
grep -q "^\.\.\..*name/cc\.jsonl " "$TMP/out" && pass long_path_ellipsis || fail long_path_ellipsis "$(head -2 "$TMP/out")"
$LMC eval -m demo-model -d "$TMP/one.jsonl" -w 256 --threads 1000 --quiet >/dev/null 2>"$TMP/err"
grep -q "warning: --threads 1000 is more than the" "$TMP/err" && pass threads_over_cores_warned ||
    fail threads_over_cores_warned "$(cat "$TMP/err")"
if $LMC bench -m demo-model -w 64 --windows 1 -o "$TMP/b.json" >"$TMP/out" 2>&1; then
    if grep -q "5.4 M parameters" "$TMP/out" && grep -q ", 1 window, " "$TMP/out" && ! grep -q "generated" "$TMP/out" &&
       [ "$(json "$TMP/b.json" "r['lmc_version'] != '' and r['stride']")" = 64 ]; then pass bench_model_wording
    else fail bench_model_wording "$(head -3 "$TMP/out")"; fi
else fail bench_model_wording "$(tail -2 "$TMP/out")"; fi

cli_summary
