"""The VNPT-CA Plugin protocol's pure parts: the envelope, the answers' shape, the codes, the
option objects (PdfSigner, XmlSigner, signArrDataAdvanced items) and the attached CMS."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.algorithms import HashAlgorithm
from agent.compat.vnpt import options as opts
from agent.compat.vnpt.cms import attach_content
from agent.compat.vnpt.functions import VnptFunctions
from agent.compat.vnpt.layer import LAYER
from agent.compat.vnpt.protocol import (
    BadEnvelope,
    Call,
    Code,
    FunctionId,
    Result,
    base64_data,
    certificate_info,
    code_for,
    function_label,
    is_pin_refusal,
    options_arg,
    parse_call,
    reply_text,
    serial_text,
    text_arg,
)
from agent.errors import AgentError, BadRequest, ErrorCode, SigningFailed, UserCancelled
from agent.messages import Lang, Phrase, keys, template_of, text
from agent.origin import Admitted, parse_origin
from agent.pdf.models import Profile, SignatureLevel
from agent.protocol import (
    MAX_PDF_BATCH,
    CmsSignRequest,
    CmsSignResponse,
    PdfBatchSignRequest,
    PdfBatchSignResponse,
    PdfSignRequest,
    PdfSignResponse,
)
from agent.service import SigningService
from agent.xml.profiles import EinvoiceRole
from agent.xml.profiles import Profile as XmlProfile
from agent.xml.sign import XmlDigest

PAGE = Admitted(parse_origin("https://vpdt.hue.gov.vn"), via_wildcard=False)


def message(**fields: Any) -> str:
    return json.dumps(fields)


# --- envelope -------------------------------------------------------------------------------


def test_a_call_as_the_library_sends_it() -> None:
    call = parse_call(
        message(functionID=2, funcCallback="signCallback", args=["JVBE", "null"], domain="x.vn")
    )
    assert call == Call(2, "signCallback", ("JVBE", "null"))


def test_a_call_without_callback_or_args_answers_the_default_callback() -> None:
    assert parse_call(message(functionID=7)) == Call(7, "callbackDefault", ())
    assert parse_call(message(functionID="11", args=None)).function == 11


@pytest.mark.parametrize("raw", ["functionID=7", "[7]", "", '"7"', "{" * 5000])
def test_what_is_no_json_object_is_refused_with_the_default_callback(raw: str) -> None:
    with pytest.raises(BadEnvelope) as refused:
        parse_call(raw)
    assert refused.value.callback == "callbackDefault"


def test_a_bad_function_id_is_answered_to_the_messages_own_callback() -> None:
    for function in ("seven", True, 1.5, None):
        with pytest.raises(BadEnvelope) as refused:
            parse_call(message(functionID=function, funcCallback="mine"))
        assert refused.value.callback == "mine"
    with pytest.raises(BadEnvelope) as refused:
        parse_call(message(functionID=1, funcCallback="mine", args="data"))
    assert refused.value.callback == "mine"


@pytest.mark.parametrize("callback", ["a*b", "x" * 129, "line\nbreak", 7])
def test_a_callback_that_would_break_the_answer_is_refused(callback: object) -> None:
    with pytest.raises(BadEnvelope) as refused:
        parse_call(message(functionID=7, funcCallback=callback))
    assert refused.value.callback == "callbackDefault"


def test_a_pin_in_the_envelope_is_a_pin_refusal() -> None:
    with pytest.raises(BadEnvelope) as refused:
        parse_call(message(functionID=9, funcCallback="cb", args=["eA=="], userPin="1"))
    assert is_pin_refusal(refused.value)
    assert refused.value.callback == "cb"


# --- answers --------------------------------------------------------------------------------


def test_results_are_compact_json_with_code_first() -> None:
    licensed = Result(Code.SETTING_OK, error="ok").to_text()
    assert licensed == '{"code":1,"data":"","error":"ok","type":null,"serial":null}'
    # What portals do with the licence's answer.
    assert licensed.split(":")[1][0] == "1"
    signed = Result(Code.OK, data="QUJD", serial="0A", certificate="Q0VSVA==").to_text()
    assert json.loads(signed) == {
        "code": 0,
        "data": "QUJD",
        "error": "",
        "type": None,
        "serial": "0A",
        "certificate": "Q0VSVA==",
    }


def test_the_answer_never_has_an_asterisk_before_the_callback() -> None:
    answer = reply_text(Result(Code.BAD_INPUT, error="a * b").to_text(), "cb")
    result, callback = answer.split("*")
    assert callback == "cb"
    assert json.loads(result)["error"] == "a \uff0a b"
    assert reply_text("1", "callbackDefault") == "1*callbackDefault"


@pytest.mark.parametrize(
    ("error", "phrase", "code"),
    [
        (ErrorCode.USER_CANCELLED, None, Code.USER_CANCELLED),
        (ErrorCode.CONSENT_TIMEOUT, None, Code.USER_CANCELLED),
        (ErrorCode.TOKEN_NOT_PRESENT, None, Code.NO_CERTIFICATE),
        (ErrorCode.CERTIFICATE_EXPIRED, None, Code.NO_CERTIFICATE),
        (ErrorCode.PIN_LOCKED, None, Code.SIGNING_FAILED),
        (ErrorCode.BUSY, None, Code.UNKNOWN),
        (ErrorCode.INTERNAL, None, Code.UNKNOWN),
        (ErrorCode.BAD_REQUEST, Phrase.of("bad_json"), Code.BAD_INPUT),
        (ErrorCode.BAD_REQUEST, Phrase.of("place_page_outside", page=9, pages=2), 7),
        (ErrorCode.BAD_REQUEST, Phrase.of("bad_xml_id_missing", id="x"), 8),
    ],
)
def test_the_agents_errors_as_the_plugins_codes(
    error: ErrorCode, phrase: Phrase | None, code: int
) -> None:
    assert code_for(error, phrase) == code


def test_an_items_reason_keeps_its_own_code() -> None:
    inner = Phrase.of("bad_xml_element_missing", path="DLHDon", profile="einvoice")
    assert code_for(ErrorCode.BAD_REQUEST, Phrase.of("vnpt_item", index=2, reason=inner)) == 8


def test_function_labels_name_the_librarys_functions() -> None:
    assert function_label(20) == "ShowCertificateViewer (20)"
    assert function_label(2) == "SignPDF (2)"
    assert function_label(45) == "GetAllCertificates (45)"
    assert function_label(999) == "functionID 999"
    assert FunctionId.SIGN_ARR_DATA_ADVANCED == 10


def test_the_layer_keeps_the_librarys_ports_in_its_order() -> None:
    assert LAYER.name == "vnpt" and LAYER.scheme == "wss"
    assert LAYER.ports == (4433, 4434, 4435, 9201, 9202, 5002, 5003)


def test_new_catalogue_keys_are_translated() -> None:
    ours = {k for k in keys() if k.startswith("vnpt_")}
    assert len(ours) > 20
    for key in ours:
        english, vietnamese = template_of(key, Lang.EN), template_of(key, Lang.VI)
        assert english != vietnamese or "{" in vietnamese


# --- arguments ------------------------------------------------------------------------------


def test_base64_data_as_pages_send_it() -> None:
    assert base64_data("data:application/pdf;base64,JVBE\nRi0x", "data") == b"%PDF-1"
    for bad in ("", "  ", "not base64!", "===="):
        with pytest.raises(BadRequest):
            base64_data(bad, "data")


def test_text_arguments() -> None:
    call = Call(1, "cb", ("a", None, 3))
    assert text_arg(call, 0, "data") == "a"
    assert text_arg(call, 1, "serial", required=False) is None
    assert text_arg(call, 5, "serial", required=False) is None
    with pytest.raises(BadRequest):
        text_arg(call, 1, "serial")
    with pytest.raises(BadRequest):
        text_arg(call, 2, "serial")


def test_options_are_json_text_or_null() -> None:
    assert options_arg("null", "PdfSigner") == {}
    assert options_arg(None, "PdfSigner") == {}
    assert options_arg('{"page": 2}', "PdfSigner") == {"page": 2}
    assert options_arg({"page": 2}, "PdfSigner") == {"page": 2}
    for bad in ("[1]", "{", "7"):
        with pytest.raises(BadRequest):
            options_arg(bad, "PdfSigner")
    with pytest.raises(BadRequest) as refused:
        options_arg('{"Tsa": {"PinCode": "1"}}', "PdfSigner")
    assert is_pin_refusal(refused.value)


def test_serials_are_written_in_whole_bytes() -> None:
    assert serial_text(0x0ABC) == "0ABC"
    assert serial_text(0x1234) == "1234"


# --- PdfSigner ------------------------------------------------------------------------------


def test_no_pdf_signer_signs_invisibly() -> None:
    choice = opts.pdf_choice({})
    assert choice.options.appearance.profile is Profile.INVISIBLE
    assert choice.options.level is SignatureLevel.B_B


def test_the_pdf_signers_box_page_and_description() -> None:
    choice = opts.pdf_choice(
        {
            "page": "2",
            "llx": 300,
            "lly": 80.5,
            "urx": "500",
            "ury": 160,
            "Description": "KT. GIÁM ĐỐC\nPHÓ GIÁM ĐỐC",
            "SigType": 1,
            "ImageBase64": base64.b64encode(b"\x89PNG\r\n\x1a\n").decode(),
            "CertificateSerial": "0A1B",
            "Signer": "whoever",
            "SigningTime": "08:00:00 01/01/2020",
        }
    )
    appearance = choice.options.appearance
    assert appearance.profile is Profile.PERSONAL
    assert appearance.page == 2
    assert appearance.rect == (300.0, 80.5, 500.0, 160.0)
    assert appearance.text == "KT. GIÁM ĐỐC\nPHÓ GIÁM ĐỐC"
    assert appearance.image is None, "SigType 1 shows no image"
    assert choice.serial == "0A1B"


def test_the_pdf_signers_defaults_are_the_plugins() -> None:
    appearance = opts.pdf_choice({"SigType": 0}).options.appearance
    assert appearance.page == 1 and appearance.rect == (0.0, 0.0, 150.0, 75.0)
    # The library itself sends page 1 for a page of 0 (pdfSigner.page ? page : 1).
    assert opts.pdf_choice({"page": 0}).options.appearance.page == 1


def test_an_image_shows_when_sig_type_says_so() -> None:
    image = b"\x89PNG\r\n\x1a\nrest"
    for kind in (2, 3):
        appearance = opts.pdf_choice(
            {"SigType": kind, "ImageBase64": base64.b64encode(image).decode(), "Description": "x"}
        ).options.appearance
        assert appearance.image == image
        assert (appearance.text is None) is (kind == 3)


def test_a_tsa_url_makes_a_timestamped_signature() -> None:
    options = opts.pdf_choice({"TsaUrl": "http://tsa.example/", "TsaUsername": ""}).options
    assert options.level is SignatureLevel.B_T and options.tsa_url == "http://tsa.example/"


@pytest.mark.parametrize(
    ("signer", "key"),
    [
        ({"TsaPassword": "secret"}, "vnpt_tsa_credentials"),
        ({"TsaUsername": "u"}, "vnpt_tsa_credentials"),
        ({"IsEncyptFile": True}, "vnpt_encrypt"),
        ({"TsaUrl": "ftp://tsa"}, "bad_tsa_url"),
        ({"llx": 200, "urx": 100}, "vnpt_pdf_rect"),
        ({"page": -1}, "vnpt_pdf_page"),
        ({"page": "last"}, "vnpt_pdf_page"),
        ({"llx": "left"}, "vnpt_field_number"),
        ({"llx": float("nan")}, "vnpt_field_number"),
        ({"llx": 10**400}, "vnpt_field_number"),
        ({"SigVisible": "maybe"}, "vnpt_field_flag"),
        ({"SigVisible": 1.0}, "vnpt_field_flag"),
        ({"Description": "x" * 201}, "vnpt_field_text"),
        ({"Description": "a\u202eb"}, "bad_hidden_character"),
    ],
)
def test_pdf_signers_refused_before_asking(signer: dict[str, Any], key: str) -> None:
    with pytest.raises(BadRequest) as refused:
        opts.pdf_choice(signer)
    assert refused.value.phrase is not None and refused.value.phrase.key == key


def test_sig_visible_false_is_invisible() -> None:
    choice = opts.pdf_choice({"SigVisible": False, "page": 3})
    assert choice.options.appearance.profile is Profile.INVISIBLE


def test_multiple_pages_take_one_page() -> None:
    assert opts.pdf_choice({"PagesArray": [3]}, multiple_pages=True).options.appearance.page == 3
    assert opts.pdf_choice({"PagesArray": "2"}, multiple_pages=True).options.appearance.page == 2
    assert opts.pdf_choice({"page": 4}, multiple_pages=True).options.appearance.page == 4
    with pytest.raises(BadRequest) as refused:
        opts.pdf_choice({"PagesArray": [1, 2, 3]}, multiple_pages=True)
    assert refused.value.phrase is not None and refused.value.phrase.key == "vnpt_pdf_pages"
    # SignPDF reads no PagesArray.
    assert opts.pdf_choice({"PagesArray": [1, 2], "page": 2}).options.appearance.page == 2


# --- XmlSigner ------------------------------------------------------------------------------


def test_xml_signer_defaults_and_digests() -> None:
    assert opts.xml_choice({}) == opts.XmlChoice()
    assert opts.xml_choice({"DigestMethod": "SHA1"}).digest is XmlDigest.SHA1
    assert opts.xml_choice({"SignatureMethod": "RSAwithSHA1"}).digest is XmlDigest.SHA1
    assert opts.xml_choice({"SignatureMethod": "RSAwithSHA256"}).digest is XmlDigest.SHA256
    choice = opts.xml_choice({"NodeToSign": "#data", "TagSaveResult": "Sigs"})
    assert choice.node_id == "data" and choice.parent == "Sigs"


@pytest.mark.parametrize(
    ("signer", "key"),
    [
        ({"SigningType": "Enveloping"}, "vnpt_xml_signing_type"),
        ({"NameXPathFilter": "//x"}, "vnpt_xml_xpath_filter"),
        ({"DigestMethod": "MD5"}, "bad_xml_digest"),
        ({"NodeToSign": "a\u200bb"}, "bad_hidden_character"),
    ],
)
def test_xml_signers_refused(signer: dict[str, Any], key: str) -> None:
    with pytest.raises(BadRequest) as refused:
        opts.xml_choice(signer)
    assert refused.value.phrase is not None and refused.value.phrase.key == key


INVOICE = b'<HDon><DLHDon Id="d1"><SHDon>1</SHDon></DLHDon><DSCKS><NBan/><NMua/></DSCKS></HDon>'
GENERIC = b'<Doc Id="root"><Data Id="payload"><x>1</x></Data><Sigs/><Plain/></Doc>'


def place(xml: bytes, **signer: Any) -> Any:
    return asyncio.run(opts.placement(xml, opts.xml_choice(signer)))


def test_placement_by_node_goes_into_the_named_parent_or_the_root() -> None:
    spec = place(GENERIC, NodeToSign="payload", ParrentTagSigning="Sigs")
    assert (spec.profile, spec.sign_id, spec.parent_xpath) == (
        XmlProfile.ENVELOPED,
        "payload",
        "//Sigs",
    )
    assert place(GENERIC, NodeToSign="payload").parent_xpath == "/Doc"
    assert place(GENERIC, TagSigning="Data").sign_id == "payload"


def test_placement_by_a_tag_without_id_or_missing_is_refused() -> None:
    for tag, key in (("Plain", "bad_xml_element_no_id"), ("Nope", "bad_xml_element_missing")):
        with pytest.raises(BadRequest) as refused:
            place(GENERIC, TagSigning=tag)
        assert refused.value.phrase is not None and refused.value.phrase.key == key
        assert code_for(ErrorCode.BAD_REQUEST, refused.value.phrase) == Code.XML_TAG_NOT_FOUND


def test_placement_without_a_node_follows_the_documents_kind() -> None:
    assert place(INVOICE).profile is XmlProfile.EINVOICE
    assert place(INVOICE, ParrentTagSigning="NMua").role is EinvoiceRole.BUYER
    assert place(INVOICE, ParrentTagSigning="DSCKS/NBan").role is EinvoiceRole.SELLER
    generic = place(GENERIC, ParrentTagSigning="Sigs")
    assert (generic.sign_id, generic.parent_xpath) == ("root", "//Sigs")


def test_xml_data_is_text_or_base64() -> None:
    assert opts.xml_data("  <a/>", "data") == b"  <a/>"
    assert opts.xml_data(base64.b64encode(b"<a/>").decode(), "data") == b"<a/>"


# --- signArrDataAdvanced items --------------------------------------------------------------


def item(**fields: Any) -> str:
    return json.dumps(fields)


def test_items_as_the_library_double_encodes_them() -> None:
    digest = base64.b64encode(b"\x01" * 32).decode()
    parsed = opts.items(
        json.dumps(
            [
                item(data="JVBE", type="pdf", sigOptions="null"),
                item(data="<a/>", type="XML"),
                item(data=digest, type="hash", sigOptions='{"DigestAlgorithm": "SHA256"}'),
                item(data="MTIz", type="txt"),
                item(data="MTIz", type="cmsdetached", sigOptions='{"DigestAlgorithm": "SHA512"}'),
            ]
        )
    )
    kinds = [p.kind for p in parsed if isinstance(p, opts.Item)]
    assert kinds == [
        opts.ItemKind.PDF,
        opts.ItemKind.XML,
        opts.ItemKind.HASH,
        opts.ItemKind.CMS,
        opts.ItemKind.CMS_DETACHED,
    ]
    assert cast(opts.Item, parsed[1]).type == "XML"
    assert cast(opts.Item, parsed[2]).hash is HashAlgorithm.SHA256
    assert cast(opts.Item, parsed[4]).hash is HashAlgorithm.SHA512


def test_a_bad_item_is_returned_in_its_place() -> None:
    parsed = opts.items(
        json.dumps(
            [
                item(data="JVBE", type="pdf"),
                item(data="JVBE", type="docx"),
                item(data="JVBE", type="exe"),
                "not json",
                item(data=base64.b64encode(b"\x01" * 20).decode(), type="hash"),
                item(data="eA==", type="hash", sigOptions='{"DigestAlgorithm": "SHA1"}'),
                item(data="eA==", type="cms", sigOptions={"pin": "1"}),
            ]
        )
    )
    assert isinstance(parsed[0], opts.Item)
    reasons = [p for p in parsed[1:] if isinstance(p, BadRequest)]
    assert len(reasons) == 6
    inner = [r.phrase.values[1][1] for r in reasons if r.phrase is not None]
    assert [p.key for p in inner if isinstance(p, Phrase)] == [
        "compat_office_unsupported",
        "vnpt_item_type",
        "vnpt_item_shape",
        "vnpt_hash_length",
        "vnpt_hash_algorithm",
        "bad_pin_field",
    ]
    assert is_pin_refusal(reasons[-1])


@pytest.mark.parametrize("arr", ["{", "[]", json.dumps([item(data="x", type="pdf")] * 501), "{}"])
def test_an_unreadable_array_is_refused_whole(arr: str) -> None:
    with pytest.raises(BadRequest) as refused:
        opts.items(arr)
    assert refused.value.phrase is not None and refused.value.phrase.key == "vnpt_items"


def test_digests_of_the_page() -> None:
    assert opts.digest_of_page(b"\x00" * 48, None) is HashAlgorithm.SHA384
    assert opts.hash_algorithm("sha-512") is HashAlgorithm.SHA512
    with pytest.raises(BadRequest):
        opts.digest_of_page(b"\x00" * 32, HashAlgorithm.SHA512)
    with pytest.raises(BadRequest):
        opts.hash_algorithm("SHA1")


# --- certificates ---------------------------------------------------------------------------


def make_cert(serial: int = 0x00F00D) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Nguyễn Văn An")])
    issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "VNPT Certification Authority")])
    now = datetime(2025, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.DER)


def test_certificate_info_has_what_portals_read() -> None:
    der = make_cert()
    info = certificate_info(der)
    assert info["serial"] == "F00D"
    assert base64.b64decode(info["base64"]) == der
    assert info["subjectCN"] == "Nguyễn Văn An"
    assert info["issuerCN"] == "VNPT Certification Authority"
    assert info["notBefore"] == "2025-01-01T00:00:00Z"
    assert info["notAfter"] == "2026-01-01T00:00:00Z"


# --- the answers that need no service -------------------------------------------------------


def functions() -> VnptFunctions:
    # Only calls that never reach the service are sent here; a service would be a token.
    return VnptFunctions(cast(SigningService, object()), lang=Lang.VI)


@pytest.mark.parametrize(
    ("sent", "answer"),
    [
        (message(functionID=7, funcCallback="f", args=[""]), "1*f"),
        (message(functionID=11), "1.0.4.3*callbackDefault"),
    ],
)
def test_checks(sent: str, answer: str) -> None:
    assert asyncio.run(functions().handle(sent, PAGE)) == answer


def test_licence_settings_office_and_unknown() -> None:
    def answer(sent: str) -> dict[str, Any]:
        result, _, _ = asyncio.run(functions().handle(sent, PAGE)).partition("*")
        decoded: dict[str, Any] = json.loads(result)
        return decoded

    assert answer(message(functionID=6, args=["PExpY2Vuc2UvPg=="]))["code"] == 1
    assert answer(message(functionID=40, args=[3])) == {
        "code": 1,
        "data": "",
        "error": "",
        "type": None,
        "serial": None,
    }
    office = answer(message(functionID=3, args=["UEs="]))
    assert office["code"] == -1 and office["error"] == text("compat_office_unsupported")
    assert answer(message(functionID=38))["code"] == -1
    refused = answer(message(functionID=2, args=["JVBE", '{"pin": "1"}']))
    assert refused["code"] == 1 and refused["error"] == text("compat_pin_refused")
    bad = answer("nope")
    assert bad["code"] == 1 and "VNPT-CA Plugin" in bad["error"]


# --- the attached CMS -----------------------------------------------------------------------


def detached_signed_data() -> bytes:
    """A detached SignedData shell (the signature bytes are not checked here)."""
    digest_algorithm = algos.DigestAlgorithm({"algorithm": "sha256"})
    signer = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {
                            "issuer": asn1_x509.Name.build({"common_name": "CA"}),
                            "serial_number": 1,
                        }
                    )
                }
            ),
            "digest_algorithm": digest_algorithm,
            "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": "rsassa_pkcs1v15"}),
            "signature": core.OctetString(b"\x01" * 8),
        }
    )
    signed = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [digest_algorithm],
            "encap_content_info": {"content_type": "data"},
            "signer_infos": [signer],
        }
    )
    return bytes(cms.ContentInfo({"content_type": "signed_data", "content": signed}).dump())


def test_attach_content_puts_the_data_inside_and_keeps_the_signer() -> None:
    detached = detached_signed_data()
    attached = cms.ContentInfo.load(attach_content(detached, b"hello"))
    content = attached["content"]
    assert content["encap_content_info"]["content"].native == b"hello"
    original = cms.ContentInfo.load(detached)["content"]["signer_infos"].dump()
    assert content["signer_infos"].dump() == original


# --- signArrDataAdvanced: PDF items under one question ------------------------------------


class ItemService:
    """A signing service that records its calls; its PDF batches end as told."""

    def __init__(self, *ends: tuple[int, bool, AgentError | None]) -> None:
        self.ends = list(ends)
        self.calls: list[str] = []
        self.batches: list[PdfBatchSignRequest] = []
        self.certificate = make_cert()

    async def check_pdf(self, _request: PdfSignRequest) -> None:
        return None

    async def sign_pdf(self, _caller: Admitted, request: PdfSignRequest) -> PdfSignResponse:
        self.calls.append("pdf")
        return PdfSignResponse(request.pdf + b"%signed", self.certificate)

    async def sign_pdf_batch(
        self, _caller: Admitted, request: PdfBatchSignRequest
    ) -> PdfBatchSignResponse:
        self.calls.append(f"pdf-batch:{len(request.documents)}")
        self.batches.append(request)
        count, stopped, error = (
            self.ends.pop(0) if self.ends else (len(request.documents), False, None)
        )
        return PdfBatchSignResponse(
            names=tuple(d.document_name for d in request.documents),
            signed=tuple(d.pdf + b"%signed" for d in request.documents[:count]),
            certificate=self.certificate,
            stopped=stopped,
            error=error,
        )

    async def sign_cms(self, _caller: Admitted, _request: CmsSignRequest) -> CmsSignResponse:
        self.calls.append("cms")
        return CmsSignResponse(b"cms", self.certificate)


def sign_items(service: ItemService, items: list[str]) -> list[dict[str, Any]]:
    functions = VnptFunctions(cast(SigningService, service), lang=Lang.EN)
    sent = message(functionID=10, funcCallback="done", args=[json.dumps(items), "", "1", "1"])
    answer, _, callback = asyncio.run(functions.handle(sent, PAGE)).partition("*")
    assert callback == "done"
    return [json.loads(r) for r in json.loads(answer)]


def pdf_item(n: int) -> str:
    return item(data=base64.b64encode(b"%PDF-" + bytes([n])).decode(), type="pdf")


HASH_ITEM = item(data=base64.b64encode(b"\x01" * 32).decode(), type="hash")


def test_pdf_items_are_signed_together_after_one_question() -> None:
    service = ItemService()
    results = sign_items(service, [pdf_item(n) for n in range(3)])
    assert service.calls == ["pdf-batch:3"]
    assert [r["code"] for r in results] == [0, 0, 0]
    assert [base64.b64decode(r["data"]) for r in results] == [
        b"%PDF-" + bytes([n]) + b"%signed" for n in range(3)
    ]
    assert {r["type"] for r in results} == {"pdf"}


def test_pdf_items_among_others_are_signed_together_at_the_first_ones_turn() -> None:
    service = ItemService()
    results = sign_items(service, [HASH_ITEM, pdf_item(1), HASH_ITEM, pdf_item(2)])
    assert service.calls == ["cms", "pdf-batch:2", "cms"]
    assert [(r["code"], r["type"]) for r in results] == [
        (0, "hash"),
        (0, "pdf"),
        (0, "hash"),
        (0, "pdf"),
    ]


def test_one_pdf_item_is_signed_alone() -> None:
    service = ItemService()
    sign_items(service, [pdf_item(1), HASH_ITEM])
    assert service.calls == ["pdf", "cms"]


def test_stop_answers_the_items_left_as_cancelled_and_nothing_more_is_asked() -> None:
    service = ItemService((1, True, None))
    results = sign_items(service, [pdf_item(1), pdf_item(2), pdf_item(3), HASH_ITEM])
    assert service.calls == ["pdf-batch:3"]
    assert [r["code"] for r in results] == [0, Code.USER_CANCELLED, Code.USER_CANCELLED, 11]
    assert results[1]["error"] == "This item was not signed: the user pressed Stop."
    assert results[3]["type"] == "hash"


def test_a_pdf_failing_after_others_is_named_and_the_rest_not_attempted() -> None:
    service = ItemService((2, False, SigningFailed("the TSA did not answer")))
    results = sign_items(service, [pdf_item(n) for n in range(4)] + [HASH_ITEM])
    assert [r["code"] for r in results] == [0, 0, Code.SIGNING_FAILED, Code.FAILED, Code.FAILED]
    assert "not signed because an earlier item" in results[3]["error"]
    assert service.calls == ["pdf-batch:4"]


def test_a_refused_question_answers_every_pdf_item() -> None:
    class Refusing(ItemService):
        async def sign_pdf_batch(
            self, _caller: Admitted, request: PdfBatchSignRequest
        ) -> PdfBatchSignResponse:
            raise UserCancelled("no")

    results = sign_items(Refusing(), [pdf_item(1), pdf_item(2), HASH_ITEM])
    assert [r["code"] for r in results] == [11, 11, Code.FAILED]


def test_more_pdf_items_than_one_question_lists_are_asked_about_in_parts() -> None:
    service = ItemService()
    results = sign_items(service, [pdf_item(n % 200) for n in range(MAX_PDF_BATCH + 3)])
    assert service.calls == [f"pdf-batch:{MAX_PDF_BATCH}", "pdf-batch:3"]
    assert all(r["code"] == 0 for r in results)
