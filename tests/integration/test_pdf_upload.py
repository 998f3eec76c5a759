"""PDFs uploaded as files to ``POST /v1/pdf/sign`` and ``/v1/pdf/verify``: a form's ``file``
part, or the PDF itself as the body (``application/pdf``), written to the spool as they arrive
and answered from it.

The real agent on SoftHSM signs; pdfsig and pyHanko judge. Every request leaves the spool
(``DATA_DIR/spool``) empty once it has ended, however it ended; what an agent killed
mid-request left there is removed when the next agent starts.
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

import pytest

from agent.testing.samples import sample_pdf
from tests.conftest import (
    PIN,
    PORTAL,
    AgentProcess,
    Response,
    SessionToken,
    connection,
    eventually,
    read_then_gone,
    spool_of,
    start_agent,
    wait_until_spool_empty,
)
from tests.pdftools import NssDb, assert_pdf_signatures_valid
from tests.verify import b64, der

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
LARGE_MIB = 20


@pytest.fixture(scope="module")
def large_pdf() -> bytes:
    """A ~20 MB scanned-looking PDF, the benchmark's (bench/bench_pdf.py)."""
    return sample_pdf(pages=2, text=f"Bench {LARGE_MIB} MB", scan_bytes=LARGE_MIB * MIB, seed=1)


def options_query(options: dict[str, Any]) -> str:
    return "?options=" + urllib.parse.quote(json.dumps(options))


