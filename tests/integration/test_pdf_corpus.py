"""PDFs shaped like those that broke signing on public portals, through the real agent on SoftHSM.

Each kind is either signed (and judged by pdfsig, pyHanko's validation and ``qpdf --check``)
or refused with a clear 400, in Vietnamese or in English as asked, before anyone is asked:
the scripted prompter records every question, and these must leave its record empty.
pdfsig never trusts a second signature by a certificate it already saw in the file, so the
documents signed here before the agent signs carry a software key's signature, not the token's.
"""

from __future__ import annotations

import base64
import json
import sys
import uuid
from pathlib import Path

import pytest

from agent.messages import Lang, text
from tests.conftest import PIN, AgentProcess, SessionToken, run_cli
from tests.pdf_corpus import (
    Encryption,
    certified,
    corrupt_content_stream,
    corrupt_object_stream,
    encrypted,
    opened,
    pyhanko_verdicts,
    with_fields,
)
from tests.pdftools import NssDb, qpdf_check, sample_pdf
from tests.verify import b64, der

pytestmark = pytest.mark.integration


def refused(agent: AgentProcess, pdf: bytes, key: str, **options: object) -> None:
    """``/v1/pdf/sign`` answers 400 with the catalogue sentence ``key``, wholly in Vietnamese
    (the agent's language) and wholly in English when asked, and nobody was asked."""
    body = {"pdf": b64(pdf), **options}
    for lang in (Lang.VI, Lang.EN):
        response = agent.post("/v1/pdf/sign", body, headers={"Accept-Language": lang.value})
        assert (response.status, response.error_code) == (400, "BAD_REQUEST"), response.body
        assert response.json["error"]["message"] == text(
            "BAD_REQUEST", lang, detail=text(key, lang)
        )
    assert agent.prompts() == [], "refused before the question, never after it"


def signed(agent: AgentProcess, pdf: bytes, **options: object) -> bytes:
    agent.script({"approved": True, "pin": PIN})
    response = agent.post("/v1/pdf/sign", {"pdf": b64(pdf), **options})
    assert response.status == 200, response.body[:500]
    assert len(agent.prompts()) == 1
    return base64.b64decode(response.json["pdf"])


def judged(signed_pdf: bytes, original: bytes, token: SessionToken, nss: NssDb, tmp: Path) -> None:
    """Every signature valid and trusted for pdfsig and pyHanko; qpdf finds no error."""
    assert signed_pdf.startswith(original), "an incremental update keeps the original bytes"
    # pdfsig also lists the form's empty signature fields.
    blocks = [b for b in nss.pdfsig(signed_pdf, tmp) if "is not signed" not in b]
    assert len(blocks) == len(opened(signed_pdf).embedded_signatures) > 0
    for block in blocks:
        assert "Signature is Valid" in block, block
        assert "Certificate is Trusted" in block, block
    assert all(ok for _, ok, _ in pyhanko_verdicts(signed_pdf, token.ca.cert))
    checked = qpdf_check(signed_pdf, tmp)
    assert checked.returncode == 0, checked.stdout + checked.stderr


# --- item 10: damaged compressed streams ----------------------------------------------------


def test_a_truncated_content_stream_is_refused_before_asking(fresh: AgentProcess) -> None:
    pdf = corrupt_content_stream(pages=2, damaged_page=2)
    body = {"pdf": b64(pdf)}
    response = fresh.post("/v1/pdf/sign", body, headers={"Accept-Language": "en"})
    assert (response.status, response.error_code) == (400, "BAD_REQUEST"), response.body
    assert response.json["error"]["message"] == text(
        "BAD_REQUEST", Lang.EN, detail=text("bad_pdf_damaged_page", Lang.EN, page=2)
    )
    vietnamese = fresh.post("/v1/pdf/sign", body).json["error"]["message"]
    assert vietnamese == text(
        "BAD_REQUEST", Lang.VI, detail=text("bad_pdf_damaged_page", Lang.VI, page=2)
    )
    assert fresh.prompts() == []
    assert "incomplete or truncated stream" in fresh.log_text(), "the detail goes to the log"


