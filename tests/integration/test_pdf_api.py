"""PDF signing, CMS and verification through the real server on SoftHSM.

Independent verifiers decide: poppler's pdfsig (with an NSS database trusting the
test CA) and pyHanko's validation. poppler never reports a second signature as
trusted when its certificate already signed earlier in the same file, so stacked
signatures here use different certificates, as the leader and the organisation do.
"""

from __future__ import annotations

import base64
import hashlib
import json
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import PIN, AgentProcess, SessionToken, run_cli, start_agent
from tests.pdftools import NssDb, pyhanko_bottom_line, sample_pdf, tamper
from tests.verify import b64, der, openssl_cms_verify

pytestmark = pytest.mark.integration


def sign_pdf(agent: AgentProcess, pdf: bytes, **options: object) -> bytes:
    response = agent.post("/v1/pdf/sign", {"pdf": b64(pdf), **options})
    assert response.status == 200, response.body[:500]
    return base64.b64decode(response.json["pdf"])


def test_invisible_pades_signature_is_valid_and_trusted_for_pdfsig_and_pyhanko(
    fresh: AgentProcess, token: SessionToken, nss: NssDb, tmp_path: Path
) -> None:
    original = sample_pdf()
    fresh.script({"approved": True, "pin": PIN})
    signed = sign_pdf(fresh, original, certificate=b64(der(token.rsa)), documentName="QĐ-123.pdf")
    assert signed.startswith(original), "an incremental update keeps the original bytes"
    [block] = nss.pdfsig(signed, tmp_path)
    assert "Signature is Valid" in block
    assert "Certificate is Trusted" in block
    assert "Nguyễn Văn An" in block
    assert "ETSI.CAdES.detached" in block
    assert pyhanko_bottom_line(signed, token.ca.cert) == [True]
    [prompt] = fresh.prompts()
    # The page preview and the viewer's copy are tests/integration/test_pdf_preview.py's.
    shown = [
        {k: v for k, v in d.items() if k not in ("preview", "file")} for d in prompt["documents"]
    ]
    assert shown == [
        {
            "name": "QĐ-123.pdf",
            "digest": hashlib.sha256(original).hexdigest(),
            "algorithm": "SHA-256",
        }
    ]


def test_a_tampered_byte_is_detected_by_both_verifiers(
    fresh: AgentProcess, token: SessionToken, nss: NssDb, tmp_path: Path
) -> None:
    fresh.script({"approved": True, "pin": PIN})
    signed = sign_pdf(fresh, sample_pdf(), certificate=b64(der(token.ec)))
    broken = tamper(signed)
    [block] = nss.pdfsig(broken, tmp_path)
    assert "Signature is Valid" not in block
    assert pyhanko_bottom_line(broken, token.ca.cert) == [False]


def test_stacked_personal_then_organization_signatures_stay_valid(
    fresh: AgentProcess, token: SessionToken, nss: NssDb, tmp_path: Path
) -> None:
    fresh.script({"approved": True, "pin": PIN}, {"approved": True, "pin": PIN})
    first = sign_pdf(
        fresh,
        sample_pdf(),
        certificate=b64(der(token.rsa)),
        appearance={"profile": "personal", "page": -1},
    )
    second = sign_pdf(
        fresh,
        first,
        certificate=b64(der(token.ec)),
        appearance={"profile": "organization", "page": -1, "rect": [60, 100, 260, 180]},
    )
    blocks = nss.pdfsig(second, tmp_path)
    assert len(blocks) == 2
    for block in blocks:
        assert "Signature is Valid" in block, block
        assert "Certificate is Trusted" in block, block
    assert pyhanko_bottom_line(second, token.ca.cert) == [True, True]


