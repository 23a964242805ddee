#!/usr/bin/env bash
# CLI tests for `lmc eval --shard I/N` and `lmc merge` (no MPI needed): merged shards give the single run's
# exact NLL and per-document statistics (documents split across shards included), so lmc report / compare read
# them; missing, duplicate and foreign parts are refused with a message naming them.
cd "$(dirname "$0")/.." && . tests/lib_cli.sh
A="--model demo-model --data demo-data/cc.jsonl --file-num 3 --block-size 128 --stride 64 --threads 1 --quiet"
bits() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['results'][0]['nll_bits'])" "$1"; }

if ! $LMC eval $A --json "$TMP/one.json" >"$TMP/one.out" 2>"$TMP/err"; then
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
    # every document spans windows of all three shards: its NLL is rebuilt from the parts in window order
    python3 - "$TMP/m3.json" "$TMP/one.json" <<'PY' && pass shard_3_merged_doc_stats || fail shard_3_merged_doc_stats "doc_stats, bpc_se or bpc_ci95 differ from the single run"
import json, sys
m, o = (json.load(open(p))["results"][0] for p in sys.argv[1:])
for k in ("doc_stats", "bpc_se", "bpc_ci95", "bootstrap"):
    assert k in m and m[k] == o[k], (k, m.get(k), o[k])
PY
    # the merge prints the single run's table row (but seconds) and its ± line
    if diff <(grep '±' "$TMP/one.out") <(grep '±' "$TMP/table") >/dev/null && grep -q '±' "$TMP/table" &&
       diff <(grep '^demo-data' "$TMP/one.out" | grep -v '±' | awk '{NF--; print}') \
            <(grep '^demo-data' "$TMP/table" | grep -v '±' | awk '{NF--; print}') >/dev/null; then
        pass shard_3_merged_interval_line
    else
        fail shard_3_merged_interval_line "single run: $(cat "$TMP/one.out") merged: $(cat "$TMP/table")"
    fi
else
    fail shard_3_merged_bit_identical "$(cat "$TMP/err")"
fi

# a shard resumed from its checkpoint: its windows' document parts come back from the file
if $LMC eval $A --shard 2/3 --checkpoint "$TMP/ck2" --json "$TMP/c2a.json" >/dev/null 2>"$TMP/err" &&
   $LMC eval $A --shard 2/3 --checkpoint "$TMP/ck2" --json "$TMP/c2.json" >/dev/null 2>>"$TMP/err" &&
   $LMC merge "$TMP/p1.json" "$TMP/c2.json" "$TMP/p3.json" --json "$TMP/mc.json" >/dev/null 2>>"$TMP/err"; then
    python3 - "$TMP/mc.json" "$TMP/one.json" "$TMP/c2.json" <<'PY' && pass shard_resumed_doc_stats || fail shard_resumed_doc_stats "differs from the single run"
import json, sys
m, o, c = (json.load(open(p))["results"][0] for p in sys.argv[1:])
assert c["resumed_windows"] == len(c["shard"]["windows"]) > 0, c["resumed_windows"]
for k in ("nll_bits", "doc_stats", "bpc_se", "bpc_ci95"):
    assert m[k] == o[k], k
PY
else
    fail shard_resumed_doc_stats "$(cat "$TMP/err")"
fi

# --- lmc report and lmc compare read the merged result as they read the single run's ---
if $LMC report "$TMP/m3.json" >"$TMP/rep_m" 2>"$TMP/err" && $LMC report "$TMP/one.json" >"$TMP/rep_o" 2>>"$TMP/err"; then
    row() { awk -F'|' '$2 ~ /demo-model/ && NF > 10 {print $3, $4, $5, $6}' "$1"; }
    [ -n "$(row "$TMP/rep_m")" ] && [ "$(row "$TMP/rep_m")" = "$(row "$TMP/rep_o")" ] && pass report_reads_merged ||
        fail report_reads_merged "$(row "$TMP/rep_m") vs $(row "$TMP/rep_o")"
else
    fail report_reads_merged "$(cat "$TMP/err")"
fi
if $LMC compare "$TMP/one.json" "$TMP/m3.json" >"$TMP/cmp" 2>"$TMP/err"; then
    grep -q '^cc .*+0.00000   0.00000    \[+0.00000, +0.00000\]' "$TMP/cmp" && pass compare_reads_merged ||
        fail compare_reads_merged "not the same documents: $(cat "$TMP/cmp")"
