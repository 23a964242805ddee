#!/usr/bin/python3
"""Writes tests/data/dequant.gguf: the fixture of tests/test_gguf.c (committed; rerun only to change it).

  PYTHONPATH=$PEER_DIR/llama.cpp/gguf-py /usr/bin/python3 tests/data/make_dequant_gguf.py

It is written by llama.cpp's own gguf-py (the llama.cpp of bench/peer.sh: node-llama-cpp@3.22.1's bundle), so
it tests lmc's reader against the reference writer, and its expected values are gguf-py's numpy dequantizers,
an implementation independent of lmc's C code:

- one tensor per type lmc dequantizes (F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K, Q5_0), several rows each, whose blocks
  are random bytes (every scale and quant bit pattern occurs, not just those a quantizer would choose) with
  finite f16 block scales; next to each, NAME.expected (F32, same shape): gguf-py's dequantization of it;
- an F32 tensor, and metadata of every value type, arrays of numbers, bools and strings (UTF-8 included),
  each holding known values the test checks; general.alignment = 64 (not the default 32).
"""
import os
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as Q
from gguf import GGUFValueType as V

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "dequant.gguf")
rng = np.random.default_rng(20261204)


def f16_bytes(vals):
    return np.asarray(vals, dtype=np.float16).view(np.uint8)


def random_blocks(qtype, rows, row_len):
    block, nbytes = gguf.GGML_QUANT_SIZES[qtype]
    nb = rows * row_len // block
    b = rng.integers(0, 256, size=(nb, nbytes), dtype=np.uint8)
    # block scales: finite f16 (a random bit pattern could be Inf/NaN, which says nothing about the layout)
    scales = lambda n: f16_bytes(rng.uniform(-2, 2, size=n)).reshape(n, 2)
    if qtype in (Q.Q8_0, Q.Q4_0, Q.Q5_0):
        b[:, 0:2] = scales(nb)
    elif qtype == Q.Q4_K:
        b[:, 0:2] = scales(nb)  # d
        b[:, 2:4] = scales(nb)  # dmin
    elif qtype == Q.Q6_K:
        b[:, 208:210] = scales(nb)  # d comes last
    return b.reshape(rows, row_len // block * nbytes)


def main():
    w = gguf.GGUFWriter(OUT, "lmc-test")
    w.add_custom_alignment(64)
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_float32("test.f32", 0.15625)
    w.add_uint64("test.u64", 18000000000000000000)
    w.add_int64("test.i64", -9000000000000000000)
    w.add_float64("test.f64", -2.5e-300)
    w.add_bool("test.bool", True)
    w.add_string("test.str", "héllo wörld ✓")
    w.add_key_value("test.arr_i32", [1, -2, 3, -4, 5], V.ARRAY, sub_type=V.INT32)
    w.add_key_value("test.arr_f32", [0.5, -1.25, 3.0], V.ARRAY, sub_type=V.FLOAT32)
    w.add_key_value("test.arr_bool", [True, False, True], V.ARRAY, sub_type=V.BOOL)
    w.add_key_value("test.arr_str", ["<s>", "", "▁the", "日本"], V.ARRAY, sub_type=V.STRING)

    f32 = np.arange(-6, 6, dtype=np.float32).reshape(3, 4) / 4
    w.add_tensor("f32", f32)
    # 16-bit floats: random finite values plus zeros, subnormals, the largest finite values and infinities
    special16 = np.array([0x0000, 0x8000, 0x0001, 0x83ff, 0x7bff, 0xfbff, 0x7c00, 0xfc00], dtype=np.uint16)
    h = np.concatenate([special16, rng.integers(0, 0x7c00, size=88, dtype=np.uint16) |
                        (rng.integers(0, 2, size=88, dtype=np.uint16) << 15)]).reshape(3, 32)
    w.add_tensor("f16", h.view(np.float16))
    w.add_tensor("f16.expected", h.view(np.float16).astype(np.float32))
    specialb = np.array([0x0000, 0x8000, 0x0001, 0x807f, 0x7f7f, 0xff7f, 0x7f80, 0xff80], dtype=np.uint16)
    bb = np.concatenate([specialb, rng.integers(0, 0x7f80, size=88, dtype=np.uint16) |
                         (rng.integers(0, 2, size=88, dtype=np.uint16) << 15)]).reshape(3, 32)
    w.add_tensor("bf16", bb.view(np.uint8), raw_dtype=Q.BF16)
    w.add_tensor("bf16.expected", gguf.quants.dequantize(bb.view(np.uint8), Q.BF16))
    # Q5_0 last, so that the random draws of the others stay those of the earlier fixture
    for qtype, rows, row_len in ((Q.Q8_0, 3, 64), (Q.Q4_0, 3, 64), (Q.Q4_K, 2, 512), (Q.Q6_K, 2, 512), (Q.Q5_0, 3, 64)):
        b = random_blocks(qtype, rows, row_len)
        name = qtype.name.lower()
        w.add_tensor(name, b, raw_dtype=qtype)
        exp = gguf.quants.dequantize(b, qtype)
        assert exp.shape == (rows, row_len) and exp.dtype == np.float32 and np.isfinite(exp).all()
        w.add_tensor(name + ".expected", exp)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{OUT}: {os.path.getsize(OUT)} bytes")


if __name__ == "__main__":
    sys.exit(main())
