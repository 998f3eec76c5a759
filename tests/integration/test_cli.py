"""The ``kyso-agent`` command line against real SoftHSM tokens."""

from __future__ import annotations

import json
import platform
import socket
from pathlib import Path

import pytest

from tests.conftest import SessionToken, run_cli

pytestmark = pytest.mark.integration


def isolated_env(token: SessionToken, tmp_path: Path) -> dict[str, str]:
    return {**token.hsm.environ(), "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "cfg")}


def test_tokens_json_lists_module_token_pin_state_and_certificates(
    token: SessionToken, tmp_path: Path
) -> None:
    done = run_cli(
        "tokens",
        "--json",
        "--pkcs11-module",
        str(token.hsm.module),
        env=isolated_env(token, tmp_path),
    )
    assert done.returncode == 0, done.stderr
    [module] = json.loads(done.stdout)["modules"]
    assert module["loaded"] and module["path"] == str(token.hsm.module)
    [listed] = module["tokens"]
    assert listed["label"] == token.label
    assert listed["serial"]
    assert listed["manufacturer"] == "SoftHSM project"
    assert listed["pin"] == {
        "triesLeft": "ok",
        "pinpad": False,
        "initialized": True,
        "toBeChanged": False,
    }
    by_subject = {c["subject"]: c for c in listed["certificates"]}
    rsa = by_subject[token.rsa.subject.rfc4514_string()]
    assert rsa["keyType"] == "RSA" and rsa["id"] == "01" and not rsa["ca"]
    assert by_subject[token.ec.subject.rfc4514_string()]["keyType"] == "EC"
    assert by_subject[token.ca.cert.subject.rfc4514_string()]["ca"]
    assert rsa["notAfter"] == token.rsa.not_valid_after_utc.isoformat()
    assert len(by_subject) == 4


def test_tokens_human_output_and_a_broken_module_is_reported_not_fatal(
    token: SessionToken, tmp_path: Path
) -> None:
    broken = tmp_path / "vnptca_p11_v8.so"
    broken.write_bytes(b"\x7fELF broken")
    modules = ["--pkcs11-module", str(broken), "--pkcs11-module", str(token.hsm.module)]
    done = run_cli("tokens", *modules, "--lang", "en", env=isolated_env(token, tmp_path))
    assert done.returncode == 0, done.stderr
    assert f"Module {broken} [FAILED]" in done.stdout
    assert f"Token '{token.label}'" in done.stdout
    assert "Nguyễn Văn An" in done.stdout
    assert "tries:ok" in done.stdout
    # In the user's language, Vietnamese unless told otherwise (the message catalogue's).
    vietnamese = run_cli("tokens", *modules, env=isolated_env(token, tmp_path))
    assert vietnamese.returncode == 0, vietnamese.stderr
    assert f"Mô-đun {broken} [LỖI]" in vietnamese.stdout
    assert f"Token '{token.label}' số sê-ri" in vietnamese.stdout


def test_tokens_reads_modules_from_the_config_file(token: SessionToken, tmp_path: Path) -> None:
    config = tmp_path / "kyso.toml"
    config.write_text(f'pkcs11_modules = ["{token.hsm.module}"]\n')
    done = run_cli("tokens", "--json", "--config", str(config), env=isolated_env(token, tmp_path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["modules"][0]["tokens"][0]["label"] == token.label


def test_bad_configuration_exits_2_with_a_message(token: SessionToken, tmp_path: Path) -> None:
    done = run_cli(
        "serve", "--allow-origin", "http://portal.gov.vn", env=isolated_env(token, tmp_path)
    )
    assert done.returncode == 2
    assert "plain http is only allowed for localhost" in done.stderr


def test_port_in_use_is_a_clear_error(token: SessionToken, tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = run_cli(
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
            "--pkcs11-module",
            str(token.hsm.module),
            env=isolated_env(token, tmp_path),
        )
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr


def test_python_dash_m_agent_and_version() -> None:
    done = run_cli("--version")
    assert done.returncode == 0 and done.stdout.startswith("kyso-agent ")
    # The helpdesk's first question: which Python runs it (the MSI ships its own).
    assert f"(CPython {platform.python_version()})" in done.stdout
    # Without a command the agent runs (`kyso-agent run`, the tray); --help lists them all.
    helped = run_cli("--help")
    assert helped.returncode == 0
    for command in ("run", "serve", "tokens", "origins", "audit"):
        assert command in helped.stdout


def test_a_module_listed_twice_is_loaded_once(token: SessionToken, tmp_path: Path) -> None:
    link = tmp_path / "libsofthsm2-link.so"
    link.symlink_to(token.hsm.module)
    done = run_cli(
        "tokens",
        "--json",
        "--pkcs11-module",
        str(link),
        "--pkcs11-module",
        str(token.hsm.module),
        env=isolated_env(token, tmp_path),
    )
    assert done.returncode == 0, done.stderr
    [module] = json.loads(done.stdout)["modules"]
    assert module["loaded"] and module["tokens"][0]["label"] == token.label
