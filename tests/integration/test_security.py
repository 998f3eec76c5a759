"""Security properties of the real server on SoftHSM: each test fails without its property.

See docs/security.md for the threat model these tests back.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization

from agent.config import DEFAULT_PORT, DEFAULT_PORT_RANGE
from tests.conftest import (
    _WITH_POLICY,
    PIN,
    PORTAL,
    WRONG_PIN,
    AgentProcess,
    SessionToken,
    run_cli,
    start_agent,
)
from tests.verify import b64, digest_of

pytestmark = pytest.mark.integration

PAIRABLE = "https://mot-cua.hue.tinh.gov.vn"  # admitted only by the wildcard entry


def sign_body(token: SessionToken, text: bytes = b"doc") -> dict[str, str]:
    cert = token.rsa.public_bytes(serialization.Encoding.DER)
    return {"hash": b64(digest_of(text)), "hashAlgorithm": "SHA-256", "certificate": b64(cert)}


def cli_env(agent: AgentProcess) -> dict[str, str]:
    home = agent.data_dir.parent / "home"
    return {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}


@pytest.fixture
def own_agent(token: SessionToken, tmp_path: Path) -> Iterator[AgentProcess]:
    """A private agent (state such as pairing and back-off does not leak between tests)."""
    running = start_agent(tmp_path, token.hsm, "--prompt-timeout", "20")
    yield running
    running.stop()


# --- pairing -------------------------------------------------------------------------------


def test_wildcard_origin_is_paired_on_first_use_and_revocable(
    own_agent: AgentProcess, token: SessionToken
) -> None:
    own_agent.script({"approved": True, "pin": PIN}, {"approved": True, "pin": PIN})
    assert own_agent.post("/v1/sign", sign_body(token), origin=PAIRABLE).status == 200
    assert own_agent.post("/v1/sign", sign_body(token), origin=PAIRABLE).status == 200
    first, second = own_agent.prompts()
    assert first["firstUse"] is True
    assert second["firstUse"] is False

    data = ["--data-dir", str(own_agent.data_dir)]
    listed = run_cli("origins", *data, "list", "--json", env=cli_env(own_agent))
    assert [p["origin"] for p in json.loads(listed.stdout)["paired"]] == [PAIRABLE]
    revoked = run_cli("origins", *data, "revoke", PAIRABLE, env=cli_env(own_agent))
    assert revoked.returncode == 0, revoked.stderr

    own_agent.script({"approved": True, "pin": PIN})
    assert own_agent.post("/v1/sign", sign_body(token), origin=PAIRABLE).status == 200
    assert own_agent.prompts()[0]["firstUse"] is True, "revoking makes the next use a first use"


def test_declined_first_use_does_not_pair(own_agent: AgentProcess, token: SessionToken) -> None:
    own_agent.script({"approved": False}, {"approved": False})
    own_agent.post("/v1/certificates", {}, origin=PAIRABLE)
    own_agent.post("/v1/certificates", {}, origin=PAIRABLE)
    assert [p["firstUse"] for p in own_agent.prompts()] == [True, True]


def test_exactly_listed_origins_are_pre_approved(fresh: AgentProcess, token: SessionToken) -> None:
    fresh.script({"approved": True, "pin": PIN})
    assert fresh.post("/v1/sign", sign_body(token)).status == 200
    assert fresh.prompts()[0]["firstUse"] is False


def test_policy_can_forbid_pairing(token: SessionToken, tmp_path: Path) -> None:
    running = start_agent(tmp_path, token.hsm, policy={"allow_user_pairing": False})
    try:
        running.script({"approved": True, "pin": PIN})
        refused = running.post("/v1/sign", sign_body(token), origin=PAIRABLE)
        assert refused.error_code == "ORIGIN_NOT_ALLOWED"
        assert running.prompts() == []
        assert running.post("/v1/sign", sign_body(token), origin=PORTAL).status == 200
    finally:
        running.stop()


def test_every_signature_is_asked_even_for_a_paired_origin(
    own_agent: AgentProcess, token: SessionToken
) -> None:
    own_agent.script(*[{"approved": True, "pin": PIN}] * 3)
    for index in range(3):
        assert (
            own_agent.post("/v1/sign", sign_body(token, bytes([index])), origin=PAIRABLE).status
            == 200
        )
    assert len(own_agent.prompts()) == 3


# --- PIN safety ----------------------------------------------------------------------------


def test_without_cache_policy_every_signature_needs_a_typed_pin(
    fresh: AgentProcess, token: SessionToken
) -> None:
    fresh.script({"approved": True, "pin": PIN}, {"approved": True})
    assert fresh.post("/v1/sign", sign_body(token)).status == 200
    second = fresh.post("/v1/sign", sign_body(token))
    assert second.error_code == "USER_CANCELLED"
    assert fresh.prompts()[1]["pin"]["required"] is True
    assert fresh.prompts()[1]["pin"]["cached"] is False


def test_pin_cache_by_policy_is_used_and_forgotten_after_a_wrong_pin(
    token: SessionToken, tmp_path: Path
) -> None:
    running = start_agent(tmp_path, token.hsm, policy={"pin_cache_minutes": 5})
    try:
        running.script(
            {"approved": True, "pin": PIN},  # typed: cached
            {"approved": True},  # cached PIN used, still asked
            {"approved": True, "pin": WRONG_PIN},  # typed wrong: cache cleared
            {"approved": True, "pin": PIN},  # asked again, PIN required
        )
        for _ in range(3):
            assert running.post("/v1/sign", sign_body(token)).status == 200
        prompts = running.prompts()
        assert len(prompts) == 4, "every signature is still asked"
        assert prompts[0]["pin"] == {
            "required": True,
            "pinpad": False,
            "triesLeft": "ok",
            "cached": False,
        }
        assert prompts[1]["pin"]["cached"] is True and prompts[1]["pin"]["required"] is False
        assert prompts[3]["retry"] == {"reason": "PIN_INCORRECT"}
        assert prompts[3]["pin"]["required"] is True and prompts[3]["pin"]["cached"] is False
    finally:
        running.stop()


def test_pin_cache_minutes_is_policy_only(token: SessionToken, tmp_path: Path) -> None:
    config = tmp_path / "user.toml"
    config.write_text("pin_cache_minutes = 30\n")
    done = run_cli("serve", "--config", str(config), env={**os.environ, "HOME": str(tmp_path)})
    assert done.returncode == 2
    assert "can only be set by machine policy" in done.stderr


def test_policy_can_forbid_an_external_prompter(token: SessionToken, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text("allow_external_prompter = false\n")
    done = subprocess.run(
        [sys.executable, "-c", _WITH_POLICY, str(policy), "serve", "--prompter", "cat"],
        capture_output=True,
        text=True,
        env={**token.hsm.environ(), "HOME": str(tmp_path)},
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert "policy forbids an external prompter" in done.stderr


# --- abuse limits --------------------------------------------------------------------------


def test_xss_burst_gets_one_prompt_at_a_time_and_busy_beyond_the_queue(
    own_agent: AgentProcess, token: SessionToken
) -> None:
    own_agent.script(*[{"approved": True, "pin": PIN, "sleep": 0.3}] * 12)
    with ThreadPoolExecutor(12) as pool:
        responses = list(
            pool.map(lambda i: own_agent.post("/v1/sign", sign_body(token, bytes([i]))), range(12))
        )
    statuses = sorted(r.status for r in responses)
    busy = [r for r in responses if r.status == 429]
    assert all(r.error_code == "BUSY" for r in busy)
    assert statuses.count(200) == 5, statuses  # one open prompt + four waiting
    assert len(busy) == 7
    assert len(own_agent.prompts()) == 5
    assert all(r.status in (200, 429) for r in responses), "no 5xx under a burst"


def test_repeated_cancels_delay_the_next_prompt_but_not_validation(
    own_agent: AgentProcess, token: SessionToken
) -> None:
    own_agent.script({"approved": False}, {"approved": False}, {"approved": False})
    for _ in range(2):
        assert own_agent.post("/v1/sign", sign_body(token)).error_code == "USER_CANCELLED"
    results: list[float] = []

    def delayed() -> None:
        started = time.monotonic()
        own_agent.post("/v1/sign", sign_body(token))
        results.append(time.monotonic() - started)

    worker = threading.Thread(target=delayed)
    worker.start()
    time.sleep(0.3)
    started = time.monotonic()
    bad = own_agent.post("/v1/sign", {"hash": "x"})
    answered_in = time.monotonic() - started
    worker.join(30)
    assert bad.error_code == "BAD_REQUEST", "validation is not held back"
    assert answered_in < 1.0
    assert results[0] >= 1.9, f"third prompt came after {results[0]:.2f} s"


# --- callers on a multi-user host ---------------------------------------------------------

_CLIENT = """
import http.client, ssl, sys
insecure = ssl._create_unverified_context()  # this client tests the server, not its certificate
c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), context=insecure, timeout=20)
try:
    c.request("GET", "/v1/info", headers={"Host": "127.0.0.1:" + sys.argv[1]})
    r = c.getresponse(); print(r.status, r.read().decode())
