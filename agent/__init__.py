"""Kyso Agent: sign documents from web portals with a PKCS#11 token."""

import platform

__version__ = "0.1.0"
"""The agent's version, declared here alone: pyproject.toml reads it (``tool.setuptools.dynamic``),
and so do the packages' builds. A literal, not the installed metadata: reading that loads
``importlib.metadata`` with the email and zip modules it uses, 0.7 to 0.9 MB of an idle
agent's memory (docs/performance.md, "An idle ``serve`` within 45 MB")."""

PYTHON = f"{platform.python_implementation()} {platform.python_version()}"
"""The interpreter the agent runs on (the MSI ships its own): --version, the status report."""
