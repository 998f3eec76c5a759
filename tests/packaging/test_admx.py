"""packaging/windows/admx.py: the Group Policy templates say what the settings' declarations say.

The committed templates (packaging/windows/policy/) are a fresh generation; every reference
resolves in both languages; every setting has one policy of its shape and range; and each
policy, read with ADMX semantics (what Group Policy or Intune writes under
HKLM\\SOFTWARE\\Policies\\Kyso\\Agent when an administrator enables or disables it), comes back
through the agent's own registry reader as the value the same entry in policy.toml gives.
"""

from __future__ import annotations

import copy
import importlib.util
import math
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from lxml import etree

from agent.config import BY_NAME, SETTINGS, WINDOWS_POLICY_KEY, load_config, read_registry_policy
from agent.errors import ConfigError
from agent.settings import Setting, Shape, as_path
from tests.unit.test_config_registry import NOWHERE, fake_winreg

ROOT = Path(__file__).resolve().parents[2]
WINDOWS = ROOT / "packaging" / "windows"
COMMITTED = WINDOWS / "policy"
NS = "http://schemas.microsoft.com/GroupPolicy/2006/07/PolicyDefinitions"
X = {"p": NS}
REG_SZ, REG_EXPAND_SZ, REG_DWORD, REG_MULTI_SZ = 1, 2, 4, 7
DWORD_MAX = 0xFFFFFFFF
FILES = ("KysoAgent.admx", "en-US/KysoAgent.adml", "vi-VN/KysoAgent.adml")
ADMLS = FILES[1:]
#: What an administrator types into each text or list policy (as policy.toml would write it).
TYPED: dict[str, Any] = {
    "data_dir": r"D:\KysoAgent\data",
    "prompter": r'"C:\Program Files\Prompt\prompt.exe" --json',
    "tsa_url": "http://ca.gov.vn/tsa",
    "pkcs11_modules": [r"C:\Windows\System32\vnpt-ca_v34.dll", r"C:\Windows\System32\BkavCA.dll"],
    "allowed_origins": ["https://dvc.gov.vn", "https://*.hanoi.gov.vn"],
    "extension_ids": ["chipklpdnohojehnebdabndkaobocajj", "abcdefghijklmnopabcdefghijklmnop"],
    "trust_roots": [r"C:\certs\root-ca.pem"],
}


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def admx() -> ModuleType:
    return load(WINDOWS / "admx.py", "kyso_admx")


