"""The user's Root store on Windows: does it hold the local CA, and putting it in or taking it
out, with Windows' ``certutil -user`` (Windows asks the user to confirm an addition).

Firefox on Windows trusts that store when IT sets its ``ImportEnterpriseRoots`` policy
(``docs/it-policy.md``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from agent.localtls.ca import CA_NAME_PREFIX, ORGANIZATION, thumbprint
from agent.localtls.model import Outcome, StoreResult, Trust, TrustCheck, TrustReason, TrustStore
from agent.localtls.tools import Runner, last_line, run_tool

WINDOWS_LOCATION: Final = "CurrentUser\\Root"
#: Windows' "object not found" codes (CRYPT_E_NOT_FOUND, NTE_NOT_FOUND): the same in every
#: display language, unlike certutil's messages.
_WINDOWS_NOT_FOUND: Final = ("0x80092004", "0x80090011")
#: ERROR_CANCELLED: the user said no to Windows' "install this certificate?" question.
_WINDOWS_CANCELLED: Final = "0x800704c7"
_HASH_LINE = re.compile(r"\(sha1\)\s*:\s*(?P<hash>(?:[0-9a-fA-F]{2} ?){20})")
_BLOCK_SPLIT = re.compile(r"^=+ .* =+\s*$", re.MULTILINE)


def parse_windows_verifystore(returncode: int, output: str) -> tuple[Trust, TrustReason]:
    """Read ``certutil -user -verifystore Root THUMBPRINT``: found, not found, or failed."""
    if returncode == 0:
        return Trust.TRUSTED, TrustReason.FOUND
    if any(code in output.lower() for code in _WINDOWS_NOT_FOUND):
        return Trust.NOT_TRUSTED, TrustReason.NOT_FOUND
    return Trust.UNKNOWN, TrustReason.TOOL_FAILED


def windows_trust(ca_der: bytes, run: Runner = run_tool) -> TrustCheck:
    """Whether the user's Root store (which includes the machine's) holds the CA."""
    location = WINDOWS_LOCATION
    tool = shutil.which("certutil")
    if tool is None:
        return TrustCheck(TrustStore.WINDOWS, location, Trust.UNKNOWN, TrustReason.NO_TOOL)
    try:
        done = run([tool, "-user", "-verifystore", "Root", thumbprint(ca_der)])
    except (OSError, subprocess.SubprocessError):
        return TrustCheck(TrustStore.WINDOWS, location, Trust.UNKNOWN, TrustReason.TOOL_FAILED)
    trust, reason = parse_windows_verifystore(done.returncode, done.stdout + done.stderr)
    return TrustCheck(TrustStore.WINDOWS, location, trust, reason)


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
    common_name = re.compile(rf"\bCN={re.escape(CA_NAME_PREFIX)}\b")
    organization = re.compile(rf"\bO={re.escape(ORGANIZATION)}(?:,|$)", re.MULTILINE)
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
        return None if done.returncode == 0 else last_line(done)

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
                return self.result(Outcome.FAILED, last_line(done))
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
