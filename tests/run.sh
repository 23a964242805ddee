#!/usr/bin/env bash
# Runs every test binary (build/tests/test_*) and CLI test script (tests/cli_*.sh), prints their lines, and
# ends with the total "N passed, N failed, N skipped". Exit status non-zero when anything failed.
set -u
cd "$(dirname "$0")/.."
export LMC_SHARED="${LMC_SHARED:-../shared}"
# as ./lmc does for itself (src/cli/main.c): idle OpenMP threads sleep instead of spinning
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
[ -d "$LMC_SHARED" ] || echo "note: LMC_SHARED=$LMC_SHARED not found; tests that need references are skipped"
pass=0 fail=0 skip=0
run_one() {
    local name=$1; shift
    local out rc t0=$SECONDS
    out=$("$@" 2>&1); rc=$?
    # result lines, and the indented measurement lines tests print under them
    printf '%s\n' "$out" | grep -E '^(PASS|FAIL|SKIP) |^  ' | sed "s|^|[$name] |"
    echo "[$name] ($((SECONDS - t0)) s)"
    local p f s
    p=$(printf '%s\n' "$out" | grep -c '^PASS ')
    f=$(printf '%s\n' "$out" | grep -c '^FAIL ')
    s=$(printf '%s\n' "$out" | grep -c '^SKIP ')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "[$name] FAIL (exit $rc, no FAIL line): $(printf '%s\n' "$out" | tail -3 | tr '\n' ' ')"
        f=1
    fi
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
}
for t in build/tests/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
for t in tests/cli_*.sh; do
    [ -f "$t" ] || continue
    run_one "$(basename "$t")" bash "$t"
done
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
