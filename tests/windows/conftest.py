"""Fixtures of the Windows tests: one prefix with the installed agent for the whole directory
(tests/windows/installed.py), the uninstallation last."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.windows.installed import WindowsAgent, build_wine_tools, installed_agent, tray_desktop


@pytest.fixture(scope="session")
def wine_tools() -> Path:
    return build_wine_tools()


@pytest.fixture(scope="session")
def desktop() -> Iterator[str]:
    with tray_desktop() as display:
        yield display


@pytest.fixture(scope="session")
def windows_agent(
    wine_tools: Path, desktop: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WindowsAgent]:
    """The agent installed, not yet started: the first test starts it as the Run key does."""
    with installed_agent(desktop, tmp_path_factory.mktemp("windows-agent"), wine_tools) as agent:
        yield agent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The uninstallation ends the day: it takes away the MSI the other tests share."""
    last = [i for i in items if i.path.name == "test_uninstall_wine.py"]
    items[:] = [i for i in items if i not in last] + last


@pytest.fixture(scope="session")
def wine_python(windows_agent: WindowsAgent) -> Callable[[str], subprocess.CompletedProcess[str]]:
    """Run code in the installed agent's ``python.exe``."""
    return windows_agent.wine.python
