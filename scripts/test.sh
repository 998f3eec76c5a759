#!/usr/bin/env bash
# The whole suite as `make test` runs it: two pytest runs side by side, each about half of the
# time, on a machine of two cores. Arguments go to both runs.
#
#   Beside: what drives programs and waits for them: the Windows agent and the MSI under Wine
#     (tests/windows, tests/packaging but for the Debian package), the desktop under Xvfb,
#     Chromium, and the API fuzzing. Everything that builds or installs the MSI is here, so no
#     MSI is built twice at once; so is every agent that listens on the fixed ports of a real
#     install (the agent's 8988-8998, the vendors' 8987, 4433, 8443, 14408): the Windows agent,
#     the browser tests', the demo's, and the test that takes 8988 to see the agent move on.
#   Main: everything else: tests/unit, tests/integration, and tests/packaging/test_deb.py, which
#     installs the package on this machine (/etc/kyso-agent) and so runs beside nothing that
#     starts an agent from this tree's Windows or desktop tests. A new folder of tests lands here,
#     and its agents must take free ports (tests/conftest.py's start_agent does).
#
# Each run has its own private displays, ports, tokens and temporary directories. The second
# run's output is printed after the first's; the exit status is the first failing run's. A run
# that a filter left without tests (pytest's 5, as with `PYTEST_ARGS="-k vgca"`) counts as
# passed when the other ran some; both empty is 5, as for pytest itself.
set -uo pipefail
cd "$(dirname "$0")/.."
python=.venv/bin/python
beside_log=$(mktemp)
trap 'rm -f "$beside_log"' EXIT

beside=(tests/windows tests/desktop tests/browser tests/fuzz tests/integration/test_demo.py)
main=()
for path in "${beside[@]}"; do main+=(--ignore "$path"); done
fixed_port=tests/integration/test_security.py::test_default_port_moves_on_when_taken
beside+=("$fixed_port")
main+=(--deselect "$fixed_port")
for file in tests/packaging/test_*.py; do
    if [ "$file" = tests/packaging/test_deb.py ]; then
        continue
    fi
    beside+=("$file")
    main+=(--ignore "$file")
done

"$python" -m pytest "$@" "${beside[@]}" >"$beside_log" 2>&1 &
beside_pid=$!

"$python" -m pytest "$@" "${main[@]}" tests
main_status=$?

wait "$beside_pid"
beside_status=$?
echo
echo "=== run beside the above: ${beside[*]} (exit status $beside_status) ==="
cat "$beside_log"
no_tests=5
if [ "$main_status" -eq "$no_tests" ] && [ "$beside_status" -ne "$no_tests" ]; then main_status=0; fi
if [ "$beside_status" -eq "$no_tests" ] && [ "$main_status" -eq 0 ]; then beside_status=0; fi
if [ "$main_status" -ne 0 ]; then exit "$main_status"; fi
exit "$beside_status"
