"""A started agent waits without what only requests need: the PDF stack (pyHanko, fontTools,
Pillow, PDFium), lxml, cryptography, asn1crypto and python-pkcs11 load with the first request
that uses them, which keeps the start short and the idle agent small (docs/performance.md).
Each check runs in a fresh interpreter: this one has imported all of them."""

from __future__ import annotations

import json
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

from agent.localtls import ca as tls

PDF_STACK = ("pyhanko", "pyhanko_certvalidator", "fontTools", "PIL", "pypdfium2")
REQUESTS_ONLY = (*PDF_STACK, "lxml", "cryptography", "asn1crypto", "pkcs11")

# `kyso-agent serve`'s start-up in a fresh interpreter: the command line, then agent.app.serve
# with every layer on a port of its own (port 0), stopped as soon as it listens.
_SERVE = """
import asyncio, json, sys
from pathlib import Path
from agent.app import serve
from agent.cli import build_parser
from agent.config import load_config
from agent.testing.prompter import ScriptedPrompter

data = Path(sys.argv[1])
ports = {f"{name}port": 0 for name in ("", "vgca_", "vnpt_", "bkav_", "fpt_")}
config = load_config(
    {"data_dir": str(data), "pkcs11_modules": [str(data / "no-such-module.so")], **ports},
    policy={},
    user_config_file=data / "none.toml",
)
build_parser()


async def main() -> None:
    stop = asyncio.Event()
    await serve(config, prompter=ScriptedPrompter(), on_ready=lambda _server: stop.set(), stop=stop)


asyncio.run(main())
named = set(sys.argv[2:])
print(json.dumps(sorted(m for m in sys.modules if m in named or m.split(".")[0] in named)))
"""


def printed(code: str, *args: str) -> Any:
    """The JSON value that ``code``, run in a fresh interpreter, printed last."""
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def loaded(code: str, *args: str) -> list[str]:
    """The modules named by ``args`` (top-level names) that ``code`` left loaded."""
    found: list[str] = printed(code, *args)
    return found


def test_a_started_agent_has_loaded_nothing_only_requests_need(tmp_path: Path) -> None:
    # Its local CA made beforehand, as on every start but the first (making one needs
    # cryptography).
    tls.ensure(tmp_path / "tls")
    assert loaded(_SERVE, str(tmp_path), *REQUESTS_ONLY) == []


# aiohttp's default client TLS contexts after the start: CA certificates, verification, host
# check (tests/unit/test_client_contexts.py tests them in this process).
_CLIENT_DEFAULTS = """
from aiohttp import connector
defaults = (connector._SSL_CONTEXT_VERIFIED, connector._SSL_CONTEXT_UNVERIFIED)
seen = [[c.cert_store_stats()["x509_ca"], c.verify_mode, c.check_hostname] for c in defaults]
print(json.dumps(seen))
"""


def test_a_started_agent_holds_no_ca_bundle_in_aiohttps_client_defaults(tmp_path: Path) -> None:
    tls.ensure(tmp_path / "tls")
    assert printed(_SERVE + _CLIENT_DEFAULTS, str(tmp_path)) == [
        [0, ssl.CERT_REQUIRED, True],  # verifies, trusting no CA: a client must bring its own
        [0, ssl.CERT_NONE, False],
    ]


def test_the_checks_see_what_a_start_loads(tmp_path: Path) -> None:
    # The same start with no local CA yet makes one: cryptography is then loaded, and seen.
    assert "cryptography" in loaded(_SERVE, str(tmp_path), *REQUESTS_ONLY)


def test_a_started_agent_reads_its_version_without_importlib_metadata(tmp_path: Path) -> None:
    # The version is a literal in agent/__init__.py: reading the installed metadata instead
    # loaded importlib.metadata, email and zipfile (0.9 MB of the idle agent).
    tls.ensure(tmp_path / "tls")
    assert loaded(_SERVE, str(tmp_path), "importlib.metadata", "zipfile", "csv") == []


def test_a_started_agent_holds_no_vgca_wire_format_until_a_portal_calls(tmp_path: Path) -> None:
    # VGCA's layer listens, but its wire format and transfers load with its first message.
    tls.ensure(tmp_path / "tls")
    vgca = (
        "agent.compat.vgca.protocol",
        "agent.compat.vgca.transfer",
        "agent.compat.vgca.endpoints",
    )
    assert loaded(_SERVE, str(tmp_path), *vgca) == []
