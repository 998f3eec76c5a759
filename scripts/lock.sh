#!/bin/sh
# Write the lock of every Python dependency, each pinned release with the SHA-256 of every file
# it has, all three files with the very same versions:
#   requirements/dev.txt      runtime, dev and build tools, for every platform (uv's universal
#                             resolution: Linux x86_64 and Windows win_amd64 among them) and
#                             every Python from requires-python up: make venv
#   requirements/main.txt     the runtime alone, universal: the Debian package (make deb)
#   requirements/windows.txt  the runtime for the MSI's CPython 3.13 on win_amd64 (make msi),
#                             resolved for that platform, so no marker is left to evaluate
#
# Usage: scripts/lock.sh UV OUT_DIR [uv pip compile options, e.g. --upgrade]
#   make lock      refreshes requirements/ (the newest releases pyproject's ranges allow)
#   make newest    writes a throwaway lock with --upgrade and tests it (scripts/newest.sh)
set -eu
uv=$1
out=$2
shift 2
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
cd "$repo"
compile() {
    "$uv" pip compile --quiet --generate-hashes --annotation-style line \
        --custom-compile-command "make lock" "$@"
}
# --python-version 3.11: the oldest Python the agent supports (Debian 12's); the universal
# resolution adds environment markers where a newer Python or another platform differs.
compile --universal --python-version 3.11 "$@" --extra dev \
    pyproject.toml requirements/build.in -o "$out/dev.txt"
# The other two take the very versions of dev.txt: what the tests ran is what the packages ship.
compile --universal --python-version 3.11 "$@" pyproject.toml -c "$out/dev.txt" -o "$out/main.txt"
compile --python-platform x86_64-pc-windows-msvc --python-version 3.13 "$@" \
    pyproject.toml -c "$out/dev.txt" -o "$out/windows.txt"
