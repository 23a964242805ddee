#!/usr/bin/python3
"""Writes a HF checkpoint directory as a GGUF file the way llama.cpp's convert_hf_to_gguf.py writes it.

llama.cpp's converter needs torch and transformers; this one needs only numpy and llama.cpp's own gguf-py (on
PYTHONPATH, so the file is laid out by llama.cpp's writer). It follows the converter's conventions for the
families lmc reads from GGUF (names from gguf-py's tensor_mapping.py, keys from each model class's
set_gguf_parameters, tensor transforms from its modify_tensors):

  llama   (LlamaForCausalLM, MistralForCausalLM): q_proj / k_proj rows permuted (LlamaModel.permute: rotate_half
          halves → interleaved pairs, per head; k with the KV head count), biases too
  qwen2   (Qwen2ForCausalLM): no permutation
  gpt2    (GPT2LMHeadModel): Conv1D weights transposed to [out, in]; lm_head dropped when tied
  gptneox (GPTNeoXForCausalLM): per-head [q, k, v] of query_key_value re-laid out to [Q | K | V]
  falcon  (FalconForCausalLM): per-KV-group [q.., k, v] of query_key_value re-laid out to [Q | K | V]

Tensor types: 1-D tensors (norms, biases) are always F32, as the converter writes them; matrices are F32
(--outtype f32, default), F16, or BF16 (--outtype bf16: the bits of a bf16 checkpoint unchanged). Quantized
types are made from the result with llama.cpp's llama-quantize.

  hf_to_gguf.py HF_DIR OUT.gguf [--outtype f32|f16|bf16] [--llama2c-vocab TOK.bin | --hf-vocab [--no-bos]]

--llama2c-vocab: also write a SentencePiece-style vocabulary (tokenizer.ggml.*) from a llama2.c tokenizer.bin
(the test models use stories260K's tok512.bin); without it the file has no tokenizer metadata.
--hf-vocab: also write HF_DIR's tokenizer.json as llama.cpp's byte-level BPE vocabulary (model gpt2, pre gpt-2:
the demo model's kind; any other tokenizer.json is refused), so that llama.cpp's tools can read the file
(bench/kld_peer.sh). --no-bos: with it, add_bos_token false (llama.cpp then puts no BOS at chunk starts).
"""
import json
import os
import struct
import sys

import numpy as np
import gguf


def read_safetensors(path):
    """name → float32 ndarray (bf16 and f16 widened exactly), __metadata__ aliases included."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        raw = data[b:e]
        dt = info["dtype"]
        if dt == "F32":
            a = np.frombuffer(raw, dtype="<f4")
        elif dt == "F16":
            a = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        elif dt == "BF16":
            a = (np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            continue
        out[name] = a.reshape(info["shape"]).copy()
    resolve_aliases(out, header.get("__metadata__") or {})
    return out


def resolve_aliases(tensors, metadata):
    """A __metadata__ key that names no stored tensor while its value does stands for that tensor, as lmc's reader
    takes it (src/model/safetensors.c, alias_of): TinyStories-656K-f32 stores its tied embedding only as
    lm_head.weight, with "model.embed_tokens.weight": "lm_head.weight"; without the alias the GGUF had no
    token_embd.weight."""
    for key, target in metadata.items():
        if key not in tensors and isinstance(target, str) and target in tensors:
            tensors[key] = tensors[target]


def bf16_bits(a):
    """f32 → bf16 bits, round to nearest even (exact for values that came from bf16)."""
    u = a.astype(np.float32).view(np.uint32)
    return ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)


def permute(w, n_head):
    """LlamaModel.permute of convert_hf_to_gguf: rows of each head from [first half | second half] to pairs."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


