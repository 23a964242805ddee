#!/usr/bin/env bash
# CLI tests for the names of per-data-file outputs (--checkpoint, --per-window, --per-doc of eval; --checkpoint,
# --save-base, --base-file of kld): one rule whatever the number of --data files. A path is used as given; each
# "{}" in it becomes the data file's name (cc for demo-data/cc.jsonl). Several --data files need a "{}" (else
# they would share one file); a one-file run and a two-file run with the same path template name cc's files
# alike, so either resumes the other. Old PATH.0, PATH.1 files get a hint how to resume them.
cd "$(dirname "$0")/.." && . tests/lib_cli.sh
E="--model demo-model --file-num 1 --block-size 64 --stride 32 --threads 1 --bootstrap 0 --quiet"
CC=demo-data/cc.jsonl PY=demo-data/python.jsonl
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['results'][int(sys.argv[2])][sys.argv[3]])" "$@"; }
cd_tmp() { (cd "$TMP" && "$@"); }
LMC=$(realpath "$LMC") && ln -s "$PWD/demo-model" "$PWD/demo-data" "$TMP/"

# --- one data file, a path without {}: the path itself (as always) ---
if cd_tmp $LMC eval $E --data $CC --checkpoint ck --per-window pw --json one.json >/dev/null 2>"$TMP/err"; then
    [ -s "$TMP/ck" ] && [ -s "$TMP/pw" ] && [ "$(field "$TMP/one.json" 0 checkpoint)" = ck ] && pass one_file_plain_path ||
        fail one_file_plain_path "$(ls "$TMP")"
else
    fail one_file_plain_path "$(cat "$TMP/err")"
fi

# --- {} is the data file's name, with one data file or two: the same names, so runs resume each other ---
if cd_tmp $LMC eval $E --data $CC --checkpoint 'c.{}' --per-window 'w.{}.jsonl' --json t1.json >/dev/null 2>"$TMP/err"; then
    [ -s "$TMP/c.cc" ] && [ -s "$TMP/w.cc.jsonl" ] && [ "$(field "$TMP/t1.json" 0 checkpoint)" = c.cc ] &&
        pass template_one_file || fail template_one_file "$(ls "$TMP")"
else
    fail template_one_file "$(cat "$TMP/err")"
fi
if cd_tmp $LMC eval $E --data $CC --data $PY --checkpoint 'c.{}' --per-window 'w.{}.jsonl' --per-doc 'd.{}' \
        --json t2.json >/dev/null 2>"$TMP/err"; then
    # cc's windows come from the one-file run's checkpoint; python's are new
    if [ -s "$TMP/c.python" ] && [ -s "$TMP/w.python.jsonl" ] && [ -s "$TMP/d.cc" ] && [ -s "$TMP/d.python" ] &&
       [ "$(field "$TMP/t2.json" 0 resumed_windows)" = "$(field "$TMP/t2.json" 0 windows)" ] &&
       [ "$(field "$TMP/t2.json" 1 resumed_windows)" = 0 ] && [ "$(field "$TMP/t2.json" 1 checkpoint)" = c.python ] &&
       [ "$(field "$TMP/t2.json" 0 nll_bits)" = "$(field "$TMP/t1.json" 0 nll_bits)" ]; then
        pass template_two_files_resume_one
    else
        fail template_two_files_resume_one "$(ls "$TMP"); resumed $(field "$TMP/t2.json" 0 resumed_windows)"
    fi
else
    fail template_two_files_resume_one "$(cat "$TMP/err")"
fi
# and back: the one-file run finds everything in c.cc
if cd_tmp $LMC eval $E --data $CC --checkpoint 'c.{}' --json t3.json >/dev/null 2>"$TMP/err" &&
   [ "$(field "$TMP/t3.json" 0 resumed_windows)" = "$(field "$TMP/t3.json" 0 windows)" ]; then
    pass template_one_file_resumes_two
else
    fail template_one_file_resumes_two "$(cat "$TMP/err")"
fi

# --- several data files and no {}: a usage error (exit 2) before any work, nothing written ---
usage2() { # NAME NEEDLE CMD...: exit status 2 and one stderr line with NEEDLE
    local name=$1; shift
    expect_fail "$@"
    cd_tmp "${@:3}" >/dev/null 2>&1; local rc=$?
    [ $rc = 2 ] && pass "${name}_exit_2" || fail "${name}_exit_2" "exit $rc"
}
usage2 two_files_no_template eval_two_files_no_template "needs {}" \
    $LMC eval $E --data $CC --data $PY --checkpoint "$TMP/x" --json "$TMP/x.json"
usage2 per_window_no_template eval_per_window_no_template "--per-window $TMP/x" \
    $LMC eval $E --data $CC --data $PY --per-window "$TMP/x"
[ -e "$TMP/x" ] || [ -e "$TMP/x.0" ] || [ -e "$TMP/x.json" ] && fail no_template_nothing_written "$(ls "$TMP")" ||
    pass no_template_nothing_written
# two data files of one name would share a file
mkdir -p "$TMP/a" "$TMP/b" && cp $CC "$TMP/a/" && cp $CC "$TMP/b/"
usage2 same_name eval_same_data_name "both name" \
    $LMC eval $E --data "$TMP/a/cc.jsonl" --data "$TMP/b/cc.jsonl" --checkpoint "$TMP/s.{}"

# --- files named by an older lmc (PATH.0, PATH.1): the refusal says how to resume them ---
: >"$TMP/old.0"
: >"$TMP/old.1"
expect_fail old_style_names_hint "mv $TMP/old.0 $TMP/old.cc" \
    $LMC eval $E --data $CC --data $PY --checkpoint "$TMP/old" --json "$TMP/x.json"

# --- kld: the same rule ---
K="--base demo-model --model demo-model --file-num 1 --block-size 64 --stride 32 --bootstrap 0 -q"
if cd_tmp $LMC kld $K --data $CC --data $PY --checkpoint 'k.{}' >/dev/null 2>"$TMP/err"; then
    [ -s "$TMP/k.cc" ] && [ -s "$TMP/k.python" ] && pass kld_template || fail kld_template "$(ls "$TMP")"
else
    fail kld_template "$(cat "$TMP/err")"
fi
usage2 kld_no_template kld_two_files_no_template "needs {}" $LMC kld $K --data $CC --data $PY --checkpoint "$TMP/y"
cli_summary
