"""Machine policy from the Windows registry (HKLM\\SOFTWARE\\Policies\\Kyso\\Agent), faked."""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Any

import pytest

from agent.config import (
    SETTINGS,
    WINDOWS_POLICY_KEY,
    load_config,
    read_machine_policy,
    read_registry_policy,
)
from agent.errors import ConfigError
from agent.origin import parse_pattern
from agent.settings import RegType, Setting, Shape
from tests.unit.test_config_docs import documented_policy

REG_SZ, REG_EXPAND_SZ, REG_DWORD, REG_MULTI_SZ, REG_BINARY = 1, 2, 4, 7, 3
NOWHERE = Path("/nonexistent/kyso-agent/config.toml")


class FakeKey:
    def __init__(self, values: list[tuple[str, Any, int]]) -> None:
        self.values = values

    def __enter__(self) -> FakeKey:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def fake_winreg(values: list[tuple[str, Any, int]] | None, error: OSError | None = None) -> Any:
    """A stand-in for :mod:`winreg` holding one key (``None``: the key does not exist)."""
    opened: list[tuple[Any, ...]] = []

    def open_key(root: str, path: str, reserved: int, access: int) -> FakeKey:
        opened.append((root, path, reserved, access))
        if error is not None:
            raise error
        if values is None:
            raise FileNotFoundError(2, "not found")
        return FakeKey(values)

    def enum_value(key: FakeKey, index: int) -> tuple[str, Any, int]:
        if index >= len(key.values):
            raise OSError(259, "no more data")
        return key.values[index]

    return types.SimpleNamespace(
        HKEY_LOCAL_MACHINE="HKLM",
        KEY_READ=0x20019,
        KEY_WOW64_64KEY=0x100,
        OpenKey=open_key,
        EnumValue=enum_value,
        opened=opened,
    )


def test_no_key_means_no_policy() -> None:
    registry = fake_winreg(None)
    assert read_registry_policy(registry) == {}
    assert registry.opened == [("HKLM", WINDOWS_POLICY_KEY, 0, 0x20019 | 0x100)]
    assert WINDOWS_POLICY_KEY == "SOFTWARE\\Policies\\Kyso\\Agent"


def test_values_of_every_type_become_the_toml_keys() -> None:
    registry = fake_winreg(
        [
            ("", "default value is ignored", REG_SZ),
            (
                "allowed_origins",
                ["https://dvc.gov.vn", " https://*.hanoi.gov.vn ", ""],
                REG_MULTI_SZ,
            ),
            ("PKCS11_Modules", r"C:\Windows\System32\vnpt.dll;C:\x\viettel.dll;", REG_SZ),
            ("port", 9000, REG_DWORD),
            ("vgca_port", "8987", REG_SZ),
            ("vgca_enabled", 0, REG_DWORD),
            ("pin_cache_minutes", "15", REG_SZ),
            ("tsa_url", "http://ca.gov.vn/tsa", REG_SZ),
            ("allow_user_pairing", "false", REG_SZ),
            ("prompt_timeout", 90, REG_DWORD),
            ("extension_ids", [], REG_MULTI_SZ),
            ("log_level", "", REG_SZ),  # an MSI property left empty: not set
        ]
    )
    policy = read_registry_policy(registry)
    assert policy == {
        "allowed_origins": ["https://dvc.gov.vn", "https://*.hanoi.gov.vn"],
        "pkcs11_modules": [r"C:\Windows\System32\vnpt.dll", r"C:\x\viettel.dll"],
        "port": 9000,
        "vgca_port": 8987,
        "vgca_enabled": False,
        "pin_cache_minutes": 15,
        "tsa_url": "http://ca.gov.vn/tsa",
        "allow_user_pairing": False,
        "prompt_timeout": 90,
        "extension_ids": [],
    }
    config = load_config({}, policy=policy, user_config_file=NOWHERE)
    assert config.allowed_origins == (
        parse_pattern("https://dvc.gov.vn"),
        parse_pattern("https://*.hanoi.gov.vn"),
    )
    assert config.port == 9000 and config.vgca_enabled is False
    assert config.pin_cache_minutes == 15 and config.allow_user_pairing is False
    assert config.prompt_timeout == 90.0 and config.extension_ids == ()


def test_semicolon_list_in_one_string() -> None:
    registry = fake_winreg([("allowed_origins", "https://a.gov.vn; https://b.gov.vn", REG_SZ)])
    assert read_registry_policy(registry) == {
        "allowed_origins": ["https://a.gov.vn", "https://b.gov.vn"]
    }


def test_one_multi_sz_item_holding_a_semicolon_list_as_the_msi_writes_it() -> None:
    registry = fake_winreg([("allowed_origins", ["https://a.gov.vn;https://b.gov.vn"], 7)])
    assert read_registry_policy(registry) == {
        "allowed_origins": ["https://a.gov.vn", "https://b.gov.vn"]
    }


def test_expand_sz_expands_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYSO_TEST_DIR", "/opt/tokens")
    registry = fake_winreg([("pkcs11_modules", "$KYSO_TEST_DIR/a.so", REG_EXPAND_SZ)])
    assert read_registry_policy(registry) == {"pkcs11_modules": ["/opt/tokens/a.so"]}


