#!/usr/bin/env bash
# tests/data/gguf/make.sh — regenerates the GGUF test files (committed; `make test` never runs this).
#
# Needs /usr/bin/python3 with numpy, llama.cpp's gguf-py and its llama-quantize (bench/peer.sh builds both under
# /tmp/lmc-peer/llama.cpp; override with LLAMA_CPP=...). Writes, next to this script:
#   llama-hf/, gpt2-hf/        random-weight HF checkpoints, BF16 safetensors (make_models.py)
#   llama-f32.gguf, gpt2-f32.gguf   the same weights as llama.cpp's converter writes them, F32 (tools/hf_to_gguf.py);
#                                   the Llama files carry stories260K's tok512.bin as a SentencePiece vocabulary
#                                   (tokenizer.ggml.*, from $LMC_SHARED), the GPT-2 files no vocabulary
#   llama-q8_0.gguf, llama-q4_0.gguf, gpt2-q8_0.gguf   made from the F32 files by llama.cpp's llama-quantize
set -euo pipefail
cd "$(dirname "$0")"
LLAMA_CPP=${LLAMA_CPP:-/tmp/lmc-peer/llama.cpp}
export PYTHONPATH=$LLAMA_CPP/gguf-py
/usr/bin/python3 make_models.py .
SHARED=${LMC_SHARED:-../../../../shared}
/usr/bin/python3 ../../../tools/hf_to_gguf.py llama-hf llama-f32.gguf \
    --llama2c-vocab "$SHARED/models/stories260K/tok512.bin" >/dev/null
/usr/bin/python3 ../../../tools/hf_to_gguf.py gpt2-hf gpt2-f32.gguf >/dev/null
q() { "$LLAMA_CPP/build-native/bin/llama-quantize" "$1-f32.gguf" "$1-$2.gguf" "$3" >/dev/null 2>&1; }
q llama q8_0 Q8_0
q llama q4_0 Q4_0
q gpt2 q8_0 Q8_0
ls -l ./*.gguf ./*-hf/*
