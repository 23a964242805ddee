"""tests/cli_serve.sh level A: lm-evaluation-harness's own `local-completions` client (the class its
`--model local-completions` builds, tokenizer_backend=remote) against a running `lmc serve`, checked against
lmc's own scoring of the same text (`lmc eval` with one window over the whole text, `lmc generate` greedy).

usage: PYTHONPATH=../shared/lmeval /usr/bin/python3 tests/serve_lmeval.py BASE_URL LMC MODEL CTX TMPDIR OUT.json
LMEVAL_ARGS adds model arguments (e.g. num_concurrent=2,batch_size=4). Prints one `ok ...` / `FAIL ...` line per
check and writes the numbers to OUT.json (so two runs can be compared); exits 1 when a check failed."""
import json, os, subprocess, sys
from lm_eval.api.instance import Instance
from lm_eval.api.registry import get_model
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_check import check, finish

base, lmc, model, ctx, tmp, out_path = sys.argv[1:7]


# custom_prefix_token_id=0: the demo model's BOS id is 0, which the client's remote tokenizer takes for "none"
# (`bos_token_id or eos_token_id`) and would replace by EOS; lmc eval starts every text with BOS (SPEC §2).
args = f"base_url={base}/v1/completions,model=demo-model,max_length={ctx},tokenizer_backend=remote,custom_prefix_token_id=0"
extra = os.environ.get("LMEVAL_ARGS", "")
lm = get_model("local-completions").create_from_arg_string(args + ("," + extra if extra else ""))
tok = lm.tokenizer  # the client's RemoteTokenizer: /tokenize on the server


def eval_nll(text, name):
    """lmc eval of text as one document in one window: every token after BOS scored (nats)."""
    path = os.path.join(tmp, name + ".txt")
    with open(path, "w") as f:
        f.write(text)
    n = len(tok.encode("<s>" + text))  # BOS + the text's tokens (the special-token text maps to its id)
    res = os.path.join(tmp, name + ".json")
    subprocess.run([lmc, "eval", "-m", model, "-d", path, "-w", str(n - 1), "--stride", str(n - 1), "-o", res,
                    "-q", "-t", "1"], check=True, stdout=subprocess.DEVNULL)
    r = json.load(open(res))["results"][0]
    assert r["tokens"] == n and r["scored_tokens"] == n - 1, (text, r["tokens"], n)
    return r["nll"]


def close(a, b, rel=1e-5):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-12)


texts = ["Hello world", "The cat sat on the mat.", "def f(x):\n    return x * 2\n",
         "Once upon a time, there was a little girl who lived in a village near the forest."]
ref = {t: eval_nll(t, "t%d" % i) for i, t in enumerate(texts)}

# lmc's own greedy continuation of "The cat" (BOS + its tokens), to check is_greedy both ways
gen = subprocess.run([lmc, "generate", "-m", model, "-p", "The cat", "-n", "3", "--temperature", "0", "-q",
                      "-t", "1"], check=True, capture_output=True, text=True).stdout
greedy = gen[len("The cat"):].rstrip("\n")
check(len(greedy) > 0 and greedy != " sat on the mat.", "lmc generate's greedy continuation of 'The cat': %r" % greedy)
for cont in (" sat on the mat.", greedy):  # the comparison below needs the pieces to tokenize as the whole
    check(tok.encode("The cat") + tok.encode(cont) == tok.encode("The cat" + cont),
          "'The cat' + %r tokenizes as its two pieces" % cont)

ll_reqs = [("", texts[0]), ("", texts[1]), ("<s>The cat", " sat on the mat."), ("<s>The cat", greedy)]
ll = lm.loglikelihood([Instance("loglikelihood", {}, a, i) for i, a in enumerate(ll_reqs)])
rl = lm.loglikelihood_rolling([Instance("loglikelihood_rolling", {}, (t,), i) for i, t in enumerate(texts)])

want_ll = [-ref[texts[0]], -ref[texts[1]], -(ref[texts[1]] - eval_nll("The cat", "ctx")),
           -(eval_nll("The cat" + greedy, "greedy") - eval_nll("The cat", "ctx2"))]
for (c, x), (got, is_greedy), want in zip(ll_reqs, ll, want_ll):
    check(close(got, want), "loglikelihood(%r, %r) = %.10f, lmc eval %.10f" % (c, x, got, want))
check([g for _, g in ll] == [False, False, False, True], "is_greedy %s (only lmc's greedy continuation)" % [g for _, g in ll])
for t, got in zip(texts, rl):
    check(close(got, -ref[t]), "loglikelihood_rolling(%r) = %.10f, lmc eval %.10f" % (t[:20], got, -ref[t]))

# Over several windows: lm-eval's rolling windows are disjoint, each after the first holding 1 context token (the
# previous window's last target) + max_length − 2 scored tokens, which is lmc eval with W = S = max_length − 2 when
# the text's tokens are a whole number of windows (lmc eval leaves a shorter tail unscored: SPEC §3).
long_text = texts[3] + " " + texts[1]
n = len(tok.encode(long_text))
w = next((d for d in range(8, n // 2 + 1) if n % d == 0), None)
if w is None:  # n prime: one token more
    long_text += "!"
    n = len(tok.encode(long_text))
    w = next(d for d in range(8, n // 2 + 1) if n % d == 0)
lm_w = get_model("local-completions").create_from_arg_string(args.replace("max_length=%s" % ctx, "max_length=%d" % (w + 2)))
rl_w = lm_w.loglikelihood_rolling([Instance("loglikelihood_rolling", {}, (long_text,), 0)])[0]
path = os.path.join(tmp, "long.txt")
open(path, "w").write(long_text)
subprocess.run([lmc, "eval", "-m", model, "-d", path, "-w", str(w), "--stride", str(w), "-o", path + ".json", "-q",
                "-t", "1"], check=True, stdout=subprocess.DEVNULL)
r = json.load(open(path + ".json"))["results"][0]
check(r["scored_tokens"] == n and close(rl_w, -r["nll"]),
      "loglikelihood_rolling over %d windows (max_length %d) = %.10f, lmc eval -w %d --stride %d %.10f"
      % (n // w, w + 2, rl_w, w, w, -r["nll"]))

json.dump({"loglikelihood": ll, "loglikelihood_rolling": rl + [rl_w]}, open(out_path, "w"))
finish()
