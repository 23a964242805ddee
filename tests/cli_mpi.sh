#!/usr/bin/env bash
# CLI tests for `mpirun -np R ./lmc eval` (an MPI build): R = 1, 2, 3 bit-identical to one process; a rank killed
# mid-run fails the job with a message, and a rerun with another R (and one without MPI) resumes from the
# ranks' checkpoint files without recomputing what they hold; a shard run under MPI merges with the single run's
# per-document statistics. Skipped without mpirun or an MPI build of lmc.
cd "$(dirname "$0")/.." && . tests/lib_cli.sh
if ! command -v mpirun >/dev/null || ! $LMC --version 2>/dev/null | grep -q MPI; then
    skip mpi "lmc built without MPI or no mpirun (install openmpi-bin libopenmpi-dev, rebuild: make MPI=1)"
    cli_summary; exit
fi
# CI runs as root; Open MPI's leak reports at exit are not lmc's (make asan)
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
MPIRUN="mpirun --oversubscribe -np"
A="--model demo-model --data demo-data/cc.jsonl --file-num 3 --block-size 128 --stride 64 --quiet"
bits() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['results'][0]['nll_bits'])" "$1"; }
field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['results'][0][sys.argv[2]])" "$1" "$2"; }

if ! $LMC eval $A --threads 1 --json "$TMP/one.json" --per-window "$TMP/one.pw" >/dev/null 2>"$TMP/err"; then
    fail mpi_reference_run "$(cat "$TMP/err")"; cli_summary; exit
fi
ref=$(bits "$TMP/one.json")
for R in 1 2 3; do
    # R = 3 on 2 cores: the default thread count (the rank's share of the CPUs) differs from the reference's 1
    t="--threads 1"; [ $R = 3 ] && t=""
    if $MPIRUN $R $LMC eval $A $t --json "$TMP/r$R.json" --per-window "$TMP/r$R.pw" >"$TMP/out" 2>"$TMP/err"; then
        got=$(bits "$TMP/r$R.json")
        # the per-document NLLs (and so the intervals) too: rank 0 sums every window's parts in window order
        same_docs=$(python3 -c "import json,sys; a, b = (json.load(open(p))['results'][0] for p in sys.argv[1:]);
print(int(a.get('doc_stats') == b.get('doc_stats') and a.get('bpc_ci95') == b.get('bpc_ci95')))" "$TMP/one.json" "$TMP/r$R.json")
        if [ "$got" = "$ref" ] && cmp -s "$TMP/one.pw" "$TMP/r$R.pw" && [ "$(grep -c tok-PPL "$TMP/out")" = 1 ] &&
           [ "$same_docs" = 1 ]; then
            pass mpi_np${R}_bit_identical
        else
            fail mpi_np${R}_bit_identical "nll bits $got vs $ref, per-window log or doc_stats differ ($same_docs), or not one table: $(cat "$TMP/out")"
        fi
    else
        fail mpi_np${R}_bit_identical "rc $?: $(tail -5 "$TMP/err")"
    fi
done

# --- kill one rank mid-run: the job fails with a message; a rerun with R = 3 resumes ---
CK="$TMP/ck"
$MPIRUN 2 $LMC eval $A --threads 1 --checkpoint "$CK" --json "$TMP/k1.json" >/dev/null 2>"$TMP/kerr" &
job=$!
victim=""
for _ in $(seq 1200); do # up to 60 s: rank 1 (a child of mpirun) holds $CK.r1 open; kill it after 3 windows
    if [ -f "$CK.r1" ] && [ "$(grep -c '^w ' "$CK.r1")" -ge 3 ]; then
        for p in $(pgrep -P $job); do
            for fd in /proc/$p/fd/*; do [ "$(readlink "$fd")" = "$CK.r1" ] && victim=$p; done 2>/dev/null
        done
        break
    fi
    sleep 0.05
done
[ -n "$victim" ] && kill -9 "$victim"
wait $job; rc=$?
done_before=$(cat "$CK" "$CK.r1" 2>/dev/null | grep -c '^w ')
if [ -z "$victim" ]; then
    fail mpi_rank_killed_job_fails "rank 1 never recorded 5 windows or was not found (job rc $rc): $(tail -3 "$TMP/kerr")"
elif [ $rc -ne 0 ] && [ -s "$TMP/kerr" ] && [ ! -e "$TMP/k1.json" ]; then
    pass mpi_rank_killed_job_fails
    echo "  job stderr: $(grep -m1 -i 'signal\|killed\|rank' "$TMP/kerr")"
else
    fail mpi_rank_killed_job_fails "job rc $rc, stderr '$(tail -3 "$TMP/kerr")', result file present: $(ls "$TMP")"
fi
if [ -n "$victim" ] && $MPIRUN 3 $LMC eval $A --threads 1 --checkpoint "$CK" --json "$TMP/k3.json" >/dev/null 2>"$TMP/err"; then
    got=$(bits "$TMP/k3.json"); resumed=$(field "$TMP/k3.json" resumed_windows)
    # every record the killed job left counts (a torn last line of each file is dropped: at most 2)
    if [ "$got" = "$ref" ] && [ "$resumed" -ge $((done_before - 2)) ] && [ "$resumed" -gt 0 ]; then
        pass mpi_resume_other_np_bit_identical
    else
        fail mpi_resume_other_np_bit_identical "bits $got vs $ref; resumed $resumed of $done_before recorded"
    fi
    # without MPI, the run takes over every rank's file: nothing left to compute
    if $LMC eval $A --threads 1 --checkpoint "$CK" --json "$TMP/k0.json" >/dev/null 2>"$TMP/err" &&
       [ "$(bits "$TMP/k0.json")" = "$ref" ] &&
       [ "$(field "$TMP/k0.json" resumed_windows)" = "$(field "$TMP/k0.json" windows)" ]; then
        pass resume_mpi_checkpoint_without_mpi
    else
        fail resume_mpi_checkpoint_without_mpi "$(cat "$TMP/err") resumed $(field "$TMP/k0.json" resumed_windows 2>&1)"
    fi
else
    fail mpi_resume_other_np_bit_identical "rerun failed: $(tail -3 "$TMP/err")"
fi
# a shard computed by an MPI job carries its windows' split by document like a one-process shard: the merge has
# the single run's per-document statistics
if $MPIRUN 2 $LMC eval $A --threads 1 --shard 1/2 --json "$TMP/s1.json" >/dev/null 2>"$TMP/err" &&
   $LMC eval $A --threads 1 --shard 2/2 --json "$TMP/s2.json" >/dev/null 2>>"$TMP/err" &&
   $LMC merge "$TMP/s1.json" "$TMP/s2.json" --json "$TMP/sm.json" >/dev/null 2>>"$TMP/err"; then
    python3 - "$TMP/sm.json" "$TMP/one.json" <<'PY' && pass mpi_shard_merged_doc_stats || fail mpi_shard_merged_doc_stats "differs from the single run"
import json, sys
m, o = (json.load(open(p))["results"][0] for p in sys.argv[1:])
for k in ("nll_bits", "doc_stats", "bpc_se", "bpc_ci95"):
    assert k in m and m[k] == o[k], k
PY
else
    fail mpi_shard_merged_doc_stats "$(tail -3 "$TMP/err")"
fi
cli_summary
