"""Signing through the real HTTPS server on a SoftHSM token, checked by independent verifiers."""

from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature

from tests.conftest import PIN, PORTAL, WRONG_PIN, AgentProcess, SessionToken
from tests.verify import (
    b64,
    der,
    digest_of,
    sign_body,
    verify_with_cryptography,
    verify_with_openssl,
)

pytestmark = pytest.mark.integration

RSA, EC = "Nguyễn Văn An", "Trần Thị Bình"  # the holders, as the prompter picks them


@pytest.mark.parametrize("algorithm", ["SHA-256", "SHA-384", "SHA-512"])
def test_rsa_pkcs1_signature_verifies_with_cryptography_and_openssl(
    fresh: AgentProcess, token: SessionToken, algorithm: str
) -> None:
    message = f"Quyết định số 123/QĐ-UBND ({algorithm})".encode()
    digest = digest_of(message, algorithm)
    fresh.script({"approved": True, "pin": PIN})
    response = fresh.post(
        "/v1/sign", sign_body(digest, token.rsa, algorithm, documentName="QĐ-123.pdf")
    )
    assert response.status == 200, response.body
    body = response.json
    assert base64.b64decode(body["certificate"]) == der(token.rsa)
    assert body["signatureAlgorithm"] == "RS" + algorithm[4:]
    signature = base64.b64decode(body["signature"])
    verify_with_cryptography(der(token.rsa), signature, digest, algorithm)
    verify_with_openssl(der(token.rsa), signature, message, algorithm)


def test_rsa_pss_signature_verifies(fresh: AgentProcess, token: SessionToken) -> None:
    message = b"PSS please"
    digest = digest_of(message)
    fresh.script({"approved": True, "pin": PIN})
    response = fresh.post("/v1/sign", sign_body(digest, token.rsa, scheme="PSS"))
    assert response.status == 200, response.body
    assert response.json["signatureAlgorithm"] == "PS256"
    signature = base64.b64decode(response.json["signature"])
    verify_with_cryptography(der(token.rsa), signature, digest, "SHA-256", "PSS")
    verify_with_openssl(der(token.rsa), signature, message, "SHA-256", "PSS")
    with pytest.raises(InvalidSignature):
        verify_with_cryptography(der(token.rsa), signature, digest, "SHA-256", "PKCS1v15")


@pytest.mark.parametrize("algorithm", ["SHA-256", "SHA-384"])
def test_ecdsa_signature_is_der_and_verifies(
    fresh: AgentProcess, token: SessionToken, algorithm: str
) -> None:
    message = "Văn bản đến".encode()
    digest = digest_of(message, algorithm)
    fresh.script({"approved": True, "pin": PIN})
    response = fresh.post("/v1/sign", sign_body(digest, token.ec, algorithm))
    assert response.status == 200, response.body
    assert response.json["signatureAlgorithm"] == "ES" + algorithm[4:]
    signature = base64.b64decode(response.json["signature"])
    assert signature[0] == 0x30  # DER SEQUENCE, not raw r||s
    verify_with_cryptography(der(token.ec), signature, digest, algorithm)
    verify_with_openssl(der(token.ec), signature, message, algorithm)


def test_user_picks_certificate_when_portal_names_none(
    fresh: AgentProcess, token: SessionToken
) -> None:
    digest = digest_of(b"pick")
    fresh.script({"approved": True, "pin": PIN, "certificate": EC})
    response = fresh.post("/v1/sign", sign_body(digest))
    assert response.status == 200, response.body
    prompt = fresh.prompts()[0]
    offered = [c["subject"] for c in prompt["certificates"]]
    assert len(offered) == 2, "the expired certificate and the CA are not offered"
    assert any("Nguyễn Văn An" in s for s in offered)
    assert any("Trần Thị Bình" in s for s in offered)
    chosen = base64.b64decode(response.json["certificate"])
    assert chosen == der(token.ec)
    verify_with_cryptography(
        chosen, base64.b64decode(response.json["signature"]), digest, "SHA-256"
    )


def test_prompt_shows_origin_document_digest_certificate_and_pin_state(
    fresh: AgentProcess, token: SessionToken
) -> None:
    digest = digest_of(b"shown")
    fresh.script({"approved": True, "pin": PIN})
    fresh.post(
        "/v1/sign",
        sign_body(digest, token.rsa, documentName="Công văn 45/CV-SNV.pdf"),
        origin="https://PORTAL.example.gov.vn:443",
    )
    [prompt] = fresh.prompts()
    assert prompt["action"] == "sign"
    assert prompt["origin"] == PORTAL  # normalised, not what the page wrote
    assert prompt["documents"] == [
        {"name": "Công văn 45/CV-SNV.pdf", "digest": digest.hex(), "algorithm": "SHA-256"}
    ]
    [cert] = prompt["certificates"]
    assert "Nguyễn Văn An" in cert["subject"]
    assert "Kyso Test CA" in cert["issuer"]
    assert cert["token"] == token.label
    assert cert["notAfter"].startswith(str(token.rsa.not_valid_after_utc.year))
    assert prompt["pin"] == {"required": True, "pinpad": False, "triesLeft": "ok", "cached": False}
    assert prompt["firstUse"] is False
    assert prompt["lang"] == "vi"
    assert "retry" not in prompt


