"""The agent's data directory is its user's alone (agent/private.py): the audit trail, the log
and the local TLS key of one official are no business of another user of the same computer."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SessionToken, start_agent

pytestmark = pytest.mark.integration


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_root() -> Iterator[Path]:
    """A folder every user may enter (pytest's own temporary folders are 0700)."""
    root = Path(tempfile.mkdtemp(prefix="kyso-private-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


def test_a_new_data_directory_and_its_log_are_private(token: SessionToken, tmp_path: Path) -> None:
    running = start_agent(tmp_path, token.hsm)
    try:
        data = tmp_path / "data"
        assert mode(data) == 0o700
        assert mode(data / "logs") == 0o700
        assert mode(data / "logs" / "agent.log") == 0o600
    finally:
        running.stop()


def test_a_readable_data_directory_and_log_are_repaired_at_start(
    token: SessionToken, open_root: Path
) -> None:
    """As an older version left them: 0755 folders and a 0644 log that another user read."""
    root = open_root / "agent"
    logs = root / "data" / "logs"
    logs.mkdir(parents=True)
    for folder in (root, root / "data", logs):
        folder.chmod(0o755)
    old_log = logs / "agent.log.1"
    old_log.write_text("2026-11-30 INFO agent: signed for https://portal.example.gov.vn\n")
    old_log.chmod(0o644)
    running = start_agent(root, token.hsm)
    try:
        assert mode(root / "data") == 0o700
        assert mode(logs) == 0o700
        assert mode(logs / "agent.log") == 0o600
        assert mode(old_log) == 0o600
        if os.geteuid() == 0:
            # Another user cannot read the log, even knowing where it is.
            other = subprocess.run(
                ["cat", str(logs / "agent.log")],
                capture_output=True,
                text=True,
                user=65534,
                group=65534,
                extra_groups=[],
                check=False,
                cwd="/",
            )
            assert other.returncode != 0 and "Permission denied" in other.stderr
    finally:
        running.stop()
