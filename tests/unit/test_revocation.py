"""Revocation checks against a real local PKI (OCSP, CRL on 127.0.0.1), and its TSA.

Certificates are issued to software keys by the PKI's CA; one test provisions a
SoftHSM token to show the token certificates carry the same pointers.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from asn1crypto import algos, cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID

from agent.pdf.revocation import (
    RevocationCheck,
    RevocationMethod,
    RevocationStatus,
    check_revocation,
)
from agent.testing.pki import LocalPki, OcspSigner
from agent.testing.softhsm import KeySpec, TestCa, TokenSpec, new_token, vn_name
from tests.verify import der


@pytest.fixture(scope="module")
def pki() -> Iterator[LocalPki]:
    with LocalPki(TestCa.create("Kyso Test CA")) as running:
        yield running


@pytest.fixture(scope="module")
def impostor() -> Iterator[LocalPki]:
    """Another CA with the same name as ``pki``'s, and its own responders."""
    with LocalPki(TestCa.create("Kyso Test CA")) as running:
        yield running


@pytest.fixture
def closed_url() -> str:
    """A URL on 127.0.0.1 where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/nothing"


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A URL whose server accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/silent"


def issue(
    ca: TestCa, *, crl_url: str | None = None, ocsp_url: str | None = None
) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    return ca.issue(
        key.public_key(), vn_name("Nguyễn Văn An", "Sở Nội vụ"), crl_url=crl_url, ocsp_url=ocsp_url
    )


def check(cert: x509.Certificate, pki: LocalPki, timeout: float = 5.0) -> RevocationCheck:
    return check_revocation(der(cert), [der(pki.ca.cert)], timeout=timeout)


# -- OCSP -------------------------------------------------------------------------------------


def test_ocsp_answers_good_then_revoked_after_revoke(pki: LocalPki) -> None:
    cert = issue(pki.ca, crl_url=pki.crl_url, ocsp_url=pki.ocsp_url)
    pki.register(cert.serial_number)
    before = pki.served

    good = check(cert, pki)
    assert (good.status, good.method, good.source) == (
        RevocationStatus.GOOD,
        RevocationMethod.OCSP,
        pki.ocsp_url,
    )
    assert pki.served["ocsp"] == before["ocsp"] + 1
    assert pki.served["crl"] == before["crl"]

    pki.revoke(cert.serial_number, x509.ReasonFlags.key_compromise)
    revoked = check(cert, pki)
    assert (revoked.status, revoked.method) == (RevocationStatus.REVOKED, "ocsp")
    assert revoked.revoked_at is not None
    assert "keyCompromise" in revoked.detail
    assert pki.served["ocsp"] == before["ocsp"] + 2


def test_pem_input_and_chain_with_other_certificates(pki: LocalPki) -> None:
    cert = pki.issue(ec.generate_private_key(ec.SECP256R1()).public_key(), vn_name("Trần Bình"))
    pem = cert.public_bytes(serialization.Encoding.PEM)
    chain = [der(pki.tsa_cert), pki.ca.cert.public_bytes(serialization.Encoding.PEM)]
    assert check_revocation(pem, chain).status is RevocationStatus.GOOD


def test_delegated_ocsp_responder_is_accepted(pki: LocalPki) -> None:
    with LocalPki(pki.ca, ocsp_signer=OcspSigner.DELEGATED) as delegated:
        cert = issue(pki.ca, ocsp_url=delegated.ocsp_url)
        delegated.register(cert.serial_number)
        result = check(cert, pki)
    assert (result.status, result.method) == (RevocationStatus.GOOD, RevocationMethod.OCSP)


def test_delegated_responder_without_ocsp_signing_usage_is_not_trusted(pki: LocalPki) -> None:
    with LocalPki(pki.ca, ocsp_signer=OcspSigner.DELEGATED) as delegated:
        # The responder's key, certified by the CA but only for document signing.
        delegated.ocsp_cert = pki.ca.issue(  # type: ignore[misc]
            delegated.ocsp_key.public_key(), vn_name("Kyso Test OCSP")
        )
        cert = issue(pki.ca, ocsp_url=delegated.ocsp_url)
        delegated.register(cert.serial_number)
        result = check(cert, pki)
        assert delegated.served["ocsp"] == 1
    assert result.status is RevocationStatus.UNKNOWN
    assert "OCSPSigning" in result.detail


class ForgingPki(LocalPki):
    """Answers ``good`` for any certificate of any CA, signed with its own CA's key."""

    encoding = ocsp.OCSPResponderEncoding.NAME

    def ocsp_response(self, request_der: bytes) -> ocsp.OCSPResponse:
        query = ocsp.load_der_ocsp_request(request_der)
        now = datetime.now(UTC)
        return (
            ocsp.OCSPResponseBuilder()
            .add_response_by_hash(
                query.issuer_name_hash,
                query.issuer_key_hash,
                query.serial_number,
                query.hash_algorithm,
                ocsp.OCSPCertStatus.GOOD,
                now,
                now + timedelta(hours=1),
                None,
                None,
            )
            .responder_id(self.encoding, self.ca.cert)
            .sign(self.ca.key, hashes.SHA256())
        )


