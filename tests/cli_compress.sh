#!/usr/bin/env bash
# CLI tests for `lmc compress` / `lmc decompress` on the demo model: byte-identical round trips of every file in
# $LMC_SHARED/corpora/tricky (its first 256 bytes: the whole files would take minutes) and of random and
# all-256-values bytes, compressed with 1 thread and decompressed with 2; the whole file within 1% + 64 bytes
# of the ideal size the run's own NLL gives; the report lines; and the bad cases (empty input, a 1-byte or empty
# .lmcz, wrong magic, truncated, a corrupted or appended byte, another model, a 0-length model file): each one
# line on stderr, a non-zero exit, and no output file (nor a temporary one) left behind.
cd "$(dirname "$0")/.." && . tests/lib_cli.sh
if [ ! -x "$LMC" ] || [ ! -f demo-model/config.json ]; then
    skip compress "needs ./lmc and demo-model/"
    cli_summary
    exit $?
fi
M=demo-model

# roundtrip NAME FILE: compress (1 thread), decompress (2 threads), compare, check the size against the ideal.
roundtrip() {
    local name=$1 f=$2 out ideal stream
    rm -f "$TMP/r.lmcz" "$TMP/r.out"
    if ! out=$($LMC compress --model $M "$f" -o "$TMP/r.lmcz" --threads 1 --quiet 2>"$TMP/r.err"); then
        fail "$name" "compress: $(cat "$TMP/r.err")"; return 1
    fi
    if ! $LMC decompress --model $M "$TMP/r.lmcz" -o "$TMP/r.out" --threads 2 --quiet >"$TMP/d.out" 2>"$TMP/d.err"; then
        fail "$name" "decompress: $(cat "$TMP/d.err")"; return 1
    fi
    if ! cmp -s "$f" "$TMP/r.out"; then
        cp "$f" /tmp/lmc_compress_failed_input
        fail "$name" "round trip changed the bytes (input kept in /tmp/lmc_compress_failed_input)"; return 1
    fi
    ideal=$(printf '%s\n' "$out" | sed -n 's/^  ideal \([0-9.]*\) bytes.*/\1/p')
    size=$(wc -c <"$TMP/r.lmcz")
    if [ -z "$ideal" ]; then fail "$name" "no ideal size line in: $out"; return 1; fi
    if ! awk -v i="$ideal" -v s="$size" 'BEGIN { exit !(s <= i * 1.01 + 64) }'; then
        fail "$name" "$size bytes (header included), ideal $ideal: more than 1% + 64 bytes over"; return 1
    fi
    pass "$name"
}

# tricky corpora: every file's first 256 bytes (the empty one must be refused)
if need_shared corpora/tricky/README.md; then
    for f in "$SHARED"/corpora/tricky/*; do
        b=$(basename "$f")
        if [ ! -s "$f" ]; then
            expect_fail "compress_tricky_$b" "empty input: nothing to compress" $LMC compress --model $M "$f" -o "$TMP/e.lmcz"
            continue
        fi
        head -c 256 "$f" >"$TMP/t_$b"
        roundtrip "compress_tricky_$b" "$TMP/t_$b"
    done
else
    skip compress_tricky "shared reference corpora/tricky not found (set LMC_SHARED)"
fi

# random bytes (1, and 600), and every byte value once
head -c 1 /dev/urandom >"$TMP/one.bin"
roundtrip compress_random_1 "$TMP/one.bin"
head -c 600 /dev/urandom >"$TMP/rnd.bin"
roundtrip compress_random_600 "$TMP/rnd.bin"
for i in $(seq 0 255); do printf "\\$(printf %03o "$i")"; done >"$TMP/all.bin"
roundtrip compress_all_byte_values "$TMP/all.bin"

# a vocabulary without byte tokens (TinyStories-656K: byte_fallback but no <0xXX> tokens; SentencePiece dummy
# prefix): bytes it cannot spell go through the escape symbol
if need_shared models/TinyStories-656K-f32/config.json; then
    printf 'Once upon a time, there was a little girl named Lily.\nShe saw caf\xc3\xa9 \xff\x00 and \xe4\xb8\xad.\n' >"$TMP/ts"
    TS=$SHARED/models/TinyStories-656K-f32
    out=$($LMC compress --model "$TS" "$TMP/ts" -o "$TMP/ts.lmcz" --quiet 2>&1) &&
        $LMC decompress --model "$TS" "$TMP/ts.lmcz" -o "$TMP/ts.out" --quiet >/dev/null 2>&1; rc=$?
    esc=$(printf '%s\n' "$out" | sed -n 's/.* tokens (\([0-9]*\) escaped bytes).*/\1/p')
    if [ $rc -ne 0 ]; then fail compress_escape "exit $rc: $out"
    elif ! cmp -s "$TMP/ts" "$TMP/ts.out"; then fail compress_escape "round trip changed the bytes"
    elif [ -z "$esc" ] || [ "$esc" -lt 3 ]; then fail compress_escape "expected escaped bytes: $out"
    else pass compress_escape; fi
