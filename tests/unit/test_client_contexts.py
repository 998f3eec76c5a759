"""aiohttp's default client TLS contexts hold no CA certificate in the agent
(``agent/server/client_contexts.py``, docs/performance.md "Client TLS contexts"): aiohttp is
imported with the system's CAs left unloaded, or its defaults are replaced if something imported
it first. The unverified one never needed any, the verified one trusts none, so that a client
without a context of its own fails closed; VGCA's transfers bring their own, which trusts the
system's CAs.

These tests fail when an aiohttp upgrade renames or stops using the defaults, or loads the CAs
some other way: the agent then starts all the same, but idles with both CA bundles again."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import connector

from agent.compat.vgca.protocol import Delivery
from agent.compat.vgca.settings import TransferLimits
from agent.compat.vgca.transfer import DownloadFailed, Transfers
from agent.localtls import ca as tls
from agent.origin import Admitted, OriginPolicy, parse_origin
from agent.server.client_contexts import CLIENT_DEFAULTS, empty_client_defaults, import_aiohttp
from tests.unit.test_lazy_imports import printed
from tests.vgca_portal import Site

DEFAULTS = CLIENT_DEFAULTS
DOCUMENT = b"%PDF-1.7 a portal's document"


def cas(context: ssl.SSLContext) -> int:
    """How many CA certificates ``context`` has loaded."""
    return context.cert_store_stats()["x509_ca"]


@pytest.fixture
def aiohttps() -> dict[str, ssl.SSLContext]:
    """aiohttp's defaults as this process has them (put back after the test)."""
    return {name: getattr(connector, name) for name in DEFAULTS}


@pytest.fixture
def emptied(
    aiohttps: dict[str, ssl.SSLContext], monkeypatch: pytest.MonkeyPatch
) -> dict[str, ssl.SSLContext]:
    """The defaults after the agent's call; aiohttp's own come back after the test."""
    for name, context in aiohttps.items():
        monkeypatch.setattr(connector, name, context)
    # This process imported aiohttp before agent.server (the tests' imports): replaced.
    assert not import_aiohttp()
    return {name: getattr(connector, name) for name in DEFAULTS}


def test_aiohttp_still_has_the_defaults_the_agent_replaces() -> None:
    # If this fails after an upgrade, the agent's call finds nothing to replace (and says so
    # at debug level only): find where this aiohttp makes its default client contexts.
    picks = getattr(connector.TCPConnector, "_get_ssl_context")  # noqa: B009 - a private
    for name in DEFAULTS:
        assert isinstance(getattr(connector, name, None), ssl.SSLContext), name
        assert name in picks.__code__.co_names, f"TCPConnector no longer uses {name}"


# A fresh interpreter counts every load of the system's CAs into a TLS context, then imports
# what argv[1] names and prints the loads seen during that import, whether a context made after
# it loads them again, and what aiohttp's defaults hold.
_COUNTED = (
    f"DEFAULTS = {CLIENT_DEFAULTS!r}\n"
    + """
import importlib, json, ssl, sys
loads = []
for name in ("load_default_certs", "set_default_verify_paths"):
    def counted(self, *args, _name=name, _own=getattr(ssl.SSLContext, name), **kwargs):
        loads.append(_name)
        return _own(self, *args, **kwargs)
    setattr(ssl.SSLContext, name, counted)
for module in sys.argv[1:]:
    importlib.import_module(module)
during = list(loads)
ssl.create_default_context()
connector = sys.modules["aiohttp.connector"]
held = [getattr(connector, n).cert_store_stats()["x509"] for n in DEFAULTS]
print(json.dumps([during, loads[len(during):], held]))
"""
)


def counted(*modules: str) -> tuple[list[str], list[str], list[int]]:
    during, after, held = printed(_COUNTED, *modules)
    return during, after, held


@pytest.mark.parametrize("first", ["agent.cli", "agent.app", "agent.compat.vgca.server"])
def test_the_agent_imports_aiohttp_without_loading_the_systems_cas(first: str) -> None:
    # Whichever way a process comes to the agent (the command line; the composition root, as
    # the bench's host does; a layer, whose own aiohttp import sorts before the agent's), the
    # server's package imports aiohttp first.
    during, after, held = counted(first)
    assert during == []
    assert held == [0, 0]
    assert after == ["load_default_certs", "set_default_verify_paths"]  # put back as it was


