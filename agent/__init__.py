"""Kyso Agent: sign documents from web portals with a PKCS#11 token."""

import platform
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("kyso-agent")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"

# The version itself is declared once, in pyproject.toml; the installed metadata carries it here.

PYTHON = f"{platform.python_implementation()} {platform.python_version()}"
"""The interpreter the agent runs on (the MSI ships its own): --version, the status report."""
