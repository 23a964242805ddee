# lib_sweep.sh — what the fault sweeps (tests/cli_faults.sh, tests/cli_oom.sh) share: comparing a command's
# outputs with a clean run's. Source it after lib_cli.sh; the caller sets W (the run's directory), REF (the clean
# run's), the arrays CMD (command line by name) and OUTS (its output files), and c (the command being swept).

# same OUT: the output in $W is the clean run's (a results file: the same NLL; kld's statistics: all but the
# seconds and the count of windows resumed from the checkpoint; the times differ)
same() {
    if grep -q '"nll_bits"' "$REF/$1"; then
        [ "$(grep -o '"nll_bits":[[:space:]]*"[0-9a-f]*"' "$W/$1")" = "$(grep -o '"nll_bits":[[:space:]]*"[0-9a-f]*"' "$REF/$1")" ]
    elif [ "$1" != "${1%.json}" ]; then
        [ "$(grep -v '"seconds":\|"resumed_windows":' "$W/$1")" = "$(grep -v '"seconds":\|"resumed_windows":' "$REF/$1")" ]
    else
        cmp -s "$W/$1" "$REF/$1"
    fi
}
# outputs_ok C MODE: every output is identical to the clean run's (MODE all) or absent (MODE absent_ok)
outputs_ok() {
    for o in ${OUTS[$1]}; do
        if [ -e "$W/$o" ]; then same "$o" || { why="$o differs from a clean run's"; return 1; }
        elif [ "$2" = all ]; then why="$o is missing"; return 1; fi
    done
    if [ -n "$(find "$W" -name '*.tmp.*')" ]; then why="left $(find "$W" -name '*.tmp.*' | head -1)"; return 1; fi
}
# run ENV...: runs command $c in $W with the environment ENV added; its stderr in $TMP/err
run() { (cd "$W" && env "$@" ${CMD[$c]} >/dev/null 2>"$TMP/err"); }
