# lib_cli.sh — helpers for the CLI tests (tests/cli_*.sh): each check prints PASS/FAIL/SKIP lines that
# tests/run.sh counts. Source it; call `cli_summary` at the end.
LMC=${LMC:-./lmc}
SHARED=${LMC_SHARED:-../shared}
TMP=$(mktemp -d /tmp/lmc_cli.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
_p=0 _f=0 _s=0
pass() { echo "PASS $1"; _p=$((_p + 1)); }
fail() { echo "FAIL $1: $2"; _f=$((_f + 1)); }
skip() { echo "SKIP $1: $2"; _s=$((_s + 1)); }
need_shared() { [ -e "$SHARED/$1" ]; }
# expect_fail NAME NEEDLE CMD...: CMD must exit non-zero with one stderr line containing NEEDLE, nothing on stdout.
expect_fail() {
    local name=$1 needle=$2; shift 2
    local out err rc
    out=$("$@" 2>"$TMP/stderr"); rc=$?
    err=$(cat "$TMP/stderr")
    if [ $rc -eq 0 ]; then fail "$name" "exit 0, expected an error"; return; fi
    if [ $rc -ge 128 ]; then fail "$name" "crashed (exit $rc): $err"; return; fi
    if [ "$(printf '%s\n' "$err" | grep -c .)" -ne 1 ]; then fail "$name" "expected one stderr line, got: $err"; return; fi
    case "$err" in *"$needle"*) pass "$name" ;; *) fail "$name" "stderr lacks '$needle': $err" ;; esac
}
cli_summary() { echo "$_p passed, $_f failed, $_s skipped"; [ $_f -eq 0 ]; }
