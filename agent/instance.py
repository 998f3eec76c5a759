"""One agent per user: a second ``kyso-agent run``/``serve`` finds the first and asks it to
show its window, instead of starting a second server.

Windows may start the agent from the MSI's machine-wide Run entry and from the user's own
start-at-login entry; on Linux the package's XDG autostart and a user's own can both fire;
and a user who cannot find the tray icon starts the agent again from the menu. Two agents
would take two ports and two token workers.

Two files in the data directory make this work:

* ``agent.lock`` carries an OS file lock for the life of the agent. The OS releases it when
  the process ends however it ends, so a crash or ``kill -9`` leaves no stale lock: the lock,
  not any file's presence, says whether an agent runs.
* ``agent.instance.json`` tells a second start how to reach the first: its pid, its port and
  a random secret. The running agent writes it (private to the user, written whole or not at
  all) once its server listens and removes it when it stops; an agent that takes the lock
  first removes whatever an earlier, killed agent left there.

The second start sends ``POST /control/show`` with the secret to 127.0.0.1 over TLS checked
against this data directory's own CA (:mod:`agent.server.control` answers it). Knowing the
secret proves the caller can read this user's data directory; a web page can neither read
it nor send the request (see the server side).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import IO, Final

from agent import files
from agent.errors import ConfigError

LOCK_NAME: Final = "agent.lock"
INSTANCE_NAME: Final = "agent.instance.json"
"""Next to the lock: how a second start reaches the running agent."""
SHOW_PATH: Final = "/control/show"
"""The running agent's control request: show its window (the status report)."""
SECRET_HEADER: Final = "Kyso-Control-Secret"  # noqa: S105 - a header name, not a secret
"""Carries the secret of ``agent.instance.json``; nothing else is accepted in its place."""
#: Seconds a second start waits for a first one that holds the lock but does not listen yet
#: (it may be making its TLS certificate or loading the PKCS#11 modules).
STARTUP_WAIT: Final = 30.0
#: Seconds a published agent may fail to answer before it counts as hung (covers an agent
#: that is stopping: it removes its file after its server closed).
ANSWER_GRACE: Final = 3.0
#: Seconds one control request may take.
REQUEST_TIMEOUT: Final = 5.0
_POLL: Final = 0.2


class AlreadyRunning(ConfigError):
    """Another agent holds this data directory's lock."""

    def __init__(self, lock: Path) -> None:
        super().__init__(
            f"Kyso Agent is already running for this user (lock {lock}); "
            "use the running one (its tray icon, or `kyso-agent status`)"
        )
        self.lock = lock


@dataclass(frozen=True)
class InstanceInfo:
    """What ``agent.instance.json`` says about the running agent."""

    pid: int
    """Its process id."""
    port: int
    """The port of its HTTPS API on 127.0.0.1."""
    secret: str
    """The secret its control request must carry."""

    @property
    def url(self) -> str:
        """Base URL of its API."""
        return f"https://127.0.0.1:{self.port}"


def instance_file(data_dir: Path) -> Path:
    """``DATA_DIR/agent.instance.json``."""
    return data_dir / INSTANCE_NAME


class InstanceLock:
    """Held for the life of a running agent (``with InstanceLock(data_dir) as lock: …``).

    :attr:`secret` is made fresh for each agent; :meth:`publish` writes the instance file
    once the server listens, and leaving the ``with`` block removes it.
    """

    def __init__(self, data_dir: Path) -> None:
        self._path = data_dir / LOCK_NAME
        self._instance = instance_file(data_dir)
        self._file: IO[bytes] | None = None
        self._published = False
        self.secret: Final = secrets.token_urlsafe(32)
        """What a control request must carry to be obeyed."""

    def __enter__(self) -> InstanceLock:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        handle = self._path.open("a+b")
        try:
            _lock(handle)
        except OSError:
            handle.close()
            raise AlreadyRunning(self._path) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()).encode())
        handle.flush()
        self._file = handle
        # Left by an agent that was killed: it names a port nobody (of ours) listens on.
        self._instance.unlink(missing_ok=True)
        return self

    def publish(self, port: int) -> None:
        """Tell later starts how to reach this agent (call once its server listens)."""
        if self._file is None:
            raise RuntimeError("publish() needs the lock held")
        info = {"pid": os.getpid(), "port": port, "secret": self.secret}
        files.write_atomically(self._instance, json.dumps(info).encode())
        self._published = True

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._file is not None:
            if self._published:
                self._instance.unlink(missing_ok=True)
                self._published = False
            self._file.close()  # closing releases the lock
            self._file = None


