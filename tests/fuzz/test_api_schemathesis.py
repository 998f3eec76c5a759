"""Schemathesis against the real server: no 5xx, every answer as the OpenAPI document says.

The schema comes from a running agent (``GET /v1/openapi.json``) over TLS
verified against the agent's own CA. A pass from the allowed portal checks every answer
against the document; a pass from a disallowed origin checks that nothing gets past the
origin check. Hand-picked hostile requests and a fuzzed ``Origin`` header cover what the
schema cannot express. Generation is deterministic, so CI sees the same requests each run.
"""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import PIN, PORTAL, AgentProcess, SessionToken, start_agent
from tests.pdftools import sample_pdf

pytestmark = pytest.mark.integration

ApiCase = schemathesis.Case[Any]

EVIL = "https://evil.example"
#: Examples per operation in the fuzzing phase; the other phases are bounded by the schema.
MAX_EXAMPLES = 100
#: The same from a disallowed origin: the origin is refused before the body is read, so bodies
#: beyond these add time and no new path (hostile bodies have tests of their own below).
MAX_EXAMPLES_DISALLOWED = 25

CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


def _ca(agent: AgentProcess) -> str:
    return str(agent.data_dir / "tls" / "ca.pem")


def _load(agent: AgentProcess, origin: str, max_examples: int) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict(
        {
            "base-url": agent.url,
            "tls-verify": _ca(agent),
            "headers": {"Origin": origin},
            "request-timeout": 30,
            # 502 SIGNING_FAILED is the documented answer when the time-stamping authority that
            # a request names gives no timestamp, as none does here. The conformance checks still
            # hold a 502 to the operations and the code documented for it; any other 5xx is a bug.
            "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "502"]}},
            "generation": {
                "mode": "all",
                "max-examples": max_examples,
                "deterministic": True,
                "database": "none",
            },
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
        }
    )
    return schemathesis.openapi.from_url(
        f"{agent.url}/v1/openapi.json",
        config=config,
        verify=_ca(agent),
        headers={"Origin": PORTAL},
        timeout=30,
    )


#: The scripted user alternates: cancel, then approve with the right PIN. Both answers are
#: exercised, and the agent's cancel back-off (2, 4 … 60 s after consecutive cancels of one
#: origin) never starts. More answers than the run has prompts.
ANSWERS: list[dict[str, object]] = [{"approved": False}, {"approved": True, "pin": PIN}] * 1000


@pytest.fixture(scope="module")
def fuzzed(token: SessionToken, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentProcess]:
    """An agent as the session's (the test token, PORTAL allowed, 3 s to answer), with the
    alternating script, that does not wait for a token: most generated certificates are on no
    token, and waiting the prompt timeout for each would take the run minutes without testing
    anything more (waiting has tests of its own: tests/integration/test_wait_for_token.py)."""
    running = start_agent(
        tmp_path_factory.mktemp("fuzzed"),
        token.hsm,
        *("--prompt-timeout", "3", "--lang", "vi"),
        policy={"cancel_backoff_seconds": 0, "wait_for_token": False},
    )
    running.script(*ANSWERS)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def allowed_schema(fuzzed: AgentProcess) -> schemathesis.BaseSchema:
    """The agent's API description; every request from the allowed portal."""
    return _load(fuzzed, PORTAL, MAX_EXAMPLES)


@pytest.fixture(scope="module")
def evil_schema(fuzzed: AgentProcess) -> schemathesis.BaseSchema:
    """The same API, every request from an origin that is not on the allow-list."""
    return _load(fuzzed, EVIL, MAX_EXAMPLES_DISALLOWED)


@pytest.fixture(autouse=True)
def _schemathesis_node_id(request: pytest.FixtureRequest) -> None:
    """Compatibility shim for schemathesis 4.32 on pytest 9.2.

    Tests made with ``schemathesis.pytest.from_fixture`` read and rewrite
    ``request.node._nodeid`` to label each operation; pytest 9.2 keeps the id elsewhere
    and has no such attribute, so every such test would fail with ``AttributeError``.
    The copy set here only feeds those labels. Remove once schemathesis supports 9.2.
    """
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid  # noqa: SLF001 - see the docstring