else skip compress_escape "shared models/TinyStories-656K-f32 not found (set LMC_SHARED)"; fi

# other architectures and sources: every model runs KV-cache steps, so each one compresses (GPT-2 and GPT-NeoX
# byte-level BPE from $LMC_SHARED, a Q4_0 GGUF with its own SentencePiece vocabulary from tests/data/gguf)
printf 'def f(x):\n    return x * 2  # caf\xc3\xa9 \xff\x00\n\nIt was a dark night.\n' >"$TMP/mix"
for src in models/selftrained-gpt2-tiny models/selftrained-gptneox-tiny; do
    if need_shared "$src/config.json"; then M="$SHARED/$src" roundtrip "compress_arch_$(basename "$src")" "$TMP/mix"
    else skip "compress_arch_$(basename "$src")" "shared $src not found (set LMC_SHARED)"; fi
done
M=tests/data/gguf/llama-q4_0.gguf roundtrip compress_arch_gguf_q4_0 "$TMP/mix"

# the integer tables code with the model's own distribution: their cost equals the model's NLL of the same tokens
# within 0.1% (+ the report's 0.1-byte rounding) for every architecture and import path, at the default window
# and a short one. A SentencePiece vocabulary (llama2.c's tok512.bin, TinyStories' Metaspace) must be coded as it
# tokenizes, dummy prefix space included: coding "Once" in byte tokens after BOS made the tables (floored at 2^-30)
# come out below that "NLL" (-12% on a repeated story).
cat >"$TMP/story" <<'STORY'
Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.
One day, Lily saw a big red ball under a tree. She ran to the ball and picked it up. It was shiny and round.
"Can I play with you?" asked a small boy named Tom. Lily smiled and said, "Yes, let's play together!"
They threw the ball back and forth all afternoon. When the sun went down, Tom's mom called him home for dinner.
Lily was sad to say goodbye, but Tom promised to come back the next day. Lily went home and told her mom about
her new friend. Her mom was happy and gave her a big hug. That night, Lily dreamed about the red ball and the park.
STORY
for i in 1 2 3 4 5 6 7 8; do head -c 126 "$TMP/story"; done >"$TMP/story8"
# tables_match NAME MODEL FILE WINDOW
tables_match() {
    local name=$1 model=$2 f=$3 w=$4 out ideal tables
    if ! out=$($LMC compress --model "$model" "$f" -o "$TMP/tm.lmcz" --window "$w" --quiet 2>&1); then
        fail "$name" "compress: $out"; return
    fi
    ideal=$(printf '%s\n' "$out" | sed -n 's/^  ideal \([0-9.]*\) bytes.*/\1/p')
    tables=$(printf '%s\n' "$out" | sed -n 's/.*; integer tables \([0-9.]*\);.*/\1/p')
    if [ -z "$ideal" ] || [ -z "$tables" ]; then fail "$name" "no ideal / tables in: $out"; return; fi
    if awk -v i="$ideal" -v t="$tables" 'BEGIN { d = t - i; if (d < 0) d = -d; exit !(d <= i * 0.001 + 0.1) }'
    then pass "$name"; else fail "$name" "integer tables $tables bytes, model NLL $ideal bytes: more than 0.1% apart"; fi
}
if need_shared models/stories260K/stories260K.bin &&
    $LMC convert "$SHARED/models/stories260K/stories260K.bin" --tokenizer "$SHARED/models/stories260K/tok512.bin" \
        -o "$TMP/s260.safetensors" >/dev/null 2>&1; then
    # the dummy prefix space: text, text that begins with a space or an invalid byte, every byte value
    M="$TMP/s260.safetensors" roundtrip compress_arch_stories260K "$TMP/mix"
    printf ' ÿ Once' >"$TMP/lead"; M="$TMP/s260.safetensors" roundtrip compress_stories260K_lead_space "$TMP/lead"
    tail -c +2 "$TMP/lead" >"$TMP/lead2"; M="$TMP/s260.safetensors" roundtrip compress_stories260K_lead_invalid "$TMP/lead2"
    M="$TMP/s260.safetensors" roundtrip compress_stories260K_all_bytes "$TMP/all.bin"
    for w in 512 32; do
        tables_match "compress_nll_stories260K_w$w" "$TMP/s260.safetensors" "$TMP/story" $w
        tables_match "compress_nll_stories260K_repeated_w$w" "$TMP/s260.safetensors" "$TMP/story8" $w
    done
