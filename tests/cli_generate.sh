#!/usr/bin/env bash
# CLI tests for `lmc generate` on the demo model: the same seed gives the same text and another seed other
# text, greedy (--temperature 0) is deterministic and ignores the seed, the prompt comes first on stdout and the
# speed line on stderr, bad flags are usage errors (exit 2); then the other architectures (below).
cd "$(dirname "$0")/.." && . tests/lib_cli.sh
if [ ! -x "$LMC" ] || [ ! -f demo-model/config.json ]; then
    skip generate "needs ./lmc and demo-model/"
    cli_summary
    exit $?
fi
gen() { $LMC generate --model demo-model --prompt "The Debian project" -n 24 --threads 1 "$@"; }

gen --seed 7 >"$TMP/a" 2>"$TMP/a.err"; ra=$?
gen --seed 7 >"$TMP/b" 2>/dev/null; rb=$?
gen --seed 8 >"$TMP/c" 2>/dev/null; rc=$?
if [ $ra -ne 0 ] || [ $rb -ne 0 ] || [ $rc -ne 0 ]; then fail generate_seed "exit $ra/$rb/$rc: $(cat "$TMP/a.err")"
elif ! cmp -s "$TMP/a" "$TMP/b"; then fail generate_seed "seed 7 gave two texts"
elif cmp -s "$TMP/a" "$TMP/c"; then fail generate_seed "seeds 7 and 8 gave the same text"
elif [ "$(head -c 18 "$TMP/a")" != "The Debian project" ]; then fail generate_seed "stdout does not start with the prompt"
elif [ "$(wc -c <"$TMP/a")" -le 30 ]; then fail generate_seed "no continuation: $(cat "$TMP/a")"
elif ! grep -Eq '^lmc: 24 tokens in [0-9.]+ s \([0-9.]+ tokens/s, stopped: -n reached\); prompt [0-9]+ tokens in .*; seed 7;' "$TMP/a.err"
then fail generate_seed "stderr: $(cat "$TMP/a.err")"
else pass generate_seed; fi

gen --temperature 0 --seed 1 >"$TMP/g1" 2>/dev/null; r1=$?
gen --temperature 0 --seed 2 --top-p 0.5 >"$TMP/g2" 2>"$TMP/g2.err"; r2=$?
if [ $r1 -ne 0 ] || [ $r2 -ne 0 ]; then fail generate_greedy "exit $r1/$r2"
elif ! cmp -s "$TMP/g1" "$TMP/g2"; then fail generate_greedy "greedy text depends on the seed or top-p"
elif ! grep -q '; greedy;' "$TMP/g2.err"; then fail generate_greedy "stderr: $(cat "$TMP/g2.err")"
else pass generate_greedy; fi

# usage errors: exit 2, one line naming the problem, nothing on stdout
usage() {
    local name=$1 needle=$2; shift 2
    local out err rc
    out=$($LMC generate "$@" 2>"$TMP/u.err"); rc=$?
    err=$(cat "$TMP/u.err")
    if [ $rc -ne 2 ]; then fail "$name" "exit $rc (expected 2): $err"
    elif [ -n "$out" ]; then fail "$name" "stdout: $out"
    elif [ "$err" != "lmc: $needle (usage: $GEN_USAGE; see lmc generate --help)" ]; then fail "$name" "stderr: $err"
    else pass "$name"; fi
}
GEN_USAGE="lmc generate --model MODEL --prompt TEXT [-n N] [--temperature T] [--top-p P] [--seed S]"
usage generate_no_prompt "generate needs --model and --prompt" --model demo-model
usage generate_bad_n "-n must be 1..1000000, not '0'" --model demo-model --prompt x -n 0
usage generate_bad_temp "--temperature must be a number in 0..100, not 'hot'" --model demo-model --prompt x --temperature hot
usage generate_bad_top_p "--top-p must be a number in 0..1, not '1.5'" --model demo-model --prompt x --top-p 1.5
usage generate_zero_top_p "--top-p must be more than 0 (1: no nucleus cut), not '0'" --model demo-model --prompt x --top-p 0
usage generate_unknown "unknown option '--bogus' for generate" --model demo-model --prompt x --bogus
usage generate_missing "--seed needs a value" --model demo-model --prompt x --seed
usage generate_bad_dtype "--dtype must be f32, bf16 or int8, not 'f16'" --model demo-model --prompt x --dtype f16

# Every architecture generates (a KV-cache step each). The self-trained GPT-2 (learned positions): greedy text
# is the same twice and under --threads 2, bf16 compute runs, and a sequence beyond its 256 positions is
# refused before anything is printed.
G=$SHARED/models/selftrained-gpt2-tiny
if need_shared models/selftrained-gpt2-tiny/config.json; then
    g2() { $LMC generate --model "$G" --prompt "Once upon a time" -n 24 --temperature 0 "$@"; }
    g2 --threads 1 >"$TMP/n1" 2>"$TMP/n1.err"; r1=$?
    g2 --threads 2 >"$TMP/n2" 2>/dev/null; r2=$?
    g2 --threads 1 --dtype bf16 >"$TMP/nb" 2>"$TMP/nb.err"; rb=$?
    if [ $r1 -ne 0 ] || [ $r2 -ne 0 ] || [ $rb -ne 0 ]; then
        fail generate_gpt2 "exit $r1/$r2/$rb: $(cat "$TMP/n1.err" "$TMP/nb.err")"
    elif ! cmp -s "$TMP/n1" "$TMP/n2"; then fail generate_gpt2 "greedy text differs between 1 and 2 threads"
    elif [ "$(head -c 16 "$TMP/n1")" != "Once upon a time" ] || [ "$(wc -c <"$TMP/n1")" -le 30 ]; then
        fail generate_gpt2 "stdout: $(cat "$TMP/n1")"
    elif ! grep -Eq '^lmc: 24 tokens in .*; greedy; KV cache 2.0 KB per token$' "$TMP/n1.err"; then
        fail generate_gpt2 "stderr: $(cat "$TMP/n1.err")"
    elif [ "$(head -c 16 "$TMP/nb")" != "Once upon a time" ]; then fail generate_gpt2 "bf16 stdout: $(cat "$TMP/nb")"
    else pass generate_gpt2; fi
    expect_fail generate_gpt2_positions "a sequence of 304 tokens exceeds the model's 256 learned positions" \
        $LMC generate --model "$G" --prompt "Once upon a time" -n 300
else skip generate_gpt2 "shared reference models/selftrained-gpt2-tiny not found (set LMC_SHARED)"; fi

for f in qwen2 mixtral falcon7b falcon40b qwen1 deepseek_v2 gptneox; do
    if need_shared fixtures/arch/$f/model/config.json; then
        out=$($LMC generate --model "$SHARED/fixtures/arch/$f/model" --prompt "Hello world" -n 4 --temperature 0 \
              --threads 1 2>"$TMP/f.err"); rc=$?
        if [ $rc -ne 0 ]; then fail "generate_$f" "exit $rc: $(cat "$TMP/f.err")"
        elif [ "${out#Hello world}" = "$out" ]; then fail "generate_$f" "stdout: $out"
        elif ! grep -q '^lmc: 4 tokens in' "$TMP/f.err"; then fail "generate_$f" "stderr: $(cat "$TMP/f.err")"
        else pass "generate_$f"; fi
    else skip "generate_$f" "shared reference fixtures/arch/$f not found (set LMC_SHARED)"; fi
done
cli_summary
