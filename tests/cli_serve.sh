#!/usr/bin/env bash
# cli_serve.sh — `lmc serve` (docs/serve.md) on the demo model, on a free 127.0.0.1 port:
#   level A: lm-evaluation-harness's own local-completions client (../shared/lmeval, tests/serve_lmeval.py) gets
#            the log-likelihoods lmc eval computes, alone and with num_concurrent=2,batch_size=4;
#   level C: its command line (`python3 -m lm_eval run`) on lmc_smoke (bits_per_byte) and tests/data/lmc_mc (acc),
#            equal to lmc eval's numbers (tests/serve_levelc.py);
#   bad requests, limits, concurrency, the access log and a clean stop (tests/serve_checks.py, stdlib only).
cd "$(dirname "$0")/.." || exit 1
. tests/lib_cli.sh
PY=/usr/bin/python3
export PYTHONDONTWRITEBYTECODE=1
SERVER=
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT # never leave a server behind

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

# ---- level C: lm-eval's command line on local tasks --------------------------------------------------
if [ ! -d "$SHARED/lmeval/tasks/lmc_smoke" ]; then
    skip "lm-eval level C" "$SHARED/lmeval/tasks/lmc_smoke is absent"
elif ! $PY -c 'import dill, packaging, pandas' 2>/dev/null; then
    skip "lm-eval level C" "Debian's python3 lacks dill / packaging / pandas (bash tools/install-deps.sh installs them)"
else
    mkdir -p "$TMP/levelc"
    if timeout 300 $PY tests/serve_levelc.py "$URL" "$LMC" demo-model 2048 "$TMP/levelc" "$SHARED" >"$TMP/levelc.out" 2>&1; then
        pass "lm_eval run --tasks lmc_smoke,lmc_mc: bits_per_byte = lmc eval's BPB, acc = lmc eval's choices"
    else
        fail "lm-eval level C" "$(grep -v '^ok' "$TMP/levelc.out" | tail -6)"
    fi
fi

# ---- bad requests, generation, load (standard library only) ---------------------------------------
# checks NAME MODE [ARGS...]: one PASS when every check of serve_checks.py MODE holds, else the failing ones
checks() {
    local name=$1; shift
    if timeout 120 $PY tests/serve_checks.py "$@" >"$TMP/checks.out" 2>&1; then
        pass "$name ($(grep -c '^ok' "$TMP/checks.out") checks)"
    else
        fail "$name" "$(grep -v '^ok' "$TMP/checks.out" | head -5)"
    fi
}
checks "bad requests → 400 with an OpenAI-style error, the server still answering" bad "$URL"
checks "max_tokens > 0: greedy, seeded sampling, stop strings, batches" gen "$URL"
checks "100 requests from 4 concurrent clients, RSS stable" load "$URL" $SERVER
grep -q '^lmc serve: 127.0.0.1 "GET /nope" 404 ' "$TMP/serve.log" &&
    [ "$(grep -c '"POST /v1/completions" 200 ' "$TMP/serve.log")" -ge 100 ] &&
    pass "access log: one line per request" || fail "access log" "$(tail -3 "$TMP/serve.log")"

expect_fail "serve: port in use" "cannot listen on 127.0.0.1:${URL##*:}" timeout 20 "$LMC" serve -m demo-model \
    --port "${URL##*:}" -q -t 1

# a request in flight when SIGTERM comes is answered before the server exits
$PY tests/serve_checks.py slow "$URL" >"$TMP/slow.out" 2>&1 &
client=$!
for _ in $(seq 50); do grep -q '"POST /v1/completions"' "$TMP/serve.log" && break; sleep 0.02; done
sleep 0.3
stop_server; rc=$?
wait $client; crc=$?
[ $rc -eq 0 ] && grep -q 'SIGTERM: stopped' "$TMP/serve.log" && pass "SIGTERM stops the server (exit 0)" ||
    fail "SIGTERM stop" "exit $rc: $(tail -2 "$TMP/serve.log")"
[ $crc -eq 0 ] && pass "the request in flight at SIGTERM was answered" || fail "in flight at SIGTERM" "$(cat "$TMP/slow.out")"

# --quiet: no access log; SIGINT stops it too
if start_server "$TMP/quiet.log" --quiet; then
    timeout 30 $PY -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1] + "/health", timeout=10).read()' "$URL"
    kill -INT $SERVER; wait $SERVER; rc=$?
    ! grep -q '"GET /health"' "$TMP/quiet.log" && grep -q 'SIGINT: stopped' "$TMP/quiet.log" && [ $rc -eq 0 ] &&
        pass "--quiet: no access log; SIGINT stops it (exit 0)" || fail "--quiet / SIGINT" "exit $rc: $(cat "$TMP/quiet.log")"
else
    fail "serve --quiet starts" "$(cat "$TMP/quiet.log")"
fi
expect_fail "serve: --host not an address" "not a numeric IPv4 address" timeout 20 "$LMC" serve -m demo-model --host localhost -q
cli_summary