else skip compress_nll_stories260K "shared models/stories260K not found or not convertible (set LMC_SHARED)"; fi
for src in TinyStories-656K-f32 selftrained-gpt2-tiny selftrained-gptneox-tiny; do
    if need_shared "models/$src/config.json"; then
        for w in 256 32; do tables_match "compress_nll_${src}_w$w" "$SHARED/models/$src" "$TMP/story" $w; done
    else skip "compress_nll_$src" "shared models/$src not found (set LMC_SHARED)"; fi
done
for w in 512 32; do
    tables_match compress_nll_gguf_q4_0_w$w tests/data/gguf/llama-q4_0.gguf "$TMP/story" $w
    tables_match compress_nll_demo_w$w demo-model "$TMP/story" $w
done

# the report: sizes, bits per byte and char, ideal, speed, gzip and xz
printf 'Debian is a free operating system (OS) for your computer.\nIt comes with many packages.\n' >"$TMP/txt"
out=$($LMC compress --model $M "$TMP/txt" -o "$TMP/txt.lmcz" --threads 1 --quiet 2>&1); rc=$?
size=$(wc -c <"$TMP/txt.lmcz" 2>/dev/null)
if [ $rc -ne 0 ]; then fail compress_report "exit $rc: $out"
elif ! printf '%s\n' "$out" | grep -Eq "^$TMP/txt: 87 bytes -> $TMP/txt.lmcz: $size bytes: [0-9.]+ bits/byte, [0-9.]+ bits/char \(87 chars\)$"
then fail compress_report "first line: $out"
elif ! printf '%s\n' "$out" | grep -Eq '^  [0-9]+ tokens \(0 escaped bytes\), window 512 \(1 contexts\), [0-9.]+ s: [0-9.]+ tokens/s'
then fail compress_report "speed line: $out"
elif ! printf '%s\n' "$out" | grep -Eq '^  gzip -9: [0-9]+ bytes \([0-9.]+ bits/byte\); xz -9: [0-9]+ bytes'
then fail compress_report "baselines line: $out"
else pass compress_report; fi
out=$($LMC decompress --model $M "$TMP/txt.lmcz" -o "$TMP/txt.out" --quiet 2>&1)
if printf '%s\n' "$out" | grep -Eq "^$TMP/txt.lmcz -> $TMP/txt.out: 87 bytes \(length and CRC-32 verified\)" &&
    cmp -s "$TMP/txt" "$TMP/txt.out"; then pass decompress_report
else fail decompress_report "$out"; fi

