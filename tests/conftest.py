"""Shared fixtures: real SoftHSM tokens and the real agent process on 127.0.0.1.

Tokens are provisioned once per session in a temporary directory (keys are
generated on the token). Agents run as ``kyso-agent serve`` subprocesses with
an isolated HOME, their own data directory, and the scripted external
prompter ``python -m agent.testing.prompter DIR``.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import http.client
import json
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Final, TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.audit import AuditLog
from agent.spool import DIRECTORY_NAME
from agent.testing.pki import LocalPki
from agent.testing.softhsm import KeySpec, SoftHsm, TestCa, TokenSpec, new_token
from tests.pdftools import NssDb

PIN = "246810"
WRONG_PIN = "975319"
PORTAL = "https://portal.example.gov.vn"
WILDCARD = "https://*.tinh.gov.vn"


@dataclass(frozen=True)
class SessionToken:
    """The session's provisioned token."""

    hsm: SoftHsm
    ca: TestCa
    rsa: x509.Certificate
    ec: x509.Certificate
    expired: x509.Certificate
    label: str


@pytest.fixture(scope="session")
def token(tmp_path_factory: pytest.TempPathFactory) -> SessionToken:
    """One token: RSA-2048 and EC P-256 signing keys, one expired certificate, the CA."""
    root = tmp_path_factory.mktemp("softhsm")
    ca = TestCa.create("Kyso Test CA")
    hsm, made = new_token(
        root,
        TokenSpec(
            "KYSO-TEST",
            PIN,
            keys=(
                KeySpec("01", "RSA", "Nguyễn Văn An", "UBND tỉnh Thừa Thiên Huế"),
                KeySpec("02", "EC", "Trần Thị Bình", "Sở Nội vụ"),
                KeySpec("03", "RSA", "Lê Văn Cũ", valid_days=-10),
            ),
        ),
        ca,
    )
    certs = {m.key_id: m.certificate for m in made}
    return SessionToken(hsm, ca, certs["01"], certs["02"], certs["03"], "KYSO-TEST")


@pytest.fixture(scope="session")
def empty_hsm(tmp_path_factory: pytest.TempPathFactory) -> SoftHsm:
    """A SoftHSM with no initialised token (the USB token is not plugged in)."""
    return SoftHsm(tmp_path_factory.mktemp("empty-hsm")).create()


