"""NSS databases (Chrome and Chromium's ``~/.pki/nssdb``, each Firefox profile's): does one
trust the local CA, and putting it in or taking it out, with NSS ``certutil``
(package libnss3-tools / nss-tools)."""

from __future__ import annotations

import glob
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from agent.localtls.ca import is_kyso_ca
from agent.localtls.model import Outcome, StoreResult, Trust, TrustCheck, TrustReason, TrustStore
from agent.localtls.tools import Runner, der_certificates, last_line, run_tool

NICKNAME: Final = "Kyso Agent local CA"
"""The NSS nickname install gives the CA; uninstall removes certificates of ours by it."""
#: At most this many certificates of ours under the nickname are deleted (a loop guard).
_MAX_DELETES: Final = 16
#: At most this many rows of a listing are looked at (one tool run each).
_MAX_ENTRIES: Final = 64
_CERTUTIL_ROW = re.compile(r"^(?P<nick>.*?\S)\s+(?P<trust>[A-Za-z]*,[A-Za-z]*,[A-Za-z]*)\s*$")


def parse_certutil_list(output: str) -> list[tuple[str, str]]:
    """``(nickname, SSL trust flags)`` of each row of ``certutil -L`` (NSS)."""
    rows = []
    for line in output.splitlines():
        match = _CERTUTIL_ROW.match(line)
        if match and not line.lstrip().startswith("Certificate Nickname"):
            rows.append((match["nick"], match["trust"].split(",")[0]))
    return rows


def nss_trust(
    ca_der: bytes,
    database: Path,
    store: TrustStore = TrustStore.NSS,
    run: Runner = run_tool,
    certutil: str | None = None,
) -> TrustCheck:
    """Whether the NSS database in ``database`` trusts the CA for websites (flag ``C``)."""

    def check(trust: Trust, reason: TrustReason) -> TrustCheck:
        return TrustCheck(store, str(database), trust, reason)

    tool = certutil or shutil.which("certutil")
    if tool is None:
        return check(Trust.UNKNOWN, TrustReason.NO_TOOL)
    if not (database / "cert9.db").exists():
        return check(Trust.UNKNOWN, TrustReason.NO_DATABASE)
    where = f"sql:{database}"
    try:
        listing = run([tool, "-L", "-d", where])
    except (OSError, subprocess.SubprocessError):
        return check(Trust.UNKNOWN, TrustReason.TOOL_FAILED)
    if listing.returncode != 0:
        return check(Trust.UNKNOWN, TrustReason.TOOL_FAILED)
    present_untrusted = False
    for nickname, ssl_flags in parse_certutil_list(listing.stdout)[:_MAX_ENTRIES]:
        try:
            shown = run([tool, "-L", "-d", where, "-n", nickname, "-a"])
        except (OSError, subprocess.SubprocessError):
            continue
        if ca_der in der_certificates(shown.stdout):
            if "C" in ssl_flags:
                return check(Trust.TRUSTED, TrustReason.FOUND)
            present_untrusted = True
    if present_untrusted:
        return check(Trust.NOT_TRUSTED, TrustReason.UNTRUSTED_ENTRY)
    return check(Trust.NOT_TRUSTED, TrustReason.NOT_FOUND)


def firefox_profiles(home: Path) -> list[Path]:
    """Firefox profile directories with a certificate database (deb and snap installs)."""
    patterns = (
        home / ".mozilla" / "firefox" / "*" / "cert9.db",
        home / "snap" / "firefox" / "common" / ".mozilla" / "firefox" / "*" / "cert9.db",
    )
    return [Path(p).parent for pattern in patterns for p in sorted(glob.glob(str(pattern)))]


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
        return None if done.returncode == 0 else last_line(done)

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
                return deleted, last_line(done)
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
            return self.result(Outcome.FAILED, last_line(done))
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
