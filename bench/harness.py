"""What the benchmarks share: the agent in a child process, a keep-alive HTTPS client, the
figures' statistics, and the budget lines.

The agent runs as its own process (``bench/agent_host.py``: ``kyso-agent serve``'s start-up
with a prompter that approves at once), as it does on a user's computer; the client is this
process, as a browser would be another. Nothing here is timed itself.
"""

from __future__ import annotations

import http.client
import json
import os
import platform
import signal
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final

from agent.pywarnings import route_to_log

# Every bench imports this module before pyHanko: a library's import-time deprecation notice
# (cryptography's about DSA) goes to the log, not into the printed figures.
route_to_log()

if TYPE_CHECKING:
    from cryptography import x509

    from agent.testing.softhsm import SoftHsm

HOST_SCRIPT: Final = Path(__file__).resolve().with_name("agent_host.py")
TRANSFER_HOST: Final = Path(__file__).resolve().with_name("transfer_host.py")
PIN: Final = "246810"
"""The bench token's user PIN (SoftHSM)."""
LABEL: Final = "KYSO-BENCH"
"""The bench token's label."""
KEY_ID: Final = "01"
"""The key of a one-key bench token."""


class BenchError(Exception):
    """A request failed or a result did not verify: the figures would be meaningless."""


# --- the machine ---------------------------------------------------------------------------


def machine() -> str:
    """Platform, CPU model (when the OS says) and CPU count."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip() + ", "
                break
    return (
        f"{platform.platform()}, {model}{os.cpu_count()} CPU(s), Python {platform.python_version()}"
    )


def load_average() -> str:
    """The 1-minute load average: how busy the machine was with other work (noise)."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "n/a"


# --- figures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Latencies:
    """Seconds of each of a series of operations."""

    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        """Median, in seconds."""
        return statistics.median(self.seconds)

    @property
    def p95(self) -> float:
        """95th percentile (nearest rank), in seconds."""
        ordered = sorted(self.seconds)
        return ordered[max(0, round(0.95 * len(ordered)) - 1)]

    def __len__(self) -> int:
        return len(self.seconds)


def verdict(passed: bool) -> str:
    """``PASS`` or ``MISS``."""
    return "PASS" if passed else "MISS"


def budget_line(name: str, figure: str, budget: str, passed: bool) -> str:
    """One budget row: what, the figure, the budget, PASS or MISS."""
    return f"{name:<50} {figure:>16}   budget {budget:<10} {verdict(passed)}"


# --- the agent -----------------------------------------------------------------------------


