"""What a public project carries: the licence pyproject declares, a security policy, a changelog
whose latest release is the version declared once, in agent/__init__.py."""

from __future__ import annotations

import re
import tomllib
from importlib.metadata import version as installed_version
from pathlib import Path

import agent

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
PROJECT = PYPROJECT["project"]


def test_the_licence_file_is_the_apache_2_text_pyproject_declares() -> None:
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text("utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_the_version_is_declared_once_and_the_changelog_has_it() -> None:
    version = agent.__version__
    # pyproject.toml takes it from the source (setuptools reads the literal without importing).
    assert "version" not in PROJECT and "version" in PROJECT["dynamic"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "agent.__version__"}
    # What pip, the packages and their SBOMs show: the installed metadata says the same.
    assert installed_version("kyso-agent") == version
    changelog = (ROOT / "CHANGELOG.md").read_text("utf-8")
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", changelog, re.MULTILINE)
    assert releases and releases[0] == version
    assert changelog.index("## [Unreleased]") < changelog.index(f"## [{version}]")
    declared = ROOT / "agent" / "__init__.py"
    literal = rf"""^__version__ = "{re.escape(version)}"$"""
    assert re.search(literal, declared.read_text("utf-8"), re.MULTILINE)
    for path in ("agent", "packaging"):
        for source in (ROOT / path).rglob("*.py"):
            if source == declared:
                continue
            assert not re.search(rf"""['"]{re.escape(version)}['"]""", source.read_text("utf-8")), (
                f"{source} repeats the version"
            )


def test_the_security_policy_says_how_to_report_privately_and_what_is_promised() -> None:
    policy = (ROOT / "SECURITY.md").read_text("utf-8")
    for heading in ("## Reporting a vulnerability", "## Supported versions", "## What the agent"):
        assert heading in policy
    assert "Report a vulnerability" in policy and "docs/security.md" in policy
