#!/usr/bin/env bash
# Can the lock be refreshed? (make newest; docs/dependencies.md)
# Resolves the newest releases that pyproject.toml's ranges allow into a throwaway lock, installs
# it into a throwaway venv (hash-checked, as make venv does) and runs the unit tests there with
# the same warnings policy. The repository's lock and .venv are not touched: a release that
# breaks the agent shows up here as "the lock cannot be refreshed yet", never as a broken main.
#
# Usage: scripts/newest.sh UV [pytest arguments]     (default: tests/unit)
set -eu
uv=$1
shift
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/kyso-newest.XXXXXX")
trap 'rm -rf "$work"' EXIT

"$repo/scripts/lock.sh" "$uv" "$work/lock"
echo "Newest allowed releases that differ from the lock (requirements/dev.txt):"
changes=$(diff <(grep -E '^[A-Za-z0-9]' "$repo/requirements/dev.txt" | cut -d' ' -f1) \
              <(grep -E '^[A-Za-z0-9]' "$work/lock/dev.txt" | cut -d' ' -f1) | grep '^[<>]' || true)
echo "${changes:-  none: the lock is current}"

"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install -qq --disable-pip-version-check --require-hashes \
    --no-deps -r "$work/lock/dev.txt"
"$work/venv/bin/python" -m pip install -qq --disable-pip-version-check --no-deps \
    --no-build-isolation "$repo"
cd "$repo"
if "$work/venv/bin/python" -m pytest -p no:cacheprovider -q "${@:-tests/unit}"; then
    echo "make newest: the lock can be refreshed (make lock, then make test)"
else
    echo "make newest: the lock cannot be refreshed yet: the newest releases above fail the tests" >&2
    exit 1
fi
