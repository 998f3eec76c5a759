"""The plugin's option objects, read into the agent's own requests.

``PdfSigner`` (``page``, ``llx``/``lly``/``urx``/``ury``, ``ImageBase64``, ``SigType``,
``Description``, ``TsaUrl`` …) becomes a :class:`~agent.pdf.models.PdfSignOptions`;
``XmlSigner`` (``NodeToSign``, ``TagSigning``, ``ParrentTagSigning``, ``DigestMethod`` …) a
:class:`~agent.xml.models.PlacementSpec` and a digest; a ``signArrDataAdvanced`` item
(``{data, type, sigOptions}``) one :class:`Item`. Everything is checked here, before anyone
is asked: a refusal never follows the question.

What the plugin lets a page choose that Kyso Agent decides itself is read and not obeyed:
the signer's name and the signing time written in the stamp (the certificate and the clock say
them), colours, font size, which lines show. Each is listed in ``docs/compat/vnpt.md``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from lxml import etree

from agent.algorithms import HashAlgorithm
from agent.compat import fields
from agent.compat.vnpt.protocol import base64_data, options_arg
from agent.compat.xmltag import id_of_tag
from agent.errors import BadRequest
from agent.messages import Phrase
from agent.pdf.models import Appearance, PdfSignOptions, Profile, SignatureLevel
from agent.protocol import DIGEST_ALGORITHMS, document_name, refuse_secrets
from agent.xml import profiles
from agent.xml.models import EinvoiceRole, PlacementSpec, XmlDigest
from agent.xml.models import Profile as XmlProfile
from agent.xml.parse import parse_xml

MAX_TEXT: Final = 200
"""Longest ``Description`` (the stamp has room for a few lines)."""
MAX_NAME: Final = 255
"""Longest Id, tag name, serial or URL-less name a page may give."""
MAX_URL: Final = 2000
MAX_ITEMS: Final = 500
"""Most items of one ``signArrDataAdvanced`` call (as many as one XML batch holds)."""

# The plugin's PdfSigner() defaults: page 1, a 150 by 75 pt box at the bottom left.
_DEFAULT_BOX: Final = (0.0, 0.0, 150.0, 75.0)
_IMAGE_TYPES: Final = frozenset({2, 3})
"""``SigType`` values that show the image: 2 "mô tả + ảnh", 3 "chỉ ảnh"."""
_BY_SIZE: Final[Mapping[int, HashAlgorithm]] = {a.digest_size: a for a in DIGEST_ALGORITHMS}
_ROLES: Final[Mapping[str, EinvoiceRole]] = {
    "NBan": EinvoiceRole.SELLER,
    "DSCKS": EinvoiceRole.SELLER,
    "NMua": EinvoiceRole.BUYER,
    "CQT": EinvoiceRole.TAX_AUTHORITY,
    "CCKSKhac": EinvoiceRole.OTHER,
}
"""An e-invoice's ``ParrentTagSigning``: whose place under ``DSCKS`` the signature takes."""


# --- fields ----------------------------------------------------------------------------------


def _text(obj: Mapping[str, Any], key: str, limit: int = MAX_NAME) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > limit:
        raise BadRequest(Phrase.of("vnpt_field_text", field=key, limit=limit))
    return value


def _name(obj: Mapping[str, Any], key: str) -> str | None:
    """A single-line name (an Id, a tag, a serial): visible characters only."""
    value = _text(obj, key)
    return document_name(value, key) if value is not None else None


def _number(obj: Mapping[str, Any], key: str, default: float) -> float:
    found = fields.number(obj, key, bad="vnpt_field_number")
    return default if found is None else found


def _flag(obj: Mapping[str, Any], key: str, default: bool) -> bool:
    return fields.flag(obj, key, default=default, bad="vnpt_field_flag")


