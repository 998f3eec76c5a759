"""No copy of the PIN stays in the agent's memory after a signature: the prompter's raw answer,
its parsed form and the login copy are all wiped (agent/consent/external.py, agent/pin.py).

The agent's whole writable memory is read from ``/proc/PID/mem`` after the answer came back,
and searched for the PIN, with a PIN that appears nowhere else (not the suite's ``123456``).
Linux only; the module workers are separate processes, tested in test_resilience.py.
"""

from __future__ import annotations

import base64
import re
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from agent.testing.softhsm import KeySpec, TestCa, TokenSpec, new_token
from tests.conftest import start_agent
from tests.verify import digest_of

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/PID/mem"),
]

RARE_PIN = "80471326"


def occurrences(pid: int, needle: bytes) -> int:
    """How many times ``needle`` is in the writable memory of ``pid`` (heap, stacks, anon)."""
    found = 0
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    with open(f"/proc/{pid}/mem", "rb", buffering=0) as memory:
        for line in maps:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if "rw" not in fields[1] or end - start > 1 << 30:
                continue
            try:
                memory.seek(start)
                chunk = memory.read(end - start)
            except (OSError, ValueError):
                continue
            found += len(re.findall(re.escape(needle), chunk))
    return found


def test_no_copy_of_the_pin_is_left_in_the_agent_after_signing(tmp_path: Path) -> None:
    hsm, [key] = new_token(
        tmp_path,
        TokenSpec("KYSO-MEM", RARE_PIN, keys=(KeySpec("21", "EC", "Đỗ Thị Mai"),)),
        TestCa.create("Kyso Test CA (memory)"),
    )
    running = start_agent(tmp_path / "agent", hsm)
    try:
        assert occurrences(running.process.pid, RARE_PIN.encode()) == 0
        running.script({"approved": True, "pin": RARE_PIN})
        certificate = key.certificate.public_bytes(serialization.Encoding.DER)
        response = running.post(
            "/v1/sign",
            {
                "hash": base64.b64encode(digest_of(b"memory")).decode(),
                "hashAlgorithm": "SHA-256",
                "certificate": base64.b64encode(certificate).decode(),
            },
        )
        assert response.status == 200, response.body
        # The request's clean-up may still be running when its answer reaches the client
        # (seen once, under the whole suite's load): it gets a few seconds, no more.
        deadline = time.monotonic() + 5
        left = occurrences(running.process.pid, RARE_PIN.encode())
        while left and time.monotonic() < deadline:
            time.sleep(0.2)
            left = occurrences(running.process.pid, RARE_PIN.encode())
        assert left == 0, f"the PIN is still {left} times in the agent's memory"
    finally:
        running.stop()
