#!/usr/bin/env bash
# CLI tests for the readable results: the per-document statistics and intervals `lmc eval --json` writes,
# `lmc report` (HTML / Markdown / SVG: well-formed, one point per model, no network), `lmc compare`, and the
# one-line errors for malformed, other-version, mixed-corpus and unknown-model inputs.
cd "$(dirname "$0")/.." && . tests/lib_cli.sh

EV="--data demo-data/cc.jsonl --data demo-data/python.jsonl --file-num 3 --block-size 256 --stride 128 --quiet"
# --- real results: the demo model, and a second model from the shared references when present ---
if ! $LMC eval --model demo-model $EV --json "$TMP/demo.json" >"$TMP/eval.txt" 2>"$TMP/err.txt"; then
    fail eval_results "$(cat "$TMP/err.txt")"; cli_summary; exit 1
fi
models=1
if need_shared models/TinyStories-656K-f32 &&
   $LMC eval --model "$SHARED/models/TinyStories-656K-f32" $EV --json "$TMP/tiny.json" >/dev/null 2>&1; then
    models=2
fi

# eval: doc_stats add up to the totals, the interval holds the BPC and is printed under the table
if python3 - "$TMP/demo.json" <<'PY'
import json, sys, math
for res in json.load(open(sys.argv[1]))["results"]:
    ds = res["doc_stats"]
    assert all(len(ds[k]) == res["docs"] for k in ("nll", "tokens", "scored_tokens", "chars", "bytes")), ds.keys()
    assert sum(ds["chars"]) == res["chars"] and sum(ds["bytes"]) == res["bytes"]
    assert sum(ds["tokens"]) == res["tokens"] and sum(ds["scored_tokens"]) == res["scored_tokens"]
    assert abs(math.fsum(ds["nll"]) - res["nll"]) < 1e-9 * res["nll"]
    lo, hi = res["bpc_ci95"]
    assert lo < res["bpc"] < hi and res["bpc_se"] > 0, (lo, res["bpc"], hi)
    assert res["bootstrap"] == {"resamples": 1000, "seed": 1, "unit": "document"}
PY
then pass eval_doc_stats; else fail eval_doc_stats "doc_stats / interval fields wrong"; fi
grep -q "95% interval \[" "$TMP/eval.txt" && pass eval_prints_interval || fail eval_prints_interval "$(cat "$TMP/eval.txt")"

# --- report: scores for every model; HTML, SVG and Markdown ---
inputs=("$TMP/demo.json")
scores='{"demo-model": 40'
[ $models -eq 2 ] && inputs+=("$TMP/tiny.json") && scores="$scores, \"TinyStories-656K-f32\": 25"
printf '%s}\n' "$scores" >"$TMP/scores.json"
printf '{"cc": {"slope": -10, "intercept": 60, "label": "reference"}}\n' >"$TMP/ref.json"
if $LMC report "${inputs[@]}" --scores "$TMP/scores.json" --reference "$TMP/ref.json" -o "$TMP/r.html" \
        --svg "$TMP/r.svg" --md "$TMP/r.md" 2>"$TMP/err.txt"; then
    pass report_runs
else
    fail report_runs "$(cat "$TMP/err.txt")"
fi
if command -v xmllint >/dev/null; then
    xmllint --noout "$TMP/r.svg" 2>"$TMP/xml.txt" && pass svg_well_formed || fail svg_well_formed "$(head -3 "$TMP/xml.txt")"
    # the SVGs inlined in the HTML (one per corpus panel) are well-formed too
    { echo '<plots>'; sed -n '/^<svg /,/^<\/svg>/p' "$TMP/r.html"; echo '</plots>'; } >"$TMP/inline.svg"
    n_inline=$(grep -c '^<svg ' "$TMP/inline.svg")
    xmllint --noout "$TMP/inline.svg" 2>"$TMP/xml.txt" && [ "$n_inline" = 2 ] && pass html_svg_well_formed ||
        fail html_svg_well_formed "$n_inline inline SVGs for 2 corpora; $(head -3 "$TMP/xml.txt")"
    # one point per model in each corpus panel (2 corpora), counted by XPath
    n=$(xmllint --xpath "count(//*[local-name()='circle'][@class='point'])" "$TMP/r.svg" 2>/dev/null)
    per=$(xmllint --xpath "count((//*[local-name()='g'][@class='panel'])[1]/*[local-name()='circle'][@class='point'])" \
        "$TMP/r.svg" 2>/dev/null)
    [ "$n" = "$((2 * models))" ] && [ "$per" = "$models" ] && pass svg_one_point_per_model ||
        fail svg_one_point_per_model "$n points in all, $per in the first panel, for $models models and 2 corpora"
else
    skip svg_well_formed "xmllint not installed (tools/install-deps.sh installs libxml2-utils)"
fi
grep -q "Pearson r" "$TMP/r.svg" && grep -q 'class="fit"' "$TMP/r.svg" && grep -q 'class="ref"' "$TMP/r.svg" &&
    pass svg_fit_and_reference || {
        [ $models -eq 1 ] && grep -q "fewer than 2 models" "$TMP/r.svg" && pass svg_fit_and_reference ||
            fail svg_fit_and_reference "no least-squares / reference line"; }
# self-contained: no scripts, no external resources (the only URL is the SVG namespace)
if ! grep -Eiq '<script|<link|src=|@import|url\(' "$TMP/r.html" &&
   [ "$(grep -o 'https\?://[^"]*' "$TMP/r.html" | sort -u)" = "http://www.w3.org/2000/svg" ]; then
    pass html_self_contained
