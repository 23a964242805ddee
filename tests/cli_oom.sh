#!/usr/bin/env bash
# The allocation-failure sweep (docs/testing.md "Allocation failures"), after SQLite's malloc tests: eval, compress
# and merge run with the shim build/tests/oom.so preloaded, which fails the N-th allocation made by lmc's own code
# (malloc, calloc, realloc, posix_memalign, aligned_alloc; the shared libraries' own allocations are never failed,
# tests/fault/oom.c says why), for N = 1, 2, ... until N passes the last one: every allocation of the demo model's
# small runs, and separately every large one (at least 64 KiB; merge: 1 KiB). make test fails 12 of each, evenly spread over the
# count a run without failures makes (LMC_OOM_SAMPLES=K: K); LMC_FULL=1 fails every one. A failure is survived
# when the command either
#   - exits 1 with one stderr line saying "out of memory" and what for (more than the bare words), every output
#     absent or identical to a clean run's, no temporary file left, and (eval) a rerun without the failure that
#     resumes from the checkpoint and gives the clean run's NLL bit for bit; or
#   - exits 0 with outputs identical to a clean run's (the allocation had a fallback).
# A crash (abort, segfault), a wrong or partial output, or a message that does not say what is lost.
cd "$(dirname "$0")/.." && . tests/lib_cli.sh && . tests/lib_sweep.sh
sweep_require oom build/tests/oom.so
export OMP_WAIT_POLICY=passive # as ./lmc sets for itself; set here so that it does not re-exec under the shim
sweep_setup
$LMC eval $EV --shard 1/2 --json "$IN/p1.json" >/dev/null 2>&1 && $LMC eval $EV --shard 2/2 --json "$IN/p2.json" >/dev/null 2>&1 ||
    { fail oom_inputs "could not make the inputs"; cli_summary; exit 1; }

declare -A CMD OUTS BIG # BIG: the size from which an allocation is "large" (the second sweep fails only those)
CMD[eval]="$LMC eval $EV --json f.json --per-window f.pw --per-doc f.pd --checkpoint f.ck"; OUTS[eval]="f.json f.pw f.pd" BIG[eval]=65536
CMD[compress]="$LMC compress --model $M $IN/x.txt -o f.lmcz -q"; OUTS[compress]="f.lmcz" BIG[compress]=65536
CMD[merge]="$LMC merge $IN/p1.json $IN/p2.json --json f.json"; OUTS[merge]="f.json" BIG[merge]=1024


# one C MIN N: runs C failing its N-th allocation of at least MIN bytes; sets hit, calls and why; returns 1 when
# the failure was lost.
one() {
    local c=$1 min=$2 n=$3 rc
    rm -rf "$W" "$TMP/state" && mkdir -p "$W"
    run LD_PRELOAD="$SHIM" LMC_OOM_N=$n LMC_OOM_MIN=$min LMC_OOM_STATE="$TMP/state"; rc=$?
    read -r calls hit <"$TMP/state" 2>/dev/null || { calls=0 hit=0; }
    [ "$hit" = 1 ] || return 0
    why=
    if [ $rc -eq 0 ]; then outputs_ok $c all; return; fi
    [ $rc -eq 1 ] || { why="exit $rc: $(tail -c 300 "$TMP/err")"; return 1; }
    grep -v '^lmc: \(warning\|note\): ' "$TMP/err" >"$TMP/errline"
    [ "$(grep -c . "$TMP/errline")" -eq 1 ] && grep -q 'out of memory[^ ]* [^ ]' "$TMP/errline" ||
        { why="stderr: $(cat "$TMP/err")"; return 1; }
    outputs_ok $c absent_ok || return 1
    [ $c = eval ] || return 0
    run || { why="rerun failed: $(cat "$TMP/err")"; return 1; }
    outputs_ok $c all
}

# stride TOTAL: every N with LMC_FULL=1; else about SAMPLES of the TOTAL allocations, evenly spread
SAMPLES=${LMC_OOM_SAMPLES:-12}
stride() {
    if [ -n "$LMC_FULL" ] || [ "$1" -le $SAMPLES ]; then echo 1; else echo $((($1 + SAMPLES - 1) / SAMPLES)); fi
}

printf '%-9s %-10s %6s %8s %9s %5s\n' command allocation allocs injected survived lost >"$TMP/table"
for c in ${LMC_OOM_COMMANDS:-eval compress merge}; do
    rm -rf "$W" && mkdir -p "$W"
    run || { fail "oom_$c" "clean run failed: $(cat "$TMP/err")"; continue; }
    rm -rf "$REF" && mv "$W" "$REF"
    for min in 0 ${BIG[$c]}; do
        injected=0 lost=0
        rm -rf "$W" && mkdir -p "$W"
        run LD_PRELOAD="$SHIM" LMC_OOM_MIN=$min LMC_OOM_STATE="$TMP/state"
        read -r total _ <"$TMP/state"
        step=$(stride "$total")
        for ((n = 1; n <= 100000; n += step)); do
            if ! one $c $min $n; then lost=$((lost + 1)); echo "lost: $c N=$n (>= $min bytes): $why"; fi
            [ "$hit" = 1 ] && injected=$((injected + 1))
            [ "$calls" -ge "$n" ] || break
        done
        label=any; [ $min -gt 0 ] && label=">=$min"
        printf '%-9s %-10s %6d %8d %9d %5d\n' $c "$label" "$total" $injected $((injected - lost)) $lost >>"$TMP/table"
        if [ $lost -eq 0 ] && [ $injected -gt 0 ]; then pass "oom_${c}_$min"
        else fail "oom_${c}_$min" "$lost of $injected allocation failures lost"; fi
    done
done
cat "$TMP/table"
cli_summary