@pytest.mark.parametrize(
    ("name", "data", "kind", "message"),
    [
        ("port", "eighty", REG_SZ, "whole number"),
        ("vgca_enabled", 2, REG_DWORD, "0 or 1"),
        ("allow_user_pairing", "maybe", REG_SZ, "1 or 0"),
        ("tsa_url", ["http://a"], REG_MULTI_SZ, "only for list settings"),
        ("tsa_url", 5, REG_DWORD, "does not fit"),
        ("port", b"\x01", REG_BINARY, "use REG_SZ"),
        ("prompt_timeout", "soon", REG_SZ, "must be a number"),
    ],
)
def test_wrong_types_name_the_registry_value(name: str, data: Any, kind: int, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        read_registry_policy(fake_winreg([(name, data, kind)]))
    assert f"Policies\\Kyso\\Agent\\{name}" in str(caught.value)


def test_same_validation_as_policy_toml() -> None:
    policy = read_registry_policy(fake_winreg([("pin_cache_minutes", 100000, REG_DWORD)]))
    with pytest.raises(ConfigError, match="pin_cache_minutes must be 0 to"):
        load_config({}, policy=policy, user_config_file=NOWHERE)
    policy = read_registry_policy(fake_winreg([("colour", "red", REG_SZ)]))
    with pytest.raises(ConfigError, match="machine policy: unknown setting"):
        load_config({}, policy=policy, user_config_file=NOWHERE)


def test_registry_policy_may_set_policy_only_keys_but_the_user_may_not(tmp_path: Path) -> None:
    policy = read_registry_policy(fake_winreg([("allow_external_prompter", 0, REG_DWORD)]))
    assert load_config({}, policy=policy, user_config_file=NOWHERE).allow_external_prompter is False
    with pytest.raises(ConfigError, match="only be set by machine policy"):
        load_config({"allow_external_prompter": True}, policy=policy, user_config_file=NOWHERE)


def test_unreadable_key_is_an_error() -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        read_registry_policy(fake_winreg([], error=PermissionError(5, "access denied")))


def test_windows_reads_the_registry_not_the_toml(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = fake_winreg([("port", 9100, REG_DWORD)])
    monkeypatch.setattr("agent.config.sys.platform", "win32")
    monkeypatch.setattr("agent.config.importlib.import_module", lambda name: registry)
    assert read_machine_policy() == {"port": 9100}


def test_trust_local_ca_as_the_documented_reg_dword() -> None:
    """docs/it-policy.md documents ``trust_local_ca`` as REG_DWORD 0/1: IT turning it off
    must not stop the agent with "a number (REG_DWORD) does not fit this setting"."""
    policy = read_registry_policy(fake_winreg([("trust_local_ca", 0, REG_DWORD)]))
    assert policy == {"trust_local_ca": False}
    assert load_config({}, policy=policy, user_config_file=NOWHERE).trust_local_ca is False


# A valid value of each text and list setting, for writing it into the fake registry.
TEXT_SAMPLES: dict[str, str] = {
    "allowed_origins": "https://dvc.gov.vn",
    "pkcs11_modules": "/opt/tokens/vendor.so",
    "extension_ids": "a" * 32,
    "trust_roots": "/etc/kyso-agent/root.pem",
    "data_dir": "/srv/kyso-agent",
    "prompter": "my-dialog --json",
    "log_level": "DEBUG",
    "lang": "en",
    "tsa_url": "http://ca.gov.vn/tsa",
    "module_isolation": "thread",
}


def toml_sample(setting: Setting) -> Any:
    """A valid value of ``setting`` other than its default, as policy.toml writes it."""
    if setting.shape is Shape.BOOL:
        return not setting.default
    if setting.shape in (Shape.INT, Shape.FLOAT):
        return int(setting.high if setting.high is not None else (setting.low or 0) + 1)
    if setting.shape is Shape.LIST:
        return [TEXT_SAMPLES[setting.name]]
    return TEXT_SAMPLES[setting.name]


def registry_sample(value: Any, kind: RegType) -> Any:
    """``value`` as a registry value of type ``kind``."""
    if kind is RegType.REG_MULTI_SZ:
        return list(value)
    if kind is RegType.REG_DWORD:
        return int(value)
    if isinstance(value, list):
        return ";".join(value)
    return str(int(value)) if isinstance(value, bool) else str(value)


DOCUMENTED = [
    (setting, kind)
    for setting in SETTINGS
    for kind in sorted(
        {RegType[name] for name in re.findall(r"REG_[A-Z_]+", documented_policy()[setting.name][1])}
    )
]


@pytest.mark.parametrize(
    ("setting", "kind"), DOCUMENTED, ids=[f"{s.name}-{k.name}" for s, k in DOCUMENTED]
)
def test_every_documented_registry_type_reads_as_the_toml_value(
    setting: Setting, kind: RegType
) -> None:
    """docs/it-policy.md's registry types, each written into the registry, read as policy.toml
    would: IT following the table never meets "does not fit this setting"."""
    value = toml_sample(setting)
    policy = read_registry_policy(fake_winreg([(setting.name, registry_sample(value, kind), kind)]))
    from_registry = load_config({}, policy=policy, user_config_file=NOWHERE)
    from_toml = load_config({}, policy={setting.name: value}, user_config_file=NOWHERE)
    assert getattr(from_registry, setting.name) == getattr(from_toml, setting.name)
    assert getattr(from_toml, setting.name) != setting.default


def test_every_setting_has_a_documented_registry_type() -> None:
    assert {s.name for s, _kind in DOCUMENTED} == {s.name for s in SETTINGS}
