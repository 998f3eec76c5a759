"""The installed Windows agent under Wine 8, on a virtual display, with a Windows PKCS#11 token:
the set-up of tests/windows and of bench/bench_start_wine.py.

One Wine prefix (setting it up takes about a minute):

- the MSI of tests/packaging/test_msi.py, installed silently with public properties, the
  PKCS#11 module among them, exactly as IT deploys it;
- what Wine 8 lacks and the agent needs, in this prefix alone (scripts/wine/build.sh, built with
  mingw-w64 from Debian's sources and cached): ``bcryptprimitives.dll`` in system32 for
  cryptography's Rust extension, and SoftHSM2 as ``softhsm2-x64.dll`` with ``softhsm2-util.exe``
  under ``C:\\SoftHSM2``, holding a token made by the Windows agent's own Python;
- ``_wmi.pyd`` disabled (DLL override): Python's ``platform`` module asks WMI through it, which
  calls ``propsys.VariantToString``, a function Wine 8 leaves unimplemented (the process aborts
  instead of failing the call). Without WMI, ``platform`` falls back as on a Windows whose WMI
  service is off. Nothing of the MSI is changed;
- Xvfb with ``trayer``, a system tray: Wine docks the agent's notification icon there.

The agent is started with the Run key's own command line, read from the registry.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509

from agent.testing.softhsm import (
    KeySpec,
    TestCa,
    TokenSpec,
    generation_request,
    init_token_arguments,
)
from tests.conftest import PIN, PORTAL, Response, eventually
from tests.desktop.xvfb import virtual_display
from tests.packaging.test_msi import ROOT, built_msi
from tests.wine import DLL_OVERRIDES, PYTHON, Wine, require, wine_prefix

RUN_KEY = r"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Run"
POLICY_KEY = r"HKLM\SOFTWARE\Policies\Kyso\Agent"
SOFTHSM_DIR = r"C:\SoftHSM2"
VGCA_PORT = 8987  # the default: the MSI has no property for it
MODULE = SOFTHSM_DIR + r"\softhsm2-x64.dll"
TOKEN_LABEL = "Kyso Windows"
RSA_HOLDER = "Lê Văn Cường"
EC_HOLDER = "Phạm Thị Dung"


def windows_path(path: Path) -> str:
    """``path`` as Wine's programs see it: drive Z: is the Unix root."""
    return "Z:" + str(path).replace("/", "\\")