else
    fail compare_reads_merged "$(cat "$TMP/err")"
fi

# --- 2 shards of two data files (a short document inside one window, others across windows and shards) and
# another --bootstrap: the parts carry it to the merge ---
B="--model demo-model --data demo-data/cc.jsonl --data demo-data/python.jsonl --file-num 3 --block-size 96 --stride 40 --threads 1 --quiet --bootstrap 200"
if $LMC eval $B --json "$TMP/two.json" >/dev/null 2>"$TMP/err" &&
   $LMC eval $B --shard 2/2 --json "$TMP/q2.json" >/dev/null 2>>"$TMP/err" &&
   $LMC eval $B --shard 1/2 --json "$TMP/q1.json" >/dev/null 2>>"$TMP/err" &&
   $LMC merge "$TMP/q1.json" "$TMP/q2.json" --json "$TMP/m2.json" >/dev/null 2>>"$TMP/err"; then
    python3 - "$TMP/m2.json" "$TMP/two.json" <<'PY' && pass shard_2_two_files_doc_stats || fail shard_2_two_files_doc_stats "merged differs from the single run"
import json, sys
M, O = (json.load(open(p))["results"] for p in sys.argv[1:])
assert len(M) == len(O) == 2
for m, o in zip(M, O):
    assert m["bootstrap"]["resamples"] == 200, m.get("bootstrap")
    for k in ("nll_bits", "bpc", "doc_stats", "bpc_se", "bpc_ci95", "bootstrap"):
        assert k in m and m[k] == o[k], (o["data"], k, m.get(k), o[k])
PY
else
    fail shard_2_two_files_doc_stats "$(cat "$TMP/err")"
fi
# a partial result is not a result: its BPC is null, the parts' windows are disjoint and cover all
python3 - "$TMP"/p1.json "$TMP"/p2.json "$TMP"/p3.json <<'PY' && pass shard_parts_partition || fail shard_parts_partition "windows overlap or leave gaps"
import json, sys
ws = [json.load(open(p))["results"][0] for p in sys.argv[1:]]
assert all(w["bpc"] is None for w in ws)
ks = sorted(k for w in ws for k in w["shard"]["windows"])
assert ks == list(range(ws[0]["windows"])), ks[:10]
PY

# --- parts of an older lmc (no split by document): merged as before, without doc_stats, and said so ---
python3 - "$TMP" <<'PY'
import json, sys
for i in (1, 2, 3):
    j = json.load(open(f"{sys.argv[1]}/p{i}.json"))
    for k in ("part_docs", "part_nll_bits", "documents", "bootstrap"):
        del j["results"][0]["shard"][k]
    json.dump(j, open(f"{sys.argv[1]}/old{i}.json", "w"))
PY
if $LMC merge "$TMP"/old1.json "$TMP"/old2.json "$TMP"/old3.json --json "$TMP/mold.json" >/dev/null 2>"$TMP/err"; then
    [ "$(bits "$TMP/mold.json")" = "$ref" ] && grep -q "no per-document NLLs" "$TMP/err" &&
        ! grep -q doc_stats "$TMP/mold.json" && pass merge_old_parts ||
        fail merge_old_parts "bits $(bits "$TMP/mold.json") vs $ref, note: $(cat "$TMP/err")"
else
    fail merge_old_parts "$(cat "$TMP/err")"
fi
# a part naming a document the data file does not have, and parts made with different --bootstrap
python3 - "$TMP" <<'PY'
import json, sys
j = json.load(open(f"{sys.argv[1]}/p2.json"))
j["results"][0]["shard"]["part_docs"][0] = [7]
json.dump(j, open(f"{sys.argv[1]}/bad2.json", "w"))
j = json.load(open(f"{sys.argv[1]}/p2.json"))
j["results"][0]["shard"]["bootstrap"] = 10
json.dump(j, open(f"{sys.argv[1]}/b2.json", "w"))
PY
expect_fail merge_bad_doc_part "damaged shard record" $LMC merge "$TMP/p1.json" "$TMP/bad2.json" "$TMP/p3.json" --json "$TMP/x.json"
expect_fail merge_other_bootstrap "--bootstrap 10" $LMC merge "$TMP/p1.json" "$TMP/b2.json" "$TMP/p3.json" --json "$TMP/x.json"

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