def test_certificates_endpoint_returns_choice_chain_and_token(
    fresh: AgentProcess, token: SessionToken
) -> None:
    fresh.script({"approved": True, "certificate": RSA})
    response = fresh.post("/v1/certificates", {})
    assert response.status == 200, response.body
    body = response.json
    [prompt] = fresh.prompts()
    assert prompt["action"] == "select-certificate"
    assert "pin" not in prompt and "documents" not in prompt
    assert base64.b64decode(body["certificate"]) == der(token.rsa)
    assert body["keyType"] == "RSA"
    assert [base64.b64decode(c) for c in body["chain"]] == [der(token.ca.cert)]
    assert body["token"]["label"] == token.label
    assert body["token"]["serial"]
    # The chain really issued the certificate.
    token.rsa.verify_directly_issued_by(
        x509.load_der_x509_certificate(base64.b64decode(body["chain"][0]))
    )


def test_batch_one_prompt_one_login_signatures_in_order(
    fresh: AgentProcess, token: SessionToken
) -> None:
    messages = [f"Tài liệu số {i}".encode() for i in range(40)]
    items = [
        sign_body(digest_of(m), documentName=f"tai-lieu-{i}.pdf") for i, m in enumerate(messages)
    ]
    fresh.script({"approved": True, "pin": PIN})
    response = fresh.post("/v1/sign/batch", {"items": items, "certificate": b64(der(token.rsa))})
    assert response.status == 200, response.body
    signatures = [base64.b64decode(s) for s in response.json["signatures"]]
    assert len(signatures) == len(messages)
    for message, signature in zip(messages, signatures, strict=True):
        verify_with_cryptography(der(token.rsa), signature, digest_of(message), "SHA-256")
    [prompt] = fresh.prompts()
    assert [d["name"] for d in prompt["documents"]] == [f"tai-lieu-{i}.pdf" for i in range(40)]
    # Swapping two signatures must break verification: order is really checked.
    with pytest.raises(InvalidSignature):
        verify_with_cryptography(der(token.rsa), signatures[1], digest_of(messages[0]), "SHA-256")


def test_batch_of_1000_ec_signatures(fresh: AgentProcess, token: SessionToken) -> None:
    digests = [digest_of(str(i).encode()) for i in range(1000)]
    fresh.script({"approved": True, "pin": PIN})
    response = fresh.post(
        "/v1/sign/batch",
        {"items": [sign_body(d) for d in digests], "certificate": b64(der(token.ec))},
    )
    assert response.status == 200, response.body
    signatures = response.json["signatures"]
    assert len(signatures) == 1000
    for digest, signature in zip(digests, signatures, strict=True):
        verify_with_cryptography(der(token.ec), base64.b64decode(signature), digest, "SHA-256")


def test_wrong_pin_asks_again_then_right_pin_signs(
    fresh: AgentProcess, token: SessionToken
) -> None:
    digest = digest_of(b"retry")
    fresh.script({"approved": True, "pin": WRONG_PIN}, {"approved": True, "pin": PIN})
    response = fresh.post("/v1/sign", sign_body(digest, token.ec))
    assert response.status == 200, response.body
    first, second = fresh.prompts()
    assert "retry" not in first
    assert second["retry"] == {"reason": "PIN_INCORRECT"}
    assert len(second["certificates"]) == 1
    verify_with_cryptography(
        der(token.ec), base64.b64decode(response.json["signature"]), digest, "SHA-256"
    )


def test_wrong_pin_then_cancel_is_user_cancelled(fresh: AgentProcess, token: SessionToken) -> None:
    fresh.script({"approved": True, "pin": WRONG_PIN}, {"approved": False})
    response = fresh.post("/v1/sign", sign_body(digest_of(b"x"), token.ec))
    assert (response.status, response.error_code) == (403, "USER_CANCELLED")
    assert len(fresh.prompts()) == 2, "asked again after the wrong PIN, never retried silently"


def test_pin_is_never_logged(fresh: AgentProcess, token: SessionToken) -> None:
    fresh.script({"approved": True, "pin": WRONG_PIN}, {"approved": True, "pin": PIN})
    response = fresh.post("/v1/sign", sign_body(digest_of(b"log"), token.rsa))
    assert response.status == 200
    logged = fresh.log_text()
    assert "signed 1 item" in logged  # the log is really being read
    assert PIN not in logged
    assert WRONG_PIN not in logged


def test_cancel_is_user_cancelled(fresh: AgentProcess) -> None:
    fresh.script({"approved": False})
    response = fresh.post("/v1/sign", sign_body(digest_of(b"no")))
    assert (response.status, response.error_code) == (403, "USER_CANCELLED")
    assert response.json["error"]["message"]


def test_prompt_timeout_is_consent_timeout(fresh: AgentProcess) -> None:
    fresh.script({"sleep": 10, "approved": True, "pin": PIN})
    response = fresh.post("/v1/sign", sign_body(digest_of(b"slow")))
    assert (response.status, response.error_code) == (408, "CONSENT_TIMEOUT")


