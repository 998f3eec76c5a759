"""The lock (requirements/, docs/dependencies.md): complete, consistent with pyproject.toml, the
same versions in its three files, installed as it is in this venv; a file whose hash differs
stops a build naming the package; the warnings policy lists what it tolerates; `make audit`
never passes without having asked.

The tests that resolve or download need PyPI, as `make venv` does; the audit tests ask a local
OSV-shaped service on 127.0.0.1 (the one stand-in here: the real vulnerability database is not
reachable from CI, and its answers cannot be chosen).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
UV = Path(sys.executable).with_name("uv")


@dataclass(frozen=True)
class Pin:
    """One locked release."""

    name: str
    version: Version
    marker: Marker | None
    hashes: frozenset[str]

    def applies_here(self) -> bool:
        return self.marker is None or self.marker.evaluate()


def read_lock(path: Path) -> dict[str, Pin]:
    """The pins of a lock file, by canonical name."""
    text = re.sub(r"\\\n\s*", " ", path.read_text("utf-8"))
    pins: dict[str, Pin] = {}
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        hashes = frozenset(re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
        requirement = Requirement(re.sub(r"\s*--hash=\S+", "", line))
        [spec] = requirement.specifier
        assert spec.operator == "==", line
        name = canonicalize_name(requirement.name)
        pins[name] = Pin(name, Version(spec.version), requirement.marker, hashes)
    return pins


def lock_lines(path: Path) -> list[str]:
    """The requirement lines alone (no comments, which name the output path)."""
    text = re.sub(r"\\\n\s*", " ", path.read_text("utf-8"))
    return [
        re.sub(r"\s+", " ", line.split(" #", 1)[0]).strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


DEV, MAIN, WINDOWS = (read_lock(LOCK / f) for f in ("dev.txt", "main.txt", "windows.txt"))


def test_every_pin_is_exact_and_hashed() -> None:
    for lock in (DEV, MAIN, WINDOWS):
        assert lock
        for pin in lock.values():
            assert pin.hashes, f"{pin.name} has no --hash"


def test_the_three_files_pin_the_same_versions() -> None:
    """What the tests run (dev.txt) is what the Debian package and the MSI ship."""
    for lock in (MAIN, WINDOWS):
        for name, pin in lock.items():
            assert name in DEV, name
            assert pin.version == DEV[name].version, name
            assert pin.hashes == DEV[name].hashes, name


def test_windows_lock_has_no_linux_only_package_and_no_marker() -> None:
    assert "python-xlib" not in WINDOWS  # pystray's Linux backend
    assert "tzdata" in WINDOWS  # tzlocal's Windows zone names
    assert all(pin.marker is None for pin in WINDOWS.values())


def test_every_pyproject_dependency_is_locked_within_its_range() -> None:
    project = PYPROJECT["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    for line in (LOCK / "build.in").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            declared.append(line.strip())
    for text in declared:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in DEV, f"{name} is in pyproject.toml but not in requirements/dev.txt"
        assert requirement.specifier.contains(DEV[name].version, prereleases=True), name
        if text in project["dependencies"]:
            assert name in MAIN and name in WINDOWS, name


def test_this_venv_holds_exactly_the_locked_versions() -> None:
    """make venv installed the lock, nothing newer and nothing older."""
    for pin in DEV.values():
        if not pin.applies_here():
            continue
        assert Version(metadata.version(pin.name)) == pin.version, pin.name


def test_the_lock_is_current_with_pyproject(tmp_path: Path) -> None:
    """Resolving again, with the lock's pins preferred, gives the lock back: nobody changed
    pyproject.toml without `make lock` (needs PyPI)."""
    out = tmp_path / "lock"
    out.mkdir()
    for name in ("dev.txt", "main.txt", "windows.txt"):
        shutil.copy(LOCK / name, out / name)
    done = subprocess.run(
        [str(ROOT / "scripts" / "lock.sh"), str(UV), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for name in ("dev.txt", "main.txt", "windows.txt"):
        assert lock_lines(out / name) == lock_lines(LOCK / name), f"run make lock ({name})"


def test_a_wheel_whose_hash_differs_stops_the_package_build_naming_it(tmp_path: Path) -> None:
    """The Debian package's build from a lock where six's hashes are wrong (needs PyPI)."""
    if shutil.which("dpkg-deb") is None:
        pytest.skip("dpkg-deb is missing")
    copy = tmp_path / "repo"
    for part in ("agent", "packaging", "requirements"):
        shutil.copytree(ROOT / part, copy / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / part, copy / part)
    main = copy / "requirements" / "main.txt"
    text = main.read_text("utf-8")
    six = re.search(r"^six==[^\n]*(?:\n\s+--hash[^\n]*)+", text, re.MULTILINE)
    assert six is not None
    wrong = re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, six.group(0))
    main.write_text(text.replace(six.group(0), wrong), "utf-8")
    done = subprocess.run(
        [str(copy / "packaging" / "linux" / "build-deb.sh"), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "BUILD_PYTHON": sys.executable},
        check=False,
    )
    assert done.returncode != 0
    assert "DO NOT MATCH THE HASHES" in done.stderr
    assert re.search(r"six==1\.\d+\.\d+", done.stderr), done.stderr
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.deb"))


# --- the warnings policy ---------------------------------------------------------------------


def tolerated_warnings() -> list[str]:
    filters = PYPROJECT["tool"]["pytest"]["ini_options"]["filterwarnings"]
    assert filters[0] == "error", "every warning is an error unless listed"
    return [f.split(":")[1] for f in filters[1:]]


def test_every_tolerated_warning_is_documented_with_its_exact_message() -> None:
    documented = (ROOT / "docs" / "dependencies.md").read_text("utf-8")
    table = documented.split("## Warnings", 1)[1].split("\n## ", 1)[0]
    rows = [r for r in table.splitlines() if r.startswith("| `")]
    tolerated = tolerated_warnings()
    assert tolerated
    assert len(rows) == len(tolerated)
    for message in tolerated:
        assert any(f"| `{message}` |" in row for row in rows), message


def test_every_filter_names_a_third_party_module() -> None:
    """A filter never hides the agent's own warnings."""
    filters = PYPROJECT["tool"]["pytest"]["ini_options"]["filterwarnings"]
    for entry in filters[1:]:
        action, _message, _category, module = entry.split(":")[:4]
        assert action == "ignore" and module and not module.startswith(("agent", "tests"))