@pytest.fixture(scope="module")
def generated(admx: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("policy")
    assert admx.main([str(out)]) == 0
    return out


def parse(path: Path) -> etree._Element:
    return etree.fromstring(path.read_bytes())


@pytest.fixture(scope="module")
def definitions() -> etree._Element:
    return parse(COMMITTED / FILES[0])


def policies(definitions: etree._Element) -> dict[str, etree._Element]:
    """The policies by the registry value they write."""
    found: dict[str, etree._Element] = {}
    for policy in definitions.iterfind("p:policies/p:policy", X):
        names = [policy.get("valueName")] + [e.get("valueName") for e in elements(policy)]
        for name in filter(None, names):
            assert name not in found, f"{name} is written by two policies"
            found[name] = policy
    return found


def elements(policy: etree._Element) -> list[etree._Element]:
    return list(policy.findall("p:elements/*", X))


def local(element: etree._Element) -> str:
    return str(etree.QName(element).localname)


# --- the files ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", FILES)
def test_the_committed_templates_are_a_fresh_generation(generated: Path, name: str) -> None:
    assert (COMMITTED / name).read_bytes() == (generated / name).read_bytes(), (
        f"packaging/windows/policy/{name} differs from the settings' declarations: "
        "run `.venv/bin/python packaging/windows/admx.py` and commit the result"
    )


def test_nothing_else_is_committed_beside_them() -> None:
    committed = sorted(p.relative_to(COMMITTED).as_posix() for p in COMMITTED.rglob("*.adm?"))
    assert committed == sorted(FILES)


@pytest.mark.parametrize("name", FILES)
def test_templates_are_well_formed_utf8_in_the_policy_namespace(name: str) -> None:
    data = (COMMITTED / name).read_bytes()
    assert data.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n')
    root = etree.fromstring(data)
    expected = "policyDefinitions" if name.endswith(".admx") else "policyDefinitionResources"
    assert root.tag == f"{{{NS}}}{expected}"
    assert root.get("schemaVersion") == "1.0"


def test_the_admx_stands_alone_for_intune(definitions: etree._Element) -> None:
    # Intune imports an ADMX only after every namespace it uses (Windows.admx: a second upload),
    # and refuses comboBox presentations.
    assert definitions.findall("p:policyNamespaces/p:using", X) == []
    target = definitions.find("p:policyNamespaces/p:target", X)
    assert target is not None
    assert target.get("namespace") == "Kyso.Policies.Agent"
    for name in ADMLS:
        assert parse(COMMITTED / name).findall(".//p:comboBox", X) == []


# --- references -----------------------------------------------------------------------------------


def references(definitions: etree._Element, kind: str) -> set[str]:
    """The ids an ADMX refers to as ``$(kind.ID)``."""
    found = set()
    for element in definitions.iter():
        for value in element.attrib.values():
            found |= set(re.findall(rf"\$\({kind}\.([^)]+)\)", value))
    return found


@pytest.mark.parametrize("name", ADMLS)
def test_every_string_and_presentation_resolves_both_ways(
    definitions: etree._Element, name: str
) -> None:
    resources = parse(COMMITTED / name)
    strings = [s.get("id") for s in resources.iterfind(".//p:stringTable/p:string", X)]
    presentations = {
        p.get("id"): p for p in resources.iterfind(".//p:presentationTable/p:presentation", X)
    }
    assert len(strings) == len(set(strings)), "a string id given twice"
    assert set(strings) == references(definitions, "string")
    assert set(presentations) == references(definitions, "presentation")
    assert all((s.text or "").strip() for s in resources.iterfind(".//p:string", X))
    for policy in definitions.iterfind("p:policies/p:policy", X):
        ref = policy.get("presentation")
        ids = {e.get("id") for e in elements(policy)}
        if ref is None:
            assert not ids, f"{policy.get('name')}: elements without a presentation"
            continue
        presentation = presentations[ref.removeprefix("$(presentation.").removesuffix(")")]
        assert {c.get("refId") for c in presentation if c.get("refId")} == ids


def test_both_languages_present_the_same_controls() -> None:
    def controls(name: str) -> list[tuple[str, str | None, str | None]]:
        resources = parse(COMMITTED / name)
        return [
            (local(c), c.get("refId"), c.get("defaultValue") or c.get("defaultItem"))
            for c in resources.iterfind(".//p:presentation/*", X)
        ]

    assert controls(ADMLS[0]) == controls(ADMLS[1])


# --- one policy per setting -----------------------------------------------------------------------


def test_the_policies_are_the_settings_the_registry_policy_reads(
    definitions: etree._Element,
) -> None:
    # read_registry_policy takes every declared setting by name, and no other name.
    assert sorted(policies(definitions)) == sorted(BY_NAME)


def test_every_setting_has_its_vietnamese_texts(admx: ModuleType) -> None:
    missing = sorted(set(BY_NAME) - set(admx.TEXTS))
    assert not missing, f"add Vietnamese texts for {missing} to TEXTS in packaging/windows/admx.py"
    assert sorted(admx.TEXTS) == sorted(BY_NAME), "TEXTS names a setting that is not declared"
    for setting in SETTINGS:
        text = admx.TEXTS[setting.name]
        assert text.title_en and text.title_vi and text.explain_vi, setting.name
        # A default the declaration words in English needs its Vietnamese; a number does not.
        assert bool(text.default_vi) == bool(re.search("[A-Za-z]", setting.default_text)), (
            setting.name
        )
        assert bool(text.note_en) == bool(text.note_vi), setting.name


def whole(setting: Setting) -> bool:
    return all(
        v is None or float(v).is_integer() for v in (setting.low, setting.high, setting.default)
    )


def expected_element(setting: Setting) -> str | None:
    """The element each shape calls for (``None``: the policy's own enabled/disabled values)."""
    if setting.shape is Shape.BOOL:
        return None
    if setting.shape is Shape.INT or (setting.shape is Shape.FLOAT and whole(setting)):
        return "decimal"
    if setting.shape is Shape.LIST:
        return "multiText"  # REG_MULTI_SZ; a `list` element writes values the agent refuses
    return "enum" if setting.choices else "text"


def expected_range(setting: Setting) -> tuple[int, int]:
    if setting.low is None:
        low = 0
    else:
        low = math.floor(setting.low) + 1 if setting.low_open else math.ceil(setting.low)
    return low, DWORD_MAX if setting.high is None else int(setting.high)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_each_setting_has_one_machine_policy_of_its_shape(
    definitions: etree._Element, setting: Setting
) -> None:
    policy = policies(definitions)[setting.name]
    assert policy.get("name") == setting.name
    assert policy.get("class") == "Machine"
    assert policy.get("key") == WINDOWS_POLICY_KEY
    category = policy.find("p:parentCategory", X)
    supported = policy.find("p:supportedOn", X)
    assert category is not None and category.get("ref") == "KysoAgent"
    assert supported is not None and supported.get("ref") == "SUPPORTED_Windows10"
    found = elements(policy)
    kind = expected_element(setting)
    if kind is None:
        assert found == []
        assert policy.get("valueName") == setting.name
        assert policy.xpath("p:enabledValue/p:decimal/@value", namespaces=X) == ["1"]
        # "Disabled" writes 0, so that it turns a default-on setting off (no deletion).
        assert policy.xpath("p:disabledValue/p:decimal/@value", namespaces=X) == ["0"]
        return
    assert policy.get("valueName") is None
    assert [local(e) for e in found] == [kind]
    (element,) = found
    assert element.get("valueName") == setting.name
    assert element.get("key") in (None, WINDOWS_POLICY_KEY)
    if kind == "decimal":
        assert element.get("storeAsText") in (None, "false")
        low, high = expected_range(setting)
        assert (element.get("minValue"), element.get("maxValue")) == (str(low), str(high))
    elif kind == "enum":
        values = element.xpath("p:item/p:value/p:string/text()", namespaces=X)
        assert tuple(values) == setting.choices
    elif kind == "text":
        # A path: %LOCALAPPDATA% means each user's own (REG_EXPAND_SZ, expanded by the agent).
        assert element.get("expandable") == ("true" if setting.parse is as_path else None)


def test_a_category_and_a_windows_10_requirement_of_our_own(definitions: etree._Element) -> None:
    categories = definitions.findall("p:categories/p:category", X)
    assert [(c.get("name"), c.find("p:parentCategory", X)) for c in categories] == [
        ("KysoAgent", None)
    ]
    for name in ADMLS:
        strings = {s.get("id"): s.text for s in parse(COMMITTED / name).iterfind(".//p:string", X)}
        assert strings["KysoAgent"] == "Kyso Agent"
        assert "Windows 10" in strings["SUPPORTED_Windows10"]


# --- what a policy writes reads back as the setting -----------------------------------------------


def registry_writes(policy: etree._Element, enabled: bool, typed: Any = None) -> list[Any]:
    """The values (key, name, data, type) Group Policy writes for the policy.

    ``typed``: what the administrator entered in the policy's one element (a number, a
    string, the chosen item's value, the lines of a multi-line box or of a list).
    """
    key = policy.get("key")
    writes: list[Any] = []
    own = policy.find("p:enabledValue" if enabled else "p:disabledValue", X)
    if own is not None:
        (value,) = own
        if local(value) == "decimal":
            writes.append((key, policy.get("valueName"), int(value.get("value")), REG_DWORD))
        else:
            writes.append((key, policy.get("valueName"), value.text, REG_SZ))
    if not enabled:
        return writes  # a disabled policy deletes its elements' values
    for element in elements(policy):
        where, name, kind = element.get("key", key), element.get("valueName"), local(element)
        text_type = REG_EXPAND_SZ if element.get("expandable") == "true" else REG_SZ
        if kind == "decimal":
            low, high = int(element.get("minValue", 0)), int(element.get("maxValue", 9999))
            assert low <= typed <= high, "the editor refuses this number"
            if element.get("storeAsText") == "true":
                writes.append((where, name, str(typed), REG_SZ))
            else:
                writes.append((where, name, int(typed), REG_DWORD))
        elif kind == "text":
            writes.append((where, name, typed, text_type))
        elif kind == "enum":
            (value,) = [
                v
                for v in element.iterfind("p:item/p:value/*", X)
                if (v.text or v.get("value")) == typed
            ]
            if local(value) == "decimal":
                writes.append((where, name, int(value.get("value")), REG_DWORD))
            else:
                writes.append((where, name, value.text, REG_SZ))
        elif kind == "multiText":
            writes.append((where, name, list(typed), REG_MULTI_SZ))
        elif kind == "list":
            # One REG_SZ per entry, named after it, or numbered after valuePrefix.
            prefix = element.get("valuePrefix")
            for number, entry in enumerate(typed, start=1):
                named = entry if prefix is None else f"{prefix}{number}"
                writes.append((where, named, entry, text_type))
        else:
            raise AssertionError(f"{kind}: no model of what this element writes")
    return writes


def through_registry(writes: list[Any]) -> Any:
    """The configuration the agent builds from these registry values (it reads one key)."""
    values = [(name, data, kind) for key, name, data, kind in writes if key == WINDOWS_POLICY_KEY]
    return load_config(
        {}, policy=read_registry_policy(fake_winreg(values)), user_config_file=NOWHERE
    )


def as_policy_toml(name: str, value: Any) -> Any:
    """What ``name = value`` in policy.toml makes of the setting."""
    return getattr(load_config({}, policy={name: value}, user_config_file=NOWHERE), name)


def entries(setting: Setting, policy: etree._Element) -> list[Any]:
    """What an administrator may enter in the policy, as policy.toml would write it."""
    kind = expected_element(setting)
    if kind == "decimal":
        (element,) = elements(policy)
        low, high = int(element.get("minValue")), int(element.get("maxValue"))
        return sorted(
            {low, high, *([setting.default] if isinstance(setting.default, int | float) else [])}
        )
    if kind == "enum":
        return list(setting.choices)
    return [TYPED[setting.name]]


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_what_each_policy_writes_reads_back_as_the_setting(
    definitions: etree._Element, setting: Setting
) -> None:
    policy = policies(definitions)[setting.name]
    name = setting.name
    if setting.shape is Shape.BOOL:
        assert getattr(through_registry(registry_writes(policy, True)), name) is True
        assert getattr(through_registry(registry_writes(policy, False)), name) is False
        return
    for typed in entries(setting, policy):
        written = registry_writes(policy, True, typed)
        assert getattr(through_registry(written), name) == as_policy_toml(name, typed), typed
    default = getattr(load_config({}, policy={}, user_config_file=NOWHERE), name)
    assert getattr(through_registry(registry_writes(policy, False)), name) == default


@pytest.mark.parametrize(
    "setting", [s for s in SETTINGS if expected_element(s) == "decimal"], ids=lambda s: s.name
)
def test_a_decimal_range_is_exactly_what_the_agent_accepts(
    definitions: etree._Element, setting: Setting
) -> None:
    """One below or above the range the editor allows, the agent refuses too: the template is
    no narrower than the declaration (and, by the test above, no wider)."""
    (element,) = elements(policies(definitions)[setting.name])
    low, high = int(element.get("minValue")), int(element.get("maxValue"))
    outside = [v for v in (low - 1, high + 1) if 0 <= v <= DWORD_MAX]
    for value in outside:
        with pytest.raises(ConfigError, match=setting.name):
            through_registry([(WINDOWS_POLICY_KEY, setting.name, value, REG_DWORD)])


@pytest.mark.parametrize(
    "attributes",
    [{}, {"valuePrefix": ""}, {"key": WINDOWS_POLICY_KEY + "\\allowed_origins", "valuePrefix": ""}],
    ids=["named-after-entries", "numbered", "numbered-in-a-subkey"],
)
def test_a_list_element_instead_would_not_give_the_agent_its_origins(
    definitions: etree._Element, attributes: dict[str, str]
) -> None:
    """Why the lists are multiText: whatever a `list` element writes is no allowed_origins."""
    policy = copy.deepcopy(policies(definitions)["allowed_origins"])
    (element,) = elements(policy)
    element.tag = f"{{{NS}}}list"
    del element.attrib["valueName"]
    element.attrib.update(attributes)
    origins = TYPED["allowed_origins"]
    try:
        config = through_registry(registry_writes(policy, True, origins))
    except ConfigError as exc:
        assert "unknown setting" in str(exc)
    else:
        assert config.allowed_origins != as_policy_toml("allowed_origins", origins)


# --- the MSI --------------------------------------------------------------------------------------


def test_the_msi_payload_carries_the_committed_templates(tmp_path: Path) -> None:
    build = load(WINDOWS / "build.py", "kyso_msi_build")
    build.stage_launcher(tmp_path)
    for name in FILES:
        assert (tmp_path / "policy" / name).read_bytes() == (COMMITTED / name).read_bytes()
