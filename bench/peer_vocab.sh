#!/usr/bin/env bash
# bench/peer_vocab.sh — lmc's GGUF tokenizer on llama.cpp's own vocabulary files: a check, not a test (`make
# test` does not run it; the files come with llama.cpp's source, which bench/peer.sh fetches into PEER_DIR).
#
#   bench/peer_vocab.sh          # from the repository root, after bench/peer.sh has fetched llama.cpp once
#
# 1. cases:   for every $PEER_DIR/llama.cpp/models/ggml-vocab-*.gguf with a .out file (llama.cpp's converter
#             wrote the .gguf; the .out holds HF AutoTokenizer's ids for the texts of the .inp, without special
#             tokens), lmc tokenizes each text through lmc_tokenizer_open(the .gguf) and prints: cases, matches,
#             and the first mismatching case. Vocabularies whose model or pre lmc does not support print the error.
# 2. compare: where ../shared/tokenizers (LMC_SHARED) has the same tokenizer, the GGUF the tests write from its
#             tokenizer.json (tests/hf_vocab_gguf.h) is compared with llama.cpp's file: tokens, types, merges,
#             score order, special ids and flags, and the ids both give on the .inp texts.
# Environment: PEER_DIR (default /tmp/lmc-peer), LMC_SHARED (default ../shared).
# Exit status: 0 when every supported vocabulary matches every case and every comparison gives the same ids.
set -euo pipefail

PEER_DIR=${PEER_DIR:-/tmp/lmc-peer}
LMC_SHARED=${LMC_SHARED:-../shared}
MODELS=$PEER_DIR/llama.cpp/models
if ! ls "$MODELS"/ggml-vocab-*.gguf >/dev/null 2>&1; then
    echo "peer_vocab: no llama.cpp vocab files in $MODELS (run bench/peer.sh once to fetch llama.cpp)" >&2
    exit 2
fi
make --no-print-directory build/bench/peer_vocab_check >/dev/null
CHECK=build/bench/peer_vocab_check
status=0

printf '%-34s %5s %7s\n' vocab cases matches
for out in "$MODELS"/ggml-vocab-*.gguf.out; do
    rc=0
    "$CHECK" cases "${out%.out}" || rc=$?
    # 3: a model or pre lmc does not support, reported in the table but not a failure
    if [ $rc -eq 1 ] || [ $rc -eq 2 ]; then status=1; fi
done

echo
for pair in gpt-2:gpt2:gpt-2 llama-spm:llama2:default llama-bpe:llama3_1:llama-bpe qwen2:qwen2:qwen2 \
            falcon:falcon:falcon deepseek-llm:deepseek_llm:deepseek-llm; do
    IFS=: read -r vocab family pre <<<"$pair"
    [ -d "$LMC_SHARED/tokenizers/$family" ] || { echo "($LMC_SHARED/tokenizers/$family not found: skipped)"; continue; }
    "$CHECK" compare "$MODELS/ggml-vocab-$vocab.gguf" "$LMC_SHARED/tokenizers/$family" "$pre" || status=1
done
exit $status
