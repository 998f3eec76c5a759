"""The PDF worker's placeholders for pyHanko's aiohttp clients (:mod:`agent.pdf.lean`).

Each case runs in a fresh interpreter, as the worker does: this one has long loaded aiohttp.
What the worker leaves unloaded while it signs is checked on a real worker in
tests/unit/test_pdf_process.py.
"""

from __future__ import annotations

from tests.unit.test_lazy_imports import printed

_LOAD_PYHANKO = """
import json, sys
from agent.pdf.lean import defer_aiohttp_clients
defer_aiohttp_clients()
import agent.pdf.signer, pyhanko.sign.validation.ades
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "aiohttp")))
"""

_CALL_DEFERRED = """
import json, sys
from agent.pdf.lean import defer_aiohttp_clients, is_placeholder
defer_aiohttp_clients()
import pyhanko.sign.timestamps
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.validation.ades import AIOHttpFetcherBackend
before = "aiohttp" in sys.modules
stamper = HTTPTimeStamper("http://127.0.0.1:9/tsa")
backend = AIOHttpFetcherBackend()
modules = (
    "pyhanko.sign.timestamps.aiohttp_client",
    "pyhanko_certvalidator.fetchers.aiohttp_fetchers",
)
print(json.dumps({
    "before": before,
    "after": "aiohttp" in sys.modules,
    "classes": [type(stamper).__module__, type(backend).__module__],
    "placeholders_left": [is_placeholder(sys.modules[name]) for name in modules],
    "url": stamper.url,
}))
"""


def test_loading_pyhanko_loads_no_aiohttp() -> None:
    assert printed(_LOAD_PYHANKO) == []


def test_a_deferred_name_loads_the_real_module_when_called() -> None:
    found = printed(_CALL_DEFERRED)
    assert found["before"] is False and found["after"] is True
    assert found["classes"] == [
        "pyhanko.sign.timestamps.aiohttp_client",
        "pyhanko_certvalidator.fetchers.aiohttp_fetchers",
    ]
    assert found["placeholders_left"] == [False, False]
    assert found["url"] == "http://127.0.0.1:9/tsa"
