"""A private X server per test (``xvfb`` fixture).

Without Xvfb the desktop tests are skipped on a developer machine and fail in CI
(``CI`` set), where a missing X server is a broken build, not a reason to skip.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.desktop.xvfb import virtual_display


@pytest.fixture
def xvfb() -> Iterator[str]:
    """The DISPLAY (``":N"``) of a fresh virtual X server."""
    if shutil.which("Xvfb") is None and not os.environ.get("CI"):
        pytest.skip("Xvfb is not installed")
    with virtual_display() as display:
        yield display
