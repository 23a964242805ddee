#!/usr/bin/env bash
# CLI tests for `lmc bench` options that bench/peer.sh relies on: --layers L builds the shape with L layers
# (parameters counted accordingly, the JSON written), and is refused with --model or out of range; --weights q4_k
# under int8 compute, refused without it.
cd "$(dirname "$0")/.." && . tests/lib_cli.sh
if [ ! -x "$LMC" ]; then
    skip bench_layers "needs ./lmc"
    cli_summary
    exit $?
fi

# TinyLlama's shape with 1 layer: 2·32000·2048 embedding/lm_head + one layer's 44040192 + 2 norms = 0.175 B
out=$($LMC bench --shape tinyllama-1.1b --layers 1 --block-size 8 --stride 8 --windows 1 --threads 1 \
      --json "$TMP/b.json" 2>&1); rc=$?
if [ $rc -ne 0 ]; then fail bench_layers "exit $rc: $out"
elif ! printf '%s\n' "$out" | grep -q '^lmc bench: tinyllama-1.1b with 1 layer (LlamaForCausalLM, 175.1 M parameters)'; then
    fail bench_layers "header: $(printf '%s\n' "$out" | head -1)"
elif ! grep -q '"window_tokens_per_s"' "$TMP/b.json"; then fail bench_layers "no window_tokens_per_s in the JSON"
else pass bench_layers; fi

# usage errors: exit 2, one line: the reason first, then the usage line
check_usage() {
    local name=$1 needle=$2; shift 2
    local err rc
    err=$($LMC bench "$@" 2>&1 >/dev/null); rc=$?
    if [ $rc -ne 2 ]; then fail "$name" "exit $rc (expected 2): $err"
    elif [ "$(printf '%s\n' "$err" | grep -c .)" -ne 1 ]; then fail "$name" "expected one line: $err"
    else case "$err" in "lmc: $needle (usage: lmc bench "*) pass "$name" ;; *) fail "$name" "stderr: $err" ;; esac; fi
}
check_usage bench_layers_zero "--layers must be 1..1000, not '0'" --shape tinyllama-1.1b --layers 0
check_usage bench_layers_word "--layers must be 1..1000, not 'two'" --shape tinyllama-1.1b --layers two
check_usage bench_layers_model "--layers applies to --shape only" --model demo-model --layers 2
check_usage bench_weights_q_f32 "--weights q8_0|q4_0|q4_k|q6_k needs --dtype int8" --shape tinyllama-1.1b --weights q4_k
check_usage bench_weights_model "--weights applies to --shape only" --model demo-model --dtype int8 --weights q8_0

# int8 with quantized weights: the layer matrices held as Q4_K, the int8 peak and path named in the JSON
out=$($LMC bench --shape tinyllama-1.1b --layers 1 --block-size 16 --stride 16 --windows 1 --threads 1 --dtype int8 \
      --weights q4_k --json "$TMP/q.json" 2>&1); rc=$?
if [ $rc -ne 0 ]; then fail bench_int8_q4k "exit $rc: $out"
elif ! printf '%s\n' "$out" | grep -q 'weights Q4_K (from BF16), compute int8'; then
    fail bench_int8_q4k "header: $(printf '%s\n' "$out" | head -1)"
elif ! grep -q '"int8_activation_block":	32' "$TMP/q.json"; then fail bench_int8_q4k "no int8_activation_block in the JSON"
else pass bench_int8_q4k; fi
cli_summary
