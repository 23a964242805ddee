"""tests/cli_serve.sh: what a server must survive, with the standard library only (127.0.0.1, bounded).

usage: python3 tests/serve_checks.py bad  URL          bad requests → 400 + an OpenAI-style error, still answering
       python3 tests/serve_checks.py load URL PID      100 requests from 4 concurrent clients; the server's RSS
       python3 tests/serve_checks.py slow URL          one long generation (to be in flight when a stop comes)
       python3 tests/serve_checks.py gen  URL          max_tokens > 0: greedy = its own echo, seeds, stop strings
Prints one `ok ...` / `FAIL ...` line per check; exits 1 when one failed."""
import http.client, os, json, sys, threading, urllib.parse
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_check import check, finish

mode, url = sys.argv[1], sys.argv[2]
u = urllib.parse.urlparse(url)


def call(method, path, body=None, timeout=60):
    """(status, parsed JSON or None) over a fresh connection."""
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
    c.request(method, path, body=data, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    raw = r.read()
    c.close()
    try:
        return r.status, json.loads(raw)
    except ValueError:
        return r.status, None


def bad_requests():
    cases = [
        ("malformed JSON", b'{"prompt": [[0, 1, 2]', "not valid JSON"),
        ("trailing bytes", b'{"prompt": [[0, 1]]} x', "more after its JSON value"),
        ("not an object", b'[1, 2]', "must be a JSON object"),
        ("prompt too long", {"prompt": [[0] * 2100], "max_tokens": 1}, "context limit of 2048"),
        ("prompt + max_tokens too long", {"prompt": [[0] * 2000], "max_tokens": 100}, "context limit of 2048"),
        ("unknown token id", {"prompt": [[0, 5000]]}, "not in the vocabulary"),
        ("negative token id", {"prompt": [0, -1]}, "not in the vocabulary"),
        ("negative max_tokens", {"prompt": "a", "max_tokens": -1}, "'max_tokens' must be an integer"),
        ("fractional max_tokens", {"prompt": "a", "max_tokens": 1.5}, "'max_tokens' must be an integer"),
        ("wrong type prompt", {"prompt": 5}, "'prompt' must be"),
        ("mixed prompt list", {"prompt": ["a", 5]}, "each prompt must be"),
        ("empty prompt list", {"prompt": []}, "empty list"),
        ("empty id list", {"prompt": [[]]}, "empty"),
        ("missing prompt", {"max_tokens": 1}, "'prompt' is missing"),
        ("unknown field", {"prompt": "a", "temprature": 0}, "unknown field 'temprature'"),
        ("wrong type echo", {"prompt": "a", "echo": "yes"}, "'echo' must be true or false"),
        ("logprobs over 20", {"prompt": "a", "logprobs": 21}, "'logprobs' must be an integer"),
        ("stream", {"prompt": "a", "stream": True}, "'stream' is not supported"),
        ("10 MB body", b'{"prompt": "' + b"a" * (10 << 20) + b'"}', "over the limit"),
    ]
    for name, body, needle in cases:
        st, j = call("POST", "/v1/completions", body)
        err = (j or {}).get("error", {}) if isinstance(j, dict) else {}
        msg = err.get("message", "") if isinstance(err, dict) else ""
        check(st == 400 and needle in msg and err.get("type") == "invalid_request_error",
              "%s → %d %r" % (name, st, msg[:90]))
        st, j = call("GET", "/health")
        check(st == 200 and j == {"status": "ok"}, "  still answering after: %s" % name)
    for path, body, needle in [("/tokenize", {"text": "a"}, "unknown field"), ("/tokenize", {"prompt": 1}, "must be a string"),
                               ("/detokenize", {"tokens": [99999]}, "not in the vocabulary"),
                               ("/detokenize", {"tokens": "x"}, "must be a list")]:
        st, j = call("POST", path, body)
        check(st == 400 and needle in json.dumps(j), "%s %s → %d %s" % (path, json.dumps(body), st, json.dumps(j)[:80]))
    st, j = call("GET", "/nope")
    check(st == 404 and "error" in j, "unknown path → 404")
    st, j = call("GET", "/v1/completions")
    check(st == 405 and "error" in j, "GET /v1/completions → 405")


def rss_kb(pid):
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def load(pid):
    req = {"prompt": [[0, 100, 200, 300, 400, 500], [0, 7, 8]], "max_tokens": 1, "logprobs": 1, "echo": True,
           "temperature": 0}
    want = call("POST", "/v1/completions", req)[1]
    for _ in range(20):  # warm up: the allocator's arenas of every worker thread
        call("POST", "/v1/completions", req)
    before = rss_kb(pid)
    results = []

    def client():
        for _ in range(25):
            st, j = call("POST", "/v1/completions", req)
            results.append(st == 200 and j["choices"] == want["choices"])

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    after = rss_kb(pid)
    check(len(results) == 100 and all(results), "100 requests from 4 concurrent clients: %d answered alike" % sum(results))
    check(after - before < 16 * 1024, "RSS stable: %d KB before, %d KB after (growth under 16 MB)" % (before, after))


def gen():
    base = {"prompt": "Once upon a time", "max_tokens": 12, "temperature": 0, "logprobs": 1}
    st, a = call("POST", "/v1/completions", base)
    ch = a["choices"][0]
    lp = ch["logprobs"]
    check(st == 200 and len(lp["tokens"]) == 12 and ch["finish_reason"] == "length", "greedy: 12 tokens, finish length")
    check(all(t == max(top.values()) for t, top in zip(lp["token_logprobs"], lp["top_logprobs"])),
          "greedy: every generated token is its row's best")
    st, b = call("POST", "/v1/completions", dict(base, prompt=[base["prompt"], base["prompt"]]))
    check([c["text"] for c in b["choices"]] == [ch["text"]] * 2 and [c["index"] for c in b["choices"]] == [0, 1],
          "a batch of two equal prompts: two equal choices, index 0 and 1")
    s1 = call("POST", "/v1/completions", dict(base, temperature=1.0, seed=7))[1]["choices"][0]["text"]
    s2 = call("POST", "/v1/completions", dict(base, temperature=1.0, seed=7))[1]["choices"][0]["text"]
    s3 = call("POST", "/v1/completions", dict(base, temperature=1.0, seed=8))[1]["choices"][0]["text"]
    check(s1 == s2 and s1 != s3, "sampled: the same seed gives the same text, another seed another")
    text = ch["text"]
    stop = text[len(text) // 2:len(text) // 2 + 2]
    st, c = call("POST", "/v1/completions", dict(base, stop=[stop]))
    cut = c["choices"][0]
    check(cut["finish_reason"] == "stop" and cut["text"] == text[:text.find(stop)],
          "stop string %r: text cut before it, finish stop" % stop)
    st, e = call("POST", "/v1/completions", dict(base, echo=True, max_tokens=0))
    check(e["choices"][0]["text"].startswith("<s>Once upon a time") and e["choices"][0]["logprobs"]["token_logprobs"][0] is None,
          "echo with max_tokens 0: the prompt and its log-probs only")


if mode == "bad":
    bad_requests()
elif mode == "load":
    load(sys.argv[3])
elif mode == "slow":
    st, j = call("POST", "/v1/completions", {"prompt": "Once", "max_tokens": 400, "temperature": 0}, timeout=120)
    check(st == 200 and j["usage"]["completion_tokens"] >= 1, "the request in flight was answered: %d" % st)
elif mode == "gen":
    gen()
finish()