# The same import with ssl as Python made it: the loaders come back as they were, one defined on
# ssl.SSLContext itself, the other inherited from _ssl._SSLContext.
_RESTORED = """
import json, ssl
own = dict(vars(ssl.SSLContext))
import agent.cli
now = vars(ssl.SSLContext)
print(json.dumps([
    now.get("load_default_certs") is own["load_default_certs"],
    "set_default_verify_paths" in now,
    ssl.create_default_context().cert_store_stats()["x509_ca"],
]))
"""


def test_the_ssl_module_is_left_as_it_was() -> None:
    same, shadowed, loaded = printed(_RESTORED)
    assert same and not shadowed
    if ssl.get_default_verify_paths().cafile:  # a system that has a CA bundle loads it again
        assert loaded > 0


def test_aiohttp_alone_loads_them_twice() -> None:
    # What the import above avoids (and what makes the first test able to fail).
    during, _after, held = counted("aiohttp")
    assert during.count("set_default_verify_paths") == 2
    assert all(count > 0 for count in held) or not ssl.get_default_verify_paths().cafile


# The MIME database: a system file of types that only it lists is read by mimetypes' own
# functions, after the agent's import, and not by the MimeTypes aiohttp made during it.
_MIME = """
import json, mimetypes, sys
mimetypes.knownfiles = [sys.argv[1]]
import agent.cli
from aiohttp import web_fileresponse
types = web_fileresponse.CONTENT_TYPES
print(json.dumps([
    mimetypes.inited,
    types.guess_type("x.kysotest")[0],
    types.guess_type("x.pdf")[0],
    mimetypes.guess_type("x.kysotest")[0],
]))
"""


def test_aiohttp_is_imported_without_reading_the_systems_mime_database(tmp_path: Path) -> None:
    listed = tmp_path / "mime.types"
    listed.write_text("application/x-kyso-test\tkysotest\n")
    inited, aiohttps, pdf, later = printed(_MIME, str(listed))
    assert not inited, "mimetypes is left to read the database at its own first use"
    assert aiohttps is None, "aiohttp's content types were read from the system's database"
    assert pdf == "application/pdf"  # the types Python lists itself
    assert later == "application/x-kyso-test"


def test_defaults_made_before_the_agents_import_are_replaced() -> None:
    during, _after, held = counted("aiohttp", "agent.server")
    assert during.count("set_default_verify_paths") == 2  # by aiohttp's own import
    assert held == [0, 0]


def test_the_unverified_default_loads_no_ca_and_keeps_aiohttps_settings(
    aiohttps: dict[str, ssl.SSLContext], emptied: dict[str, ssl.SSLContext]
) -> None:
    old, new = aiohttps["_SSL_CONTEXT_UNVERIFIED"], emptied["_SSL_CONTEXT_UNVERIFIED"]
    assert new is not old
    assert cas(new) == 0
    assert new.cert_store_stats()["x509"] == 0
    assert (new.verify_mode, new.check_hostname) == (ssl.CERT_NONE, False)
    assert same_settings(new, old)


