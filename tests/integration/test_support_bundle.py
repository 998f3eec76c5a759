"""``kyso-agent support-bundle`` against the real agent on a SoftHSM token.

The agent signs first, so that its audit trail and log have rows; then the bundle is made
while it runs (its report is asked of it) and after it stopped (the command reads the token
itself). Every part must be in the zip, and no PIN, no private key (no PEM block, no PKCS#8
header, not the local TLS key) and not the agent's control secret anywhere in it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from agent.instance import read_instance
from agent.localtls.ca import TlsFiles
from agent.status.bundle import FILES
from tests.conftest import PIN, PORTAL, AgentProcess, SessionToken, run_cli, start_agent

pytestmark = pytest.mark.integration

DOCUMENT = "Tờ trình 15-TTr.pdf"
#: The start of a PKCS#8 PrivateKeyInfo (version 0, then the algorithm): RSA and EC keys.
PKCS8_HEADERS = (
    bytes.fromhex("020100300d06092a864886f70d0101010500"),
    bytes.fromhex("020100301306072a8648ce3d0201"),
)


def sign_once(agent: AgentProcess, token: SessionToken) -> None:
    agent.script({"approved": True, "pin": PIN})
    response = agent.post(
        "/v1/sign",
        {
            "hash": base64.b64encode(hashlib.sha256(b"bundle").digest()).decode(),
            "hashAlgorithm": "SHA-256",
            "certificate": base64.b64encode(
                token.rsa.public_bytes(serialization.Encoding.DER)
            ).decode(),
            "documentName": DOCUMENT,
        },
    )
    assert response.status == 200, response.body


def plant_log_lines(agent: AgentProcess, secret: str | None = None) -> None:
    """Lines no agent writes, which the bundle must still scrub: a PIN, and the control secret
    of the running agent (known by value while it runs: its ``agent.instance.json``)."""
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S,000")
    with (agent.data_dir / "logs" / "agent.log").open("a", encoding="utf-8") as log:
        log.write(f"{stamp} ERROR agent.test: the module said pin={PIN} was wrong\n")
        log.write(f"{stamp} INFO agent.test: a user typed PIN {PIN} in a chat\n")
        if secret is not None:
            log.write(f"{stamp} INFO agent.test: control secret {secret} planted\n")


def isolated_env(token: SessionToken, home: Path) -> dict[str, str]:
    """A home with a Desktop and a user file setting ``prompt_timeout``."""
    (home / "Desktop").mkdir(parents=True, exist_ok=True)
    (home / ".config" / "kyso-agent").mkdir(parents=True, exist_ok=True)
    (home / ".config" / "kyso-agent" / "config.toml").write_text("prompt_timeout = 30\n")
    return {**token.hsm.environ(), "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}


def bundle(token: SessionToken, agent: AgentProcess, home: Path, *args: str) -> Path:
    """Run the command (on the agent's data directory and module); the zip it printed."""
    done = run_cli(
        "support-bundle",
        "--data-dir",
        str(agent.data_dir),
        "--pkcs11-module",
        str(token.hsm.module),
        *args,
        env=isolated_env(token, home),
    )
    assert done.returncode == 0, done.stderr
    saved = Path(done.stdout.strip())
    assert saved.is_file(), done.stdout
    return saved


def unzip(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def assert_nothing_secret(files: dict[str, bytes], agent: AgentProcess, secret: str) -> None:
    tls_key = TlsFiles(agent.data_dir / "tls").server_key.read_text()
    key_lines = [line for line in tls_key.splitlines() if line and not line.startswith("-----")]
    assert key_lines
    for name, content in files.items():
        assert PIN.encode() not in content, f"the PIN is in {name}"
        assert secret.encode() not in content, f"the control secret is in {name}"
        assert b"PRIVATE KEY" not in content, f"a PEM private key is in {name}"
        for header in PKCS8_HEADERS:
            assert header not in content, f"a PKCS#8 private key is in {name}"
            assert base64.b64encode(header)[:16] not in content
        for line in key_lines:
            assert line.encode() not in content, f"the local TLS key is in {name}"


@pytest.fixture(scope="module")
def running(
    token: SessionToken, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentProcess]:
    agent = start_agent(tmp_path_factory.mktemp("bundle-agent"), token.hsm, "--lang", "vi")
    sign_once(agent, token)
    yield agent
    agent.stop()


def test_the_bundle_of_a_running_agent_has_every_part_and_no_secret(
    running: AgentProcess, token: SessionToken, tmp_path: Path
) -> None:
    info = read_instance(running.data_dir)
    assert info is not None
    plant_log_lines(running, info.secret)
    target = tmp_path / "out" / "for-the-helpdesk.zip"
    target.parent.mkdir()

    saved = bundle(token, running, tmp_path / "home", "-o", str(target), "--lang", "en")

    assert saved == target
    files = unzip(saved)
    assert list(files) == list(FILES)
    assert_nothing_secret(files, running, info.secret)

    report = json.loads(files["status.json"])
    assert report["agent"]["running"] is True and report["agent"]["port"] == running.port
    assert [t["label"] for t in report["tokens"]] == [token.label]
    assert report["audit"][-1]["outcome"] == "signed"
    status_text = files["status.txt"].decode()
    assert status_text.startswith("KYSO AGENT STATUS REPORT")
    assert f"State: running on port {running.port}" in status_text

    config = json.loads(files["config.json"])
    home_file = tmp_path / "home" / ".config" / "kyso-agent" / "config.toml"
    assert config["user_file"] == str(home_file)
    settings = {s["key"]: s for s in config["settings"]}
    assert (settings["prompt_timeout"]["value"], settings["prompt_timeout"]["source"]) == (
        30.0,
        "user-file",
    )
    assert settings["pkcs11_modules"]["value"] == [str(token.hsm.module)]
    assert settings["pkcs11_modules"]["source"] == "command-line"
    assert (settings["lang"]["value"], settings["lang"]["source"]) == ("en", "command-line")
    assert settings["log_level"]["source"] == "default"

    system = json.loads(files["system.json"])
    assert system["os"] and system["python"] and system["agent_version"]
    [module] = system["modules"]
    assert module["path"] == str(token.hsm.module) and module["loaded"]
    assert "SoftHSM" in (module["description"] or "")
    assert module["sha256"] == hashlib.sha256(token.hsm.module.read_bytes()).hexdigest()

    entries = json.loads(files["audit.json"])["entries"]
    signed = [e for e in entries if e["outcome"] == "signed"]
    assert signed and signed[-1]["origin"] == PORTAL
    assert signed[-1]["documents"][0]["name"] == DOCUMENT

    log = files["agent.log"].decode()
    assert "listening on https://127.0.0.1:" in log
    assert "the module said pin=*** was wrong" in log
    assert "a user typed PIN *** in a chat" in log
    assert "control secret *** planted" in log

    readme = files["README.txt"].decode()
    assert readme.startswith("KYSO AGENT SUPPORT BUNDLE")
    assert "It holds no PIN, no private key" in readme


def test_without_a_running_agent_the_command_reads_the_token_itself(
    token: SessionToken, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    agent = start_agent(tmp_path_factory.mktemp("bundle-stopped"), token.hsm)
    try:
        sign_once(agent, token)
        info = read_instance(agent.data_dir)
        assert info is not None
        plant_log_lines(agent)  # its secret died with it; no agent ever logs it
    finally:
        agent.stop()
    home = tmp_path / "home"

    saved = bundle(token, agent, home)  # no -o: on the Desktop, in Vietnamese

    assert saved.parent == home / "Desktop"
    assert saved.name.startswith("kyso-agent-support-") and saved.suffix == ".zip"
    files = unzip(saved)
    assert list(files) == list(FILES)
    assert_nothing_secret(files, agent, info.secret)
    report = json.loads(files["status.json"])
    assert report["agent"]["running"] is False
    assert [t["label"] for t in report["tokens"]] == [token.label]
    assert "Kyso Agent KHÔNG chạy" in files["status.txt"].decode()
    assert files["README.txt"].decode().startswith("GÓI HỖ TRỢ KYSO AGENT")
    [entry] = json.loads(files["audit.json"])["entries"]
    assert entry["documents"][0]["name"] == DOCUMENT


def test_the_command_refuses_to_overwrite_and_says_what_it_cannot_write(
    token: SessionToken, tmp_path: Path
) -> None:
    env = isolated_env(token, tmp_path / "home")
    common = ("--data-dir", str(tmp_path / "data"), "--pkcs11-module", str(token.hsm.module))
    target = tmp_path / "b.zip"
    target.write_bytes(b"an earlier bundle")

    kept = run_cli("support-bundle", "-o", str(target), "--lang", "en", *common, env=env)
    assert kept.returncode == 1
    assert kept.stderr.startswith(f"kyso-agent: exists: {target} already exists"), kept.stderr
    assert target.read_bytes() == b"an earlier bundle"

    forced = run_cli("support-bundle", "-o", str(target), "--force", *common, env=env)
    assert (forced.returncode, forced.stdout.strip()) == (0, str(target)), forced.stderr
    assert list(unzip(target)) == list(FILES)

    missing = run_cli("support-bundle", "-o", str(tmp_path / "no" / "b.zip"), *common, env=env)
    assert missing.returncode == 1
    assert missing.stderr.startswith("kyso-agent: no-folder: "), missing.stderr
    if Path("/proc/self").is_dir():
        refused = run_cli("support-bundle", "-o", "/proc/b.zip", "--lang", "en", *common, env=env)
        assert refused.returncode == 1
        # Found only when writing, after the report was made (its log lines come first).
        last = refused.stderr.splitlines()[-1]
        assert last.startswith("kyso-agent: not-writable: Cannot write in the folder /proc")
    # Reading the token for the report created nothing in the data directory.
    assert not (tmp_path / "data").exists()
