#!/usr/bin/env bash
# cli_serve.sh — `lmc serve` (docs/serve.md) on the demo model, on a free 127.0.0.1 port:
#   level A: lm-evaluation-harness's own local-completions client (../shared/lmeval, tests/serve_lmeval.py) gets
#            the log-likelihoods lmc eval computes, alone and with num_concurrent=2,batch_size=4;
#   bad requests, limits, concurrency, the access log and a clean stop (tests/serve_checks.py, stdlib only).
cd "$(dirname "$0")/.." || exit 1
. tests/lib_cli.sh
PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1

# start_server LOG ARGS...: lmc serve on a free port in the background; sets SERVER (pid) and URL.
start_server() {
    local log=$1; shift
    "$LMC" serve -m demo-model --port 0 -t 1 "$@" 2>"$log" &
    SERVER=$!
    URL=
    for _ in $(seq 100); do # at most 10 s
        URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$log" | head -1)
        [ -n "$URL" ] && return 0
        kill -0 $SERVER 2>/dev/null || break
        sleep 0.1
    done
    return 1
}

# stop_server: SIGTERM, then wait (bounded) for the exit status.
stop_server() {
    kill -TERM $SERVER 2>/dev/null
    for _ in $(seq 100); do kill -0 $SERVER 2>/dev/null || break; sleep 0.1; done
    wait $SERVER
}

if ! start_server "$TMP/serve.log"; then
    fail "serve starts" "no listening line: $(cat "$TMP/serve.log")"; cli_summary; exit
fi
grep -q 'listening on http://127.0.0.1:[0-9]* (this machine only' "$TMP/serve.log" &&
    pass "serve binds 127.0.0.1 by default and says so" || fail "serve start-up line" "$(head -3 "$TMP/serve.log")"

# ---- level A: the real lm-eval client -------------------------------------------------------------
if [ ! -d "$SHARED/lmeval/lm_eval" ]; then
    skip "lm-eval level A" "$SHARED/lmeval is absent (lm-evaluation-harness, pinned; see docs/serve.md)"
elif ! PYTHONPATH="$SHARED/lmeval" $PY -c 'import requests, aiohttp, tenacity, tqdm, jinja2, yaml, numpy' 2>/dev/null; then
    skip "lm-eval level A" "Debian's python3 lacks lm-eval's packages (bash tools/install-deps.sh installs them)"
else
    for run in plain batched; do
        args=; [ $run = batched ] && args="num_concurrent=2,batch_size=4"
        mkdir -p "$TMP/$run"
        if LMEVAL_ARGS=$args PYTHONPATH="$SHARED/lmeval" timeout 120 $PY tests/serve_lmeval.py "$URL" "$LMC" demo-model \
            2048 "$TMP/$run" "$TMP/$run.json" >"$TMP/$run.out" 2>"$TMP/$run.err"; then
            pass "lm-eval local-completions ($run${args:+: $args}): loglikelihood, is_greedy, rolling = lmc eval ($(grep -c '^ok' "$TMP/$run.out") checks)"
        else
            fail "lm-eval local-completions ($run)" "$(grep -v '^ok' "$TMP/$run.out" | head -5; tail -3 "$TMP/$run.err")"
        fi
    done
    cmp -s "$TMP/plain.json" "$TMP/batched.json" && pass "num_concurrent=2,batch_size=4 gives the same numbers" ||
        fail "batched = plain" "$(cat "$TMP/plain.json" "$TMP/batched.json")"
fi

stop_server; rc=$?
[ $rc -eq 0 ] && grep -q 'SIGTERM: stopped' "$TMP/serve.log" && pass "SIGTERM stops the server (exit 0)" ||
    fail "SIGTERM stop" "exit $rc: $(tail -2 "$TMP/serve.log")"
cli_summary
