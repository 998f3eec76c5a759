"""API v1 requests and responses: parsed once here, typed everywhere after.

Every ``parse_*`` function takes the decoded JSON value of a request body and
returns a frozen dataclass or raises :class:`~agent.errors.BadRequest` with a
message that tells the caller which field is wrong. Binary values are standard
base64 (RFC 4648 section 4, with padding).
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import math
import re
import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from agent.algorithms import HashAlgorithm, KeyType, RsaScheme
from agent.errors import AgentError, BadRequest
from agent.messages import Lang, Phrase
from agent.pdf.models import Appearance, PdfSignOptions, Profile, SignatureLevel
from agent.spool import SpooledFile, size_of
from agent.xml.models import EinvoiceRole, PlacementSpec, XmlDigest
from agent.xml.models import Profile as XmlProfile

if TYPE_CHECKING:
    from pathlib import Path

    # The verification reports are made, and put into words, by the first verify request.
    from agent.pdf.verify.model import VerificationReport
    from agent.xml.verify.model import XmlVerificationReport

API_VERSION: Final = 1
MAX_BATCH_ITEMS: Final = 1000
MAX_DOCUMENT_NAME: Final = 255

_INVISIBLE: Final = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"})
"""Control, format (bidi overrides and isolates, zero-width marks), unassigned and separator
characters (the ordinary space U+0020 alone is allowed)."""
BLANK_CODEPOINTS: Final = frozenset(
    {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x2800, 0x3164, 0xFFA0, 0x1D159}
    | set(range(0x180B, 0x1810))
    | set(range(0xFE00, 0xFE10))
    | set(range(0xE0100, 0xE01F0))
)
"""Letters, symbols and marks that render as nothing: the combining grapheme joiner, the Hangul
and Braille fillers, Khmer inherent vowels, variation selectors. A name made of them looks
empty, and with them a name can pad itself to fake another line of the dialog."""
MAX_MARKS: Final = 3
"""Combining marks on one letter: Vietnamese needs two (ệ = e + U+0323 + U+0302 when
decomposed); more only stack into marks drawn over the lines around them."""
_SECRET_WORDS: Final = frozenset({"password", "passcode", "passphrase", "secret"})
#: Parts of a field name that say it holds a password, whatever comes around them
#: (``userPassword``, ``tokenPasswd``, ``pwd``, Vietnamese ``matKhau``).
_SECRET_PARTS: Final = ("password", "passwd", "passcode", "passphrase", "pwd", "matkhau")


@dataclass(frozen=True)
class DigestToSign:
    """One precomputed digest and what it belongs to."""

    digest: bytes
    """The hash value; its length matches ``algorithm``."""
    algorithm: HashAlgorithm
    """The hash algorithm that produced ``digest``."""
    document_name: str | None = None
    """What the user is shown; ``None`` when the portal gave no name."""


@dataclass(frozen=True)
class CertificatesRequest:
    """``POST /v1/certificates``: the user picks a certificate. No fields."""


@dataclass(frozen=True)
class SignRequest:
    """``POST /v1/sign``."""

    item: DigestToSign
    """The digest to sign."""
    certificate: bytes | None = None
    """DER certificate to sign with; ``None`` lets the user choose."""
    scheme: RsaScheme | None = None
    """RSA padding; ``None`` means PKCS#1 v1.5. Refused for EC keys."""


@dataclass(frozen=True)
class BatchSignRequest:
    """``POST /v1/sign/batch``: one consent, one login, many digests."""

    items: tuple[DigestToSign, ...]
    """1 to 1000 digests, signed in this order."""
    certificate: bytes | None = None
    """DER certificate to sign with; ``None`` lets the user choose."""
    scheme: RsaScheme | None = None
    """RSA padding for every item."""


@dataclass(frozen=True)
class TokenRef:
    """Which token a certificate lives on, as shown to the caller."""

    label: str
    """Token label."""
    serial: str
    """Token serial number."""


@dataclass(frozen=True)
class CertificateResponse:
    """Answer to ``POST /v1/certificates``."""

    certificate: bytes
    chain: tuple[bytes, ...]
    key_type: KeyType
    token: TokenRef

    def to_wire(self) -> dict[str, Any]:
        """JSON body."""
        return {
            "certificate": b64encode(self.certificate),
            "chain": [b64encode(c) for c in self.chain],
            "keyType": self.key_type.value,
            "token": {"label": self.token.label, "serial": self.token.serial},
        }


@dataclass(frozen=True)
class SignResponse:
    """Answer to ``POST /v1/sign``."""

    signature: bytes
    signature_algorithm: str
    certificate: bytes

    def to_wire(self) -> dict[str, Any]:
        """JSON body."""
        return {
            "signature": b64encode(self.signature),
            "signatureAlgorithm": self.signature_algorithm,
            "certificate": b64encode(self.certificate),
        }