def read_instance(data_dir: Path) -> InstanceInfo | None:
    """The running agent's published address, or ``None`` when there is none (or it is not
    a file an agent wrote)."""
    try:
        data = json.loads(instance_file(data_dir).read_bytes())
        info = InstanceInfo(int(data["pid"]), int(data["port"]), str(data["secret"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not 0 < info.port < 65536 or not info.secret:
        return None
    return info


def lock_held(data_dir: Path) -> bool:
    """Whether an agent holds ``data_dir``'s lock now.

    Probing takes the lock for an instant; an agent starting at that very instant finds it
    taken and reports another agent (which then gets its show request, or is not there).
    """
    path = data_dir / LOCK_NAME
    if not path.exists():
        return False
    try:
        handle = path.open("a+b")
    except OSError:
        return False
    with handle:
        try:
            _lock(handle)
        except OSError:
            return True
        _unlock(handle)
    return False


def _lock(handle: IO[bytes]) -> None:
    if os.name == "nt":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def _unlock(handle: IO[bytes]) -> None:
    if os.name == "nt":
        import msvcrt

        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]
    else:
        import fcntl

        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


# --- the second start ----------------------------------------------------------------------


class ControlFailed(Exception):
    """The running agent did not obey a control request; the message says what happened."""


def request_show(info: InstanceInfo, ca_file: Path, timeout: float = REQUEST_TIMEOUT) -> bool:
    """Ask the agent of ``info`` to show its window; True when it has one (the tray).

    TLS is checked against ``ca_file`` (this data directory's CA), so the secret goes to this
    user's agent or nowhere.
    """
    try:
        context = ssl.create_default_context(cafile=str(ca_file))
    except (OSError, ssl.SSLError) as exc:
        raise ControlFailed(f"cannot read the agent's CA {ca_file}: {exc}") from exc
    connection = http.client.HTTPSConnection(
        "127.0.0.1", info.port, context=context, timeout=timeout
    )
    try:
        connection.request("POST", SHOW_PATH, headers={SECRET_HEADER: info.secret})
        response = connection.getresponse()
        body = response.read(64 * 1024)
    except TimeoutError as exc:
        raise ControlFailed(f"no answer within {timeout:.0f} s") from exc
    except (ssl.SSLError, ssl.CertificateError) as exc:
        raise ControlFailed(f"TLS: {exc}") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise ControlFailed(f"{type(exc).__name__}: {exc}") from exc
    finally:
        connection.close()
    if response.status != 200:
        raise ControlFailed(f"HTTP {response.status}: {body[:200].decode('utf-8', 'replace')}")
    try:
        answer = json.loads(body)
        return bool(answer["window"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ControlFailed(f"not a control answer: {body[:200]!r}") from exc


class Found(StrEnum):
    """What a second start found."""

    NONE = "none"
    """No agent runs for this data directory: start one."""
    SHOWN = "shown"
    """The running agent answered and shows its window (or, headless, logged the request)."""
    NOT_ANSWERING = "not-answering"
    """An agent holds the lock but did not answer: hung, or still stuck starting."""


@dataclass(frozen=True)
class Probe:
    """The outcome of :func:`find_running`."""

    found: Found
    """What was found."""
    info: InstanceInfo | None = None
    """The running agent's published address, when it had published one."""
    window: bool = False
    """``SHOWN``: the agent has a window (the tray) and opens it."""
    problem: str = ""
    """``NOT_ANSWERING``: what went wrong, for the user."""


def find_running(
    data_dir: Path,
    ca_file: Path,
    *,
    startup_wait: float = STARTUP_WAIT,
    grace: float = ANSWER_GRACE,
    timeout: float = REQUEST_TIMEOUT,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Probe:
    """Find the agent running for ``data_dir`` and ask it to show its window.

    The lock decides whether one runs. One that holds the lock but has not published its
    address yet is waited for up to ``startup_wait`` seconds; one that published it and does
    not answer for ``grace`` seconds is reported as not answering.
    """
    start = clock()
    failing_since: float | None = None
    problem = ""
    while True:
        info = read_instance(data_dir)
        if info is not None:
            try:
                window = request_show(info, ca_file, timeout)
            except ControlFailed as exc:
                problem = f"{info.url} (pid {info.pid}): {exc}"
                failing_since = clock() if failing_since is None else failing_since
            else:
                return Probe(Found.SHOWN, info, window=window)
        if not lock_held(data_dir):
            # Nobody holds the lock (any more): what the file said is stale.
            return Probe(Found.NONE)
        now = clock()
        if failing_since is not None and now - failing_since >= grace:
            return Probe(Found.NOT_ANSWERING, info, problem=problem)
        if now - start >= startup_wait:
            late = f"pid {_pid(data_dir)} has not started listening within {startup_wait:.0f} s"
            return Probe(Found.NOT_ANSWERING, info, problem=problem or late)
        sleep(_POLL)


def _pid(data_dir: Path) -> str:
    """The lock holder's pid as the lock file says (unreadable on Windows while locked)."""
    with contextlib.suppress(OSError):
        return (data_dir / LOCK_NAME).read_text("ascii").strip() or "?"
    return "?"
