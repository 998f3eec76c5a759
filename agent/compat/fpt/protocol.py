"""The FPT / TrustCA SignPlugin wire protocol: one form field in, one base64 text out.

The page POSTs ``request=<base64(JSON)>`` to ``https://127.0.0.1:14408/process`` (the base64
is sent as is, not percent-encoded: ``"request=" + btoa(JSON.stringify(obj))``) and reads
the body of the answer as ``base64(JSON)`` too. Every request names its ``OperationId``;
every reply carries ``ResponseCode`` (0 = success) and ``ResponseMsg``, and the operation's
own fields (``SessionId``, ``certInfo``, ``Signature``, ``Base64Result``).

The operations public portal code calls (the vendor demo page and the portals that copy it,
see ``docs/compat/fpt.md``):

==  ==========================  ====================================================
id  what                        fields read here
==  ==========================  ====================================================
1   initialise                  ``pkcs11Lib`` (ignored: the agent finds its modules)
2   the user's certificate      ``checkOCSP`` (ignored: revocation is policy)
5   CMS over data or a digest   ``DataToBeSign``, ``reqDigest``, ``algDigest``,
                                ``signAttached``, ``signLevel``, ``urlTimestamp``
8   XML signature               ``DataToBeSign``, ``tagXML``, ``XMLDSig``,
                                ``xades_Version``, ``xades_Form``, ``algDigest``
10  PDF signature               ``DataToBeSign``, ``extFile``, ``invisible``,
                                ``pageIndex``, ``offsetX``, ``offsetY``, ``sigWidth``,
                                ``sigHeight``, ``logoData``, ``sigId``, ``urlTimestamp``
==  ==========================  ====================================================

Fields this agent does not use are ignored, as the plugin does, except anything that looks
like a PIN, which is refused: the PIN is typed only into the agent's own dialog.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Final
from urllib.parse import unquote

from agent.algorithms import HashAlgorithm
from agent.compat import fields
from agent.errors import BadRequest, ErrorCode
from agent.messages import Phrase
from agent.pdf.models import Appearance, Profile
from agent.protocol import decode_json_object, refuse_secrets
from agent.xml.models import XmlDigest

PRODUCT: Final = "FPT SignPlugin"
"""The plugin's name in the agent's sentences."""
FORM_FIELD: Final = "request"
"""The one form field of a request."""
MAX_OPERATION: Final = 9999
"""Largest ``OperationId`` read (the plugin's are below 100)."""
MAX_TAG: Final = 200
"""Longest ``tagXML`` (an element name)."""
MAX_URL: Final = 2000
"""Longest ``urlTimestamp``."""
MAX_FIELD_ID: Final = 255
"""Longest ``sigId`` (a signature field's name)."""
OFFICE_FILES: Final = frozenset({"doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods"})
"""``extFile`` values that name an Office document, which the agent does not sign."""


class Operation(IntEnum):
    """``OperationId`` values Kyso Agent answers."""

    INIT = 1
    """Initialise: a ``SessionId`` (the page names PKCS#11 modules, which are not used)."""
    CERTIFICATE = 2
    """The user picks a certificate; the page gets it in ``certInfo``."""
    SIGN_CMS = 5
    """A detached CMS (PKCS#7) signature over data or a digest, in ``Signature``."""
    SIGN_XML = 8
    """An enveloped XMLDSig signature; the signed document in ``Base64Result``."""
    SIGN_PDF = 10
    """A PAdES signature, visible where the page says; the signed PDF in ``Base64Result``."""


class Code(IntEnum):
    """``ResponseCode`` of a reply. Portals test ``ResponseCode == 0`` and show
    ``ResponseMsg`` otherwise; the other numbers are Kyso Agent's and never change meaning."""

    OK = 0
    BAD_REQUEST = 1
    """The request is not a valid SignPlugin request (ResponseMsg says which field)."""
    UNSUPPORTED = 2
    """An operation or a mode Kyso Agent does not offer (Office, XAdES, an unknown id)."""
    PIN_REFUSED = 3
    """The page sent a PIN: it is typed only into the agent's dialog."""
    USER_CANCELLED = 4
    CONSENT_TIMEOUT = 5
    TOKEN_NOT_PRESENT = 6
    CERTIFICATE_NOT_FOUND = 7
    CERTIFICATE_EXPIRED = 8
    CERTIFICATE_REVOKED = 9
    PIN_LOCKED = 10
    SIGNING_FAILED = 11
    """A service the signature needs (the time-stamping authority) failed."""
    BUSY = 12
    TOO_LARGE = 15
    """The request (or the document in it) is larger than the agent accepts."""
    TOKEN_MODULE_FAILED = 18
    """The token's driver crashed or hung; the agent restarts it and nothing was signed."""
    INTERNAL = 99


ERROR_CODES: Final[Mapping[ErrorCode, Code]] = {
    ErrorCode.BAD_REQUEST: Code.BAD_REQUEST,
    ErrorCode.PAYLOAD_TOO_LARGE: Code.TOO_LARGE,
    ErrorCode.USER_CANCELLED: Code.USER_CANCELLED,
    ErrorCode.CONSENT_TIMEOUT: Code.CONSENT_TIMEOUT,
    ErrorCode.TOKEN_NOT_PRESENT: Code.TOKEN_NOT_PRESENT,
    ErrorCode.TOKEN_MODULE_FAILED: Code.TOKEN_MODULE_FAILED,
    ErrorCode.CERTIFICATE_NOT_FOUND: Code.CERTIFICATE_NOT_FOUND,
    ErrorCode.CERTIFICATE_EXPIRED: Code.CERTIFICATE_EXPIRED,
    ErrorCode.CERTIFICATE_REVOKED: Code.CERTIFICATE_REVOKED,
    ErrorCode.PIN_LOCKED: Code.PIN_LOCKED,
    ErrorCode.SIGNING_FAILED: Code.SIGNING_FAILED,
    ErrorCode.BUSY: Code.BUSY,
}
"""The agent's error codes as ResponseCode numbers; any other is :attr:`Code.INTERNAL`."""


def code_for(error: ErrorCode) -> Code:
    """The ResponseCode of one of the agent's error codes."""
    return ERROR_CODES.get(error, Code.INTERNAL)


class Unsupported(Exception):
    """A request the plugin would have served and Kyso Agent does not (:attr:`Code.UNSUPPORTED`)."""

    def __init__(self, phrase: Phrase) -> None:
        super().__init__(str(phrase))
        self.phrase = phrase
        """What is not offered, and what to do instead."""


class PinRefused(Exception):
    """The request carries a field that looks like a PIN (:attr:`Code.PIN_REFUSED`)."""


# --- requests -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CmsCall:
    """Operation 5: a detached CMS signature."""

    digest: bytes
    """The digest signed into the CMS (computed here when the page sent data)."""
    algorithm: HashAlgorithm
    """Its algorithm."""
    size: int | None
    """Bytes of data the page sent (``reqDigest`` 1), ``None`` when it sent a digest."""
    tsa_url: str | None = None
    """``urlTimestamp`` when ``signLevel`` is ``CADES-T``: the signature is timestamped."""


@dataclass(frozen=True)
class XmlCall:
    """Operation 8: an enveloped XMLDSig signature."""

    xml: bytes
    """The decoded ``DataToBeSign``: the document."""
    tag: str | None
    """``tagXML``: the name of the element to sign (by its Id); ``None`` for ``*`` or
    nothing: the element the document's kind prescribes, else the root by its Id."""
    digest: XmlDigest = XmlDigest.SHA256
    """``algDigest``: SHA-256, or SHA-1 when the page asks for it (older receivers)."""


@dataclass(frozen=True)
class PdfCall:
    """Operation 10: a PAdES signature."""

    pdf: bytes
    """The decoded ``DataToBeSign``."""
    appearance: Appearance
    """What the page asked to be drawn, and where."""
    tsa_url: str | None = None
    """``urlTimestamp``: the signature is timestamped (PAdES B-T)."""


# --- replies ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One reply, before it is written as ``base64(JSON)``."""

    code: Code
    """``ResponseCode``."""
    message: str = ""
    """``ResponseMsg``: for people, in the agent's language; empty on success."""
    fields: Mapping[str, Any] = field(default_factory=dict)
    """The operation's fields (``SessionId``, ``certInfo`` …)."""
    blobs: Mapping[str, bytes] = field(default_factory=dict)
    """Binary fields, written as base64 strings (``Base64Result``, ``Signature``)."""

    def to_bytes(self) -> bytes:
        """The body sent: base64 of the UTF-8 JSON.

        Non-ASCII text stays UTF-8 inside the base64, as the plugin writes it: portals decode
        the body with ``atob`` and then read names through a UTF-8 decoder (``utf8.decode``,
        ``decodeURIComponent(escape(…))``), which ``\\u`` escapes would break. A document is
        spliced in as base64 rather than passed through ``json.dumps`` (base64 needs no JSON
        escaping, and a signed PDF is tens of megabytes).
        """
        head = {"ResponseCode": int(self.code), "ResponseMsg": self.message, **self.fields}
        text = json.dumps(head, ensure_ascii=False).encode("utf-8")
        if self.blobs:
            parts = [text[:-1]]
            for key, value in self.blobs.items():
                parts += [b", ", json.dumps(key).encode(), b': "', base64.b64encode(value), b'"']
            parts.append(b"}")
            text = b"".join(parts)
        return base64.b64encode(text)


# --- parsing ------------------------------------------------------------------------------


def _bad(key: str, **values: object) -> BadRequest:
    return BadRequest(Phrase.of(key, **values))


def _envelope(detail: Phrase) -> BadRequest:
    """The body itself is not a SignPlugin request."""
    return BadRequest(Phrase.of("compat_bad_message", product=PRODUCT, detail=detail))


def form_value(body: bytes) -> str:
    """The ``request`` field of a form body, as the page wrote it.

    The vendor library appends the base64 unescaped, so a ``+`` in it is a ``+`` (a form
    decoder would make it a space); a value that was percent-encoded after all
    (``URLSearchParams``, ``encodeURIComponent``) is decoded, and a space read back as ``+``.
    """
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise _envelope(Phrase.of("fpt_form")) from None
    for part in text.split("&"):
        key, sep, value = part.partition("=")
        if sep and key.strip() == FORM_FIELD:
            if "%" in value:
                value = unquote(value)
            return value.strip().replace(" ", "+")
    raise _envelope(Phrase.of("fpt_form"))


def decode_request(body: bytes) -> dict[str, Any]:
    """The JSON object a form body carries.

    :raises BadRequest: not a form with ``request``, not base64, not a JSON object.
    :raises PinRefused: a field looks like a PIN.
    """
    value = form_value(body)
    try:
        raw = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise _envelope(Phrase.of("fpt_not_base64")) from None
    try:
        obj = decode_json_object(raw)
    except BadRequest:
        # window.btoa takes only Latin-1 text: a page that stringified "é" sent one byte.
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            obj = _latin1_json(raw)
        else:
            raise _envelope(Phrase.of("fpt_not_json")) from None
    try:
        refuse_secrets(obj)
    except BadRequest as exc:
        raise PinRefused(exc.detail) from None
    return obj


def _latin1_json(raw: bytes) -> dict[str, Any]:
    try:
        return decode_json_object(raw.decode("latin-1").encode("utf-8"))
    except BadRequest:
        raise _envelope(Phrase.of("fpt_not_json")) from None


def operation_id(obj: Mapping[str, Any]) -> int:
    """``OperationId``: a number, or a string of digits."""
    value = obj.get("OperationId")
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip()) if len(value.strip()) <= 4 else -1
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_OPERATION:
        return value
    raise _bad("fpt_operation_id")