def _page(value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequest(Phrase.of("vnpt_pdf_page"))
    return value


def hash_algorithm(name: Any) -> HashAlgorithm | None:
    """``SHA256``, ``SHA-256``, ``sha256`` …; ``None`` when absent. SHA-1 is refused: a bare
    SHA-1 digest could be a collision prepared elsewhere (:data:`DIGEST_ALGORITHMS`)."""
    if name is None or name == "":
        return None
    key = fields.hash_name(name) if isinstance(name, str) else ""
    if key not in fields.DIGEST_NAMES:
        allowed = ", ".join(fields.DIGEST_NAMES)
        raise BadRequest(Phrase.of("vnpt_hash_algorithm", name=str(name)[:32], allowed=allowed))
    return fields.DIGEST_NAMES[key]


def digest_of_page(digest: bytes, algorithm: HashAlgorithm | None) -> HashAlgorithm:
    """The algorithm of a digest the page computed: the one it named, else the one its length
    says; the length must match."""
    if algorithm is None:
        if len(digest) not in _BY_SIZE:
            raise BadRequest(Phrase.of("vnpt_hash_length", size=len(digest)))
        return _BY_SIZE[len(digest)]
    if len(digest) != algorithm.digest_size:
        raise BadRequest(
            Phrase.of(
                "vnpt_hash_mismatch",
                size=len(digest),
                algorithm=algorithm.value,
                expected=algorithm.digest_size,
            )
        )
    return algorithm


# --- PdfSigner -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PdfChoice:
    """What a ``PdfSigner`` object asks for."""

    options: PdfSignOptions
    """Appearance, level and time-stamping authority."""
    serial: str | None = None
    """``CertificateSerial``: the certificate the page wants used."""


def pdf_choice(obj: Mapping[str, Any], *, multiple_pages: bool = False) -> PdfChoice:
    """The signature a ``PdfSigner`` describes.

    Without one (``signPdf(data, callback)``) the signature is invisible: no place on the page
    is known, and an invisible signature never covers content. With one, the stamp is the
    ``personal`` profile in the box ``llx, lly, urx, ury`` (PDF points from the page's
    bottom-left corner, as the plugin's iText-style rectangle) on ``page``; the image when
    ``SigType`` shows one (2, 3), else "Ký bởi" and the time, ``Description`` replacing the
    first line. ``SigVisible: false`` makes it invisible.
    """
    if _text(obj, "TsaUsername") or _text(obj, "TsaPassword"):
        raise BadRequest(Phrase.of("vnpt_tsa_credentials"))
    if _flag(obj, "IsEncyptFile", default=False):
        raise BadRequest(Phrase.of("vnpt_encrypt"))
    tsa = _text(obj, "TsaUrl", MAX_URL)
    if tsa is not None and not tsa.lower().startswith(("http://", "https://")):
        raise BadRequest(Phrase.of("bad_tsa_url"))
    level = SignatureLevel.B_T if tsa else SignatureLevel.B_B
    serial = _name(obj, "CertificateSerial")
    if not obj or not _flag(obj, "SigVisible", default=True):
        return PdfChoice(PdfSignOptions(level=level, tsa_url=tsa), serial)
    page = _pages(obj) if multiple_pages else _page(obj.get("page", 1) or 1)
    box = tuple(
        _number(obj, key, default)
        for key, default in zip(("llx", "lly", "urx", "ury"), _DEFAULT_BOX, strict=True)
    )
    x1, y1, x2, y2 = box
    if not (x1 < x2 and y1 < y2):
        raise BadRequest(Phrase.of("vnpt_pdf_rect"))
    kind = int(_number(obj, "SigType", 0))
    image_text = _text(obj, "ImageBase64", 4 * 1024 * 1024)
    image = base64_data(image_text, "ImageBase64") if image_text and kind in _IMAGE_TYPES else None
    appearance = Appearance(
        profile=Profile.PERSONAL,
        page=page,
        rect=(x1, y1, x2, y2),
        image=image,
        text=_description(obj) if kind != 3 else None,
    )
    return PdfChoice(PdfSignOptions(level=level, tsa_url=tsa, appearance=appearance), serial)


def _description(obj: Mapping[str, Any]) -> str | None:
    value = _text(obj, "Description", MAX_TEXT)
    if value is None:
        return None
    lines = [document_name(line, "Description") or "" for line in value.splitlines()]
    return "\n".join(lines).strip() or None


def _pages(obj: Mapping[str, Any]) -> int:
    """``SignPDFMultiplePages``: ``PagesArray`` (a list, or ``"1,3"``), else ``page``. The
    agent draws one stamp per signature, so it takes one page only."""
    raw = obj.get("PagesArray")
    if isinstance(raw, str):
        raw = [part for part in raw.replace(";", ",").split(",") if part.strip()]
    if not raw:
        return _page(obj.get("page", 1) or 1)
    if not isinstance(raw, list):
        raise BadRequest(Phrase.of("vnpt_pdf_page"))
    pages = sorted({_page(p.strip() if isinstance(p, str) else p) for p in raw})
    if len(pages) > 1:
        shown = ", ".join(map(str, pages[:10]))
        raise BadRequest(Phrase.of("vnpt_pdf_pages", count=len(pages), pages=shown))
    return pages[0]


# --- XmlSigner -------------------------------------------------------------------------------


@dataclass(frozen=True)
class XmlChoice:
    """What an ``XmlSigner`` object asks for."""

    node_id: str | None = None
    """``NodeToSign``: the Id of the element to sign."""
    tag: str | None = None
    """``TagSigning``: the name of the element to sign (it must carry an Id)."""
    parent: str | None = None
    """``ParrentTagSigning`` (or ``TagSaveResult``): the element the signature goes into."""
    digest: XmlDigest = XmlDigest.SHA256
    """``DigestMethod``: SHA-256, or SHA-1 only when the page asks for it."""
    serial: str | None = None
    """``CertificateSerial``."""


def xml_choice(obj: Mapping[str, Any]) -> XmlChoice:
    """Read an ``XmlSigner``. Only enveloped signatures are made; ``NameXPathFilter`` (XPath
    Filter 2.0) is refused rather than ignored, since it says what the signature covers."""
    kind = _text(obj, "SigningType")
    if kind is not None and kind.strip().lower() != "enveloped":
        raise BadRequest(Phrase.of("vnpt_xml_signing_type", kind=kind[:32]))
    if _text(obj, "NameXPathFilter"):
        raise BadRequest(Phrase.of("vnpt_xml_xpath_filter"))
    node = _name(obj, "NodeToSign")
    return XmlChoice(
        node_id=node.removeprefix("#") if node else None,
        tag=_name(obj, "TagSigning"),
        parent=_name(obj, "ParrentTagSigning") or _name(obj, "TagSaveResult"),
        digest=_xml_digest(obj),
        serial=_name(obj, "CertificateSerial"),
    )


def _xml_digest(obj: Mapping[str, Any]) -> XmlDigest:
    """``DigestMethod``; without it, the hash of ``SignatureMethod`` (``RSAwithSHA1``); without
    either, SHA-256."""
    digest = _text(obj, "DigestMethod", 32)
    if digest is not None:
        return XmlDigest.parse(digest)
    method = (_text(obj, "SignatureMethod", 64) or "").upper()
    return XmlDigest.SHA1 if method.endswith("SHA1") else XmlDigest.SHA256


async def placement(xml: bytes, choice: XmlChoice) -> PlacementSpec:
    """Where the signature goes, read from the document (on a worker thread).

    ``NodeToSign`` or ``TagSigning`` name the signed element, signed by its Id into
    ``ParrentTagSigning`` or, as the plugin does, into the document's root element. Without
    them the document's kind decides (an e-invoice as its seller, or as the party
    ``ParrentTagSigning`` names: ``NMua`` the buyer …; a tax filing; else the root by its Id).
    """
    return await asyncio.to_thread(_placement, xml, choice)


def _placement(xml: bytes, choice: XmlChoice) -> PlacementSpec:
    tree = parse_xml(xml)
    root = tree.getroot()
    sign_id = choice.node_id or (id_of_tag(root, choice.tag) if choice.tag else None)
    if sign_id is not None:
        parent = _xpath(choice.parent) if choice.parent else f"/{etree.QName(root).localname}"
        return PlacementSpec(XmlProfile.ENVELOPED, sign_id=sign_id, parent_xpath=parent)
    inferred = profiles.infer_spec(tree)
    if choice.parent is None:
        return inferred
    if inferred.profile is XmlProfile.EINVOICE:
        last = choice.parent.rstrip("/").rsplit("/", 1)[-1]
        return PlacementSpec(XmlProfile.EINVOICE, role=_ROLES.get(last, EinvoiceRole.SELLER))
    if inferred.profile is XmlProfile.ENVELOPED:
        return PlacementSpec(
            XmlProfile.ENVELOPED, sign_id=inferred.sign_id, parent_xpath=_xpath(choice.parent)
        )
    return inferred  # a tax filing's signature has one place, which its schema fixes


def _xpath(parent: str) -> str:
    """A tag name (``Signatures``) or a path (``DSCKS/NBan``) as the agent's simple path."""
    return parent if parent.startswith("/") else f"//{parent}"


def xml_data(value: str, name: str) -> bytes:
    """An XML document as pages send it: its text, or base64 of it."""
    if value.lstrip().startswith("<"):
        return value.encode("utf-8")
    return base64_data(value, name)


# --- signArrDataAdvanced items ---------------------------------------------------------------


class ItemKind(StrEnum):
    """What an item's ``type`` asks for."""

    PDF = "pdf"
    """A PDF, signed (PAdES) with its ``sigOptions`` (a ``PdfSigner``)."""
    XML = "xml"
    """An XML document, signed with its ``sigOptions`` (an ``XmlSigner``)."""
    HASH = "hash"
    """A digest the page computed: a detached CMS over it."""
    CMS = "cms"
    """Data (a ``txt`` file, a challenge): a CMS with the data inside."""
    CMS_DETACHED = "cmsdetached"
    """Data: a detached CMS (the page keeps the data)."""


_KINDS: Final[Mapping[str, ItemKind]] = {
    "pdf": ItemKind.PDF,
    "xml": ItemKind.XML,
    "hash": ItemKind.HASH,
    "cms": ItemKind.CMS,
    "txt": ItemKind.CMS,
    "cmsdetached": ItemKind.CMS_DETACHED,
}
_OFFICE: Final = frozenset({"docx", "xlsx", "pptx", "doc", "xls", "ppt", "office"})
"""Word, Excel and PowerPoint types: not offered (``compat_office_unsupported``)."""


@dataclass(frozen=True)
class Item:
    """One item of ``signArrDataAdvanced``, decoded and checked."""

    kind: ItemKind
    """What to make."""
    type: str
    """``type`` as sent, echoed in the item's result."""
    data: bytes
    """The document, data or digest."""
    options: Mapping[str, Any]
    """``sigOptions``, decoded (empty when the page sent none)."""
    hash: HashAlgorithm = HashAlgorithm.SHA256
    """The digest's algorithm (``hash``), or the one the data is hashed with (``cms``)."""


Parsed = Item | BadRequest
"""An item, or why it cannot be signed."""


def items(value: str) -> tuple[Parsed, ...]:
    """``args[0]`` of ``signArrDataAdvanced``: ``JSON.stringify`` of an array whose entries are
    ``JSON.stringify({data, type, sigOptions})``.

    :raises BadRequest: the array itself cannot be read. A bad entry is returned in its place,
        so that the answer can say which one.
    """
    try:
        entries = _json(value)
    except ValueError:
        entries = None
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_ITEMS:
        raise BadRequest(Phrase.of("vnpt_items", limit=MAX_ITEMS))
    parsed: list[Parsed] = []
    for index, entry in enumerate(entries):
        try:
            parsed.append(item(entry))
        except BadRequest as exc:
            reason: Phrase | str = exc.phrase or exc.detail
            parsed.append(BadRequest(Phrase.of("vnpt_item", index=index, reason=reason)))
    return tuple(parsed)


def item(entry: Any) -> Item:
    """One entry: an object, or the JSON text of one."""
    if isinstance(entry, str):
        try:
            entry = _json(entry)
        except ValueError:
            entry = None
    if not isinstance(entry, dict):
        raise BadRequest(Phrase.of("vnpt_item_shape"))
    # An entry is JSON text inside the envelope's JSON: the envelope's check never saw it.
    refuse_secrets(entry)
    sent = _text(entry, "type", 32) or ""
    if sent.strip().lower() in _OFFICE:
        raise BadRequest(Phrase.of("compat_office_unsupported"))
    kind = _KINDS.get(sent.strip().lower())
    if kind is None:
        allowed = ", ".join(_KINDS)
        raise BadRequest(Phrase.of("vnpt_item_type", kind=sent, allowed=allowed))
    options = options_arg(entry.get("sigOptions"), "sigOptions")
    raw = entry.get("data")
    if not isinstance(raw, str) or not raw:
        raise BadRequest(Phrase.of("vnpt_base64", name="data"))
    data = xml_data(raw, "data") if kind is ItemKind.XML else base64_data(raw, "data")
    named = hash_algorithm(options.get("DigestAlgorithm") or options.get("HashAlgorithm"))
    if kind is ItemKind.HASH:
        return Item(kind, sent, data, options, digest_of_page(data, named))
    return Item(kind, sent, data, options, named or HashAlgorithm.SHA256)


def _json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except RecursionError:
        raise ValueError("too deep") from None