@dataclass(frozen=True)
class BatchSignResponse:
    """Answer to ``POST /v1/sign/batch``."""

    signatures: tuple[bytes, ...]
    signature_algorithms: tuple[str, ...]
    """One per signature: items may use different hash algorithms."""
    certificate: bytes

    def to_wire(self) -> dict[str, Any]:
        """JSON body; ``signatureAlgorithm`` appears when every item shares one."""
        wire: dict[str, Any] = {
            "signatures": [b64encode(s) for s in self.signatures],
            "signatureAlgorithms": list(self.signature_algorithms),
            "certificate": b64encode(self.certificate),
        }
        if len(set(self.signature_algorithms)) == 1:
            wire["signatureAlgorithm"] = self.signature_algorithms[0]
        return wire


def b64encode(data: bytes) -> str:
    """Standard base64 text."""
    return base64.b64encode(data).decode("ascii")


def b64decode(value: Any, field: str) -> bytes:
    """Decode a required, non-empty standard base64 string."""
    if not isinstance(value, str) or not value:
        raise BadRequest(Phrase.of("bad_base64_missing", field=field))
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(Phrase.of("bad_base64", field=field)) from exc


def decode_json_object(body: bytes) -> dict[str, Any]:
    """Decode a request body that must be one JSON object."""
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        # ValueError also covers integers longer than Python converts (4300 digits).
        raise BadRequest(Phrase.of("bad_json")) from exc
    except RecursionError as exc:
        raise BadRequest(Phrase.of("bad_json_depth")) from exc
    if not isinstance(value, dict):
        raise BadRequest(Phrase.of("bad_json_not_object"))
    return value


@functools.lru_cache(maxsize=256)
def _looks_secret(key: str) -> bool:
    """Whether a field name looks like it carries a PIN or password."""
    word = re.sub(r"[^a-z0-9]", "", key.lower())
    return (
        word.startswith("pin")
        or word.endswith("pin")
        or word in _SECRET_WORDS
        or any(part in word for part in _SECRET_PARTS)
    )