@pytest.mark.parametrize(
    "misbehaviour", [{"exit": 3}, {"raw": "not json"}, {"raw": '{"approved": "yes"}'}]
)
def test_broken_prompter_counts_as_cancel(
    fresh: AgentProcess, misbehaviour: dict[str, object]
) -> None:
    fresh.script(misbehaviour)
    response = fresh.post("/v1/sign", sign_body(digest_of(b"b")))
    assert (response.status, response.error_code) == (403, "USER_CANCELLED")


def test_certificate_not_on_token(fresh: AgentProcess, token: SessionToken) -> None:
    stranger = token.ca.cert  # a real certificate, but no private key on the token
    response = fresh.post("/v1/sign", sign_body(digest_of(b"x"), stranger))
    assert (response.status, response.error_code) == (404, "CERTIFICATE_NOT_FOUND")
    # The user was asked to plug in the token holding it (for the prompt timeout), never to sign.
    [wait] = fresh.prompts()
    assert wait["action"] == "wait-token"
    assert wait["certificate"] == stranger.subject.rfc4514_string()


def test_expired_certificate_is_refused_before_asking(
    fresh: AgentProcess, token: SessionToken
) -> None:
    response = fresh.post("/v1/sign", sign_body(digest_of(b"x"), token.expired))
    assert (response.status, response.error_code) == (409, "CERTIFICATE_EXPIRED")
    assert fresh.prompts() == []


@pytest.mark.parametrize(
    ("path", "field"), [("/v1/sign", "hashAlgorithm"), ("/v1/cms/sign", "digestAlgorithm")]
)
def test_sha1_digest_is_refused_although_xml_signatures_may_use_it(
    fresh: AgentProcess, token: SessionToken, path: str, field: str
) -> None:
    # The token layer signs SHA-1 for an XML signature asked for by name; a caller's bare
    # SHA-1 digest is still refused before anyone is asked.
    digest = b64(digest_of(b"x", "SHA-1"))
    body = {"hash": digest, "hashAlgorithm": "SHA-1"}
    if field == "digestAlgorithm":
        body = {"digest": digest, "digestAlgorithm": "SHA-1"}
    fresh.script({"approved": True, "pin": PIN})
    response = fresh.post(path, {**body, "certificate": b64(der(token.rsa))})
    assert (response.status, response.error_code) == (400, "BAD_REQUEST")
    message = response.json["error"]["message"]
    assert field in message and "SHA-256, SHA-384, SHA-512" in message and "SHA-1" not in message
    assert fresh.prompts() == []


def test_sha1_items_are_refused_in_a_batch(fresh: AgentProcess, token: SessionToken) -> None:
    items = [sign_body(digest_of(b"a")), sign_body(digest_of(b"b", "SHA-1"), algorithm="SHA-1")]
    fresh.script({"approved": True, "pin": PIN})
    response = fresh.post("/v1/sign/batch", {"items": items, "certificate": b64(der(token.rsa))})
    assert (response.status, response.error_code) == (400, "BAD_REQUEST")
    assert "items.1.hashAlgorithm" in response.json["error"]["message"]
    assert fresh.prompts() == []


def test_pss_with_ec_certificate_is_bad_request(fresh: AgentProcess, token: SessionToken) -> None:
    response = fresh.post("/v1/sign", sign_body(digest_of(b"x"), token.ec, scheme="PSS"))
    assert (response.status, response.error_code) == (400, "BAD_REQUEST")
    assert fresh.prompts() == []


@pytest.mark.parametrize("algorithm", ["SHA-384", "SHA-512"])
def test_rsa_pss_with_longer_hashes(
    fresh: AgentProcess, token: SessionToken, algorithm: str
) -> None:
    message = algorithm.encode()
    digest = digest_of(message, algorithm)
    fresh.script({"approved": True, "pin": PIN})
    response = fresh.post("/v1/sign", sign_body(digest, token.rsa, algorithm, scheme="PSS"))
    assert response.status == 200, response.body
    signature = base64.b64decode(response.json["signature"])
    verify_with_openssl(der(token.rsa), signature, message, algorithm, "PSS")


def test_batch_with_mixed_hash_algorithms_and_pss(fresh: AgentProcess, token: SessionToken) -> None:
    plan = [(b"a", "SHA-256"), (b"b", "SHA-512"), (b"c", "SHA-384")]
    items = [sign_body(digest_of(m, a), algorithm=a) for m, a in plan]
    fresh.script({"approved": True, "pin": PIN})
    response = fresh.post(
        "/v1/sign/batch", {"items": items, "certificate": b64(der(token.rsa)), "scheme": "PSS"}
    )
    assert response.status == 200, response.body
    assert response.json["signatureAlgorithms"] == ["PS256", "PS512", "PS384"]
    assert "signatureAlgorithm" not in response.json
    for (message, algorithm), signature in zip(plan, response.json["signatures"], strict=True):
        verify_with_openssl(der(token.rsa), base64.b64decode(signature), message, algorithm, "PSS")
