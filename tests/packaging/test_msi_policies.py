"""packaging/windows/msi_policies.py: the list policies the MSI writes, one value per origin.

The script's logic runs here against an in-memory HKLM, because the Windows registry does not
exist on Linux; test_msi_wine.py runs the same script from the installed MSI against Wine's
real registry (``winreg``).
"""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "packaging" / "windows" / "msi_policies.py"
PORTAL = "https://portal.example.gov.vn"
WILDCARD = "https://*.dichvucong.gov.vn"
CHROME_LNA = r"SOFTWARE\Policies\Google\Chrome\LocalNetworkAccessAllowedForUrls"
CHROME_LOOPBACK = r"SOFTWARE\Policies\Google\Chrome\LoopbackNetworkAllowedForUrls"
EDGE_LNA = r"SOFTWARE\Policies\Microsoft\Edge\LocalNetworkAccessAllowedForUrls"
EDGE_LOOPBACK = r"SOFTWARE\Policies\Microsoft\Edge\LoopbackNetworkAllowedForUrls"
CHROME_FORCELIST = r"SOFTWARE\Policies\Google\Chrome\ExtensionInstallForcelist"
EDGE_FORCELIST = r"SOFTWARE\Policies\Microsoft\Edge\ExtensionInstallForcelist"
FIREFOX_SKIP = r"SOFTWARE\Policies\Mozilla\Firefox\LocalNetworkAccess\SkipDomains"
FIREFOX_CERTS = r"SOFTWARE\Policies\Mozilla\Firefox\Certificates"
AGENT_POLICY = r"SOFTWARE\Policies\Kyso\Agent"
STATE = r"SOFTWARE\Kyso\Agent\BrowserPolicies"
EXTENSION = "chipklpdnohojehnebdabndkaobocajj;https://it.example.gov.vn/kyso/updates.xml"
REG_SZ, REG_DWORD, REG_MULTI_SZ = 1, 4, 7
INSTALL = r"SOFTWARE\Kyso\Agent\Install"
ALL_PROPERTIES = {
    "ALLOWED_ORIGINS": f"{PORTAL} {WILDCARD}",
    "BROWSER_POLICIES": "1",
    "INSTALL_EXTENSION": EXTENSION,
}
#: Everything on, for the portal alone.
ONE_PORTAL = {**ALL_PROPERTIES, "ALLOWED_ORIGINS": PORTAL}


