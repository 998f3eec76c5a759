"""Request parsing: every bad input is a BadRequest with a useful message."""

from __future__ import annotations

import base64
import json
import re
import unicodedata
from collections.abc import Callable
from importlib import resources
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from agent.algorithms import HashAlgorithm, KeyType, RsaScheme, signature_algorithm_name
from agent.errors import BadRequest, SigningFailed
from agent.messages import Lang, languages_of
from agent.protocol import (
    PdfBatchSignResponse,
    _looks_secret,
    decode_json_object,
    document_name,
    parse_appearance,
    parse_batch_sign_request,
    parse_certificates_request,
    parse_cms_sign_request,
    parse_pdf_options,
    parse_pdf_sign_request,
    parse_sign_request,
)
from agent.testing.softhsm import TestCa

DIGEST = bytes(range(32))
ITEM = {"hash": base64.b64encode(DIGEST).decode(), "hashAlgorithm": "SHA-256"}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def cert() -> bytes:
    """A real DER certificate (the test CA's)."""
    return TestCa.create().cert.public_bytes(serialization.Encoding.DER)


def test_sign_request_parses_all_fields(cert: bytes) -> None:
    request = parse_sign_request(
        {
            **ITEM,
            "documentName": " QĐ.pdf ",
            "certificate": base64.b64encode(cert).decode(),
            "scheme": "PSS",
        }
    )
    assert request.item.digest == DIGEST
    assert request.item.algorithm is HashAlgorithm.SHA256
    assert request.item.document_name == "QĐ.pdf"
    assert request.certificate == cert
    assert request.scheme is RsaScheme.PSS


@pytest.mark.parametrize(
    "not_a_certificate",
    [b"\x30\x03\x02\x01\x01", b"-----BEGIN CERTIFICATE-----", b"\x00" * 40],
)
def test_a_certificate_that_is_not_der_is_a_bad_request_naming_it(
    not_a_certificate: bytes, cert: bytes
) -> None:
    """Before: accepted here, then 404 CERTIFICATE_NOT_FOUND as if the token lacked it."""
    bodies: list[tuple[Callable[[dict[str, Any]], Any], dict[str, Any]]] = [
        (parse_sign_request, ITEM),
        (parse_batch_sign_request, {"items": [ITEM]}),
        (parse_cms_sign_request, {"digest": ITEM["hash"], "digestAlgorithm": "SHA-256"}),
        (lambda obj: parse_pdf_sign_request(obj, b"%PDF-1.7"), {}),
    ]
    for parse, body in bodies:
        with pytest.raises(BadRequest, match=r"'certificate' is not an X\.509 certificate"):
            parse({**body, "certificate": b64(not_a_certificate)})
        assert parse({**body, "certificate": b64(cert)}).certificate == cert


def test_every_bad_request_here_is_a_catalogue_sentence_in_both_languages() -> None:
    """What a portal shows is Vietnamese throughout, or English throughout when asked."""
    cases: list[Callable[[], object]] = [
        lambda: parse_sign_request({**ITEM, "certificate": b64(b"x")}),
        lambda: parse_sign_request({**ITEM, "hash": "not base64!"}),
        lambda: parse_sign_request({**ITEM, "pin": "1234"}),
        lambda: parse_sign_request({**ITEM, "extra": 1}),
        lambda: parse_sign_request({"hash": ITEM["hash"]}),
        lambda: parse_sign_request({**ITEM, "documentName": "a\u202eb"}),
        lambda: parse_batch_sign_request({"items": []}),
        lambda: parse_pdf_options({"level": "B-T"}),
        lambda: parse_pdf_options({"tsaUrl": "file:///etc/passwd"}),
        lambda: parse_pdf_sign_request({}, b""),
    ]
    for case in cases:
        with pytest.raises(BadRequest) as caught:
            case()
        phrase = caught.value.phrase
        assert phrase is not None, caught.value
        assert phrase.render(Lang.VI) != phrase.render(Lang.EN)
        assert Lang.VI in languages_of(phrase.key) and Lang.EN in languages_of(phrase.key)


def test_optional_fields_may_be_null() -> None:
    request = parse_sign_request(
        {**ITEM, "certificate": None, "scheme": None, "documentName": None}
    )
    assert request.certificate is None and request.scheme is None
    assert request.item.document_name is None


@pytest.mark.parametrize(
    "key", ["pin", "Pin", "userPin", "user_pin", "pinCode", "soPin", "password"]
)
def test_pin_like_fields_are_refused_before_anything_else(key: str) -> None:
    with pytest.raises(BadRequest, match="PIN"):
        parse_sign_request({**ITEM, key: "1234"})


def test_shipping_is_not_mistaken_for_a_pin_but_is_still_unknown() -> None:
    with pytest.raises(BadRequest, match="unknown field"):
        parse_sign_request({**ITEM, "shipping": 1})