@dataclass
class Response:
    """An HTTP response, decoded."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.body)

    @property
    def error_code(self) -> str | None:
        """The error code, if the body is an error."""
        try:
            return str(self.json["error"]["code"])
        except (ValueError, KeyError, TypeError):
            return None


@dataclass
class AgentProcess:
    """A running ``kyso-agent serve``."""

    process: subprocess.Popen[str]
    port: int
    data_dir: Path
    prompter_dir: Path
    stderr_path: Path
    _stderr: IO[str]
    tls: ssl.SSLContext = field(init=False)
    """Client TLS context that trusts the agent's local CA."""
    layer_ports: dict[str, int] = field(default_factory=dict)
    """Ports of the plugin layers waited for (``start_agent(..., layers=("vnpt",))``)."""

    @property
    def vgca_port(self) -> int | None:
        """Port of the VGCA compatibility (``start_agent(..., vgca=True)``)."""
        return self.layer_ports.get("vgca")

    def __post_init__(self) -> None:
        self.tls = ssl.create_default_context(cafile=str(self.data_dir / "tls" / "ca.pem"))

    @property
    def url(self) -> str:
        """Base URL."""
        return f"https://127.0.0.1:{self.port}"

    def script(self, *answers: dict[str, Any]) -> None:
        """What the user will answer to the next questions."""
        (self.prompter_dir / "answers.json").write_text(json.dumps(list(answers)))
        (self.prompter_dir / "requests.jsonl").write_text("")
        self.script_activities()

    def script_activities(self, *scripts: dict[str, Any]) -> None:
        """What the user does in the next waits and progress windows (``{"stopAt": n}``,
        ``{"cancel": true}``; none: watch), and an empty record of their updates."""
        (self.prompter_dir / "activities.json").write_text(json.dumps(list(scripts)))
        (self.prompter_dir / "activity.jsonl").write_text("")

    def activity_updates(self) -> list[dict[str, Any]]:
        """Updates the activities were given since the last :meth:`script_activities`."""
        path = self.prompter_dir / "activity.jsonl"
        text = path.read_text("utf-8") if path.exists() else ""
        # Whole lines only: the prompter may be writing the next one.
        return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]

    def held_until_stopped(self, tsa: LocalPki, call: Callable[[], T], timeout: float = 60) -> T:
        """``call``'s result, run on a thread while ``tsa`` holds a document's time-stamp
        (:meth:`LocalPki.hold_tsa`): released only once the agent has said ``{"stopping":
        true}`` to the scripted Stop. The prompter is a process of its own, so without the hold
        its Stop could reach the agent after a further document began."""
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            answer = pool.submit(call)
            try:
                deadline = time.monotonic() + timeout
                while {"stopping": True} not in self.activity_updates():
                    if answer.done():
                        raise AssertionError(
                            f"ended before the agent had the Stop: {answer.result()!r:.2000}"
                        )
                    if time.monotonic() > deadline:
                        raise AssertionError(f"no Stop acknowledged in {timeout} s")
                    time.sleep(0.05)
            finally:
                tsa.release_tsa()
            return answer.result(timeout)

    def prompts(self) -> list[dict[str, Any]]:
        """Questions the user was asked since the last :meth:`script`."""
        path = self.prompter_dir / "requests.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line]

    def audit_outcomes(self) -> list[str]:
        """The outcome of each row of the agent's audit trail, oldest first."""
        with AuditLog(self.data_dir / "audit.sqlite3") as audit:
            return [entry.outcome for entry in audit.entries()]

    def open_dialogs(self) -> list[int]:
        """Process ids of the scripted prompter (this agent's dialogs) open now."""
        marker = f"agent.testing.prompter\0{self.prompter_dir}".encode()
        found = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if marker in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue  # it ended while we looked
        return found

    def request(
        self,
        method: str,
        path: str,
        body: bytes | dict[str, Any] | None = None,
        *,
        origin: str | None = PORTAL,
        headers: dict[str, str] | None = None,
        port: int | None = None,
    ) -> Response:
        """One HTTPS request to the agent (to ``port``, a plugin layer's, when given)."""
        connection = http.client.HTTPSConnection(
            "127.0.0.1", port or self.port, context=self.tls, timeout=60
        )
        all_headers: dict[str, str] = {}
        if isinstance(body, dict):
            body = json.dumps(body).encode()
            all_headers["Content-Type"] = "application/json"
        if origin is not None:
            all_headers["Origin"] = origin
        all_headers.update(headers or {})
        try:
            connection.request(method, path, body=body, headers=all_headers)
            raw = connection.getresponse()
            return Response(raw.status, raw.headers, raw.read())
        finally:
            connection.close()

    def post(self, path: str, body: dict[str, Any], **kwargs: Any) -> Response:
        """POST JSON."""
        return self.request("POST", path, body, **kwargs)

    def log_text(self) -> str:
        """Everything the agent logged (file and stderr)."""
        log_file = self.data_dir / "logs" / "agent.log"
        parts = [self.stderr_path.read_text("utf-8", "replace")]
        if log_file.exists():
            parts.append(log_file.read_text("utf-8", "replace"))
        return "\n".join(parts)

    def stop(self) -> None:
        """Terminate and wait."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._stderr.close()


T = TypeVar("T")


def eventually(probe: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``probe`` until it returns something true; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


@contextlib.contextmanager
def connection(agent: AgentProcess) -> Iterator[http.client.HTTPSConnection]:
    """A connection of our own, for clients that go away midway."""
    opened = http.client.HTTPSConnection("127.0.0.1", agent.port, context=agent.tls, timeout=60)
    try:
        yield opened
    finally:
        opened.close()


def read_then_gone(agent: AgentProcess, path: str, body: bytes, content_type: str) -> bytes:
    """A client that sends ``body``, reads the first 64 KiB of the 200 answer and goes away,
    more than a socket's buffers still to come; what it read."""
    with connection(agent) as client:
        headers = {"Origin": PORTAL, "Content-Type": content_type}
        client.request("POST", path, body, headers=headers)
        answer = client.getresponse()
        assert answer.status == 200, answer.read(500)
        return answer.read(64 * 1024)


