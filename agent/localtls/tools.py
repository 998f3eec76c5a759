"""Running the stores' command-line tools and reading the certificates they print."""

from __future__ import annotations

import base64
import re
import subprocess
from collections.abc import Callable, Sequence
from typing import Final

TOOL_TIMEOUT: Final = 10.0
"""Seconds one run of a store's tool may take."""

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]
"""Runs a command line and returns what it printed (tests pass a fake one)."""


def run_tool(argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with a time limit; its output as text, whatever the exit code."""
    return subprocess.run(
        list(argv),
        capture_output=True,
        text=True,
        timeout=TOOL_TIMEOUT,
        check=False,
        encoding="utf-8",
        errors="replace",
    )


def last_line(done: subprocess.CompletedProcess[str]) -> str:
    """The last thing a failed tool said (its error, usually), or its exit code."""
    lines = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    return lines[-1] if lines else f"exit code {done.returncode}"


def der_certificates(pem_text: str) -> list[bytes]:
    """DER of every PEM certificate in ``pem_text``; undecodable ones are skipped.

    Only the base64 is decoded, not the certificate: system bundles hold old roots that
    cryptography warns about (e.g. a negative serial number), and only equality matters here.
    """
    found = []
    for body in re.findall(
        r"-----BEGIN CERTIFICATE-----(.+?)-----END CERTIFICATE-----", pem_text, re.DOTALL
    ):
        try:
            der = base64.b64decode("".join(body.split()), validate=True)
        except ValueError:
            continue
        if der:
            found.append(der)
    return found
