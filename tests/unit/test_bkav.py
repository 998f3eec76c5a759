"""The BkavCA Signer Plugin protocol without a socket: pieces into calls, calls into their
arguments, results into the frames the library reads, tags into XML placements."""

from __future__ import annotations

import base64
from collections.abc import Sequence

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from lxml import etree

from agent.compat.bkav.calls import (
    CertFilter,
    XmlTags,
    parse_cms,
    parse_hash_choice,
    parse_pdf,
    parse_xml_call,
)
from agent.compat.bkav.certs import certificate_list, matches
from agent.compat.bkav.protocol import (
    CHUNK,
    Code,
    Function,
    Shape,
    code_for,
    info_frame,
    parse_message,
    reply_frame,
    result_text,
    serial_of,
)
from agent.compat.bkav.wire import Complete, Dropped, Reassembler
from agent.compat.bkav.xmlplace import placement_for
from agent.compat.certificates import serial_hex
from agent.errors import BadRequest, ErrorCode
from agent.messages import Lang
from agent.pdf.models import Profile
from agent.testing.softhsm import TestCa
from agent.xml.profiles import EinvoiceRole
from agent.xml.profiles import Profile as XmlProfile
from tests.xmlsig import GENERIC, INVOICE, TAX_DECLARATION, SoftSigner

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


def pieces(*fields: str, callback: bool = True) -> list[str]:
    """What ``ProcessData`` of ``BkavCAPlugin.js`` sends for a call."""
    text = "*".join(fields) + ("*BkavExtensionCallback" if callback else "") + "*end"
    count = len(text) // CHUNK
    return [text[i * CHUNK : (i + 1) * CHUNK] for i in range(count)] + [text[count * CHUNK :]]


def assemble(frames: Sequence[str], limit: int = 10 * CHUNK) -> list[Complete | Dropped]:
    assembler = Reassembler(limit)
    done = [assembler.feed(frame) for frame in frames]
    return [d for d in done if d is not None]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# --- pieces -------------------------------------------------------------------------------


def test_a_short_call_is_one_frame() -> None:
    frames = pieces("30", "1", callback=False)
    assert frames == ["30*1*end"]
    assert assemble(frames) == [Complete("30*1*end")]