def spool_of(agent: AgentProcess) -> Path:
    """Where the agent keeps the documents of the requests in flight."""
    return agent.data_dir / DIRECTORY_NAME


def wait_until_spool_empty(agent: AgentProcess) -> None:
    """The request's files are removed when it ends, which may be a moment after its client
    has read the last byte of the answer."""
    eventually(lambda: not any(spool_of(agent).iterdir()), 30, "the spool emptied")


def _toml(values: dict[str, Any]) -> str:
    return "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())


#: Runs the agent with its machine-policy path pointed at a test file. The agent itself
#: has no switch for this (IT's policy must not be one flag away); tests patch the constant.
_WITH_POLICY = (
    "import sys, pathlib, agent.config as c; "
    "c.POSIX_POLICY_FILE = pathlib.Path(sys.argv.pop(1)); "
    "from agent.cli import main; raise SystemExit(main(sys.argv[1:]))"
)


def start_agent(
    root: Path,
    hsm: SoftHsm,
    *extra: str,
    modules: list[Path] | None = None,
    scripted: bool = True,
    stdin: int = subprocess.DEVNULL,
    policy: dict[str, Any] | None = None,
    port: str = "0",
    env: dict[str, str] | None = None,
    command: str = "serve",
    vgca: bool = False,
    layers: Sequence[str] = (),
) -> AgentProcess:
    """Start ``kyso-agent serve`` on a free port and wait for its ``listening on`` line.

    ``scripted`` adds the scripted external prompter; without it the agent picks its
    default prompter (the console when ``stdin`` is a terminal). ``policy`` is the
    machine policy the agent reads; ``env`` adds to its environment (``DISPLAY``);
    ``command`` is ``run`` for the agent with its tray. Every plugin layer (VGCA, VNPT, BKAV,
    FPT) listens on a free port (never the vendor's) unless ``extra`` names one; ``layers``
    (and ``vgca``, for ``("vgca",)``) waits for their ``NAME listening on`` lines and records
    the ports in ``layer_ports``.
    """
    root.mkdir(parents=True, exist_ok=True)
    prompter_dir = root / "prompter"
    prompter_dir.mkdir(exist_ok=True)
    data_dir = root / "data"
    home = root / "home"
    home.mkdir(exist_ok=True)
    env = {
        **hsm.environ(),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    prompter = f"{sys.executable} -m agent.testing.prompter {prompter_dir}"
    policy_file = root / "policy.toml"
    policy_file.write_text(_toml(policy or {}))
    argv = [
        sys.executable,
        "-c",
        _WITH_POLICY,
        str(policy_file),
        command,
        *(["--port", port] if port else []),
        "--data-dir",
        str(data_dir),
        *(["--prompter", prompter] if scripted else []),
        "--allow-origin",
        PORTAL,
        "--allow-origin",
        WILDCARD,
        *(
            arg
            for name in LAYER_NAMES
            if f"--{name}-port" not in extra
            for arg in (f"--{name}-port", "0")
        ),
        *extra,
    ]
    for module in modules or [hsm.module]:
        argv += ["--pkcs11-module", str(module)]
    stderr_path = root / "stderr.txt"
    stderr = stderr_path.open("w")
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=stderr, text=True, env=env, stdin=stdin
    )
    assert process.stdout is not None
    deadline = time.monotonic() + 30
    line = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("listening on ") or not line:
            break
    if not line.startswith("listening on https://127.0.0.1:"):
        process.kill()
        process.wait()
        process.stdout.close()
        stderr.close()
        raise RuntimeError(f"agent did not start: {line!r}\n{stderr_path.read_text()}")
    bound = int(line.rsplit(":", 1)[1])
    started = AgentProcess(process, bound, data_dir, prompter_dir, stderr_path, stderr)
    wanted = {*layers, *(["vgca"] if vgca else [])}
    if wanted:
        try:
            started.layer_ports = _layer_lines(process, wanted)
        except RuntimeError as exc:
            started.stop()
            raise RuntimeError(f"{exc}\n{stderr_path.read_text()}") from None
    return started


#: Every plugin layer's name, as in its ``--NAME-port`` flag and ``NAME listening on`` line.
LAYER_NAMES: Final = ("vgca", "vnpt", "bkav", "fpt")


