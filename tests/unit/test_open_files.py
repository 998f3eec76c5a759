"""The agent raises its open-file limit so that its ports' connections cannot fill it."""

from __future__ import annotations

import sys

import pytest

from agent.server.connections import raise_open_file_limit

resource = pytest.importorskip("resource")


@pytest.mark.skipif(sys.platform == "win32", reason="no open-file limit on Windows")
def test_the_soft_limit_rises_towards_the_wanted_one_and_never_falls() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        lowered = 256 if hard == resource.RLIM_INFINITY else min(256, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (lowered, hard))
        wanted = 512 if hard == resource.RLIM_INFINITY else min(512, hard)
        assert raise_open_file_limit(wanted) == wanted
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == wanted
        # Asking for less than is in force changes nothing.
        assert raise_open_file_limit(lowered) == wanted
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