def test_the_verified_default_verifies_and_trusts_no_ca(
    aiohttps: dict[str, ssl.SSLContext], emptied: dict[str, ssl.SSLContext]
) -> None:
    old, new = aiohttps["_SSL_CONTEXT_VERIFIED"], emptied["_SSL_CONTEXT_VERIFIED"]
    assert new is not old
    assert cas(new) == 0
    assert new.cert_store_stats()["x509"] == 0
    assert (new.verify_mode, new.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert (old.verify_mode, old.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert same_settings(new, old)


def same_settings(new: ssl.SSLContext, old: ssl.SSLContext) -> bool:
    """The protocol settings a handshake depends on, CA certificates apart."""
    return (
        new.options == old.options
        and new.verify_flags == old.verify_flags
        and (new.minimum_version, new.maximum_version) == (old.minimum_version, old.maximum_version)
        and [c["name"] for c in new.get_ciphers()] == [c["name"] for c in old.get_ciphers()]
    )


def test_without_the_defaults_the_agent_starts_all_the_same(
    aiohttps: dict[str, ssl.SSLContext], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delattr(connector, "_SSL_CONTEXT_VERIFIED")
    assert not empty_client_defaults()
    assert connector._SSL_CONTEXT_UNVERIFIED is aiohttps["_SSL_CONTEXT_UNVERIFIED"]  # noqa: SLF001


# --- a real HTTPS portal, its certificate from a CA of its own -----------------------------------


@pytest.fixture
def portal_ca(tmp_path: Path) -> tls.TlsFiles:
    """A CA and a certificate for 127.0.0.1 issued by it (the agent's own kind, made afresh)."""
    return tls.ensure(tmp_path / "portal-tls")


@pytest.fixture
def portal(portal_ca: tls.TlsFiles) -> Iterator[Site]:
    """A VGCA portal on ``https://127.0.0.1:PORT``."""
    site = Site(documents={"qd.pdf": DOCUMENT}, tls=tls.server_context(portal_ca)).start()
    yield site
    site.stop()


def transfers(data_dir: Path) -> Transfers:
    return Transfers(OriginPolicy(), TransferLimits(max_bytes=1024 * 1024), data_dir)


def page(site: Site) -> Admitted:
    return Admitted(parse_origin(site.origin), via_wildcard=False)


async def test_a_vgca_transfer_trusts_the_portals_ca_through_its_own_context(
    emptied: dict[str, ssl.SSLContext],
    portal: Site,
    portal_ca: tls.TlsFiles,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The system's CAs, as ssl.create_default_context reads them: here the portal's CA alone.
    monkeypatch.setenv("SSL_CERT_FILE", str(portal_ca.ca_cert))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    client = transfers(tmp_path)
    try:
        assert await client.download(portal.url("/docs/qd.pdf"), page(portal)) == DOCUMENT
        answer = await client.deliver(
            b"%PDF signed", "qd.pdf", Delivery(portal.url("/upload")), page(portal)
        )
    finally:
        await client.close()
    assert answer.file_server == "fs-01"
    assert portal.uploads[0]["uploadfile"] == b"%PDF signed"
    assert not list(client.pending_dir.iterdir())


async def test_a_vgca_transfer_refuses_a_portal_whose_ca_it_does_not_trust(
    emptied: dict[str, ssl.SSLContext],
    portal: Site,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = tls.ensure(tmp_path / "other-tls")
    monkeypatch.setenv("SSL_CERT_FILE", str(other.ca_cert))
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    client = transfers(tmp_path)
    try:
        with pytest.raises(DownloadFailed, match="ClientConnectorCertificateError"):
            await client.download(portal.url("/docs/qd.pdf"), page(portal))
    finally:
        await client.close()
    assert portal.hits == []


async def test_a_client_without_a_context_of_its_own_fails_closed(
    emptied: dict[str, ssl.SSLContext],
    portal: Site,
    portal_ca: tls.TlsFiles,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Even where the system's CAs would trust the portal, aiohttp's default trusts nobody.
    monkeypatch.setenv("SSL_CERT_FILE", str(portal_ca.ca_cert))
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await session.get(portal.url("/docs/qd.pdf"))
        assert portal.hits == []
        # The unverified default still connects (it never checked a certificate).
        async with session.get(portal.url("/docs/qd.pdf"), ssl=False) as response:
            assert await response.read() == DOCUMENT


async def test_the_pdf_checks_revocation_fetchers_bring_their_own_context(
    emptied: dict[str, ssl.SSLContext],
) -> None:
    # A PDF verification's OCSP and CRL fetches (agent/pdf/verify/check.py) go through
    # pyhanko-certvalidator's aiohttp session, which trusts certifi's bundle, not aiohttp's default.
    from pyhanko_certvalidator.fetchers.aiohttp_fetchers.util import LazySession

    lazy = LazySession()
    session = lazy.get_session()
    try:
        context = getattr(session.connector, "_ssl")  # noqa: B009 - a private
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert cas(context) > 0
    finally:
        await lazy.close()
