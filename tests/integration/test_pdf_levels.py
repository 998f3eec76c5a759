"""PAdES B-T and B-LT, and the certificate checks before signing, against a local PKI.

:class:`~agent.testing.pki.LocalPki` serves a real RFC 3161 TSA, a CRL and an OCSP
responder on 127.0.0.1 for a CA of its own; the token's certificates name those URLs.
The agent runs with that TSA configured and the CA as its only trust root. pyHanko's
validator (with fetching turned off, so B-LT must carry its own revocation data) and
poppler's pdfsig decide whether the results are what was asked for.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator import ValidationContext

from agent.testing.pki import LocalPki
from agent.testing.softhsm import KeySpec, SoftHsm, TestCa, TokenSpec, new_token
from tests.conftest import PIN, AgentProcess, run_cli, start_agent
from tests.pdftools import NssDb, sample_pdf
from tests.verify import b64, der

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class PkiToken:
    pki: LocalPki
    hsm: SoftHsm
    good: x509.Certificate
    """Lê Thị Hoa, RSA, with CRL and OCSP URLs of the local PKI."""
    doomed: x509.Certificate
    """Phạm Văn Minh, EC, revoked by the test that needs it."""
    ca_pem: Path


@pytest.fixture(scope="module")
def pki_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PkiToken]:
    root = tmp_path_factory.mktemp("pki-token")
    with LocalPki(TestCa.create("Kyso Test CA (PKI)")) as pki:
        urls = {"crl_url": pki.crl_url, "ocsp_url": pki.ocsp_url}
        hsm, made = new_token(
            root,
            TokenSpec(
                "KYSO-PKI",
                PIN,
                keys=(
                    KeySpec("11", "RSA", "Lê Thị Hoa", "Sở Tư pháp", **urls),
                    KeySpec("12", "EC", "Phạm Văn Minh", "Sở Tư pháp", **urls),
                ),
            ),
            pki.ca,
        )
        certs = {m.key_id: m.certificate for m in made}
        for cert in certs.values():
            pki.register(cert.serial_number)
        ca_pem = root / "ca.pem"
        ca_pem.write_bytes(pki.ca.cert.public_bytes(serialization.Encoding.PEM))
        yield PkiToken(pki, hsm, certs["11"], certs["12"], ca_pem)


@pytest.fixture(scope="module")
def pki_agent(
    pki_token: PkiToken, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AgentProcess]:
    root = tmp_path_factory.mktemp("pki-agent")
    config = root / "agent.toml"
    config.write_text(
        f'tsa_url = "{pki_token.pki.tsa_url}"\ntrust_roots = ["{pki_token.ca_pem}"]\n'
    )
    running = start_agent(
        root, pki_token.hsm, "--config", str(config), policy={"cancel_backoff_seconds": 0}
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def nss(pki_token: PkiToken, tmp_path_factory: pytest.TempPathFactory) -> NssDb:
    return NssDb.create(tmp_path_factory.mktemp("nss-pki"), pki_token.pki.ca.cert)


def online(pki_token: PkiToken) -> ValidationContext:
    """Trusting the test CA, fetching revocation data from the local PKI, hard-fail."""
    return ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(der(pki_token.pki.ca.cert))],
        allow_fetching=True,
        revocation_mode="hard-fail",
    )


def sign(agent: AgentProcess, cert: x509.Certificate, **options: object) -> bytes:
    agent.script({"approved": True, "pin": PIN})
    response = agent.post(
        "/v1/pdf/sign", {"pdf": b64(sample_pdf()), "certificate": b64(der(cert)), **options}
    )
    assert response.status == 200, response.body[:500]
    return base64.b64decode(response.json["pdf"])


def last_audit(agent: AgentProcess, pki_token: PkiToken) -> dict[str, object]:
    done = run_cli("audit", "--json", "--data-dir", str(agent.data_dir))
    assert done.returncode == 0, done.stderr
    entries: list[dict[str, object]] = json.loads(done.stdout)["entries"]
    return entries[-1]


def test_b_t_carries_a_timestamp_from_the_configured_tsa(
    pki_agent: AgentProcess, pki_token: PkiToken, nss: NssDb, tmp_path: Path
) -> None:
    signed = sign(pki_agent, pki_token.good, level="B-T")
    # One token per signature once the agent knows the TSA's answer size.
    before = pki_token.pki.served["tsa"]
    sign(pki_agent, pki_token.good, level="B-T")
    assert pki_token.pki.served["tsa"] == before + 1
    # The audit trail names the server that received the signature's digest.
    checks = str(last_audit(pki_agent, pki_token)["checks"])
    assert checks.endswith(f"; time stamp from {pki_token.pki.tsa_url}"), checks
    [embedded] = PdfFileReader(BytesIO(signed)).embedded_signatures
    status = validate_pdf_signature(embedded, online(pki_token))
    assert status.bottom_line, status.pretty_print_details()
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.intact and status.timestamp_validity.valid
    assert status.timestamp_validity.trusted
    [block] = nss.pdfsig(signed, tmp_path)
    assert "Signature is Valid" in block and "Certificate is Trusted" in block


def test_b_lt_validates_offline_from_what_it_embeds(
    pki_agent: AgentProcess, pki_token: PkiToken, nss: NssDb, tmp_path: Path
) -> None:
    signed = sign(pki_agent, pki_token.good, level="B-LT")
    reader = PdfFileReader(BytesIO(signed))
    dss = reader.root["/DSS"]
    assert "/OCSPs" in dss or "/CRLs" in dss, "B-LT embeds revocation data"
    [embedded] = reader.embedded_signatures
    # No fetching and hard-fail: only the embedded data can make this pass.
    offline = DocumentSecurityStore.read_dss(reader).as_validation_context(
        {
            "trust_roots": [asn1_x509.Certificate.load(der(pki_token.pki.ca.cert))],
            "allow_fetching": False,
            "revocation_mode": "hard-fail",
        }
    )
    status = validate_pdf_signature(embedded, offline)
    assert status.bottom_line, status.pretty_print_details()
    [block] = nss.pdfsig(signed, tmp_path)
    assert "Signature is Valid" in block and "Certificate is Trusted" in block


def test_b_b_signature_has_neither_timestamp_nor_dss(
    pki_agent: AgentProcess, pki_token: PkiToken
) -> None:
    signed = sign(pki_agent, pki_token.good)
    assert "time stamp" not in str(last_audit(pki_agent, pki_token)["checks"])
    reader = PdfFileReader(BytesIO(signed))
    assert "/DSS" not in reader.root
    [embedded] = reader.embedded_signatures
    unsigned = embedded.signer_info["unsigned_attrs"]
    assert unsigned.native is None or not any(
        a["type"].native == "signature_time_stamp_token" for a in unsigned
    )


def test_validity_and_revocation_are_checked_and_recorded_before_signing(
    pki_agent: AgentProcess, pki_token: PkiToken
) -> None:
    sign(pki_agent, pki_token.good)
    entry = last_audit(pki_agent, pki_token)
    assert entry["outcome"] == "signed"
    checks = str(entry["checks"])
    assert "valid until" in checks and "revocation good via ocsp" in checks


def test_revoked_certificate_is_refused_and_nothing_is_signed(
    pki_agent: AgentProcess, pki_token: PkiToken
) -> None:
    pki_token.pki.revoke(pki_token.doomed.serial_number)
    pki_agent.script({"approved": True, "pin": PIN})
    original = sample_pdf()
    response = pki_agent.post(
        "/v1/pdf/sign", {"pdf": b64(original), "certificate": b64(der(pki_token.doomed))}
    )
    assert (response.status, response.error_code) == (409, "CERTIFICATE_REVOKED")
    assert "pdf" not in response.json
    entry = last_audit(pki_agent, pki_token)
    assert entry["outcome"] != "signed"
    assert "revocation revoked" in str(entry["checks"])
    # The same request with a good certificate still works: nothing is stuck.
    assert sign(pki_agent, pki_token.good).startswith(original)


def _closed_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/tsa"


def test_a_page_cannot_choose_the_tsa_the_agent_fetches(
    pki_agent: AgentProcess, pki_token: PkiToken
) -> None:
    """A page-chosen tsaUrl made the agent POST to any address after one approval and tell
    the page what answered (a port scanner): only the configured TSA may be named."""
    probe = "http://169.254.169.254/latest/meta-data"  # a cloud metadata address
    asked_before = len(pki_agent.prompts())
    for chosen in (_closed_url(), "http://127.0.0.1:28990/internal-admin/tsa?x=1", probe):
        for path, body in (
            ("/v1/pdf/sign", {"pdf": b64(sample_pdf()), "level": "B-T", "tsaUrl": chosen}),
            ("/v1/cms/sign", {"digest": b64(bytes(32)), "digestAlgorithm": "SHA-256",
                              "tsaUrl": chosen}),
        ):  # fmt: skip
            response = pki_agent.post(path, body)
            assert (response.status, response.error_code) == (400, "BAD_REQUEST"), path
            assert "tsaUrl" in response.json["error"]["message"], response.json
    # Refused before the question: the user was never asked.
    assert len(pki_agent.prompts()) == asked_before
    # Naming the configured one is allowed (and the same as leaving it out).
    pki_agent.script({"approved": True, "pin": PIN})
    named = pki_agent.post(
        "/v1/pdf/sign",
        {
            "pdf": b64(sample_pdf()),
            "certificate": b64(der(pki_token.good)),
            "level": "B-T",
            "tsaUrl": pki_token.pki.tsa_url,
        },
    )
    assert named.status == 200, named.body[:300]


def test_an_unreachable_tsa_is_a_signing_failure_that_tells_nothing_of_its_answer(
    pki_token: PkiToken, tmp_path: Path
) -> None:
    closed = _closed_url()
    config = tmp_path / "agent.toml"
    config.write_text(f'tsa_url = "{closed}"\ntrust_roots = ["{pki_token.ca_pem}"]\n')
    running = start_agent(tmp_path, pki_token.hsm, "--config", str(config))
    try:
        running.script({"approved": True, "pin": PIN})
        response = running.post(
            "/v1/pdf/sign",
            {"pdf": b64(sample_pdf()), "certificate": b64(der(pki_token.good)), "level": "B-T"},
        )
        assert (response.status, response.error_code) == (502, "SIGNING_FAILED")
        message = response.json["error"]["message"]
        assert closed in message
        # What the address answered (or that nothing listens) stays in the log.
        assert "refused" not in message.lower() and "errno" not in message.lower()
        assert running.request("GET", "/v1/info").status == 200
    finally:
        running.stop()
