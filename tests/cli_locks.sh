#!/usr/bin/env bash
# CLI tests for concurrent runs (docs/safety.md): while one `lmc eval` runs (held stopped with SIGSTOP, so that
# the test does not depend on timing), a second process given the same --checkpoint, or the same --json, is
# refused with one line naming the first process's pid and its lock, and writes nothing; the first then finishes
# with the result a lone run gives. A lock file left by a killed process does not block the next run, and a
# finished run leaves none behind.
cd "$(dirname "$0")/.." && . tests/lib_cli.sh
if [ ! -x "$LMC" ] || [ ! -f demo-model/config.json ] || [ ! -f demo-data/cc.jsonl ]; then
    skip locks "needs ./lmc, demo-model/ and demo-data/"
    cli_summary
    exit $?
fi
E="--model demo-model --data demo-data/cc.jsonl --file-num 1 --block-size 64 --stride 32 --bootstrap 0 --quiet"

# wait_for FILE: until FILE exists and is not empty (at most 20 s)
wait_for() {
    for _ in $(seq 200); do [ -s "$1" ] && return 0; sleep 0.1; done
    return 1
}

# the reference: a lone run
$LMC eval $E --json "$TMP/ref.json" >"$TMP/ref.out" 2>"$TMP/ref.err" || fail lone_run "$(cat "$TMP/ref.err")"

# first process: stopped once its checkpoint has its header (the checkpoint's flock is held from then on)
$LMC eval $E --json "$TMP/a.json" --checkpoint "$TMP/ck" >"$TMP/a.out" 2>"$TMP/a.err" &
A=$!
if wait_for "$TMP/ck"; then
    kill -STOP $A
    expect_fail second_same_checkpoint "pid $A holds its flock" $LMC eval $E --json "$TMP/b.json" --checkpoint "$TMP/ck"
    expect_fail second_same_json "pid $A holds the lock $TMP/a.json.lock" $LMC eval $E --json "$TMP/a.json"
    expect_fail merge_onto_json_being_written "being written by another lmc process (pid $A" \
        $LMC merge "$TMP/ref.json" --json "$TMP/a.json"
    if [ -e "$TMP/b.json" ]; then fail refused_writes_nothing "b.json was written"; else pass refused_writes_nothing; fi
    kill -CONT $A
else
    fail first_starts "no checkpoint after 20 s: $(cat "$TMP/a.err")"
fi
if wait $A; then pass first_finishes; else fail first_finishes "exit $?: $(cat "$TMP/a.err")"; fi
# the table without its seconds column
table() { awk '{ $NF = ""; print }' "$1"; }
if [ "$(table "$TMP/a.out")" = "$(table "$TMP/ref.out")" ]; then pass first_result_as_lone_run; else
    fail first_result_as_lone_run "$(diff <(table "$TMP/a.out") <(table "$TMP/ref.out") | head -4)"; fi
if [ -e "$TMP/a.json.lock" ]; then fail no_lock_left "a.json.lock is still there"; else pass no_lock_left; fi

# a stale lock file (its process was killed with -9) does not block; the run removes it
: >"$TMP/s.json.lock"
if $LMC eval $E --json "$TMP/s.json" >/dev/null 2>"$TMP/s.err" && [ -s "$TMP/s.json" ] && [ ! -e "$TMP/s.json.lock" ]; then
    pass stale_lock_ignored
else
    fail stale_lock_ignored "$(cat "$TMP/s.err")"
fi
cli_summary