except (OSError, http.client.HTTPException) as exc:  # ssl.SSLError is an OSError
    print("closed before TLS:", type(exc).__name__)
"""


def _python_for_everyone() -> str | None:
    """A Python interpreter that another user may run (the venv's may live under /root)."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        if os.path.exists(candidate) and os.stat(os.path.realpath(candidate)).st_mode & 0o001:
            return candidate
    return None


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another user")
def test_connections_from_another_os_user_are_refused(agent: AgentProcess) -> None:
    python = _python_for_everyone()
    if python is None:
        pytest.skip("no Python interpreter that user 65534 may run")

    def as_user(uid: int) -> str:
        return subprocess.run(
            [python, "-c", _CLIENT, str(agent.port)],
            capture_output=True,
            text=True,
            user=uid,
            group=uid,
            extra_groups=[],
            timeout=30,
            check=True,
            cwd="/",
        ).stdout

    # Refused at accept, before TLS (agent/server/connections.py): not a byte of HTTP is answered.
    other = as_user(65534)
    assert other.startswith("closed before TLS:"), other
    same = as_user(os.geteuid())
    assert same.startswith("200 ")


_SEND_AND_CLOSE = """
import base64, json, os, socket, ssl, sys
port, origin, path, rounds = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
insecure = ssl._create_unverified_context()  # this client tests the server, not its certificate
if path == "/v1/sign":
    body = json.dumps({"hash": base64.b64encode(os.urandom(32)).decode(),
                       "hashAlgorithm": "SHA-256", "documentName": "race.pdf"}).encode()
    head = (f"POST /v1/sign HTTP/1.1\\r\\nHost: 127.0.0.1:{port}\\r\\nOrigin: {origin}\\r\\n"
            f"Content-Type: application/json\\r\\nContent-Length: {len(body)}\\r\\n\\r\\n")
    request = head.encode() + body
else:  # a VGCA WebSocket upgrade
    request = (f"GET /SignHash HTTP/1.1\\r\\nHost: 127.0.0.1:{port}\\r\\nOrigin: {origin}\\r\\n"
               "Upgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Version: 13\\r\\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n\\r\\n").encode()
for _ in range(rounds):
    # The request, then the socket closes at once: a closed socket that still has data to
    # deliver lingers as an orphan that Linux reports with uid 0, what the caller-check race
    # needed against an agent running as root.
    try:
        with insecure.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5)) as tls:
            tls.sendall(request)
    except OSError:
        pass
print("done")
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another user")
def test_another_user_sending_and_closing_at_once_never_reaches_the_question(
    token: SessionToken, tmp_path: Path
) -> None:
    """The caller-check race: an agent running as root, another user's clients that send
    their request and close at once, on the HTTPS API and the VGCA port. The check is made at
    accept, on an ESTABLISHED socket only, so none of them is ever asked about."""
    python = _python_for_everyone()
    if python is None:
        pytest.skip("no Python interpreter that user 65534 may run")
    running = start_agent(tmp_path, token.hsm, vgca=True)
    try:
        running.script(*[{"approved": True, "pin": PIN}] * 100)
        assert running.vgca_port is not None
        for port, path in ((running.port, "/v1/sign"), (running.vgca_port, "/SignHash")):
            done = subprocess.run(
                [python, "-c", _SEND_AND_CLOSE, str(port), PORTAL, path, "50"],
                capture_output=True,
                text=True,
                user=65534,
                group=65534,
                extra_groups=[],
                timeout=120,
                check=True,
                cwd="/",
            )
            assert done.stdout.strip() == "done", done.stderr
        assert running.prompts() == []
        assert "another user of this computer was refused" in running.log_text()
        # The owner is served all the same.
        assert running.request("GET", "/v1/info", origin=None).status == 200
    finally:
        running.stop()


def test_default_port_moves_on_when_taken(token: SessionToken, tmp_path: Path) -> None:
    with socket.socket() as squatter:
        try:
            squatter.bind(("127.0.0.1", DEFAULT_PORT))
        except OSError:
            pytest.skip("port 8988 is already in use on this machine")
        squatter.listen()
        running = start_agent(tmp_path, token.hsm, port="")
        try:
            assert running.port in DEFAULT_PORT_RANGE
            assert running.port != DEFAULT_PORT
            assert running.request("GET", "/v1/info", origin=None).status == 200
        finally:
            running.stop()


# --- wire hardening ------------------------------------------------------------------------


def test_every_response_carries_security_headers(agent: AgentProcess) -> None:
    for response in (
        agent.request("GET", "/v1/info", origin=None),
        agent.post("/v1/sign", {}, origin="https://evil.example"),
        agent.request("GET", "/v1/missing", origin=None),
    ):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_overlong_and_unicode_origins(token: SessionToken, tmp_path: Path) -> None:
    running = start_agent(tmp_path, token.hsm, "--allow-origin", "https://bộ-nội-vụ.gov.vn")
    try:
        running.script({"approved": True, "pin": PIN})
        punycode = "https://xn--b-ni-v-3n8bc5i.gov.vn"
        assert running.post("/v1/sign", sign_body(token), origin=punycode).status == 200
        assert running.prompts()[0]["origin"] == punycode
        long_origin = "https://" + "a" * 250 + ".gov.vn"
        assert running.post("/v1/sign", sign_body(token), origin=long_origin).error_code == (
            "ORIGIN_NOT_ALLOWED"
        )
    finally:
        running.stop()


# --- audit trail ---------------------------------------------------------------------------


def test_audit_trail_records_every_consent_and_never_the_pin(
    own_agent: AgentProcess, token: SessionToken
) -> None:
    own_agent.script(
        {"approved": True, "pin": WRONG_PIN}, {"approved": True, "pin": PIN}, {"approved": False}
    )
    body = {**sign_body(token, b"audit"), "documentName": "Tờ trình 7.pdf"}
    assert own_agent.post("/v1/sign", body).status == 200
    assert own_agent.post("/v1/sign", body).error_code == "USER_CANCELLED"
    assert own_agent.post("/v1/sign", body, origin="https://evil.example").status == 403
    done = run_cli("audit", "--json", "--data-dir", str(own_agent.data_dir), env=cli_env(own_agent))
    assert done.returncode == 0, done.stderr
    entries = json.loads(done.stdout)["entries"]
    assert [e["outcome"] for e in entries] == ["signed", "USER_CANCELLED"]
    signed = entries[0]
    assert signed["origin"] == PORTAL and signed["action"] == "sign"
    assert signed["documents"][0]["name"] == "Tờ trình 7.pdf"
    assert signed["documents"][0]["digest"] == digest_of(b"audit").hex()
    assert signed["certificate_serial"] == format(token.rsa.serial_number, "x")
    assert signed["signatures"] == 1
    text = run_cli("audit", "--data-dir", str(own_agent.data_dir), env=cli_env(own_agent)).stdout
    assert "USER_CANCELLED" in text and PORTAL in text
    for path in own_agent.data_dir.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            assert PIN.encode() not in raw and WRONG_PIN.encode() not in raw, path


def test_certificate_in_audit_matches_the_token(
    own_agent: AgentProcess, token: SessionToken
) -> None:
    own_agent.script({"approved": True, "certificate": "Trần"})
    response = own_agent.post("/v1/certificates", {})
    assert response.status == 200
    done = run_cli("audit", "--json", "--data-dir", str(own_agent.data_dir), env=cli_env(own_agent))
    [entry] = json.loads(done.stdout)["entries"]
    assert entry["outcome"] == "certificate-given"
    assert entry["certificate_subject"] == token.ec.subject.rfc4514_string()
    assert entry["certificate_sha256"] == token.ec.fingerprint(hashes.SHA256()).hex()
    assert entry["documents"] == []


def test_a_bogus_certificate_choice_neither_pairs_nor_resets_back_off(
    own_agent: AgentProcess, token: SessionToken
) -> None:
    own_agent.script({"raw": '{"approved": true, "certificateId": "not-offered", "pin": "x"}'})
    response = own_agent.post("/v1/sign", sign_body(token), origin=PAIRABLE)
    assert response.error_code == "USER_CANCELLED"
    data = ["--data-dir", str(own_agent.data_dir)]
    listed = run_cli("origins", *data, "list", "--json", env=cli_env(own_agent))
    assert json.loads(listed.stdout)["paired"] == []
