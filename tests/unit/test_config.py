"""Configuration layers: defaults < machine policy < user file < command line."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from agent.app import listen_ports
from agent.config import DEFAULT_PORT, load_config
from agent.errors import ConfigError
from agent.messages import Lang
from agent.origin import DEV_EXTENSION_ID

NOWHERE = Path("/nonexistent/kyso/config.toml")


def test_defaults() -> None:
    config = load_config({}, policy={}, user_config_file=NOWHERE)
    assert config.port is None
    assert listen_ports(config) == list(range(DEFAULT_PORT, DEFAULT_PORT + 11))
    assert DEFAULT_PORT == 8988
    assert listen_ports(replace(config, port=9000)) == [9000]
    assert not config.pin_cache_minutes and config.allow_user_pairing
    assert config.allowed_origins == ()
    assert config.prompt_timeout == 120.0
    assert config.lang is Lang.VI
    assert config.max_body_bytes == 1024 * 1024
    assert config.pkcs11_modules == ()


def test_layers_override_key_by_key(tmp_path: Path) -> None:
    user = tmp_path / "config.toml"
    user.write_text('port = 9001\nlang = "en"\nallowed_origins = ["https://user.gov.vn"]\n')
    policy = {"port": 9000, "prompt_timeout": 60, "allowed_origins": ["https://policy.gov.vn"]}
    config = load_config({"port": 9002}, user, policy=policy)
    assert config.port == 9002  # command line
    assert config.lang is Lang.EN  # user file
    assert config.prompt_timeout == 60.0  # machine policy
    assert [str(p) for p in config.allowed_origins] == ["https://user.gov.vn"]


def test_default_user_file_is_read_when_present(tmp_path: Path) -> None:
    user = tmp_path / "config.toml"
    user.write_text('pkcs11_modules = ["/opt/token/lib.so"]\nprompter = "my-dialog --json"\n')
    config = load_config({}, policy={}, user_config_file=user)
    assert config.pkcs11_modules == (Path("/opt/token/lib.so"),)
    assert config.prompter == "my-dialog --json"


@pytest.mark.parametrize(
    ("values", "fragment"),
    [
        ({"port": 70000}, "port"),
        ({"port": "8988"}, "port"),
        ({"prompt_timeout": 0}, "prompt_timeout"),
        ({"log_level": "LOUD"}, "log_level"),
        ({"lang": "fr"}, "lang"),
        ({"allowed_origins": ["http://portal.gov.vn"]}, "allowed_origins"),
        ({"allowed_origins": ["https://*.vn"]}, "too broad"),
        ({"allowed_origin": ["https://portal.gov.vn"]}, "unknown setting"),
        ({"pkcs11_modules": [1]}, "pkcs11_modules"),
        ({"max_body_bytes": 10}, "max_body_bytes"),
    ],
)
def test_bad_values_stop_start_up_with_a_clear_message(
    values: dict[str, object], fragment: str
) -> None:
    with pytest.raises(ConfigError, match=fragment):
        load_config(values, policy={}, user_config_file=NOWHERE)


def test_missing_or_broken_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config({}, tmp_path / "missing.toml", policy={})
    broken = tmp_path / "broken.toml"
    broken.write_text("port = = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config({}, broken, policy={})


def test_bad_machine_policy_names_its_source() -> None:
    with pytest.raises(ConfigError, match="machine policy"):
        load_config({}, policy={"colour": "red"}, user_config_file=NOWHERE)


@pytest.mark.parametrize(
    "key", ["allow_user_pairing", "allow_external_prompter", "pin_cache_minutes", "vgca_enabled"]
)
def test_security_settings_are_policy_only(tmp_path: Path, key: str) -> None:
    value: object = {"pin_cache_minutes": 5, "cancel_backoff_seconds": 0.0}.get(key, False)
    with pytest.raises(ConfigError, match="only be set by machine policy"):
        load_config({key: value}, policy={}, user_config_file=NOWHERE)
    user = tmp_path / "config.toml"
    user.write_text(f"{key} = {json.dumps(value)}\n")
    with pytest.raises(ConfigError, match="only be set by machine policy"):
        load_config({}, user, policy={})
    assert getattr(load_config({}, policy={key: value}, user_config_file=NOWHERE), key) == value


def test_vgca_port_defaults_to_the_vgca_sign_service_port() -> None:
    assert load_config({}, policy={}, user_config_file=NOWHERE).vgca_port == 8987
    assert load_config({"vgca_port": 0}, policy={}, user_config_file=NOWHERE).vgca_port == 0
    for bad in (-1, 65536, "8987", True):
        with pytest.raises(ConfigError, match="vgca_port must be a number"):
            load_config({"vgca_port": bad}, policy={}, user_config_file=NOWHERE)


def test_policy_forbidding_external_prompter_stops_start_up() -> None:
    with pytest.raises(ConfigError, match="forbids an external prompter"):
        load_config(
            {"prompter": "my-dialog"},
            policy={"allow_external_prompter": False},
            user_config_file=NOWHERE,
        )


def test_pin_cache_minutes_is_bounded() -> None:
    with pytest.raises(ConfigError, match="pin_cache_minutes"):
        load_config({}, policy={"pin_cache_minutes": 10_000}, user_config_file=NOWHERE)


def test_extension_ids_default_to_the_bundled_extension_and_are_checked(tmp_path: Path) -> None:
    assert load_config({}, policy={}, user_config_file=NOWHERE).extension_ids == (DEV_EXTENSION_ID,)
    none = tmp_path / "none.toml"
    none.write_text("extension_ids = []\n")
    assert load_config({}, none, policy={}).extension_ids == ()
    bad = tmp_path / "bad.toml"
    bad.write_text('extension_ids = ["chrome-extension://abc"]\n')
    with pytest.raises(ConfigError, match="is not an extension ID"):
        load_config({}, bad, policy={})


def test_extension_ids_set_by_machine_policy_cannot_be_changed_by_the_user(tmp_path: Path) -> None:
    """An unpacked copy of the extension carries the bundled ID: IT that deploys its own build
    pins that build's ID, and a user file cannot add the bundled one back."""
    deployed = "a" * 32
    policy = {"extension_ids": [deployed]}
    assert load_config({}, policy=policy, user_config_file=NOWHERE).extension_ids == (deployed,)
    widened = tmp_path / "user.toml"
    widened.write_text(f'extension_ids = ["{deployed}", "{DEV_EXTENSION_ID}"]\n')
    with pytest.raises(ConfigError, match="extension_ids is set by machine policy"):
        load_config({}, policy=policy, user_config_file=widened)
    # Saying the same as the policy is no change; where policy is silent the user decides.
    same = tmp_path / "same.toml"
    same.write_text(f'extension_ids = ["{deployed}"]\n')
    assert load_config({}, policy=policy, user_config_file=same).extension_ids == (deployed,)
    assert load_config({}, policy={}, user_config_file=widened).extension_ids == (
        deployed,
        DEV_EXTENSION_ID,
    )
