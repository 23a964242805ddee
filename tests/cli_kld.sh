#!/usr/bin/env bash
# CLI tests for `lmc kld`: the statistics printed and written as JSON (a model against itself: exactly 0; a
# quantized GGUF against its F32 base: positive, consistent), progress on stderr, and the one-line refusals
# (missing options, different tokenizers, a bad data file) that leave no partial JSON behind.
cd "$(dirname "$0")/.." && . tests/lib_cli.sh

GG=tests/data/gguf
# two short documents cut from the demo corpus (the whole of it takes minutes on two models)
python3 -c 'import json, sys
for line in list(open("demo-data/cc.jsonl"))[:2]: print(json.dumps({"content": json.loads(line)["content"][:1500]}))' >"$TMP/cc.jsonl"
SMALL="--data $TMP/cc.jsonl --block-size 64 --stride 32"

# a model against itself: every divergence exactly 0, Same top p 100 %
if $LMC kld --base demo-model --model demo-model $SMALL -q --json "$TMP/self.json" >"$TMP/self.txt" 2>"$TMP/err"; then
    if python3 - "$TMP/self.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
assert r["kld"]["mean"] == 0 and r["kld"]["max"] == 0 and r["jsd"]["max"] == 0 and r["kld_reverse"]["max"] == 0
assert r["same_top_p"]["est"] == 1 and r["top5_overlap"]["est"] == 1 and r["delta_bpc"]["est"] == 0
assert r["bpc_base"] == r["bpc_model"] > 0
PY
    then pass kld_self_zero; else fail kld_self_zero "$(cat "$TMP/self.json")"; fi
    grep -q "^Same top p: 100.000 ± 0.000 %" "$TMP/self.txt" && pass kld_self_text || fail kld_self_text "$(cat "$TMP/self.txt")"
else
    fail kld_self_zero "$(cat "$TMP/err")"
fi

# Q4_0 against its F32 base: llama-perplexity's lines, percentiles in order, the JSON agreeing with the text
if LMC_PROGRESS_INTERVAL=0 $LMC kld --base $GG/llama-f32.gguf --model $GG/llama-q4_0.gguf $SMALL \
        --json "$TMP/q4.json" >"$TMP/q4.txt" 2>"$TMP/q4.err"; then
    ok=1
    for line in "Mean PPL(Q) " "Mean PPL(base) " "Cor(ln(PPL(Q)), ln(PPL(base)))" "Mean ln(PPL(Q)/PPL(base))" \
                "Mean PPL(Q)/PPL(base)" "Mean PPL(Q)-PPL(base)" "Mean    KLD" "99.9%   KLD" "Median  KLD" \
                "0.1%    KLD" "Minimum KLD" "Mean    Δp" "RMS Δp" "Same top p" "Mean KL(Q‖base)" "Mean JSD" \
                "Top-5 overlap" "bits per byte" "bits per char" "ΔBPC Q − base"; do
        grep -qF "$line" "$TMP/q4.txt" || { ok=0; fail kld_lines "missing '$line'"; }
    done
    [ $ok = 1 ] && pass kld_lines
    if python3 - "$TMP/q4.json" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); r0 = j["results"][0]
assert r0["mode"] == "exact" and j["base"].endswith("llama-f32.gguf")
r = j["results"][0]
k = r["kld"]; p = [k["percentiles"][x] for x in ("99.9", "99", "95", "90", "50", "10", "5", "1", "0.1")]
assert k["max"] >= p[0] and all(a >= b for a, b in zip(p, p[1:])) and p[-1] >= k["min"] >= 0, k
assert 0 < k["mean"] < k["max"] and 0 < r["jsd"]["mean"] <= r["kld"]["mean"]
assert 0 < r["same_top_p"]["est"] < 1 and r["same_top_p"]["se"] > 0
d = r["delta_bpc"]; assert d["lo95"] <= d["est"] <= d["hi95"] and abs(d["est"] - (r["bpc_model"] - r["bpc_base"])) < 1e-12
assert abs(r["kld_bits_per_char"]["est"] * r["chars"] - r["kld_bits_per_byte"] * r["bytes"]) < 1e-9 * r["chars"]
assert r["scored_tokens"] == 64 + (r["windows"] - 1) * 32
PY
    then pass kld_json; else fail kld_json "fields inconsistent"; fi
    grep -q "window .*mean KLD" "$TMP/q4.err" && grep -q "memory: weights" "$TMP/q4.err" && pass kld_progress ||
        fail kld_progress "$(cat "$TMP/q4.err")"
else
    fail kld_lines "$(cat "$TMP/q4.err")"
fi

# --save-base / --base-file: the file's size, the same Same top p and a KLD no larger than the exact one
if $LMC kld -q --base $GG/llama-f32.gguf --save-base "$TMP/base.kb" --top-k 16 $SMALL >"$TMP/save.txt" 2>"$TMP/err" &&
   $LMC kld -q --base-file "$TMP/base.kb" --model $GG/llama-q4_0.gguf $SMALL --json "$TMP/st.json" >/dev/null 2>"$TMP/err"; then
    if python3 - "$TMP/st.json" "$TMP/q4.json" "$TMP/base.kb" <<'PY'
