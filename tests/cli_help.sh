#!/usr/bin/env bash
# CLI tests for the help and usage errors that come from the subcommands' option tables (src/cli/options.h):
# docs/cli.md is what `lmc help --markdown` prints; `--help` and `-h` work on every subcommand (exit 0, the
# usage line on stdout, every option of the table listed); a bad value, an unknown option and a missing value
# are usage errors (exit 2, one stderr line naming the value and ending with the subcommand's usage line).
cd "$(dirname "$0")/.." || exit 1
. tests/lib_cli.sh

# the reference is current
if ! $LMC help --markdown >"$TMP/cli.md"; then fail cli_md "lmc help --markdown failed"
elif ! cmp -s "$TMP/cli.md" docs/cli.md; then
    fail cli_md "docs/cli.md differs from \`lmc help --markdown\` (run make docs): $(diff "$TMP/cli.md" docs/cli.md | head -3 | tr '\n' ' ')"
else pass cli_md; fi

# every subcommand `lmc --help` lists (the dispatch table) has --help and -h, and its markdown section
cmds=$($LMC --help | sed -n '/^commands:/,$p' | awk 'NR > 1 && $1 !~ /^(help|--version)$/ {print $1}')
[ "$(printf '%s\n' "$cmds" | grep -c .)" -ge 10 ] && pass help_lists_commands || fail help_lists_commands "got: $cmds"
for c in $cmds; do
    for h in --help -h; do
        out=$($LMC "$c" $h 2>"$TMP/err"); rc=$?
        if [ $rc -ne 0 ]; then fail "help_${c}_$h" "exit $rc: $(cat "$TMP/err")"
        elif [ -s "$TMP/err" ]; then fail "help_${c}_$h" "stderr: $(cat "$TMP/err")"
        elif ! printf '%s\n' "$out" | head -1 | grep -q "^usage: lmc $c "; then fail "help_${c}_$h" "first line: $(printf '%s\n' "$out" | head -1)"
        elif ! printf '%s\n' "$out" | grep -q -- '-h, --help'; then fail "help_${c}_$h" "no -h, --help line"
        else pass "help_${c}_$h"; fi
    done
    grep -q "^## lmc $c\$" docs/cli.md && pass "md_$c" || fail "md_$c" "no section in docs/cli.md"
done

# a command of subcommands (lmc corpus wet|code|...): each one's section, one heading level down
subs=$($LMC corpus --help | head -1 | sed -n 's/^usage: lmc corpus \([a-z|]*\) .*/\1/p' | tr '|' ' ')
[ "$(printf '%s\n' $subs | grep -c .)" -ge 7 ] && pass help_lists_corpus_subs || fail help_lists_corpus_subs "got: $subs"
for sub in $subs; do
    grep -q "^### lmc corpus $sub\$" docs/cli.md && pass "md_corpus_$sub" || fail "md_corpus_$sub" "no section in docs/cli.md"
done

