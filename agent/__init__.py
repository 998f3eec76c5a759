"""Kyso Agent: sign documents from web portals with a PKCS#11 token."""

import platform

PYTHON = f"{platform.python_implementation()} {platform.python_version()}"
"""The interpreter the agent runs on (the MSI ships its own): --version, the status report."""


def __getattr__(name: str) -> str:
    """``__version__``, read from the installed metadata the first time it is asked for.

    The version itself is declared once, in pyproject.toml; the installed metadata carries it
    here. Reading it loads ``importlib.metadata`` (with the email and zip modules it uses), which
    the processes that never ask, such as a token module's worker, do without (2.3 MB each,
    docs/performance.md).
    """
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("kyso-agent")
    except PackageNotFoundError:  # running from a source tree that was not installed
        found = "0.0.0+source"
    globals()["__version__"] = found
    return found