# bad cases: one line, non-zero exit, no output and no temporary left behind
no_output() { # NAME NEEDLE OUT CMD...
    local name=$1 needle=$2 o=$3; shift 3
    rm -f "$o"
    local before=$_f
    expect_fail "$name" "$needle" "$@"
    [ $_f -ne $before ] && return
    if [ -e "$o" ] || compgen -G "$o.tmp.*" >/dev/null; then
        _p=$((_p - 1)); fail "$name" "left $(ls "$o"* 2>/dev/null | tr '\n' ' ')behind"
    fi
}
C=$TMP/txt.lmcz
N=$(wc -c <"$C")
: >"$TMP/empty"
no_output compress_empty "$TMP/empty: empty input: nothing to compress" "$TMP/o" $LMC compress --model $M "$TMP/empty" -o "$TMP/o"
no_output compress_missing "cannot open" "$TMP/o" $LMC compress --model $M "$TMP/nope" -o "$TMP/o"
no_output compress_bad_dir "cannot write there" "$TMP/no/dir/o" $LMC compress --model $M "$TMP/txt" -o "$TMP/no/dir/o" --quiet
no_output decompress_empty "empty file, not an lmc compressed file" "$TMP/o" $LMC decompress --model $M "$TMP/empty" -o "$TMP/o"
head -c 1 "$C" >"$TMP/one.lmcz"
no_output decompress_one_byte "not an lmc compressed file" "$TMP/o" $LMC decompress --model $M "$TMP/one.lmcz" -o "$TMP/o"
no_output decompress_magic "not an lmc compressed file (no LMCZ magic)" "$TMP/o" $LMC decompress --model $M "$TMP/txt" -o "$TMP/o"
head -c $((N - 1)) "$C" >"$TMP/short.lmcz"
no_output decompress_truncated "truncated: the coded stream has" "$TMP/o" $LMC decompress --model $M "$TMP/short.lmcz" -o "$TMP/o"
head -c 40 "$C" >"$TMP/short2.lmcz"
no_output decompress_truncated_header "truncated: 40 bytes, shorter than the 50-byte header" "$TMP/o" \
    $LMC decompress --model $M "$TMP/short2.lmcz" -o "$TMP/o"
cp "$C" "$TMP/bad.lmcz"
printf '\x55' | dd of="$TMP/bad.lmcz" bs=1 seek=$((N - 5)) conv=notrunc status=none
no_output decompress_corrupt "damaged: the coded stream fails its CRC-32" "$TMP/o" $LMC decompress --model $M "$TMP/bad.lmcz" -o "$TMP/o"
cp "$C" "$TMP/bad2.lmcz"
printf '\x01' | dd of="$TMP/bad2.lmcz" bs=1 seek=12 conv=notrunc status=none
no_output decompress_corrupt_header "damaged header" "$TMP/o" $LMC decompress --model $M "$TMP/bad2.lmcz" -o "$TMP/o"
{ cat "$C"; printf 'x'; } >"$TMP/long.lmcz"
no_output decompress_trailing "1 bytes after the end of the coded stream" "$TMP/o" $LMC decompress --model $M "$TMP/long.lmcz" -o "$TMP/o"
# another model: the demo model with another config (its fingerprint hashes the config), and a 0-length weights file
mkdir -p "$TMP/other" "$TMP/zero"
for f in demo-model/*; do ln -s "$PWD/$f" "$TMP/other/"; ln -s "$PWD/$f" "$TMP/zero/"; done
rm "$TMP/other/config.json" "$TMP/zero/model.safetensors"
sed 's/"rms_norm_eps": 1e-05/"rms_norm_eps": 1e-06/' demo-model/config.json >"$TMP/other/config.json"
: >"$TMP/zero/model.safetensors"
no_output decompress_other_model "was compressed with another model" "$TMP/o" \
    $LMC decompress --model "$TMP/other" "$C" -o "$TMP/o"
no_output compress_zero_model "model.safetensors" "$TMP/o" $LMC compress --model "$TMP/zero" "$TMP/txt" -o "$TMP/o"
no_output decompress_zero_model "model.safetensors" "$TMP/o" $LMC decompress --model "$TMP/zero" "$C" -o "$TMP/o"

# usage errors: exit 2
out=$($LMC compress --model $M "$TMP/txt" 2>&1); rc=$?
[ $rc -eq 2 ] && [ "$out" = "lmc: compress needs --model and -o (usage: lmc compress --model MODEL IN -o OUT.lmcz [--window W] [--threads T] [--quiet]; see lmc compress --help)" ] &&
    pass compress_usage || fail compress_usage "exit $rc: $out"
out=$($LMC decompress --model $M "$C" -o "$TMP/o" --window 5 2>&1); rc=$?
[ $rc -eq 2 ] && [ "$out" = "lmc: unknown option '--window' for decompress (usage: lmc decompress --model MODEL IN.lmcz -o OUT [--threads T] [--quiet]; see lmc decompress --help)" ] &&
    pass decompress_usage || fail decompress_usage "exit $rc: $out"
cli_summary