# usage errors: exit 2, one line with the offending value and the usage line, nothing on stdout
usage_error() {
    local name=$1 needle=$2 cmd=$3; shift 3
    local out err rc
    out=$($LMC "$cmd" "$@" 2>"$TMP/err"); rc=$?
    err=$(cat "$TMP/err")
    if [ $rc -ne 2 ]; then fail "$name" "exit $rc (expected 2): $err"
    elif [ -n "$out" ]; then fail "$name" "stdout: $out"
    elif [ "$(printf '%s\n' "$err" | grep -c .)" -ne 1 ]; then fail "$name" "expected one stderr line: $err"
    else
        case "$err" in
        "lmc: $needle (usage: lmc $cmd "*"; see lmc $cmd --help)") pass "$name" ;;
        *) fail "$name" "stderr: $err" ;;
        esac
    fi
}
usage_error eval_bad_threads "--threads must be 0..4096, not 'many'" eval --model demo-model --data x --threads many
usage_error eval_bad_short "-t must be 0..4096, not '-5'" eval -m demo-model -d x -t -5
usage_error eval_bad_inline "--block-size must be 1..1000000, not '0'" eval --model demo-model --data x --block-size=0
usage_error eval_bad_window_alias "--window must be 1..1000000, not 'x'" eval --model demo-model --data x --window x
usage_error eval_bad_dtype "--dtype must be f32, bf16 or int8, not 'f16'" eval --model demo-model --data x --dtype f16
usage_error eval_unknown "unknown option '--frobnicate' for eval" eval --model demo-model --data x --frobnicate
usage_error eval_no_model "eval needs --model" eval --data x
usage_error eval_flag_value "--quiet takes no value, not 'yes'" eval --model demo-model --data x --quiet=yes
usage_error merge_missing_value "--json needs a value" merge a.json --json
usage_error merge_no_parts "missing PART.json" merge --json out.json
usage_error convert_bad_dtype "--dtype must be f32, bf16 or f16, not 'q4'" convert src -o out --dtype q4
usage_error convert_extra "unexpected argument 'b'" convert a b -o out
usage_error generate_bad_temp "--temperature must be a number in 0..100, not 'hot'" generate -m demo-model -p x --temperature hot
usage_error tokenize_no_file "missing FILE" tokenize --model demo-model
usage_error bench_bad_windows "--windows must be 1..1000000, not '0'" bench --shape tinyllama-1.1b --windows 0
usage_error compress_bad_window "-w must be 1..1000000, not '0'" compress -m demo-model in -o out -w 0
usage_error decompress_unknown "unknown option '--window' for decompress" decompress -m demo-model in -o out --window 5
usage_error report_bad_seed "--seed must be 0..9223372036854775807, not '-1'" report a.json --seed -1
usage_error compare_third "unexpected argument 'c.json'" compare a.json b.json c.json

# --quiet silences the progress / speed lines on stderr (generate's speed line, convert's "wrote OUT")
out=$($LMC generate -m demo-model -p "Once" -n 3 --temperature 0 --quiet 2>"$TMP/err"); rc=$?
[ $rc -eq 0 ] && [ ! -s "$TMP/err" ] && [ -n "$out" ] && pass generate_quiet || fail generate_quiet "exit $rc, stderr: $(cat "$TMP/err")"
$LMC generate -m demo-model -p "Once" -n 3 --temperature 0 >/dev/null 2>"$TMP/err"
grep -q "tokens/s" "$TMP/err" && pass generate_speed_line || fail generate_speed_line "stderr: $(cat "$TMP/err")"
$LMC convert demo-model -o "$TMP/q.safetensors" -q 2>"$TMP/err"; rc=$?
[ $rc -eq 0 ] && [ ! -s "$TMP/err" ] && [ -s "$TMP/q.safetensors" ] && pass convert_quiet || fail convert_quiet "exit $rc, stderr: $(cat "$TMP/err")"
# the same value under the canonical name and an alias gives the same file: --window / -w are --block-size
$LMC eval -m demo-model -d demo-data/cc.jsonl --file-num 2 -w 64 --stride 32 -q -o "$TMP/a.json" >/dev/null 2>&1
$LMC eval --model demo-model --data demo-data/cc.jsonl --file-num 2 --block-size 64 --stride 32 --quiet \
    --json "$TMP/b.json" >/dev/null 2>&1
if [ ! -s "$TMP/a.json" ]; then fail alias_same_result "no output with -w / -o"
elif ! grep -q '"block_size":\s*64' "$TMP/a.json"; then fail alias_same_result "block_size is not 64"
elif [ "$(grep nll_bits "$TMP/a.json")" != "$(grep nll_bits "$TMP/b.json")" ]; then fail alias_same_result "NLLs differ"
else pass alias_same_result; fi

# an unknown subcommand is a usage error too; `lmc help SUB` is `lmc SUB --help`
$LMC frobnicate >/dev/null 2>"$TMP/err"; rc=$?
[ $rc -eq 2 ] && grep -q "unknown command 'frobnicate'" "$TMP/err" && pass unknown_command || fail unknown_command "exit $rc: $(cat "$TMP/err")"
[ "$($LMC help eval)" = "$($LMC eval --help)" ] && pass help_sub || fail help_sub "lmc help eval differs from lmc eval --help"
cli_summary
