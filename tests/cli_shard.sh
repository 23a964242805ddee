#!/usr/bin/env bash
# CLI tests for `lmc eval --shard I/N` and `lmc merge` (no MPI needed): merged shards give the single run's
# exact NLL; missing, duplicate and foreign parts are refused with a message naming them.
cd "$(dirname "$0")/.." && . tests/lib_cli.sh
A="--model demo-model --data demo-data/cc.jsonl --file-num 3 --block-size 128 --stride 64 --threads 1 --quiet"
bits() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['results'][0]['nll_bits'])" "$1"; }

if ! $LMC eval $A --json "$TMP/one.json" >/dev/null 2>"$TMP/err"; then
    fail shard_reference_run "$(cat "$TMP/err")"; cli_summary; exit
fi
ref=$(bits "$TMP/one.json")

# --- 1/1: one shard is the whole run ---
if $LMC eval $A --shard 1/1 --json "$TMP/s11.json" >/dev/null 2>"$TMP/err" &&
   $LMC merge "$TMP/s11.json" --json "$TMP/m11.json" >/dev/null 2>>"$TMP/err"; then
    got=$(bits "$TMP/m11.json")
    [ "$got" = "$ref" ] && pass shard_1_of_1_bit_identical || fail shard_1_of_1_bit_identical "$got vs $ref"
else
    fail shard_1_of_1_bit_identical "$(cat "$TMP/err")"
fi

# --- 3 shards, merged in any order: the single run's bits, and the same BPC in the table ---
ok=1
for i in 1 2 3; do $LMC eval $A --shard $i/3 --json "$TMP/p$i.json" >/dev/null 2>"$TMP/err" || ok=0; done
if [ $ok = 1 ] && $LMC merge "$TMP/p3.json" "$TMP/p1.json" "$TMP/p2.json" --json "$TMP/m3.json" >"$TMP/table" 2>"$TMP/err"; then
    got=$(bits "$TMP/m3.json")
    if [ "$got" = "$ref" ] && python3 - "$TMP/m3.json" "$TMP/one.json" <<'PY'
import json, sys
m, o = (json.load(open(p))["results"][0] for p in sys.argv[1:])
assert "shard" not in m and m["merged_shards"] == 3, m.keys()
for k in ("bpc", "bpb", "nll", "token_ppl", "chars", "bytes", "tokens", "windows", "scored_tokens", "zlib_bpc"):
    assert m[k] == o[k], (k, m[k], o[k])
PY
    then pass shard_3_merged_bit_identical; else fail shard_3_merged_bit_identical "$got vs $ref"; fi
else
    fail shard_3_merged_bit_identical "$(cat "$TMP/err")"
fi
# a partial result is not a result: its BPC is null, the parts' windows are disjoint and cover all
python3 - "$TMP"/p1.json "$TMP"/p2.json "$TMP"/p3.json <<'PY' && pass shard_parts_partition || fail shard_parts_partition "windows overlap or leave gaps"
import json, sys
ws = [json.load(open(p))["results"][0] for p in sys.argv[1:]]
assert all(w["bpc"] is None for w in ws)
ks = sorted(k for w in ws for k in w["shard"]["windows"])
assert ks == list(range(ws[0]["windows"])), ks[:10]
PY

# --- refusals ---
expect_fail merge_missing_shard "shard 2/3 missing" $LMC merge "$TMP/p1.json" "$TMP/p3.json" --json "$TMP/x.json"
expect_fail merge_duplicate_part "also in" $LMC merge "$TMP/p1.json" "$TMP/p2.json" "$TMP/p2.json" "$TMP/p3.json" --json "$TMP/x.json"
expect_fail merge_complete_result "not a shard's partial" $LMC merge "$TMP/one.json" --json "$TMP/x.json"
$LMC eval $A --shard 1/2 --json "$TMP/h1.json" >/dev/null 2>&1
expect_fail merge_other_shard_count "one of 3 shards" $LMC merge "$TMP/p1.json" "$TMP/h1.json" --json "$TMP/x.json"
# a part from another model: the demo model with f32 weights (same config, other tensors)
if $LMC convert demo-model -o "$TMP/f32.safetensors" --dtype f32 2>/dev/null &&
   $LMC eval ${A/demo-model/$TMP/f32.safetensors} --shard 2/3 --json "$TMP/f2.json" >/dev/null 2>"$TMP/err"; then
    expect_fail merge_foreign_model "model_sha256" $LMC merge "$TMP/p1.json" "$TMP/f2.json" "$TMP/p3.json" --json "$TMP/x.json"
else
    fail merge_foreign_model "could not make the foreign part: $(cat "$TMP/err")"
fi
[ -e "$TMP/x.json" ] && fail merge_no_partial_output "a refused merge wrote its output" || pass merge_no_partial_output
expect_fail shard_bad_spec "--shard wants I/N" $LMC eval $A --shard 4/3 --json "$TMP/x.json"
expect_fail shard_needs_json "needs --json" $LMC eval $A --shard 1/3
cli_summary
