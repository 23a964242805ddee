#!/usr/bin/python3
"""kld_peer_text.py — the text llama-perplexity reads so that its chunks are lmc's windows (bench/kld_peer.sh).

  kld_peer_text.py LMC MODEL.gguf TOKENIZER.json LMC.txt CTX OUT_DIR

lmc kld with --block-size CTX-1 --stride CTX/2-1 scores, in window k, the predictions of input positions CTX/2 ..
CTX-2 of the tokens t[k·S .. k·S+CTX-2] (S = CTX/2-1; window 0 scores positions 0 .. CTX-2). llama-perplexity
with -c CTX cuts its token stream into non-overlapping chunks of CTX and scores the predictions of positions
CTX/2 .. CTX-2 of each. So llama's text is the windows written one after the other: chunk k = t[k·S .. k·S+CTX-2]
and one more token (position CTX-1, whose prediction neither tool uses; it is only llama's last target, which
changes its NLL lines, not the distributions compared). That token is chosen so that the chunks, decoded and
joined, tokenize back into exactly these tokens: the joint between two chunks must not merge into one
pre-token. Checked with `lmc tokenize` (the model's own vocabulary, add_bos_token false: no BOS anywhere, so
llama.cpp replaces no chunk's first token either); the script refuses when no joint token works.

Writes OUT_DIR/llama.txt (CTX·K tokens, K = lmc's window count), OUT_DIR/prefix.txt (t[0 .. CTX/2]: window 0's
first CTX/2 targets, which llama-perplexity does not score, scored alone by `lmc kld --block-size CTX/2` so they
can be taken out) and OUT_DIR/tokens.json (the token ids of llama.txt, to compare with llama-perplexity's).
"""
import json
import os
import subprocess
import sys


def bytes_to_unicode():
    """GPT-2's byte ↔ printable character map (the ByteLevel pre-tokenizer's)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def tokenize(lmc, model, path):
    out = subprocess.run([lmc, "tokenize", "--model", model, path], check=True, capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def main(argv):
    if len(argv) != 7:
        sys.exit(__doc__.strip().splitlines()[2].strip())
    lmc, model, tok_json, lmc_txt, ctx, out = argv[1], argv[2], argv[3], argv[4], int(argv[5]), argv[6]
    if ctx < 8 or ctx % 2:
        sys.exit(f"CTX must be even and at least 8, not {ctx}")
    tj = json.load(open(tok_json, encoding="utf-8"))
    vocab = dict(tj["model"]["vocab"])
    for a in tj.get("added_tokens", []):
        vocab[a["content"]] = a["id"]
    inv = {c: b for b, c in bytes_to_unicode().items()}
    piece = {i: bytes(inv[c] for c in t) for t, i in vocab.items() if all(c in inv for c in t)}

    def decode(ids):
        return b"".join(piece[i] for i in ids)

    t = tokenize(lmc, model, lmc_txt)
    W, S = ctx - 1, ctx // 2 - 1
    K = (len(t) - W - 1) // S + 1
    if len(t) < W + 1:
        sys.exit(f"{lmc_txt}: {len(t)} tokens, fewer than one window of {W + 1}")
    # joint candidates: the text's own next token first, then tokens of other character classes
    cands = [vocab[c] for c in (".", "Ċ", "a", "0", "Ġthe", ",", "(") if c in vocab]
    joint = [[t[k * S + ctx - 1]] + cands for k in range(K)]
    choice = [0] * K
    llama_txt = os.path.join(out, "llama.txt")
    for _ in range(20 * K):
        chunks = [t[k * S:k * S + ctx - 1] + [joint[k][choice[k]]] for k in range(K)]
        want = [i for c in chunks for i in c]
        with open(llama_txt, "wb") as f:
            f.write(b"".join(decode(c) for c in chunks))
        got = tokenize(lmc, model, llama_txt)
        if got == want:
            break
        i = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        k = min(K - 1, max(0, round((i + 1) / ctx) - 1))  # the joint nearest to the first difference
        if abs(i - (k * ctx + ctx - 1)) > 2 or choice[k] + 1 >= len(joint[k]):
            sys.exit(f"llama.txt: token {i} (chunk {i // ctx}) does not tokenize back and no joint token helps")
        choice[k] += 1
    else:
        sys.exit("llama.txt: the joints did not settle")
    pre = t[:ctx // 2 + 1]
    prefix_txt = os.path.join(out, "prefix.txt")
    with open(prefix_txt, "wb") as f:
        f.write(decode(pre))
    if tokenize(lmc, model, prefix_txt) != pre:
        sys.exit("prefix.txt: the first CTX/2+1 tokens do not tokenize back")
    json.dump(want, open(os.path.join(out, "tokens.json"), "w"))
    changed = sum(1 for c in choice if c)
    print(f"llama.txt: {K} chunks of {ctx} tokens = lmc's {K} windows (W {W}, S {S}) of {len(t)} tokens; "
          f"{changed} joint token(s) replaced so that the chunks tokenize back")


if __name__ == "__main__":
    main(sys.argv)