def _base64_field(obj: Mapping[str, Any], key: str) -> bytes:
    """A required, non-empty base64 field (whitespace and line breaks ignored)."""
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _bad("fpt_field_base64", field=key)
    text = "".join(value.split()).replace("-", "+").replace("_", "/")
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise _bad("fpt_field_base64", field=key) from None
    if not decoded:
        raise _bad("fpt_field_base64", field=key)
    return decoded


def _number(obj: Mapping[str, Any], key: str) -> float | None:
    return fields.number(obj, key, bad="fpt_field_number")


def _flag(obj: Mapping[str, Any], key: str, default: bool) -> bool:
    return fields.flag(obj, key, default=default, bad="fpt_field_flag")


def _text(obj: Mapping[str, Any], key: str, limit: int) -> str | None:
    """A short single-line text; ``None`` when absent or blank."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise _bad("fpt_field_text", field=key, limit=limit)
    if fields.has_controls(value):
        raise _bad("fpt_field_text", field=key, limit=limit)
    return value.strip() or None


def _tsa_url(obj: Mapping[str, Any]) -> str | None:
    url = _text(obj, "urlTimestamp", MAX_URL)
    if url is not None and not url.lower().startswith(("http://", "https://")):
        raise _bad("fpt_timestamp_url")
    return url


_WEAK: Final = frozenset({"MD5", "SHA1", "SHA224"})


def _hash_name(obj: Mapping[str, Any]) -> str | None:
    value = obj.get("algDigest")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _bad("fpt_alg_digest", value=str(value)[:20])
    return fields.hash_name(value.strip())


def parse_cms_call(obj: Mapping[str, Any]) -> CmsCall:
    """Operation 5. ``reqDigest`` 1 (the default): ``DataToBeSign`` is the data, hashed here;
    0: it is the digest itself (the portal built the document, a PDF's byte range …).

    Data asked to be hashed with SHA-1, SHA-224 or MD5 is hashed with SHA-256 instead: the
    CMS names its algorithm, and verifiers read it there. A digest the page computed with
    them is refused: the agent never signs a bare weak digest.
    """
    if _flag(obj, "signAttached", default=False):
        raise Unsupported(Phrase.of("fpt_cms_attached"))
    level = _text(obj, "signLevel", 20)
    level = level.upper().replace("_", "-") if level else "CADES-BES"
    if level not in ("CADES-BES", "CADES-T"):
        raise Unsupported(Phrase.of("fpt_cms_level", level=level))
    tsa_url = _tsa_url(obj) if level == "CADES-T" else None
    if level == "CADES-T" and tsa_url is None:
        raise _bad("fpt_cms_needs_tsa")
    name = _hash_name(obj)
    data = _base64_field(obj, "DataToBeSign")
    if _flag(obj, "reqDigest", default=True):
        algorithm = fields.DIGEST_NAMES.get(name or "SHA256", HashAlgorithm.SHA256)
        if name is not None and name not in fields.DIGEST_NAMES and name not in _WEAK:
            raise _bad("fpt_alg_digest", value=name)
        digest = algorithm.digest(data)
        return CmsCall(digest, algorithm, len(data), tsa_url)
    given = fields.DIGEST_NAMES.get(name or "SHA256")
    if given is None:
        raise _bad("fpt_alg_digest", value=name or "")
    if len(data) != given.digest_size:
        raise _bad(
            "fpt_digest_length", size=len(data), algorithm=given.value, expected=given.digest_size
        )
    return CmsCall(data, given, None, tsa_url)


def parse_xml_call(obj: Mapping[str, Any]) -> XmlCall:
    """Operation 8. ``XMLDSig`` 1 asks for a plain XMLDSig signature, which the agent makes;
    0 (the demo page's default) asks for XAdES (``xades_Version``, ``xades_Form``), which it
    does not make: the reply says so rather than return another kind of signature."""
    if not _flag(obj, "XMLDSig", default=False):
        form = _text(obj, "xades_Form", 40) or "XAdES"
        raise Unsupported(Phrase.of("fpt_xades", form=form))
    xml = _base64_field(obj, "DataToBeSign")
    tag = _text(obj, "tagXML", MAX_TAG)
    name = obj.get("algDigest")
    if name not in (None, "") and not isinstance(name, str):
        raise _bad("bad_xml_digest", digest=repr(name))
    digest = XmlDigest.parse(name) if isinstance(name, str) and name.strip() else XmlDigest.SHA256
    return XmlCall(xml, None if tag in (None, "*") else tag, digest)


def parse_pdf_call(obj: Mapping[str, Any]) -> PdfCall:
    """Operation 10. The box is ``offsetX``, ``offsetY`` (its lower-left corner, PDF points
    from the page's lower-left corner, as portals compute it: ``pageHeight - top -
    height``), ``sigWidth`` by ``sigHeight``, on page ``pageIndex`` (0 = the first).

    ``logoData`` (a PNG) is drawn in the box; without it, the decree's "Ký bởi" and
    "Thời gian ký" text. ``sigId`` names an existing empty signature field to sign.
    ``algDigest`` is not used: PDF signatures are SHA-256.
    """
    ext = (_text(obj, "extFile", 20) or "pdf").lower().lstrip(".")
    if ext in OFFICE_FILES:
        raise Unsupported(Phrase.of("compat_office_unsupported"))
    if ext != "pdf":
        raise Unsupported(Phrase.of("fpt_ext_file", ext=ext))
    pdf = _base64_field(obj, "DataToBeSign")
    return PdfCall(pdf, _appearance(obj), _tsa_url(obj))


def _appearance(obj: Mapping[str, Any]) -> Appearance:
    if _flag(obj, "invisible", default=False):
        return Appearance(Profile.INVISIBLE)
    index = _number(obj, "pageIndex")
    page = None
    if index is not None:
        if index < 0 or not index.is_integer():
            raise _bad("fpt_page_index")
        page = int(index) + 1
    x, y = _number(obj, "offsetX"), _number(obj, "offsetY")
    width, height = _number(obj, "sigWidth"), _number(obj, "sigHeight")
    rect = None
    if None not in (x, y, width, height):
        assert x is not None and y is not None  # noqa: S101 - checked just above
        assert width is not None and height is not None  # noqa: S101
        if width <= 0 or height <= 0 or x < 0 or y < 0:
            raise _bad("fpt_box")
        rect = (x, y, x + width, y + height)
    image = _base64_field(obj, "logoData") if obj.get("logoData") else None
    if image is not None and not fields.is_png(image):
        # Some portals export the stamp with canvas.toDataURL("image/jpeg"): said here, in the
        # plugin's field name, rather than as the HTTPS API's "image".
        raise _bad("fpt_logo_png")
    return Appearance(
        Profile.PERSONAL,
        page=page,
        rect=rect,
        image=image,
        field=_text(obj, "sigId", MAX_FIELD_ID),
    )
