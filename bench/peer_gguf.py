#!/usr/bin/python3
"""Writes a random-weight Llama GGUF of the TinyLlama-1.1B shape for llama.cpp's llama-bench.

Used by bench/peer.sh; needs llama.cpp's own gguf-py on PYTHONPATH (so the file is laid out exactly as
llama.cpp's writer lays it out) and numpy.

  peer_gguf.py OUT.gguf f32|bf16 [--layers N] [--tiny]

--tiny: hidden 512, 8 heads, 2 KV heads, intermediate 1024, vocab 1024 (2 layers unless --layers): every row
a multiple of 256, so llama-quantize can make each k-quant of it (bench/peer_dequant.sh).

The weights are uniform noise of std 1/sqrt(fan_in) (their values do not change the speed of a dense forward,
but keep the activations finite); norms stay f32, as llama.cpp's converter writes them. Tensors are generated
and written one at a time, so memory stays at one tensor whatever the model's size. The vocabulary is
Llama's layout (<unk>, <s>, </s>, 256 byte tokens, then placeholders) because llama-bench draws random token
ids from it and llama.cpp's SPM loader looks up the byte tokens.
"""
import sys

import numpy as np
import gguf

# TinyLlama-1.1B (the shape of `lmc bench --shape tinyllama-1.1b`)
DIM, LAYERS, HEADS, KV_HEADS, FF, VOCAB, CTX = 2048, 22, 32, 4, 5632, 32000, 2048


def main(argv):
    global DIM, HEADS, KV_HEADS, FF, VOCAB
    usage = "usage: peer_gguf.py OUT.gguf f32|bf16 [--layers N] [--tiny]"
    if len(argv) < 3 or argv[2] not in ("f32", "bf16"):
        sys.exit(usage)
    out, dtype, layers, rest = argv[1], argv[2], None, argv[3:]
    while rest:
        if rest[0] == "--tiny":
            DIM, HEADS, KV_HEADS, FF, VOCAB = 512, 8, 2, 1024, 1024
            rest = rest[1:]
        elif rest[0] == "--layers" and len(rest) > 1:
            layers, rest = int(rest[1]), rest[2:]
        else:
            sys.exit(usage)
    if layers is None:
        layers = 2 if DIM == 512 else LAYERS
    hd = DIM // HEADS
    rng = np.random.default_rng(42)
    qtype = gguf.GGMLQuantizationType.BF16 if dtype == "bf16" else gguf.GGMLQuantizationType.F32

    # (name, rows, cols); cols == 0 for a 1-D norm vector. numpy shape is (rows, cols) = HF's [out, in].
    tensors = [("token_embd.weight", VOCAB, DIM)]
    for i in range(layers):
        b = f"blk.{i}."
        tensors += [(b + "attn_norm.weight", DIM, 0), (b + "attn_q.weight", HEADS * hd, DIM),
                    (b + "attn_k.weight", KV_HEADS * hd, DIM), (b + "attn_v.weight", KV_HEADS * hd, DIM),
                    (b + "attn_output.weight", DIM, HEADS * hd), (b + "ffn_norm.weight", DIM, 0),
                    (b + "ffn_gate.weight", FF, DIM), (b + "ffn_up.weight", FF, DIM),
                    (b + "ffn_down.weight", DIM, FF)]
    tensors += [("output_norm.weight", DIM, 0), ("output.weight", VOCAB, DIM)]

    w = gguf.GGUFWriter(out, "llama")
    w.add_name(f"random {'tiny' if DIM == 512 else 'tinyllama-1.1b'} shape, {layers} layers, {dtype}")
    w.add_context_length(CTX)
    w.add_embedding_length(DIM)
    w.add_block_count(layers)
    w.add_feed_forward_length(FF)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(hd)
    w.add_rope_freq_base(10000.0)
    w.add_vocab_size(VOCAB)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_BF16 if dtype == "bf16" else gguf.LlamaFileType.ALL_F32)
    toks = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + [gguf.TokenType.BYTE] * 256
    toks += [f"tok{i}" for i in range(len(toks), VOCAB)]
    types += [gguf.TokenType.NORMAL] * (VOCAB - len(types))
    w.add_tokenizer_model("llama")
    w.add_token_list(toks)
    w.add_token_scores([0.0] * VOCAB)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)

    def make(rows, cols):
        if cols == 0:  # RMSNorm weight: ones, always f32
            return np.ones(rows, dtype=np.float32)
        a = np.sqrt(3.0 / cols)  # uniform on [-a, a] has std 1/sqrt(cols)
        t = rng.uniform(-a, a, size=(rows, cols)).astype(np.float32)
        return gguf.quants.quantize(t, qtype) if qtype != gguf.GGMLQuantizationType.F32 else t

    # tensor infos first (sizes only), then the data one tensor at a time
    for name, rows, cols in tensors:
        if cols == 0 or qtype == gguf.GGMLQuantizationType.F32:
            shape, nbytes = ((rows,) if cols == 0 else (rows, cols)), rows * max(cols, 1) * 4
            w.add_tensor_info(name, shape, np.dtype(np.float32), nbytes)
        else:
            w.add_tensor_info(name, (rows, cols * 2), np.dtype(np.uint8), rows * cols * 2, raw_dtype=qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    for name, rows, cols in tensors:
        w.write_tensor_data(make(rows, cols))
    w.close()


if __name__ == "__main__":
    main(sys.argv)
