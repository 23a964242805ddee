#!/usr/bin/env bash
# Replays every fuzz target's committed inputs (tests/fuzz/<target>/: the seeds and the crashing inputs kept from
# fuzzing runs, named crash-*) through the target built with the ordinary compiler and a plain main
# (build/tests/replay_<target>, tests/fuzz/replay.c), so that a fixed crash stays fixed without clang or
# libFuzzer. A target's invariants abort (FZ_ASSERT); any non-zero exit fails. make fuzz runs them under ASan +
# UBSan.
cd "$(dirname "$0")/.." && . tests/lib_cli.sh
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
for src in tests/fuzz/fuzz_*.c; do
    t=${src#tests/fuzz/fuzz_}; t=${t%.c}
    bin=build/tests/replay_$t
    if [ ! -x "$bin" ]; then skip "fuzz_replay_$t" "needs $bin (make $bin)"; continue; fi
    inputs=(tests/fuzz/$t/*)
    if [ ! -e "${inputs[0]}" ]; then fail "fuzz_replay_$t" "no inputs in tests/fuzz/$t/"; continue; fi
    if "$bin" "${inputs[@]}" >"$TMP/out" 2>&1; then pass "fuzz_replay_$t"
    else fail "fuzz_replay_$t" "exit $?: $(tail -3 "$TMP/out")"; fi
done
cli_summary