def _refuse_secrets(value: Any, path: str = "", *, empty_ok: bool = False) -> None:
    """A PIN never travels over the API: refuse any field that looks like one (``empty_ok``:
    unless it is empty, as a vendor library's defaults leave such fields)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            if (
                isinstance(key, str)
                and _looks_secret(key)
                and not (empty_ok and inner in (None, ""))
            ):
                raise BadRequest(Phrase.of("bad_pin_field", field=f"{path}{key}"))
            # Only containers hold field names; a batch has thousands of plain values.
            if isinstance(inner, dict | list):
                _refuse_secrets(inner, f"{path}{key}.", empty_ok=empty_ok)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            if isinstance(inner, dict | list):
                _refuse_secrets(inner, f"{path}{index}.", empty_ok=empty_ok)


def refuse_secrets(value: Any) -> None:
    """Refuse (:class:`BadRequest`) any field, at any depth, that looks like a PIN or password
    and carries one: for the other wire protocols (``agent.compat``), whose field names are not
    ours and whose libraries send some such fields empty (VNPT's ``TsaPassword: ""``)."""
    _refuse_secrets(value, empty_ok=True)


def document_name(value: Any, field: str) -> str | None:
    """A name shown to the user: a string of at most 255 characters without control or
    invisible formatting characters; ``None`` when absent or blank."""
    return _document_name(value, field)


def _check_fields(
    obj: Mapping[str, Any],
    required: frozenset[str],
    optional: frozenset[str],
    where: str,
    *,
    checked_apart: str = "",
) -> None:
    """Known fields only, the required ones present, nothing that looks like a PIN.

    ``checked_apart`` names a field whose elements the caller checks one by one (a batch's
    items), so they are not walked twice.
    """
    keys = obj.keys()
    unknown = keys - required - optional
    if unknown:
        _refuse_secrets(obj, where)  # a PIN-like name gets the PIN message, not "unknown"
        names = ", ".join(f"{where}{k}" for k in sorted(unknown))
        raise BadRequest(Phrase.of("bad_unknown_fields", fields=names, count=len(unknown)))
    missing = required - keys
    if missing:
        names = ", ".join(f"{where}{k}" for k in sorted(missing))
        raise BadRequest(Phrase.of("bad_missing_fields", fields=names, count=len(missing)))
    # The names are all ours (none looks like a PIN: tests/unit/test_protocol.py); what they
    # hold may nest other names.
    for key, inner in obj.items():
        if key != checked_apart and isinstance(inner, dict | list):
            _refuse_secrets(inner, f"{where}{key}.")


def _document_name(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadRequest(Phrase.of("bad_not_string", field=field))
    if len(value) > MAX_DOCUMENT_NAME:
        raise BadRequest(Phrase.of("bad_too_long", field=field, limit=MAX_DOCUMENT_NAME))
    _refuse_hidden(value, field)
    return value.strip() or None


def _refuse_hidden(value: str, field: str) -> None:
    """Refuse text that could make the dialog show something other than what it is: every
    character but the plain space must be visible (:data:`_INVISIBLE`,
    :data:`BLANK_CODEPOINTS`), and no letter may carry more than :data:`MAX_MARKS` marks."""
    marks = 0
    for char in value:
        category = unicodedata.category(char)
        if (category in _INVISIBLE and char != " ") or ord(char) in BLANK_CODEPOINTS:
            raise BadRequest(
                Phrase.of("bad_hidden_character", field=field, code=f"{ord(char):04X}")
            )
        marks = marks + 1 if category.startswith("M") else 0
        if marks > MAX_MARKS:
            raise BadRequest(Phrase.of("bad_stacked_marks", field=field, limit=MAX_MARKS))


DIGEST_ALGORITHMS: Final = (HashAlgorithm.SHA256, HashAlgorithm.SHA384, HashAlgorithm.SHA512)
"""What a caller's precomputed digest may be (``/v1/sign``, ``/v1/sign/batch``,
``/v1/cms/sign``). Not SHA-1, which the token layer signs only for an XML signature whose
caller asked for it: a bare SHA-1 digest could be a collision prepared elsewhere."""
_HASH_ALGORITHMS: Final = {a.value: a for a in DIGEST_ALGORITHMS}
_DIGEST_SIZES: Final = {a: a.digest_size for a in DIGEST_ALGORITHMS}


def _digest_item(
    obj: Mapping[str, Any],
    where: str,
    *,
    digest: str = "hash",
    algorithm: str = "hashAlgorithm",
) -> DigestToSign:
    """A digest and its algorithm; ``digest`` and ``algorithm`` name the fields, so that
    messages speak of the fields the caller actually sent."""
    name = obj[algorithm]
    # A dict, not HashAlgorithm(name): a batch looks a thousand of them up.
    hash_algorithm = _HASH_ALGORITHMS.get(name) if isinstance(name, str) else None
    if hash_algorithm is None:
        allowed = ", ".join(a.value for a in DIGEST_ALGORITHMS)
        raise BadRequest(
            Phrase.of("bad_hash_algorithm", field=f"{where}{algorithm}", allowed=allowed)
        )
    value = b64decode(obj[digest], f"{where}{digest}")
    if len(value) != _DIGEST_SIZES[hash_algorithm]:
        raise BadRequest(
            Phrase.of(
                "bad_digest_length",
                field=f"{where}{digest}",
                size=len(value),
                algorithm=hash_algorithm.value,
                expected=hash_algorithm.digest_size,
            )
        )
    return DigestToSign(
        value, hash_algorithm, _document_name(obj.get("documentName"), f"{where}documentName")
    )


def _certificate(obj: Mapping[str, Any]) -> bytes | None:
    """The DER certificate a request names, checked to be one: bytes that are no certificate
    are the caller's mistake (400), not a certificate missing from the token (404)."""
    if obj.get("certificate") is None:
        return None
    der = b64decode(obj["certificate"], "certificate")
    # Imported by the first request naming a certificate: this module loads with the server,
    # which starts without cryptography (docs/performance.md).
    from cryptography import x509

    try:
        x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise BadRequest(Phrase.of("bad_certificate", field="certificate")) from exc
    return der


def _scheme(obj: Mapping[str, Any]) -> RsaScheme | None:
    if obj.get("scheme") is None:
        return None
    try:
        return RsaScheme(obj["scheme"])
    except (ValueError, TypeError) as exc:
        raise BadRequest(Phrase.of("bad_scheme")) from exc


_ITEM_FIELDS: Final = frozenset({"hash", "hashAlgorithm"}), frozenset({"documentName"})


def parse_certificates_request(obj: dict[str, Any]) -> CertificatesRequest:
    """Parse ``POST /v1/certificates``."""
    _check_fields(obj, frozenset(), frozenset(), "")
    return CertificatesRequest()


def parse_sign_request(obj: dict[str, Any]) -> SignRequest:
    """Parse ``POST /v1/sign``."""
    _check_fields(
        obj,
        _ITEM_FIELDS[0],
        _ITEM_FIELDS[1] | {"certificate", "scheme"},
        "",
    )
    return SignRequest(_digest_item(obj, ""), _certificate(obj), _scheme(obj))


def parse_batch_sign_request(obj: dict[str, Any]) -> BatchSignRequest:
    """Parse ``POST /v1/sign/batch``."""
    _check_fields(
        obj, frozenset({"items"}), frozenset({"certificate", "scheme"}), "", checked_apart="items"
    )
    raw_items = obj["items"]
    if not isinstance(raw_items, list) or not 1 <= len(raw_items) <= MAX_BATCH_ITEMS:
        raise BadRequest(Phrase.of("bad_items", limit=MAX_BATCH_ITEMS))
    items = []
    for index, raw in enumerate(raw_items):
        item = _plain_digest_item(raw)
        if item is None:  # anything unusual takes the careful path, with its exact message
            where = f"items.{index}."
            if not isinstance(raw, dict):
                raise BadRequest(Phrase.of("bad_not_object", field=where[:-1]))
            _check_fields(raw, *_ITEM_FIELDS, where)
            item = _digest_item(raw, where)
        items.append(item)
    return BatchSignRequest(tuple(items), _certificate(obj), _scheme(obj))


_PLAIN_ITEM_KEYS: Final = frozenset({"hash", "hashAlgorithm"})


def _plain_digest_item(raw: Any) -> DigestToSign | None:
    """A batch item of the usual shape (hash and algorithm, no name), or ``None``.

    A batch has a thousand of these: the careful path costs more than signing one on a
    fast token. ``None`` for anything else, which :func:`_digest_item` then refuses or
    accepts with the same rules.
    """
    if type(raw) is not dict or raw.keys() != _PLAIN_ITEM_KEYS:
        return None
    name, text = raw["hashAlgorithm"], raw["hash"]
    if type(name) is not str or type(text) is not str or not text:
        return None
    algorithm = _HASH_ALGORITHMS.get(name)
    if algorithm is None:
        return None
    try:
        digest = binascii.a2b_base64(text, strict_mode=True)
    except (binascii.Error, ValueError):
        return None
    if len(digest) != _DIGEST_SIZES[algorithm]:
        return None
    return DigestToSign(digest, algorithm)


# --- PDF and CMS -----------------------------------------------------------------------------

_PROFILE_FIELDS: Final = frozenset({"profile", "page", "rect", "anchor", "image", "text", "field"})
MAX_IMAGE_BYTES: Final = 2 * 1024 * 1024
MAX_TEXT: Final = 200


@dataclass(frozen=True)
class PdfSignRequest:
    """``POST /v1/pdf/sign``."""

    pdf: bytes | SpooledFile
    """The document: bytes (base64 in JSON, a plugin layer's), or an upload already written to
    the spool (a form's file, a raw ``application/pdf`` body), which the caller removes."""
    options: PdfSignOptions
    """Level, reason, location, TSA, appearance."""
    document_name: str | None = None
    """What the user is shown."""
    certificate: bytes | None = None
    """DER certificate to sign with; ``None`` lets the user choose."""


@dataclass(frozen=True)
class CmsSignRequest:
    """``POST /v1/cms/sign``: a CMS signature over a document digest the portal computed."""

    item: DigestToSign
    """The document digest."""
    certificate: bytes | None = None
    """DER certificate to sign with; ``None`` lets the user choose."""
    tsa_url: str | None = None
    """Add a signature timestamp from this TSA."""


@dataclass(frozen=True)
class PdfVerifyRequest:
    """``POST /v1/pdf/verify``."""

    pdf: bytes | SpooledFile | Path
    """The document: bytes (a plugin layer's), an upload written to the spool (JSON's base64
    decoded, a form's file, a raw ``application/pdf`` body), which the caller removes, or a file
    of this computer (the tray's "Verify a PDF"), which stays."""


@dataclass(frozen=True)
class PdfSignResponse:
    """Answer to ``POST /v1/pdf/sign``."""

    pdf: bytes | SpooledFile
    """The signed document, in the form the request's came in: a spooled upload is answered
    with a new spooled file beside it, which the caller sends and removes."""
    certificate: bytes

    def to_wire(self) -> dict[str, Any]:
        """JSON body."""
        return {"pdf": b64encode(self.signed_bytes()), "certificate": b64encode(self.certificate)}

    def signed_bytes(self) -> bytes:
        """The signed document as bytes (read from the spool if it is there)."""
        return self.pdf.read_bytes() if isinstance(self.pdf, SpooledFile) else self.pdf

    def to_json_bytes(self) -> bytes:
        """:meth:`to_wire` as JSON, assembled around the base64 rather than dumped.

        Base64 needs no JSON escaping; ``json.dumps`` over tens of megabytes of it would
        only copy and scan them again (about 90 ms for a 20 MB PDF).
        """
        return b"".join(
            (
                b'{"pdf": "',
                base64.b64encode(self.signed_bytes()),
                b'", "certificate": "',
                base64.b64encode(self.certificate),
                b'"}',
            )
        )


@dataclass(frozen=True)
class CmsSignResponse:
    """Answer to ``POST /v1/cms/sign``."""

    cms: bytes
    certificate: bytes

    def to_wire(self) -> dict[str, Any]:
        """JSON body."""
        return {"cms": b64encode(self.cms), "certificate": b64encode(self.certificate)}


@dataclass(frozen=True)
class PdfVerifyResponse:
    """Answer to ``POST /v1/pdf/verify``: every signature, and the report for people."""

    report: VerificationReport
    """What was found about each signature."""
    text: str
    """The report in the request's language (:func:`~agent.pdf.verify.report_to_text`)."""

    def to_wire(self) -> dict[str, Any]:
        """JSON body: the report's wire form (``allValid``, ``signatures``) and ``text``."""
        from agent.pdf.verify.render import report_to_json

        return {**report_to_json(self.report), "text": self.text}


def _short_text(obj: Mapping[str, Any], key: str, limit: int = MAX_TEXT) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise BadRequest(Phrase.of("bad_short_text", field=key, limit=limit))
    for line in value.split("\n"):
        _refuse_hidden(line, key)
    return value


def _tsa_url(obj: Mapping[str, Any]) -> str | None:
    url = _short_text(obj, "tsaUrl", 2000)
    if url is not None and not url.lower().startswith(("http://", "https://")):
        raise BadRequest(Phrase.of("bad_tsa_url"))
    return url


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(Phrase.of("bad_not_number", field=field))
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise BadRequest(Phrase.of("bad_not_finite", field=field))
    return number


def parse_appearance(value: Any) -> Appearance:
    """Parse the ``appearance`` object of a PDF signing request."""
    if value is None:
        return Appearance()
    if not isinstance(value, dict):
        raise BadRequest(Phrase.of("bad_not_object", field="appearance"))
    _check_fields(value, frozenset({"profile"}), _PROFILE_FIELDS - {"profile"}, "appearance.")
    try:
        profile = Profile(value["profile"])
    except (ValueError, TypeError) as exc:
        allowed = ", ".join(p.value for p in Profile)
        raise BadRequest(Phrase.of("bad_profile", allowed=allowed)) from exc
    page = value.get("page")
    if page is not None and (isinstance(page, bool) or not isinstance(page, int) or page == 0):
        raise BadRequest(Phrase.of("bad_page"))
    rect = value.get("rect")
    if rect is not None:
        if not isinstance(rect, list) or len(rect) != 4:
            raise BadRequest(Phrase.of("bad_rect_shape"))
        x1, y1, x2, y2 = (_number(v, "appearance.rect") for v in rect)
        if not (x1 < x2 and y1 < y2):
            raise BadRequest(Phrase.of("bad_rect_order"))
        rect = (x1, y1, x2, y2)
    image = None
    if value.get("image") is not None:
        image = b64decode(value["image"], "appearance.image")
        if len(image) > MAX_IMAGE_BYTES:
            raise BadRequest(Phrase.of("bad_image_size", limit=MAX_IMAGE_BYTES))
        if not image.startswith(b"\x89PNG\r\n\x1a\n"):
            raise BadRequest(Phrase.of("bad_image_png"))
    anchor = _short_text(value, "anchor")
    field = _short_text(value, "field")
    if field is not None and (not field.strip() or "\n" in field):
        raise BadRequest(Phrase.of("place_field_blank"))
    return Appearance(
        profile=profile,
        page=page,
        rect=rect,
        anchor=anchor,
        image=image,
        text=_short_text(value, "text"),
        field=field,
    )


def parse_pdf_options(obj: Mapping[str, Any], default_tsa: str | None = None) -> PdfSignOptions:
    """The signing options shared by the JSON and multipart forms of ``/v1/pdf/sign``."""
    level_text = obj.get("level")
    try:
        level = SignatureLevel.B_B if level_text is None else SignatureLevel(level_text)
    except (ValueError, TypeError) as exc:
        raise BadRequest(Phrase.of("bad_level")) from exc
    tsa_url = _tsa_url(obj) or default_tsa
    if level is not SignatureLevel.B_B and tsa_url is None:
        raise BadRequest(Phrase.of("bad_level_needs_tsa", level=level.value))
    return PdfSignOptions(
        level=level,
        reason=_short_text(obj, "reason"),
        location=_short_text(obj, "location"),
        tsa_url=tsa_url,
        appearance=parse_appearance(obj.get("appearance")),
    )


_PDF_OPTION_FIELDS: Final = frozenset(
    {"documentName", "certificate", "level", "reason", "location", "tsaUrl", "appearance"}
)


def check_pdf_sign_options(obj: dict[str, Any], default_tsa: str | None = None) -> None:
    """What :func:`parse_pdf_sign_request` refuses in the options of a form or a raw body,
    checked before the document is read: a page's mistake costs no upload to the disk."""
    _check_fields(obj, frozenset(), _PDF_OPTION_FIELDS, "options.")
    parse_pdf_options(obj, default_tsa)
    _document_name(obj.get("documentName"), "documentName")
    _certificate(obj)


def parse_pdf_sign_request(
    obj: dict[str, Any],
    pdf: bytes | SpooledFile | None = None,
    default_tsa: str | None = None,
) -> PdfSignRequest:
    """Parse ``POST /v1/pdf/sign``: JSON with ``pdf``, or the options of a form or a raw body
    (their ``options``) with the document beside them."""
    if pdf is None:
        _check_fields(obj, frozenset({"pdf"}), _PDF_OPTION_FIELDS, "")
        pdf = b64decode(obj["pdf"], "pdf")
    else:
        _check_fields(obj, frozenset(), _PDF_OPTION_FIELDS, "options.")
    if size_of(pdf) == 0:
        raise BadRequest(Phrase.of("bad_pdf_empty"))
    return PdfSignRequest(
        pdf=pdf,
        options=parse_pdf_options(obj, default_tsa),
        document_name=_document_name(obj.get("documentName"), "documentName"),
        certificate=_certificate(obj),
    )


MAX_PDF_BATCH: Final = 50
"""Most PDFs in one ``POST /v1/pdf/sign/batch`` (together at most ``max_pdf_bytes``)."""
_PDF_BATCH_SHARED: Final = frozenset(
    {"certificate", "level", "reason", "location", "tsaUrl", "appearance"}
)
_PDF_BATCH_OWN: Final = frozenset({"reason", "location", "appearance"})
"""Options a document of a batch may set for itself (the stamp's place differs per document)."""


@dataclass(frozen=True)
class PdfBatchSignRequest:
    """``POST /v1/pdf/sign/batch``: many PDFs, one question, one login."""

    documents: tuple[PdfSignRequest, ...]
    """Each document with its own options (the batch's, or its own where it gives them)."""
    certificate: bytes | None = None
    """DER certificate to sign with; ``None`` lets the user choose."""

    @property
    def size(self) -> int:
        """Bytes of PDF in all (bounded by ``max_pdf_bytes``)."""
        return sum(size_of(d.pdf) for d in self.documents)


@dataclass(frozen=True)
class PdfBatchSignResponse:
    """Answer to ``POST /v1/pdf/sign/batch``: which documents were signed, and each signed one.

    The batch may end early: the user pressed Stop (``stopped``), or signing one document
    failed after others were signed (``error``); the documents signed until then are given
    back all the same (a failure at the first document is the request's error instead).
    """

    names: tuple[str | None, ...]
    """Every document's name, in the request's order."""
    signed: tuple[bytes | SpooledFile, ...]
    """The first ``len(signed)`` documents, signed, each in the form the request's came in: a
    spooled document (only the HTTP route spools them) is answered with a new spooled file,
    which the caller sends and removes (:meth:`signed_bytes` reads, and removes nothing)."""
    certificate: bytes
    stopped: bool = False
    error: AgentError | None = None

    def signed_bytes(self) -> tuple[bytes, ...]:
        """The signed documents as bytes (read from the spool for those there)."""
        return tuple(d.read_bytes() if isinstance(d, SpooledFile) else d for d in self.signed)

    def to_wire(self, lang: Lang | str) -> dict[str, Any]:
        """JSON body: ``documents[i]`` is the request's ``documents[i]``."""
        return self._wire(lang, [b64encode(d) for d in self.signed_bytes()])

    def json_around_documents(self, lang: Lang | str) -> list[bytes]:
        """The UTF-8 JSON of :meth:`to_wire` cut where each signed document's base64 goes:
        ``len(signed) + 1`` pieces, document ``i`` between pieces ``i`` and ``i + 1``. The
        caller sends the documents' base64 from where they are, a piece at a time, so that the
        answer to a batch of up to ``max_pdf_bytes`` is never held whole."""
        # Each document's place is a random marker no name or message can contain.
        marker = secrets.token_hex(16)
        places = [f"{marker}:{index}:" for index in range(len(self.signed))]
        text = json.dumps(self._wire(lang, places), ensure_ascii=False)
        pieces: list[bytes] = []
        for place in places:
            before, _place, text = text.partition(place)
            pieces.append(before.encode("utf-8"))
        pieces.append(text.encode("utf-8"))
        return pieces

    def _wire(self, lang: Lang | str, pdfs: Sequence[str]) -> dict[str, Any]:
        documents: list[dict[str, Any]] = []
        for index, name in enumerate(self.names):
            entry: dict[str, Any] = {"index": index, "documentName": name}
            if index < len(pdfs):
                entry["signed"] = True
                entry["pdf"] = pdfs[index]
            else:
                entry["signed"] = False
            documents.append(entry)
        wire: dict[str, Any] = {
            "documents": documents,
            "signed": len(self.signed),
            "stopped": self.stopped,
            "certificate": b64encode(self.certificate),
        }
        if self.error is not None:
            wire.update(self.error.to_wire(lang))
        return wire


def parse_pdf_batch_sign_request(
    obj: dict[str, Any], default_tsa: str | None = None
) -> PdfBatchSignRequest:
    """Parse ``POST /v1/pdf/sign/batch``: ``documents`` (1 to 50, each ``pdf`` in base64 with
    ``documentName`` and its own ``reason``, ``location``, ``appearance`` if it needs them) and
    the options shared by all of them."""
    _check_fields(obj, frozenset({"documents"}), _PDF_BATCH_SHARED, "", checked_apart="documents")
    raw = obj["documents"]
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_PDF_BATCH:
        raise BadRequest(Phrase.of("bad_pdf_documents", limit=MAX_PDF_BATCH))
    shared = {k: v for k, v in obj.items() if k not in ("documents", "certificate")}
    options = parse_pdf_options(shared, default_tsa)
    documents = tuple(
        _pdf_batch_document(index, item, shared, options, default_tsa)
        for index, item in enumerate(raw)
    )
    return PdfBatchSignRequest(documents, _certificate(obj))


def _pdf_batch_document(
    index: int,
    item: Any,
    shared: dict[str, Any],
    options: PdfSignOptions,
    default_tsa: str | None,
) -> PdfSignRequest:
    """One document of a batch; a refusal says which one it is about."""
    try:
        return _pdf_batch_item(f"documents.{index}.", item, shared, options, default_tsa)
    except BadRequest as exc:
        if exc.phrase is None:
            raise
        raise BadRequest(
            Phrase.of("bad_pdf_batch_document", index=index, reason=exc.phrase)
        ) from exc


def _pdf_batch_item(
    where: str, item: Any, shared: dict[str, Any], options: PdfSignOptions, default_tsa: str | None
) -> PdfSignRequest:
    if not isinstance(item, dict):
        raise BadRequest(Phrase.of("bad_pdf_batch_item"))
    _check_fields(item, frozenset({"pdf"}), _PDF_BATCH_OWN | {"documentName"}, where)
    pdf = b64decode(item["pdf"], f"{where}pdf")
    if not pdf:
        raise BadRequest(Phrase.of("bad_pdf_empty"))
    own = {k: v for k, v in item.items() if k in _PDF_BATCH_OWN}
    return PdfSignRequest(
        pdf=pdf,
        options=parse_pdf_options({**shared, **own}, default_tsa) if own else options,
        document_name=_document_name(item.get("documentName"), f"{where}documentName"),
    )


def parse_cms_sign_request(obj: dict[str, Any]) -> CmsSignRequest:
    """Parse ``POST /v1/cms/sign``."""
    _check_fields(
        obj,
        frozenset({"digest", "digestAlgorithm"}),
        frozenset({"documentName", "certificate", "tsaUrl"}),
        "",
    )
    item = _digest_item(obj, "", digest="digest", algorithm="digestAlgorithm")
    return CmsSignRequest(item, _certificate(obj), _tsa_url(obj))


def parse_pdf_verify_request(
    obj: dict[str, Any], pdf: SpooledFile | None = None
) -> PdfVerifyRequest:
    """Parse ``POST /v1/pdf/verify``: JSON with ``pdf``, or the options of a form or a raw body
    (none are defined: ``{}`` or nothing) with the document beside them."""
    if pdf is None:
        _check_fields(obj, frozenset({"pdf"}), frozenset(), "")
        return PdfVerifyRequest(b64decode(obj["pdf"], "pdf"))
    check_pdf_verify_options(obj)
    return PdfVerifyRequest(pdf)


def check_pdf_verify_options(obj: dict[str, Any]) -> None:
    """What :func:`parse_pdf_verify_request` refuses beside a form's or a raw body's document,
    checked before the document is read: any option (a verification has none)."""
    _check_fields(obj, frozenset(), frozenset(), "options.")


# --- XML -------------------------------------------------------------------------------------

MAX_XML_BATCH: Final = 500
"""Most documents in one ``POST /v1/xml/sign/batch`` (their total size is bounded too)."""
MAX_XML_NAME: Final = 255
"""Longest Id or path a request may name."""

_XML_REQUIRED: Final = frozenset({"xml", "profile"})
_XML_OPTIONAL: Final = frozenset(
    {"role", "signId", "parentId", "parentXpath", "digestAlgorithm", "documentName"}
)
# The fields that only one profile reads: sent with another, they would be silently ignored
# and the signature would go somewhere the caller did not mean.
_XML_PROFILE_FIELDS: Final = {
    "role": XmlProfile.EINVOICE,
    "signId": XmlProfile.ENVELOPED,
    "parentId": XmlProfile.ENVELOPED,
    "parentXpath": XmlProfile.ENVELOPED,
}


@dataclass(frozen=True)
class XmlDocumentRequest:
    """One XML document to sign and where its signature goes."""

    xml: bytes
    """The document as received (not yet parsed: that is :mod:`agent.xml.commands`'s)."""
    spec: PlacementSpec
    """Profile, role, the Id to sign and the parent of the signature."""
    digest: XmlDigest = XmlDigest.SHA256
    """The digest of every Reference and of the signature (SHA-1 only when asked)."""
    document_name: str | None = None
    """What the user is shown beside the document's summary."""


@dataclass(frozen=True)
class XmlSignRequest:
    """``POST /v1/xml/sign`` (one document) and ``POST /v1/xml/sign/batch`` (up to 500)."""

    documents: tuple[XmlDocumentRequest, ...]
    """The documents, signed in this order after one question and one login."""
    certificate: bytes | None = None
    """DER certificate to sign with; ``None`` lets the user choose."""

    @property
    def size(self) -> int:
        """The documents' total size in bytes, bounded like one PDF (``max_pdf_bytes``)."""
        return sum(len(d.xml) for d in self.documents)


@dataclass(frozen=True)
class XmlVerifyRequest:
    """``POST /v1/xml/verify``."""

    xml: bytes
    """The signed document."""


@dataclass(frozen=True)
class SignedXml:
    """One document as signed."""

    xml: bytes
    """The document with its new ``Signature``, UTF-8."""
    signature_algorithm: str
    """The XMLDSig ``SignatureMethod`` URI (``…#rsa-sha256``, ``…#ecdsa-sha256`` …)."""
    document_name: str | None = None
    """The name the request gave it."""


@dataclass(frozen=True)
class XmlSignResponse:
    """Answer to ``POST /v1/xml/sign``."""

    document: SignedXml
    certificate: bytes

    def to_wire(self) -> dict[str, Any]:
        """JSON body."""
        return {
            "xml": b64encode(self.document.xml),
            "certificate": b64encode(self.certificate),
            "signatureAlgorithm": self.document.signature_algorithm,
        }


@dataclass(frozen=True)
class XmlBatchSignResponse:
    """Answer to ``POST /v1/xml/sign/batch``: every document, in the request's order."""

    documents: tuple[SignedXml, ...]
    certificate: bytes

    def to_wire(self) -> dict[str, Any]:
        """JSON body: ``documents[i]`` is the request's ``documents[i]``, signed."""
        return {
            "documents": [
                {
                    "index": index,
                    "documentName": d.document_name,
                    "signed": True,
                    "xml": b64encode(d.xml),
                    "signatureAlgorithm": d.signature_algorithm,
                }
                for index, d in enumerate(self.documents)
            ],
            "signed": len(self.documents),
            "certificate": b64encode(self.certificate),
        }


@dataclass(frozen=True)
class XmlVerifyResponse:
    """Answer to ``POST /v1/xml/verify``: every signature, and the report for people."""

    report: XmlVerificationReport
    """What was found about each signature."""
    text: str
    """The report in the request's language (:func:`agent.xml.verify.render.report_to_text`)."""

    def to_wire(self) -> dict[str, Any]:
        """JSON body: the report's wire form (``allValid``, ``signatures``) and ``text``."""
        from agent.xml.verify.render import report_to_json

        return {**report_to_json(self.report), "text": self.text}


def _xml_name(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    """An Id or a path: a non-empty string of visible characters, at most 255 long."""
    value = obj.get(key)
    if value is None:
        return None
    field = f"{where}{key}"
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(Phrase.of("bad_not_string", field=field))
    if len(value) > MAX_XML_NAME:
        raise BadRequest(Phrase.of("bad_too_long", field=field, limit=MAX_XML_NAME))
    _refuse_hidden(value, field)
    return value


def _xml_choice(obj: Mapping[str, Any], key: str, where: str, kind: type[Any]) -> Any:
    value = obj.get(key)
    try:
        return kind(value)
    except (ValueError, TypeError) as exc:
        allowed = ", ".join(member.value for member in kind)
        raise BadRequest(Phrase.of("bad_choice", field=f"{where}{key}", allowed=allowed)) from exc


def _xml_document(obj: Any, where: str) -> XmlDocumentRequest:
    if not isinstance(obj, dict):
        raise BadRequest(Phrase.of("bad_not_object", field=where[:-1]))
    _check_fields(obj, _XML_REQUIRED, _XML_OPTIONAL, where)
    profile = _xml_choice(obj, "profile", where, XmlProfile)
    for key, only in _XML_PROFILE_FIELDS.items():
        if obj.get(key) is not None and profile is not only:
            raise BadRequest(
                Phrase.of("bad_xml_field_profile", field=f"{where}{key}", profile=only.value)
            )
    sign_id = _xml_name(obj, "signId", where)
    parent_id = _xml_name(obj, "parentId", where)
    parent_xpath = _xml_name(obj, "parentXpath", where)
    if profile is XmlProfile.ENVELOPED and sign_id is None:
        raise BadRequest(Phrase.of("bad_missing_fields", fields=f"{where}signId", count=1))
    if parent_id is not None and parent_xpath is not None:
        raise BadRequest(Phrase.of("bad_xml_parent_both", where=where))
    role = EinvoiceRole.SELLER
    if obj.get("role") is not None:
        role = _xml_choice(obj, "role", where, EinvoiceRole)
    digest = XmlDigest.SHA256
    if obj.get("digestAlgorithm") is not None:
        name = obj["digestAlgorithm"]
        if not isinstance(name, str):
            raise BadRequest(Phrase.of("bad_xml_digest", digest=repr(name)))
        digest = XmlDigest.parse(name)
    xml = b64decode(obj["xml"], f"{where}xml")
    return XmlDocumentRequest(
        xml=xml,
        spec=PlacementSpec(profile, role, sign_id, parent_id, parent_xpath),
        digest=digest,
        document_name=_document_name(obj.get("documentName"), f"{where}documentName"),
    )


def parse_xml_sign_request(obj: dict[str, Any]) -> XmlSignRequest:
    """Parse ``POST /v1/xml/sign``: one document's fields and ``certificate``."""
    _check_fields(obj, _XML_REQUIRED, _XML_OPTIONAL | {"certificate"}, "")
    fields = {k: v for k, v in obj.items() if k != "certificate"}
    return XmlSignRequest((_xml_document(fields, ""),), _certificate(obj))


def parse_xml_batch_sign_request(obj: dict[str, Any]) -> XmlSignRequest:
    """Parse ``POST /v1/xml/sign/batch``: ``documents`` (1 to 500) and ``certificate``."""
    _check_fields(
        obj, frozenset({"documents"}), frozenset({"certificate"}), "", checked_apart="documents"
    )
    raw = obj["documents"]
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_XML_BATCH:
        raise BadRequest(Phrase.of("bad_xml_documents", limit=MAX_XML_BATCH))
    documents = tuple(_xml_document(d, f"documents.{i}.") for i, d in enumerate(raw))
    return XmlSignRequest(documents, _certificate(obj))


def parse_xml_verify_request(obj: dict[str, Any]) -> XmlVerifyRequest:
    """Parse ``POST /v1/xml/verify``."""
    _check_fields(obj, frozenset({"xml"}), frozenset(), "")
    return XmlVerifyRequest(b64decode(obj["xml"], "xml"))