def on_display(display: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """An X client (xdotool, xwininfo) run against ``display``, in a UTF-8 locale: without one,
    Xlib cannot turn a Vietnamese window title (UTF8_STRING) into text and ``search --name``
    finds nothing."""
    return subprocess.run(
        argv,
        env={
            "DISPLAY": display,
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LC_ALL": "C.UTF-8",
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class WindowsAgent:
    """The installed agent running in Wine, and what the tests need to talk to it."""

    wine: Wine
    display: str
    port: int
    ca: TestCa
    certificates: dict[str, x509.Certificate] = field(default_factory=dict)
    """The token's certificates by their holder's name."""
    process: subprocess.Popen[bytes] | None = None
    data_dir: Path | None = None

    @property
    def run_command(self) -> list[str]:
        """The Run key's command line, as Windows would start it at login."""
        values = self.wine.reg(RUN_KEY) or {}
        kind, line = values["Kyso Agent"]
        assert kind == "REG_SZ", kind
        # Windows' quoting of one quoted program path and plain words: shlex reads it alike.
        return shlex.split(line.replace("\\", "\\\\"))

    def start(self) -> subprocess.Popen[bytes]:
        """Start the agent as the Run key does; the same Wine process runs it to the end."""
        # No standard handles, as at login: Wine cannot give pythonw.exe a Unix file or pipe
        # as one (Python stops with "init_sys_streams: Invalid handle"); the agent logs to
        # its own file.
        process = subprocess.Popen(
            [self.wine.loader, *self.run_command],
            env=self.wine.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        return process

    def tls(self) -> ssl.SSLContext:
        assert self.data_dir is not None
        return ssl.create_default_context(cafile=str(self.data_dir / "tls" / "ca.pem"))

    def log_text(self) -> str:
        assert self.data_dir is not None
        log = self.data_dir / "logs" / "agent.log"
        return log.read_text("utf-8", "replace") if log.exists() else ""

    def windows_request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        port: int | None = None,
        origin: str | None = PORTAL,
        timeout: float = 240,
    ) -> Response:
        """One HTTPS request from a Windows program (python.exe in the same prefix), as a
        browser on that desktop would make it; trusts the agent's local CA only."""
        assert self.data_dir is not None
        request = {
            "method": method,
            "path": path,
            "port": port or self.port,
            "body": body,
            "origin": origin,
            "ca": windows_path(self.data_dir / "tls" / "ca.pem"),
        }
        answer = self._windows_client(_WINDOWS_CLIENT, request, timeout)
        return Response(answer["status"], _headers(answer["headers"]), answer["body"].encode())

    def windows_vgca(self, endpoint: str, message: str, *, origin: str = PORTAL) -> Any:
        """One message to the VGCA port over a WebSocket, from a Windows program, as
        vgcaplugin.js in a browser on this desktop sends it; the reply decoded."""
        assert self.data_dir is not None
        request = {
            "url": f"wss://127.0.0.1:{VGCA_PORT}/{endpoint}",
            "message": message,
            "origin": origin,
            "ca": windows_path(self.data_dir / "tls" / "ca.pem"),
        }
        return self._windows_client(_WINDOWS_VGCA_CLIENT, request, 120)

    def _windows_client(self, code: str, request: dict[str, Any], timeout: float) -> Any:
        # The request travels in a file: a PDF would not fit on a Windows command line.
        with tempfile.NamedTemporaryFile(
            "w", suffix=".json", dir=self.wine.prefix.parent, delete=False
        ) as file:
            json.dump(request, file)
        try:
            program = code.replace("REQUEST_FILE", repr(windows_path(Path(file.name))))
            done = self.wine.run(PYTHON, "-B", "-I", "-c", program, pipes=True, timeout=timeout)
        finally:
            os.unlink(file.name)
        assert done.returncode == 0, done.stdout + done.stderr + "\nagent log:\n" + self.log_text()
        return json.loads(done.stdout.strip().splitlines()[-1])


def _headers(pairs: list[list[str]]) -> Any:
    import email.message

    message = email.message.Message()
    for name, value in pairs:
        message[name] = value
    return message


#: A Windows client: one HTTPS request, the answer as one JSON line. (-I: nothing of this
#: machine's environment or of the current directory.)
_WINDOWS_CLIENT = """
import http.client, json, ssl
r = json.load(open(REQUEST_FILE, encoding="utf-8"))
ctx = ssl.create_default_context(cafile=r["ca"])
c = http.client.HTTPSConnection("127.0.0.1", r["port"], context=ctx, timeout=600)
headers = {"Content-Type": "application/json"} if r["body"] is not None else {}
if r["origin"]:
    headers["Origin"] = r["origin"]
body = json.dumps(r["body"]).encode() if r["body"] is not None else None
c.request(r["method"], r["path"], body=body, headers=headers)
a = c.getresponse()
print(json.dumps({"status": a.status, "headers": a.getheaders(),
                  "body": a.read().decode("utf-8", "replace")}))
"""


#: A Windows client of the VGCA port: one WebSocket message, the reply as one JSON line.
_WINDOWS_VGCA_CLIENT = """
import asyncio, json, ssl, aiohttp
r = json.load(open(REQUEST_FILE, encoding="utf-8"))
async def main():
    ctx = ssl.create_default_context(cafile=r["ca"])
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(r["url"], ssl=ctx, origin=r["origin"]) as ws:
            await ws.send_str(r["message"])
            reply = await ws.receive(timeout=60)
            return reply.data
print(json.dumps(json.loads(asyncio.run(main()))))
"""


def _provision(wine: Wine, root: Path) -> tuple[TestCa, dict[str, x509.Certificate]]:
    """A SoftHSM2 token in the prefix, its keys generated on it by the Windows agent's own
    Python through the Windows module, certificates issued by a test CA."""
    softhsm = wine.unix_path(SOFTHSM_DIR)
    (softhsm / "tokens").mkdir(parents=True, exist_ok=True)
    (softhsm / "softhsm2.conf").write_text(
        f"directories.tokendir = {SOFTHSM_DIR}\\tokens\n"
        "objectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
    )
    spec = TokenSpec(
        label=TOKEN_LABEL,
        user_pin=PIN,
        keys=(
            KeySpec("01", "RSA", RSA_HOLDER, "Sở Nội vụ"),
            KeySpec("02", "EC", EC_HOLDER, "Sở Tư pháp"),
        ),
    )
    init = wine.run(
        SOFTHSM_DIR + r"\softhsm2-util.exe", "--module", MODULE, *init_token_arguments(spec)
    )
    assert init.returncode == 0, init.stdout + init.stderr
    ca = TestCa.create("Kyso Windows Test CA")
    ca_dir = root / "ca"
    ca.save(ca_dir)
    request = root / "provision.json"
    request.write_text(json.dumps(generation_request(MODULE, windows_path(ca_dir), spec)))
    made = wine.python(
        "import json; from agent.testing.softhsm import generate_on_token\n"
        f"print(json.dumps(generate_on_token(json.load(open({windows_path(request)!r})))))"
    )
    assert made.returncode == 0, made.stdout + made.stderr
    made_keys = json.loads(made.stdout.splitlines()[-1])
    return ca, {
        key.common_name: x509.load_pem_x509_certificate(entry["certificate"].encode())
        for key, entry in zip(spec.keys, made_keys, strict=True)
    }


def build_wine_tools() -> Path:
    """bcryptprimitives.dll, softhsm2-x64.dll and softhsm2-util.exe (scripts/wine/build.sh,
    cached between runs)."""
    require("mingw-w64's compiler", shutil.which("x86_64-w64-mingw32-gcc") or os.geteuid() == 0)
    built = subprocess.run(
        ["sh", str(ROOT / "scripts" / "wine" / "build.sh")],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    out = Path(built.stdout.strip().splitlines()[-1])
    for name in ("bcryptprimitives.dll", "softhsm2-x64.dll", "softhsm2-util.exe"):
        assert (out / name).is_file(), name
    return out


@contextmanager
def tray_desktop() -> Iterator[str]:
    """A virtual display with a system tray (trayer) for Wine's notification icons."""
    require("Xvfb", shutil.which("Xvfb"))
    require("xdotool", shutil.which("xdotool"))
    with virtual_display() as display:
        tray = None
        if shutil.which("trayer"):
            tray = subprocess.Popen(
                ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request"],
                env={**os.environ, "DISPLAY": display},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        try:
            yield display
        finally:
            if tray is not None:
                tray.terminate()
                tray.wait(10)


@contextmanager
def installed_agent(display: str, root: Path, tools: Path) -> Iterator[WindowsAgent]:
    """A new prefix with the MSI installed with properties (the PKCS#11 module among them) and a
    token in SoftHSM2 for Windows; the agent not started. Everything goes at the end."""
    msi = built_msi()
    with wine_prefix(
        "agent",
        DISPLAY=display,
        WINEDLLOVERRIDES=DLL_OVERRIDES + ";_wmi.pyd=d",
        SOFTHSM2_CONF=SOFTHSM_DIR + r"\softhsm2.conf",
    ) as wine:
        shutil.copy(tools / "bcryptprimitives.dll", wine.drive_c / "windows" / "system32")
        softhsm = wine.unix_path(SOFTHSM_DIR)
        softhsm.mkdir(parents=True)
        for name in ("softhsm2-x64.dll", "softhsm2-util.exe"):
            shutil.copy(tools / name, softhsm)
        port = free_port()
        properties = {
            "ALLOWED_ORIGINS": PORTAL,
            "PKCS11_MODULES": MODULE,
            "PORT": str(port),
            "PIN_CACHE_MINUTES": "0",
        }
        code = wine.msiexec(
            "/i",
            f"Z:{msi}",
            "/l*v",
            r"C:\install.log",
            *(f"{k}={v}" for k, v in properties.items()),
        )
        assert code == 0, (wine.drive_c / "install.log").read_bytes()[-3000:]
        wine.installed = msi
        ca, certificates = _provision(wine, root)
        agent = WindowsAgent(wine, display, port, ca, certificates)
        located = wine.python("import agent.config as c; print(c.default_data_dir())")
        assert located.returncode == 0, located.stderr
        agent.data_dir = wine.unix_path(located.stdout.strip().splitlines()[-1])
        try:
            yield agent
        finally:
            if agent.process is not None and agent.process.poll() is None:
                agent.process.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    agent.process.wait(10)


def wait_for_agent(agent: WindowsAgent, timeout: float = 120) -> None:
    """Until the agent's local CA exists and a Windows client gets ``/v1/info``."""
    assert agent.data_dir is not None
    eventually((agent.data_dir / "tls" / "ca.pem").exists, timeout, "the agent's local CA")
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", agent.port)) == 0:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"the agent never listened on {agent.port}:\n{agent.log_text()}")
        time.sleep(0.5)
