"""The VGCA protocol's pure parts: URL rules, parsing, the Status table, stamps."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from agent.algorithms import HashAlgorithm
from agent.compat.vgca.endpoints import INSTEAD, stamp_for
from agent.compat.vgca.file_list import FileList
from agent.compat.vgca.protocol import (
    ERROR_STATUS,
    MAX_FILES,
    DataMsg,
    Delivery,
    Endpoint,
    FileRef,
    FilesCall,
    FilesShape,
    HashMsg,
    LocalFileWanted,
    Reply,
    Status,
    VerifyXmlCall,
    XmlCall,
    decode_message,
    name_from_url,
    parse_auth_call,
    parse_files_call,
    parse_issued_date,
    parse_msg_call,
    parse_pdf_call,
    parse_verify_msg_call,
    parse_verify_xml_call,
    parse_xml_call,
    status_for,
)
from agent.compat.vgca.transfer import (
    TransferError,
    Transfers,
    UploadAnswer,
    UrlNotAllowed,
    _answer,
    check_url,
    upload_name,
)
from agent.compat.vgca.verify import NotASignature, check_message
from agent.errors import AgentError, BadRequest, ErrorCode, SigningFailed
from agent.messages import Lang, keys
from agent.origin import Admitted, OriginPolicy, parse_origin
from agent.pdf.models import PdfSignOptions, Profile
from agent.protocol import (
    MAX_PDF_BATCH,
    PdfBatchSignRequest,
    PdfBatchSignResponse,
    PdfSignRequest,
)
from agent.service import SigningService
from agent.xml.sign import XmlDigest

PAGE = Admitted(parse_origin("https://vpdt.hue.gov.vn"), via_wildcard=False)
POLICY = OriginPolicy.from_strings(
    ["https://vpdt.hue.gov.vn", "https://files.hue.gov.vn", "https://*.tinh.gov.vn"]
)


@pytest.mark.parametrize(
    "url",
    [
        "https://vpdt.hue.gov.vn/docs/a.pdf",
        "https://VPDT.hue.gov.vn:443/docs/a.pdf?x=1",
        "https://files.hue.gov.vn/upload",
    ],
)
def test_urls_of_the_page_or_the_allow_list_are_fetched(url: str) -> None:
    assert check_url(url, PAGE, POLICY).scheme == "https"


def test_another_origin_admitted_by_a_wildcard_must_have_been_paired() -> None:
    """Nobody is asked about the origin a file goes to: one that only a wildcard entry admits
    (any subdomain a site can make up) gets the signed file only once the user paired it."""
    url = "https://so.tinh.gov.vn/upload"
    with pytest.raises(UrlNotAllowed, match="allowed and paired"):
        check_url(url, PAGE, POLICY)
    paired = {"https://so.tinh.gov.vn"}.__contains__
    assert check_url(url, PAGE, POLICY, is_paired=paired).host == "so.tinh.gov.vn"
    # Machine policy forbidding pairing forbids it here too, paired or not.
    with pytest.raises(UrlNotAllowed):
        check_url(url, PAGE, POLICY, allow_pairing=False, is_paired=paired)


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://vpdt.hue.gov.vn/a.pdf",
        "javascript:alert(1)",
        "http://vpdt.hue.gov.vn/a.pdf",
        "https://vpdt.hue.gov.vn:8443/a.pdf",
        "https://intranet.local/a.pdf",
        "http://127.0.0.1:8988/v1/info",
        "https://127.0.0.1:8988/v1/info",
        "http://[::1]:631/",
        "http://169.254.169.254/latest/meta-data",
        "https://user:pass@vpdt.hue.gov.vn/a.pdf",
        "https://vpdt.hue.gov.vn.evil.com/a.pdf",
        "//vpdt.hue.gov.vn/a.pdf",
        "/docs/a.pdf",
    ],
)
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises(UrlNotAllowed):
        check_url(url, PAGE, POLICY)


def test_wildcard_urls_follow_the_pairing_policy() -> None:
    with pytest.raises(UrlNotAllowed):
        check_url("https://so.tinh.gov.vn/upload", PAGE, POLICY, allow_pairing=False)


def test_a_loopback_page_may_use_its_own_origin_only() -> None:
    page = Admitted(parse_origin("http://127.0.0.1:8980"), via_wildcard=False)
    assert check_url("http://127.0.0.1:8980/a.pdf", page, POLICY)
    with pytest.raises(UrlNotAllowed):
        check_url("http://127.0.0.1:8981/a.pdf", page, POLICY)


def test_status_numbers_never_change() -> None:
    assert {s.name: int(s) for s in Status} == {
        "OK": 0,
        "BAD_REQUEST": 1,
        "UNSUPPORTED": 2,
        "URL_NOT_ALLOWED": 3,
        "USER_CANCELLED": 4,
        "CONSENT_TIMEOUT": 5,
        "TOKEN_NOT_PRESENT": 6,
        "CERTIFICATE_NOT_FOUND": 7,
        "CERTIFICATE_EXPIRED": 8,
        "CERTIFICATE_REVOKED": 9,
        "PIN_LOCKED": 10,
        "SIGNING_FAILED": 11,
        "BUSY": 12,
        "DOWNLOAD_FAILED": 13,
        "UPLOAD_FAILED": 14,
        "FILE_TOO_LARGE": 15,
        "NOT_ATTEMPTED": 16,
        "SIGNATURE_INVALID": 17,
        "TOKEN_MODULE_FAILED": 18,
        "INTERNAL": 99,
    }
    assert status_for(ErrorCode.INTERNAL) is Status.INTERNAL
    assert status_for(ErrorCode.HOST_NOT_ALLOWED) is Status.INTERNAL
    assert len(set(ERROR_STATUS.values())) == len(ERROR_STATUS)


def test_pdf_call_fields() -> None:
    call = parse_pdf_call(
        decode_message(
            '{"FileUploadHandler": "https://vpdt.hue.gov.vn/up", "FileName": '
            '"https://vpdt.hue.gov.vn/a.pdf", "SessionId": 42, "DocNumber": "12/QĐ-UBND", '
            '"IssuedDate": "2025-05-12T09:30:00Z", "MetaData": [{"Key": "k", "Value": 1}], '
            '"Unknown": "ignored"}'
        )
    )
    assert call.delivery.session_id == "42"
    assert call.delivery.metadata[0].value == "1"
    assert call.issued_date == datetime(2025, 5, 12, 9, 30, tzinfo=UTC)
    with pytest.raises(LocalFileWanted):
        parse_pdf_call({"FileUploadHandler": "https://vpdt.hue.gov.vn/up", "FileName": ""})


@pytest.mark.parametrize(
    "message",
    [
        '{"FileName": "https://a.gov.vn/a.pdf"}',
        '{"FileName": "https://a.gov.vn/a.pdf", "FileUploadHandler": 5}',
        '{"FileName": "https://a.gov.vn/a.pdf", "FileUploadHandler": "https://a", "Pin": "1"}',
        '{"FileName": "https://a.gov.vn/a.pdf", "FileUploadHandler": "https://a", '
        '"DocNumber": "12\\u202e"}',
        '{"FileName": "https://a.gov.vn/a.pdf", "FileUploadHandler": "https://a", '
        '"IssuedDate": "hôm qua"}',
        '{"FileName": "https://a.gov.vn/a.pdf", "FileUploadHandler": "https://a", '
        '"MetaData": [{"Key": "uploadfile", "Value": "x"}]}',
        "[1, 2]",
        "not json",
    ],
)
def test_bad_pdf_calls_are_bad_requests(message: str) -> None:
    with pytest.raises(BadRequest):
        parse_pdf_call(decode_message(message))


def test_files_and_msg_calls() -> None:
    call = parse_files_call(
        {
            "FileUploadHandler": "https://a.gov.vn/up",
            "Files": [{"FileID": 7, "FileName": "QĐ.pdf", "URL": "https://a.gov.vn/1"}],
        }
    )
    assert call.files[0].file_id == 7
    for bad in ({"Files": []}, {"Files": [{"FileID": 1}]}, {"Files": "x"}):
        with pytest.raises(BadRequest):
            parse_files_call({"FileUploadHandler": "https://a.gov.vn/up", **bad})
    assert parse_msg_call('{"Data": "QUJD"}') == DataMsg(b"ABC")
    with pytest.raises(BadRequest):
        parse_msg_call('{"Data": "not base64!"}')


def test_issued_stamp_has_number_and_date_in_vietnam_time() -> None:
    call = parse_pdf_call(
        {
            "FileUploadHandler": "https://a.gov.vn/up",
            "FileName": "https://a.gov.vn/a.pdf",
            "DocNumber": "12/QĐ-UBND",
            "IssuedDate": "2025-05-11T20:00:00+00:00",
        }
    )
    stamp = stamp_for(Endpoint.SIGN_ISSUED, call, datetime(2025, 1, 1, tzinfo=UTC))
    assert stamp.appearance.profile is Profile.ORGANIZATION
    assert stamp.appearance.details == ("Số: 12/QĐ-UBND", "Ngày ban hành: 12/05/2025")
    assert stamp.document_date == "2025-05-12T03:00:00+07:00"
    without_number = parse_pdf_call(
        {"FileUploadHandler": "https://a/up", "FileName": "https://a/b"}
    )
    with pytest.raises(BadRequest):
        stamp_for(Endpoint.SIGN_ISSUED, without_number, datetime(2025, 1, 1, tzinfo=UTC))
    assert stamp_for(Endpoint.SIGN_PDF, without_number, datetime.now(UTC)).appearance.profile is (
        Profile.INVISIBLE
    )
    copy = stamp_for(Endpoint.SIGN_COPY, without_number, datetime.now(UTC))
    assert copy.appearance.text == "SAO Y"


def test_naive_issued_date_is_vietnam_time() -> None:
    moment = parse_issued_date("2025-05-12")
    assert moment is not None
    assert moment.utcoffset() is not None
    assert moment.isoformat() == "2025-05-12T00:00:00+07:00"


def test_upload_answers() -> None:
    assert _answer(b'{"Status": true, "FileName": "a", "FileServer": [1]}').file_server == [1]
    assert _answer(b'{"Status": 0}').file_name == ""
    for refused in (b'{"Status": false, "Message": "no"}', b'{"Status": 1}', b"<html>", b"[]"):
        with pytest.raises(TransferError):
            _answer(refused)


def test_names_from_urls() -> None:
    assert name_from_url("https://a.gov.vn/files/Q%C4%90-12.pdf?token=x") == "QĐ-12.pdf"
    assert name_from_url("https://a.gov.vn/") is None
    assert name_from_url("https://a.gov.vn/evil%E2%80%AEfdp.exe") is None


# --- the shapes vgcaplugin.js and the portals that call it send ------------------------------

DIGEST = hashlib.sha256(b"hoc ba 2024").digest()


@pytest.mark.parametrize(
    ("endpoint", "word"),
    [
        (Endpoint.GET_CERT_INFO, "get_cert_info"),
        (Endpoint.CONFIG, "config"),
        (Endpoint.GET_LICENSE_REQUEST, "request"),
    ],
)
def test_the_librarys_plain_text_messages_mean_no_fields(endpoint: Endpoint, word: str) -> None:
    """vgca_get_certinfo sends "get_cert_info", vgca_show_config "config",
    vgca_license_request "request": not JSON."""
    assert decode_message(word, endpoint) == {}
    assert decode_message(f" {word.upper()}\n", endpoint) == {}
    assert decode_message("{}", endpoint) == {}
    with pytest.raises(BadRequest) as other:
        decode_message("hello", endpoint)
    assert other.value.phrase is not None and other.value.phrase.key == "vgca_plain_text"
    with pytest.raises(BadRequest):
        decode_message('{"UserPin": "123456"}', endpoint)


def test_a_plain_word_is_not_json_for_the_other_endpoints() -> None:
    with pytest.raises(BadRequest):
        decode_message("get_cert_info", Endpoint.SIGN_PDF)


@pytest.mark.parametrize(
    "message",
    [
        # vgca_sign_msg(sender, JSON.stringify({HashAlg, HashValue, Encode}), …)
        json.dumps(
            {"HashAlg": "SHA256", "HashValue": base64.b64encode(DIGEST).decode(), "Encode": "RSA"}
        ),
        # the same without Encode, HashAlg written as the page likes it
        json.dumps({"HashValue": base64.b64encode(DIGEST).decode(), "HashAlg": "Sha256"}),
        json.dumps({"HashValue": base64.b64encode(DIGEST).decode(), "HashAlg": "SHA-256"}),
        json.dumps({"HashValue": base64.b64encode(DIGEST).decode()}),
    ],
)
def test_sign_msg_over_a_portals_digest(message: str) -> None:
    assert parse_msg_call(message) == HashMsg(DIGEST, HashAlgorithm.SHA256)


def test_sign_msg_over_data_as_a_bare_base64_string() -> None:
    """vgca_sign_msg(sender, Base64.encode(text), callback)."""
    encoded = base64.b64encode("Tôi đồng ý".encode()).decode()
    assert parse_msg_call(encoded) == DataMsg("Tôi đồng ý".encode())
    assert parse_msg_call(f"{encoded}\n") == DataMsg("Tôi đồng ý".encode())


@pytest.mark.parametrize(
    ("message", "key"),
    [
        ("", "vgca_msg_shape"),
        ("not base64 at all!", "vgca_base64"),
        ("{}", "vgca_msg_shape"),
        ('{"Data": "QUJD", "HashValue": "QUJD"}', "vgca_msg_shape"),
        ('{"HashValue": "QUJD"}', "vgca_hash_length"),
        ('{"HashValue": "QUJD", "HashAlg": "MD5"}', "vgca_hash_alg"),
        (
            json.dumps({"HashValue": base64.b64encode(DIGEST).decode(), "Encode": "CMS"}),
            "vgca_encode",
        ),
    ],
)
def test_bad_sign_msg_calls_say_what_to_send(message: str, key: str) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_msg_call(message)
    assert refused.value.phrase is not None and refused.value.phrase.key == key


def test_a_pin_sent_with_sign_msg_or_auth_is_refused() -> None:
    for parse in (parse_msg_call, parse_auth_call):
        with pytest.raises(BadRequest, match="PIN"):
            parse(json.dumps({"HashValue": base64.b64encode(DIGEST).decode(), "Pin": "1234"}))


def test_auth_signs_the_message_itself() -> None:
    assert parse_auth_call("8f3a1c-AuthCode").challenge == "8f3a1c-AuthCode"
    for bad in ("", "   ", "x" * 5000):
        with pytest.raises(BadRequest):
            parse_auth_call(bad)


def test_verify_msg_fields() -> None:
    call = parse_verify_msg_call('{"Base64Content": "QUJD", "Signature": "REVG"}')
    assert (call.content, call.signature, call.certificate) == (b"ABC", b"DEF", None)
    for bad in ('{"Base64Content": "QUJD"}', "QUJD", '{"Signature": "QUJD"}'):
        with pytest.raises(BadRequest):
            parse_verify_msg_call(bad)


def test_sign_file_with_one_file_name_as_portals_send_it() -> None:
    """vgca_sign_file callers send FileName (a URL), not Files, and SessionId ""."""
    call = parse_files_call(
        {
            "FileUploadHandler": "https://a.gov.vn/up",
            "SessionId": "",
            "FileName": "https://a.gov.vn/files/Quy%E1%BA%BFt%20%C4%91%E1%BB%8Bnh%20123.pdf",
        }
    )
    assert call.shape is FilesShape.SINGLE
    [ref] = call.files
    assert ref.url.endswith("123.pdf") and ref.name == "Quyết định 123.pdf"
    assert call.delivery.session_id == ""
    with pytest.raises(LocalFileWanted):
        parse_files_call({"FileUploadHandler": "https://a.gov.vn/up", "FileName": ""})


def test_an_empty_session_id_is_kept_as_given() -> None:
    base = {"FileUploadHandler": "https://a/up", "FileName": "https://a/b.pdf"}
    assert parse_pdf_call({**base, "SessionId": ""}).delivery.session_id == ""
    assert parse_pdf_call(base).delivery.session_id is None
    assert parse_pdf_call({**base, "SessionId": 7}).delivery.session_id == "7"


@pytest.mark.parametrize(
    ("name", "sent"),
    [
        ("Quyết định 123.pdf", "Quyết định 123.pdf"),
        ("Tờ trình số 5", "Tờ trình số 5.pdf"),
        ('Báo cáo "quý" 1.PDF', "Báo cáo _quý_ 1.pdf"),
        ("..\\..\\windows/evil.pdf", "_.._windows_evil.pdf"),
        ("a:b*c?d|e<f>.pdf", "a_b_c_d_e_f_.pdf"),
        ("dòng\r\nmới.pdf", "dòng__mới.pdf"),
        ("", "signed.pdf"),
        ("   .pdf", "signed.pdf"),
        ("x" * 300 + ".pdf", "x" * 146 + ".pdf"),
    ],
)
def test_the_upload_keeps_the_documents_name(name: str, sent: str) -> None:
    assert upload_name(name) == sent


def test_a_failed_reply_also_says_why_in_error() -> None:
    """Portals alert "Ký số không thành công:" + Status + ":" + Error."""
    assert Reply(Status.USER_CANCELLED, "Người dùng đã hủy").to_wire()["Error"] == (
        "Người dùng đã hủy"
    )
    assert "Error" not in Reply(Status.OK).to_wire()


@pytest.mark.parametrize(
    "message",
    [
        '{"FileName": "https://a.gov.vn/a.pdf"}',
        '{"FileName": "https://a.gov.vn/a.pdf", "FileUploadHandler": 5}',
        '{"FileName": "https://a/a.pdf", "FileUploadHandler": "https://a", "IssuedDate": "x"}',
        '{"FileName": "https://a/a.pdf", "FileUploadHandler": "https://a", "DocNumber": "1\\n2"}',
        '{"FileName": "https://a/a.pdf", "FileUploadHandler": "https://a", '
        '"MetaData": [{"Key": "SessionId", "Value": "x"}]}',
        '{"FileName": "https://a/a.pdf", "FileUploadHandler": "https://a", "MetaData": [1]}',
    ],
)
def test_a_bad_request_is_explained_wholly_in_one_language(message: str) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_pdf_call(decode_message(message))
    assert refused.value.phrase is not None
    vietnamese = refused.value.public_message(Lang.VI)
    english = refused.value.public_message(Lang.EN)
    assert vietnamese.startswith("Yêu cầu không hợp lệ: ") and english.startswith("Invalid")
    assert " must " not in vietnamese and " is missing" not in vietnamese
    assert vietnamese != english


def test_sign_xml_reads_what_vgca_sign_xml_callers_send() -> None:
    xml = "<Data Id='a'>Học bạ</Data>".encode()
    content = base64.b64encode(xml).decode()
    portal = {"ReturnSignatureOnly": "false", "HashAlg": "Sha256", "XmlDsigForm": "false"}
    assert parse_xml_call(json.dumps({"Base64Content": content, **portal})) == XmlCall(xml)
    sha1 = {"Base64Content": content, "ReturnSignatureOnly": "true", "HashAlg": "Sha1"}
    assert parse_xml_call(json.dumps(sha1)) == XmlCall(xml, XmlDigest.SHA1, signature_only=True)
    assert parse_xml_call(json.dumps({"Base64Content": content, "ReturnSignatureOnly": True}))
    for bad in (
        {"HashAlg": "Sha256"},
        {"Base64Content": content, "HashAlg": "SHA384"},
        {"Base64Content": content, "ReturnSignatureOnly": "maybe"},
        {"Base64Content": "not base64!"},
    ):
        with pytest.raises(BadRequest):
            parse_xml_call(json.dumps(bad))
    with pytest.raises(BadRequest, match="PIN"):
        parse_xml_call(json.dumps({"Base64Content": content, "Pin": "1234"}))


def test_verify_xml_reads_the_text_portals_send_or_base64() -> None:
    xml = "<HDon>Hóa đơn</HDon>"
    as_text = parse_verify_xml_call(json.dumps({"Data": xml, "Format": "XML"}))
    assert as_text == VerifyXmlCall(xml.encode())
    encoded = base64.b64encode(xml.encode()).decode()
    assert parse_verify_xml_call(json.dumps({"Data": encoded})) == as_text
    assert parse_verify_xml_call(json.dumps({"Base64Content": encoded})) == as_text
    for bad in ({}, {"Data": xml, "Format": "PDF"}, {"Data": xml, "Base64Content": encoded}):
        with pytest.raises(BadRequest):
            parse_verify_xml_call(json.dumps(bad))


def test_a_reply_with_a_listing_is_sent_as_an_array() -> None:
    listing = ({"Status": 0, "SigInfo": {"SignerCert": {"SerialNumber": "1A"}}},)
    assert Reply(Status.OK, listing=listing).body() == [dict(listing[0])]
    assert (
        Reply(Status.SIGNATURE_INVALID, "x").body()
        == Reply(Status.SIGNATURE_INVALID, "x").to_wire()
    )


def test_sign_msg_still_refuses_sha1_which_only_xml_signatures_may_use() -> None:
    digest = base64.b64encode(hashlib.sha1(b"x").digest()).decode()  # noqa: S324
    for name in ("SHA1", "Sha1", "SHA-1"):
        with pytest.raises(BadRequest) as refused:
            parse_msg_call(json.dumps({"HashValue": digest, "HashAlg": name}))
        assert refused.value.phrase is not None and refused.value.phrase.key == "vgca_hash_alg"


def test_endpoints_not_offered_say_what_to_use_instead() -> None:
    assert set(INSTEAD) == {"SignPDFWP", "SignOffice", "VerifyOffice", "SignXMLP12"}
    assert set(INSTEAD.values()) <= keys()
    assert not set(INSTEAD) & {e.value for e in Endpoint}


# --- VerifyMsg's check, on a raw signature (the CMS form is checked end to end) -----------------


def _ca_and_signer() -> tuple[bytes, bytes, rsa.RSAPrivateKey]:
    now = datetime.now(UTC)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CA thử")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Nguyễn Văn An")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(2)
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(ca_key, hashes.SHA256())
    )
    der = serialization.Encoding.DER
    return ca.public_bytes(der), cert.public_bytes(der), key


def test_a_raw_signature_is_intact_and_trusted_only_as_it_should_be() -> None:
    ca, cert, key = _ca_and_signer()
    content = b"du lieu"
    signature = key.sign(content, padding.PKCS1v15(), hashes.SHA256())
    now = datetime.now(UTC)
    good = check_message(content, signature, cert, [ca], now)
    assert (good.intact, good.trusted, good.certificate) == (True, True, cert)
    assert check_message(content, signature, cert, [], now).trusted is False
    assert check_message(content + b"!", signature, cert, [ca], now).intact is False
    assert check_message(content, signature, cert, [ca], now + timedelta(days=60)).trusted is False
    with pytest.raises(NotASignature):
        check_message(content, signature, None, [ca], now)
    with pytest.raises(NotASignature):  # DER, but no CMS
        check_message(content, b"\x30\x03\x02\x01\x01", None, [ca], now)


# --- SignFile with several files (agent/compat/vgca/file_list.py) ---------------------------


class ListTransfers:
    """Downloads from a dict, uploads that succeed, origins by URL prefix."""

    def __init__(self, files: dict[str, bytes], foreign: str = "https://files.hue.gov.vn") -> None:
        self.files = files
        self.foreign = foreign
        self.delivered: list[tuple[str, bytes]] = []

    def other_origin(self, url: str, _caller: Admitted) -> str | None:
        return self.foreign if url.startswith(self.foreign) else None

    async def download(
        self, url: str, _caller: Admitted, _jwt: str | None = None, *, limit: int | None = None
    ) -> bytes:
        return self.files[url]

    async def deliver(
        self, data: bytes, name: str, _delivery: Delivery, _caller: Admitted
    ) -> UploadAnswer:
        self.delivered.append((name, data))
        return UploadAnswer(f"up-{len(self.delivered)}.pdf", "fs", "")


class ListService:
    """A signing service whose batches end as told."""

    def __init__(self, *ends: tuple[int, bool, AgentError | None]) -> None:
        self.ends = list(ends)
        self.batches: list[tuple[list[str | None], str | None]] = []

    async def check_pdf(self, _request: PdfSignRequest) -> None:
        return None

    async def sign_pdf_batch(
        self,
        _caller: Admitted,
        request: PdfBatchSignRequest,
        *,
        source: str | None = None,
        destination: str | None = None,
    ) -> PdfBatchSignResponse:
        self.batches.append(([d.document_name for d in request.documents], source))
        count, stopped, error = self.ends.pop(0)
        return PdfBatchSignResponse(
            names=tuple(d.document_name for d in request.documents),
            signed=tuple(d.pdf + b"%signed" for d in request.documents[:count]),
            certificate=b"cert",
            stopped=stopped,
            error=error,
        )


def file_list(
    service: ListService, transfers: ListTransfers, alone: list[FileRef] | None = None
) -> FileList:
    async def sign_alone(ref: FileRef) -> Reply:
        (alone if alone is not None else []).append(ref)
        return Reply(Status.OK, file_name="alone.pdf")

    return FileList(
        cast(SigningService, service),
        cast(Transfers, transfers),
        lang=Lang.EN,
        max_pdf_bytes=1024,
        options=PdfSignOptions(),
        sign_alone=sign_alone,
        transfer_failure=lambda exc: Reply(exc.status, exc.detail),
    )


def files_call(*urls: str) -> FilesCall:
    refs = tuple(FileRef(n, url, f"{n}.pdf") for n, url in enumerate(urls, 1))
    return FilesCall(refs, Delivery("https://vpdt.hue.gov.vn/up"))


def test_sign_file_takes_as_many_files_as_one_question_lists() -> None:
    assert MAX_FILES == MAX_PDF_BATCH == 50
    upload = {"FileUploadHandler": "https://a.gov.vn/up"}
    many = [{"URL": f"https://a.gov.vn/{n}"} for n in range(51)]
    assert len(parse_files_call({**upload, "Files": many[:50]}).files) == 50
    with pytest.raises(BadRequest) as refused:
        parse_files_call({**upload, "Files": many})
    assert "50" in str(refused.value)


def test_a_file_failing_after_others_were_signed_is_named_and_the_rest_not_attempted() -> None:
    urls = [f"https://vpdt.hue.gov.vn/{n}.pdf" for n in range(3)]
    transfers = ListTransfers({url: b"%PDF-" + url.encode() for url in urls})
    service = ListService((1, False, SigningFailed("the TSA did not answer")))
    replies = asyncio.run(file_list(service, transfers).sign(files_call(*urls), PAGE))
    assert [r.status for r in replies] == [Status.OK, Status.SIGNING_FAILED, Status.NOT_ATTEMPTED]
    assert replies[0].file_name == "up-1.pdf"
    assert transfers.delivered == [("1.pdf", b"%PDF-" + urls[0].encode() + b"%signed")]
    assert "earlier file" in replies[2].message


def test_files_of_another_origin_are_asked_about_apart_and_a_stop_ends_the_list() -> None:
    own = [f"https://vpdt.hue.gov.vn/{n}.pdf" for n in range(2)]
    far = ["https://files.hue.gov.vn/a.pdf", "https://files.hue.gov.vn/b.pdf"]
    last = "https://vpdt.hue.gov.vn/last.pdf"
    transfers = ListTransfers({url: b"%PDF" for url in [*own, *far, last]})
    service = ListService((2, False, None), (1, True, None))
    replies = asyncio.run(file_list(service, transfers).sign(files_call(*own, *far, last), PAGE))
    assert service.batches == [
        (["1.pdf", "2.pdf"], None),
        (["3.pdf", "4.pdf"], "https://files.hue.gov.vn"),
    ]
    stopped = Status.USER_CANCELLED
    assert [r.status for r in replies] == [Status.OK, Status.OK, Status.OK, stopped, stopped]
    assert replies[3].message == replies[4].message == "Not signed: the user pressed Stop."


def test_a_file_alone_in_its_origin_is_signed_as_a_single_file() -> None:
    own = [f"https://vpdt.hue.gov.vn/{n}.pdf" for n in range(2)]
    far = "https://files.hue.gov.vn/a.pdf"
    transfers = ListTransfers({url: b"%PDF" for url in [*own, far]})
    alone: list[FileRef] = []
    service = ListService((2, False, None))
    listing = file_list(service, transfers, alone)
    replies = asyncio.run(listing.sign(files_call(*own, far), PAGE))
    assert [r.status for r in replies] == [Status.OK] * 3
    assert [ref.url for ref in alone] == [far]
    assert len(service.batches) == 1
