#!/usr/bin/env bash
# bench/serve.sh — throughput of `lmc serve` on batched scoring, as lm-eval's local-completions client asks for it:
# requests of B prompts of L token ids each, `echo: true, max_tokens: 1, logprobs: 1`, from C concurrent clients.
# Prints requests/s and prompt tokens/s (scored, all prompts), and the same model's `lmc eval` window tokens/s for
# comparison. Not a test: the figures depend on the machine and its load (docs/serve.md "Concurrency and speed").
#   bench/serve.sh                           # demo model, 40 requests of 4 prompts of 256 tokens, 2 clients
#   MODEL=path V=32000 N=100 B=8 L=512 C=4 T=2 bench/serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${MODEL:-demo-model} N=${N:-40} B=${B:-4} L=${L:-256} C=${C:-2} T=${T:-2}
V=${V:-4000} # random prompt ids are drawn from 2..V-1: keep V within the model's vocabulary
LMC=${LMC:-./lmc}
TMP=$(mktemp -d /tmp/lmc_servebench.XXXXXX)
SERVER=
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
"$LMC" serve --model "$MODEL" --port 0 --threads "$T" --parallel "$C" --quiet 2>"$TMP/log" &
SERVER=$!
URL=
for _ in $(seq 600); do # the model may take a while to open: at most 60 s
    URL=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$TMP/log" | head -1) && [ -n "$URL" ] && break
    kill -0 $SERVER 2>/dev/null || { cat "$TMP/log" >&2; exit 1; }
    sleep 0.1
done
[ -n "$URL" ] || { echo "lmc serve did not start" >&2; exit 1; }
python3 - "$URL" "$N" "$B" "$L" "$C" "$V" <<'PY'
import http.client, json, random, sys, threading, time, urllib.parse
url, n, b, l, c, vocab = sys.argv[1], *map(int, sys.argv[2:])
u = urllib.parse.urlparse(url)
rng = random.Random(1)
def body():
    return json.dumps({"model": "m", "prompt": [[rng.randrange(2, vocab) for _ in range(l)] for _ in range(b)],
                       "temperature": 0, "max_tokens": 1, "logprobs": 1, "seed": 1234, "echo": True}).encode()
bodies = [body() for _ in range(n)]
done, lock = [], threading.Lock()
def client(k):
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    for i in range(k, n, c):
        conn.request("POST", "/v1/completions", body=bodies[i], headers={"Content-Type": "application/json"})
        r = conn.getresponse(); data = r.read()
        assert r.status == 200, data[:200]
        with lock: done.append(len(json.loads(data)["choices"]))
t0 = time.time()
ts = [threading.Thread(target=client, args=(k,)) for k in range(c)]
[t.start() for t in ts]; [t.join() for t in ts]
dt = time.time() - t0
print(f"lmc serve: {n} requests x {b} prompts x {l} tokens, {c} clients: {dt:.2f} s, {n / dt:.2f} requests/s, "
      f"{n * b * l / dt:.0f} prompt tokens/s (echo + top-1 log-probs for every token)")
PY
kill -TERM $SERVER; wait $SERVER || true; SERVER=
python3 -c "
import json, random
rng = random.Random(1)
print(json.dumps({'content': ' '.join('word%d' % rng.randrange(1000) for _ in range(4000))}))" >"$TMP/text.jsonl"
"$LMC" eval --model "$MODEL" --data "$TMP/text.jsonl" --block-size "$L" --stride "$L" --threads "$T" --quiet \
    --json "$TMP/eval.json" >/dev/null
python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))['results'][0]
print('lmc eval, same model, W = S = %d: %.0f window tokens/s' % (r['block_size'], r['window_tokens_per_s']))" "$TMP/eval.json"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
