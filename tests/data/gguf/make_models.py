#!/usr/bin/python3
"""Writes the random-weight HF checkpoints of tests/data/gguf (see make.sh): a tiny Llama and a tiny GPT-2, BF16
safetensors as HF writes them (real tensor names and shapes; GPT-2's Conv1D weights [in, out]), vocabulary 512
so that stories260K's llama2.c tokenizer (tok512.bin, $LMC_SHARED) can drive them. Deterministic (seeded).

  make_models.py OUT_DIR
"""
import json
import os
import struct
import sys

import numpy as np

VOCAB = 512


def bf16(a):
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, a in tensors:
        raw = bf16(a).tobytes()
        header[name] = {"dtype": "BF16", "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def llama(rng, out):
    dim, layers, heads, kv, ff = 32, 2, 4, 2, 64
    hd = dim // heads

    def lin(n, k):
        return rng.normal(0, 1 / np.sqrt(k), (n, k))

    t = [("model.embed_tokens.weight", rng.normal(0, 0.25, (VOCAB, dim)))]
    for i in range(layers):
        p = f"model.layers.{i}."
        t += [(p + "input_layernorm.weight", 1 + 0.1 * rng.normal(size=dim)),
              (p + "self_attn.q_proj.weight", lin(heads * hd, dim)), (p + "self_attn.k_proj.weight", lin(kv * hd, dim)),
              (p + "self_attn.v_proj.weight", lin(kv * hd, dim)), (p + "self_attn.o_proj.weight", lin(dim, heads * hd)),
              (p + "post_attention_layernorm.weight", 1 + 0.1 * rng.normal(size=dim)),
              (p + "mlp.gate_proj.weight", lin(ff, dim)), (p + "mlp.up_proj.weight", lin(ff, dim)),
              (p + "mlp.down_proj.weight", lin(dim, ff))]
    t += [("model.norm.weight", 1 + 0.1 * rng.normal(size=dim))]
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": dim,
           "intermediate_size": ff, "num_attention_heads": heads, "num_key_value_heads": kv,
           "num_hidden_layers": layers, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "max_position_embeddings": 512,
           "vocab_size": VOCAB, "tie_word_embeddings": True, "hidden_act": "silu", "torch_dtype": "bfloat16",
           "bos_token_id": 1, "eos_token_id": 2}
    save(out, cfg, t)


def gpt2(rng, out):
    dim, layers, heads, npos = 32, 1, 2, 128

    def conv(k, n):  # Conv1D weight [in, out]
        return rng.normal(0, 1 / np.sqrt(k), (k, n))

    t = [("transformer.wte.weight", rng.normal(0, 0.25, (VOCAB, dim))),
         ("transformer.wpe.weight", rng.normal(0, 0.1, (npos, dim)))]
    for i in range(layers):
        p = f"transformer.h.{i}."
        t += [(p + "ln_1.weight", 1 + 0.1 * rng.normal(size=dim)), (p + "ln_1.bias", 0.1 * rng.normal(size=dim)),
              (p + "attn.c_attn.weight", conv(dim, 3 * dim)), (p + "attn.c_attn.bias", 0.1 * rng.normal(size=3 * dim)),
              (p + "attn.c_proj.weight", conv(dim, dim)), (p + "attn.c_proj.bias", 0.1 * rng.normal(size=dim)),
              (p + "ln_2.weight", 1 + 0.1 * rng.normal(size=dim)), (p + "ln_2.bias", 0.1 * rng.normal(size=dim)),
              (p + "mlp.c_fc.weight", conv(dim, 4 * dim)), (p + "mlp.c_fc.bias", 0.1 * rng.normal(size=4 * dim)),
              (p + "mlp.c_proj.weight", conv(4 * dim, dim)), (p + "mlp.c_proj.bias", 0.1 * rng.normal(size=dim))]
    t += [("transformer.ln_f.weight", 1 + 0.1 * rng.normal(size=dim)),
          ("transformer.ln_f.bias", 0.1 * rng.normal(size=dim))]
    cfg = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "n_embd": dim, "n_head": heads,
           "n_layer": layers, "n_positions": npos, "n_ctx": npos, "n_inner": None, "vocab_size": VOCAB,
           "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True,
           "torch_dtype": "bfloat16"}
    save(out, cfg, t)


def save(out, cfg, tensors):
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(out, "model.safetensors"), tensors)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: make_models.py OUT_DIR")
    llama(np.random.default_rng(16), os.path.join(sys.argv[1], "llama-hf"))
    gpt2(np.random.default_rng(17), os.path.join(sys.argv[1], "gpt2-hf"))