def _layer_lines(process: subprocess.Popen[str], wanted: set[str]) -> dict[str, int]:
    """Read ``NAME listening on URL`` lines until every wanted layer said where it listens.

    An agent without a layer's port says so only in its log: never wait for ever.
    """
    assert process.stdout is not None
    ports: dict[str, int] = {}
    deadline = time.monotonic() + 20
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        while not wanted <= ports.keys():
            pending = pool.submit(process.stdout.readline)
            try:
                line = pending.result(timeout=max(0.1, deadline - time.monotonic()))
            except concurrent.futures.TimeoutError:
                process.kill()  # ends the readline too
                line = ""
            name, _, url = line.strip().partition(" listening on ")
            if not url.startswith(("wss://127.0.0.1:", "https://127.0.0.1:")):
                missing = ", ".join(sorted(wanted - ports.keys()))
                raise RuntimeError(f"no listening line for {missing}: {line!r}")
            ports[name] = int(url.rsplit(":", 1)[1])
    return ports


def start_layer_agent(
    root: Path,
    hsm: SoftHsm,
    layer: str,
    *origins: str,
    prompt_timeout: str = "5",
    lang: str | None = None,
    **policy: Any,
) -> AgentProcess:
    """An agent with the plugin layer ``layer`` (its port in ``layer_ports``), allowing
    ``origins`` exactly, with no back-off after a cancel (``policy`` adds machine-policy keys);
    ``lang`` is its ``--lang`` when given."""
    allowed = [arg for origin in origins for arg in ("--allow-origin", origin)]
    return start_agent(
        root,
        hsm,
        *allowed,
        "--prompt-timeout",
        prompt_timeout,
        *(["--lang", lang] if lang else []),
        layers=(layer,),
        policy={"cancel_backoff_seconds": 0, **policy},
    )


def start_vgca_agent(
    root: Path,
    hsm: SoftHsm,
    *origins: str,
    prompt_timeout: str = "5",
    **policy: Any,
) -> AgentProcess:
    """An agent with the VGCA port, allowing ``origins`` exactly, with no back-off after a
    cancel (``policy`` adds machine-policy keys)."""
    return start_layer_agent(root, hsm, "vgca", *origins, prompt_timeout=prompt_timeout, **policy)


def stopping(running: AgentProcess) -> Iterator[AgentProcess]:
    """``running`` for a fixture to ``yield from``, stopped at its teardown."""
    yield running
    running.stop()


@pytest.fixture(scope="session")
def agent(token: SessionToken, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """The agent on the test token, allowing PORTAL exactly and WILDCARD, 3 s to answer,
    without the cancel back-off."""
    running = start_agent(
        tmp_path_factory.mktemp("agent"),
        token.hsm,
        "--prompt-timeout",
        "3",
        "--lang",
        "vi",
        # Many tests here cancel on purpose; the back-off has tests of its own.
        policy={"cancel_backoff_seconds": 0},
    )
    yield running
    running.stop()


@pytest.fixture(scope="session")
def tsa() -> Iterator[LocalPki]:
    """A time-stamp server (with its CA, OCSP and CRL) that a test can hold; the agents that
    use it have it as their ``tsa_url``."""
    with LocalPki() as running:
        yield running


@pytest.fixture
def fresh(agent: AgentProcess) -> AgentProcess:
    """The session agent with an empty script and an empty prompt record."""
    agent.script()
    return agent


@pytest.fixture(scope="module")
def nss(token: SessionToken, tmp_path_factory: pytest.TempPathFactory) -> NssDb:
    """An NSS database trusting the session's test CA, for poppler's pdfsig."""
    return NssDb.create(tmp_path_factory.mktemp("nss"), token.ca.cert)


@pytest.fixture(scope="module")
def ca_pem(token: SessionToken, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test CA as a PEM file: a trust root for the agent and openssl's CAfile."""
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    path.write_bytes(token.ca.cert.public_bytes(serialization.Encoding.PEM))
    return path


def run_cli(
    *args: str, env: dict[str, str] | None = None, python: Sequence[str] = ()
) -> subprocess.CompletedProcess[str]:
    """Run ``kyso-agent`` (as ``python [PYTHON] -m agent``)."""
    return subprocess.run(
        [sys.executable, *python, "-m", "agent", *args],
        capture_output=True,
        text=True,
        env=env or dict(os.environ),
        timeout=60,
        check=False,
    )
