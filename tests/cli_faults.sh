#!/usr/bin/env bash
# The I/O fault sweep (docs/safety.md), after SQLite's I/O error tests: each command that writes is run with the
# shim build/tests/fault.so preloaded, failing its N-th file-changing call (open for writing, write, fsync,
# fdatasync, ftruncate, rename) with ENOSPC, then EIO, or making its N-th write short, for N = 1, 2, ... until N
# passes its last call (sampled for EIO, kld and convert unless LMC_FULL=1), over eval, merge, compress, decompress,
# convert, report, kld (--json, --checkpoint) and corpus (sample: -o and its manifest). A fault is survived when:
#   - ENOSPC / EIO: the command exits non-zero (not a crash) with one stderr line naming the error, or exits 0
#     with complete outputs; every output is absent or identical to a clean run's (never partial, never stale);
#     no temporary file is left; and rerunning the same command without faults (eval: resuming from its
#     checkpoint, kld from its own) gives outputs identical to the clean run's (eval: the bit-identical NLL);
#   - a short write: the command succeeds with identical outputs.
# Anything else is lost. Prints the table (command, faults injected, survived, lost) and fails on any loss.
cd "$(dirname "$0")/.." && . tests/lib_cli.sh && . tests/lib_sweep.sh
sweep_require faults build/tests/fault.so
sweep_setup
$LMC compress --model $M "$IN/x.txt" -o "$IN/x.lmcz" -q >/dev/null &&
    $LMC eval $EV --json "$IN/r.json" >/dev/null && $LMC eval $EV --shard 1/2 --json "$IN/p1.json" >/dev/null &&
    $LMC eval $EV --shard 2/2 --json "$IN/p2.json" >/dev/null || { fail faults_inputs "could not make the inputs"; cli_summary; exit 1; }

# Each command runs in $W and writes the files its OUTS name there.
declare -A CMD OUTS
CMD[eval]="$LMC eval $EV --json f.json --per-window f.pw --per-doc f.pd --checkpoint f.ck"; OUTS[eval]="f.json f.pw f.pd"
CMD[merge]="$LMC merge $IN/p1.json $IN/p2.json --json f.json"; OUTS[merge]="f.json"
CMD[compress]="$LMC compress --model $M $IN/x.txt -o f.lmcz -q"; OUTS[compress]="f.lmcz"
CMD[decompress]="$LMC decompress --model $M $IN/x.lmcz -o f.txt -q"; OUTS[decompress]="f.txt"
CMD[convert]="$LMC convert $M -o f.safetensors -q"; OUTS[convert]="f.safetensors"
CMD[report]="$LMC report $IN/r.json -o f.html --md f.md --svg f.svg"; OUTS[report]="f.html f.md f.svg"
CMD[kld]="$LMC kld --base $M --model $M --data $IN/d.jsonl --block-size 8 --stride 4 --bootstrap 10 --quiet --json f.json --checkpoint f.ck"
OUTS[kld]="f.json"
CMD[corpus]="$LMC corpus sample --in $IN/d.jsonl --chars 10 --seed 1 -o f.jsonl"; OUTS[corpus]="f.jsonl f.manifest.json"


# one C KIND N: runs C with fault N of KIND; sets hit, calls and why; returns 1 when the fault was lost.
one() {
    local c=$1 kind=$2 n=$3 rc
    rm -rf "$W" && mkdir -p "$W"
    run LD_PRELOAD="$SHIM" LMC_FAULT_N=$n LMC_FAULT_KIND=$kind LMC_FAULT_STATE="$TMP/state"; rc=$?
    read -r calls hit <"$TMP/state" 2>/dev/null || { calls=0 hit=0; }
    [ "$hit" = 1 ] || return 0
    why=
    if [ $kind = short ] || [ $rc -eq 0 ]; then
        [ $rc -eq 0 ] || { why="exit $rc: $(cat "$TMP/err")"; return 1; }
        outputs_ok $c all
        return
    fi
    local want="No space left on device"; [ $kind = eio ] && want="Input/output error"
    [ $rc -lt 128 ] || { why="crashed (exit $rc)"; return 1; }
    # the error is one line; warnings and notes printed before it (an unscored tail, a model name) are not errors
    grep -v '^lmc: \(warning\|note\): ' "$TMP/err" >"$TMP/errline"
    [ "$(grep -c . "$TMP/errline")" -eq 1 ] && grep -q "$want" "$TMP/errline" || { why="stderr: $(cat "$TMP/err")"; return 1; }
    outputs_ok $c absent_ok || return 1
    run || { why="rerun failed: $(cat "$TMP/err")"; return 1; }
    outputs_ok $c all
}

# stride C KIND: every N with LMC_FULL=1 (make check-full); else every ENOSPC and short write of the small runs,
# every 3rd EIO (the same paths with another errno) and kld ENOSPC (two models per run), and every 7th or 11th N
# of convert's 60-odd calls.
stride() {
    if [ -n "$LMC_FULL" ]; then echo 1; return; fi
    case $1/$2 in convert/enospc) echo 7 ;; convert/*) echo 11 ;; */eio | kld/enospc) echo 3 ;; *) echo 1 ;; esac
}

printf '%-11s %-7s %8s %9s %5s\n' command fault injected survived lost >"$TMP/table"
for c in ${LMC_FAULT_COMMANDS:-eval merge compress decompress convert report kld corpus}; do
    rm -rf "$W" && mkdir -p "$W"
    run || { fail "faults_$c" "clean run failed: $(cat "$TMP/err")"; continue; }
    rm -rf "$REF" && mv "$W" "$REF"
    for kind in enospc eio short; do
        injected=0 survived=0 lost=0
        step=$(stride $c $kind)
        for ((n = 1; n <= 1000; n += step)); do
            if one $c $kind $n; then :; else lost=$((lost + 1)); echo "lost: $c $kind N=$n: $why"; fi
            [ "$hit" = 1 ] && injected=$((injected + 1))
            [ "$calls" -ge "$n" ] || break
        done
        survived=$((injected - lost))
        printf '%-11s %-7s %8d %9d %5d\n' $c $kind $injected $survived $lost >>"$TMP/table"
        if [ $lost -eq 0 ] && [ $injected -gt 0 ]; then pass "faults_${c}_$kind"
        else fail "faults_${c}_$kind" "$lost of $injected faults lost"; fi
    done
done
cat "$TMP/table"
cli_summary
