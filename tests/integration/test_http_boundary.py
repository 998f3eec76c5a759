"""What the real server refuses before anything reaches the prompter or the token."""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PIN, PORTAL, AgentProcess, SessionToken, start_agent
from tests.verify import b64, digest_of

pytestmark = pytest.mark.integration

GOOD_SIGN = {"hash": b64(digest_of(b"ok")), "hashAlgorithm": "SHA-256"}


def test_info_answers_without_origin_and_reveals_no_identity(agent: AgentProcess) -> None:
    response = agent.request("GET", "/v1/info", origin=None)
    assert response.status == 200
    assert response.json["product"] == "kyso-agent"
    assert response.json["api"] == 1
    assert set(response.json) == {"product", "version", "api"}
    assert response.headers["Cache-Control"] == "no-store"


def test_openapi_is_served(agent: AgentProcess) -> None:
    response = agent.request("GET", "/v1/openapi.json", origin=None)
    assert response.status == 200
    assert response.json["openapi"].startswith("3.")
    assert "/v1/sign" in response.json["paths"]


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example",
        "null",
        "http://portal.example.gov.vn",  # plain http on a real host
        "https://portal.example.gov.vn.evil.com",
        "https://portal.example.gov.vn:8443",
        "https://tinh.gov.vn",  # the wildcard's parent itself is not admitted
        "https://xtinh.gov.vn",
    ],
)
def test_disallowed_origin_never_reaches_prompter(fresh: AgentProcess, origin: str) -> None:
    fresh.script({"approved": True, "pin": PIN})
    for path, body in (("/v1/sign", GOOD_SIGN), ("/v1/certificates", {})):
        response = fresh.post(path, body, origin=origin)
        assert (response.status, response.error_code) == (403, "ORIGIN_NOT_ALLOWED")
        assert "Access-Control-Allow-Origin" not in response.headers
    assert fresh.prompts() == []
    # The answer was not consumed either: the next allowed request gets it.
    assert fresh.post("/v1/sign", GOOD_SIGN).status == 200


def test_post_without_origin_is_refused(fresh: AgentProcess) -> None:
    response = fresh.post("/v1/sign", GOOD_SIGN, origin=None)
    assert (response.status, response.error_code) == (403, "ORIGIN_NOT_ALLOWED")
    assert fresh.prompts() == []


def test_wildcard_origin_is_allowed_and_shown_exactly(fresh: AgentProcess) -> None:
    fresh.script({"approved": True, "pin": PIN})
    origin = "https://vpdt.hue.tinh.gov.vn"
    response = fresh.post("/v1/sign", GOOD_SIGN, origin=origin)
    assert response.status == 200, response.body
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert fresh.prompts()[0]["origin"] == origin


@pytest.mark.parametrize(
    "host", ["evil.com", "evil.com:{port}", "127.0.0.1:1", "localhost.evil.com:{port}", ""]
)
def test_dns_rebinding_host_is_refused(fresh: AgentProcess, host: str) -> None:
    response = fresh.request(
        "POST",
        "/v1/sign",
        json.dumps(GOOD_SIGN).encode(),
        headers={"Host": host.format(port=fresh.port), "Content-Type": "application/json"},
    )
    assert (response.status, response.error_code) == (403, "HOST_NOT_ALLOWED")
    assert fresh.prompts() == []


@pytest.mark.parametrize("host", ["localhost:{port}", "[::1]:{port}", "127.0.0.1:{port}"])
def test_loopback_host_names_are_accepted(agent: AgentProcess, host: str) -> None:
    response = agent.request(
        "GET", "/v1/info", origin=None, headers={"Host": host.format(port=agent.port)}
    )
    assert response.status == 200


