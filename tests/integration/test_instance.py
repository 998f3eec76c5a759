"""One agent per user: a second start finds the first, asks it to show its window, and stops.

The second start is the real ``kyso-agent`` command on the same data directory; the first
is the real agent. What the first received is read in its log; its control request is
also sent by hand, to show what it refuses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.files import PARTIAL_SUFFIX
from agent.instance import (
    INSTANCE_NAME,
    SECRET_HEADER,
    SHOW_PATH,
    Found,
    InstanceLock,
    find_running,
)
from tests.conftest import PORTAL, AgentProcess, SessionToken, start_agent

pytestmark = pytest.mark.integration

ASKED = "another start of Kyso Agent asked for this agent's window"


def second_start(
    first: AgentProcess, command: str, home: Path, *extra: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``kyso-agent COMMAND`` on the first agent's data directory, without a display."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "DISPLAY": "",
        "WAYLAND_DISPLAY": "",
    }
    return subprocess.run(
        [sys.executable, "-m", "agent", command, "--data-dir", str(first.data_dir), *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def asked(agent: AgentProcess) -> int:
    """How many show requests the agent obeyed (its stderr; the log file repeats it)."""
    return agent.stderr_path.read_text("utf-8", "replace").count(ASKED)


def published(agent: AgentProcess) -> dict[str, object]:
    return dict(json.loads((agent.data_dir / INSTANCE_NAME).read_text()))


@pytest.fixture
def first(token: SessionToken, tmp_path: Path) -> Iterator[AgentProcess]:
    running = start_agent(tmp_path / "first", token.hsm)
    yield running
    running.stop()


def test_the_running_agent_publishes_pid_port_and_secret_to_this_user_only(
    first: AgentProcess,
) -> None:
    path = first.data_dir / INSTANCE_NAME
    assert path.stat().st_mode & 0o777 == 0o600
    info = published(first)
    assert info["pid"] == first.process.pid
    assert info["port"] == first.port
    assert isinstance(info["secret"], str)
    assert len(info["secret"]) >= 40
    assert info["secret"] not in first.log_text()
    # Nothing half-written is left beside it.
    assert [p.name for p in first.data_dir.iterdir() if p.name.endswith(PARTIAL_SUFFIX)] == []


def test_a_second_serve_asks_the_first_and_exits_3(first: AgentProcess, tmp_path: Path) -> None:
    done = second_start(first, "serve", tmp_path / "home")
    assert done.returncode == 3, done
    assert "Kyso Agent is already running" in done.stderr
    assert f"https://127.0.0.1:{first.port}, pid {first.process.pid}" in done.stderr
    assert "listening on" not in done.stdout
    assert asked(first) == 1
    assert first.request("GET", "/v1/info").status == 200


def test_a_second_run_without_a_display_asks_the_first_and_exits_0(
    first: AgentProcess, tmp_path: Path
) -> None:
    done = second_start(first, "run", tmp_path / "home")
    assert done.returncode == 0, done
    # The first is headless: it says so rather than pretending to open a window.
    assert "Kyso Agent is already running, without a window" in done.stdout
    assert asked(first) == 1
    assert first.request("GET", "/v1/info").status == 200


def test_a_second_start_at_login_leaves_quietly(first: AgentProcess, tmp_path: Path) -> None:
    # The MSI's machine-wide Run entry and the user's own start-at-login both fire at login.
    done = second_start(first, "run", tmp_path / "home", "--at-login")
    assert done.returncode == 0, done
    assert done.stdout == ""
    assert asked(first) == 0
    assert first.request("GET", "/v1/info").status == 200


def control(
    agent: AgentProcess,
    secret: str | None,
    *,
    method: str = "POST",
    origin: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], str | None]:
    sent = dict(headers or {})
    if secret is not None:
        sent[SECRET_HEADER] = secret
    response = agent.request(method, SHOW_PATH, origin=origin, headers=sent)
    return response.status, dict(response.headers), response.error_code


@pytest.mark.parametrize(
    ("origin", "headers", "code"),
    [
        (PORTAL, {}, "ORIGIN_NOT_ALLOWED"),  # an allowed portal is no exception
        ("null", {}, "ORIGIN_NOT_ALLOWED"),
        (None, {"Sec-Fetch-Site": "same-origin"}, "ORIGIN_NOT_ALLOWED"),
        (None, {"Sec-Fetch-Mode": "no-cors"}, "ORIGIN_NOT_ALLOWED"),
    ],
)
def test_web_pages_cannot_send_the_control_request_even_with_the_secret(
    first: AgentProcess, origin: str | None, headers: dict[str, str], code: str
) -> None:
    secret = str(published(first)["secret"])
    status, answer_headers, error = control(first, secret, origin=origin, headers=headers)
    assert (status, error) == (403, code)
    assert "Access-Control-Allow-Origin" not in answer_headers
    assert asked(first) == 0


def test_a_cors_preflight_for_the_control_request_is_refused_without_cors(
    first: AgentProcess,
) -> None:
    status, headers, error = control(
        first,
        None,
        method="OPTIONS",
        origin=PORTAL,
        headers={
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": SECRET_HEADER.lower(),
        },
    )
    assert (status, error) == (403, "ORIGIN_NOT_ALLOWED")
    assert not any(name.lower().startswith("access-control-") for name in headers)


def test_the_control_request_needs_the_exact_secret(first: AgentProcess) -> None:
    secret = str(published(first)["secret"])
    wrong = ("A" if secret[0] != "A" else "B") + secret[1:]
    for given in (None, "", wrong, secret[:-1], secret + "x"):
        status, _headers, error = control(first, given)
        assert (status, error) == (403, "CALLER_NOT_ALLOWED"), given
    assert asked(first) == 0
    status, _headers, error = control(first, secret, method="GET")
    assert (status, error) == (405, "NOT_FOUND")
    assert asked(first) == 0
    # The same request with the secret is obeyed: what was refused was the caller.
    response = first.request("POST", SHOW_PATH, origin=None, headers={SECRET_HEADER: secret})
    assert response.status == 200
    assert response.json == {"window": False}
    assert asked(first) == 1


def test_a_hung_agent_is_reported_and_no_second_agent_starts(
    first: AgentProcess, tmp_path: Path
) -> None:
    first.process.send_signal(signal.SIGSTOP)
    try:
        done = second_start(first, "run", tmp_path / "home")
    finally:
        first.process.send_signal(signal.SIGCONT)
    assert done.returncode == 1, done
    assert "already running for this user but does not answer" in done.stderr
    assert f"https://127.0.0.1:{first.port} (pid {first.process.pid})" in done.stderr
    assert "Nothing was started" in done.stderr
    assert "listening on" not in done.stdout
    # The first, running again, still owns the data directory and serves.
    assert first.request("GET", "/v1/info").status == 200
    assert published(first)["port"] == first.port


def test_an_agent_holding_the_lock_that_never_listens_is_reported(tmp_path: Path) -> None:
    # The lock is held here, in the test process: an agent stuck before its server listens.
    with InstanceLock(tmp_path / "data"):
        probe = find_running(
            tmp_path / "data", tmp_path / "data" / "tls" / "ca.pem", startup_wait=1
        )
    assert probe.found is Found.NOT_ANSWERING
    assert f"pid {os.getpid()} has not started listening" in probe.problem
    # Released: nothing runs.
    assert find_running(tmp_path / "data", tmp_path / "ca.pem").found is Found.NONE


def test_a_clean_exit_removes_the_published_file(first: AgentProcess) -> None:
    path = first.data_dir / INSTANCE_NAME
    assert path.exists()
    first.process.send_signal(signal.SIGTERM)
    assert first.process.wait(20) == 0
    assert not path.exists()


def test_a_killed_agent_leaves_no_stale_lock_and_its_file_misleads_nobody(
    token: SessionToken, tmp_path: Path
) -> None:
    first = start_agent(tmp_path / "agent", token.hsm)
    old = published(first)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(10)
    first.stop()
    assert (first.data_dir / INSTANCE_NAME).exists(), "kill -9 leaves the file behind"
    # The next start is not fooled by it: the lock is free, so it starts.
    again = start_agent(tmp_path / "agent", token.hsm)
    try:
        assert again.request("GET", "/v1/info").status == 200
        new = published(again)
        assert new["pid"] == again.process.pid
        assert new["port"] == again.port
        assert new["secret"] != old["secret"]
    finally:
        again.stop()
