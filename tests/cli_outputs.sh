#!/usr/bin/env bash
# CLI tests for odd destinations (docs/safety.md): every subcommand that writes refuses, before any work and with
# one line on stderr, an output that is the same file as one of its inputs (the same path, another spelling, a
# symbolic or a hard link, a file inside the model directory), a directory, a path in a missing, read-only or
# full directory, and two outputs that are one file. After each refusal the input is byte-identical and no
# output, temporary or lock file is left behind. (Before this check `lmc compress x -o x` replaced x.)
cd "$(dirname "$0")/.." && . tests/lib_cli.sh
if [ ! -x "$LMC" ] || [ ! -f demo-model/config.json ]; then
    skip outputs "needs ./lmc and demo-model/"
    cli_summary
    exit $?
fi
D=$TMP/work
mkdir -p "$D"
cp -r demo-model "$D/model"
M=$D/model
printf 'The cat sat on the mat. The dog sat on the log.\n' >"$D/x.txt"
printf '{"content": "One small document about cats."}\n{"content": "Another one, about dogs and logs."}\n' >"$D/d.jsonl"
ln -s d.jsonl "$D/symd.jsonl"
ln "$D/d.jsonl" "$D/hard.jsonl"
mkdir "$D/mdir.manifest.json"

# leftovers: temporary or lock files under $D (a refusal must leave none)
leftovers() { find "$D" -name '*.tmp.*' -o -name '*.lock' | head -3; }

# refuse NAME NEEDLE KEEP CMD...: CMD fails with one line containing NEEDLE, KEEP is unchanged, nothing is left.
refuse() {
    local name=$1 needle=$2 keep=$3; shift 3
    local before after
    before=$(sha256sum <"$keep")
    expect_fail "$name" "$needle" "$@"
    after=$(sha256sum <"$keep")
    if [ "$before" != "$after" ]; then fail "${name}_input_intact" "$keep was changed"; else pass "${name}_input_intact"; fi
    if [ -n "$(leftovers)" ]; then fail "${name}_no_leftovers" "left $(leftovers)"; else pass "${name}_no_leftovers"; fi
}

# ---- an output that is an input ----
same="is the same file as the input"
refuse compress_onto_input "$same" "$D/x.txt" $LMC compress --model $M "$D/x.txt" -o "$D/x.txt" -q
refuse compress_onto_input_other_spelling "$same" "$D/x.txt" $LMC compress --model $M "$D/x.txt" -o "$D/./x.txt" -q
ln -s x.txt "$D/sym.txt"
ln "$D/x.txt" "$D/hard.txt"
refuse compress_onto_symlink_of_input "$same" "$D/x.txt" $LMC compress --model $M "$D/x.txt" -o "$D/sym.txt" -q
refuse compress_onto_hardlink_of_input "$same" "$D/x.txt" $LMC compress --model $M "$D/x.txt" -o "$D/hard.txt" -q
refuse compress_onto_model_file "is a file of the input directory" "$M/model.safetensors" \
    $LMC compress --model $M "$D/x.txt" -o "$M/model.safetensors" -q

if $LMC compress --model $M "$D/x.txt" -o "$D/x.lmcz" -q >/dev/null 2>"$TMP/err"; then
    pass compress_ok
    refuse decompress_onto_input "$same" "$D/x.lmcz" $LMC decompress --model $M "$D/x.lmcz" -o "$D/x.lmcz" -q
    refuse decompress_onto_model_file "is a file of the input directory" "$M/tokenizer.json" \
        $LMC decompress --model $M "$D/x.lmcz" -o "$M/tokenizer.json" -q
else
    fail compress_ok "$(cat "$TMP/err")"
fi

refuse convert_onto_source "is a file of the input directory" "$M/model.safetensors" \
    $LMC convert "$M" -o "$M/model.safetensors" -q

