"""Fixtures shared by the integration tests that play a portal."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.vgca_portal import Site


@pytest.fixture(scope="module")
def portal() -> Iterator[Site]:
    """A portal on loopback, with download and upload handlers as .NET and PHP portals have."""
    site = Site().start()
    yield site
    site.stop()
