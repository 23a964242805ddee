#!/usr/bin/env bash
# CLI tests for hostile strings in results files (docs/safety.md): `lmc report` writes every string that comes
# from a results file (model path, data path, corpus name, dtypes, hashes) as text, never as markup. A result
# whose model, corpus and dtype carry an <img onerror=...> and a <script>, '|' and '\|', and bytes that are not
# UTF-8 gives HTML and SVG without those elements (the SVG parses as XML), a Markdown table whose rows keep their
# column count and hold no HTML, and, in headless Chromium when it is installed, a page on which no script ran.
cd "$(dirname "$0")/.." && . tests/lib_cli.sh
if [ ! -x "$LMC" ] || [ ! -f demo-model/config.json ] || ! command -v python3 >/dev/null; then
    skip hostile "needs ./lmc, demo-model/ and python3"
    cli_summary
    exit $?
fi
printf '{"content": "One small document about cats."}\n{"content": "Another one, about dogs and logs."}\n' >"$TMP/d.jsonl"
if ! $LMC eval --model demo-model --data "$TMP/d.jsonl" --block-size 8 --stride 4 --bootstrap 10 --quiet \
    --json "$TMP/r.json" >/dev/null 2>"$TMP/err"; then
    fail hostile_eval "$(cat "$TMP/err")"
    cli_summary
    exit $?
fi
# the payloads: each last path component is the display name; @BAD@ becomes two bytes that are not UTF-8
python3 - "$TMP/r.json" "$TMP/h.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
run = "document.body.setAttribute('data-pwned','1')"
d["model"]["path"] = "models/<img src=x onerror=\"%s\">a|b\\|c<script>%s@BAD@" % (run, run)
d["model"]["weights_dtype"] = "BF|16<b>"
for r in d["results"]:
    r["data"] = "data/<svg onload=\"%s\">|corpus&co.jsonl" % run
    r["data_sha256"] = "<img src=x o" + r["data_sha256"][12:]
open(sys.argv[2], "wb").write(json.dumps(d).encode().replace(b"@BAD@", b"\xff\xc3"))
PY
if ! $LMC report "$TMP/h.json" -o "$TMP/h.html" --svg "$TMP/h.svg" --md "$TMP/h.md" 2>"$TMP/err"; then
    fail hostile_report "$(cat "$TMP/err")"
    cli_summary
    exit $?
fi
pass hostile_report

for f in h.html h.svg h.md; do
    if grep -Eiq '<(img|script|svg onload|b>)' "$TMP/$f"; then fail "hostile_${f}_no_markup" "$(grep -Eio '<(img|script|svg onload|b>)[^>]{0,30}' "$TMP/$f" | head -2)"
    else pass "hostile_${f}_no_markup"; fi
done
grep -q '&lt;img src=x onerror' "$TMP/h.html" && pass hostile_html_as_text || fail hostile_html_as_text "payload not shown as text"
if python3 -c 'import sys, xml.dom.minidom as m; m.parse(sys.argv[1])' "$TMP/h.svg" 2>"$TMP/err"; then pass hostile_svg_parses
else fail hostile_svg_parses "$(tail -1 "$TMP/err")"; fi
if python3 -c 'import sys, xml.dom.minidom as m; m.parseString(open(sys.argv[1], "rb").read().split(b"<div class=\"plots\">")[1].split(b"</div>")[0])' "$TMP/h.html" 2>"$TMP/err"; then
    pass hostile_html_plots_parse
else fail hostile_html_plots_parse "$(tail -1 "$TMP/err")"; fi
# every Markdown table row: as many unescaped '|' as its header row
if python3 - "$TMP/h.md" <<'PY'
import re, sys
rows = [l for l in open(sys.argv[1], encoding="utf-8", errors="replace") if l.startswith("|")]
cells = lambda l: len(re.findall(r"(?<!\\)(?:\\\\)*\|", l))
heads = {i for i, l in enumerate(rows) if i + 1 < len(rows) and rows[i + 1].startswith("|--")}
width = None
for i, l in enumerate(rows):
    if i in heads: width = cells(l)
    elif cells(l) != width: sys.exit("row has %d cells, header %d: %s" % (cells(l), width, l.strip()))
PY
then pass hostile_md_columns; else fail hostile_md_columns "a row's '|' were not escaped"; fi

# no script runs in a browser (the payloads would set data-pwned on <body>)
if command -v chromium >/dev/null; then
    timeout 60 chromium --headless --no-sandbox --disable-gpu --virtual-time-budget=2000 --dump-dom \
        "file://$TMP/h.html" >"$TMP/dom.html" 2>/dev/null
    if [ ! -s "$TMP/dom.html" ]; then fail hostile_browser "chromium dumped no DOM"
    elif grep -q '<body[^>]*data-pwned' "$TMP/dom.html"; then fail hostile_browser "a script ran"
    else pass hostile_browser; fi
else
    skip hostile_browser "chromium is not installed (make check-browser installs it)"
fi
cli_summary