def test_certificates_request_takes_no_fields() -> None:
    parse_certificates_request({})
    with pytest.raises(BadRequest, match="unknown"):
        parse_certificates_request({"filter": "x"})


def test_batch_limits() -> None:
    assert len(parse_batch_sign_request({"items": [ITEM] * 1000}).items) == 1000
    for bad in ([], [ITEM] * 1001, None, [1]):
        with pytest.raises(BadRequest):
            parse_batch_sign_request({"items": bad})


def test_base64_must_be_standard_and_padded() -> None:
    urlsafe = base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode()
    with pytest.raises(BadRequest, match="base64"):
        parse_sign_request({"hash": urlsafe, "hashAlgorithm": "SHA-256"})
    with pytest.raises(BadRequest, match="base64"):
        parse_sign_request({"hash": ITEM["hash"].rstrip("="), "hashAlgorithm": "SHA-256"})


@pytest.mark.parametrize("body", [b"", b"null", b"[1]", b"{'a': 1}", b"\xff"])
def test_body_must_be_a_json_object(body: bytes) -> None:
    with pytest.raises(BadRequest):
        decode_json_object(body)


def test_json_object_decodes() -> None:
    assert decode_json_object(json.dumps({"a": "ồ"}).encode()) == {"a": "ồ"}


@pytest.mark.parametrize(
    ("key", "scheme", "hash_alg", "name"),
    [
        (KeyType.RSA, RsaScheme.PKCS1V15, HashAlgorithm.SHA256, "RS256"),
        (KeyType.RSA, RsaScheme.PSS, HashAlgorithm.SHA384, "PS384"),
        (KeyType.EC, RsaScheme.PKCS1V15, HashAlgorithm.SHA512, "ES512"),
    ],
)
def test_signature_algorithm_names(
    key: KeyType, scheme: RsaScheme, hash_alg: HashAlgorithm, name: str
) -> None:
    assert signature_algorithm_name(key, scheme, hash_alg) == name


def test_vietnamese_names_in_either_normal_form_are_accepted() -> None:
    import unicodedata

    name = "Quyết định bổ nhiệm.pdf"
    for form in ("NFC", "NFD"):
        parsed = parse_sign_request({**ITEM, "documentName": unicodedata.normalize(form, name)})
        assert parsed.item.document_name == unicodedata.normalize(form, name)


def test_cms_request_messages_name_the_fields_sent() -> None:
    with pytest.raises(BadRequest, match="'digest' is 20 bytes"):
        parse_cms_sign_request({"digest": b64(bytes(20)), "digestAlgorithm": "SHA-256"})
    with pytest.raises(BadRequest, match="'digestAlgorithm' must be one of"):
        parse_cms_sign_request({"digest": b64(bytes(32)), "digestAlgorithm": "MD5"})


@pytest.mark.parametrize("rect", [[0, 0, 1e400, 50], [0, 0, 10**400, 50]])
def test_appearance_numbers_must_be_finite(rect: list[float]) -> None:
    with pytest.raises(BadRequest, match="finite number"):
        parse_appearance({"profile": "personal", "rect": rect})


def test_levels_above_b_b_need_a_time_stamping_authority() -> None:
    with pytest.raises(BadRequest, match="B-LT needs a time-stamping authority"):
        parse_pdf_options({"level": "B-LT"})
    assert parse_pdf_options({"level": "B-T"}, "http://ca.gov.vn/tsa").tsa_url == (
        "http://ca.gov.vn/tsa"
    )
    for falsy in ("", 0, False, [], {}):
        with pytest.raises(BadRequest, match="'level' must be one of"):
            parse_pdf_options({"level": falsy})


def test_integers_beyond_pythons_conversion_limit_are_bad_json() -> None:
    with pytest.raises(BadRequest, match="not valid JSON"):
        decode_json_object(b'{"hash": 1' + b"0" * 5000 + b"}")


def test_no_field_of_the_api_looks_like_a_pin() -> None:
    # _check_fields skips the PIN-name check for known fields: none of them may look like one.
    spec = json.loads(resources.files("agent.server").joinpath("openapi.json").read_text("utf-8"))
    names: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "properties" and isinstance(value, dict):
                    names.update(value)
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec["components"]["schemas"])
    assert {"hash", "items", "documentName", "pdf", "tsaUrl"} <= names
    assert [n for n in names if _looks_secret(n)] == []


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({**ITEM, "hashAlgorithm": []}, "items.1.hashAlgorithm"),
        ({**ITEM, "hashAlgorithm": "SHA-1"}, "items.1.hashAlgorithm"),
        ({**ITEM, "hash": 5}, "items.1.hash"),
        ({**ITEM, "hash": ""}, "items.1.hash"),
        ({**ITEM, "hash": "AA=="}, "items.1.hash' is 1 bytes"),
        ({**ITEM, "hash": ITEM["hash"] + "\n"}, "items.1.hash' is not valid base64"),
        ({**ITEM, "documentName": "a\u202eb"}, "items.1.documentName"),
        ({**ITEM, "userPin": "1234"}, "is not accepted: the PIN"),
        ({"hash": ITEM["hash"]}, "missing field items.1.hashAlgorithm; add it"),
        ([ITEM], "'items.1' must be an object"),
    ],
)
def test_every_batch_item_gets_the_same_checks_and_messages(item: object, message: str) -> None:
    with pytest.raises(BadRequest, match=re.escape(message)):
        parse_batch_sign_request({"items": [ITEM, item, ITEM]})