def error_of(raw: bytes) -> str:
    """The agent's error code and message, or the start of whatever else came back."""
    try:
        error = json.loads(raw)["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return raw[:300].decode("utf-8", "replace")


@dataclass
class Client:
    """One keep-alive HTTPS connection to an agent, blocking, from this process."""

    port: int
    ca_file: Path
    origin: str
    timeout: float = 600.0
    connections: int = 0
    """TCP+TLS connections opened (1 when keep-alive held)."""
    _conn: http.client.HTTPSConnection | None = field(default=None, repr=False)
    _sock: object = field(default=None, repr=False)

    def call(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        *,
        content_type: str = "application/json",
        accept: str | None = None,
    ) -> bytes:
        """One round trip; the raw body of a 200 answer, else :class:`BenchError`."""
        if self._conn is None:
            context = ssl.create_default_context(cafile=str(self.ca_file))
            self._conn = http.client.HTTPSConnection(
                "127.0.0.1", self.port, context=context, timeout=self.timeout
            )
        headers = {"Origin": self.origin}
        if body is not None:
            headers["Content-Type"] = content_type
        if accept is not None:
            headers["Accept"] = accept
        self._conn.request(method, path, body=body, headers=headers)
        if self._conn.sock is not self._sock:
            self._sock = self._conn.sock
            self.connections += 1
        response = self._conn.getresponse()
        raw = response.read()
        if response.status != 200:
            raise BenchError(f"{method} {path} answered {response.status}: {error_of(raw)}")
        return raw

    def close(self) -> None:
        """Close the connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


@dataclass
class AgentProcess:
    """A running agent started by :func:`start_agent`."""

    process: subprocess.Popen[str]
    port: int
    data_dir: Path
    stderr: IO[str]
    layers: dict[str, int] = field(default_factory=dict)
    """Ports of the plugin layers read so far from ``NAME listening on URL`` lines."""

    @property
    def pid(self) -> int:
        """The agent's process id."""
        return self.process.pid

    def layer_port(self, name: str, seconds: float = 20.0) -> int:
        """The port of plugin layer ``name``, from the lines the agent prints after its own
        (``bench/agent_host.py``); :class:`BenchError` when it says nothing of it in time."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + seconds
        with ThreadPoolExecutor(1) as pool:
            while name not in self.layers:
                pending = pool.submit(self.process.stdout.readline)
                try:
                    line = pending.result(timeout=max(0.1, deadline - time.monotonic()))
                except FutureTimeout:
                    self.process.kill()  # ends the readline too
                    raise BenchError(f"the agent named no port for {name}") from None
                layer, _, url = line.strip().partition(" listening on ")
                if not url.startswith(("wss://127.0.0.1:", "https://127.0.0.1:")):
                    raise BenchError(f"no listening line for {name}: {line!r}")
                self.layers[layer] = int(url.rsplit(":", 1)[1])
        return self.layers[name]

    @property
    def tls(self) -> ssl.SSLContext:
        """A client context trusting this agent's local CA."""
        return ssl.create_default_context(cafile=str(self.data_dir / "tls" / "ca.pem"))

    def client(self, origin: str) -> Client:
        """A keep-alive client trusting this agent's local CA."""
        return Client(self.port, self.data_dir / "tls" / "ca.pem", origin)

    def stop(self) -> None:
        """SIGTERM (the agent stops cleanly), then SIGKILL if it lingers."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.stderr.close()


def start_agent(
    argv: Sequence[str], data_dir: Path, env: dict[str, str], log_file: Path
) -> AgentProcess:
    """Start ``argv`` (an agent that prints ``listening on https://127.0.0.1:PORT``) and wait
    for that line."""
    data_dir.mkdir(parents=True, exist_ok=True)
    stderr = log_file.open("w")
    process = subprocess.Popen(
        list(argv),
        stdout=subprocess.PIPE,
        stderr=stderr,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("listening on https://127.0.0.1:"):
        process.kill()
        process.wait()
        stderr.close()
        raise BenchError(f"the agent did not start: {line!r}\n{log_file.read_text()[-2000:]}")
    return AgentProcess(process, int(line.rsplit(":", 1)[1]), data_dir, stderr)


def start_transfer_host(data_dir: Path) -> AgentProcess:
    """``bench/transfer_host.py``: the agent's way in and out over HTTPS, without the agent."""
    return start_agent(
        [sys.executable, str(TRANSFER_HOST), "--data-dir", str(data_dir)],
        data_dir,
        {},
        data_dir.with_suffix(".log"),
    )


def host_argv(
    data_dir: Path, module: Path, origin: str, pin: str, *, poll: bool = False
) -> list[str]:
    """The command line of ``bench/agent_host.py``."""
    argv = [
        sys.executable,
        str(HOST_SCRIPT),
        "--data-dir",
        str(data_dir),
        "--module",
        str(module),
        "--origin",
        origin,
        "--pin",
        pin,
    ]
    return [*argv, "--poll"] if poll else argv


# --- /proc ---------------------------------------------------------------------------------


def proc_status(pid: int, key: str) -> int:
    """A ``kB`` field of ``/proc/PID/status`` (``VmRSS``, ``VmHWM``), in bytes; 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


def reset_peak(pid: int) -> bool:
    """Reset ``VmHWM`` to the current RSS (Linux 4.0+); False where that is not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def children(pid: int) -> list[int]:
    """Every descendant process of ``pid``."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid`` so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # Fields 14 and 15 (utime, stime) are the 12th and 13th after the command name.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


MIB: Final = 1024 * 1024


def one_key_token(root: Path, holder: str) -> tuple[SoftHsm, x509.Certificate, x509.Certificate]:
    """A SoftHSM token under ``root`` with one RSA-2048 key of ``holder``, issued by a bench
    CA: the token, its certificate and the CA's (provisioned in child processes); this process
    is pointed at it (``SOFTHSM2_CONF``: SoftHSM reads its token directory when the module is
    initialised, so before this process loads it). :class:`BenchError` when provisioning fails.

    Imported here: the benches that time a bare ``C_Sign`` load nothing more than they use."""
    from agent.testing.softhsm import KeySpec, TestCa, TokenSpec, new_token

    ca = TestCa.create("Kyso Bench CA")
    try:
        hsm, [made] = new_token(
            root, TokenSpec(LABEL, PIN, keys=(KeySpec(KEY_ID, "RSA", holder, "Kyso bench"),)), ca
        )
    except subprocess.CalledProcessError as exc:
        raise BenchError(f"provisioning SoftHSM failed: {exc.stderr}") from exc
    os.environ["SOFTHSM2_CONF"] = str(hsm.conf)
    return hsm, made.certificate, ca.cert