@pytest.mark.parametrize(
    ("encoding", "reason"),
    [
        # Same subject as the real CA: taken for the issuer, then the signature fails.
        (ocsp.OCSPResponderEncoding.NAME, "signature does not verify"),
        (ocsp.OCSPResponderEncoding.HASH, "not signed by the issuer or a responder it authorised"),
    ],
)
def test_forged_good_answer_from_a_same_name_ca_is_not_trusted(
    pki: LocalPki, encoding: ocsp.OCSPResponderEncoding, reason: str
) -> None:
    with ForgingPki(TestCa.create("Kyso Test CA")) as forger:
        forger.encoding = encoding
        cert = issue(pki.ca, ocsp_url=forger.ocsp_url, crl_url=forger.crl_url)
        pki.revoke(cert.serial_number)
        result = check(cert, pki)
        assert forger.served["ocsp"] == 1
        assert forger.served["crl"] == 1
    assert result.status is RevocationStatus.UNKNOWN
    assert reason in result.detail
    assert "not signed by the certificate's issuer" in result.detail


def test_ocsp_responder_of_another_ca_refuses_and_status_is_unknown(
    pki: LocalPki, impostor: LocalPki
) -> None:
    cert = issue(pki.ca, ocsp_url=impostor.ocsp_url)
    result = check(cert, pki)
    assert result.status is RevocationStatus.UNKNOWN
    assert "UNAUTHORIZED" in result.detail


def test_serial_unknown_to_ocsp_falls_back_to_crl(pki: LocalPki) -> None:
    cert = issue(pki.ca, ocsp_url=pki.ocsp_url)  # never registered with the responder
    only_ocsp = check(cert, pki)
    assert (only_ocsp.status, only_ocsp.method) == (RevocationStatus.UNKNOWN, "ocsp")
    assert "does not know" in only_ocsp.detail

    with_crl = issue(pki.ca, ocsp_url=pki.ocsp_url, crl_url=pki.crl_url)
    result = check(with_crl, pki)
    assert (result.status, result.method, result.source) == (
        RevocationStatus.GOOD,
        RevocationMethod.CRL,
        pki.crl_url,
    )


def test_ocsp_get_with_base64_path(pki: LocalPki) -> None:
    cert = pki.issue(ec.generate_private_key(ec.SECP256R1()).public_key(), vn_name("Lê Cường"))
    query = ocsp.OCSPRequestBuilder().add_certificate(cert, pki.ca.cert, hashes.SHA256()).build()
    encoded = base64.b64encode(query.public_bytes(serialization.Encoding.DER)).decode()
    url = f"{pki.ocsp_url}/{quote(encoded, safe='')}"
    with urllib.request.urlopen(url, timeout=5) as reply:  # noqa: S310 — the local PKI
        assert reply.headers["Content-Type"] == "application/ocsp-response"
        response = ocsp.load_der_ocsp_response(reply.read())
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == cert.serial_number


# -- CRL --------------------------------------------------------------------------------------


def test_crl_is_used_when_ocsp_is_unreachable(pki: LocalPki, closed_url: str) -> None:
    cert = issue(pki.ca, ocsp_url=closed_url, crl_url=pki.crl_url)
    good = check(cert, pki)
    assert (good.status, good.method, good.source) == (
        RevocationStatus.GOOD,
        RevocationMethod.CRL,
        pki.crl_url,
    )

    crl_before = pki.served["crl"]
    pki.revoke(cert.serial_number)
    revoked = check(cert, pki)
    assert (revoked.status, revoked.method) == (RevocationStatus.REVOKED, RevocationMethod.CRL)
    assert revoked.revoked_at is not None
    assert pki.served["crl"] == crl_before + 1


def test_crl_signed_by_another_ca_is_not_trusted(pki: LocalPki, impostor: LocalPki) -> None:
    cert = issue(pki.ca, crl_url=impostor.crl_url)
    before = impostor.served["crl"]
    result = check(cert, pki)
    assert impostor.served["crl"] == before + 1
    assert (result.status, result.method, result.source) == (
        RevocationStatus.UNKNOWN,
        RevocationMethod.CRL,
        impostor.crl_url,
    )
    assert "not signed by the certificate's issuer" in result.detail


def test_crl_when_issuer_is_missing_gives_unknown(pki: LocalPki, impostor: LocalPki) -> None:
    cert = issue(pki.ca, crl_url=pki.crl_url)
    result = check_revocation(der(cert), [der(impostor.ca.cert)])
    assert (result.status, result.method) == (RevocationStatus.UNKNOWN, RevocationMethod.NONE)


# -- failures ---------------------------------------------------------------------------------


def test_both_unreachable_gives_unknown_quickly(pki: LocalPki, closed_url: str) -> None:
    cert = issue(pki.ca, ocsp_url=closed_url, crl_url=closed_url)
    started = time.monotonic()
    result = check(cert, pki, timeout=0.5)
    assert time.monotonic() - started < 2
    assert (result.status, result.method) == (RevocationStatus.UNKNOWN, RevocationMethod.CRL)
    assert result.detail.count("unreachable") == 2


