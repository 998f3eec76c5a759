#!/usr/bin/env bash
# The whole suite as `make test` runs it: two pytest runs side by side, so that the Windows
# group, which spends most of its time in Wine (installing the MSI, starting the Windows
# agent), does not add its minutes to the rest. Arguments go to both runs.
#
#   Windows group: tests/windows and tests/packaging, but for the Debian package's test. It holds
#     everything that builds or installs the MSI (dist/, ~/.cache/kyso-agent/wine), so no MSI is
#     built twice at once.
#   The rest: tests/unit, integration, browser, desktop, fuzz, and tests/packaging/test_deb.py,
#     which installs the package on this machine (/etc/kyso-agent) and so runs beside nothing
#     that starts the Windows agent.
#
# Each run has its own private displays, ports, tokens and temporary directories. The Windows
# group's output is printed after the rest's; the exit status is the first failing run's.
set -uo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
windows_log=$(mktemp)
trap 'rm -f "$windows_log"' EXIT

windows=(tests/windows tests/packaging --ignore tests/packaging/test_deb.py)
"$python" -m pytest "$@" "${windows[@]}" >"$windows_log" 2>&1 &
windows_pid=$!

rest_args=(--ignore tests/windows)
for file in tests/packaging/test_*.py; do
    [ "$file" = tests/packaging/test_deb.py ] || rest_args+=(--ignore "$file")
done
"$python" -m pytest "$@" "${rest_args[@]}" tests
rest=$?

wait "$windows_pid"
windows_status=$?
echo
echo "=== tests/windows and tests/packaging (run beside the above), exit status $windows_status ==="
cat "$windows_log"
if [ "$rest" -ne 0 ]; then exit "$rest"; fi
exit "$windows_status"