def test_browser_form_upload_signs_the_same_way(
    fresh: AgentProcess, token: SessionToken, nss: NssDb, tmp_path: Path
) -> None:
    boundary = uuid.uuid4().hex
    options = json.dumps({"certificate": b64(der(token.rsa)), "documentName": "Tờ trình.pdf"})
    pdf = sample_pdf()
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="options"\r\n'
            "Content-Type: application/json\r\n\r\n"
        ).encode()
        + options.encode()
        + (
            f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + pdf
        + f"\r\n--{boundary}--\r\n".encode()
    )
    fresh.script({"approved": True, "pin": PIN})
    response = fresh.request(
        "POST",
        "/v1/pdf/sign",
        body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status == 200, response.body[:300]
    signed = base64.b64decode(response.json["pdf"])
    [block] = nss.pdfsig(signed, tmp_path)
    assert "Signature is Valid" in block
    assert fresh.prompts()[0]["documents"][0]["name"] == "Tờ trình.pdf"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"pdf": b64(b"not a pdf at all")}, "BAD_REQUEST"),
        ({"pdf": b64(sample_pdf()), "level": "B-LTA"}, "BAD_REQUEST"),
        ({"pdf": b64(sample_pdf()), "appearance": {"profile": "stamp"}}, "BAD_REQUEST"),
        (
            {"pdf": b64(sample_pdf()), "appearance": {"profile": "personal", "page": 0}},
            "BAD_REQUEST",
        ),
        (
            {
                "pdf": b64(sample_pdf()),
                "appearance": {"profile": "personal", "image": b64(b"GIF89a")},
            },
            "BAD_REQUEST",
        ),
        ({"pdf": b64(sample_pdf()), "pin": "1"}, "BAD_REQUEST"),
        ({"pdf": b64(sample_pdf()), "tsaUrl": "file:///etc/passwd"}, "BAD_REQUEST"),
        # No TSA given and none configured: a mistake of the portal, refused before asking.
        ({"pdf": b64(sample_pdf()), "level": "B-T"}, "BAD_REQUEST"),
        ({"pdf": b64(sample_pdf()), "level": ""}, "BAD_REQUEST"),
    ],
)
def test_bad_pdf_requests_are_refused_before_asking(
    fresh: AgentProcess, body: dict[str, object], code: str
) -> None:
    response = fresh.post("/v1/pdf/sign", body)
    assert response.error_code == code, response.body[:300]
    assert fresh.prompts() == []


def test_appearance_outside_the_document_is_refused_before_asking(
    fresh: AgentProcess, token: SessionToken
) -> None:
    response = fresh.post(
        "/v1/pdf/sign",
        {
            "pdf": b64(sample_pdf()),
            "certificate": b64(der(token.rsa)),
            "appearance": {"profile": "personal", "page": 7},
        },
        headers={"Accept-Language": "en"},
    )
    assert response.error_code == "BAD_REQUEST"
    assert "page 7 is outside the document" in response.json["error"]["message"]
    assert fresh.prompts() == []


def test_pdf_over_the_configured_limit_is_413(token: SessionToken, tmp_path: Path) -> None:
    config = tmp_path / "small.toml"
    config.write_text("max_pdf_bytes = 4096\n")
    running = start_agent(tmp_path / "agent", token.hsm, "--config", str(config))
    try:
        response = running.post("/v1/pdf/sign", {"pdf": b64(sample_pdf(filler=20_000))})
        assert (response.status, response.error_code) == (413, "PAYLOAD_TOO_LARGE")
        assert "4096" in response.json["error"]["message"]
        assert running.prompts() == []
    finally:
        running.stop()


def test_verify_endpoint_reports_valid_then_tampered(
    fresh: AgentProcess, token: SessionToken
) -> None:
    fresh.script({"approved": True, "pin": PIN})
    signed = sign_pdf(fresh, sample_pdf(), certificate=b64(der(token.rsa)))
    # The session agent trusts no roots: the signature is intact but not trusted.
    report = fresh.post("/v1/pdf/verify", {"pdf": b64(signed)}).json
    assert report["allValid"] is False
    [signature] = report["signatures"]
    assert signature["intact"] is True and signature["trusted"] is False
    assert "Nguyễn Văn An" in report["text"]
    broken = fresh.post("/v1/pdf/verify", {"pdf": b64(tamper(signed))}).json
    assert broken["signatures"][0]["intact"] is False
    assert len(fresh.prompts()) == 1, "only the signature asked; verifying asks nobody"


SHOW_EVERY_WARNING = ("-W", "default")


