"""Where a warning goes at run time (agent/pywarnings.py): to the log at DEBUG, never to a
terminal or dialog. `kyso-agent sign-pdf` and `verify` are run with every warning shown in
tests/integration/test_pdf_api.py::test_cli_sign_pdf_then_verify, `make demo` in test_demo.py.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration

SCRIPT = (
    "import logging, sys, warnings\n"
    "logging.basicConfig(level=logging.DEBUG, stream=sys.stdout,"
    " format='%(levelname)s %(message)s')\n"
    "from agent.pywarnings import route_to_log\n"
    "route_to_log()\n"
    "warnings.warn('a library is unhappy', DeprecationWarning)\n"
)


def run_with(warnings_option: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    return subprocess.run(
        [sys.executable, "-W", warnings_option, "-c", SCRIPT],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_a_warning_goes_to_the_log_at_debug_and_never_to_stderr() -> None:
    shown = run_with("default")
    assert shown.returncode == 0 and shown.stderr == ""
    assert "DEBUG" in shown.stdout and "DeprecationWarning: a library is unhappy" in shown.stdout


def test_the_filters_still_apply() -> None:
    """-W error is the developer's choice and still raises: the route changes where a warning
    is shown, never whether it is one."""
    raised = run_with("error")
    assert raised.returncode != 0 and "a library is unhappy" in raised.stderr
