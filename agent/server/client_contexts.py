"""aiohttp's default client TLS contexts, which hold no CA certificate in the agent.

``aiohttp.connector`` makes two default client contexts when it is imported (so that no event
loop waits for the disk), a verified one and an unverified one, and loads the system's CA
certificates into each: the bundle file on Linux (1.6 MB apiece), the ROOT and CA stores on
Windows. The agent's own clients never use them: VGCA's transfers
(:class:`~agent.compat.vgca.transfer.Transfers`) and the PDF check's revocation fetchers pass
contexts of their own. In the agent both defaults therefore trust no CA: the unverified one
(``ssl=False``, a fingerprint) never looks at one, and the verified one still checks the
certificate and the host name, so that a client that forgot its own context fails closed instead
of loading the bundle again.

:func:`import_aiohttp`, called by ``agent/server/__init__.py`` before anything of the server
imports aiohttp, has them made that way; memory the bundles took and gave back stays partly with
the process, so not loading them is worth more than freeing them (docs/performance.md, "Client
TLS contexts"). The same import has aiohttp's table of static files' content types made without
reading the system's MIME database (:func:`_no_mime_database`; "An idle ``serve`` within 45 MB").
"""

from __future__ import annotations

import importlib
import logging
import mimetypes
import ssl
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

log = logging.getLogger(__name__)

CONNECTOR: Final = "aiohttp.connector"
"""The module that makes the defaults when it is imported."""
CLIENT_DEFAULTS: Final = ("_SSL_CONTEXT_VERIFIED", "_SSL_CONTEXT_UNVERIFIED")
"""aiohttp's default client TLS contexts (``aiohttp.connector``), verified and unverified."""
_CA_LOADERS: Final = ("load_default_certs", "set_default_verify_paths")
"""The ``ssl.SSLContext`` methods through which a new context loads the system's CAs:
``create_default_context`` calls the first (the stores on Windows, then the second), aiohttp's
unverified context the second."""


def import_aiohttp() -> bool:
    """Import aiohttp with its default client contexts holding no CA; ``True`` if they were
    made that way, ``False`` if aiohttp had been imported before (they are then replaced by
    :func:`empty_client_defaults`, and the memory of the old ones goes back with the app's
    start-up release)."""
    if CONNECTOR in sys.modules:
        empty_client_defaults()
        return False
    with _no_ca_loading(), _no_mime_database():
        importlib.import_module(CONNECTOR)
        importlib.import_module(FILE_RESPONSE)
    return True


FILE_RESPONSE: Final = "aiohttp.web_fileresponse"
"""The module that makes a ``mimetypes.MimeTypes`` when it is imported, for the content types of
static files, which the agent never serves."""


@contextmanager
def _no_mime_database() -> Iterator[None]:
    """Within the block, a new ``mimetypes.MimeTypes`` knows the types Python itself lists and
    reads no database of the system's (``/etc/mime.types`` and others on Linux, the registry's
    classes on Windows: 0.3-0.4 MB that stayed with an idle agent). ``mimetypes``' own functions
    still read it at their first use, after the block."""
    was = mimetypes.inited
    mimetypes.inited = True
    try:
        yield
    finally:
        mimetypes.inited = was


@contextmanager
def _no_ca_loading() -> Iterator[None]:
    """Within the block, a new ``ssl.SSLContext`` loads no CA from the system.

    The methods are replaced on the class, for the whole process, and put back at the end:
    meant for an import that runs before the agent has any other thread (one that made a
    context meanwhile would get one trusting nobody, which fails closed)."""
    cls = ssl.SSLContext
    own: dict[str, Any] = {name: vars(cls).get(name) for name in _CA_LOADERS}
    skip: Callable[..., None] = _load_nothing
    try:
        for name in _CA_LOADERS:
            setattr(cls, name, skip)
        yield
    finally:
        for name, method in own.items():
            if method is None:  # inherited from _ssl._SSLContext: uncover it
                delattr(cls, name)
            else:
                setattr(cls, name, method)


def _load_nothing(_context: ssl.SSLContext, *_args: object, **_kwargs: object) -> None:
    """Stands for a CA loader while aiohttp is imported."""


def empty_client_defaults() -> bool:
    """Replace aiohttp's default client contexts by ones that hold no CA certificate;
    ``False`` (and nothing changed) when this aiohttp has no such defaults."""
    connector = sys.modules[CONNECTOR]
    verified, unverified = (getattr(connector, name, None) for name in CLIENT_DEFAULTS)
    if not (isinstance(verified, ssl.SSLContext) and isinstance(unverified, ssl.SSLContext)):
        log.debug("aiohttp has no default client contexts %s: left as they are", CLIENT_DEFAULTS)
        return False
    # The old contexts go with this frame: nothing else refers to them.
    setattr(connector, CLIENT_DEFAULTS[0], _client_context(verified, verify=True))
    setattr(connector, CLIENT_DEFAULTS[1], _client_context(unverified, verify=False))
    return True


def _client_context(like: ssl.SSLContext, *, verify: bool) -> ssl.SSLContext:
    """A client context with the protocol settings of ``like`` and no CA loaded: checking the
    peer's certificate and host name (``verify``, trusting nobody), or neither."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, check_hostname
    context.options = like.options
    context.verify_flags = like.verify_flags
    context.minimum_version = like.minimum_version
    context.maximum_version = like.maximum_version
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(("http/1.1",))
    return context
