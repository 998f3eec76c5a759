"""The extension's files: its ID, the Firefox variant, the catalogues. No browser needed."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from agent.origin import DEV_EXTENSION_ID
from tests.browser.conftest import EXTENSION, EXTENSION_ID


def manifest(name: str = "manifest.json") -> dict[str, Any]:
    return dict(json.loads((EXTENSION / name).read_text("utf-8")))


def extension_id(key: str) -> str:
    """Chromium's ID for a manifest key: SHA-256 of the public key, first 32 hex digits as a-p."""
    digest = hashlib.sha256(base64.b64decode(key)).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


def test_the_manifest_key_gives_the_id_the_agent_trusts_by_default() -> None:
    assert extension_id(manifest()["key"]) == EXTENSION_ID == DEV_EXTENSION_ID


def test_the_extension_reaches_only_the_local_agent_and_runs_only_in_top_frames() -> None:
    chromium = manifest()
    assert chromium["manifest_version"] == 3
    assert chromium["host_permissions"] == ["https://127.0.0.1/*", "https://localhost/*"]
    assert chromium["permissions"] == ["storage"]
    [content] = chromium["content_scripts"]
    assert content["all_frames"] is False
    assert set(content["matches"]) == {"https://*/*", "http://localhost/*", "http://127.0.0.1/*"}
    assert "externally_connectable" not in chromium  # pages talk to the content script only


def test_the_firefox_manifest_differs_only_where_firefox_needs_it() -> None:
    chromium, firefox = manifest(), manifest("manifest.firefox.json")
    assert firefox["browser_specific_settings"]["gecko"]["id"] == "kyso-agent@kyso.vn"
    assert firefox["background"] == {"scripts": ["background.js"], "type": "module"}
    assert "key" not in firefox
    same = set(chromium) - {"key", "background", "minimum_chrome_version"}
    assert {k: firefox[k] for k in same} == {k: chromium[k] for k in same}
    assert set(firefox) - set(chromium) == {"browser_specific_settings"}


def test_vietnamese_is_the_default_and_both_catalogues_have_every_message() -> None:
    assert manifest()["default_locale"] == "vi"
    vi = json.loads((EXTENSION / "_locales" / "vi" / "messages.json").read_text("utf-8"))
    en = json.loads((EXTENSION / "_locales" / "en" / "messages.json").read_text("utf-8"))
    assert vi.keys() == en.keys()
    used: set[str] = set()
    for name in ("popup.html", "popup.js", "manifest.json"):
        text = (EXTENSION / name).read_text("utf-8")
        for groups in re.findall(r'data-i18n="(\w+)"|t\(\s*"(\w+)"|__MSG_(\w+)__', text):
            used |= {g for g in groups if g}
    assert used <= vi.keys(), used - vi.keys()
    for key in vi:
        assert vi[key]["message"] != en[key]["message"], key
        assert vi[key].get("placeholders") == en[key].get("placeholders"), key


def test_every_file_the_manifests_name_exists() -> None:
    chromium = manifest()
    named = [
        chromium["background"]["service_worker"],
        chromium["action"]["default_popup"],
        *chromium["icons"].values(),
        *chromium["content_scripts"][0]["js"],
        *chromium["web_accessible_resources"][0]["resources"],
    ]
    for name in named:
        assert (EXTENSION / name).is_file(), name
