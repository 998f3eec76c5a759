"""What the PDF worker leaves unloaded: pyHanko's aiohttp clients.

Loading pyHanko's signer loads its aiohttp time-stamp client (``pyhanko.sign.timestamps``) and
pyhanko-certvalidator's aiohttp fetchers (``pyhanko.sign.validation.ades``), though the agent's
PDF work calls neither: time stamps go through requests (:mod:`agent.pdf.signer`), revocation
data through :mod:`agent.pdf.revocation`. aiohttp and what it brings are a seventh of the
worker: importing :mod:`agent.pdf.signer` takes the process from 66 to 77 MB with them.

:func:`defer_aiohttp_clients` puts placeholders for the two modules in ``sys.modules`` before
pyHanko loads. Each name a pyHanko module imports from them is a function that loads the real
module and calls the real name, so a path that does use one still works, at the cost of the
import then.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

#: The modules left unloaded, and the names pyHanko imports from each when it loads.
DEFERRED: Final[dict[str, tuple[str, ...]]] = {
    "pyhanko.sign.timestamps.aiohttp_client": ("HTTPTimeStamper",),
    "pyhanko_certvalidator.fetchers.aiohttp_fetchers": ("AIOHttpFetcherBackend",),
}


def defer_aiohttp_clients() -> None:
    """Put the placeholders in place (before anything imports pyHanko; a no-op after)."""
    for name, attributes in DEFERRED.items():
        if name in sys.modules:
            continue
        placeholder = types.ModuleType(name, f"Placeholder for {name} ({__name__}).")
        package = _package_directory(name)
        if package is not None:
            # Its submodules import as usual (aiohttp_client imports aiohttp_fetchers.util).
            placeholder.__path__ = [package]
        for attribute in attributes:
            setattr(placeholder, attribute, _loading(name, attribute))
        sys.modules[name] = placeholder


def is_placeholder(module: types.ModuleType) -> bool:
    """Whether ``module`` is one of :func:`defer_aiohttp_clients`'s placeholders."""
    return getattr(module, "__file__", None) is None and module.__name__ in DEFERRED


def _package_directory(name: str) -> str | None:
    """Where package ``name`` is, found without running any of it (its parents' ``__init__``
    load pyHanko's signer, which would import the real module); ``None`` for a module."""
    top, *inner = name.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        directory = Path(location).joinpath(*inner)
        if directory.is_dir():
            return str(directory)
    return None


def _loading(name: str, attribute: str) -> Callable[..., Any]:
    def load_and_call(*args: Any, **kwargs: Any) -> Any:
        return getattr(_real(name), attribute)(*args, **kwargs)

    load_and_call.__name__ = load_and_call.__qualname__ = attribute
    return load_and_call


def _real(name: str) -> types.ModuleType:
    module = sys.modules.get(name)
    if module is None or is_placeholder(module):
        sys.modules.pop(name, None)
        module = importlib.import_module(name)
    return module
