"""Wine for the Windows tests: a fresh 64-bit prefix, commands in it, its registry.

Used by tests/packaging/test_msi_wine.py (the MSI: install, upgrade, uninstall) and
tests/windows/ (the installed agent running). Each test module makes a prefix of its own in a
temporary directory (``wineboot``), keeps one ``wineserver`` alive while it runs (each wine
command then starts in a fraction of a second) and stops it at the end.

Without Wine the tests are skipped, except in CI (CI=true), where ``make deps`` installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

INSTALL_DIR = r"C:\Program Files\Kyso Agent"
PYTHON = INSTALL_DIR + r"\python.exe"
PYTHONW = INSTALL_DIR + r"\pythonw.exe"
#: What wine itself must not do in a test prefix: no Mono/Gecko download prompts (nothing here
#: needs them), and no winemenubuilder, which would copy the Start-menu shortcut into
#: ~/.local/share/applications of this machine.
DLL_OVERRIDES = "mscoree,mshtml=;winemenubuilder.exe=d"


def find_wine() -> tuple[str, str] | None:
    """(wine64 loader, wineserver): Debian 12's wine64 keeps its loader in /usr/lib/wine."""
    candidates = [shutil.which("wine64"), "/usr/lib/wine/wine64", shutil.which("wine")]
    loader = next((c for c in candidates if c and os.access(c, os.X_OK)), None)
    servers = [shutil.which("wineserver"), "/usr/lib/wine/wineserver"]
    server = next((s for s in servers if s and os.access(s, os.X_OK)), None)
    return (loader, server) if loader and server else None


def require(what: str, found: object) -> None:
    """Skip the module when ``found`` is falsy; in CI, fail it: the tests must run there."""
    if found:
        return
    message = f"{what} is missing (make deps installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@dataclass
class Wine:
    loader: str
    server: str
    prefix: Path
    env: dict[str, str]
    installed: Path | None = None
    #: Files a test module keeps between its tests (e.g. the "newer" MSI of the upgrade test).
    extra: dict[str, Path] = field(default_factory=dict)

    @property
    def drive_c(self) -> Path:
        return self.prefix / "drive_c"

    @property
    def install_dir(self) -> Path:
        return self.drive_c / "Program Files" / "Kyso Agent"

    def unix_path(self, windows_path: str) -> Path:
        """Where a ``C:\\...`` path of this prefix is on this machine."""
        drive, _, rest = windows_path.partition(":\\")
        assert drive.upper() == "C", windows_path
        return self.drive_c.joinpath(*rest.split("\\"))

    def run(
        self,
        *args: str,
        timeout: float = 180,
        env: dict[str, str] | None = None,
        pipes: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        if pipes:  # python.exe: it cannot set up sys.stdout on a file handle from Wine
            return subprocess.run(
                [self.loader, *args],
                env={**self.env, **(env or {})},
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                check=False,
            )
        # stdin must be a valid handle, or python.exe cannot initialise sys.stdin. Output goes to
        # files, not pipes: services that msiexec starts inherit the handles and outlive it.
        # (Named files: Wine cannot turn an unlinked O_TMPFILE descriptor into a handle.)
        with (
            tempfile.NamedTemporaryFile(dir=self.prefix.parent) as out,
            tempfile.NamedTemporaryFile(dir=self.prefix.parent) as err,
        ):
            process = subprocess.run(
                [self.loader, *args],
                env={**self.env, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                timeout=timeout,
                check=False,
            )
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode("utf-8", errors="replace").replace("\r\n", "\n")
            stderr = err.read().decode("utf-8", errors="replace").replace("\r\n", "\n")
        return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)

    def msiexec(self, *args: str) -> int:
        return self.run("msiexec", *args, "/qn").returncode

    def python(self, code: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
        # -P: not the current directory (this repository) but the installed agent.
        return self.run(PYTHON, "-B", "-P", "-c", code, pipes=True, **kwargs)  # type: ignore[arg-type]

    def reg(self, key: str) -> dict[str, tuple[str, str]] | None:
        """The values of one key (name -> (type, data)), or None when the key does not exist."""
        result = self.run("reg", "query", key)
        if result.returncode != 0:
            return None
        values: dict[str, tuple[str, str]] = {}
        for line in result.stdout.splitlines():
            match = re.match(r"^ {4}(.*?) {4}(REG_[A-Z_]+) {4}?(.*)$", line)
            if match:
                values[match[1]] = (match[2], match[3])
        return values

    def start_server(self) -> None:
        """A persistent wineserver: each wine command then starts in a fraction of a second."""
        subprocess.run([self.server, "-p"], env=self.env, timeout=60, check=True)

    def stop_server(self) -> None:
        """Stop the wineserver and its processes; it writes system.reg and user.reg as it exits."""
        subprocess.run([self.server, "-k"], env=self.env, timeout=60, check=False)
        subprocess.run([self.server, "-w"], env=self.env, timeout=60, check=False)


@contextmanager
def wine_prefix(name: str, **environ: str) -> Iterator[Wine]:
    """A fresh 64-bit prefix with its wineserver running; everything goes at the end.

    ``environ``: more environment for every command (e.g. ``DISPLAY`` for a desktop; without
    one, Wine runs with no display at all).
    """
    found = find_wine()
    require("Wine (wine, wine64)", found)
    assert found is not None
    loader, server = found
    with tempfile.TemporaryDirectory(prefix=f"kyso-{name}-") as tmp:
        prefix = Path(tmp) / "prefix"
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        env.update(
            WINEPREFIX=str(prefix),
            WINEARCH="win64",
            WINEDEBUG="-all",
            WINEDLLOVERRIDES=DLL_OVERRIDES,
            PYTHONDONTWRITEBYTECODE="1",
        )
        env.update(environ)
        w = Wine(loader, server, prefix, env)
        try:
            # A 64-bit-only Wine complains about syswow64\rundll32.exe; the prefix is fine.
            w.run("wineboot", "--init", timeout=240)
            # Until wineboot's services have ended and the wineserver has written the registry.
            subprocess.run([server, "-w"], env=env, timeout=240, check=False)
            assert (prefix / "system.reg").exists(), "wineboot did not create the prefix"
            w.start_server()
            yield w
        finally:
            w.stop_server()