@pytest.mark.parametrize("profile", ["invisible", "personal"])
def test_a_truncated_object_stream_is_refused_before_asking(
    fresh: AgentProcess, profile: str
) -> None:
    refused(fresh, corrupt_object_stream(), "bad_pdf_damaged", appearance={"profile": profile})


def test_cli_refuses_a_damaged_pdf_with_a_message_not_a_traceback(
    token: SessionToken, tmp_path: Path
) -> None:
    source = tmp_path / "hong.pdf"
    source.write_bytes(corrupt_object_stream())
    prompter_dir = tmp_path / "prompter"
    prompter_dir.mkdir()
    (prompter_dir / "answers.json").write_text(json.dumps([{"approved": True, "pin": PIN}]))
    env = {**token.hsm.environ(), "HOME": str(tmp_path)}
    done = run_cli(
        "sign-pdf",
        str(source),
        "-o",
        str(tmp_path / "signed.pdf"),
        "--prompter",
        f"{sys.executable} -m agent.testing.prompter {prompter_dir}",
        "--data-dir",
        str(tmp_path / "data"),
        "--pkcs11-module",
        str(token.hsm.module),
        env=env,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    expected = text("BAD_REQUEST", Lang.VI, detail=text("bad_pdf_damaged", Lang.VI))
    assert f"kyso-agent: BAD_REQUEST: {expected}" in done.stderr, done.stderr
    requests = prompter_dir / "requests.jsonl"
    assert not requests.exists() or not requests.read_text().strip(), "nobody was asked"
    assert not (tmp_path / "signed.pdf").exists()


def test_a_pdf_without_a_page_tree_gets_a_message_not_a_key_error(fresh: AgentProcess) -> None:
    """Before: "the PDF cannot be read: '/Pages'"."""
    no_pages = sample_pdf().replace(b"/Pages 2 0 R", b"/Nothing 2 0 R")
    refused(fresh, no_pages, "bad_pdf_damaged")


def test_a_damaged_xref_gets_a_message_not_the_readers_words(fresh: AgentProcess) -> None:
    """Before: "Dictionary read error at byte 0x0x1de…"."""
    pdf = sample_pdf()
    damaged = pdf[: pdf.index(b"trailer")] + b"trailer\n<< /Size 9 /Root 1 0 R \x00\x00"
    refused(fresh, damaged, "bad_pdf_damaged")


# --- item 11: field names, DocMDP -----------------------------------------------------------


def test_fields_already_named_like_the_agents_own_get_a_free_name(
    fresh: AgentProcess, token: SessionToken, nss: NssDb, tmp_path: Path
) -> None:
    """One signature, then a text field Signature2, an empty signature field Signature3 and a
    nested Approvals.Signature4: before, the agent named its field Signature2 and pyHanko
    failed after the PIN (502 SIGNING_FAILED)."""
    original = with_fields(token.ca)
    result = signed(fresh, original, certificate=b64(der(token.rsa)))
    judged(result, original, token, nss, tmp_path)
    names = [name for name, _, _ in pyhanko_verdicts(result, token.ca.cert)]
    assert names == ["Signature1", "Signature5"]
    form_fields = opened(result).root["/AcroForm"]["/Fields"]
    assert len(form_fields) == 5, "the agent's field is added, none of the others is touched"


def test_a_document_certified_with_no_changes_allowed_is_refused_before_asking(
    fresh: AgentProcess, token: SessionToken
) -> None:
    """Before: refused only after approval and PIN."""
    refused(fresh, certified(token.ca, 1), "bad_pdf_locked", certificate=b64(der(token.rsa)))


@pytest.mark.parametrize("level", [2, 3])
def test_a_certified_document_that_allows_signing_is_signed_and_stays_certified(
    fresh: AgentProcess, token: SessionToken, nss: NssDb, tmp_path: Path, level: int
) -> None:
    original = certified(token.ca, level)
    result = signed(fresh, original, certificate=b64(der(token.rsa)))
    judged(result, original, token, nss, tmp_path)
    assert pyhanko_verdicts(result, token.ca.cert) == [
        ("Author", True, True),
        ("Signature2", True, True),
    ]


def test_a_new_visible_stamp_on_a_certified_document_is_refused_before_asking(
    fresh: AgentProcess, token: SessionToken
) -> None:
    """A new signature field on a page is a new annotation, which DocMDP level 2 does not
    allow: pyHanko then reports the author's certification broken."""
    refused(
        fresh,
        certified(token.ca, 2),
        "bad_pdf_certified_visible",
        certificate=b64(der(token.rsa)),
        appearance={"profile": "personal"},
    )


# --- item 13: encrypted documents -----------------------------------------------------------


@pytest.mark.parametrize(
    "case", [(e, p) for e in Encryption for p in ("invisible", "personal")], ids=str
)
def test_a_pdf_with_an_owner_password_only_is_signed_and_stays_encrypted(
    fresh: AgentProcess,
    token: SessionToken,
    nss: NssDb,
    tmp_path: Path,
    case: tuple[Encryption, str],
) -> None:
    """It opens without a password (portals publish such files); Acrobat signs it keeping its
    encryption, and so does the agent. Before: refused as "encrypted"."""
    encryption, profile = case
    original = encrypted(sample_pdf(), tmp_path, encryption)
    result = signed(
        fresh, original, certificate=b64(der(token.rsa)), appearance={"profile": profile}
    )
    judged(result, original, token, nss, tmp_path)
    checked = qpdf_check(result, tmp_path)
    assert "File is not encrypted" not in checked.stdout
    assert opened(result).encrypted


@pytest.mark.parametrize("encryption", list(Encryption))
def test_a_pdf_that_needs_a_password_to_open_is_refused_before_asking(
    fresh: AgentProcess, tmp_path: Path, encryption: Encryption
) -> None:
    pdf = encrypted(sample_pdf(), tmp_path, encryption, user_password="mat-khau-mo")
    refused(fresh, pdf, "bad_pdf_password")


@pytest.mark.parametrize("encryption", list(Encryption))
def test_a_pdf_whose_author_forbade_changes_is_refused_before_asking(
    fresh: AgentProcess, tmp_path: Path, encryption: Encryption
) -> None:
    pdf = encrypted(sample_pdf(), tmp_path, encryption, restricted=True)
    refused(fresh, pdf, "bad_pdf_no_signing")


# --- item 16: a certificate that is not one -------------------------------------------------

NOT_DER = b64(b"this is not a DER certificate")


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/sign", {"hash": b64(bytes(32)), "hashAlgorithm": "SHA-256"}),
        ("/v1/sign/batch", {"items": [{"hash": b64(bytes(32)), "hashAlgorithm": "SHA-256"}]}),
        ("/v1/cms/sign", {"digest": b64(bytes(32)), "digestAlgorithm": "SHA-256"}),
        ("/v1/pdf/sign", {"pdf": b64(sample_pdf())}),
    ],
)
def test_a_certificate_that_is_not_der_is_a_bad_request_naming_the_field(
    fresh: AgentProcess, path: str, body: dict[str, object]
) -> None:
    """Before: 404 CERTIFICATE_NOT_FOUND, as if the token lacked a real certificate."""
    response = fresh.post(path, {**body, "certificate": NOT_DER}, headers={"Accept-Language": "en"})
    assert (response.status, response.error_code) == (400, "BAD_REQUEST"), response.body
    assert "'certificate' is not an X.509 certificate" in response.json["error"]["message"]
    assert fresh.prompts() == []


def test_a_form_upload_with_a_certificate_that_is_not_der_is_a_bad_request(
    fresh: AgentProcess,
) -> None:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="options"\r\n'
            "Content-Type: application/json\r\n\r\n"
            + json.dumps({"certificate": NOT_DER})
            + f"\r\n--{boundary}\r\n"
            + 'Content-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + sample_pdf()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = fresh.request(
        "POST",
        "/v1/pdf/sign",
        body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert (response.status, response.error_code) == (400, "BAD_REQUEST"), response.body
    assert "'certificate'" in response.json["error"]["message"]
    assert "chứng thư số X.509" in response.json["error"]["message"]
    assert fresh.prompts() == []
