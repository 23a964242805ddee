#!/usr/bin/env bash
# CLI tests for `lmc corpus`: the help comes from the option tables, usage errors (a bad date, no -o, an unknown
# subcommand) exit 2 with one line, a missing input is one line naming it with nothing written, and a WET file
# made here (CRLF records, one gzip member each) becomes a corpus that `lmc eval` reads, with its manifest.
cd "$(dirname "$0")/.." && . tests/lib_cli.sh
if [ ! -x "$LMC" ]; then skip corpus "needs ./lmc"; cli_summary; exit $?; fi

if $LMC corpus wet --help | grep -q -- "--dedup two-pass|keep-first|off" && $LMC corpus --help | grep -q "wet"; then
    pass corpus_help
else
    fail corpus_help "lmc corpus wet --help lacks --dedup"
fi
expect_fail corpus_bad_date "--crawl-after must be YYYY-MM-DD" $LMC corpus wet --crawl-after 2024-13-01 -o "$TMP/x.jsonl" x
expect_fail corpus_no_output "needs -o" $LMC corpus wet "$TMP/x"
expect_fail corpus_unknown_sub "unknown corpus subcommand" $LMC corpus nope
expect_fail corpus_missing_input "nope.warc.wet.gz: cannot open" $LMC corpus wet -q -o "$TMP/m.jsonl" "$TMP/nope.warc.wet.gz"
if [ -e "$TMP/m.jsonl" ] || [ -e "$TMP/m.manifest.json" ]; then fail corpus_nothing_written "output left"; else pass corpus_nothing_written; fi

# wet_record URL BODY: one CRLF record as its own gzip member
wet_record() {
    local len
    len=$(printf '%s' "$2" | wc -c)
    printf 'WARC/1.0\r\nWARC-Type: conversion\r\nWARC-Target-URI: %s\r\nWARC-Date: 2024-05-01T00:00:00Z\r\nContent-Length: %s\r\n\r\n%s\r\n\r\n' \
        "$1" "$len" "$2" | gzip -c
}
long="This paragraph is long enough for the length filter once it is given a minimum of forty code points."
{
    printf 'WARC/1.0\r\nWARC-Type: warcinfo\r\nContent-Length: 4\r\n\r\nx: y\r\n\r\n' | gzip -c
    wet_record http://a.example/ "$(printf 'Title A\n%s\nCookie banner\n' "$long")"
    wet_record http://b.example/ "$(printf 'Title B\nAnother paragraph, different from the first one, long enough.\ncookie BANNER\n')"
} >"$TMP/t.warc.wet.gz"
if out=$($LMC corpus wet -q --min-len 40 -o "$TMP/t.jsonl" "$TMP/t.warc.wet.gz" 2>"$TMP/err") &&
    [ "$(wc -l <"$TMP/t.jsonl")" -eq 2 ] && ! grep -qi "cookie" "$TMP/t.jsonl" &&
    grep -q '"docs_out": 2' "$TMP/t.manifest.json" && case "$out" in *"2 documents"*) true ;; *) false ;; esac; then
    pass corpus_wet_end_to_end
else
    fail corpus_wet_end_to_end "$out $(cat "$TMP/err") $(cat "$TMP/t.jsonl" 2>/dev/null)"
fi
if [ -f demo-model/config.json ] && [ -s "$TMP/t.jsonl" ]; then
    if $LMC eval --model demo-model --data "$TMP/t.jsonl" --block-size 32 --stride 16 --json "$TMP/r.json" >"$TMP/eval.out" 2>&1 &&
        grep -Eq '"docs":[[:space:]]*2,' "$TMP/r.json"; then
        pass corpus_output_evaluates
    else
        fail corpus_output_evaluates "$(tail -3 "$TMP/eval.out")"
    fi
else
    skip corpus_output_evaluates "needs demo-model/"
fi

# hashes → decontam → sample → stats on the corpus just built
for sub in code arxiv hashes decontam sample stats; do
    if $LMC corpus $sub --help | grep -q "usage: lmc corpus $sub"; then pass "corpus_${sub}_help"; else fail "corpus_${sub}_help" "no usage line"; fi
done
if [ -s "$TMP/t.jsonl" ] && $LMC corpus hashes -o "$TMP/old.hashes" "$TMP/t.warc.wet.gz" >/dev/null &&
    out=$($LMC corpus decontam --in "$TMP/t.jsonl" --against "$TMP/old.hashes" --max-overlap 0.99 -o "$TMP/dc.jsonl") &&
    case "$out" in *"0 documents kept"*) true ;; *) false ;; esac; then
    pass corpus_decontam_drops_old_text
else
    fail corpus_decontam_drops_old_text "${out:-hashes or decontam failed}"
fi
expect_fail corpus_decontam_not_hashes "--in" $LMC corpus decontam --against x -o "$TMP/y.jsonl"
if out=$($LMC corpus sample --in "$TMP/t.jsonl" --chars 10 --seed 1 -o "$TMP/s.jsonl") &&
    [ "$(wc -l <"$TMP/s.jsonl")" -eq 1 ] && grep -q '"seed": 1' "$TMP/s.manifest.json"; then
    pass corpus_sample
