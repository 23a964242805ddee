#!/usr/bin/env bash
# cli_readme.sh — runs the `./lmc ...` commands shown in README.md, in order, so that the front page cannot rot:
# each must exit 0. A command is a line of a fenced code block that starts with `./lmc ` (a block of commands)
# or `$ ./lmc ` (a block showing a session: there only `$ ` lines are commands, the rest is output); a line
# ending in `\` continues on the next. The commands run in a scratch directory holding links to ./lmc,
# demo-model, demo-data and tests, so files they write (demo.json, ...) land there and later commands find them.
# `../shared/` is read from $LMC_SHARED; a command that needs it skips when it is absent. A command whose line
# ends in `# needs bench/peer.sh's build` skips with that reason (llama.cpp's files are not part of the tests); one
# ending in `# a server: tests/cli_serve.sh runs it` too (`lmc serve` runs until stopped).
cd "$(dirname "$0")/.." || exit 1
. tests/lib_cli.sh
ROOT=$PWD

# readme_commands FILE: one command per line, continuations joined, prompts stripped.
readme_commands() {
    awk '
        /^```/ { in_block = !in_block; session = 0; next }
        !in_block { next }
        /^\$ / { session = 1 }
        {
            line = $0
            if (pending != "") { sub(/^[ \t]+/, "", line); pending = pending " " line }
            else if (line ~ /^\$ \.\/lmc / || (!session && line ~ /^\.\/lmc /)) { sub(/^\$ /, "", line); pending = line }
            else next
            if (pending ~ /\\$/) { sub(/[ \t]*\\$/, "", pending); next }
            print pending; pending = ""
        }' "$1"
}

mkdir -p "$TMP/run"
for f in lmc demo-model demo-data tests; do ln -s "$ROOT/$f" "$TMP/run/$f"; done
shared_abs=$(cd "$SHARED" 2>/dev/null && pwd)

n=0
while IFS= read -r cmd; do
    n=$((n + 1))
    name="readme command $n: ${cmd:0:70}"
    case "$cmd" in
        *"# needs bench/peer.sh's build"*) skip "$name" "needs bench/peer.sh's build (llama.cpp's files)"; continue ;;
        *"# a server: tests/cli_serve.sh runs it"*) skip "$name" "a server, run by tests/cli_serve.sh"; continue ;;
    esac
    if [[ "$cmd" == *../shared/* ]]; then
        if [ -z "$shared_abs" ]; then skip "$name" "needs $SHARED (LMC_SHARED)"; continue; fi
        cmd=${cmd//..\/shared\//$shared_abs/}
    fi
    if (cd "$TMP/run" && eval "$cmd") >"$TMP/out" 2>"$TMP/err"; then
        pass "$name"
    else
        fail "$name" "exit $?: $(tail -2 "$TMP/err" | tr '\n' ' ')"
    fi
done < <(readme_commands README.md)

# What the README says of the round trip: decompress gives back the bytes.
if [ -f "$TMP/run/readme.out" ]; then
    if cmp -s "$TMP/run/readme.out" demo-data/README.md; then pass "README compress/decompress round trip"
    else fail "README compress/decompress round trip" "readme.out differs from demo-data/README.md"; fi
fi
# The extraction itself: a README without commands would pass every time.
if [ "$n" -ge 5 ]; then pass "README.md shows $n ./lmc commands"; else fail "README.md commands" "found only $n"; fi
cli_summary
