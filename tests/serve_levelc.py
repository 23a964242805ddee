"""tests/cli_serve.sh level C: lm-evaluation-harness's real command line (`python3 -m lm_eval run --model
local-completions`) against a running `lmc serve`, on two local tasks, checked against lmc's own scoring:
  - lmc_smoke (../shared/lmeval/tasks: loglikelihood_rolling → bits_per_byte) on the three shortest documents of
    demo-data/python.jsonl (each within one window): bits_per_byte = Σ nll / (Σ bytes · ln 2) of `lmc eval` run on
    each document alone, within 1e-4;
  - lmc_mc (tests/data/lmc_mc: a dozen hand-made multiple-choice questions): acc = the share of questions whose
    gold choice `lmc eval` gives the highest log-likelihood.

usage: /usr/bin/python3 tests/serve_levelc.py BASE_URL LMC MODEL CTX TMPDIR SHARED
Prints one `ok ...` / `FAIL ...` line per check (and the lm-eval table); exits 1 when one failed."""
import concurrent.futures, glob, json, math, os, shutil, subprocess, sys, urllib.request
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_check import check, finish

base, lmc, model, ctx, tmp, shared = sys.argv[1:7]


def eval_doc(text, name):
    """(nll in nats, bytes) of lmc eval on text as one document in one window (BOS + every token scored)."""
    path = os.path.join(tmp, name + ".txt")
    with open(path, "w") as f:
        f.write(text)
    res = os.path.join(tmp, name + ".json")
    # BOS + the text's tokens (counted by the server's /tokenize; lmc eval checks the count): W = n − 1
    req = urllib.request.Request(base + "/tokenize", json.dumps({"prompt": "<s>" + text, "add_special_tokens": False}).encode())
    n = len(json.loads(urllib.request.urlopen(req, timeout=60).read())["tokens"])
    subprocess.run([lmc, "eval", "-m", model, "-d", path, "-w", str(n - 1), "--stride", str(n - 1), "-o", res, "-q",
                    "-t", "1"], check=True, stdout=subprocess.DEVNULL)
    r = json.load(open(res))["results"][0]
    assert r["tokens"] == n and r["scored_tokens"] == n - 1, (text, r["tokens"], n)
    return r["nll"], r["bytes"]


# ---- the documents and the tasks folder ----------------------------------------------------------
docs = sorted((json.loads(l)["content"] for l in open("demo-data/python.jsonl")), key=len)[:3]
with open(os.path.join(tmp, "smoke.jsonl"), "w") as f:
    for d in docs:
        f.write(json.dumps({"page": d}) + "\n")
tasks = os.path.join(tmp, "tasks")
os.makedirs(tasks, exist_ok=True)
for src in (os.path.join(shared, "lmeval/tasks/lmc_smoke"), os.path.abspath("tests/data/lmc_mc")):
    dst = os.path.join(tasks, os.path.basename(src))
    if not os.path.exists(dst):  # copied: lm-eval's task search does not follow symbolic links
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))

# ---- lm-eval's command line ----------------------------------------------------------------------
env = dict(os.environ, LMC_SMOKE_JSONL=os.path.join(tmp, "smoke.jsonl"), PYTHONDONTWRITEBYTECODE="1",
           PYTHONPATH=os.path.join(shared, "lmeval") + ":" + os.path.join(shared, "lmeval/stubs"))
model_args = (f"base_url={base}/v1/completions,model=demo-model,max_length={ctx},tokenizer_backend=remote,"
              "custom_prefix_token_id=0")
out_dir = os.path.join(tmp, "lmeval_out")
run = subprocess.run(["/usr/bin/python3", "-m", "lm_eval", "run", "--model", "local-completions", "--model_args",
                      model_args, "--include_path", tasks, "--tasks", "lmc_smoke,lmc_mc", "--output_path", out_dir],
                     env=env, capture_output=True, text=True, timeout=300)
print("\n".join(l for l in run.stdout.splitlines() if l.startswith("|")))
check(run.returncode == 0, "python3 -m lm_eval run --model local-completions --tasks lmc_smoke,lmc_mc: exit %d %s"
      % (run.returncode, run.stderr[-300:] if run.returncode else ""))
if run.returncode:
    sys.exit(1)
results = json.load(open(sorted(glob.glob(os.path.join(out_dir, "*", "results_*.json")))[-1]))["results"]

# ---- lmc's own scoring: every text lmc eval needs, four at a time (each run mostly waits on start-up) -----
questions = [json.loads(l) for l in open("tests/data/lmc_mc/mc.jsonl")]
contexts = ["Question: %s\nAnswer:" % q["question"] for q in questions]
texts = docs + [c + " " + x for c, q in zip(contexts, questions) for x in q["choices"]]
with concurrent.futures.ThreadPoolExecutor(4) as pool:
    scored = dict(zip(texts, pool.map(eval_doc, texts, ["t%d" % i for i in range(len(texts))])))

# ---- lmc_smoke: bits_per_byte ------------------------------------------------------------------------
want = sum(scored[d][0] for d in docs) / sum(scored[d][1] for d in docs) / math.log(2)
got = results["lmc_smoke"]["bits_per_byte,none"]
check(abs(got - want) <= 1e-4, "lmc_smoke bits_per_byte %.6f, lmc eval's BPB of the same documents %.6f" % (got, want))

# ---- lmc_mc: acc -------------------------------------------------------------------------------------
right = 0
for c, q in zip(contexts, questions):
    # log p(choice | context) = −(nll(context + choice) − nll(context)): the context's term is the same for every
    # choice, so the best choice is the one whose whole text has the least nll
    nll_of = [scored[c + " " + x][0] for x in q["choices"]]
    right += min(range(len(nll_of)), key=lambda i: nll_of[i]) == q["answer"]
got = results["lmc_mc"]["acc,none"]
check(abs(got - right / len(questions)) < 1e-12,
      "lmc_mc acc %.4f, lmc eval's choices %d of %d = %.4f" % (got, right, len(questions), right / len(questions)))
finish()
