#!/usr/bin/env bash
# Installs the Debian packages lmc needs, only those missing. Uses sudo when not root.
set -euo pipefail
need=()
have_hdr() { [ -e "$1" ]; }
have_hdr /usr/include/x86_64-linux-gnu/openblas-openmp/cblas.h || need+=(libopenblas-openmp-dev)
have_hdr /usr/include/cjson/cJSON.h   || need+=(libcjson-dev)
have_hdr /usr/include/pcre2.h         || need+=(libpcre2-dev)
have_hdr /usr/include/utf8proc.h      || need+=(libutf8proc-dev)
have_hdr /usr/include/zlib.h          || need+=(zlib1g-dev)
have_hdr /usr/include/lzma.h          || need+=(liblzma-dev) # lmc compress: the xz -9 baseline, in-process
have_hdr /usr/include/nettle/sha1.h   || need+=(nettle-dev) # lmc corpus: SHA-1 line hashes, sha256 of inputs
have_hdr /usr/include/archive.h       || need+=(libarchive-dev) # lmc corpus code: tarballs
have_hdr /usr/include/git2.h          || need+=(libgit2-dev) # lmc corpus code: git repositories
command -v fasttext >/dev/null || need+=(fasttext) # lmc corpus wet --lid fasttext (optional at run time; tests use it)
command -v xmllint >/dev/null || need+=(libxml2-utils) # tests/cli_report.sh: the report SVG is well-formed XML
# MPI (mpirun -np R ./lmc eval): the build uses it when mpicc is present, make test runs tests/cli_mpi.sh
command -v mpicc >/dev/null  || need+=(libopenmpi-dev)
command -v mpirun >/dev/null || need+=(openmpi-bin)
have_hdr /usr/include/microhttpd.h   || need+=(libmicrohttpd-dev) # lmc serve: the HTTP server
# tests/cli_serve.sh: lm-evaluation-harness's own client (../shared/lmeval, level A and level C) on Debian's python3
for p in requests aiohttp tenacity tqdm jinja2 yaml numpy typing-extensions dill packaging pandas; do
    dpkg -s "python3-$p" >/dev/null 2>&1 || need+=("python3-$p")
done
command -v cc >/dev/null   || need+=(gcc)
command -v make >/dev/null || need+=(make)
[ ${#need[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${need[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
