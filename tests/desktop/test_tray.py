"""The real tray: ``kyso-agent run`` under Xvfb with a system tray host (trayer).

The xorg backend of pystray docks the icon into trayer by XEmbed; its window (class
``kyso-agent``) carries the tooltip as its name, so the test reads the state there
and in the log (``tray state: …``). Left click opens the status report window (a
child process); SIGTERM quits like the menu's Quit: exit 0, port released, no
child process left.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.testing.desktop import system_tray
from agent.testing.softhsm import KeySpec, SoftHsm, TokenSpec, new_token
from tests.conftest import PIN, AgentProcess, eventually, start_agent

pytestmark = pytest.mark.desktop


def x(display: str, *argv: str) -> str:
    done = subprocess.run(
        list(argv),
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return done.stdout if done.returncode == 0 else ""


def windows(display: str, *search: str) -> list[str]:
    return x(display, "xdotool", "search", *search).split()


def parents(display: str, window: str) -> list[int]:
    """The window's ancestors, up to the root."""
    chain: list[int] = []
    current = int(window)
    for _ in range(20):
        info = x(display, "xwininfo", "-tree", "-id", str(current))
        found = re.search(r"Parent window id: (0x[0-9a-f]+)", info)
        if not found or int(found.group(1), 16) == 0:
            break
        current = int(found.group(1), 16)
        chain.append(current)
    return chain


@pytest.fixture
def tray_host(xvfb: str) -> Iterator[str]:
    """trayer: an XEmbed system tray on the virtual display."""
    if shutil.which("trayer") is None:
        if os.environ.get("CI"):
            pytest.fail("trayer is not installed")
        pytest.skip("trayer is not installed")
    with system_tray(xvfb):
        yield xvfb


@pytest.fixture
def tray_token(tmp_path: Path) -> SoftHsm:
    hsm, _ = new_token(
        tmp_path,
        TokenSpec("TRAY-T", PIN, keys=(KeySpec("01", "EC", "Nguyễn Văn An", valid_days=400),)),
    )
    return hsm


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if stat[stat.rfind(")") + 2 :].split()[1] == str(pid):
                found.append(int(entry.name))
    return found


def test_tray_shows_token_state_and_quits_cleanly(
    tray_host: str, tray_token: SoftHsm, tmp_path: Path
) -> None:
    display = tray_host
    agent: AgentProcess = start_agent(
        tmp_path / "agent",
        tray_token,
        "--lang",
        "en",
        env={"DISPLAY": display},
        command="run",
    )
    try:
        icon = eventually(
            lambda: windows(display, "--class", "^kyso-agent$"), 15, "the tray icon window"
        )[0]
        trayer = {int(w) for w in windows(display, "--class", "trayer")}
        # The icon window exists a moment before the tray host reparents (docks) it.
        eventually(lambda: trayer & set(parents(display, icon)), 15, "the icon docked in trayer")

        def name() -> str:
            return x(display, "xdotool", "getwindowname", icon).strip()

        try:
            eventually(lambda: name().startswith("Kyso Agent - Ready to sign"), 10, "READY")
        except AssertionError as exc:
            agent.process.send_signal(signal.SIGUSR1)  # the tray dumps its threads' stacks
            time.sleep(1)
            shown = f"{exc}; icon reads {name()!r}; log:\n{agent.log_text()}"
            raise AssertionError(shown) from None
        shown = name()
        assert "Token TRAY-T: 1 certificate" in shown and "1 certificates" not in shown, shown
        assert "tray state: ready" in agent.log_text()

        subprocess.run(
            ["softhsm2-util", "--delete-token", "--token", "TRAY-T"],
            env=tray_token.environ(),
            check=True,
            capture_output=True,
        )
        eventually(lambda: name() == "Kyso Agent - No token plugged in", 5, "NO_TOKEN")
        log = agent.log_text()
        assert "tray state: no-token" in log
        assert "notification: Token TRAY-T removed" in log

        # A click (xorg has no menu) opens the status report: a window in a child process.
        x(display, "xdotool", "mousemove", "--window", icon, "4", "4", "click", "1")
        eventually(
            lambda: windows(display, "--name", "Kyso Agent status report"),
            20,
            "the status report window",
        )
        opened = children_of(agent.process.pid)
        assert opened

        agent.process.send_signal(signal.SIGTERM)
        assert agent.process.wait(20) == 0
        with (
            pytest.raises(ConnectionRefusedError),
            socket.create_connection(("127.0.0.1", agent.port), timeout=5),
        ):
            pass
        assert [pid for pid in opened if Path(f"/proc/{pid}").exists()] == []
        assert "quitting" in agent.log_text()
    finally:
        agent.stop()


def test_run_without_a_display_serves_like_serve(tray_token: SoftHsm, tmp_path: Path) -> None:
    agent = start_agent(
        tmp_path / "agent", tray_token, env={"DISPLAY": "", "WAYLAND_DISPLAY": ""}, command="run"
    )
    try:
        assert agent.request("GET", "/v1/info").status == 200
        assert "running without the tray icon, like `kyso-agent serve`" in agent.log_text()
        agent.process.send_signal(signal.SIGTERM)
        assert agent.process.wait(20) == 0
    finally:
        agent.stop()


def report_windows(pid: int) -> list[int]:
    """The agent's status report window processes."""
    found = []
    for child in children_of(pid):
        try:
            argv = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"agent.ui.report_window" in argv:
            found.append(child)
    return found


def test_a_second_run_opens_the_first_ones_status_report(
    tray_host: str, tray_token: SoftHsm, tmp_path: Path
) -> None:
    display = tray_host
    first: AgentProcess = start_agent(
        tmp_path / "agent", tray_token, "--lang", "en", env={"DISPLAY": display}, command="run"
    )
    try:
        eventually(lambda: windows(display, "--class", "^kyso-agent$"), 15, "the tray icon window")
        assert windows(display, "--name", "Kyso Agent status report") == []

        def second() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "agent", "run", "--data-dir", str(first.data_dir)],
                env={**os.environ, "DISPLAY": display, "HOME": str(tmp_path / "home2")},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
                stdin=subprocess.DEVNULL,
            )

        done = second()
        assert done.returncode == 0, done
        assert "Kyso Agent is already running; showing its window" in done.stdout
        eventually(
            lambda: windows(display, "--name", "Kyso Agent status report"),
            20,
            "the first agent's status report window",
        )
        opened = report_windows(first.process.pid)
        assert len(opened) == 1, "the window belongs to the first agent"
        # Only one agent: the second start left no icon and no server of its own.
        assert len(windows(display, "--class", "^kyso-agent$")) == 1

        # Asked again while the window is open: no second window.
        again = second()
        assert again.returncode == 0, again
        assert "still open" in first.log_text()
        assert report_windows(first.process.pid) == opened
    finally:
        first.stop()
