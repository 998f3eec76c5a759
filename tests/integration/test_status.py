"""The helpdesk report against a SoftHSM token whose certificate expires in 10 days.

The real agent serves it at ``GET /`` (HTML, top-level navigation only) and
``GET /status.json``; ``kyso-agent status`` asks that agent, or reads the token
itself when none runs.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.server.status_page import PAGE_CSP
from agent.testing.softhsm import KeySpec, SoftHsm, TestCa, TokenSpec, new_token
from tests.conftest import PIN, PORTAL, WILDCARD, AgentProcess, Response, run_cli, start_agent

pytestmark = pytest.mark.integration

HOLDER = "Phạm Thị Gần Hết"
LABEL = "KYSO-EXPIRING"
#: What a browser sends when the user types the address or opens a bookmark.
NAVIGATION = {
    "Sec-Fetch-Dest": "document",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Site": "none",
    "Sec-Fetch-User": "?1",
    "Accept": "text/html",
}


@dataclass(frozen=True)
class ExpiringToken:
    hsm: SoftHsm
    cert: x509.Certificate


@pytest.fixture(scope="module")
def expiring(tmp_path_factory: pytest.TempPathFactory) -> ExpiringToken:
    """A token with one signing certificate valid for 10 more days."""
    root = tmp_path_factory.mktemp("status-hsm")
    hsm, [made] = new_token(
        root,
        TokenSpec(LABEL, PIN, keys=(KeySpec("11", "RSA", HOLDER, "Sở Tư pháp", valid_days=10),)),
        TestCa.create("Kyso Status CA"),
    )
    return ExpiringToken(hsm, made.certificate)


@pytest.fixture(scope="module")
def running(
    expiring: ExpiringToken, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentProcess]:
    agent = start_agent(tmp_path_factory.mktemp("status-agent"), expiring.hsm, "--lang", "vi")
    yield agent
    agent.stop()


def days_left_now(cert: x509.Certificate) -> int:
    """Calendar days left in local time, as the report counts them (10 unless a midnight
    passed since the token was made)."""
    now = datetime.now().astimezone()
    return (cert.not_valid_after_utc.astimezone(now.tzinfo).date() - now.date()).days


def sign_once(agent: AgentProcess, cert: x509.Certificate) -> None:
    agent.script({"approved": True, "pin": PIN})
    response = agent.post(
        "/v1/sign",
        {
            "hash": base64.b64encode(hashlib.sha256(b"status").digest()).decode(),
            "hashAlgorithm": "SHA-256",
            "certificate": base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode(),
            "documentName": "Báo cáo tháng.pdf",
        },
    )
    assert response.status == 200, response.body


def page(agent: AgentProcess, path: str = "/", **headers: str) -> Response:
    return agent.request("GET", path, origin=None, headers={**NAVIGATION, **headers})


def test_page_shows_token_certificate_days_left_origins_and_the_last_signature(
    running: AgentProcess, expiring: ExpiringToken
) -> None:
    sign_once(running, expiring.cert)
    response = page(running)
    assert response.status == 200, response.body
    assert response.headers["Content-Type"].startswith("text/html")
    body = response.body.decode()
    assert HOLDER in body
    assert LABEL in body
    assert f"còn {days_left_now(expiring.cert)} ngày — SẮP HẾT HẠN" in body
    assert PORTAL in body and html.escape(WILDCARD) in body
    # The audit line of the signature just made: origin, outcome, document.
    assert f"{PORTAL} ký: signed" in body
    assert "Báo cáo tháng.pdf" in body
    # The page proves the browser's trust by opening at all.
    assert "trình duyệt này tin cậy" in body
    assert "<script" not in body


def test_page_headers_forbid_framing_scripts_caching_and_cors(running: AgentProcess) -> None:
    response = page(running)
    assert response.status == 200
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Content-Security-Policy"] == PAGE_CSP
    assert response.headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in response.headers
    # The API keeps its own stricter policy.
    info = running.request("GET", "/v1/info", origin=None)
    assert info.headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_page_in_english_when_the_browser_asks(running: AgentProcess) -> None:
    body = page(running, **{"Accept-Language": "en-US,en;q=0.9"}).body.decode()
    assert "KYSO AGENT STATUS REPORT" in body and "EXPIRING" in body


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/", {"Sec-Fetch-Dest": "iframe", "Sec-Fetch-Mode": "navigate"}),
        ("/", {"Sec-Fetch-Dest": "empty", "Sec-Fetch-Mode": "cors"}),
        ("/", {"Sec-Fetch-Dest": "document", "Sec-Fetch-Mode": "no-cors"}),
        ("/", {"Origin": PORTAL}),
        ("/", {"Origin": "https://evil.example"}),
        ("/status.json", {"Origin": PORTAL}),
        ("/status.json", {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Dest": "empty"}),
        ("/status.json", {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Dest": "empty"}),
        ("/status.json", {"Sec-Fetch-Site": "none", "Sec-Fetch-Dest": "script"}),
    ],
)
def test_web_pages_get_no_report(running: AgentProcess, path: str, headers: dict[str, str]) -> None:
    response = running.request("GET", path, origin=None, headers=headers)
    assert (response.status, response.error_code) == (403, "ORIGIN_NOT_ALLOWED")
    assert "Access-Control-Allow-Origin" not in response.headers
    assert HOLDER.encode() not in response.body and LABEL.encode() not in response.body


def test_cors_preflight_for_the_report_is_refused_without_cors(running: AgentProcess) -> None:
    response = running.request(
        "OPTIONS",
        "/status.json",
        origin=PORTAL,
        headers={"Access-Control-Request-Method": "GET"},
    )
    assert response.status == 403
    assert "Access-Control-Allow-Origin" not in response.headers


def test_status_json_for_the_address_bar_and_the_command_line(running: AgentProcess) -> None:
    typed = running.request("GET", "/status.json", origin=None, headers={"Sec-Fetch-Site": "none"})
    assert typed.status == 200 and typed.json["agent"]["running"] is True
    bare = running.request("GET", "/status.json", origin=None)
    assert bare.status == 200
    assert bare.headers["Content-Type"].startswith("application/json")


def isolated_env(hsm: SoftHsm, home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {**hsm.environ(), "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}


def test_cli_status_asks_the_running_agent(
    running: AgentProcess, expiring: ExpiringToken, tmp_path: Path
) -> None:
    sign_once(running, expiring.cert)
    env = isolated_env(expiring.hsm, tmp_path)
    base = ("--data-dir", str(running.data_dir), "--port", str(running.port))
    done = run_cli("status", "--json", *base, env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["agent"]["running"] is True
    assert report["agent"]["port"] == running.port
    assert report["agent"]["uptime_seconds"] >= 0
    [token] = report["tokens"]
    assert (token["label"], token["pin"]) == (LABEL, "ok")
    [cert] = report["certificates"]
    assert cert["holder"] == HOLDER and cert["organization"] == "Sở Tư pháp"
    assert cert["validity"] == "expiring"
    assert cert["days_left"] == days_left_now(expiring.cert)
    assert cert["not_after"] == expiring.cert.not_valid_after_utc.isoformat()
    assert cert["issuer"] == "Kyso Status CA"
    assert report["allowed_origins"] == [PORTAL, WILDCARD]
    [module] = report["modules"]
    assert module["loaded"] and module["path"] == str(expiring.hsm.module)
    assert report["audit"][-1]["origin"] == PORTAL
    assert report["audit"][-1]["outcome"] == "signed"
    assert report["audit"][-1]["holder"] == HOLDER
    ca = x509.load_pem_x509_certificate((running.data_dir / "tls" / "ca.pem").read_bytes())
    digest = hashlib.sha256(ca.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    assert report["tls"]["ca_sha256"].replace(":", "") == digest
    assert report["tls"]["validity"] == "valid"

    english = run_cli("status", "--lang", "en", *base, env=env)
    assert english.returncode == 0, english.stderr
    assert f"State: running on port {running.port}" in english.stdout
    assert f"{HOLDER} (Sở Tư pháp) — issued by Kyso Status CA — on token {LABEL}" in english.stdout
    assert "NEEDS ATTENTION:" in english.stdout
    vietnamese = run_cli("status", *base, env=env)
    assert f"Trạng thái: đang chạy trên cổng {running.port}" in vietnamese.stdout
    assert "Chứng thư số của Phạm Thị Gần Hết sắp hết hạn" in vietnamese.stdout


def test_recent_log_errors_are_shown_without_anything_pin_like(running: AgentProcess) -> None:
    log_file = running.data_dir / "logs" / "agent.log"
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S,000")
    with log_file.open("a", encoding="utf-8") as handle:
        handle.write(f"{stamp} ERROR agent.test: module said pin=246810 was refused\n")
        handle.write(f"{stamp} INFO agent.test: an ordinary line\n")
    report = running.request("GET", "/status.json", origin=None).json
    mine = [line for line in report["recent_errors"] if "agent.test" in line]
    assert mine == [f"{stamp} ERROR agent.test: module said pin=*** was refused"]
    assert PIN not in json.dumps(report)


def test_stopped_agent_cli_reads_the_token_itself(
    expiring: ExpiringToken, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    agent = start_agent(tmp_path_factory.mktemp("status-stopped"), expiring.hsm)
    port = agent.port
    agent.stop()
    env = isolated_env(expiring.hsm, tmp_path)
    args = (
        "--data-dir",
        str(agent.data_dir),
        "--port",
        str(port),
        "--pkcs11-module",
        str(expiring.hsm.module),
    )
    done = run_cli("status", "--json", *args, env=env)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["agent"]["running"] is False
    assert report["agent"]["port"] is None
    assert [t["label"] for t in report["tokens"]] == [LABEL]
    assert report["certificates"][0]["holder"] == HOLDER
    text = run_cli("status", "--lang", "en", *args, env=env)
    assert text.returncode == 0, text.stderr
    assert "Kyso Agent is NOT running; kyso-agent status read the tokens itself." in text.stdout
    assert f"  {LABEL} — serial " in text.stdout
    vi = run_cli("status", *args, env=env)
    assert "Kyso Agent KHÔNG chạy" in vi.stdout


def test_no_token_and_no_module_are_said_plainly(tmp_path: Path) -> None:
    empty = SoftHsm(tmp_path / "hsm").create()
    env = isolated_env(empty, tmp_path / "home")
    done = run_cli(
        "status",
        "--lang",
        "en",
        "--data-dir",
        str(tmp_path / "data"),
        "--port",
        "1",
        "--pkcs11-module",
        str(empty.module),
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "No token seen: insert the USB token." in done.stdout
    assert "none yet (Kyso Agent never ran with this data directory)" in done.stdout
    # The report reads; it creates nothing.
    assert not (tmp_path / "data").exists()


@pytest.mark.skipif(shutil.which("certutil") is None, reason="certutil (libnss3-tools) missing")
def test_chrome_nss_database_trust_is_detected(
    running: AgentProcess, expiring: ExpiringToken, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    env = isolated_env(expiring.hsm, home)
    local = ("--data-dir", str(running.data_dir), "--pkcs11-module", str(expiring.hsm.module))

    def nss_check(*args: str) -> dict[str, str]:
        done = run_cli("status", "--json", *args, env=env)
        assert done.returncode == 0, done.stderr
        [check] = [c for c in json.loads(done.stdout)["tls"]["trust"] if c["store"] == "nss"]
        return {"trust": check["trust"], "reason": check["reason"]}

    # The running agent checks its own user's stores: its HOME has no NSS database.
    asked = nss_check("--data-dir", str(running.data_dir), "--port", str(running.port))
    assert asked == {"trust": "unknown", "reason": "no-database"}
    # Read locally (port 1: no agent there), with this HOME's database.
    certutil = ["certutil", "-d", f"sql:{nssdb}"]
    subprocess.run([*certutil, "-N", "--empty-password"], check=True, capture_output=True)
    assert nss_check(*local, "--port", "1") == {"trust": "not-trusted", "reason": "not-found"}
    ca_pem = str(running.data_dir / "tls" / "ca.pem")
    add = [*certutil, "-A", "-n", "Kyso Agent local CA", "-i", ca_pem]
    subprocess.run([*add, "-t", "c,,"], check=True, capture_output=True)
    assert nss_check(*local, "--port", "1") == {"trust": "not-trusted", "reason": "untrusted-entry"}
    subprocess.run(
        [*certutil, "-M", "-n", "Kyso Agent local CA", "-t", "C,,"], check=True, capture_output=True
    )
    assert nss_check(*local, "--port", "1") == {"trust": "trusted", "reason": "found"}
