"""The tray's "Xuất gói hỗ trợ…" under Xvfb: the real controller opens the real save window (Tk's
dialog, its own process) on the Desktop with the bundle's name filled in; Return saves there,
the token is read (the agent is not running) and the notification says where.

The menu itself needs the GTK tray (tests/desktop/test_tray_screenshots.py); the entry's place
in it and its dispatch are tested in tests/unit/test_support_bundle.py.
"""

from __future__ import annotations

import json
import threading
import time
import zipfile
from pathlib import Path

import pytest

from agent.config import AgentConfig
from agent.messages import Lang
from agent.status.bundle import FILES
from agent.ui import tray
from agent.ui.tray import TrayController
from tests.conftest import PIN, SessionToken
from tests.desktop.xvfb import xdotool
from tests.unit.test_tray_menu import Recorder

pytestmark = pytest.mark.desktop


def test_the_tray_entry_asks_where_and_saves_the_bundle_on_the_desktop(
    xvfb: str, token: SessionToken, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / "Desktop").mkdir(parents=True)
    for name, value in {
        **token.hsm.environ(),
        "DISPLAY": xvfb,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
    }.items():
        monkeypatch.setenv(name, value)
    # Quit's sweep ends every child of the tray's process: here that is pytest, whose other
    # children (the session's agent) are not the tray's windows.
    monkeypatch.setattr(tray, "child_pids", lambda _parent: [])
    notes = Recorder()
    controller = TrayController(
        AgentConfig(data_dir=tmp_path / "data", pkcs11_modules=(token.hsm.module,)),
        Lang.VI,
        notifier=notes,  # type: ignore[arg-type]
    )
    acting = threading.Thread(target=controller.export_support_bundle)
    acting.start()
    try:
        deadline = time.monotonic() + 20
        window = ""
        while time.monotonic() < deadline and not window:
            window = xdotool(xvfb, "search", "--name", "^Kyso Agent").strip()
            time.sleep(0.2)
        assert window, "the save window did not open"
        first = window.splitlines()[0]
        # (xdotool's search matches ASCII only: the Vietnamese title is read back instead.)
        assert xdotool(xvfb, "getwindowname", first).strip() == (
            "Kyso Agent — Lưu gói hỗ trợ cho bộ phận hỗ trợ kỹ thuật"
        )
        # Tk's save dialog starts in its file name field, the proposed name filled in.
        xdotool(xvfb, "windowfocus", "--sync", first)
        xdotool(xvfb, "key", "Return")
        acting.join(60)
    finally:
        controller.children.end_all()
        acting.join(10)
    [saved] = list((home / "Desktop").iterdir())
    assert saved.name.startswith("kyso-agent-support-") and saved.suffix == ".zip"
    assert notes.messages == [f"Đã lưu gói hỗ trợ: {saved}"]
    with zipfile.ZipFile(saved) as archive:
        assert archive.namelist() == list(FILES)
        report = json.loads(archive.read("status.json"))
        assert [t["label"] for t in report["tokens"]] == [token.label]
        assert all(PIN.encode() not in archive.read(name) for name in FILES)
