#!/usr/bin/env bash
# CLI tests for `lmc report --paper`: the paper's published leaderboard as reference rows and points, visibly
# distinct (hollow squares with a legend, a table of their own labelled "published, not measured by lmc"),
# matched by subset name only: a corpus not named cc / python / arxiv_math gets no reference rows and a note why.
cd "$(dirname "$0")/.." && . tests/lib_cli.sh

# two short corpora: one named like the paper's (cc), one not (notes)
python3 -c 'import json
for name, src in (("cc", "demo-data/cc.jsonl"), ("notes", "demo-data/python.jsonl")):
    with open("'"$TMP"'/" + name + ".jsonl", "w") as f:
        for line in list(open(src))[:2]: print(json.dumps({"content": json.loads(line)["content"][:1200]}), file=f)'
if ! $LMC eval --model demo-model --data "$TMP/cc.jsonl" --data "$TMP/notes.jsonl" --block-size 64 --stride 32 -q \
        --json "$TMP/demo.json" >/dev/null 2>"$TMP/err"; then
    fail paper_eval "$(cat "$TMP/err")"; cli_summary; exit 1
fi
printf '{"demo-model": 20, "Llama-3-70b": 80, "Mistral-7b": 60, "Falcon-7b": 35}\n' >"$TMP/scores.json"
if $LMC report "$TMP/demo.json" --paper --scores "$TMP/scores.json" -o "$TMP/r.html" --md "$TMP/r.md" \
        --svg "$TMP/r.svg" 2>"$TMP/err"; then
    # the cc panel: the measured point plus the three scored paper models as hollow squares; notes: none
    n_cc=$(grep -c 'class="paper-point"' "$TMP/r.svg")
    [ "$n_cc" = 3 ] && pass paper_points_scored_only || fail paper_points_scored_only "$n_cc paper points, expected 3"
    grep -q 'class="point"' "$TMP/r.svg" && [ "$(grep 'class="legend paper-legend"' "$TMP/r.svg" | \
        grep -c '□ published in the paper\|not measured by lmc')" -ge 1 ] && pass paper_legend || fail paper_legend "no legend for the reference points"
    grep -q 'Llama-3-70b (published, not measured by lmc): BPC 0.4960, score 80' "$TMP/r.svg" &&
        pass paper_tooltip || fail paper_tooltip "no tooltip naming the published value"
    grep 'class="legend paper-legend"' "$TMP/r.svg" | grep -q "no published reference" &&
        pass paper_panel_note || fail paper_panel_note "the notes panel does not say why it has no reference"
    # the Markdown: a table of published rows with the cc column only, the attribution, a note for 'notes'
    if grep -q '^| model (published, not measured by lmc) | BPC cc | average of the three |$' "$TMP/r.md" &&
       grep -q '^| Llama-3-70b | 0.496 | 0.359 |$' "$TMP/r.md" && [ "$(grep -c '^| Falcon-7b |' "$TMP/r.md")" = 1 ] &&
       grep -q "hkust-nlp/llm-compression-intelligence" "$TMP/r.md" &&
       grep -q "corpus 'notes' has no published reference" "$TMP/r.md"; then
        pass paper_md_table
    else
        fail paper_md_table "$(grep -n -i 'published\|Llama-3-70b' "$TMP/r.md" | head -5)"
    fi
    # the HTML: the same table, styled apart, and 28 published rows
    n_rows=$(grep -c '<tr class="paper">' "$TMP/r.html")
    [ "$n_rows" = 28 ] && grep -q 'table.paper' "$TMP/r.html" && pass paper_html_rows ||
        fail paper_html_rows "$n_rows published rows in the HTML"
    if command -v xmllint >/dev/null; then
        xmllint --noout "$TMP/r.svg" 2>"$TMP/xml" && pass paper_svg_well_formed || fail paper_svg_well_formed "$(head -2 "$TMP/xml")"
    else
        skip paper_svg_well_formed "xmllint not installed"
    fi
else
    fail paper_report "$(cat "$TMP/err")"
fi

# without --scores: a dot plot with every paper model on the cc panel
$LMC report "$TMP/demo.json" --paper --svg "$TMP/d.svg" 2>/dev/null
n=$(grep -c 'class="paper-point"' "$TMP/d.svg" 2>/dev/null)
[ "$n" = 28 ] && pass paper_dot_plot || fail paper_dot_plot "$n paper points, expected 28"

# a results file without any of the paper's corpora: no reference rows at all, the note only
$LMC eval --model demo-model --data "$TMP/notes.jsonl" --block-size 64 --stride 32 -q --json "$TMP/n.json" >/dev/null 2>&1
$LMC report "$TMP/n.json" --paper --md "$TMP/n.md" 2>/dev/null
if grep -q "corpus 'notes' has no published reference" "$TMP/n.md" && ! grep -q 'Llama-3-70b' "$TMP/n.md"; then
    pass paper_no_match_no_rows
else
    fail paper_no_match_no_rows "$(head -8 "$TMP/n.md")"
fi
# a scores file naming a model neither measured nor in the paper is still refused
printf '{"nobody": 1}\n' >"$TMP/bad.json"
expect_fail paper_unknown_score "model 'nobody' is not in the results" $LMC report "$TMP/demo.json" --paper --scores "$TMP/bad.json"
cli_summary
