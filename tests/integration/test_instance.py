"""One agent per user: a second agent on the same data directory stops with a message."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.conftest import SessionToken, start_agent

pytestmark = pytest.mark.integration


def test_a_second_agent_for_the_same_user_stops_and_the_first_keeps_serving(
    token: SessionToken, tmp_path: Path
) -> None:
    first = start_agent(tmp_path / "agent", token.hsm)
    try:
        with pytest.raises(RuntimeError, match="already running for this user"):
            start_agent(tmp_path / "agent", token.hsm)
        assert first.request("GET", "/v1/info").status == 200
    finally:
        first.stop()
    # The lock went with the process: the next start succeeds.
    again = start_agent(tmp_path / "agent", token.hsm)
    try:
        assert again.request("GET", "/v1/info").status == 200
    finally:
        again.stop()


def test_a_killed_agent_leaves_no_stale_lock(token: SessionToken, tmp_path: Path) -> None:
    first = start_agent(tmp_path / "agent", token.hsm)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)
    first.stop()
    again = start_agent(tmp_path / "agent", token.hsm)
    try:
        assert again.request("GET", "/v1/info").status == 200
    finally:
        again.stop()