allowed = schemathesis.pytest.from_fixture("allowed_schema")
evil = schemathesis.pytest.from_fixture("evil_schema")


@allowed.parametrize()
def test_allowed_origin_gets_documented_answers_and_no_5xx(
    case: ApiCase,
) -> None:
    response = case.call()
    case.validate_response(response, checks=[*CONFORMANCE, negative_data_rejection])


@evil.parametrize()
def test_disallowed_origin_is_refused_before_anything_else(
    case: ApiCase, fuzzed: AgentProcess
) -> None:
    asked = len(fuzzed.prompts())
    response = case.call()
    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
    assert len(fuzzed.prompts()) == asked, "a disallowed origin reached the prompt"
    if response.status_code in (404, 405):
        return
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "ORIGIN_NOT_ALLOWED"
    assert "Access-Control-Allow-Origin" not in response.headers


# --- hand-picked hostile requests and a fuzzed Origin header ---------------------------


def _raw(
    agent: AgentProcess,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str | bytes],
) -> tuple[int, bytes]:
    connection = http.client.HTTPSConnection("127.0.0.1", agent.port, context=agent.tls, timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        if body is not None and "Content-Length" not in headers:
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        raw = connection.getresponse()
        return raw.status, raw.read()
    finally:
        connection.close()


_JSON = {"Content-Type": "application/json"}
_GOOD_SIGN = json.dumps(
    {"hash": "siWm39H+OIWCfMuIo8CshgSxxB4rgd+bakLtXcftcnY=", "hashAlgorithm": "SHA-256"}
).encode()
_FORM = {"Origin": PORTAL, "Content-Type": "multipart/form-data; boundary=XyZ"}
_FILE_PART = b'--XyZ\r\nContent-Disposition: form-data; name="file"\r\n'
_PDF_TEXT = base64.b64encode(sample_pdf(1)).decode()

HOSTILE: list[tuple[str, str, str, bytes | None, dict[str, str | bytes]]] = [
    # (id, method, path, body, headers)
    ("deep-array", "POST", "/v1/sign", b"[" * 100_000, {"Origin": PORTAL, **_JSON}),
    (
        "deep-object",
        "POST",
        "/v1/sign",
        b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
        {"Origin": PORTAL, **_JSON},
    ),
    (
        "deep-batch",
        "POST",
        "/v1/sign/batch",
        b'{"items":' + b"[" * 50_000,
        {"Origin": PORTAL, **_JSON},
    ),
    ("origin-bracket", "GET", "/v1/info", None, {"Origin": "https://["}),
    ("origin-bad-ipv6", "POST", "/v1/sign", _GOOD_SIGN, {"Origin": "https://[evil]", **_JSON}),
    ("origin-superscript-port", "GET", "/v1/info", None, {"Origin": "https://a:²".encode()}),
    ("origin-latin1-port", "GET", "/v1/info", None, {"Origin": b"https://a:\xb2"}),
    ("origin-null", "POST", "/v1/certificates", b"{}", {"Origin": "null", **_JSON}),
    (
        "utf16-body",
        "POST",
        "/v1/sign",
        json.dumps({"a": 1}).encode("utf-16"),
        {"Origin": PORTAL, **_JSON},
    ),
    ("bad-utf8-body", "POST", "/v1/sign", b'{"hash": "\xff"}', {"Origin": PORTAL, **_JSON}),
    (
        "json-charset",
        "POST",
        "/v1/certificates",
        b"{}",
        {"Origin": PORTAL, "Content-Type": "application/json; charset=latin-1"},
    ),
    (
        "bad-media-param",
        "POST",
        "/v1/certificates",
        b"{}",
        {"Origin": PORTAL, "Content-Type": "application/json; charset"},
    ),
    ("no-content-type", "POST", "/v1/certificates", b"{}", {"Origin": PORTAL}),
    (
        "huge-content-length",
        "POST",
        "/v1/sign",
        b"",
        {"Origin": PORTAL, **_JSON, "Content-Length": "99999999999999999999"},
    ),
    (
        "large-content-length",
        "POST",
        "/v1/sign",
        b"{}",
        {"Origin": PORTAL, **_JSON, "Content-Length": "2000000"},
    ),
    (
        "preflight-odd-headers",
        "OPTIONS",
        "/v1/sign",
        None,
        {
            "Origin": PORTAL,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": ",,, ,x-\u00e9".encode(),
        },
    ),
    (
        "accept-language-junk",
        "GET",
        "/v1/info",
        None,
        {"Origin": PORTAL, "Accept-Language": "vi;q=abc, en;q=1e999, *;q=-1, ;;;"},
    ),
    ("unknown-path", "PATCH", "/v1/%ff%00/..", b"{}", {"Origin": PORTAL}),
    ("host-garbage", "GET", "/v1/info", None, {"Origin": PORTAL, "Host": "[::1]:x:y"}),
    (
        "huge-integer",
        "POST",
        "/v1/sign",
        b'{"hash": 1' + b"0" * 5_000 + b"}",
        {"Origin": PORTAL, **_JSON},
    ),
    (
        "pdf-rect-overflow",
        "POST",
        "/v1/pdf/sign",
        (
            f'{{"pdf": "{_PDF_TEXT}", "appearance": {{"profile": "personal", '
            '"rect": [0, 0, 1e400, 50]}}'
        ).encode(),
        {"Origin": PORTAL, **_JSON},
    ),
    (
        "form-without-boundary",
        "POST",
        "/v1/pdf/sign",
        b"--XyZ--\r\n",
        {"Origin": PORTAL, "Content-Type": "multipart/form-data"},
    ),
    (
        "form-long-boundary",
        "POST",
        "/v1/pdf/sign",
        b"--" + b"a" * 100 + b"--\r\n",
        {"Origin": PORTAL, "Content-Type": "multipart/form-data; boundary=" + "a" * 100},
    ),
    ("form-garbage", "POST", "/v1/pdf/sign", b"garbage", _FORM),
    ("form-unterminated", "POST", "/v1/pdf/sign", _FILE_PART + b"\r\n%PDF-1.7", _FORM),
    (
        "form-bad-part-header",
        "POST",
        "/v1/pdf/sign",
        b"--XyZ\r\nNoColonHere\r\n\r\nx\r\n--XyZ--\r\n",
        _FORM,
    ),
    (
        "form-nested-without-boundary",
        "POST",
        "/v1/pdf/sign",
        _FILE_PART + b"Content-Type: multipart/mixed\r\n\r\nx\r\n--XyZ--\r\n",
        _FORM,
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "headers"),
    [pytest.param(*case[1:], id=case[0]) for case in HOSTILE],
)
def test_hostile_requests_get_no_5xx(
    fuzzed: AgentProcess,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str | bytes],
) -> None:
    status, answer = _raw(fuzzed, method, path, body, headers)
    assert status < 500, answer[:300]


