"""The installed Windows agent, end to end under Wine 8 (the setup: tests/windows/conftest.py).

The tests follow one working day, in order: the Run key starts the agent at login, the helpdesk
reads its status, a portal on this desktop calls it (and a program outside Wine is judged by
the caller check), a second login leaves the first agent alone, the tray icon is there and its
menu opens, the official approves in the Tk dialog and types the PIN, a PDF is signed, the local
CA goes into the user's Root store and out again. test_uninstall_wine.py ends the day.

What Wine 8 does for the caller check: ``GetExtendedTcpTable(TCP_TABLE_OWNER_PID_ALL)`` lists
the sockets of Wine's own processes with their Windows process ids, so a Windows program's
connection is traced to its owner and that owner's SID compared with the agent's; a connection
from a Linux program has no row (Wine's table does not show sockets of processes outside Wine)
and is refused, as any connection whose owner cannot be found must be.

Without Wine, Xvfb or mingw-w64 the tests are skipped, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import os
import re
import subprocess
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from PIL import Image, ImageChops, ImageGrab

from agent.compat.registry import LAYERS
from agent.testing.samples import sample_pdf
from tests.conftest import PIN, PORTAL, Response, eventually
from tests.pdftools import NssDb
from tests.verify import b64, der, digest_of, sign_body, verify_with_cryptography
from tests.windows.installed import (
    EC_HOLDER,
    MODULE,
    POLICY_KEY,
    RSA_HOLDER,
    TOKEN_LABEL,
    WindowsAgent,
    on_display,
    wait_for_agent,
)
from tests.wine import INSTALL_DIR

pytestmark = pytest.mark.windows

ROOT = Path(__file__).resolve().parents[2]
#: Pictures of the Windows agent under Wine, for docs/windows/; refreshed when
#: KYSO_SAVE_SCREENSHOTS=1 (each test checks its picture either way).
PICTURES = ROOT / "docs" / "windows"
DIALOG_TITLE = "Kyso Agent — Yêu cầu ký số"


def xdotool(agent: WindowsAgent, *args: str) -> str:
    done = on_display(agent.display, "xdotool", *args)
    return done.stdout.strip() if done.returncode == 0 else ""


def window_tree(agent: WindowsAgent) -> str:
    return on_display(agent.display, "xwininfo", "-root", "-tree").stdout


def shoot(agent: WindowsAgent, box: tuple[int, int, int, int], name: str, tmp: Path) -> Path:
    """A picture of ``box`` (left, top, right, bottom) of the screen once the window in it is
    drawn (a mapped window is black for a moment); kept for the docs if KYSO_SAVE_SCREENSHOTS=1."""

    def drawn() -> Image.Image | None:
        picture = ImageGrab.grab(bbox=box, xdisplay=agent.display)
        colours = picture.convert("RGB").getcolors(1 << 16) or []
        if len(colours) <= 8:
            return None
        # Drawn in parts under Wine (the themed widgets last): a second later, a finished
        # window has changed in a small spot at most (the countdown, the blinking cursor).
        time.sleep(1.0)
        again = ImageGrab.grab(bbox=box, xdisplay=agent.display)
        changed = ImageChops.difference(picture.convert("RGB"), again.convert("RGB")).getbbox()
        if changed is None:
            return again
        left, top, right, bottom = changed
        small = (right - left) * (bottom - top) < picture.width * picture.height // 20
        return again if small else None

    picture = eventually(drawn, 30, f"{name}: the window drawn")
    path = tmp / name
    picture.save(path)
    if os.environ.get("KYSO_SAVE_SCREENSHOTS") == "1":
        PICTURES.mkdir(parents=True, exist_ok=True)
        picture.save(PICTURES / name)
    return path


def cli(agent: WindowsAgent, *args: str) -> subprocess.CompletedProcess[str]:
    """``kyso-agent ARGS`` as the helpdesk types it in a Windows console (the MSI's launcher)."""
    return agent.wine.run(
        "cmd", "/c", INSTALL_DIR + r"\kyso-agent.cmd", *args, pipes=True, timeout=240
    )


def json_of(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout[done.stdout.index("{") :])


def test_the_run_key_starts_the_agent_at_login(windows_agent: WindowsAgent) -> None:
    assert windows_agent.run_command == [
        INSTALL_DIR + r"\pythonw.exe",
        "-m",
        "agent",
        "run",
        "--at-login",
    ]
    windows_agent.process = windows_agent.start()
    wait_for_agent(windows_agent)
    log = windows_agent.log_text()
    assert "tray backend: pystray._win32" in log
    assert eventually(
        lambda: f"loaded PKCS#11 module {MODULE}" in windows_agent.log_text(), 60, "the module"
    )


def test_status_reports_the_machine_policy_and_the_token(windows_agent: WindowsAgent) -> None:
    policy = windows_agent.wine.reg(POLICY_KEY)
    assert policy is not None
    assert policy["pkcs11_modules"] == ("REG_MULTI_SZ", MODULE)
    status = json_of(cli(windows_agent, "status", "--json"))
    assert status["agent"]["running"] is True
    assert status["agent"]["port"] == windows_agent.port
    assert status["allowed_origins"] == [PORTAL]
    [module] = [m for m in status["modules"] if m["path"] == MODULE]
    assert module["loaded"] is True and "SoftHSM" in module["description"], module
    assert [t["label"] for t in status["tokens"]] == [TOKEN_LABEL]
    # Written to a pipe in UTF-8 (Python's default there is the ANSI code page: no "ư").
    holders = {c["holder"] for c in status["certificates"]}
    assert holders == {RSA_HOLDER, EC_HOLDER}
    # Every plugin layer listens on one of the ports its vendor's library tries.
    listening = {item["name"]: item["url"] for item in status["listeners"]}
    assert set(listening) == {layer.name for layer in LAYERS}
    for layer in LAYERS:
        url = listening[layer.name]
        assert url is not None and url.startswith(f"{layer.scheme}://127.0.0.1:"), url
        assert int(url.rsplit(":", 1)[1]) in layer.ports, url


def test_a_portal_on_this_desktop_gets_info_and_the_vgca_port_answers(
    windows_agent: WindowsAgent,
) -> None:
    info = windows_agent.windows_request("GET", "/v1/info")
    assert info.status == 200, info.body
    assert info.json["product"] == "kyso-agent"
    config = windows_agent.windows_vgca("Config", "config")
    assert config["Status"] == 0, config
    assert "SignMsg" in config["Endpoints"]


def test_a_program_outside_wine_is_refused_by_the_caller_check(
    windows_agent: WindowsAgent,
) -> None:
    connection = http.client.HTTPSConnection(
        "127.0.0.1", windows_agent.port, context=windows_agent.tls(), timeout=30
    )
    try:
        connection.request("GET", "/v1/info", headers={"Origin": PORTAL})
        refused = f"answered {connection.getresponse().status}"
    except (ConnectionError, http.client.HTTPException, OSError) as exc:
        refused = f"refused: {exc!r}"
    finally:
        connection.close()
    assert refused.startswith("refused"), refused
    log = windows_agent.log_text()
    assert "no client socket found for the connection" in log
    assert "a connection from another user of this computer was refused" in log


def test_a_second_login_leaves_the_running_agent_alone(windows_agent: WindowsAgent) -> None:
    second = windows_agent.start()
    assert second.wait(120) == 0
    assert windows_agent.process is not None and windows_agent.process.poll() is None
    assert windows_agent.windows_request("GET", "/v1/info").status == 200


def tray_icon(agent: WindowsAgent) -> str | None:
    """The agent's icon docked in trayer: Wine's explorer.exe holds the notification area's
    windows, and the agent is the only program of this prefix with an icon."""
    tree = window_tree(agent)
    panel = tree[tree.find('"panel": ("panel" "trayer")') :]
    found = re.search(r'(0x[0-9a-f]+) \(has no name\): \("explorer\.exe" "explorer\.exe"\)', panel)
    return found[1] if found else None


def popups(agent: WindowsAgent) -> dict[str, tuple[int, int, int, int]]:
    """The agent's (pythonw.exe) top-level windows bigger than a few pixels, with their boxes."""
    found = {}
    pattern = r'(0x[0-9a-f]+) .*\("pythonw\.exe" "pythonw\.exe"\)\s+(\d+)x(\d+)\+(-?\d+)\+(-?\d+)'
    for match in re.finditer(pattern, window_tree(agent)):
        width, height, left, top = (int(match[i]) for i in range(2, 6))
        if width > 50 and height > 50:
            found[match[1]] = (left, top, left + width, top + height)
    return found


def test_the_tray_icon_is_there_and_its_menu_opens(
    windows_agent: WindowsAgent, tmp_path: Path
) -> None:
    icon = eventually(lambda: tray_icon(windows_agent), 60, "the agent's icon in the tray")
    before = popups(windows_agent)
    xdotool(windows_agent, "mousemove", "--window", icon, "8", "8", "click", "3")
    menu = eventually(
        lambda: {w: box for w, box in popups(windows_agent).items() if w not in before},
        30,
        "the tray menu",
    )
    [box] = menu.values()
    shoot(windows_agent, box, "tray-menu-wine.png", tmp_path)
    # Esc closes it, once it has the X keyboard focus (no window manager here to give it).
    [window] = menu
    xdotool(windows_agent, "windowfocus", "--sync", window)
    xdotool(windows_agent, "key", "Escape")
    eventually(lambda: not set(popups(windows_agent)) - set(before), 30, "the menu closing")


class Asked:
    """A request from a Windows program, waiting in a thread for the official's answer."""

    def __init__(self, agent: WindowsAgent, path: str, body: dict[str, Any]) -> None:
        self.response: Response | None = None
        self.failure: BaseException | None = None

        def ask() -> None:
            try:
                self.response = agent.windows_request("POST", path, body)
            except BaseException as exc:  # noqa: BLE001 - answer() raises it in the test
                self.failure = exc

        self._thread = threading.Thread(target=ask, daemon=True)
        self._thread.start()

    def answer(self) -> Response:
        self._thread.join(240)
        if self.failure is not None:
            raise self.failure
        assert self.response is not None, "no answer in 4 minutes"
        return self.response


#: How long the simulated official looks at the dialog before typing the PIN.
READING_SECONDS = 2.0


def type_pin_in_the_dialog(agent: WindowsAgent, tmp: Path, picture: str | None = None) -> None:
    """What the official does: reads the dialog, types the PIN, presses Enter.

    Prints when each step happened (shown with a failure, beside the agent's log times)."""
    dialog = eventually(
        lambda: xdotool(agent, "search", "--onlyvisible", "--name", DIALOG_TITLE).split(),
        120,
        "the consent dialog",
    )[0]
    print(f"{datetime.now():%H:%M:%S.%f} dialog window {dialog} found")
    wrong_before = agent.log_text().count("wrong PIN")
    if picture:
        geometry = xdotool(agent, "getwindowgeometry", "--shell", dialog)
        shape = dict(line.split("=") for line in geometry.splitlines())
        left, top = int(shape["X"]), int(shape["Y"])
        box = (left, top, left + int(shape["WIDTH"]), top + int(shape["HEIGHT"]))
        shoot(agent, box, picture, tmp)
    # Xvfb has no window manager to give the new window the X focus, and Wine 8 does not ask
    # for it (tests/windows/test_dialog_focus_wine.py): do what a window manager does.
    xdotool(agent, "windowfocus", "--sync", dialog)
    # The official reads the dialog before typing. Typed within a fraction of a second of the
    # window's mapping, on a loaded machine, the first keys reached Wine before Tk had given
    # the PIN field the keyboard (its focus comes at the window's Map event), and the agent
    # got a PIN with digits missing (seen in CI: "wrong PIN", then a second dialog).
    time.sleep(READING_SECONDS)
    xdotool(agent, "type", "--delay", "40", PIN)
    xdotool(agent, "key", "Return")
    print(f"{datetime.now():%H:%M:%S.%f} PIN typed, Enter pressed")
    eventually(
        lambda: dialog not in xdotool(agent, "search", "--onlyvisible", "--name", DIALOG_TITLE),
        60,
        "the dialog closing",
    )
    print(f"{datetime.now():%H:%M:%S.%f} dialog window {dialog} gone")
    # A PIN that arrived incomplete makes the agent ask again: say so now rather than wait out
    # the second dialog's two minutes.
    time.sleep(1)
    wrong = agent.log_text().count("wrong PIN")
    assert wrong == wrong_before, "the PIN reached the dialog incomplete"


def test_the_official_types_the_pin_in_the_dialog_and_the_signature_verifies(
    windows_agent: WindowsAgent, tmp_path: Path
) -> None:
    message = "Quyết định số 19/QĐ-UBND".encode()
    digest = digest_of(message)
    certificate = windows_agent.certificates[RSA_HOLDER]
    asked = Asked(
        windows_agent,
        "/v1/sign",
        sign_body(digest, certificate, documentName="QĐ-19.pdf"),
    )
    type_pin_in_the_dialog(windows_agent, tmp_path, "consent-dialog-wine.png")
    response = asked.answer()
    assert response.status == 200, response.body
    assert base64.b64decode(response.json["certificate"]) == der(certificate)
    verify_with_cryptography(
        der(certificate), base64.b64decode(response.json["signature"]), digest, "SHA-256"
    )
    # Nothing of the PIN in the agent's log.
    assert PIN not in windows_agent.log_text()


def test_a_pdf_signed_on_windows_is_valid_for_pdfsig(
    windows_agent: WindowsAgent, tmp_path: Path
) -> None:
    original = sample_pdf()
    certificate = windows_agent.certificates[EC_HOLDER]
    asked = Asked(
        windows_agent,
        "/v1/pdf/sign",
        {"pdf": b64(original), "certificate": b64(der(certificate)), "documentName": "QĐ-20.pdf"},
    )
    type_pin_in_the_dialog(windows_agent, tmp_path)
    response = asked.answer()
    if response.status != 200:
        print(windows_agent.log_text())
    assert response.status == 200, response.body[:500]
    signed = base64.b64decode(response.json["pdf"])
    assert signed.startswith(original)
    nss = NssDb.create(tmp_path / "nss", windows_agent.ca.cert)
    [block] = nss.pdfsig(signed, tmp_path)
    assert "Signature is Valid" in block, block
    assert "Certificate is Trusted" in block, block
    assert EC_HOLDER in block
    # The audit trail on Windows names the document by its digest.
    entries = json_of(cli(windows_agent, "audit", "--json"))["entries"]
    assert hashlib.sha256(original).hexdigest() in json.dumps(entries[-1]["documents"])


def test_the_local_ca_goes_into_the_users_root_store_and_out(
    windows_agent: WindowsAgent,
) -> None:
    """``run`` trusted its local CA at first start (``trust_local_ca``); ``trust uninstall``
    and ``trust install`` take it out and put it back, ``trust status`` sees each. Wine's
    crypt32 keeps the user's Root store in HKCU as Windows does, and asks nothing (Windows asks
    the user to confirm an addition to that store)."""
    assert windows_agent.data_dir is not None
    ca = x509.load_pem_x509_certificate((windows_agent.data_dir / "tls" / "ca.pem").read_bytes())
    thumbprint = hashlib.sha1(der(ca)).hexdigest().upper()  # noqa: S324 - Windows' own name
    store = r"HKCU\Software\Microsoft\SystemCertificates\Root\Certificates"

    def in_store() -> bool:
        return thumbprint in windows_agent.wine.run("reg", "query", store).stdout.upper()

    def trusted() -> bool:
        done = cli(windows_agent, "trust", "status", "--json")
        answer = bool(json.loads(done.stdout[done.stdout.index("{") :])["trusted"])
        assert done.returncode == (0 if answer else 1), done.stdout + done.stderr
        return answer

    assert in_store() and trusted()
    removed = json_of(cli(windows_agent, "trust", "uninstall", "--json"))
    assert not in_store(), removed
    assert not trusted()
    added = json_of(cli(windows_agent, "trust", "install", "--json"))
    assert in_store(), added
    assert trusted()
    # Left in: uninstalling the MSI takes it out (test_uninstall_wine.py).