def raw_sign(
    agent: AgentProcess,
    pdf: bytes,
    options: dict[str, Any] | None = None,
    *,
    query: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """``POST /v1/pdf/sign`` with the PDF as the body and its options in the query."""
    shown = query if query is not None else options_query(options) if options else ""
    return agent.request(
        "POST",
        "/v1/pdf/sign" + shown,
        pdf,
        headers={"Content-Type": "application/pdf", **(headers or {})},
    )


def form_sign(
    agent: AgentProcess,
    pdf: bytes,
    options: dict[str, Any],
    *,
    headers: dict[str, str] | None = None,
) -> Response:
    """``POST /v1/pdf/sign`` as a browser form: the ``options`` part, then the ``file`` part."""
    boundary = uuid.uuid4().hex
    body = b"".join(
        [
            f'--{boundary}\r\nContent-Disposition: form-data; name="options"\r\n'
            "Content-Type: application/json\r\n\r\n".encode(),
            json.dumps(options).encode(),
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n'.encode(),
            pdf,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    return agent.request(
        "POST",
        "/v1/pdf/sign",
        body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}", **(headers or {})},
    )


def test_raw_pdf_body_is_answered_with_the_signed_pdf_and_the_certificate_header(
    fresh: AgentProcess, token: SessionToken, nss: NssDb, tmp_path: Path
) -> None:
    original = sample_pdf()
    fresh.script({"approved": True, "pin": PIN})
    response = raw_sign(
        fresh, original, {"certificate": b64(der(token.rsa)), "documentName": "Tờ trình.pdf"}
    )
    assert response.status == 200, response.body[:300]
    assert response.headers.get_content_type() == "application/pdf"
    assert base64.b64decode(response.headers["Kyso-Certificate"]) == der(token.rsa)
    # The page may read it: exposed to the admitted origin, and to it alone.
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL
    assert "Kyso-Certificate" in response.headers["Access-Control-Expose-Headers"]
    assert response.headers["Cache-Control"] == "no-store"
    assert int(response.headers["Content-Length"]) == len(response.body)
    signed = response.body
    assert signed.startswith(original), "an incremental update keeps the original bytes"
    assert_pdf_signatures_valid(signed, nss, token.ca.cert, tmp_path)
    [document] = fresh.prompts()[0]["documents"]
    assert document["name"] == "Tờ trình.pdf"
    assert document["digest"] == hashlib.sha256(original).hexdigest()
    wait_until_spool_empty(fresh)


def test_form_upload_is_answered_with_json_sent_from_the_spool(
    fresh: AgentProcess, token: SessionToken, nss: NssDb, tmp_path: Path
) -> None:
    original = sample_pdf(pages=3)
    fresh.script({"approved": True, "pin": PIN})
    response = form_sign(
        fresh,
        original,
        {
            "certificate": b64(der(token.ec)),
            "documentName": "QĐ-7.pdf",
            "appearance": {"profile": "personal"},
        },
    )
    assert response.status == 200, response.body[:300]
    assert response.headers.get_content_type() == "application/json"
    assert int(response.headers["Content-Length"]) == len(response.body)
    answer = response.json
    assert set(answer) == {"pdf", "certificate"}
    assert base64.b64decode(answer["certificate"]) == der(token.ec)
    signed = base64.b64decode(answer["pdf"], validate=True)
    assert signed.startswith(original)
    assert_pdf_signatures_valid(signed, nss, token.ca.cert, tmp_path)
    assert fresh.prompts()[0]["documents"][0]["name"] == "QĐ-7.pdf"
    wait_until_spool_empty(fresh)


def test_a_form_or_json_request_that_asks_for_a_pdf_is_answered_with_the_pdf_itself(
    fresh: AgentProcess, token: SessionToken, nss: NssDb, tmp_path: Path
) -> None:
    # What a portal's fetch() sends when it wants a Blob to save or upload again, not base64.
    original = sample_pdf(pages=2)
    fresh.script(*[{"approved": True, "pin": PIN}] * 2, {"approved": False})
    options = {"certificate": b64(der(token.rsa)), "documentName": "Công văn 12.pdf"}
    form = form_sign(fresh, original, options, headers={"Accept": "application/pdf"})
    as_json = fresh.request(
        "POST",
        "/v1/pdf/sign",
        {"pdf": b64(original), **options},
        headers={"Accept": "application/pdf, application/json;q=0.9, */*;q=0.1"},
    )
    for response in (form, as_json):
        assert response.status == 200, response.body[:300]
        assert response.headers.get_content_type() == "application/pdf"
        assert base64.b64decode(response.headers["Kyso-Certificate"]) == der(token.rsa)
        assert "Kyso-Certificate" in response.headers["Access-Control-Expose-Headers"]
        assert int(response.headers["Content-Length"]) == len(response.body)
        assert response.body.startswith(original)
        assert_pdf_signatures_valid(response.body, nss, token.ca.cert, tmp_path)
    # An error is JSON whatever the page accepts: the status and the code tell what happened.
    refused = form_sign(fresh, original, options, headers={"Accept": "application/pdf"})
    assert refused.status == 403
    assert refused.headers.get_content_type() == "application/json"
    assert refused.json["error"]["code"] == "USER_CANCELLED"
    wait_until_spool_empty(fresh)


def test_a_20_mb_pdf_is_signed_as_a_raw_body_and_as_a_form(
    fresh: AgentProcess, token: SessionToken, nss: NssDb, tmp_path: Path, large_pdf: bytes
) -> None:
    fresh.script({"approved": True, "pin": PIN}, {"approved": True, "pin": PIN})
    options = {"certificate": b64(der(token.rsa)), "documentName": "Hồ sơ quét.pdf"}
    raw = raw_sign(fresh, large_pdf, options)
    assert raw.status == 200, raw.body[:300]
    assert raw.body.startswith(large_pdf)
    assert_pdf_signatures_valid(raw.body, nss, token.ca.cert, tmp_path)
    wait_until_spool_empty(fresh)

    form = form_sign(fresh, large_pdf, options)
    assert form.status == 200, form.body[:300]
    signed = base64.b64decode(form.json["pdf"], validate=True)
    assert signed.startswith(large_pdf)
    assert_pdf_signatures_valid(signed, nss, token.ca.cert, tmp_path)
    assert [p["documents"][0]["digest"] for p in fresh.prompts()] == [
        hashlib.sha256(large_pdf).hexdigest()
    ] * 2
    wait_until_spool_empty(fresh)


def test_preflight_admits_a_raw_pdf_body(fresh: AgentProcess) -> None:
    response = fresh.request(
        "OPTIONS",
        "/v1/pdf/sign",
        headers={
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == PORTAL
    assert response.headers["Access-Control-Allow-Headers"] == "content-type"


@pytest.mark.parametrize(
    "query",
    [
        "?options=%5B%22B-T%22%5D",  # a JSON list
        "?options=level%3DB-T",  # not JSON
        "?options=%7B%7D&options=%7B%7D",  # twice
        "?level=B-T",  # an option outside 'options'
    ],
)
def test_options_query_that_is_not_one_json_object_is_refused_in_vietnamese(
    fresh: AgentProcess, query: str
) -> None:
    response = raw_sign(fresh, sample_pdf(), query=query)
    assert (response.status, response.error_code) == (400, "BAD_REQUEST")
    message = response.json["error"]["message"]
    assert message.startswith("Yêu cầu không hợp lệ:"), message
    assert "options" in message or "level" in message
    assert fresh.prompts() == []
    assert not any(spool_of(fresh).iterdir())


def test_options_query_errors_follow_accept_language(fresh: AgentProcess) -> None:
    response = raw_sign(
        fresh, sample_pdf(), query="?options=nope", headers={"Accept-Language": "en"}
    )
    assert response.error_code == "BAD_REQUEST"
    assert "URL-encoded JSON object" in response.json["error"]["message"]
    # A field the form's options refuse is refused here the same way, after the upload.
    response = raw_sign(fresh, sample_pdf(), {"level": "B-LTA"}, headers={"Accept-Language": "en"})
    assert response.error_code == "BAD_REQUEST"
    assert "'level'" in response.json["error"]["message"]
    assert fresh.prompts() == []
    assert not any(spool_of(fresh).iterdir())


def verify_form(agent: AgentProcess, pdf: bytes) -> Response:
    """``POST /v1/pdf/verify`` as a browser form with just the ``file`` part."""
    boundary = uuid.uuid4().hex
    body = b"".join(
        [
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n'.encode(),
            pdf,
            f"\r\n--{boundary}--\r\n".encode(),
        ]
    )
    return agent.request(
        "POST",
        "/v1/pdf/verify",
        body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )


def test_a_20_mb_pdf_is_verified_alike_as_itself_as_a_form_and_in_json(
    fresh: AgentProcess, token: SessionToken, large_pdf: bytes
) -> None:
    fresh.script({"approved": True, "pin": PIN})
    signed = raw_sign(fresh, large_pdf, {"certificate": b64(der(token.rsa))}).body
    wait_until_spool_empty(fresh)
    raw = fresh.request(
        "POST", "/v1/pdf/verify", signed, headers={"Content-Type": "application/pdf"}
    )
    form = verify_form(fresh, signed)
    in_json = fresh.post("/v1/pdf/verify", {"pdf": b64(signed)})
    assert [r.status for r in (raw, form, in_json)] == [200] * 3, raw.body[:300]
    [signature] = raw.json["signatures"]
    # The session agent trusts no roots: intact, by the key's certificate, not trusted.
    assert (signature["intact"], signature["trusted"]) == (True, False)
    assert signature["signer"] == "Nguyễn Văn An"
    assert raw.json == form.json == in_json.json
    wait_until_spool_empty(fresh)
    tampered = bytearray(signed)
    tampered[len(large_pdf) // 2] ^= 0x01  # a byte of the scan, inside the signed range
    broken = fresh.request(
        "POST", "/v1/pdf/verify", bytes(tampered), headers={"Content-Type": "application/pdf"}
    )
    assert broken.json["signatures"][0]["intact"] is False
    not_a_pdf = verify_form(fresh, b"hello")
    assert (not_a_pdf.status, not_a_pdf.error_code) == (400, "BAD_REQUEST")
    wait_until_spool_empty(fresh)
    assert len(fresh.prompts()) == 1, "only the signature asked; verifying asks nobody"


@pytest.mark.parametrize("path", ["/v1/pdf/sign", "/v1/pdf/verify"])
def test_a_client_gone_mid_upload_leaves_nothing_and_the_agent_keeps_serving(
    fresh: AgentProcess, large_pdf: bytes, path: str
) -> None:
    with connection(fresh) as upload:
        upload.putrequest("POST", path)
        upload.putheader("Origin", PORTAL)
        upload.putheader("Content-Type", "application/pdf")
        upload.putheader("Content-Length", str(len(large_pdf)))
        upload.endheaders()
        upload.send(large_pdf[: 4 * MIB])
        # The agent is writing it: then the client goes.
        eventually(lambda: any(spool_of(fresh).iterdir()), 30, "the upload reached the spool")
    wait_until_spool_empty(fresh)
    assert fresh.request("GET", "/v1/info").status == 200
    assert fresh.prompts() == []
    assert f"unexpected error on POST {path}" not in fresh.log_text()


def test_a_client_gone_mid_answer_leaves_nothing_and_the_agent_keeps_serving(
    fresh: AgentProcess, token: SessionToken, large_pdf: bytes
) -> None:
    fresh.script({"approved": True, "pin": PIN})
    path = "/v1/pdf/sign" + options_query({"certificate": b64(der(token.rsa))})
    assert read_then_gone(fresh, path, large_pdf, "application/pdf").startswith(b"%PDF-")
    wait_until_spool_empty(fresh)
    assert fresh.request("GET", "/v1/info").status == 200
    assert "unexpected error on POST /v1/pdf/sign" not in fresh.log_text()


def test_an_agent_killed_while_the_user_decides_leaves_its_upload_to_the_next_start(
    token: SessionToken, tmp_path: Path
) -> None:
    root = tmp_path / "agent"
    first = start_agent(root, token.hsm)
    try:
        first.script({"sleep": 30})  # the user takes their time
        with connection(first) as client:
            client.request(
                "POST",
                "/v1/pdf/sign",
                sample_pdf(),
                headers={"Origin": PORTAL, "Content-Type": "application/pdf"},
            )
            eventually(first.prompts, 30, "the user was asked")
            assert any(spool_of(first).iterdir())
            first.process.kill()
            first.process.wait()
        assert any(spool_of(first).iterdir()), "a killed agent cannot clean up"
    finally:
        first.stop()
    second = start_agent(root, token.hsm)
    try:
        # Removed before the new agent listens.
        assert list(spool_of(second).iterdir()) == []
        assert "spool: removed " in second.log_text()
        assert second.request("GET", "/v1/info").status == 200
    finally:
        second.stop()


def test_raw_and_form_bodies_over_the_limit_are_413_and_leave_nothing(
    token: SessionToken, tmp_path: Path
) -> None:
    config = tmp_path / "small.toml"
    config.write_text("max_pdf_bytes = 4096\n")
    running = start_agent(tmp_path / "agent", token.hsm, "--config", str(config))
    try:
        too_large = sample_pdf(filler=20_000)
        declared = raw_sign(running, too_large)
        with connection(running) as client:
            # Chunked, without a length: refused as it streams past the limit.
            client.request(
                "POST",
                "/v1/pdf/sign",
                iter([too_large[:3000], too_large[3000:]]),
                headers={"Origin": PORTAL, "Content-Type": "application/pdf"},
            )
            answer = client.getresponse()
            streamed = Response(answer.status, answer.headers, answer.read())
        form = form_sign(running, too_large, {})
        for response in (declared, streamed, form):
            assert (response.status, response.error_code) == (413, "PAYLOAD_TOO_LARGE")
            assert "4096" in response.json["error"]["message"]
        assert running.prompts() == []
        assert list(spool_of(running).iterdir()) == []
    finally:
        running.stop()
