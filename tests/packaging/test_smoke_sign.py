"""packaging/windows/smoke_sign.py, the end-to-end signing step of the Windows runner, run here.

The Windows workflow runs it with the MSI's python.exe under ``C:\\Program Files\\Kyso Agent``;
here it runs with the development virtualenv reached through a directory whose name has a space,
so that the prompter wrapper it needs there is exercised too. Real SoftHSM token, real agent
(``sign-pdf``, ``verify``, ``serve`` and the HTTPS API), pyHanko as the independent verifier.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.testing.softhsm import find_softhsm_module

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "packaging" / "windows" / "smoke_sign.py"


def test_smoke_sign_passes_every_step(tmp_path: Path) -> None:
    venv = Path(sys.prefix)
    spaced = tmp_path / "Kyso Agent"
    spaced.symlink_to(venv, target_is_directory=True)
    python = spaced / Path(sys.executable).relative_to(venv)
    work = tmp_path / "work"
    env = {k: v for k, v in os.environ.items() if k not in ("SOFTHSM2_CONF", "PYTHONPATH")}
    done = subprocess.run(
        [str(python), str(SCRIPT), "--module", str(find_softhsm_module()), "--work", str(work)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    steps = [line for line in done.stdout.splitlines() if line[:2] in ("1.", "2.", "3.", "4.")]
    assert steps == [
        "1. token",
        "2. kyso-agent sign-pdf, verify",
        "3. kyso-agent serve, POST /v1/pdf/sign",
        "4. both signatures intact, valid and trusted (pyHanko)",
    ]
    # The prompter ran through the wrapper that a Python under a path with a space needs.
    assert (work / "prompter.sh").read_text().startswith(f'#!/bin/sh\nexec "{python}"')
    assert (work / "to-trinh-signed.pdf").read_bytes().startswith(b"%PDF")