def test_cors_preflight_for_allowed_origin(agent: AgentProcess) -> None:
    response = agent.request(
        "OPTIONS",
        "/v1/sign",
        headers={
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL
    assert response.headers["Vary"] == "Origin"
    assert response.headers["Access-Control-Allow-Private-Network"] == "true"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Allow-Headers"] == "content-type"


def test_cors_preflight_without_private_network_request_has_no_pna_header(
    agent: AgentProcess,
) -> None:
    response = agent.request(
        "OPTIONS", "/v1/sign", headers={"Access-Control-Request-Method": "POST"}
    )
    assert response.status == 204
    assert "Access-Control-Allow-Private-Network" not in response.headers


def test_cors_preflight_for_an_unknown_path_is_404(agent: AgentProcess) -> None:
    response = agent.request(
        "OPTIONS", "/v1/nope", headers={"Access-Control-Request-Method": "POST"}
    )
    assert (response.status, response.error_code) == (404, "NOT_FOUND")


def test_cors_preflight_for_other_origin_gets_no_cors_headers(agent: AgentProcess) -> None:
    response = agent.request(
        "OPTIONS",
        "/v1/sign",
        origin="https://evil.example",
        headers={"Access-Control-Request-Method": "POST"},
    )
    assert response.status == 403
    assert not any(h.lower().startswith("access-control-") for h in response.headers)
    assert "*" not in response.headers.values()


def test_errors_for_allowed_origin_are_readable_by_the_page(fresh: AgentProcess) -> None:
    fresh.script({"approved": False})
    response = fresh.post("/v1/sign", GOOD_SIGN)
    assert response.error_code == "USER_CANCELLED"
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_non_json_body_is_415(fresh: AgentProcess, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = fresh.request("POST", "/v1/sign", json.dumps(GOOD_SIGN).encode(), headers=headers)
    assert (response.status, response.error_code) == (415, "UNSUPPORTED_MEDIA_TYPE")
    assert fresh.prompts() == []


def test_body_over_one_mebibyte_is_413(fresh: AgentProcess) -> None:
    big = {"items": [{"hash": "A" * 1024, "hashAlgorithm": "SHA-256"}] * 1100}
    response = fresh.post("/v1/sign/batch", big)
    assert (response.status, response.error_code) == (413, "PAYLOAD_TOO_LARGE")
    assert "1048576" in response.json["error"]["message"]


def test_chunked_body_over_limit_is_413(fresh: AgentProcess) -> None:
    """Without Content-Length the limit is enforced while reading."""
    conn = http.client.HTTPSConnection("127.0.0.1", fresh.port, context=fresh.tls, timeout=30)
    conn.request(
        "POST",
        "/v1/sign",
        body=iter([b"x" * 700_000, b"y" * 700_000]),
        headers={
            "Origin": PORTAL,
            "Content-Type": "application/json",
            "Transfer-Encoding": "chunked",
        },
        encode_chunked=True,
    )
    raw = conn.getresponse()
    body = json.loads(raw.read())
    conn.close()
    assert (raw.status, body["error"]["code"]) == (413, "PAYLOAD_TOO_LARGE")


@pytest.mark.parametrize(
    "extra",
    [
        {"pin": "123456"},
        {"userPin": "123456"},
        {"PIN": "1"},
        {"pin_code": "1"},
        {"password": "x"},
    ],
)
def test_request_carrying_a_pin_is_refused(fresh: AgentProcess, extra: dict[str, str]) -> None:
    response = fresh.post("/v1/sign", {**GOOD_SIGN, **extra})
    assert (response.status, response.error_code) == (400, "BAD_REQUEST")
    assert "PIN" in response.json["error"]["message"]
    assert fresh.prompts() == []


def test_pin_nested_in_batch_item_is_refused(fresh: AgentProcess) -> None:
    response = fresh.post("/v1/sign/batch", {"items": [{**GOOD_SIGN, "pin": "1"}]})
    assert (response.status, response.error_code) == (400, "BAD_REQUEST")
    assert "items.0.pin" in response.json["error"]["message"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({**GOOD_SIGN, "colour": "red"}, "unknown field"),
        ({"hashAlgorithm": "SHA-256"}, "missing field"),
        ({"hash": b64(b"\x00" * 31), "hashAlgorithm": "SHA-256"}, "31 bytes"),
        ({"hash": b64(digest_of(b"x")), "hashAlgorithm": "SHA-384"}, "48 bytes"),
        ({"hash": b64(digest_of(b"x")), "hashAlgorithm": "MD5"}, "hashAlgorithm"),
        ({"hash": "not base64!", "hashAlgorithm": "SHA-256"}, "base64"),
        ({**GOOD_SIGN, "scheme": "RAW"}, "scheme"),
        ({**GOOD_SIGN, "documentName": "a\u202eb"}, "control"),
        ({**GOOD_SIGN, "documentName": "a\u2066b\u2069"}, "invisible"),
        ({**GOOD_SIGN, "documentName": "a\u200fb"}, "invisible"),
        ({**GOOD_SIGN, "documentName": "QĐ\u2028hop-dong.pdf"}, "invisible"),
        ({**GOOD_SIGN, "documentName": "a\u200bb"}, "invisible"),
        ({**GOOD_SIGN, "documentName": "x" * 300}, "255"),
    ],
)
def test_bad_sign_requests_are_400_with_a_clear_message(
    fresh: AgentProcess, body: dict[str, object], fragment: str
) -> None:
    response = fresh.post("/v1/sign", body, headers={"Accept-Language": "en"})
    assert (response.status, response.error_code) == (400, "BAD_REQUEST")
    assert fragment in response.json["error"]["message"]
    assert fresh.prompts() == []


@pytest.mark.parametrize(
    "body",
    [
        {"items": []},
        {"items": [GOOD_SIGN] * 1001},
        {"items": "x"},
    ],
)
def test_bad_batches_are_400(fresh: AgentProcess, body: dict[str, object]) -> None:
    response = fresh.post("/v1/sign/batch", body)
    assert (response.status, response.error_code) == (400, "BAD_REQUEST")


@pytest.mark.parametrize("raw", [b"{", b"[]", b"\xff\xfe", b'"text"'])
def test_malformed_json_is_400(fresh: AgentProcess, raw: bytes) -> None:
    response = fresh.request("POST", "/v1/sign", raw, headers={"Content-Type": "application/json"})
    assert (response.status, response.error_code) == (400, "BAD_REQUEST")


def test_unknown_path_is_404_and_wrong_method_405(agent: AgentProcess) -> None:
    missing = agent.request("GET", "/v1/nothing", origin=None)
    assert (missing.status, missing.error_code) == (404, "NOT_FOUND")
    wrong = agent.request("GET", "/v1/sign")
    assert (wrong.status, wrong.error_code) == (405, "NOT_FOUND")
    assert "POST" in wrong.headers["Allow"]


def test_error_messages_follow_accept_language(agent: AgentProcess) -> None:
    vi = agent.post("/v1/sign", {}, origin="https://evil.example")
    en = agent.post(
        "/v1/sign", {}, origin="https://evil.example", headers={"Accept-Language": "en-US,en;q=0.9"}
    )
    assert vi.json["error"]["message"] != en.json["error"]["message"]
    assert "không" in vi.json["error"]["message"]
    assert "not allowed" in en.json["error"]["message"]


def test_a_bad_body_is_explained_in_one_language(agent: AgentProcess) -> None:
    """Not a Vietnamese frame around an English reason: the whole message in the asked language."""
    headers = {"Content-Type": "application/json"}
    vi = agent.request("POST", "/v1/sign", b"{", headers=headers)
    en = agent.request("POST", "/v1/sign", b"{", headers={**headers, "Accept-Language": "en"})
    assert (vi.status, vi.error_code) == (en.status, en.error_code) == (400, "BAD_REQUEST")
    assert vi.json["error"]["message"] == (
        "Yêu cầu không hợp lệ: nội dung gửi lên không phải JSON hợp lệ; hãy gửi một đối tượng JSON"
    )
    assert en.json["error"]["message"] == (
        "Invalid request: the body is not valid JSON; send one JSON object"
    )


def test_agent_keeps_serving_after_bad_input(fresh: AgentProcess) -> None:
    for raw in (b"{", b"\x00" * 100, b'{"hash": 1}'):
        fresh.request("POST", "/v1/sign", raw, headers={"Content-Type": "application/json"})
    fresh.script({"approved": True, "pin": PIN})
    assert fresh.post("/v1/sign", GOOD_SIGN).status == 200


def _listening_addresses(port: int) -> set[str]:
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:
                found.add(address)
    return found


def test_binds_127_0_0_1_only(agent: AgentProcess) -> None:
    assert _listening_addresses(agent.port) == {"0100007F"}  # 127.0.0.1, little-endian hex
    with pytest.raises(OSError), socket.create_connection(("::1", agent.port), timeout=2):
        pass


@pytest.fixture
def agent_without_token(empty_hsm: object, tmp_path: Path) -> Iterator[AgentProcess]:
    from agent.testing.softhsm import SoftHsm

    assert isinstance(empty_hsm, SoftHsm)
    # Asking for the token and waiting is tests/integration/test_wait_for_token.py's.
    running = start_agent(tmp_path, empty_hsm, policy={"wait_for_token": False})
    yield running
    running.stop()


def test_no_token_is_token_not_present(agent_without_token: AgentProcess) -> None:
    agent_without_token.script({"approved": True, "pin": PIN})
    for path, body in (("/v1/sign", GOOD_SIGN), ("/v1/certificates", {})):
        response = agent_without_token.post(path, body)
        assert (response.status, response.error_code) == (409, "TOKEN_NOT_PRESENT")
    assert agent_without_token.prompts() == []


def test_a_module_that_fails_to_load_is_not_fatal(token: SessionToken, tmp_path: Path) -> None:
    broken = tmp_path / "libbroken-pkcs11.so"
    broken.write_bytes(b"not a shared object")
    running = start_agent(tmp_path / "agent", token.hsm, modules=[broken, token.hsm.module])
    try:
        running.script({"approved": True, "pin": PIN})
        assert running.post("/v1/sign", GOOD_SIGN).status == 200
        assert "libbroken-pkcs11.so failed to load" in running.log_text()
    finally:
        running.stop()


def test_refused_requests_never_load_the_token_module(token: SessionToken, tmp_path: Path) -> None:
    """Modules load on first use, so a refused request must leave no trace of PKCS#11."""
    running = start_agent(tmp_path, token.hsm)
    try:
        running.script({"approved": True, "pin": PIN})
        for origin in ("https://evil.example", None):
            assert running.post("/v1/sign", GOOD_SIGN, origin=origin).status == 403
        assert running.request("GET", "/v1/info", origin="https://evil.example").status == 403
        bad_host = running.request(
            "POST",
            "/v1/sign",
            json.dumps(GOOD_SIGN).encode(),
            headers={"Host": "evil.com", "Content-Type": "application/json"},
        )
        assert bad_host.status == 403
        assert "PKCS#11 module" not in running.log_text()
        assert running.prompts() == []
        assert running.post("/v1/sign", GOOD_SIGN).status == 200
        assert "loaded PKCS#11 module" in running.log_text()
    finally:
        running.stop()


@pytest.mark.parametrize("where", ["url", "header"])
def test_a_request_too_long_to_parse_gets_the_json_error(agent: AgentProcess, where: str) -> None:
    # aiohttp refuses a request line or a header over 8190 bytes before any middleware runs;
    # the answer is still the documented error, not aiohttp's own text.
    long = "a" * 9000
    if where == "url":
        response = agent.request("POST", f"/v1/pdf/sign?options={long}")
    else:
        response = agent.request("GET", "/v1/info", headers={"X-Long": long})
    assert response.status == 400
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    error = response.json["error"]
    assert error["code"] == "BAD_REQUEST"
    assert "quá dài (tối đa 8190 byte)" in error["message"], error
    # The agent goes on answering.
    assert agent.request("GET", "/v1/info", origin=None).status == 200