E="--model $M --block-size 8 --stride 4 --bootstrap 0 --quiet"
refuse eval_json_onto_data "$same" "$D/d.jsonl" $LMC eval $E --data "$D/d.jsonl" --json "$D/d.jsonl"
refuse eval_per_window_onto_data "$same" "$D/d.jsonl" $LMC eval $E --data "$D/d.jsonl" --per-window "$D/d.jsonl"
refuse eval_checkpoint_onto_data "$same" "$D/d.jsonl" $LMC eval $E --data "$D/d.jsonl" --checkpoint "$D/d.jsonl"
refuse eval_json_is_per_window "are the same file" "$D/d.jsonl" \
    $LMC eval $E --data "$D/d.jsonl" --json "$D/o.json" --per-window "$D/./o.json"
refuse eval_per_doc_is_checkpoint "are the same file" "$D/d.jsonl" \
    $LMC eval $E --data "$D/d.jsonl" --per-doc "$D/o.jsonl" --checkpoint "$D/o.jsonl"
if [ -e "$D/o.json" ] || [ -e "$D/o.jsonl" ]; then fail eval_refused_writes_nothing "an output was written"
else pass eval_refused_writes_nothing; fi

if $LMC eval $E --data "$D/d.jsonl" --json "$D/r.json" >/dev/null 2>"$TMP/err" &&
    $LMC eval $E --data "$D/d.jsonl" --shard 1/1 --json "$D/part.json" >/dev/null 2>>"$TMP/err"; then
    pass eval_ok
    refuse merge_onto_part "$same" "$D/part.json" $LMC merge "$D/part.json" --json "$D/part.json"
    refuse report_html_onto_input "$same" "$D/r.json" $LMC report "$D/r.json" -o "$D/r.json"
    refuse report_md_onto_input "$same" "$D/r.json" $LMC report "$D/r.json" --md "$D/r.json"
    ln -s r.json "$D/sym.json"
    refuse report_md_onto_symlinked_input "$same" "$D/r.json" $LMC report "$D/r.json" --md "$D/sym.json"
    refuse report_svg_is_html "are the same file" "$D/r.json" $LMC report "$D/r.json" -o "$D/p.out" --svg "$D/p.out"
else
    fail eval_ok "$(cat "$TMP/err")"
fi

refuse eval_per_doc_onto_data "$same" "$D/d.jsonl" $LMC eval $E --data "$D/d.jsonl" --per-doc "$D/d.jsonl"

# kld: --json, --save-base and --checkpoint
K="--base $M --block-size 8 --stride 4 --bootstrap 0 --quiet"
refuse kld_json_onto_data "$same" "$D/d.jsonl" $LMC kld $K --model $M --data "$D/d.jsonl" --json "$D/d.jsonl"
refuse kld_json_onto_model_file "is a file of the input directory" "$M/config.json" \
    $LMC kld $K --model $M --data "$D/d.jsonl" --json "$M/config.json"
refuse kld_save_base_onto_symlinked_data "$same" "$D/d.jsonl" $LMC kld $K --data "$D/d.jsonl" --save-base "$D/symd.jsonl"
refuse kld_checkpoint_onto_data "$same" "$D/d.jsonl" $LMC kld $K --model $M --data "$D/d.jsonl" --checkpoint "$D/d.jsonl"
refuse kld_json_is_checkpoint "are the same file" "$D/d.jsonl" \
    $LMC kld $K --model $M --data "$D/d.jsonl" --json "$D/k.json" --checkpoint "$D/./k.json"
refuse kld_json_into_directory "is a directory" "$D/d.jsonl" $LMC kld $K --model $M --data "$D/d.jsonl" --json "$D"
if [ -e "$D/k.json" ]; then fail kld_refused_writes_nothing "an output was written"; else pass kld_refused_writes_nothing; fi

# corpus: -o and its manifest OUT.manifest.json
refuse corpus_sample_onto_input "$same" "$D/d.jsonl" $LMC corpus sample --in "$D/d.jsonl" --chars 10 -o "$D/d.jsonl"
refuse corpus_sample_onto_hardlinked_input "$same" "$D/d.jsonl" \
    $LMC corpus sample --in "$D/d.jsonl" --chars 10 -o "$D/hard.jsonl"