else
    fail corpus_sample "$out"
fi
if out=$($LMC corpus stats "$TMP/t.jsonl") && case "$out" in *"2 documents"*"gzip -9"*"2024-05:2"*) true ;; *) false ;; esac; then
    pass corpus_stats
else
    fail corpus_stats "$out"
fi

# code over a directory made here: one file kept, its manifest; a bad --near-dedup value is a usage error
mkdir -p "$TMP/proj/pkg"
printf 'def f(x):\n    a = 1\n    b = 2\n    c = 3\n    d = 4\n    e = 5\n    return x\n' >"$TMP/proj/pkg/m.py"
printf 'x = 1\n' >"$TMP/proj/pkg/few.py"
printf 'not python\n' >"$TMP/proj/README"
if out=$($LMC corpus code -q -o "$TMP/py.jsonl" "$TMP/proj") && [ "$(wc -l <"$TMP/py.jsonl")" -eq 1 ] &&
    grep -q '"path": "pkg/m.py"' "$TMP/py.jsonl" && grep -q '"other_files": 1' "$TMP/py.manifest.json"; then
    pass corpus_code
else
    fail corpus_code "$out"
fi
if $LMC corpus code -o "$TMP/py2.jsonl" "$TMP/proj" 2>"$TMP/code.err" >/dev/null &&
    grep -q "corpus code: reading, 1 of 1 inputs" "$TMP/code.err" && grep -q "corpus code: features, 2 of 2 files, .* MB/s of text, ETA" "$TMP/code.err" &&
    $LMC corpus code -q -o "$TMP/py2.jsonl" "$TMP/proj" 2>"$TMP/code.err" >/dev/null && [ ! -s "$TMP/code.err" ]; then
    pass corpus_code_progress
else
    fail corpus_code_progress "$(tr '\r' '\n' <"$TMP/code.err" | head -3)"
fi
expect_fail corpus_code_bad_near "--near-dedup must be" $LMC corpus code --near-dedup 2 -o "$TMP/q.jsonl" "$TMP/proj"
expect_fail corpus_arxiv_needs_meta "needs --meta" $LMC corpus arxiv -o "$TMP/a.jsonl" "$TMP/x.tar"
expect_fail corpus_arxiv_missing_tar "nope.tar: cannot open" $LMC corpus arxiv --format latex --meta "$TMP/t.jsonl" -o "$TMP/a.jsonl" "$TMP/nope.tar"

# outputs checked before any work, one line each, inputs untouched: a directory, a missing or read-only directory,
# an input given as the output (directly, through a link, or as the manifest the output would get)
mkdir -p "$TMP/adir"
sum_before=$(md5sum "$TMP/t.jsonl" "$TMP/t.warc.wet.gz")
expect_fail corpus_out_dir "is a directory" $LMC corpus wet -q -o "$TMP/adir" "$TMP/t.warc.wet.gz"
expect_fail corpus_out_nodir "cannot write there" $LMC corpus code -q -o "$TMP/nodir/x.jsonl" "$TMP/proj"
expect_fail corpus_out_is_input "same file as the input" $LMC corpus wet -q -o "$TMP/t.warc.wet.gz" "$TMP/t.warc.wet.gz"
ln -sf t.jsonl "$TMP/link.jsonl"
expect_fail corpus_out_link_to_input "same file as the input" $LMC corpus sample --in "$TMP/t.jsonl" --chars 10 --seed 1 -o "$TMP/link.jsonl"
expect_fail corpus_out_decontam_against "same file as the input" $LMC corpus decontam --in "$TMP/t.jsonl" --against "$TMP/old.hashes" -o "$TMP/old.hashes"
cp "$TMP/t.jsonl" "$TMP/q.manifest.json"
expect_fail corpus_manifest_is_input "q.manifest.json: is the same file as the input" $LMC corpus hashes -o "$TMP/q.jsonl" "$TMP/q.manifest.json"
if [ "$(md5sum "$TMP/t.jsonl" "$TMP/t.warc.wet.gz")" = "$sum_before" ] && cmp -s "$TMP/t.jsonl" "$TMP/q.manifest.json" &&
    [ ! -e "$TMP/q.jsonl" ] && [ -z "$(ls "$TMP/adir")" ]; then
    pass corpus_inputs_untouched
else
    fail corpus_inputs_untouched "an input changed or an output was written"
fi
mkdir -p "$TMP/ro" && chmod 555 "$TMP/ro"
if [ "$(id -u)" -eq 0 ]; then
    skip corpus_out_readonly_dir "root writes into a read-only directory"
else
    expect_fail corpus_out_readonly_dir "is not writable" $LMC corpus hashes -o "$TMP/ro/h.hashes" "$TMP/t.jsonl"
fi
chmod 755 "$TMP/ro"
cli_summary