def test_cli_sign_pdf_then_verify(token: SessionToken, ca_pem: Path, tmp_path: Path) -> None:
    """Both commands run with every warning shown (``python -W default``) and print none: no
    library's warning reaches a user (agent/pywarnings.py). cryptography 51 deprecates DSA and
    pyHanko 0.38 imports it, so before that both printed ``CryptographyDeprecationWarning``."""
    source = tmp_path / "to-trinh.pdf"
    source.write_bytes(sample_pdf())
    prompter_dir = tmp_path / "prompter"
    prompter_dir.mkdir()
    (prompter_dir / "answers.json").write_text(
        json.dumps([{"approved": True, "pin": PIN, "certificate": "Nguyễn"}])
    )
    env = {**token.hsm.environ(), "HOME": str(tmp_path)}
    env.pop("PYTHONWARNINGS", None)
    common = ["--data-dir", str(tmp_path / "data"), "--pkcs11-module", str(token.hsm.module)]
    signed = run_cli(
        "sign-pdf",
        str(source),
        "-o",
        str(tmp_path / "signed.pdf"),
        "--profile",
        "personal",
        "--prompter",
        f"{sys.executable} -m agent.testing.prompter {prompter_dir}",
        *common,
        env=env,
        python=SHOW_EVERY_WARNING,
    )
    assert signed.returncode == 0, signed.stderr
    assert "Warning" not in signed.stderr, signed.stderr
    prompt = json.loads((prompter_dir / "requests.jsonl").read_text().splitlines()[0])
    assert prompt["origin"] == "local://kyso-agent"
    assert prompt["documents"][0]["name"] == "to-trinh.pdf"
    checked = run_cli(
        "verify",
        str(tmp_path / "signed.pdf"),
        "--trust-root",
        str(ca_pem),
        "--offline",
        *common,
        env=env,
        python=SHOW_EVERY_WARNING,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Warning" not in checked.stderr, checked.stderr
    assert "Nguyễn Văn An" in checked.stdout
    untrusted = run_cli("verify", str(tmp_path / "signed.pdf"), "--offline", *common, env=env)
    assert untrusted.returncode == 1
    (tmp_path / "broken.pdf").write_bytes(tamper((tmp_path / "signed.pdf").read_bytes()))
    broken = run_cli(
        "verify",
        str(tmp_path / "broken.pdf"),
        "--trust-root",
        str(ca_pem),
        "--offline",
        *common,
        env=env,
    )
    assert broken.returncode == 1
    audit = run_cli("audit", "--json", "--data-dir", str(tmp_path / "data"), env=env)
    [entry] = json.loads(audit.stdout)["entries"]
    assert entry["origin"] == "local://kyso-agent" and entry["outcome"] == "signed"


def test_cms_signature_over_a_digest_verifies_with_openssl(
    fresh: AgentProcess, token: SessionToken, ca_pem: Path, tmp_path: Path
) -> None:
    content = b"byte ranges of a PDF prepared on the portal's server"
    fresh.script({"approved": True, "pin": PIN})
    response = fresh.post(
        "/v1/cms/sign",
        {
            "digest": b64(hashlib.sha256(content).digest()),
            "digestAlgorithm": "SHA-256",
            "certificate": b64(der(token.rsa)),
            "documentName": "HĐ-01.pdf",
        },
    )
    assert response.status == 200, response.body[:300]
    cms = base64.b64decode(response.json["cms"])
    verified = openssl_cms_verify(cms, content, ca_pem, tmp_path)
    assert verified.returncode == 0, verified.stderr
    from asn1crypto import cms as asn1_cms

    signer_info = asn1_cms.ContentInfo.load(cms)["content"]["signer_infos"][0]
    # By OID: asn1crypto names signing-certificate-v2 only once pyHanko has registered it.
    attributes = {a["type"].dotted for a in signer_info["signed_attrs"]}
    content_type, message_digest = "1.2.840.113549.1.9.3", "1.2.840.113549.1.9.4"
    signing_certificate_v2 = "1.2.840.113549.1.9.16.2.47"
    assert {content_type, message_digest, signing_certificate_v2} <= attributes
    refused = openssl_cms_verify(cms, content + b"!", ca_pem, tmp_path)
    assert refused.returncode != 0