# --- make audit --------------------------------------------------------------------------------


class _Osv(BaseHTTPRequestHandler):
    """Answers OSV's /v1/query as its API does: a vulnerability for six, nothing for the rest."""

    asked: list[str]

    def do_POST(self) -> None:
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        name = query["package"]["name"]
        self.asked.append(f"{name}=={query['version']}")
        body: dict[str, object] = {}
        if name == "six":
            body = {
                "vulns": [
                    {
                        "id": "PYSEC-2099-1",
                        "aliases": ["CVE-2099-0001"],
                        "summary": "a made-up advisory",
                        "affected": [
                            {
                                "package": {"name": "six", "ecosystem": "PyPI"},
                                "ranges": [
                                    {
                                        "type": "ECOSYSTEM",
                                        "events": [{"introduced": "0"}, {"fixed": "99.0"}],
                                    }
                                ],
                            }
                        ],
                    }
                ]
            }
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def osv() -> Iterator[tuple[str, list[str]]]:
    asked: list[str] = []
    handler = type("Handler", (_Osv,), {"asked": asked})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/query", asked
    finally:
        server.shutdown()
        server.server_close()


def _audit(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_PROXY": "127.0.0.1"}
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "audit.py"), "--timeout", "5", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_audit_asks_about_every_locked_release_and_reports_a_finding(
    osv: tuple[str, list[str]],
) -> None:
    url, asked = osv
    done = _audit("--osv-url", url, str(LOCK / "main.txt"))
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"six {MAIN['six'].version}: PYSEC-2099-1 (CVE-2099-0001); fixed in: 99.0" in done.stdout
    assert "docs/dependencies.md" in done.stderr
    here = {f"{p.name}=={p.version}" for p in MAIN.values() if p.applies_here()}
    assert here <= set(asked)
    # A decision recorded with --ignore-vuln: every release checked, none affected.
    ignored = _audit("--osv-url", url, "--ignore-vuln", "PYSEC-2099-1", str(LOCK / "main.txt"))
    assert ignored.returncode == 0, ignored.stdout + ignored.stderr
    assert "no known vulnerability" in ignored.stdout


def test_audit_that_cannot_reach_the_database_fails_and_says_so(tmp_path: Path) -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        port = closed.server_address[1]
    # Nothing listens on that port any more: every query is refused.
    done = _audit("--osv-url", f"http://127.0.0.1:{port}/v1/query", str(LOCK / "main.txt"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "could not be done" in done.stderr
    assert "no known vulnerability" not in done.stdout
