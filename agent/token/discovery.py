"""Where PKCS#11 modules of the tokens used in Vietnam are installed.

The table lists glob patterns per operating system. Order matters only for
display. Each CA's installer drops its module in System32 on Windows; on Linux
the vendors' packages and Debian's OpenSC and SoftHSM use the paths below.
Add a line when a new CA's token appears; a wrong guess costs nothing, because
a module that is not there is not loaded and one that fails to load is reported.
"""

from __future__ import annotations

import glob
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Final


@dataclass(frozen=True)
class KnownModule:
    """One row of the discovery table."""

    vendor: str
    """Who ships it (CA or token maker)."""
    pattern: str
    """Glob pattern of the module file."""


def _system32() -> str:
    return os.path.join(os.environ.get("SYSTEMROOT", r"C:\Windows"), "System32")


_WINDOWS: Final = (
    ("Viettel-CA", "viettel-ca_v*.dll"),
    ("VNPT-CA", "vnptca_p11_v*.dll"),
    ("VNPT-CA", "vnpt-ca_*.dll"),
    ("FPT-CA", "fpt-ca_v*.dll"),
    # The name FPT's own SignPlugin loads (its pkcs11Lib list: fptca_v3.dll, fptca_v4.dll).
    ("FPT-CA", "fptca_v*.dll"),
    ("BKAV-CA", "BkavCA*.dll"),
    ("NewCA", "newca_v*.dll"),
    ("Vina-CA", "vina-ca_v*.dll"),
    ("MISA-CA", "misaca_csp11_v*.dll"),
    ("FastCA", "fca_v*.dll"),
    ("Ban Cơ yếu Chính phủ / ePass (Feitian)", "eps2003csp11*.dll"),
    ("SafeNet eToken", "eTPKCS11.dll"),
    ("Thales IDPrime", "IDPrimePKCS1164.dll"),
    ("Bit4id", "bit4xpki.dll"),
    ("OpenSC", "opensc-pkcs11.dll"),
)

_LINUX: Final = (
    ("Ban Cơ yếu Chính phủ / ePass (Feitian)", "/usr/lib/libeps2003csp11.so"),
    ("Ban Cơ yếu Chính phủ / ePass (Feitian)", "/usr/local/lib/libeps2003csp11.so"),
    ("Ban Cơ yếu Chính phủ / ePass (Feitian)", "/usr/lib/x86_64-linux-gnu/libeps2003csp11.so"),
    ("SafeNet eToken", "/usr/lib/libeTPkcs11.so"),
    ("Thales IDPrime", "/usr/lib/libIDPrimePKCS11.so"),
    ("Bit4id", "/usr/lib/bit4id/libbit4xpki.so"),
    ("OpenSC", "/usr/lib/*-linux-gnu/opensc-pkcs11.so"),
    ("OpenSC", "/usr/lib/opensc-pkcs11.so"),
    ("OpenSC", "/usr/lib64/opensc-pkcs11.so"),
    ("SoftHSM", "/usr/lib/softhsm/libsofthsm2.so"),
    ("SoftHSM", "/usr/lib/*-linux-gnu/softhsm/libsofthsm2.so"),
    ("SoftHSM", "/usr/lib64/pkcs11/libsofthsm2.so"),
)

_MACOS: Final = (
    ("Ban Cơ yếu Chính phủ / ePass (Feitian)", "/usr/local/lib/libeps2003csp11.dylib"),
    ("SafeNet eToken", "/usr/local/lib/libeTPkcs11.dylib"),
    ("OpenSC", "/Library/OpenSC/lib/opensc-pkcs11.so"),
    ("OpenSC", "/opt/homebrew/lib/opensc-pkcs11.so"),
    ("SoftHSM", "/opt/homebrew/lib/softhsm/libsofthsm2.so"),
    ("SoftHSM", "/usr/local/lib/softhsm/libsofthsm2.so"),
)


def known_modules(platform: str = sys.platform) -> tuple[KnownModule, ...]:
    """The discovery table for ``platform`` (a ``sys.platform`` value)."""
    if platform == "win32":
        return tuple(KnownModule(v, os.path.join(_system32(), p)) for v, p in _WINDOWS)
    if platform == "darwin":
        return tuple(KnownModule(v, p) for v, p in _MACOS)
    return tuple(KnownModule(v, p) for v, p in _LINUX)


def discover_modules(table: tuple[KnownModule, ...] | None = None) -> tuple[Path, ...]:
    """Module files of the table that exist here, without duplicates (symlinks resolved)."""
    found: list[Path] = []
    seen: set[Path] = set()
    for row in table if table is not None else known_modules():
        for match in sorted(glob.glob(row.pattern)):
            path = Path(match)
            real = path.resolve()
            if real in seen or not path.is_file():
                continue
            seen.add(real)
            found.append(path)
    return tuple(found)
