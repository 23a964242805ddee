"""The `ok ...` / `FAIL ...` lines of tests/cli_serve.sh's Python helpers (serve_lmeval.py, serve_levelc.py,
serve_checks.py), counted so that each can exit 1 when one failed."""
import sys

failed = 0


def check(ok, what):
    global failed
    print(("ok " if ok else "FAIL ") + what, flush=True)
    failed += not ok


def finish():
    sys.exit(1 if failed else 0)
