"""The VGCA protocol's pure parts: URL rules, parsing, the Status table, stamps."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from agent.compat.vgca.endpoints import stamp_for
from agent.compat.vgca.protocol import (
    ERROR_STATUS,
    Endpoint,
    LocalFileWanted,
    Status,
    decode_message,
    name_from_url,
    parse_files_call,
    parse_issued_date,
    parse_msg_call,
    parse_pdf_call,
    status_for,
)
from agent.compat.vgca.transfer import TransferError, UrlNotAllowed, _answer, check_url
from agent.errors import BadRequest, ErrorCode
from agent.origin import Admitted, OriginPolicy, parse_origin
from agent.pdf.models import Profile

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
    assert parse_msg_call({"Data": "QUJD"}).data == b"ABC"
    with pytest.raises(BadRequest):
        parse_msg_call({"Data": "not base64!"})


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
