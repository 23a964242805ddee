# lib_sweep.sh — what the fault sweeps (tests/cli_faults.sh, tests/cli_oom.sh) share: their inputs, and comparing
# a command's outputs with a clean run's. Source it after lib_cli.sh and call sweep_setup; the caller then sets
# the arrays CMD (command line by name) and OUTS (its output files), and c (the command being swept).

# sweep_require NAME SHIM: the sweep is skipped (and the script ends) unless ./lmc, demo-model/ and the shim
# (a path under the repository, e.g. build/tests/fault.so) are there; SHIM is set to its absolute path.
sweep_require() {
    SHIM=$PWD/$2
    if [ ! -x "$LMC" ] || [ ! -f demo-model/config.json ] || [ ! -f "$SHIM" ]; then
        skip "$1" "needs ./lmc, demo-model/ and $2 (make $2)"
        cli_summary
        exit $?
    fi
}

# sweep_setup: LMC made absolute, the inputs in $IN (x.txt, a two-document d.jsonl), W and REF, the demo model
# in M and the eval options of a small run in EV.
sweep_setup() {
    LMC=$(realpath "$LMC")
    IN=$TMP/in W=$TMP/w REF=$TMP/ref
    mkdir -p "$IN"
    M=$PWD/demo-model
    printf 'The cat sat on the mat. The dog sat on the log.\n' >"$IN/x.txt"
    printf '{"content": "One small document about cats."}\n{"content": "Another one, about dogs and logs."}\n' >"$IN/d.jsonl"
    EV="--model $M --data $IN/d.jsonl --block-size 8 --stride 4 --bootstrap 10 --quiet"
}

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
