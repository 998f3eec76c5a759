"""``kyso-agent trust``: add the local CA to the user's certificate stores, or take it out.

The CA (``DATA_DIR/tls/ca.pem``, see :mod:`agent.server.tls`) can only vouch for loopback
names, so trusting it is safe; these commands save the user (and the installers, which
call them) the manual steps of ``docs/helpdesk.md``.

Stores, per OS:

* Linux: the user's NSS database ``~/.pki/nssdb`` (Chrome, Chromium; created if missing)
  and every Firefox profile's database (deb and snap installs), with NSS ``certutil``
  under the nickname :data:`NICKNAME`; with ``--system`` (as root) the system store
  (``/usr/local/share/ca-certificates`` + ``update-ca-certificates``, or
  ``/etc/pki/ca-trust/source/anchors`` + ``update-ca-trust``) instead.
* Windows: the user's Root store, with ``certutil -user`` (Windows asks the user to
  confirm). Firefox on Windows trusts that store when IT sets its ``ImportEnterpriseRoots``
  policy (``docs/it-policy.md``).

What counts as ours: the current CA, and any older Kyso Agent local CA (subject
``O=Kyso Agent``, ``CN=Kyso Agent local CA …``, name-constrained to loopback) — the agent
makes a new CA at every renewal, and install replaces the old one. A certificate of
anyone else is never touched, even under our nickname. Whether a store trusts the CA is
asked with the same checks as ``kyso-agent status`` (:mod:`agent.status`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from agent.messages import DEFAULT_LANG, Lang, text
from agent.status import (
    Runner,
    Trust,
    TrustStore,
    firefox_profiles,
    nss_trust,
    parse_windows_verifystore,
)
from agent.status import _der_certificates as der_certificates
from agent.status import _run as run_tool

NICKNAME: Final = "Kyso Agent local CA"
"""The NSS nickname install gives the CA; uninstall removes certificates of ours by it."""
_ORGANIZATION: Final = "Kyso Agent"
_CN_PREFIX: Final = "Kyso Agent local CA"
#: At most this many certificates of ours under the nickname are deleted (a loop guard).
_MAX_DELETES: Final = 16
#: Debian/Ubuntu, then Fedora/RHEL: where local anchors go, and the tool that rebuilds the bundle.
SYSTEM_ANCHORS: Final = (
    (Path("/usr/local/share/ca-certificates"), "update-ca-certificates"),
    (Path("/etc/pki/ca-trust/source/anchors"), "update-ca-trust"),
)
#: ERROR_CANCELLED: the user said no to Windows' "install this certificate?" question.
_WINDOWS_CANCELLED: Final = "0x800704c7"


class Outcome(StrEnum):
    """What one store ended with."""

    ADDED = "added"
    ALREADY_PRESENT = "already-present"
    REPLACED = "replaced"
    """An older Kyso Agent local CA was taken out and the current one added."""
    REMOVED = "removed"
    NOT_PRESENT = "not-present"
    """Uninstall: nothing of ours was there."""
    STORE_NOT_FOUND = "store-not-found"
    FAILED = "failed"

    @property
    def ok(self) -> bool:
        """Whether the store is in the wanted state (or does not exist)."""
        return self is not Outcome.FAILED

    @property
    def changed(self) -> bool:
        """Whether the store was changed (browsers must then be restarted)."""
        return self in (Outcome.ADDED, Outcome.REPLACED, Outcome.REMOVED)


@dataclass(frozen=True)
class StoreResult:
    """The result of install or uninstall for one store."""

    store: TrustStore
    """Which kind of store."""
    location: str
    """The database directory, bundle file or Windows store."""
    outcome: Outcome
    """What happened."""
    detail: str = ""
    """Why it failed, or what was replaced (technical, English)."""

    def to_json(self) -> dict[str, str]:
        """The JSON form printed by ``kyso-agent trust … --json``."""
        return {
            "store": self.store.value,
            "location": self.location,
            "outcome": self.outcome.value,
            "detail": self.detail,
        }


def all_ok(results: Sequence[StoreResult]) -> bool:
    """Exit code 0 of install/uninstall: every store that exists ended in the wanted state."""
    return all(r.outcome.ok for r in results)


def result_text(result: StoreResult, lang: Lang | str = DEFAULT_LANG) -> str:
    """One line per store, in the user's language."""
    store = text(f"status_store_{result.store.value}", lang, location=result.location)
    outcome = text(f"trust_outcome_{result.outcome.value.replace('-', '_')}", lang)
    line = text("trust_result_line", lang, store=store, outcome=outcome)
    return f"{line} ({result.detail})" if result.detail else line