def test_a_call_is_bounded_in_bytes_not_characters() -> None:
    # Four bytes a character: within the limit in characters, four times over it in memory.
    heavy = "3*" + "\U0001f600" * (CHUNK // 2) + "*end"
    assert len(heavy) < 2 * CHUNK
    [done] = assemble([heavy], limit=2 * CHUNK)
    assert isinstance(done, Dropped)
    [ascii_call] = assemble(["3*" + "A" * (CHUNK // 2) + "*end"], limit=2 * CHUNK)
    assert isinstance(ascii_call, Complete)


def test_a_long_call_is_put_back_together_from_its_pieces() -> None:
    document = "A" * (3 * CHUNK + 5)
    frames = pieces("3", document, "", "1", "x")
    assert [len(f) for f in frames[:-1]] == [CHUNK] * 3
    [done] = assemble(frames)
    assert isinstance(done, Complete)
    assert parse_message(done.text).args[0] == document


def test_a_call_of_exactly_n_pieces_ends_with_the_librarys_empty_frame() -> None:
    head = "0*"
    tail = "*BkavExtensionCallback*end"
    text = head + "B" * (2 * CHUNK - len(head) - len(tail)) + tail
    frames = pieces("0", "B" * (2 * CHUNK - len(head) - len(tail)))
    assert frames[-1] == "" and "".join(frames) == text
    assert assemble(frames) == [Complete(text)]


def test_an_argument_beginning_with_end_at_a_piece_boundary_does_not_end_the_call() -> None:
    first = "7*" + "x" * (CHUNK - 2 - 1) + "*"  # the first piece ends with "*"
    frames = pieces("7", "x" * (CHUNK - 2 - 1), "endless")
    assert frames[0] == first and frames[1].startswith("endless")
    [done] = assemble(frames)
    assert isinstance(done, Complete)
    assert parse_message(done.text).args == ("x" * (CHUNK - 3), "endless")


def test_calls_follow_one_another_and_stray_empty_frames_are_ignored() -> None:
    frames = ["", *pieces("30", "1", callback=False), "", *pieces("7", "1")]
    assert [d.text for d in assemble(frames)] == ["30*1*end", "7*1*BkavExtensionCallback*end"]


def test_a_call_over_the_bound_is_read_to_its_end_and_dropped() -> None:
    frames = pieces("3", "A" * (5 * CHUNK), "", "1", "x")
    dropped, after = assemble([*frames, *pieces("7", "1")], limit=2 * CHUNK)
    assert isinstance(dropped, Dropped)
    assert dropped.size == sum(len(f) for f in frames)
    assert dropped.text == "3*BkavExtensionCallback*end"
    assert after == Complete("7*1*BkavExtensionCallback*end")


def test_a_dropped_call_without_callback_is_answered_without_one() -> None:
    [dropped] = assemble(pieces("3", "A" * (3 * CHUNK), callback=False), limit=CHUNK)
    assert isinstance(dropped, Dropped)
    assert parse_message(dropped.text).callback is False


# --- calls ---------------------------------------------------------------------------------


def test_a_call_names_its_function_arguments_and_callback() -> None:
    message = parse_message("0*PD94*DLHDon*undefined*NBan*undefined*1*0*BkavExtensionCallback*end")
    assert message.function is Function.SIGN_XML_BASE64
    assert message.callback and message.ended
    assert message.arg(1) == "DLHDon"
    assert message.arg(2) == "" and message.arg(4) == ""  # "undefined" from the library
    assert message.arg(9) == ""


def test_the_licence_call_never_keeps_the_host_the_page_wrote() -> None:
    message = parse_message("26*PD94bWw+*portal.example.gov.vn*end")
    assert message.function is Function.SET_LICENSE_KEY
    assert message.args == ("PD94bWw+",) and not message.callback


@pytest.mark.parametrize(
    ("text", "function", "ended"),
    [
        ("abc*1*end", None, True),
        ("99*1*end", None, True),
        ("0*PD94*BkavExtensionCallback", Function.SIGN_XML_BASE64, False),
    ],
)
def test_malformed_calls_are_parsed_not_raised(
    text: str, function: Function | None, ended: bool
) -> None:
    message = parse_message(text)
    assert message.function is function
    assert message.ended is ended
    assert message.shape is (Shape.PLAIN if function is None else function.shape)


def test_results_are_written_as_the_library_reads_them() -> None:
    assert result_text(Code.USER_CANCELLED, Shape.BASE64) == "MTM="
    assert result_text(Code.CERTIFICATE_NOT_FOUND, Shape.BASE64) == "Mw=="
    assert result_text(Code.NO_PERMISSION, Shape.BASE64) == "MA=="
    assert result_text(Code.OK, Shape.PLAIN) == "1"
    assert reply_frame("MTM=", callback=True) == "MTM=*BkavExtensionCallback*end"
    assert reply_frame("1", callback=False) == "1*end"
    frame = info_frame("Người dùng đã hủy * thao tác")
    encoded, word, end = frame.split("*")
    assert (word, end) == ("KysoAgentMessage", "end")
    assert base64.b64decode(encoded).decode() == "Người dùng đã hủy * thao tác"


def test_data_functions_answer_base64_and_checks_plain() -> None:
    assert Function.SIGN_PDF_BASE64.shape is Shape.BASE64
    assert Function.GET_CERT_LIST_BY_FILTER.shape is Shape.BASE64
    assert Function.VERIFY_XML.shape is Shape.PLAIN
    assert Function.CHECK_LOGIN.shape is Shape.PLAIN
    assert Function.SIGN_XML_DATA_LIST.label == "SignXMLDataList"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ErrorCode.USER_CANCELLED, Code.USER_CANCELLED),
        (ErrorCode.CONSENT_TIMEOUT, Code.USER_CANCELLED),
        (ErrorCode.TOKEN_NOT_PRESENT, Code.TOKEN_NOT_PRESENT),
        (ErrorCode.CERTIFICATE_EXPIRED, Code.CERTIFICATE_NOT_FOUND),
        (ErrorCode.BAD_REQUEST, Code.BAD_INPUT),
        (ErrorCode.PIN_LOCKED, Code.SIGNING_FAILED),
        (ErrorCode.INTERNAL, Code.SIGNING_FAILED),
    ],
)
def test_agent_errors_become_plugin_codes(error: ErrorCode, code: Code) -> None:
    assert code_for(error) is code


@pytest.mark.parametrize(
    ("text", "serial"),
    [("", None), ("1", None), ("undefined", None), ("54 03 60 7d", "5403607D"), ("00AB", "AB")],
)
def test_serial_numbers(text: str, serial: str | None) -> None:
    assert serial_of(text) == serial


def test_an_xml_call_and_a_list_of_them() -> None:
    one = parse_xml_call(parse_message(f"0*{b64(INVOICE)}*DLHDon*undefined*NMua*t*54AB*0*end"))
    assert one.documents == (INVOICE,)
    assert one.tags == XmlTags("DLHDon", "", "NMua")
    assert one.serial == "54AB"
    listed = f"{b64(INVOICE)}|{b64(GENERIC)}"
    many = parse_xml_call(parse_message(f"45*{listed}******BkavExtensionCallback*end"))
    assert many.documents == (INVOICE, GENERIC) and many.separator == "|"


@pytest.mark.parametrize(
    "text",
    [
        "0*end",
        "0*@@@*end",
        "45* ; ;*end",
        "3*JVBERi0=*t*1*x*abc*1*end",
        "3*JVBERi0=*t*1*x*1*1*1*C:\\a.png*end",
    ],
)
def test_bad_arguments_are_refused_in_words(text: str) -> None:
    message = parse_message(text)
    parse = parse_xml_call if message.function is not Function.SIGN_PDF_BASE64 else parse_pdf
    with pytest.raises(BadRequest) as refused:
        parse(message)
    assert refused.value.phrase is not None
    assert refused.value.phrase.key == "compat_bad_message"
    assert "BkavCA Signer Plugin" in refused.value.phrase.render(Lang.VI)


def test_a_pdf_call_without_position_takes_the_personal_profiles_place() -> None:
    call = parse_pdf(
        parse_message("3*JVBERi0=*2025/01/01 00:00:00*1*Ai đó*BkavExtensionCallback*end")
    )
    assert call.pdf == b"%PDF-" and call.serial is None
    assert call.appearance.profile is Profile.PERSONAL
    assert call.appearance.rect is None and call.appearance.page is None


def test_a_pdf_call_with_the_demo_pages_offsets_page_and_image() -> None:
    call = parse_pdf(parse_message(f"3*JVBERi0=**AB*x*72*600*-1*{b64(PNG)}*end"))
    assert call.appearance.rect == (72.0, 600.0, 272.0, 680.0)
    assert call.appearance.page == -1
    assert call.appearance.image == PNG
    none = parse_pdf(parse_message("3*JVBERi0=**AB*x*0*600*none*end"))
    assert none.appearance.page is None


def test_cms_and_hash_choice() -> None:
    call = parse_cms(parse_message("38*aGk=*1*BkavExtensionCallback*end"))
    assert call.data == b"hi" and call.serial is None
    assert parse_hash_choice(parse_message("42*0*end")) is True
    assert parse_hash_choice(parse_message("42*1*end")) is False
    with pytest.raises(BadRequest):
        parse_hash_choice(parse_message("42*256*end"))


# --- XML placement -------------------------------------------------------------------------


def test_an_invoice_is_signed_as_its_kind_prescribes() -> None:
    seller = placement_for(INVOICE, XmlTags())
    assert seller.profile is XmlProfile.EINVOICE and seller.role is EinvoiceRole.SELLER
    buyer = placement_for(INVOICE, XmlTags("DLHDon", "", "NMua"))
    assert buyer.profile is XmlProfile.EINVOICE and buyer.role is EinvoiceRole.BUYER
    by_path = placement_for(INVOICE, XmlTags("", "", "/HDon/DSCKS/NBan"))
    assert by_path.role is EinvoiceRole.SELLER


def test_a_tax_declaration_keeps_its_place() -> None:
    spec = placement_for(TAX_DECLARATION, XmlTags("HSoKhaiThue", "", "CKyDTu"))
    assert spec.profile is XmlProfile.TAX_DECLARATION


def test_another_document_is_signed_where_the_tags_name() -> None:
    spec = placement_for(GENERIC, XmlTags("Data", "", "Signatures"))
    assert spec.profile is XmlProfile.ENVELOPED
    assert (spec.sign_id, spec.parent_xpath) == ("payload", "//Signatures")
    by_id = placement_for(GENERIC, XmlTags("", "payload", ""))
    assert (by_id.sign_id, by_id.parent_xpath) == ("payload", "/Doc")


@pytest.mark.parametrize(
    ("tags", "key"),
    [
        (XmlTags("Nothing"), "bad_xml_element_missing"),
        (XmlTags("a:Item"), "compat_bad_message"),
        (XmlTags("Item"), "bad_xml_element_no_id"),
        (XmlTags("Signatures", "", "x[1]"), "compat_bad_message"),
    ],
)
def test_tags_that_name_no_signable_element_are_refused(tags: XmlTags, key: str) -> None:
    with pytest.raises(BadRequest) as refused:
        placement_for(GENERIC, tags)
    assert refused.value.phrase is not None and refused.value.phrase.key == key


def test_a_document_whose_root_has_no_id_needs_a_tag() -> None:
    with pytest.raises(BadRequest) as refused:
        placement_for(b"<Doc><Data>1</Data></Doc>", XmlTags("", "", "Doc"))
    assert refused.value.phrase is not None
    assert refused.value.phrase.key == "bad_xml_element_no_id"


# --- certificates --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate() -> x509.Certificate:
    return SoftSigner.rsa(TestCa.create("Kyso Test CA"), "Nguyễn Văn An").cert


def test_the_certificate_list_reads_as_portals_read_it(certificate: x509.Certificate) -> None:
    der = certificate.public_bytes(Encoding.DER)
    root = etree.fromstring(certificate_list([der]))
    [entry] = root.iter("Certificate")
    assert entry.findtext("SerialNumber") == serial_hex(certificate)
    assert entry.findtext("SubjectDN/CN") == "Nguyễn Văn An"
    assert entry.findtext("IssuerDN/CN") == "Kyso Test CA"
    assert len(entry.findtext("TimeValidTo") or "") == len("2025/01/01 00:00:00")
    assert base64.b64decode(entry.findtext("CertificateBase64") or "") == der
    assert etree.fromstring(certificate_list([])).tag == "Certificates"


def test_filters_pass_what_the_page_asks_for(certificate: x509.Certificate) -> None:
    assert matches(certificate, CertFilter("SerialNumber", "1"))
    assert matches(certificate, CertFilter("SerialNumber", serial_hex(certificate).lower()))
    assert not matches(certificate, CertFilter("SerialNumber", "ABCDEF"))
    assert matches(certificate, CertFilter("SubjectCN", "văn an"))
    assert not matches(certificate, CertFilter("IssuerCN", "VNPT"))
