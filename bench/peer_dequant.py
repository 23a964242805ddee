#!/usr/bin/python3
"""Compares lmc's dequantization of a GGUF file (bench_dequant's dump) with gguf-py's, bit for bit.

  peer_dequant.py FILE.gguf DUMP.bin

DUMP.bin is `build/bench/bench_dequant FILE.gguf DUMP.bin`; gguf-py (llama.cpp's, on PYTHONPATH) reads FILE.gguf
with its own reader and dequantizes every tensor with its numpy code. Prints one line per file with the count
of identical and differing tensors per type; exits 1 when any differs or is missing from the dump.
"""
import sys

import numpy as np
import gguf


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: peer_dequant.py FILE.gguf DUMP.bin")
    blob = open(argv[2], "rb").read()
    mine, p = {}, 0
    while p < len(blob):
        e = blob.index(b"\n", p)
        name = blob[p:e].decode()
        e2 = blob.index(b"\n", e + 1)
        n = int(blob[e + 1:e2])
        mine[name] = np.frombuffer(blob, dtype=np.float32, count=n, offset=e2 + 1)
        p = e2 + 1 + 4 * n
    counts, bad = {}, 0
    for t in gguf.GGUFReader(argv[1]).tensors:
        ref = np.ascontiguousarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(-1)
        got = mine.get(t.name)
        same = got is not None and got.size == ref.size and np.array_equal(got.view(np.uint32), ref.view(np.uint32))
        c = counts.setdefault(t.tensor_type.name, [0, 0])
        c[0 if same else 1] += 1
        if not same:
            bad += 1
            what = "missing from the dump" if got is None else "max |diff| %g" % np.abs(got - ref).max()
            print(f"  {t.name} ({t.tensor_type.name}): differs from gguf-py, {what}")
    print(f"{argv[1]}: " + ", ".join(f"{k} {v[0]} identical" + (f" {v[1]} DIFFERENT" if v[1] else "")
                                       for k, v in counts.items()))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