@pytest.fixture(scope="module")
def policies() -> ModuleType:
    spec = importlib.util.spec_from_file_location("kyso_msi_policies", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


class MemoryRegistry:
    """HKLM in memory, as strict as the real one where the script relies on it: names are
    case-insensitive, a key is created under an existing parent, only empty keys are deleted."""

    def __init__(self) -> None:
        self.keys: dict[str, tuple[str, dict[str, tuple[int, Any]]]] = {
            "software": ("SOFTWARE", {})
        }
        #: set_value calls still allowed before an OSError (None: no limit).
        self.writes_left: int | None = None

    def _key(self, key: str) -> dict[str, tuple[int, Any]]:
        return self.keys[key.lower()][1]

    def values(self, key: str) -> dict[str, tuple[int, Any]] | None:
        found = self.keys.get(key.lower())
        return None if found is None else copy.deepcopy(found[1])

    def has_subkeys(self, key: str) -> bool:
        return any(k.startswith(key.lower() + "\\") for k in self.keys)

    def create_key(self, key: str) -> None:
        parent = key.rsplit("\\", 1)[0]
        assert parent.lower() in self.keys, f"no parent for {key}"
        self.keys.setdefault(key.lower(), (key, {}))

    def set_value(self, key: str, name: str, kind: int, data: Any) -> None:
        if self.writes_left is not None:
            if self.writes_left == 0:
                raise PermissionError(5, "Access is denied")
            self.writes_left -= 1
        values = self._key(key)
        for existing in [n for n in values if n.lower() == name.lower()]:
            del values[existing]
        values[name] = (kind, copy.deepcopy(data))

    def delete_value(self, key: str, name: str) -> None:
        values = self._key(key)
        (existing,) = [n for n in values if n.lower() == name.lower()]
        del values[existing]

    def delete_key(self, key: str) -> None:
        assert not self._key(key) and not self.has_subkeys(key), f"{key} is not empty"
        del self.keys[key.lower()]

    # --- for the tests ---

    def put(self, key: str, name: str, kind: int, data: Any) -> None:
        parts = key.split("\\")
        for depth in range(2, len(parts) + 1):
            self.create_key("\\".join(parts[:depth]))
        self.set_value(key, name, kind, data)

    def snapshot(self) -> dict[str, dict[str, tuple[int, Any]]]:
        return {display: copy.deepcopy(values) for display, values in self.keys.values()}

    def strings(self, key: str) -> dict[str, str]:
        return {name: data for name, (kind, data) in (self.values(key) or {}).items()}


def _msi_registry_table(registry: MemoryRegistry, properties: dict[str, str]) -> None:
    """What the MSI's Registry table writes before the script runs: each property given is
    remembered under Install, and ALLOWED_ORIGINS goes to the agent's policy as one item."""
    registry.put(r"SOFTWARE\Kyso\Agent", "Version", REG_SZ, "0.1.0")
    for name, value in properties.items():
        registry.put(INSTALL, name, REG_SZ, value)
    if properties.get("ALLOWED_ORIGINS"):
        registry.put(AGENT_POLICY, "allowed_origins", REG_MULTI_SZ, [properties["ALLOWED_ORIGINS"]])


def _apply(policies: ModuleType, registry: MemoryRegistry, **properties: str) -> int:
    """An installation with these properties: the Registry table, then ``apply``."""
    _msi_registry_table(registry, properties)
    return int(policies.main(["apply"], registry=registry))


def _remove(policies: ModuleType, registry: MemoryRegistry) -> int:
    return int(policies.main(["remove"], registry=registry))


def _not_msi(snapshot: dict[str, dict[str, tuple[int, Any]]]) -> dict[str, Any]:
    """A snapshot without the keys the MSI's Registry table owns (it removes them itself)."""
    owned = (r"SOFTWARE\Kyso", r"SOFTWARE\Policies\Kyso")
    return {k: v for k, v in snapshot.items() if not k.startswith(owned)}


def test_two_origins_become_two_numbered_values_in_every_list(policies: ModuleType) -> None:
    registry = MemoryRegistry()
    origins = f"{PORTAL}, {WILDCARD}"
    assert _apply(policies, registry, ALLOWED_ORIGINS=origins, BROWSER_POLICIES="1") == 0
    chrome = {"1": PORTAL, "2": "https://[*.]dichvucong.gov.vn"}
    for key in (CHROME_LNA, CHROME_LOOPBACK, EDGE_LNA, EDGE_LOOPBACK):
        assert registry.strings(key) == chrome, key
    assert registry.strings(FIREFOX_SKIP) == {
        "1": "portal.example.gov.vn",
        "2": "*.dichvucong.gov.vn",
    }
    assert registry.values(FIREFOX_CERTS) == {"ImportEnterpriseRoots": (REG_DWORD, 1)}
    # The agent's own policy: one item per origin instead of the whole property.
    assert registry.values(AGENT_POLICY) == {"allowed_origins": (REG_MULTI_SZ, [PORTAL, WILDCARD])}
    # No extension asked for: no force-list.
    assert registry.values(CHROME_FORCELIST) is None


@pytest.mark.parametrize(
    "text",
    [
        f"{PORTAL};{WILDCARD}",
        f"{PORTAL},{WILDCARD}",
        f"  {PORTAL}   {WILDCARD} ",
        f"{PORTAL} ;\t{WILDCARD};;{PORTAL}",
    ],
)
def test_origins_may_be_separated_by_semicolons_commas_or_spaces(
    policies: ModuleType, text: str
) -> None:
    assert policies.split_list(text) == (PORTAL, WILDCARD)


def test_what_an_administrator_set_is_kept_and_survives_uninstall(policies: ModuleType) -> None:
    registry = MemoryRegistry()
    registry.put(CHROME_LNA, "1", REG_SZ, "https://intranet.example.vn")
    registry.put(EDGE_FORCELIST, "1", REG_SZ, "abcdefghijklmnopabcdefghijklmnop;https://x.vn/u.xml")
    registry.put(FIREFOX_CERTS, "ImportEnterpriseRoots", REG_DWORD, 0)
    before = registry.snapshot()
    assert _apply(policies, registry, **ONE_PORTAL) == 0
    assert registry.strings(CHROME_LNA) == {"1": "https://intranet.example.vn", "2": PORTAL}
    assert registry.strings(CHROME_LOOPBACK) == {"1": PORTAL}
    assert registry.strings(CHROME_FORCELIST) == {"1": EXTENSION}
    assert registry.strings(EDGE_FORCELIST)["2"] == EXTENSION
    # A single value someone else set is never overwritten, even by BROWSER_POLICIES=1.
    assert registry.values(FIREFOX_CERTS) == {"ImportEnterpriseRoots": (REG_DWORD, 0)}

    assert _remove(policies, registry) == 0
    assert _not_msi(registry.snapshot()) == before


def test_apply_again_changes_nothing(policies: ModuleType) -> None:
    """Repair, and an upgrade's new install after the old product's removal."""
    registry = MemoryRegistry()
    registry.put(CHROME_LOOPBACK, "1", REG_SZ, "https://intranet.example.vn")
    assert _apply(policies, registry, **ALL_PROPERTIES) == 0
    first = registry.snapshot()
    assert _apply(policies, registry, **ALL_PROPERTIES) == 0
    assert registry.snapshot() == first
    assert _remove(policies, registry) == 0
    assert _apply(policies, registry, **ALL_PROPERTIES) == 0
    assert registry.snapshot() == first
    assert len(registry.strings(CHROME_LOOPBACK)) == 3


def test_a_value_changed_after_install_is_left_alone(policies: ModuleType) -> None:
    registry = MemoryRegistry()
    assert _apply(policies, registry, ALLOWED_ORIGINS=PORTAL, BROWSER_POLICIES="1") == 0
    registry.set_value(CHROME_LNA, "1", REG_SZ, "https://changed.example.vn")
    assert _remove(policies, registry) == 0
    assert registry.strings(CHROME_LNA) == {"1": "https://changed.example.vn"}
    assert registry.values(CHROME_LOOPBACK) is None
    assert registry.values(STATE) is None


def test_an_origin_already_listed_is_not_added_and_not_taken_away(policies: ModuleType) -> None:
    registry = MemoryRegistry()
    registry.put(EDGE_LOOPBACK, "7", REG_SZ, PORTAL.upper())
    registry.put(CHROME_FORCELIST, "1", REG_SZ, "chipklpdnohojehnebdabndkaobocajj;https://other/u")
    assert _apply(policies, registry, **ONE_PORTAL) == 0
    assert registry.strings(EDGE_LOOPBACK) == {"7": PORTAL.upper()}
    # The same extension ID is already forced (with another update URL): one entry is enough.
    assert registry.strings(CHROME_FORCELIST) == {
        "1": "chipklpdnohojehnebdabndkaobocajj;https://other/u"
    }
    assert _remove(policies, registry) == 0
    assert registry.strings(EDGE_LOOPBACK) == {"7": PORTAL.upper()}
    assert len(registry.strings(CHROME_FORCELIST)) == 1


def test_loopback_origins_never_reach_firefox_skip_domains(policies: ModuleType) -> None:
    """Firefox reads SkipDomains as targets too: ``localhost`` there opens the agent to all."""
    registry = MemoryRegistry()
    origins = f"http://localhost:8980 http://127.0.0.1:8980 {PORTAL}"
    assert _apply(policies, registry, ALLOWED_ORIGINS=origins, BROWSER_POLICIES="1") == 0
    assert registry.strings(FIREFOX_SKIP) == {"1": "portal.example.gov.vn"}
    assert list(registry.strings(CHROME_LOOPBACK).values()) == [
        "http://localhost:8980",
        "http://127.0.0.1:8980",
        PORTAL,
    ]


def test_without_browser_policies_only_the_agent_list_and_the_extension(
    policies: ModuleType,
) -> None:
    registry = MemoryRegistry()
    origins = f"{PORTAL},{WILDCARD}"
    assert _apply(policies, registry, ALLOWED_ORIGINS=origins, INSTALL_EXTENSION=EXTENSION) == 0
    for key in (CHROME_LNA, CHROME_LOOPBACK, EDGE_LNA, FIREFOX_SKIP, FIREFOX_CERTS):
        assert registry.values(key) is None, key
    assert registry.strings(CHROME_FORCELIST) == {"1": EXTENSION}
    assert registry.strings(EDGE_FORCELIST) == {"1": EXTENSION}
    assert registry.values(AGENT_POLICY) == {"allowed_origins": (REG_MULTI_SZ, [PORTAL, WILDCARD])}


def test_no_property_writes_nothing(policies: ModuleType) -> None:
    registry = MemoryRegistry()
    _msi_registry_table(registry, {})
    before = registry.snapshot()
    assert policies.main(["apply"], registry=registry) == 0
    assert registry.snapshot() == before


@pytest.mark.parametrize(
    ("properties", "named"),
    [
        ({"ALLOWED_ORIGINS": "portal.example.gov.vn"}, "ALLOWED_ORIGINS"),
        ({"ALLOWED_ORIGINS": f"{PORTAL} https://*.vn"}, "ALLOWED_ORIGINS"),
        ({"ALLOWED_ORIGINS": "http://portal.example.gov.vn"}, "ALLOWED_ORIGINS"),
        ({"ALLOWED_ORIGINS": f"{PORTAL}/path"}, "ALLOWED_ORIGINS"),
        ({"ALLOWED_ORIGINS": PORTAL, "BROWSER_POLICIES": "yes"}, "BROWSER_POLICIES"),
        ({"INSTALL_EXTENSION": "not-an-id;https://x"}, "INSTALL_EXTENSION"),
    ],
)
def test_a_bad_property_fails_before_writing_anything(
    policies: ModuleType,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    properties: dict[str, str],
    named: str,
) -> None:
    registry = MemoryRegistry()
    _msi_registry_table(registry, properties)
    before = registry.snapshot()
    log = tmp_path / "kyso-agent-msi.log"
    assert policies.main(["apply", "--log", str(log)], registry=registry) == 2
    assert registry.snapshot() == before
    assert named in capsys.readouterr().err
    # The MSI's own log only says the action failed; the reason is in this file.
    [line] = log.read_text("utf-8").splitlines()
    assert f"msi_policies: {named}" in line


def test_a_failure_at_any_point_is_recorded_so_that_rollback_removes_it(
    policies: ModuleType,
) -> None:
    failures = 0
    for allowed in range(200):
        registry = MemoryRegistry()
        registry.put(CHROME_LNA, "1", REG_SZ, "https://intranet.example.vn")
        _msi_registry_table(registry, ALL_PROPERTIES)
        before = registry.snapshot()
        registry.writes_left = allowed
        code = policies.main(["apply"], registry=registry)
        registry.writes_left = None
        if code == 0:
            break
        assert code == 1
        failures += 1
        # The MSI's rollback of the failed install runs "remove".
        assert _remove(policies, registry) == 0
        assert _not_msi(registry.snapshot()) == _not_msi(before), f"after {allowed} writes"
    assert failures > 20, "the writes did not fail at every step"


def test_show_lists_what_was_written(
    policies: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    registry = MemoryRegistry()
    assert policies.main(["show"], registry=registry) == 0
    assert capsys.readouterr().out == "nothing\n"
    assert _apply(policies, registry, INSTALL_EXTENSION=EXTENSION) == 0
    capsys.readouterr()
    assert policies.main(["show"], registry=registry) == 0
    assert capsys.readouterr().out.splitlines() == [
        rf"{CHROME_FORCELIST}\1 = {EXTENSION}",
        rf"{EDGE_FORCELIST}\1 = {EXTENSION}",
    ]