# --- which certificates are ours ----------------------------------------------------------------


def load_ca(ca_file: Path) -> bytes:
    """DER of the CA certificate in ``ca_file`` (``OSError``/``ValueError`` when unusable)."""
    return x509.load_pem_x509_certificate(ca_file.read_bytes()).public_bytes(
        serialization.Encoding.DER
    )


def is_kyso_ca(der: bytes) -> bool:
    """Whether ``der`` is a Kyso Agent local CA (this one or an older one)."""
    try:
        cert = x509.load_der_x509_certificate(der)
        constraints = cert.extensions.get_extension_for_class(x509.NameConstraints).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    organization = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    permitted = constraints.permitted_subtrees or []
    loopback_only = bool(permitted) and all(
        (isinstance(n, x509.DNSName) and n.value == "localhost")
        or (
            isinstance(n, x509.IPAddress)
            and isinstance(n.value, ipaddress.IPv4Network | ipaddress.IPv6Network)
            and n.value.is_loopback
        )
        for n in permitted
    )
    return (
        organization == [_ORGANIZATION]
        and len(names) == 1
        and str(names[0]).startswith(_CN_PREFIX)
        and loopback_only
    )


def _last_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    return lines[-1] if lines else f"exit code {done.returncode}"


# --- NSS (Chrome/Chromium, Firefox) -------------------------------------------------------------


