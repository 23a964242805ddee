#!/usr/bin/env bash
# CLI tests for signals (docs/safety.md): SIGINT / SIGTERM during `lmc eval --checkpoint` end the run at a window
# boundary with "interrupted after window k of n; rerun the same command to resume" and exit 130 / 143, writing
# no results file; a second SIGINT exits at once (130). After each, rerunning the same command resumes and gives
# the bit-identical NLL of a run never interrupted. SIGINT during `lmc compress` exits 130 with no output, no
# temporary or lock file, and the input untouched. Under mpirun (an MPI build; skipped otherwise), SIGTERM to one
# rank stops that rank at a window boundary and ends the job with 143 and no results file; the ranks' checkpoint
# files stay valid, and a rerun without MPI resumes from them to the bit-identical NLL.
cd "$(dirname "$0")/.." && . tests/lib_cli.sh
if [ ! -x "$LMC" ] || [ ! -f demo-model/config.json ] || [ ! -f demo-data/cc.jsonl ]; then
    skip signals "needs ./lmc, demo-model/ and demo-data/"
    cli_summary
    exit $?
fi
E="--model demo-model --data demo-data/cc.jsonl --file-num 1 --block-size 64 --stride 32 --bootstrap 0"
nll() { grep -o '"nll_bits":[[:space:]]*"[0-9a-f]*"' "$1"; }
$LMC eval $E --quiet --json "$TMP/ref.json" >/dev/null 2>"$TMP/err" || fail reference_run "$(cat "$TMP/err")"

# interrupt NAME EXPECTED_STATUS SIGNAL...: starts eval, sends the signals once 5 windows are done, checks the
# status, the message and that no results file was written, then reruns and compares with the reference.
interrupt() {
    local name=$1 want=$2; shift 2
    rm -f "$TMP/ck" "$TMP/$name.json"
    LMC_PROGRESS_INTERVAL=0 $LMC eval $E --checkpoint "$TMP/ck" --json "$TMP/$name.json" >/dev/null 2>"$TMP/$name.err" &
    local pid=$! rc
    for _ in $(seq 300); do grep -q 'window 5/' "$TMP/$name.err" && break; sleep 0.1; done
    for s in "$@"; do kill -"$s" $pid; done
    wait $pid; rc=$?
    if [ $rc -ne "$want" ]; then fail "$name" "exit $rc, expected $want: $(tail -1 "$TMP/$name.err")"; return; fi
    if [ "$want" -ne 130 ] || [ $# -eq 1 ]; then
        if grep -q 'interrupted after window [0-9]* of [0-9]*; rerun the same command to resume' "$TMP/$name.err"; then
            pass "${name}_message"
        else fail "${name}_message" "$(tail -1 "$TMP/$name.err")"; fi
    fi
    if [ -e "$TMP/$name.json" ]; then fail "${name}_no_results" "a results file was written"; else pass "${name}_no_results"; fi
    pass "$name"
    if $LMC eval $E --quiet --checkpoint "$TMP/ck" --json "$TMP/$name.json" >/dev/null 2>"$TMP/err" &&
        [ -n "$(nll "$TMP/ref.json")" ] && [ "$(nll "$TMP/$name.json")" = "$(nll "$TMP/ref.json")" ]; then
        pass "${name}_resumes_bit_identical"
    else fail "${name}_resumes_bit_identical" "$(cat "$TMP/err") $(nll "$TMP/$name.json")"; fi
}
interrupt eval_sigint 130 INT
interrupt eval_sigterm 143 TERM
interrupt eval_second_sigint 130 INT INT

# compress: interrupted, nothing written
head -c 60000 demo-data/cc.jsonl >"$TMP/big.txt"
before=$(sha256sum <"$TMP/big.txt")
$LMC compress --model demo-model "$TMP/big.txt" -o "$TMP/big.lmcz" --quiet >/dev/null 2>"$TMP/c.err" &
pid=$!
sleep 1.5
kill -INT $pid
wait $pid
rc=$?
if [ $rc -eq 130 ] && grep -q 'interrupted after [0-9]* of 60000 bytes: nothing written' "$TMP/c.err"; then pass compress_sigint
else fail compress_sigint "exit $rc: $(cat "$TMP/c.err")"; fi
left=$(find "$TMP" -name 'big.lmcz*')
if [ -z "$left" ]; then pass compress_sigint_nothing_left; else fail compress_sigint_nothing_left "$left"; fi
if [ "$(sha256sum <"$TMP/big.txt")" = "$before" ]; then pass compress_sigint_input_intact; else fail compress_sigint_input_intact "changed"; fi
# mpirun: SIGTERM to rank 1 of 2 once its checkpoint holds 3 windows
if ! command -v mpirun >/dev/null || ! $LMC --version 2>/dev/null | grep -q MPI; then
    skip mpi_rank_sigterm "lmc built without MPI or no mpirun (install openmpi-bin libopenmpi-dev, rebuild: make MPI=1)"
else
    [ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    CK=$TMP/mck
    mpirun --oversubscribe -np 2 $LMC eval $E --threads 1 --checkpoint "$CK" --json "$TMP/m.json" >/dev/null 2>"$TMP/m.err" &
    job=$! victim=
    for _ in $(seq 1200); do # up to 60 s; rank 1 is the child of mpirun whose environment says so
        if [ -f "$CK.r1" ] && [ "$(grep -c '^w ' "$CK.r1")" -ge 3 ]; then
            for p in $(pgrep -P $job); do
                tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx OMPI_COMM_WORLD_RANK=1 && victim=$p
            done
            break
        fi
        sleep 0.05
    done
    [ -n "$victim" ] && kill -TERM "$victim"
    wait $job; rc=$?
    if [ -z "$victim" ]; then fail mpi_rank_sigterm "rank 1 not found (job rc $rc): $(tail -2 "$TMP/m.err")"
    elif [ $rc -eq 143 ] && grep -q 'rank 1 of 2: .*interrupted after window [0-9]* of [0-9]*; rerun the same command to resume' "$TMP/m.err" &&
        [ ! -e "$TMP/m.json" ]; then pass mpi_rank_sigterm
    else fail mpi_rank_sigterm "job rc $rc, results file $(ls "$TMP/m.json" 2>&1): $(grep -v 'window [0-9]*/' "$TMP/m.err" | head -3)"; fi
    if [ -n "$victim" ] && $LMC eval $E --quiet --threads 1 --checkpoint "$CK" --json "$TMP/m.json" >/dev/null 2>"$TMP/err" &&
        [ "$(nll "$TMP/m.json")" = "$(nll "$TMP/ref.json")" ] && ! grep -q '"resumed_windows":[[:space:]]*0,' "$TMP/m.json"; then
        pass mpi_rank_sigterm_resumes_bit_identical
    else fail mpi_rank_sigterm_resumes_bit_identical "$(cat "$TMP/err") $(nll "$TMP/m.json")"; fi
fi
cli_summary