LLAMA = {"model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output",
         "input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
         "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
         "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}
GPT2 = {"wte": "token_embd", "wpe": "position_embd", "ln_f": "output_norm", "lm_head": "output", "ln_1": "attn_norm",
        "attn.c_attn": "attn_qkv", "attn.c_proj": "attn_output", "ln_2": "ffn_norm", "mlp.c_fc": "ffn_up",
        "mlp.c_proj": "ffn_down"}
NEOX = {"gpt_neox.embed_in": "token_embd", "gpt_neox.final_layer_norm": "output_norm", "embed_out": "output",
        "input_layernorm": "attn_norm", "attention.query_key_value": "attn_qkv", "attention.dense": "attn_output",
        "post_attention_layernorm": "ffn_norm", "mlp.dense_h_to_4h": "ffn_up", "mlp.dense_4h_to_h": "ffn_down"}
FALCON = {"transformer.word_embeddings": "token_embd", "transformer.ln_f": "output_norm", "lm_head": "output",
          "input_layernorm": "attn_norm", "ln_attn": "attn_norm", "ln_mlp": "attn_norm_2",
          "self_attention.query_key_value": "attn_qkv", "self_attention.dense": "attn_output",
          "mlp.dense_h_to_4h": "ffn_up", "mlp.dense_4h_to_h": "ffn_down"}
# HF class → (gguf arch, name table, layer prefixes)
FAMILIES = {"LlamaForCausalLM": ("llama", LLAMA, ["model.layers."]),
            "MistralForCausalLM": ("llama", LLAMA, ["model.layers."]),
            "Qwen2ForCausalLM": ("qwen2", LLAMA, ["model.layers."]),
            "GPT2LMHeadModel": ("gpt2", GPT2, ["transformer.h.", "h."]),
            "GPTNeoXForCausalLM": ("gptneox", NEOX, ["gpt_neox.layers."]),
            "FalconForCausalLM": ("falcon", FALCON, ["transformer.h."])}


def gguf_name(name, table, prefixes):
    """HF tensor name → GGUF name, or None for tensors the converter drops."""
    if table is GPT2 and name.startswith("transformer.") and name[12:] in ("wte.weight", "wpe.weight", "ln_f.weight",
                                                                         "ln_f.bias"):
        name = name[12:]  # GPT-2 with the transformer. prefix
    stem, _, suffix = name.rpartition(".")
    for p in prefixes:
        if name.startswith(p):
            rest = name[len(p):]
            blk, _, inner = rest.partition(".")
            stem, _, suffix = inner.rpartition(".")
            return f"blk.{int(blk)}.{table[stem]}.{suffix}" if stem in table else None
    return f"{table[stem]}.{suffix}" if stem in table else None


def main(argv):
    usage = ("usage: hf_to_gguf.py HF_DIR OUT.gguf [--outtype f32|f16|bf16] "
             "[--llama2c-vocab TOK.bin | --hf-vocab [--no-bos]]")
    if len(argv) < 3:
        sys.exit(usage)
    src, out, outtype, vocab_bin, rest = argv[1], argv[2], "f32", None, argv[3:]
    hf_vocab, bos = False, True
    while rest:
        if rest[0] == "--outtype" and len(rest) > 1 and rest[1] in ("f32", "f16", "bf16"):
            outtype, rest = rest[1], rest[2:]
        elif rest[0] == "--llama2c-vocab" and len(rest) > 1:
            vocab_bin, rest = rest[1], rest[2:]
        elif rest[0] in ("--hf-vocab", "--no-bos"):
            hf_vocab, bos, rest = hf_vocab or rest[0] == "--hf-vocab", bos and rest[0] != "--no-bos", rest[1:]
        else:
            sys.exit(usage)
    if (vocab_bin and hf_vocab) or (not bos and not hf_vocab):
        sys.exit(usage)
    cfg = json.load(open(os.path.join(src, "config.json")))
    hf_arch = cfg["architectures"][0]
    if hf_arch not in FAMILIES:
        sys.exit(f"{hf_arch}: not one of {', '.join(FAMILIES)}")
    arch, table, prefixes = FAMILIES[hf_arch]
    tensors = read_safetensors(os.path.join(src, "model.safetensors"))

    w = gguf.GGUFWriter(out, arch)
    w.add_name(os.path.basename(os.path.normpath(src)))
    n_head = cfg.get("num_attention_heads", cfg.get("n_head"))
    dim = cfg.get("hidden_size", cfg.get("n_embd"))
    layers = cfg.get("num_hidden_layers", cfg.get("n_layer"))
    w.add_block_count(layers)
    if arch in ("llama", "qwen2"):
        n_kv = cfg.get("num_key_value_heads", n_head)
        w.add_context_length(cfg["max_position_embeddings"])
        w.add_embedding_length(dim)
        w.add_feed_forward_length(cfg["intermediate_size"])
        w.add_head_count(n_head)
        w.add_head_count_kv(n_kv)
        w.add_rope_freq_base(cfg.get("rope_theta", 10000.0))
        w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
        head_dim = cfg.get("head_dim") or dim // n_head
        if "head_dim" in cfg:
            w.add_key_length(head_dim)
            w.add_value_length(head_dim)
        w.add_rope_dimension_count(head_dim)
        w.add_vocab_size(cfg["vocab_size"])
    elif arch == "gpt2":
        w.add_context_length(cfg["n_ctx"])
        w.add_embedding_length(dim)
        w.add_feed_forward_length(4 * dim)
        w.add_head_count(n_head)
        w.add_layer_norm_eps(cfg["layer_norm_epsilon"])
    elif arch == "gptneox":
        w.add_context_length(cfg["max_position_embeddings"])
        w.add_embedding_length(dim)
        w.add_feed_forward_length(cfg["intermediate_size"])
        w.add_rope_dimension_count(int(cfg["rotary_pct"] * (dim // n_head)))
        w.add_head_count(n_head)
        w.add_parallel_residual(cfg.get("use_parallel_residual", True))
        w.add_layer_norm_eps(cfg["layer_norm_eps"])
    elif arch == "falcon":
        n_kv = cfg.get("num_kv_heads", cfg.get("n_head_kv", 1))
        w.add_context_length(2048)
        w.add_tensor_data_layout("jploski")
        w.add_embedding_length(dim)
        w.add_feed_forward_length(4 * dim)
        w.add_head_count(n_head)
        w.add_head_count_kv(n_kv)
        w.add_layer_norm_eps(cfg["layer_norm_epsilon"])
    ftype = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
             "bf16": gguf.LlamaFileType.MOSTLY_BF16}[outtype]
    w.add_file_type(ftype)
    if vocab_bin:
        add_llama2c_vocab(w, vocab_bin)
    if hf_vocab:
        add_hf_bpe_vocab(w, src, cfg["vocab_size"], bos)

    tied = cfg.get("tie_word_embeddings", arch in ("gpt2", "falcon"))
    has_embd = any(gguf_name(n, table, prefixes) == "token_embd.weight" for n in tensors)
    for name, t in tensors.items():
        if name.endswith((".attn.bias", ".attn.masked_bias", "rotary_emb.inv_freq")):
            continue
        if tied and name == "lm_head.weight" and has_embd:
            continue
        # a tied lm_head.weight with no embedding beside it is the embedding's only copy
        gname = "token_embd.weight" if tied and name == "lm_head.weight" else gguf_name(name, table, prefixes)
        if gname is None:
            sys.exit(f"{name}: no GGUF name for it")
        if arch == "llama" and gname.endswith(("attn_q.weight", "attn_q.bias")):
            t = permute(t, n_head)
        elif arch == "llama" and gname.endswith(("attn_k.weight", "attn_k.bias")):
            t = permute(t, n_kv)
        elif arch == "gpt2" and name.endswith((".c_attn.weight", ".c_proj.weight", ".c_fc.weight")):
            t = t.T
        elif arch == "gptneox" and "query_key_value" in name:
            hd = dim // n_head
            q = t.reshape((n_head, 3, hd) + t.shape[1:])
            t = np.concatenate([q[:, i].reshape((-1,) + t.shape[1:]) for i in range(3)], axis=0)
        elif arch == "falcon" and "query_key_value" in name:
            hd = dim // n_head
            qkv = t.reshape(n_kv, n_head // n_kv + 2, hd, -1)
            t = np.concatenate([qkv[:, :-2].reshape(n_head * hd, -1), qkv[:, -2].reshape(n_kv * hd, -1),
                                qkv[:, -1].reshape(n_kv * hd, -1)]).reshape(t.shape)
        t = np.ascontiguousarray(t, dtype=np.float32)
        if t.ndim == 1 or outtype == "f32":
            w.add_tensor(gname, t)
        elif outtype == "f16":
            w.add_tensor(gname, t.astype(np.float16))
        else:
            w.add_tensor(gname, bf16_bits(t), raw_shape=t.shape, raw_dtype=gguf.GGMLQuantizationType.BF16)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def add_llama2c_vocab(w, path):
    """A llama2.c tokenizer.bin (int32 max_len; per token f32 score, int32 length, bytes) as a SentencePiece
    vocabulary: ' ' written as '▁', ids 0/1/2 unknown/BOS/EOS, <0xXX> byte tokens."""
    data = open(path, "rb").read()
    off, toks, scores, types = 4, [], [], []
    while off < len(data):
        score, n = struct.unpack_from("<fi", data, off)
        off += 8
        text = data[off:off + n].decode("utf-8", errors="replace")
        off += n
        i = len(toks)
        toks.append(text.replace(" ", "\u2581"))
        scores.append(score)
        if i == 0:
            types.append(gguf.TokenType.UNKNOWN)
        elif i in (1, 2):
            types.append(gguf.TokenType.CONTROL)
        elif text.startswith("<0x") and len(text) == 6:
            types.append(gguf.TokenType.BYTE)
        else:
            types.append(gguf.TokenType.NORMAL)
    w.add_tokenizer_model("llama")
    w.add_token_list(toks)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)


def add_hf_bpe_vocab(w, src, n_vocab, bos):
    """HF_DIR/tokenizer.json, a byte-level BPE with GPT-2's regex and no normalizer, as convert_hf_to_gguf.py
    writes it: tokens in id order (ids the file lacks become [PAD<id>], as there), added special tokens CONTROL,
    merges as "a b", BOS / EOS ids from the added tokens named in tokenizer_config.json."""
    path = os.path.join(src, "tokenizer.json")
    tj = json.load(open(path, encoding="utf-8"))
    m, pre = tj.get("model") or {}, tj.get("pre_tokenizer") or {}
    if m.get("type") != "BPE" or tj.get("normalizer") or pre.get("type") != "ByteLevel" or \
            not pre.get("use_regex", True) or pre.get("add_prefix_space"):
        sys.exit(f"{path}: --hf-vocab writes only a byte-level BPE with GPT-2's regex (llama.cpp pre 'gpt-2')")
    ids = dict(m["vocab"])
    special = set()
    for a in tj.get("added_tokens", []):
        ids[a["content"]] = a["id"]
        if a.get("special"):
            special.add(a["id"])
    toks = [f"[PAD{i}]" for i in range(n_vocab)]
    types = [gguf.TokenType.UNUSED] * n_vocab
    for t, i in ids.items():
        if i >= n_vocab:
            sys.exit(f"{path}: token id {i} is outside the model's vocabulary of {n_vocab}")
        toks[i] = t
        types[i] = gguf.TokenType.CONTROL if i in special else gguf.TokenType.NORMAL
    merges = [mg if isinstance(mg, str) else " ".join(mg) for mg in m.get("merges", [])]
    tc = json.load(open(os.path.join(src, "tokenizer_config.json"), encoding="utf-8"))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(toks)
    w.add_token_types(types)
    w.add_token_merges(merges)
    for key, add in (("bos_token", w.add_bos_token_id), ("eos_token", w.add_eos_token_id)):
        name = tc.get(key)
        name = name.get("content") if isinstance(name, dict) else name
        if name in ids:
            add(ids[name])
    w.add_add_bos_token(bos and tc.get("add_bos_token", False))
    w.add_add_eos_token(False)


if __name__ == "__main__":
    main(sys.argv)