@dataclass(frozen=True)
class NssDatabase:
    """One NSS certificate database, driven with ``certutil`` (package libnss3-tools)."""

    directory: Path
    """The directory holding ``cert9.db``."""
    store: TrustStore
    """NSS (Chrome/Chromium) or FIREFOX."""
    certutil: str
    """The NSS ``certutil`` program."""
    run: Runner = run_tool
    """Runs a command line (replaced in tests)."""

    @property
    def where(self) -> str:
        """The ``-d`` argument."""
        return f"sql:{self.directory}"

    def exists(self) -> bool:
        """Whether the database is there."""
        return (self.directory / "cert9.db").exists()

    def result(self, outcome: Outcome, detail: str = "") -> StoreResult:
        """A result for this database."""
        return StoreResult(self.store, str(self.directory), outcome, detail)

    def create(self) -> str | None:
        """Make an empty database (no password, as Chrome does); the error, if any."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            done = self.run([self.certutil, "-N", "-d", self.where, "--empty-password"])
        except (OSError, subprocess.SubprocessError) as exc:
            return str(exc)
        return None if done.returncode == 0 else _last_line(done)

    def named(self) -> list[bytes]:
        """DER of every certificate under :data:`NICKNAME` (none: ``[]``)."""
        done = self.run([self.certutil, "-L", "-d", self.where, "-n", NICKNAME, "-a"])
        return der_certificates(done.stdout) if done.returncode == 0 else []

    def trusts(self, ca_der: bytes) -> bool:
        """Whether the database has the CA with website trust (as ``kyso-agent status`` says)."""
        check = nss_trust(ca_der, self.directory, self.store, self.run, self.certutil)
        return check.trust is Trust.TRUSTED

    def delete_ours(self) -> tuple[int, str | None]:
        """Delete our certificates under the nickname: how many, and the error, if any."""
        deleted = 0
        while deleted < _MAX_DELETES:
            named = self.named()
            if not named:
                return deleted, None
            if not all(is_kyso_ca(der) for der in named):
                return deleted, f"another certificate is named {NICKNAME!r}; left alone"
            done = self.run([self.certutil, "-D", "-d", self.where, "-n", NICKNAME])
            if done.returncode != 0:
                return deleted, _last_line(done)
            deleted += 1
        return deleted, "certificates under our nickname keep coming back"

    def install(self, ca_file: Path, ca_der: bytes, *, create: bool = False) -> StoreResult:
        """Add the CA trusted for websites (``C,,``), replacing an older Kyso CA."""
        try:
            if not self.exists():
                if not create:
                    return self.result(Outcome.STORE_NOT_FOUND)
                error = self.create()
                if error:
                    return self.result(Outcome.FAILED, f"cannot create the database: {error}")
            if self.trusts(ca_der):
                return self.result(Outcome.ALREADY_PRESENT)
            named = self.named()
            if any(not is_kyso_ca(der) for der in named):
                return self.result(
                    Outcome.FAILED, f"another certificate is named {NICKNAME!r}; left alone"
                )
            replaced = [der for der in named if der != ca_der]
            if named:
                # Ours but old, or ours without website trust: start from a clean slate.
                _count, error = self.delete_ours()
                if error:
                    return self.result(Outcome.FAILED, error)
            add = [self.certutil, "-A", "-d", self.where, "-n", NICKNAME, "-t", "C,,"]
            done = self.run([*add, "-i", str(ca_file)])
        except (OSError, subprocess.SubprocessError) as exc:
            return self.result(Outcome.FAILED, str(exc))
        if done.returncode != 0:
            return self.result(Outcome.FAILED, _last_line(done))
        if replaced:
            return self.result(Outcome.REPLACED, f"{len(replaced)} older Kyso Agent CA")
        return self.result(Outcome.ADDED)

    def uninstall(self) -> StoreResult:
        """Remove every Kyso Agent CA under our nickname; anything else stays."""
        if not self.exists():
            return self.result(Outcome.STORE_NOT_FOUND)
        try:
            deleted, error = self.delete_ours()
        except (OSError, subprocess.SubprocessError) as exc:
            return self.result(Outcome.FAILED, str(exc))
        if error and not deleted and error.startswith("another certificate"):
            return self.result(Outcome.NOT_PRESENT, error)
        if error:
            return self.result(Outcome.FAILED, error)
        return self.result(Outcome.REMOVED if deleted else Outcome.NOT_PRESENT)


def user_nss_databases(home: Path, certutil: str, run: Runner = run_tool) -> list[NssDatabase]:
    """Chrome/Chromium's database, then each Firefox profile's (deb and snap)."""
    chrome = NssDatabase(home / ".pki" / "nssdb", TrustStore.NSS, certutil, run)
    firefox = [NssDatabase(p, TrustStore.FIREFOX, certutil, run) for p in firefox_profiles(home)]
    return [chrome, *firefox]


# --- the Linux system store ---------------------------------------------------------------------


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
            return self.result(Outcome.FAILED, f"{self.update_tool}: {_last_line(done)}")
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


# --- Windows ------------------------------------------------------------------------------------

WINDOWS_LOCATION: Final = "CurrentUser\\Root"
_HASH_LINE = re.compile(r"\(sha1\)\s*:\s*(?P<hash>(?:[0-9a-fA-F]{2} ?){20})")
_BLOCK_SPLIT = re.compile(r"^=+ .* =+\s*$", re.MULTILINE)


def thumbprint(der: bytes) -> str:
    """Windows' name for a certificate: SHA-1 of its DER, lower-case hex."""
    return hashlib.sha1(der).hexdigest()  # noqa: S324 - Windows names certificates by SHA-1


def parse_windows_store(output: str) -> list[tuple[str, str]]:
    """``(thumbprint, block text)`` of each certificate ``certutil -store`` printed.

    Only the hash value and the distinguished names are read: they are the same in every
    display language, unlike the labels around them.
    """
    found = []
    for block in _BLOCK_SPLIT.split(output):
        match = _HASH_LINE.search(block)
        if match:
            found.append((match["hash"].replace(" ", "").lower(), block))
    return found


def old_kyso_thumbprints(output: str, current: str) -> list[str]:
    """Thumbprints of older Kyso Agent local CAs in a ``certutil -user -store Root`` listing."""
    common_name = re.compile(rf"\bCN={re.escape(_CN_PREFIX)}\b")
    organization = re.compile(rf"\bO={re.escape(_ORGANIZATION)}(?:,|$)", re.MULTILINE)
    return [
        thumb
        for thumb, block in parse_windows_store(output)
        if thumb != current and common_name.search(block) and organization.search(block)
    ]


