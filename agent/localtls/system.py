"""The Linux system store: does the distribution's CA bundle hold the local CA, and putting it
in or taking it out as a local trust anchor (as root: ``kyso-agent trust --system``).

Debian/Ubuntu: ``/usr/local/share/ca-certificates`` + ``update-ca-certificates``;
Fedora/RHEL: ``/etc/pki/ca-trust/source/anchors`` + ``update-ca-trust``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from agent.localtls.ca import is_kyso_ca
from agent.localtls.model import Outcome, StoreResult, Trust, TrustCheck, TrustReason, TrustStore
from agent.localtls.tools import Runner, der_certificates, last_line, run_tool

#: Where Linux distributions keep the system CA bundle (Debian/Ubuntu, Fedora/RHEL,
#: openSUSE, Alpine/Arch).
LINUX_BUNDLES: Final = (
    Path("/etc/ssl/certs/ca-certificates.crt"),
    Path("/etc/pki/tls/certs/ca-bundle.crt"),
    Path("/etc/ssl/ca-bundle.pem"),
    Path("/etc/ssl/cert.pem"),
)
#: Debian/Ubuntu, then Fedora/RHEL: where local anchors go, and the tool that rebuilds the bundle.
SYSTEM_ANCHORS: Final = (
    (Path("/usr/local/share/ca-certificates"), "update-ca-certificates"),
    (Path("/etc/pki/ca-trust/source/anchors"), "update-ca-trust"),
)


def system_store_trust(ca_der: bytes, bundles: Sequence[Path] = LINUX_BUNDLES) -> TrustCheck:
    """Whether the first system bundle that exists contains the CA."""
    for bundle in bundles:
        try:
            content = bundle.read_text("utf-8", "replace")
        except OSError:
            continue
        found = ca_der in der_certificates(content)
        return TrustCheck(
            TrustStore.SYSTEM,
            str(bundle),
            Trust.TRUSTED if found else Trust.NOT_TRUSTED,
            TrustReason.FOUND if found else TrustReason.NOT_FOUND,
        )
    shown = str(bundles[0]) if bundles else ""
    return TrustCheck(TrustStore.SYSTEM, shown, Trust.UNKNOWN, TrustReason.NO_DATABASE)


@dataclass(frozen=True)
class SystemAnchors:
    """The distribution's directory of local trust anchors and the tool that rebuilds the bundle."""

    directory: Path
    """``/usr/local/share/ca-certificates`` (Debian) or ``/etc/pki/ca-trust/source/anchors``."""
    update_tool: str
    """``update-ca-certificates`` or ``update-ca-trust``."""
    file_name: str
    """Our file there; named after the user whose CA it is (each user has their own CA)."""
    run: Runner = run_tool
    """Runs a command line (replaced in tests)."""

    @property
    def file(self) -> Path:
        """The anchor file install writes."""
        return self.directory / self.file_name

    def result(self, outcome: Outcome, detail: str = "") -> StoreResult:
        """A result for the system store."""
        return StoreResult(TrustStore.SYSTEM, str(self.file), outcome, detail)

    def _update(self, outcome: Outcome, detail: str = "") -> StoreResult:
        argv = [self.update_tool]
        if outcome is Outcome.REMOVED and self.update_tool == "update-ca-certificates":
            argv.append("--fresh")  # without it Debian leaves the links to the removed file
        try:
            done = self.run(argv)
        except (OSError, subprocess.SubprocessError) as exc:
            return self.result(Outcome.FAILED, f"{self.update_tool}: {exc}")
        if done.returncode != 0:
            return self.result(Outcome.FAILED, f"{self.update_tool}: {last_line(done)}")
        return self.result(outcome, detail)

    def _ours_there(self) -> list[bytes]:
        return der_certificates(self.file.read_text("ascii", "replace"))

    def install(self, ca_file: Path, ca_der: bytes) -> StoreResult:
        """Copy the CA into the anchors and rebuild the bundle."""
        if not self.directory.is_dir():
            return self.result(Outcome.STORE_NOT_FOUND)
        outcome = Outcome.ADDED
        try:
            if self.file.exists():
                there = self._ours_there()
                if there == [ca_der]:
                    return self._update(Outcome.ALREADY_PRESENT)
                if not all(is_kyso_ca(der) for der in there):
                    return self.result(
                        Outcome.FAILED, f"{self.file} holds another certificate; left alone"
                    )
                outcome = Outcome.REPLACED
            self.file.write_bytes(ca_file.read_bytes())
            self.file.chmod(0o644)
        except OSError as exc:
            return self.result(Outcome.FAILED, str(exc))
        return self._update(outcome)

    def uninstall(self) -> StoreResult:
        """Remove our anchor file (if it holds a Kyso CA) and rebuild the bundle."""
        if not self.directory.is_dir():
            return self.result(Outcome.STORE_NOT_FOUND)
        try:
            if not self.file.exists():
                return self.result(Outcome.NOT_PRESENT)
            if not all(is_kyso_ca(der) for der in self._ours_there()):
                return self.result(
                    Outcome.NOT_PRESENT, f"{self.file} holds another certificate; left alone"
                )
            self.file.unlink()
        except OSError as exc:
            return self.result(Outcome.FAILED, str(exc))
        return self._update(Outcome.REMOVED)


def _owner_name(path: Path) -> str:
    """The owner of ``path`` or of its nearest existing parent (the user whose CA it is)."""
    existing = next((p for p in (path, *path.parents) if p.exists()), path)
    try:
        import pwd

        return pwd.getpwuid(existing.stat().st_uid).pw_name
    except (ImportError, KeyError, OSError):
        return "user"


def system_anchors(ca_file: Path, run: Runner = run_tool) -> SystemAnchors | None:
    """This distribution's anchors, or ``None`` when neither layout is there."""
    owner = re.sub(r"[^A-Za-z0-9._-]", "_", _owner_name(ca_file))
    for directory, tool in SYSTEM_ANCHORS:
        if directory.is_dir() and shutil.which(tool):
            return SystemAnchors(directory, tool, f"kyso-agent-{owner}.crt", run)
    return None
