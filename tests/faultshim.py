"""A PKCS#11 module that crashes, hangs or reports errors on cue (``faultshim.c``).

SoftHSM2 never crashes, hangs or loses its token; vendor modules do. The shim
wraps SoftHSM and injects those faults where a :class:`FaultControl` file says.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

SOURCE: Final = Path(__file__).with_name("faultshim.c")
LIBRARY_NAME: Final = "libkysofault.so"
CFLAGS: Final = ("-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-I/usr/include/p11-kit-1")


def build_shim(directory: Path) -> Path:
    """Compile the shim into ``directory`` (skipped while the .so is newer than the .c)."""
    library = directory / LIBRARY_NAME
    if library.exists() and library.stat().st_mtime_ns > SOURCE.stat().st_mtime_ns:
        return library
    directory.mkdir(parents=True, exist_ok=True)
    # Built under a private name and renamed, so a process loading the library
    # never sees a half-written file.
    partial = directory / f".{LIBRARY_NAME}.{os.getpid()}"
    compiler = os.environ.get("CC", "cc")
    done = subprocess.run(
        [compiler, *CFLAGS, "-o", str(partial), str(SOURCE), "-ldl", "-pthread"],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{compiler} could not build {SOURCE.name}:\n{done.stderr}")
    partial.replace(library)
    return library


@dataclass(frozen=True)
class FaultControl:
    """The control file the shim reads on every call it wraps."""

    path: Path
    """Where the rules live (``KYSO_FAULT_CONTROL``)."""

    def set(self, *lines: str) -> None:
        """Replace the rules, e.g. ``set("C_Sign error 0x32 after 1")``.

        New content resets the shim's call counters; writing the same rules
        again does not.
        """
        # Renamed into place so the shim reads either the old rules or the new ones.
        partial = self.path.with_name(f".{self.path.name}.partial")
        partial.write_text("".join(f"{line}\n" for line in lines))
        partial.replace(self.path)

    def clear(self) -> None:
        """No more faults: every call passes through."""
        self.path.unlink(missing_ok=True)

    def env(self, target: Path) -> dict[str, str]:
        """Environment for a process that loads the shim in place of ``target``."""
        return {"KYSO_FAULT_TARGET": str(target), "KYSO_FAULT_CONTROL": str(self.path)}
