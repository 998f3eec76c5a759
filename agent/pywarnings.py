"""Python warnings are for developers: every entry point sends them to the log at DEBUG.

A library's deprecation notice (cryptography's about DSA, which pyHanko imports, for one)
means nothing to an official signing a document, and printed on a terminal or in a dialog's
stderr it reads like a failure. The agent's own code never warns at run time; tests turn
every warning into an error except the third-party ones listed in pyproject.toml
(docs/dependencies.md, "Warnings").
"""

from __future__ import annotations

import logging
import warnings
from typing import TextIO

_log = logging.getLogger("agent.warnings")


def _to_log(  # noqa: PLR0917 (the signature of warnings.showwarning)
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    _log.debug("%s:%d: %s: %s", filename, lineno, category.__name__, message)


def route_to_log() -> None:
    """Show no warning to the user; write each to the log at DEBUG instead.

    The filters are left alone: ``-W error`` still raises, ``-W ignore`` still drops.
    """
    warnings.showwarning = _to_log
