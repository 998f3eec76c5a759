"""``kyso-agent run`` makes the user's browsers trust its local CA at the first start;
``serve`` never touches the user's stores. Real certutil, a temporary HOME."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SessionToken, start_agent

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("certutil") is None, reason="needs libnss3-tools"),
]

NO_DISPLAY = {"DISPLAY": "", "WAYLAND_DISPLAY": ""}


def nss_listing(home: Path) -> str:
    done = subprocess.run(
        ["certutil", "-L", "-d", f"sql:{home / '.pki' / 'nssdb'}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout


def test_run_trusts_the_local_ca_once_and_serve_never(token: SessionToken, tmp_path: Path) -> None:
    root = tmp_path / "agent"
    home = root / "home"
    served = start_agent(root, token.hsm)
    served.stop()
    assert not (home / ".pki").exists(), "serve must leave the user's stores alone"

    first = start_agent(root, token.hsm, command="run", env=NO_DISPLAY)
    first.stop()
    assert "Kyso Agent local CA" in nss_listing(home)
    assert "trusting the local CA: " in first.log_text()
    marker = first.data_dir / "tls" / "trusted"
    written = marker.stat().st_mtime_ns
    database = (home / ".pki" / "nssdb" / "cert9.db").stat().st_mtime_ns

    again = start_agent(root, token.hsm, command="run", env=NO_DISPLAY)
    again.stop()
    # Once per CA, not at every start: neither the marker nor the database was written.
    assert marker.stat().st_mtime_ns == written
    assert (home / ".pki" / "nssdb" / "cert9.db").stat().st_mtime_ns == database


def test_policy_can_leave_trust_to_it(token: SessionToken, tmp_path: Path) -> None:
    root = tmp_path / "agent"
    running = start_agent(
        root, token.hsm, command="run", env=NO_DISPLAY, policy={"trust_local_ca": False}
    )
    running.stop()
    assert not (root / "home" / ".pki").exists()