cp "$D/d.jsonl" "$D/old.manifest.json"
refuse corpus_decontam_manifest_onto_input "$same" "$D/old.manifest.json" \
    $LMC corpus decontam --in "$D/d.jsonl" --against "$D/old.manifest.json" -o "$D/old.jsonl"
refuse corpus_hashes_onto_input "$same" "$D/d.jsonl" $LMC corpus hashes -o "$D/./d.jsonl" "$D/d.jsonl"
refuse corpus_wet_into_directory "is a directory" "$D/d.jsonl" $LMC corpus wet -q -o "$D" "$D/d.jsonl"
refuse corpus_code_manifest_is_directory "is a directory" "$D/d.jsonl" $LMC corpus code -o "$D/mdir.jsonl" "$D/d.jsonl"
if [ -e "$D/old.jsonl" ] || [ -e "$D/mdir.jsonl" ]; then fail corpus_refused_writes_nothing "an output was written"
else pass corpus_refused_writes_nothing; fi

# ---- a destination that cannot be written ----
refuse compress_into_directory "is a directory" "$D/x.txt" $LMC compress --model $M "$D/x.txt" -o "$D" -q
refuse compress_into_missing_directory "No such file or directory" "$D/x.txt" \
    $LMC compress --model $M "$D/x.txt" -o "$D/nodir/x.lmcz" -q
refuse compress_onto_device "is not a regular file" "$D/x.txt" $LMC compress --model $M "$D/x.txt" -o /dev/null -q
refuse eval_json_into_directory "is a directory" "$D/d.jsonl" $LMC eval $E --data "$D/d.jsonl" --json "$D"

# A read-only and a full file system: a tmpfs mounted for the test (root), or a mode-555 directory (not root).
RO=$TMP/ro FULL=$TMP/full
mkdir -p "$RO" "$FULL"
mounted=
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o ro,size=64k tmpfs "$RO" 2>/dev/null; then
    mounted="$RO"
    refuse compress_into_read_only_fs "read-only file system" "$D/x.txt" $LMC compress --model $M "$D/x.txt" -o "$RO/x.lmcz" -q
    refuse kld_save_base_into_read_only_fs "read-only file system" "$D/d.jsonl" \
        $LMC kld $K --data "$D/d.jsonl" --save-base "$RO/b.kldbase"
    refuse corpus_hashes_into_read_only_fs "read-only file system" "$D/d.jsonl" $LMC corpus hashes -o "$RO/h" "$D/d.jsonl"
elif [ "$(id -u)" != 0 ]; then
    chmod 555 "$RO"
    refuse compress_into_read_only_dir "Permission denied" "$D/x.txt" $LMC compress --model $M "$D/x.txt" -o "$RO/x.lmcz" -q
else
    skip compress_into_read_only "cannot mount a read-only tmpfs here"
fi
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=64k tmpfs "$FULL" 2>/dev/null; then
    mounted="$mounted $FULL"
    dd if=/dev/zero of="$FULL/fill" bs=4k 2>/dev/null
    refuse compress_onto_full_disk "no space left" "$D/x.txt" $LMC compress --model $M "$D/x.txt" -o "$FULL/x.lmcz" -q
    refuse merge_onto_full_disk "no space left" "$D/part.json" $LMC merge "$D/part.json" --json "$FULL/m.json"
    refuse kld_json_onto_full_disk "no space left" "$D/d.jsonl" $LMC kld $K --model $M --data "$D/d.jsonl" --json "$FULL/k.json"
    refuse corpus_sample_onto_full_disk "no space left" "$D/d.jsonl" \
        $LMC corpus sample --in "$D/d.jsonl" --chars 10 -o "$FULL/s.jsonl"
else
    skip compress_onto_full_disk "cannot mount a small tmpfs here"
fi
for m in $mounted; do umount "$m"; done
chmod 755 "$RO"

cli_summary
