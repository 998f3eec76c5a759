"""The FPT / TrustCA SignPlugin protocol's pure parts: the form, the base64 JSON envelope,
each operation's fields, the ResponseCode table and the reply's bytes."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from typing import Any, cast
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives import serialization

from agent.algorithms import HashAlgorithm
from agent.compat.fpt.endpoints import FptEndpoints, cert_info, tagged_spec
from agent.compat.fpt.protocol import (
    ERROR_CODES,
    Code,
    Operation,
    PinRefused,
    Reply,
    Unsupported,
    code_for,
    decode_request,
    form_value,
    operation_id,
    parse_cms_call,
    parse_pdf_call,
    parse_xml_call,
)
from agent.compat.fpt.server import body_limit
from agent.errors import BadRequest, ErrorCode
from agent.messages import Lang, text
from agent.origin import Admitted, parse_origin
from agent.pdf.models import Profile
from agent.server.keys import pdf_json_limit
from agent.service import SigningService
from agent.testing.softhsm import TestCa
from agent.xml.profiles import Profile as XmlProfile
from agent.xml.sign import XmlDigest

PAGE = Admitted(parse_origin("https://dichvucong.example.gov.vn"), via_wildcard=False)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def form(obj: Any) -> bytes:
    """What the vendor library posts: ``request=`` and the base64 of the JSON, unescaped."""
    return b"request=" + base64.b64encode(json.dumps(obj).encode())


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def message_of(exc: BaseException) -> str:
    assert isinstance(exc, BadRequest)
    return exc.public_message(Lang.EN)


# --- the envelope ---------------------------------------------------------------------------


def test_a_plus_in_the_unescaped_base64_stays_a_plus() -> None:
    # b"\xfb\xff" is "+/8=" in base64: a form decoder would turn "+" into a space.
    assert form_value(b"request=" + base64.b64encode(b"\xfb\xff")) == "+/8="


def test_a_percent_encoded_value_is_decoded_and_a_space_read_back_as_plus() -> None:
    value = b64(json.dumps({"OperationId": 1, "k": "??>"}).encode())
    assert "+" in value or "/" in value or "=" in value
    assert form_value(b"a=1&request=" + quote(value, safe="").encode()) == value
    assert form_value(("request=" + value.replace("+", " ")).encode()) == value


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "request=<base64"),
        (b"data=eyJ9", "request=<base64"),
        (b'{"OperationId": 1}', "request=<base64"),
        ("request=xin chào".encode(), "request=<base64"),
        (b"request=@@@@", "not base64"),
        (b"request=" + base64.b64encode(b"[1, 2]"), "JSON object"),
        (b"request=" + base64.b64encode(b"{nope"), "JSON object"),
    ],
)
def test_a_body_that_is_no_signplugin_request_says_what_is_wrong(body: bytes, reason: str) -> None:
    with pytest.raises(BadRequest) as refused:
        decode_request(body)
    message = message_of(refused.value)
    assert "FPT SignPlugin format" in message
    assert reason in message


def test_json_that_btoa_encoded_as_latin1_is_read() -> None:
    # window.btoa(JSON.stringify({tag: "é"})) sends the single byte 0xE9, not UTF-8.
    body = b"request=" + base64.b64encode('{"OperationId": 8, "tagXML": "é"}'.encode("latin-1"))
    assert decode_request(body)["tagXML"] == "é"


@pytest.mark.parametrize(
    "obj",
    [
        {"OperationId": 1, "PIN": "123456"},
        {"OperationId": 5, "userPin": "1"},
        {"OperationId": 10, "options": {"tokenPIN": "1"}},
        {"OperationId": 1, "password": "x"},
    ],
)
def test_a_pin_in_any_field_is_refused(obj: dict[str, Any]) -> None:
    with pytest.raises(PinRefused) as refused:
        decode_request(form(obj))
    assert "123456" not in str(refused.value)


def test_the_fields_of_the_protocol_do_not_look_like_a_pin() -> None:
    obj = {
        "OperationId": 10,
        "SessionId": "s",
        "pkcs11Lib": ["fptca_v4.dll"],
        "checkOCSP": 0,
        "reqDigest": 1,
        "algDigest": "SHA_256",
        "extFile": "pdf",
        "invisible": 0,
        "pageIndex": 0,
        "offsetX": 1,
        "offsetY": 1,
        "sigWidth": 1,
        "sigHeight": 1,
        "logoData": "",
        "showSignerInfo": 0,
        "sigId": "",
        "signAttached": 0,
        "signLevel": "CADES-BES",
        "urlTimestamp": "",
        "signerTitle": "KÝ BỞI:",
        "signTimeTitle": "KÝ NGÀY:",
        "tagXML": "*",
        "XMLDSig": 0,
        "xades_Version": "XADES_v1_4_1",
        "xades_Form": "XADES_T",
        "DataToBeSign": "",
    }
    assert decode_request(form(obj)) == obj


@pytest.mark.parametrize(("value", "number"), [(1, 1), ("10", 10), (" 8 ", 8)])
def test_operation_id_is_a_number_or_its_digits(value: Any, number: int) -> None:
    assert operation_id({"OperationId": value}) == number


@pytest.mark.parametrize("value", [None, True, "eight", 1.5, [1], "²", "1" * 5000, 10**400, -1])
def test_operation_id_otherwise_is_refused(value: Any) -> None:
    with pytest.raises(BadRequest, match="OperationId"):
        operation_id({"OperationId": value})


def test_the_operations_are_those_portals_call() -> None:
    assert {o.value for o in Operation} == {1, 2, 5, 8, 10}


# --- CMS (operation 5) ----------------------------------------------------------------------


def test_cms_over_data_hashes_it_with_sha256_by_default() -> None:
    call = parse_cms_call({"DataToBeSign": b64("Tôi đồng ý".encode())})
    assert call.algorithm is HashAlgorithm.SHA256
    assert call.digest == hashlib.sha256("Tôi đồng ý".encode()).digest()
    assert call.size == len("Tôi đồng ý".encode())
    assert call.tsa_url is None


@pytest.mark.parametrize("name", ["SHA_1", "MD5", "SHA_224"])
def test_cms_over_data_asked_with_a_weak_digest_is_made_with_sha256(name: str) -> None:
    call = parse_cms_call({"DataToBeSign": b64(b"abc"), "algDigest": name})
    assert call.algorithm is HashAlgorithm.SHA256
    assert call.digest == hashlib.sha256(b"abc").digest()


def test_cms_over_data_keeps_a_stronger_digest() -> None:
    call = parse_cms_call({"DataToBeSign": b64(b"abc"), "algDigest": "SHA_512"})
    assert call.algorithm is HashAlgorithm.SHA512
    assert call.digest == hashlib.sha512(b"abc").digest()


def test_cms_over_a_digest_the_portal_computed() -> None:
    digest = hashlib.sha256(b"byte range").digest()
    call = parse_cms_call({"DataToBeSign": b64(digest), "reqDigest": 0, "algDigest": "SHA_256"})
    assert (call.digest, call.algorithm, call.size) == (digest, HashAlgorithm.SHA256, None)


def test_cms_over_a_digest_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(BadRequest) as refused:
        parse_cms_call({"DataToBeSign": b64(b"short"), "reqDigest": 0})
    assert "is 5 bytes, but a SHA-256 digest is 32 bytes" in message_of(refused.value)


def test_a_bare_sha1_digest_is_never_signed() -> None:
    with pytest.raises(BadRequest, match="SHA1"):
        parse_cms_call({"DataToBeSign": b64(bytes(20)), "reqDigest": "0", "algDigest": "SHA_1"})


def test_an_attached_cms_is_not_offered() -> None:
    with pytest.raises(Unsupported) as refused:
        parse_cms_call({"DataToBeSign": b64(b"x"), "signAttached": 1})
    assert "detached" in refused.value.phrase.render(Lang.EN)


def test_cades_t_needs_a_time_stamping_server_and_higher_levels_are_not_offered() -> None:
    with pytest.raises(BadRequest, match="urlTimestamp"):
        parse_cms_call({"DataToBeSign": b64(b"x"), "signLevel": "CADES-T"})
    call = parse_cms_call(
        {"DataToBeSign": b64(b"x"), "signLevel": "CADES_T", "urlTimestamp": "http://tsa.vn/"}
    )
    assert call.tsa_url == "http://tsa.vn/"
    # The demo page sets urlTimestamp for every call: a CAdES-BES one does not use it.
    plain = parse_cms_call({"DataToBeSign": b64(b"x"), "urlTimestamp": "http://tsa.vn/"})
    assert plain.tsa_url is None
    with pytest.raises(Unsupported, match="CADES-XL1"):
        parse_cms_call({"DataToBeSign": b64(b"x"), "signLevel": "CADES-XL1"})


@pytest.mark.parametrize("value", ["", "  ", "not base64!", 5, None])
def test_data_to_be_sign_must_be_base64(value: Any) -> None:
    with pytest.raises(BadRequest, match="DataToBeSign"):
        parse_cms_call({"DataToBeSign": value})


# --- XML (operation 8) ----------------------------------------------------------------------


def test_xml_asked_as_xmldsig() -> None:
    call = parse_xml_call(
        {"DataToBeSign": b64(b"<a Id='x'/>"), "XMLDSig": 1, "tagXML": "*", "algDigest": "SHA_1"}
    )
    assert (call.xml, call.tag, call.digest) == (b"<a Id='x'/>", None, XmlDigest.SHA1)
    named = parse_xml_call({"DataToBeSign": b64(b"<a/>"), "XMLDSig": "1", "tagXML": "DLHDon"})
    assert (named.tag, named.digest) == ("DLHDon", XmlDigest.SHA256)


def test_xades_is_refused_with_what_to_send_instead() -> None:
    # What the demo page sends by default: XMLDSig 0, XAdES 1.4.1, form XAdES-T.
    with pytest.raises(Unsupported) as refused:
        parse_xml_call(
            {
                "DataToBeSign": b64(b"<a/>"),
                "XMLDSig": 0,
                "xades_Version": "XADES_v1_4_1",
                "xades_Form": "XADES_T",
            }
        )
    message = refused.value.phrase.render(Lang.VI)
    assert "XADES_T" in message
    assert "XMLDSig = 1" in message


# --- PDF (operation 10) ---------------------------------------------------------------------


def test_pdf_box_as_portals_compute_it() -> None:
    call = parse_pdf_call(
        {
            "DataToBeSign": b64(b"%PDF-1.7"),
            "extFile": "pdf",
            "invisible": 0,
            "pageIndex": 1,
            "offsetX": 100,
            "offsetY": "50.5",
            "sigWidth": 200,
            "sigHeight": 80,
            "logoData": b64(PNG),
            "sigId": "",
            "algDigest": "SHA_1",
        }
    )
    appearance = call.appearance
    assert appearance.profile is Profile.PERSONAL
    assert appearance.page == 2
    assert appearance.rect == (100, 50.5, 300, 130.5)
    assert appearance.image == PNG
    assert appearance.field is None
    assert call.pdf == b"%PDF-1.7"
    assert call.tsa_url is None


def test_pdf_without_a_box_or_logo_gets_the_decree_text_where_the_profile_puts_it() -> None:
    call = parse_pdf_call({"DataToBeSign": b64(b"%PDF"), "sigId": "SigLanhDao"})
    assert call.appearance.profile is Profile.PERSONAL
    assert (call.appearance.page, call.appearance.rect, call.appearance.image) == (None,) * 3
    assert call.appearance.field == "SigLanhDao"


def test_an_invisible_pdf_signature() -> None:
    call = parse_pdf_call({"DataToBeSign": b64(b"%PDF"), "invisible": 1, "pageIndex": 3})
    assert call.appearance.profile is Profile.INVISIBLE


def test_pdf_with_a_time_stamping_server_is_timestamped() -> None:
    call = parse_pdf_call({"DataToBeSign": b64(b"%PDF"), "urlTimestamp": "https://tsa.vn/x"})
    assert call.tsa_url == "https://tsa.vn/x"
    with pytest.raises(BadRequest, match="urlTimestamp"):
        parse_pdf_call({"DataToBeSign": b64(b"%PDF"), "urlTimestamp": "file:///etc/passwd"})


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"pageIndex": -1}, "pageIndex"),
        ({"pageIndex": 1.5}, "pageIndex"),
        ({"pageIndex": "first"}, "pageIndex must be a number"),
        ({"pageIndex": 10**400}, "pageIndex must be a number"),
        ({"offsetX": 0, "offsetY": 0, "sigWidth": 0, "sigHeight": 10}, "signature box"),
        ({"offsetX": -5, "offsetY": 0, "sigWidth": 10, "sigHeight": 10}, "signature box"),
        ({"invisible": 2}, "invisible must be 0 or 1"),
        ({"logoData": "%%%"}, "logoData"),
        ({"logoData": base64.b64encode(b"\xff\xd8\xff\xe0JFIF").decode()}, "JPEG"),
    ],
)
def test_pdf_fields_are_checked(fields: dict[str, Any], reason: str) -> None:
    with pytest.raises(BadRequest) as refused:
        parse_pdf_call({"DataToBeSign": b64(b"%PDF"), **fields})
    assert reason in message_of(refused.value)


@pytest.mark.parametrize("ext", ["docx", "DOC", ".xlsx"])
def test_office_documents_are_not_signed(ext: str) -> None:
    with pytest.raises(Unsupported) as refused:
        parse_pdf_call({"DataToBeSign": b64(b"PK"), "extFile": ext})
    assert refused.value.phrase.key == "compat_office_unsupported"


def test_other_files_are_not_signed_either() -> None:
    with pytest.raises(Unsupported) as refused:
        parse_pdf_call({"DataToBeSign": b64(b"x"), "extFile": "txt"})
    assert "txt" in refused.value.phrase.render(Lang.EN)


# --- replies ------------------------------------------------------------------------------


def test_a_reply_is_base64_of_utf8_json_as_the_library_decodes_it() -> None:
    reply = Reply(Code.OK, fields={"certInfo": {"CommonName": "Nguyễn Văn An"}})
    body = reply.to_bytes()
    # atob() gives one character per byte; the portal then decodes UTF-8 (utf8.decode).
    latin = base64.b64decode(body).decode("latin-1")
    assert "\\u" not in latin
    decoded = json.loads(latin.encode("latin-1").decode("utf-8"))
    assert decoded == {
        "ResponseCode": 0,
        "ResponseMsg": "",
        "certInfo": {"CommonName": "Nguyễn Văn An"},
    }


def test_documents_are_spliced_in_as_base64_and_the_json_stays_valid() -> None:
    pdf = bytes(range(256)) * 10
    reply = Reply(Code.OK, fields={"Certificate": "AA=="}, blobs={"Base64Result": pdf, "X": b""})
    decoded = json.loads(base64.b64decode(reply.to_bytes()))
    assert decoded["Base64Result"] == b64(pdf)
    assert decoded["X"] == ""
    assert decoded["Certificate"] == "AA=="
    assert decoded["ResponseCode"] == 0


def test_every_agent_error_has_a_response_code_and_success_alone_is_zero() -> None:
    assert code_for(ErrorCode.USER_CANCELLED) is Code.USER_CANCELLED
    assert code_for(ErrorCode.INTERNAL) is Code.INTERNAL
    assert code_for(ErrorCode.ORIGIN_NOT_ALLOWED) is Code.INTERNAL  # never answered in shape
    assert Code.OK not in ERROR_CODES.values()
    assert len(set(ERROR_CODES.values())) == len(ERROR_CODES)


def test_the_body_limit_holds_the_largest_pdf_base64_twice() -> None:
    largest = 100 * 1024 * 1024
    assert body_limit(largest) >= (largest * 4 // 3) * 4 // 3
    assert body_limit(largest) > pdf_json_limit(largest)


# --- the endpoints' pure parts ------------------------------------------------------------


def test_tag_xml_names_the_element_to_sign_by_its_id() -> None:
    xml = b"<xml><note Id='data'><to>Tove</to></note><other/></xml>"
    spec = tagged_spec(xml, "note")
    assert (spec.profile, spec.sign_id) == (XmlProfile.ENVELOPED, "data")
    with pytest.raises(BadRequest, match="0 <missing> elements"):
        tagged_spec(xml, "missing")
    with pytest.raises(BadRequest, match="no Id attribute"):
        tagged_spec(xml, "other")
    with pytest.raises(BadRequest, match="2 <b> elements"):
        tagged_spec(b"<a><b Id='1'/><b Id='2'/></a>", "b")


def test_cert_info_has_what_portals_read() -> None:
    ca = TestCa.create("Kyso Test CA")
    der = ca.cert.public_bytes(serialization.Encoding.DER)
    info = cert_info(der)
    assert info["Base64Encode"] == b64(der)
    assert info["CommonName"] == "Kyso Test CA"
    assert info["SerialNumber"] == format(ca.cert.serial_number, "X")
    assert len(info["Thumbprint"]) == 40


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"request=",
        b"request=!!",
        form([]),
        form({"OperationId": "x"}),
        form({"OperationId": 99}),
        form({"OperationId": 8, "XMLDSig": 0, "DataToBeSign": "PGEvPg=="}),
        form({"OperationId": 10, "extFile": "docx", "DataToBeSign": "UEs="}),
        form({"OperationId": 5, "PIN": "246810"}),
        b"\xff\xfe\x00garbage",
    ],
)
def test_the_endpoints_answer_every_bad_request_in_the_plugins_shape(body: bytes) -> None:
    # None of these reaches the service: the parsing refuses them first.
    endpoints = FptEndpoints(cast(SigningService, object()), lang=Lang.VI)
    reply = asyncio.run(endpoints.handle(body, PAGE))
    assert reply.code in (Code.BAD_REQUEST, Code.UNSUPPORTED, Code.PIN_REFUSED)
    assert reply.message
    assert "246810" not in reply.message
    decoded = json.loads(base64.b64decode(reply.to_bytes()))
    assert decoded["ResponseCode"] == int(reply.code)
    if reply.code is Code.PIN_REFUSED:
        assert decoded["ResponseMsg"] == text("compat_pin_refused", Lang.VI)