def test_a_batch_of_plain_and_named_items_keeps_order_and_names() -> None:
    named = {**ITEM, "documentName": "  Tờ trình.pdf "}
    parsed = parse_batch_sign_request({"items": [ITEM, named, ITEM]})
    assert [i.document_name for i in parsed.items] == [None, "Tờ trình.pdf", None]
    assert {i.digest for i in parsed.items} == {DIGEST}


# --- what a document name may contain (the dialog shows it) ------------------------------------

# Characters that render as nothing or as plain space in the dialog's fonts, with which a name
# looked empty or padded itself to fake a "Trang yêu cầu:" line of its own.
HIDDEN = {
    "\u00a0": "no-break space",
    "\u1680": "Ogham space mark",
    "\u2002": "en space",
    "\u2007": "figure space",
    "\u200a": "hair space",
    "\u202f": "narrow no-break space",
    "\u205f": "medium mathematical space",
    "\u3000": "ideographic space",
    "\u200b": "zero-width space",
    "\u200d": "zero-width joiner",
    "\u2060": "word joiner",
    "\ufeff": "zero-width no-break space",
    "\u202e": "right-to-left override",
    "\u2066": "left-to-right isolate",
    "\u2028": "line separator",
    "\u2029": "paragraph separator",
    "\u00ad": "soft hyphen",
    "\u034f": "combining grapheme joiner",
    "\u115f": "Hangul choseong filler",
    "\u1160": "Hangul jungseong filler",
    "\u3164": "Hangul filler",
    "\uffa0": "halfwidth Hangul filler",
    "\u2800": "Braille pattern blank",
    "\u17b4": "Khmer vowel inherent AQ",
    "\u180e": "Mongolian vowel separator",
    "\ufe0f": "variation selector-16",
    "\U000e0101": "variation selector-18",
    "\t": "tab",
    "\n": "line feed",
}


@pytest.mark.parametrize("char", list(HIDDEN), ids=list(HIDDEN.values()))
def test_a_name_with_a_hidden_character_is_refused_naming_it(char: str) -> None:
    faked = f"Quyết định 123.pdf{char * 40}Trang yêu cầu: https://dichvucong.gov.vn"
    with pytest.raises(BadRequest, match=f"U\\+{ord(char):04X}|invisible"):
        document_name(faked, "documentName")


@pytest.mark.parametrize(
    "name",
    [
        "Quyết định số 123/QĐ-UBND.pdf",
        "Nguyễn Thị Ánh - Tờ trình.pdf",
        # The same, decomposed (NFD): two combining marks on one letter are Vietnamese.
        unicodedata.normalize("NFD", "Nguyễn Thị Ánh - Tờ trình, Kế hoạch Ệ.pdf"),
        "契約書 (bản dịch).pdf",
    ],
)
def test_ordinary_vietnamese_names_pass(name: str) -> None:
    assert document_name(name, "documentName") == name


def test_marks_stacked_over_other_lines_are_refused() -> None:
    with pytest.raises(BadRequest, match="marks on one letter"):
        document_name("Tờ trình" + "\u0301" * 12 + ".pdf", "documentName")


@pytest.mark.parametrize(
    ("signed", "stopped", "error"),
    [
        (3, False, None),
        (2, True, None),
        (1, False, SigningFailed("the third document failed")),
        (0, True, None),
    ],
)
def test_a_batch_answer_cut_around_its_documents_is_its_json(
    signed: int, stopped: bool, error: SigningFailed | None
) -> None:
    """What the route streams (the pieces, each document's base64 between two) is, byte for
    byte, the JSON of ``to_wire``, whatever the names say."""
    names = (
        'Tờ trình "khẩn".pdf',
        "C:\\Văn bản\\QĐ 12/2026.pdf",
        None,
        # A name that looks like the places the documents go: it is only a name.
        "0123456789abcdef0123456789abcdef:1:",
    )
    documents = tuple(b"%PDF-1.7 signed " + bytes([i]) * (i + 5) for i in range(signed))
    answer = PdfBatchSignResponse(names, documents, b"\x30\x82cert", stopped, error)
    for lang in ("vi", "en"):
        pieces = answer.json_around_documents(lang)
        assert len(pieces) == signed + 1
        streamed = pieces[0] + b"".join(
            base64.b64encode(d) + after for d, after in zip(documents, pieces[1:], strict=True)
        )
        assert streamed == json.dumps(answer.to_wire(lang), ensure_ascii=False).encode("utf-8")
