#!/usr/bin/env bash
# bench/mpi_speedup.sh — wall-clock speedup of `mpirun -np R ./lmc eval` (1 thread per rank) over one process
# with 1 thread, on the demo model over the three demo corpora; also checks that both give the same NLL bits.
# Not a test: the figure depends on the machine and its load (README "Several processes and hosts").
#   bench/mpi_speedup.sh                     # R=2, W=1900 S=512, first 3 records of each corpus
#   R=2 FILE_NUM=-1 bench/mpi_speedup.sh     # the whole corpora (about 25 min per run on 1 core)
set -euo pipefail
cd "$(dirname "$0")/.."
R=${R:-2} W=${W:-1900} S=${S:-512} FILE_NUM=${FILE_NUM:-3}
LMC=${LMC:-./lmc}
$LMC --version | grep -q MPI || { echo "lmc was built without MPI (make MPI=1)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
TMP=$(mktemp -d /tmp/lmc_mpibench.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
ARGS=(eval --model demo-model --data demo-data/cc.jsonl --data demo-data/python.jsonl --data demo-data/arxiv_math.jsonl
      --block-size "$W" --stride "$S" --file-num "$FILE_NUM" --threads 1 --quiet)
bits() { python3 -c "import json,sys; print(' '.join(r['nll_bits'] for r in json.load(open(sys.argv[1]))['results']))" "$1"; }
windows() { python3 -c "import json,sys; print(sum(r['windows'] for r in json.load(open(sys.argv[1]))['results']))" "$1"; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"
# wall and CPU (user + sys of every process) seconds of each run: on a loaded machine the wall-clock speedup
# says more about the neighbours than about lmc, while the CPU seconds show whether the ranks duplicate work
TIMEFORMAT='%R %U %S'
{ time $LMC "${ARGS[@]}" --json "$TMP/one.json" >/dev/null; } 2>"$TMP/t1"
{ time mpirun --oversubscribe -np "$R" $LMC "${ARGS[@]}" --json "$TMP/mpi.json" >/dev/null 2>"$TMP/mpi.err"; } 2>"$TMP/t2"
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"
calc() { python3 -c "print($1)"; }
read -r one u1 s1 <"$TMP/t1"
read -r mpi u2 s2 <"$TMP/t2"
same=no; [ "$(bits "$TMP/one.json")" = "$(bits "$TMP/mpi.json")" ] && same=yes
printf 'demo model, 3 demo corpora (file-num %s), W=%s S=%s: %s windows\n' "$FILE_NUM" "$W" "$S" "$(windows "$TMP/one.json")"
printf '1 process x 1 thread:     %8.1f s wall  %8.1f s CPU\n' "$one" "$(calc "$u1 + $s1")"
printf 'mpirun -np %s x 1 thread: %8.1f s wall  %8.1f s CPU (all ranks and mpirun)\n' "$R" "$mpi" "$(calc "$u2 + $s2")"
printf 'speedup:                  %8.2f   (NLL bits identical: %s)\n' "$(calc "$one / $mpi")" "$same"
printf 'CPU ratio (MPI / 1 process): %5.2f\n' "$(calc "($u2 + $s2) / ($u1 + $s1)")"
[ "$same" = yes ]