def test_silent_servers_time_out(pki: LocalPki, silent_url: str) -> None:
    cert = issue(pki.ca, ocsp_url=silent_url, crl_url=silent_url)
    started = time.monotonic()
    result = check(cert, pki, timeout=0.3)
    assert time.monotonic() - started < 3
    assert result.status is RevocationStatus.UNKNOWN
    assert result.detail.count("0.3 s") == 2


def test_certificate_without_pointers_gives_unknown_none(pki: LocalPki) -> None:
    result = check(issue(pki.ca), pki)
    assert result == RevocationCheck(
        RevocationStatus.UNKNOWN,
        RevocationMethod.NONE,
        None,
        "the certificate names no OCSP responder and no CRL",
    )


def test_file_urls_are_not_followed(pki: LocalPki, tmp_path: Path) -> None:
    crl_file = tmp_path / "ca.crl"
    crl_file.write_bytes(pki.crl().public_bytes(serialization.Encoding.DER))
    cert = issue(pki.ca, crl_url=crl_file.as_uri())
    result = check(cert, pki)
    assert result.status is RevocationStatus.UNKNOWN
    assert "only http and https" in result.detail


@pytest.mark.parametrize("garbage", [b"", b"not a certificate", os.urandom(300)])
def test_garbage_input_raises_value_error(pki: LocalPki, garbage: bytes) -> None:
    with pytest.raises(ValueError, match="certificate is not"):
        check_revocation(garbage, [der(pki.ca.cert)])
    cert = issue(pki.ca, crl_url=pki.crl_url)
    with pytest.raises(ValueError, match="issuer is not"):
        check_revocation(der(cert), [garbage])


# -- TSA --------------------------------------------------------------------------------------


async def test_tsa_reply_validates_against_the_test_ca(pki: LocalPki) -> None:
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko.sign.validation.status import TimestampSignatureStatus
    from pyhanko_certvalidator import ValidationContext

    digest = hashlib.sha256(b"van ban can ky").digest()
    nonce = int.from_bytes(os.urandom(8), "big")
    query = tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "hashed_message": digest,
            },
            "nonce": nonce,
            "cert_req": True,
        }
    )
    before = pki.served["tsa"]
    request = urllib.request.Request(  # noqa: S310 — the local PKI
        pki.tsa_url,
        data=query.dump(),
        headers={"Content-Type": "application/timestamp-query"},
    )
    with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
        assert reply.headers["Content-Type"] == "application/timestamp-reply"
        response = tsp.TimeStampResp.load(reply.read())
    assert pki.served["tsa"] == before + 1
    assert response["status"]["status"].native == "granted"
    signed_data = response["time_stamp_token"]["content"]
    assert isinstance(signed_data, cms.SignedData)
    tst_info = signed_data["encap_content_info"]["content"].parsed
    assert tst_info["message_imprint"]["hashed_message"].native == digest
    assert tst_info["nonce"].native == nonce

    context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(der(pki.ca.cert))])
    status = TimestampSignatureStatus(
        **await validate_tst_signed_data(signed_data, context, lambda _algorithm: digest)
    )
    assert status.intact and status.valid and status.trusted
    assert status.signing_cert.sha256 == asn1_x509.Certificate.load(der(pki.tsa_cert)).sha256

    other = hashlib.sha256(b"another document").digest()
    tampered = TimestampSignatureStatus(
        **await validate_tst_signed_data(signed_data, context, lambda _algorithm: other)
    )
    assert not tampered.intact


def test_tsa_certificate_has_critical_time_stamping_usage(pki: LocalPki) -> None:
    usage = pki.tsa_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert usage.critical
    assert list(usage.value) == [x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]


# -- SoftHSM ----------------------------------------------------------------------------------


@pytest.mark.integration
def test_provisioned_token_certificate_carries_revocation_pointers(
    pki: LocalPki, tmp_path: Path
) -> None:
    _, made = new_token(
        tmp_path,
        TokenSpec(
            "KYSO-REV",
            "246810",
            keys=(
                KeySpec("01", "EC", "Phạm Văn Dũng", crl_url=pki.crl_url, ocsp_url=pki.ocsp_url),
                KeySpec("02", "EC", "Không Con Trỏ"),
            ),
        ),
        pki.ca,
    )
    certs = {m.key_id: m.certificate for m in made}
    with_pointers = certs["01"]
    points = with_pointers.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [name.value for point in points for name in point.full_name or []] == [pki.crl_url]
    aia = with_pointers.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert [(d.access_method, d.access_location.value) for d in aia] == [
        (AuthorityInformationAccessOID.OCSP, pki.ocsp_url)
    ]
    for extension_type in (x509.CRLDistributionPoints, x509.AuthorityInformationAccess):
        with pytest.raises(x509.ExtensionNotFound):
            certs["02"].extensions.get_extension_for_class(extension_type)

    pki.register(with_pointers.serial_number)
    result = check(with_pointers, pki)
    assert (result.status, result.method) == (RevocationStatus.GOOD, RevocationMethod.OCSP)
