"""This OS's certificate stores as one: ask them, make them trust the CA, take it out.

Stores, per OS:

* Linux: the user's NSS database ``~/.pki/nssdb`` (Chrome, Chromium; created if missing)
  and every Firefox profile's database (deb and snap installs) (:mod:`agent.localtls.nss`);
  with ``--system`` (as root) the system store instead (:mod:`agent.localtls.system`).
* Windows: the user's Root store (:mod:`agent.localtls.windows`).
* macOS: not automated yet.

The CA can only vouch for loopback names, so trusting it is safe; :func:`install` saves the
user (and the installers, which call ``kyso-agent trust``) the manual steps of
``docs/helpdesk.md``. Whether a store trusts the CA is asked with the same checks the helpdesk
report shows (:func:`trust_checks`). A certificate of anyone else is never touched.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from agent.localtls.ca import TlsFiles, load_ca, thumbprint
from agent.localtls.model import (
    Outcome,
    StoreResult,
    Trust,
    TrustCheck,
    TrustReason,
    TrustStore,
    all_ok,
    result_text,
)
from agent.localtls.nss import firefox_profiles, nss_trust, user_nss_databases
from agent.localtls.system import system_anchors, system_store_trust
from agent.localtls.tools import Runner, run_tool
from agent.localtls.windows import Crypt32RootStore, RootStoreApi, WindowsRoot, windows_trust

log = logging.getLogger(__name__)

TRUSTED_MARKER = "trusted"
"""Next to ``ca.pem``: the thumbprint of the CA :func:`trust_once` made the stores trust."""


def trust_checks(
    ca_der: bytes, home: Path | None = None, platform: str = sys.platform
) -> tuple[TrustCheck, ...]:
    """Ask each store of this OS whether it trusts the CA."""
    if platform == "win32":
        return (windows_trust(ca_der),)
    if platform == "darwin":
        return (TrustCheck(TrustStore.MACOS, "", Trust.UNKNOWN, TrustReason.NOT_CHECKED),)
    home = home or Path.home()
    checks = [system_store_trust(ca_der), nss_trust(ca_der, home / ".pki" / "nssdb")]
    checks += [nss_trust(ca_der, p, TrustStore.FIREFOX) for p in firefox_profiles(home)]
    return tuple(checks)


class TrustError(Exception):
    """The command cannot work at all (no CA file, no NSS certutil on Linux, unsupported OS)."""


@dataclass(frozen=True)
class TrustTools:
    """What the commands run; tests replace the runner, the store calls, the home, the platform."""

    home: Path
    """The user's home directory (NSS databases)."""
    platform: str = sys.platform
    """``sys.platform`` of the target."""
    run: Runner = run_tool
    """Runs a command line."""
    certutil: str | None = None
    """NSS certutil (Linux); ``None`` = found on PATH."""
    windows: RootStoreApi = field(default_factory=Crypt32RootStore)
    """Windows' Root store calls (crypt32)."""

    def tool(self) -> str:
        """The NSS certutil to run, or :class:`TrustError` when there is none."""
        found = self.certutil or shutil.which("certutil")
        if found is None:
            raise TrustError("certutil was not found (install libnss3-tools / nss-tools)")
        return found


def _ca(ca_file: Path) -> bytes:
    try:
        return load_ca(ca_file)
    except (OSError, ValueError) as exc:
        raise TrustError(
            f"{ca_file}: no local CA yet (start Kyso Agent once to create it): {exc}"
        ) from exc


def install(ca_file: Path, tools: TrustTools, *, system: bool = False) -> list[StoreResult]:
    """Make every store of this user (or, with ``system``, the system store) trust the CA."""
    ca_der = _ca(ca_file)
    if tools.platform == "win32":
        return [WindowsRoot(tools.windows).install(ca_file, ca_der)]
    if tools.platform == "darwin":
        raise TrustError("trusting the CA on macOS is not automated yet (see docs/helpdesk.md)")
    if system:
        return [_system_install(ca_file, ca_der, tools)]
    databases = user_nss_databases(tools.home, tools.tool(), tools.run)
    return [db.install(ca_file, ca_der, create=db.store is TrustStore.NSS) for db in databases]


def _system_install(ca_file: Path, ca_der: bytes, tools: TrustTools) -> StoreResult:
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return StoreResult(TrustStore.SYSTEM, "", Outcome.FAILED, "--system needs root (sudo)")
    anchors = system_anchors(ca_file, tools.run)
    if anchors is None:
        return StoreResult(TrustStore.SYSTEM, "", Outcome.STORE_NOT_FOUND)
    return anchors.install(ca_file, ca_der)


def uninstall(ca_file: Path, tools: TrustTools, *, system: bool = False) -> list[StoreResult]:
    """Take out of this user's stores (or the system store) what :func:`install` put there.

    Works without ``ca.pem`` too (older Kyso CAs are found by their names).
    """
    try:
        ca_der: bytes | None = load_ca(ca_file)
    except (OSError, ValueError):
        ca_der = None
    if tools.platform == "win32":
        return [WindowsRoot(tools.windows).uninstall(ca_der)]
    if tools.platform == "darwin":
        raise TrustError("trusting the CA on macOS is not automated yet (see docs/helpdesk.md)")
    if system:
        if hasattr(os, "geteuid") and os.geteuid() != 0:
            return [StoreResult(TrustStore.SYSTEM, "", Outcome.FAILED, "--system needs root")]
        anchors = system_anchors(ca_file, tools.run)
        if anchors is None:
            return [StoreResult(TrustStore.SYSTEM, "", Outcome.STORE_NOT_FOUND)]
        return [anchors.uninstall()]
    return [db.uninstall() for db in user_nss_databases(tools.home, tools.tool(), tools.run)]


def trust_once(files: TlsFiles, home: Path | None = None) -> bool:
    """Have this user's stores trust the local CA, once per CA; True when they all do.

    A marker next to ``ca.pem`` remembers the CA already trusted, so every start costs one
    file read; a failure is logged and tried again at the next start.
    """
    ca_file = files.ca_cert
    marker = files.directory / TRUSTED_MARKER
    try:
        current = thumbprint(load_ca(ca_file))
        if marker.exists() and marker.read_text().strip() == current:
            return True
        results = install(ca_file, TrustTools(home=home or Path.home()))
    except (TrustError, OSError, ValueError) as exc:
        log.warning("could not make this computer trust the local CA: %s", exc)
        return False
    for result in results:
        log.info("trusting the local CA: %s", result_text(result, "en"))
    if all_ok(results):
        marker.write_text(current + "\n")
        return True
    return False