else
    fail html_self_contained "external references in the HTML"
fi
grep -q "^| 1 | demo-model |" "$TMP/r.md" && pass report_md_leaderboard || fail report_md_leaderboard "$(head -3 "$TMP/r.md")"
# same seed, same report; another seed, other intervals
$LMC report "${inputs[@]}" --md "$TMP/r2.md" 2>/dev/null; $LMC report "${inputs[@]}" --md "$TMP/r3.md" 2>/dev/null
$LMC report "${inputs[@]}" --md "$TMP/r4.md" --seed 7 2>/dev/null
cmp -s "$TMP/r2.md" "$TMP/r3.md" && ! cmp -s "$TMP/r2.md" "$TMP/r4.md" && pass report_seeded ||
    fail report_seeded "same seed differed or another seed did not"

# --- compare ---
out=$($LMC compare "$TMP/demo.json" "$TMP/demo.json" 2>&1)
echo "$out" | grep -q "^cc .* +0.00000 .*includes 0" && pass compare_self_zero || fail compare_self_zero "$out"
if [ $models -eq 2 ]; then
    out=$($LMC compare "$TMP/demo.json" "$TMP/tiny.json" 2>&1)
    echo "$out" | grep -q "^cc .*excludes 0: A is better" && pass compare_two_models || fail compare_two_models "$out"
else
    skip compare_two_models "shared model TinyStories-656K-f32 not found (set LMC_SHARED)"
fi

# --- bad input: one line naming the file and the problem; no output file left behind ---
edit() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); $2; json.dump(r, open(sys.argv[3],'w'))" "$1" x "$3"; }
printf '{"lmc_version": "0.1.0", "results": [' >"$TMP/trunc.json"
expect_fail report_malformed "trunc.json: not valid JSON" $LMC report "$TMP/trunc.json"
edit "$TMP/demo.json" 'r["lmc_version"]="9.4.0"' "$TMP/v9.json"
expect_fail report_other_version "v9.json: written by lmc 9.4.0" $LMC report "$TMP/v9.json" -o "$TMP/no.html"
[ ! -e "$TMP/no.html" ] && pass report_error_leaves_no_file || fail report_error_leaves_no_file "no.html written"
expect_fail compare_other_version "written by lmc 9.4.0" $LMC compare "$TMP/demo.json" "$TMP/v9.json"
# the results format's version (docs/results.md): written as 1; a newer one is refused, a file without one
# (written before the field existed) is read as version 0
grep -q '"schema_version":[[:space:]]*1,' "$TMP/demo.json" && pass results_schema_written || fail results_schema_written "no schema_version 1"
edit "$TMP/demo.json" 'r["schema_version"]=2' "$TMP/s2.json"
expect_fail report_newer_schema "s2.json: written with results schema_version 2" $LMC report "$TMP/s2.json"
edit "$TMP/demo.json" 'del r["schema_version"]' "$TMP/s0.json"
$LMC report "$TMP/s0.json" >"$TMP/s0.md" 2>"$TMP/s0.err" && grep -q demo-model "$TMP/s0.md" && pass report_no_schema ||
    fail report_no_schema "$(cat "$TMP/s0.err")"
edit "$TMP/demo.json" 'del r["results"][0]["doc_stats"]' "$TMP/nods.json"
expect_fail report_no_doc_stats "no per-document statistics" $LMC report "$TMP/nods.json"
edit "$TMP/demo.json" 'r["results"][0]["doc_stats"]["chars"][0]+=1' "$TMP/badds.json"
expect_fail report_doc_stats_disagree "do not add up" $LMC report "$TMP/badds.json"
edit "$TMP/demo.json" 'r["results"][0]["bpc"]*=0.9' "$TMP/badbpc.json"
expect_fail report_edited_bpc "is not nll / (chars" $LMC report "$TMP/badbpc.json"
echo '{"lmc_version": "0.1.0", "model": {}, "results": []}' >"$TMP/empty.json"
expect_fail report_empty_results "malformed results file" $LMC report "$TMP/empty.json"
# the same corpus name with other data (another file_num) from a second model
edit "$TMP/demo.json" 'r["model"]["path"]="other-model"; r["results"][0]["data_sha256"]="ab"*32' "$TMP/mixed.json"
expect_fail report_mixed_corpus "mixes different data in one column" $LMC report "$TMP/demo.json" "$TMP/mixed.json"
expect_fail compare_different_data "needs the same documents" $LMC compare "$TMP/demo.json" "$TMP/mixed.json"
expect_fail report_duplicate_model "has two results for corpus" $LMC report "$TMP/demo.json" "$TMP/demo.json"
echo '{"demo-model": 40, "gpt-7": 55}' >"$TMP/unknown.json"
expect_fail report_unknown_score_model "unknown.json: model 'gpt-7' is not in the results" \
    $LMC report "$TMP/demo.json" --scores "$TMP/unknown.json" -o "$TMP/no.html"
echo '{"demo-model": "high"}' >"$TMP/nonnum.json"
expect_fail report_score_not_number "is not a number" $LMC report "$TMP/demo.json" --scores "$TMP/nonnum.json"
echo '{"wiki": {"slope": -1, "intercept": 2}}' >"$TMP/badref.json"
expect_fail report_unknown_reference "corpus 'wiki' is not in the results" \
    $LMC report "${inputs[@]}" --scores "$TMP/scores.json" --reference "$TMP/badref.json"
expect_fail report_bad_bootstrap "--bootstrap must be" $LMC report "$TMP/demo.json" --bootstrap -3
cli_summary