import json, os, sys
s = json.load(open(sys.argv[1]))["results"][0]; e = json.load(open(sys.argv[2]))["results"][0]
assert s["mode"] == "stored" and s["top_k"] == 16
assert os.path.getsize(sys.argv[3]) == s["base_file_bytes"] == 256 + (8 + 8 * 16) * s["scored_tokens"]
assert 0 < s["kld"]["mean"] <= e["kld"]["mean"] and s["same_top_p"]["est"] == e["same_top_p"]["est"]
assert abs(s["delta_bpc"]["est"] - e["delta_bpc"]["est"]) < 1e-6
PY
    then pass kld_base_file; else fail kld_base_file "stored and exact results disagree"; fi
    grep -q "wrote .*base.kb: .* scored tokens, top 16" "$TMP/save.txt" && pass kld_save_says || fail kld_save_says "$(cat "$TMP/save.txt")"
else
    fail kld_base_file "$(cat "$TMP/err")"
fi
expect_fail kld_save_no_model "runs the base only" $LMC kld --base demo-model --model demo-model --save-base "$TMP/x" $SMALL
expect_fail kld_file_no_base "stands for the base" $LMC kld --base demo-model --base-file "$TMP/x" $SMALL
expect_fail kld_file_other_stride "--stride 32" $LMC kld -q --base-file "$TMP/base.kb" --model $GG/llama-q4_0.gguf \
    --data "$TMP/cc.jsonl" --block-size 64 --stride 16

# --checkpoint: a rerun resumes every window and writes the same statistics
if $LMC kld -q --base $GG/llama-f32.gguf --model $GG/llama-q4_0.gguf $SMALL --checkpoint "$TMP/ck" \
        --json "$TMP/ck1.json" >/dev/null 2>"$TMP/err" &&
   $LMC kld -q --base $GG/llama-f32.gguf --model $GG/llama-q4_0.gguf $SMALL --checkpoint "$TMP/ck" \
        --json "$TMP/ck2.json" >/dev/null 2>"$TMP/ck.err"; then
    if grep -q "windows resumed from the checkpoint" "$TMP/ck.err" && python3 - "$TMP/ck1.json" "$TMP/ck2.json" <<'PY'
import json, sys
a, b = (json.load(open(p))["results"][0] for p in sys.argv[1:])
assert b["resumed_windows"] == b["windows"] > 0 and a["resumed_windows"] == 0
for k in a:
    if k not in ("seconds", "resumed_windows"): assert a[k] == b[k], k
PY
    then pass kld_checkpoint_resume; else fail kld_checkpoint_resume "$(cat "$TMP/ck.err")"; fi
else
    fail kld_checkpoint_resume "$(cat "$TMP/err")"
fi
expect_fail kld_checkpoint_other "another comparison" $LMC kld -q --base $GG/llama-f32.gguf \
    --model $GG/llama-q8_0.gguf $SMALL --checkpoint "$TMP/ck"

# the stride's default is eval's (512, or W when W < 512): `-w 48` alone scores the windows `lmc eval -w 48` scores
if $LMC kld -q --base demo-model --model demo-model --data "$TMP/cc.jsonl" -w 48 --json "$TMP/w48.json" >/dev/null 2>"$TMP/err" &&
   $LMC eval -q --model demo-model --data "$TMP/cc.jsonl" -w 48 --json "$TMP/e48.json" >/dev/null 2>"$TMP/err"; then
    if python3 - "$TMP/w48.json" "$TMP/e48.json" <<'PY'
import json, sys
k, e = (json.load(open(p))["results"][0] for p in sys.argv[1:])
assert k["block_size"] == e["block_size"] == 48 and k["stride"] == e["stride"] == 48, (k["stride"], e["stride"])
assert k["windows"] == e["windows"] > 1 and k["scored_tokens"] == e["scored_tokens"]
assert abs(k["bpc_base"] - e["bpc"]) < 1e-7 * e["bpc"]
PY
    then pass kld_default_stride; else fail kld_default_stride "kld's windows differ from eval's"; fi
else
    fail kld_default_stride "$(cat "$TMP/err")"
fi
expect_fail kld_stride_exceeds "--stride 64 exceeds --block-size 48" $LMC kld -q --base demo-model --model demo-model \
    --data "$TMP/cc.jsonl" -w 48 --stride 64

# refusals: one line, non-zero, no JSON left behind
expect_fail kld_needs_base "kld needs --base" $LMC kld --model demo-model --data demo-data/cc.jsonl
expect_fail kld_needs_data "--data" $LMC kld --base demo-model --model demo-model
expect_fail kld_tokenizers "same tokens only" $LMC kld -q --base $GG/llama-f32.gguf --model $GG/llama-q8_0.gguf \
    --tokenizer demo-model $SMALL --json "$TMP/bad.json"
[ ! -e "$TMP/bad.json" ] && pass kld_no_partial_json || fail kld_no_partial_json "a JSON was written"
printf '{"content": "ok"}\n{"content": 3\n' >"$TMP/broken.jsonl"
expect_fail kld_bad_data "broken.jsonl" $LMC kld -q --base demo-model --model demo-model --data "$TMP/broken.jsonl"
expect_fail kld_vocab "vocabulary" $LMC kld -q --base demo-model --model $GG/llama-q8_0.gguf --tokenizer demo-model $SMALL
cli_summary