@dataclass(frozen=True)
class WindowsRoot:
    """The user's Root store, driven with Windows' ``certutil -user``."""

    certutil: str = "certutil"
    """Windows' certutil.exe."""
    run: Runner = run_tool
    """Runs a command line (replaced in tests)."""

    def result(self, outcome: Outcome, detail: str = "") -> StoreResult:
        """A result for the Root store."""
        return StoreResult(TrustStore.WINDOWS, WINDOWS_LOCATION, outcome, detail)

    def has(self, thumb: str) -> Trust:
        """Whether the store holds the certificate with this thumbprint."""
        done = self.run([self.certutil, "-user", "-verifystore", "Root", thumb])
        return parse_windows_verifystore(done.returncode, done.stdout + done.stderr)[0]

    def old_ones(self, current: str) -> list[str]:
        """Thumbprints of older Kyso CAs in the store."""
        done = self.run([self.certutil, "-user", "-store", "Root"])
        return old_kyso_thumbprints(done.stdout, current) if done.returncode == 0 else []

    def delete(self, thumb: str) -> str | None:
        """Remove one certificate; the error, if any."""
        done = self.run([self.certutil, "-user", "-delstore", "Root", thumb])
        return None if done.returncode == 0 else _last_line(done)

    def install(self, ca_file: Path, ca_der: bytes) -> StoreResult:
        """Add the CA (Windows asks the user to confirm), removing older Kyso CAs."""
        current = thumbprint(ca_der)
        try:
            state = self.has(current)
            if state is Trust.TRUSTED:
                return self.result(Outcome.ALREADY_PRESENT)
            done = self.run([self.certutil, "-user", "-addstore", "Root", str(ca_file)])
            if done.returncode != 0:
                output = (done.stdout + done.stderr).lower()
                if _WINDOWS_CANCELLED in output:
                    return self.result(Outcome.FAILED, "the user declined Windows' question")
                return self.result(Outcome.FAILED, _last_line(done))
            old = self.old_ones(current)
            errors = [e for e in (self.delete(t) for t in old) if e]
        except (OSError, subprocess.SubprocessError) as exc:
            return self.result(Outcome.FAILED, str(exc))
        if errors:
            return self.result(Outcome.ADDED, f"an older Kyso CA stayed: {errors[0]}")
        if old:
            return self.result(Outcome.REPLACED, f"{len(old)} older Kyso Agent CA")
        return self.result(Outcome.ADDED)

    def uninstall(self, ca_der: bytes | None) -> StoreResult:
        """Remove the current CA and any older Kyso CA from the user's Root store."""
        current = thumbprint(ca_der) if ca_der is not None else ""
        try:
            targets = [t for t in [current] if t and self.has(t) is Trust.TRUSTED]
            targets += self.old_ones(current)
            errors = [e for e in (self.delete(t) for t in targets) if e]
        except (OSError, subprocess.SubprocessError) as exc:
            return self.result(Outcome.FAILED, str(exc))
        if errors:
            return self.result(Outcome.FAILED, errors[0])
        return self.result(Outcome.REMOVED if targets else Outcome.NOT_PRESENT)


# --- the commands -------------------------------------------------------------------------------


class TrustError(Exception):
    """The command cannot work at all (no CA file, no certutil, unsupported OS)."""


@dataclass(frozen=True)
class TrustTools:
    """What the commands run; tests replace the runner, the home and the platform."""

    home: Path
    """The user's home directory (NSS databases)."""
    platform: str = sys.platform
    """``sys.platform`` of the target."""
    run: Runner = run_tool
    """Runs a command line."""
    certutil: str | None = None
    """The certutil program; ``None`` = found on PATH."""

    def tool(self) -> str:
        """The certutil to run, or :class:`TrustError` when there is none."""
        found = self.certutil or shutil.which("certutil")
        if found is None:
            hint = "" if self.platform == "win32" else " (install libnss3-tools / nss-tools)"
            raise TrustError(f"certutil was not found{hint}")
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
        return [WindowsRoot(tools.tool(), tools.run).install(ca_file, ca_der)]
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
        return [WindowsRoot(tools.tool(), tools.run).uninstall(ca_der)]
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