_header_text = st.text(
    st.one_of(
        st.characters(min_codepoint=0x20, max_codepoint=0x7E),
        st.sampled_from(["²", "٣", "ü", "⒈", "\t", "\x7f"]),
    ),
    max_size=40,
).filter(lambda t: t == t.strip(" \t"))
_origin_like = st.builds(
    lambda scheme, host, port: f"{scheme}://{host}{port}",
    st.sampled_from(["https", "http", "HTTPS", "ftp", ""]),
    st.one_of(
        st.sampled_from(["portal.example.gov.vn", "a.tinh.gov.vn", "localhost", "[::1]", "["]),
        st.text(st.sampled_from("ab.[]:*@%-1"), max_size=12),
    ),
    st.sampled_from(["", ":443", ":", ":²", ":99999", ":0"]),
)


@settings(
    max_examples=120,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(origin=st.one_of(_header_text, _origin_like))
@example(origin="https://[")
@example(origin="ftp://[]")
@example(origin="https://a:²")
def test_any_origin_header_gets_no_5xx(fuzzed: AgentProcess, origin: str) -> None:
    status, answer = _raw(fuzzed, "GET", "/v1/info", None, {"Origin": origin.encode()})
    assert status < 500, (origin, answer[:300])
    if status == 200:
        assert json.loads(answer)["product"] == "kyso-agent"


def test_agent_survives_the_fuzzing(fuzzed: AgentProcess) -> None:
    assert fuzzed.process.poll() is None, "the agent process died"
    response = fuzzed.request("GET", "/v1/info")
    assert response.status == 200
    assert response.json["product"] == "kyso-agent"
