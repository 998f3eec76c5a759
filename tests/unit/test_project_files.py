"""What a public project carries: the licence pyproject declares, a security policy, a changelog
whose latest release is the version declared once in pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import agent

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]


def test_the_licence_file_is_the_apache_2_text_pyproject_declares() -> None:
    assert PROJECT["license"] == "Apache-2.0"
    assert PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text("utf-8")
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def test_the_version_is_declared_once_and_the_changelog_has_it() -> None:
    version = PROJECT["version"]
    # The installed agent reads it from the package metadata, nowhere else.
    assert agent.__version__ == version
    changelog = (ROOT / "CHANGELOG.md").read_text("utf-8")
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", changelog, re.MULTILINE)
    assert releases and releases[0] == version
    assert changelog.index("## [Unreleased]") < changelog.index(f"## [{version}]")
    for path in ("agent", "packaging"):
        for source in (ROOT / path).rglob("*.py"):
            assert not re.search(rf"""['"]{re.escape(version)}['"]""", source.read_text("utf-8")), (
                f"{source} repeats the version"
            )


def test_the_security_policy_says_how_to_report_privately_and_what_is_promised() -> None:
    policy = (ROOT / "SECURITY.md").read_text("utf-8")
    for heading in ("## Reporting a vulnerability", "## Supported versions", "## What the agent"):
        assert heading in policy
    assert "Report a vulnerability" in policy and "docs/security.md" in policy
