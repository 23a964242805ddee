# lmc_mc: a dozen hand-made multiple-choice questions (mc.jsonl) for tests/cli_serve.sh level C. The prompt starts
# with the BOS text "<s>" (the remote tokenizer maps it to BOS), so that lmc eval, which starts every text with
# BOS, scores the same token ids.
import json, os
import datasets  # lm-eval's stub in ../shared/lmeval/stubs (a list of dicts)


def load(**kwargs):
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "mc.jsonl")) as f:
        return {"test": datasets.Dataset(json.loads(line) for line in f if line.strip())}
