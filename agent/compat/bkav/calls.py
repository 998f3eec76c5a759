"""The arguments of each function the agent answers, parsed once into frozen calls.

Positions are those ``BkavCAPlugin.js`` writes (:mod:`agent.compat.bkav.protocol` for the
framing); an argument the page left out is empty, never an error by itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

from agent.compat.bkav.protocol import (
    Function,
    Message,
    bad_message,
    decode_base64,
    decode_text,
    serial_of,
)
from agent.compat.fields import is_png
from agent.errors import BadRequest
from agent.messages import Phrase
from agent.pdf.models import Appearance, Profile
from agent.protocol import MAX_IMAGE_BYTES, MAX_XML_BATCH

STAMP_SIZE: Final = (200.0, 80.0)
"""Width and height of a stamp placed at the page's offsets: the agent's personal stamp
(``agent/pdf/appearance.py``, not imported here: it loads the PDF stack)."""
LIST_SEPARATORS: Final = (";", ",", "|")
"""Between the documents of ``SignXMLDataList`` (none of them can occur in base64)."""


@dataclass(frozen=True)
class XmlTags:
    """Where an XML signature goes, in the plugin's words (:mod:`agent.compat.bkav.xmlplace`)."""

    signing: str = ""
    """``tagSigning``: the element to sign, by name ("" signs what the document's kind says)."""
    node: str = ""
    """``nodeToSign``: the element to sign, by Id or name."""
    save: str = ""
    """``tagSaveResult``: the element that receives the signature, by name or ``/a/b`` path."""


@dataclass(frozen=True)
class XmlCall:
    """``SignXMLBase64`` (0), its XPath variant (1) and ``SignXMLDataList`` (45)."""

    documents: tuple[bytes, ...]
    """One document, or the list's."""
    tags: XmlTags
    """Where the signature goes (the same for every document of a list)."""
    serial: str | None
    """``CertificateSerialNumber``."""
    separator: str = LIST_SEPARATORS[0]
    """What separated the list's documents (the reply uses it too)."""


@dataclass(frozen=True)
class PdfCall:
    """``SignPDFBase64`` (3): ``Base64String*SigningTime*CertificateSerialNumber*Signer``, and
    optionally ``*offsetX*offsetY*page*image`` (:func:`parse_pdf`)."""

    pdf: bytes
    serial: str | None
    appearance: Appearance


@dataclass(frozen=True)
class CmsCall:
    """``SignCMSBase64`` (38): ``Base64String*CertificateSerialNumber``."""

    data: bytes
    serial: str | None


@dataclass(frozen=True)
class CertFilter:
    """``GetAllCert`` (12) and ``GetCertListByFilter`` (13): ``Filter*Value``."""

    field: str = ""
    """``SerialNumber``, ``SubjectCN``, ``IssuerCN`` …; others are not filtered on."""
    value: str = ""
    """"" or ``"1"``: no filter."""


def parse_xml_call(message: Message) -> XmlCall:
    """``Base64String*tagSigning*nodeToSign*tagSaveResult*timeSign*serial*dsSignature``.

    ``timeSign`` and ``dsSignature`` are read and not used: the signing time is the agent's
    clock, and the signature's namespace prefix is the agent's."""
    message.need(1)
    tags = XmlTags(message.arg(1).strip(), message.arg(2).strip(), message.arg(3).strip())
    serial = serial_of(message.arg(5))
    if message.function is not Function.SIGN_XML_DATA_LIST:
        return XmlCall((decode_base64(message, 0, "Base64String"),), tags, serial)
    listed = message.arg(0).strip()
    separator = next((s for s in LIST_SEPARATORS if s in listed), LIST_SEPARATORS[0])
    parts = [p.strip() for p in listed.split(separator) if p.strip()]
    if not 1 <= len(parts) <= MAX_XML_BATCH:
        raise bad_message(Phrase.of("bkav_list_size", limit=MAX_XML_BATCH, count=len(parts)))
    documents = tuple(decode_text(part, f"Base64String[{i}]") for i, part in enumerate(parts))
    return XmlCall(documents, tags, serial, separator)


def parse_pdf(message: Message) -> PdfCall:
    """The PDF, the certificate, and where the stamp goes.

    The public library sends ``Base64String*SigningTime*CertificateSerialNumber*Signer``:
    the stamp then goes where the agent's ``personal`` profile puts it (the document's only
    empty signature field, else bottom right of the last page), naming the certificate's
    holder (not ``Signer``, which the page could set to anyone). BKAV's demo pages also set
    ``offsetX``, ``offsetY``, ``pagePositionOfDS`` and an image; when a page sends them after
    ``Signer`` (``*offsetX*offsetY*page*imagePNGBase64``) the stamp goes there, in PDF points
    from the page's bottom left corner, page 1 first (``-1`` the last page)."""
    message.need(1)
    pdf = decode_base64(message, 0, "Base64String")
    serial = serial_of(message.arg(2))
    x_text, y_text, page_text, image_text = (message.arg(i).strip() for i in (4, 5, 6, 7))
    rect = None
    if x_text or y_text:
        x, y = _offset(x_text or "0", "offsetX"), _offset(y_text or "0", "offsetY")
        width, height = STAMP_SIZE
        rect = (x, y, x + width, y + height)
    page = None
    if page_text and page_text.lower() not in ("none", "0"):
        try:
            page = int(page_text)
        except ValueError:
            raise bad_message(
                Phrase.of("bkav_number", field="pagePositionOfDS", value=page_text[:20])
            ) from None
    image = _image(message, 7) if image_text else None
    return PdfCall(pdf, serial, Appearance(Profile.PERSONAL, page=page, rect=rect, image=image))


def _offset(text: str, field: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise bad_message(Phrase.of("bkav_number", field=field, value=text[:20]))
    return value


def _image(message: Message, index: int) -> bytes:
    try:
        image = decode_base64(message, index, "image")
    except BadRequest:
        image = b""
    if not is_png(image) or len(image) > MAX_IMAGE_BYTES:
        raise bad_message(Phrase.of("bkav_image", limit=MAX_IMAGE_BYTES))
    return image


def parse_cms(message: Message) -> CmsCall:
    """The data to sign and the certificate."""
    message.need(1)
    return CmsCall(decode_base64(message, 0, "Base64String"), serial_of(message.arg(1)))


def parse_filter(message: Message) -> CertFilter:
    """``Filter*Value`` (and, for 13, ``*UsePKCS11*isOnlyCertFromToken``, not used)."""
    return CertFilter(message.arg(0).strip(), message.arg(1).strip())


def parse_hash_choice(message: Message) -> bool:
    """``SetHashAlgorithm``: ``True`` for SHA-1 (``0``), ``False`` for SHA-256 (``1``)."""
    value = message.arg(0).strip()
    if value not in ("0", "1"):
        raise bad_message(Phrase.of("bkav_hash_choice", value=value[:20]))
    return value == "0"
