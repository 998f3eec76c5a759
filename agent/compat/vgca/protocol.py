"""The VGCA Sign Service wire protocol: one JSON text message in, one JSON reply out.

The page opens ``wss://127.0.0.1:8987/<Endpoint>``, sends one request object and gets
one reply object. Field names are VGCA's (``FileUploadHandler``, ``DocNumber`` …);
fields this agent does not use are ignored, as the original plugin does, except
anything that looks like a PIN, which is refused as on the HTTPS API.

Every reply carries a numeric ``Status`` (0 = success) from :class:`Status`, a stable
table documented in ``docs/vgca-compat.md``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import IntEnum, StrEnum
from typing import Any, Final

from agent.algorithms import HashAlgorithm
from agent.compat import fields
from agent.errors import BadRequest, ErrorCode
from agent.messages import Phrase
from agent.protocol import MAX_PDF_BATCH, decode_json_object, document_name, refuse_secrets
from agent.xml.models import XmlDigest

VIETNAM_TIME: Final = timezone(timedelta(hours=7), "+07:00")
MAX_URL: Final = 2000
MAX_DOC_NUMBER: Final = 100
MAX_SESSION: Final = 1000
MAX_JWT: Final = 8192
MAX_METADATA: Final = 50
MAX_META_KEY: Final = 100
MAX_META_VALUE: Final = 2000
MAX_FILES: Final = MAX_PDF_BATCH
"""Most files in one SignFile: the PDFs one question may list (more are refused, Status 1)."""
MAX_AUTH_CODE: Final = 4096
"""Longest Auth challenge (a session code or a nonce is tens of characters)."""
DATE_EXAMPLE: Final = "2025-05-12T09:00:00+07:00"


class Endpoint(StrEnum):
    """The endpoints Kyso Agent answers (the path of the WebSocket URL)."""

    SIGN_APPROVED = "SignApproved"
    """A leader's approval signature."""
    SIGN_ISSUED = "SignIssued"
    """The clerk issues the document with the organisation's seal, number and date."""
    SIGN_INCOME = "SignIncome"
    """An incoming document is received."""
    SIGN_APPENDIX = "SignAppendix"
    """An attachment of an issued document."""
    SIGN_COPY = "SignCopy"
    """A certified electronic copy."""
    COMMENT = "Comment"
    """An opinion on a document."""
    SIGN_PDF = "SignPDF"
    """A plain PDF signature."""
    SIGN_FILE = "SignFile"
    """A list of files."""
    SIGN_MSG = "SignMsg"
    """Base64 data → a CMS signature."""
    GET_CERT_INFO = "GetCertInfo"
    """The user picks a certificate; the page gets it."""
    VERIFY_PDF = "VerifyPDF"
    """Check the signatures of a PDF."""
    VERIFY_MSG = "VerifyMsg"
    """Check a signature over base64 data (what SignMsg made)."""
    AUTH = "Auth"
    """Sign-in: a signature over the site's challenge, asked for like any signature."""
    GET_LICENSE_REQUEST = "GetLicenseRequest"
    """The plugin's licence request: answered as licensed (the allow-list is the control)."""
    CONFIG = "Config"
    """The agent's version and settings (instead of the plugin's configuration window)."""
    SIGN_XML = "SignXML"
    """An XML document (e-invoice, tax filing, any element with an Id) → an XMLDSig signature."""
    VERIFY_XML = "VerifyXML"
    """Check the signatures of an XML document."""


PLAIN_WORDS: Final[Mapping[Endpoint, str]] = {
    Endpoint.GET_CERT_INFO: "get_cert_info",
    Endpoint.CONFIG: "config",
    Endpoint.GET_LICENSE_REQUEST: "request",
}
"""The plain-text messages ``vgcaplugin.js`` sends where other endpoints send JSON."""


class Status(IntEnum):
    """``Status`` of a reply. The numbers never change meaning."""

    OK = 0
    BAD_REQUEST = 1
    """The message is not a valid request for this endpoint (the Message says which field)."""
    UNSUPPORTED = 2
    """An endpoint or a mode Kyso Agent does not offer (SignOffice, a local file pick …)."""
    URL_NOT_ALLOWED = 3
    """A download or upload URL outside the page's origin and the allow-list."""
    USER_CANCELLED = 4
    CONSENT_TIMEOUT = 5
    TOKEN_NOT_PRESENT = 6
    CERTIFICATE_NOT_FOUND = 7
    CERTIFICATE_EXPIRED = 8
    CERTIFICATE_REVOKED = 9
    PIN_LOCKED = 10
    SIGNING_FAILED = 11
    """A service the signature needs (TSA, revocation data) failed."""
    BUSY = 12
    DOWNLOAD_FAILED = 13
    UPLOAD_FAILED = 14
    """Signed, but the upload failed (after one retry); the signed file is kept."""
    FILE_TOO_LARGE = 15
    NOT_ATTEMPTED = 16
    """SignFile: not signed because another file of the list failed (an earlier one, or any
    one of a list refused before its question: the files of a list are signed together)."""
    SIGNATURE_INVALID = 17
    """VerifyPDF, VerifyMsg, VerifyXML: checked, and not every signature is valid."""
    TOKEN_MODULE_FAILED = 18
    """The token's driver crashed or hung; the agent restarts it and nothing was signed."""
    INTERNAL = 99


ERROR_STATUS: Final[Mapping[ErrorCode, Status]] = {
    ErrorCode.BAD_REQUEST: Status.BAD_REQUEST,
    ErrorCode.ORIGIN_NOT_ALLOWED: Status.URL_NOT_ALLOWED,
    ErrorCode.PAYLOAD_TOO_LARGE: Status.FILE_TOO_LARGE,
    ErrorCode.USER_CANCELLED: Status.USER_CANCELLED,
    ErrorCode.CONSENT_TIMEOUT: Status.CONSENT_TIMEOUT,
    ErrorCode.TOKEN_NOT_PRESENT: Status.TOKEN_NOT_PRESENT,
    ErrorCode.TOKEN_MODULE_FAILED: Status.TOKEN_MODULE_FAILED,
    ErrorCode.CERTIFICATE_NOT_FOUND: Status.CERTIFICATE_NOT_FOUND,
    ErrorCode.CERTIFICATE_EXPIRED: Status.CERTIFICATE_EXPIRED,
    ErrorCode.CERTIFICATE_REVOKED: Status.CERTIFICATE_REVOKED,
    ErrorCode.PIN_LOCKED: Status.PIN_LOCKED,
    ErrorCode.SIGNING_FAILED: Status.SIGNING_FAILED,
    ErrorCode.BUSY: Status.BUSY,
}
"""The agent's error codes as Status numbers; any other code is :attr:`Status.INTERNAL`."""


def status_for(code: ErrorCode) -> Status:
    """The Status number of one of the agent's error codes."""
    return ERROR_STATUS.get(code, Status.INTERNAL)


@dataclass(frozen=True)
class MetaItem:
    """One ``MetaData`` entry; sent on to the upload handler as a form field."""

    key: str
    """Form field name."""
    value: str
    """Form field value."""


@dataclass(frozen=True)
class Delivery:
    """Where the signed file goes and how the portal recognises it."""

    upload_url: str
    """``FileUploadHandler``: receives the signed PDF as multipart field ``uploadfile``."""
    session_id: str | None = None
    """``SessionId``: sent as form field ``SessionId`` exactly as given, an empty string
    included (portals send ``""`` and their handlers read the field); ``None`` when absent."""
    jwt_token: str | None = None
    """``JWTToken``: sent as ``Authorization: Bearer …`` (download and upload)."""
    metadata: tuple[MetaItem, ...] = ()
    """``MetaData``: sent as form fields."""


@dataclass(frozen=True)
class PdfCall:
    """SignApproved, SignIssued, SignIncome, SignAppendix, SignCopy, Comment, SignPDF."""

    source: str
    """``FileName``: URL of the PDF to sign."""
    delivery: Delivery
    """Where the signed PDF goes."""
    doc_number: str | None = None
    """``DocNumber``: số và ký hiệu of the document."""
    issued_date: datetime | None = None
    """``IssuedDate``: when the document is issued (aware; a value without offset is
    taken as Vietnam time)."""


@dataclass(frozen=True)
class FileRef:
    """One entry of ``Files``."""

    file_id: Any
    """``FileID``, returned to the page untouched."""
    url: str
    """``URL``: where to download the file."""
    name: str | None
    """``FileName``: what the user is shown."""


class FilesShape(StrEnum):
    """How a SignFile request named its files (the reply follows the same shape)."""

    LIST = "Files"
    """``Files: [{FileID, FileName, URL}]``, this agent's documented form."""
    SINGLE = "FileName"
    """``FileName``: the URL of one file, as ``vgca_sign_file`` callers send it."""


@dataclass(frozen=True)
class FilesCall:
    """SignFile: one or several PDFs, several signed together after one question."""

    files: tuple[FileRef, ...]
    """1 to :data:`MAX_FILES` files."""
    delivery: Delivery
    """Where each signed PDF goes."""
    shape: FilesShape = FilesShape.LIST
    """Which form the request used."""


@dataclass(frozen=True)
class DataMsg:
    """SignMsg over data: a CMS signature over the SHA-256 of ``data``.

    Sent as ``{"Data": base64}`` or, as ``vgca_sign_msg(sender, Base64.encode(text))`` does,
    as the bare base64 string."""

    data: bytes
    """The decoded data."""


@dataclass(frozen=True)
class HashMsg:
    """SignMsg over a digest the portal computed: ``{"HashAlg", "HashValue", "Encode"}``.

    The portal builds its own signature structure (an XML signature, a CMS of its own) around
    the raw signature value, so the reply carries the raw signature and the certificate."""

    digest: bytes
    """The decoded ``HashValue``; its length matches ``algorithm``."""
    algorithm: HashAlgorithm
    """``HashAlg`` (SHA-256 when absent)."""


MsgCall = DataMsg | HashMsg
"""A SignMsg request, in one of its forms."""


@dataclass(frozen=True)
class VerifyMsgCall:
    """VerifyMsg: ``{"Base64Content", "Signature"}`` (and ``CertBase64`` for a raw signature)."""

    content: bytes
    """The decoded ``Base64Content``: the data that was signed."""
    signature: bytes
    """The decoded ``Signature``: a CMS SignedData, or a raw signature."""
    certificate: bytes | None = None
    """``CertBase64`` (or ``Certificate``): the signer's certificate, for a raw signature."""


@dataclass(frozen=True)
class XmlCall:
    """SignXML: ``{"Base64Content", "HashAlg", "ReturnSignatureOnly", "XmlDsigForm"}``, as
    ``vgca_sign_xml(sender, JSON.stringify(prms), callback)`` sends it."""

    xml: bytes
    """The decoded ``Base64Content``: the document to sign."""
    digest: XmlDigest = XmlDigest.SHA256
    """``HashAlg``: ``Sha256`` (also when absent) or ``Sha1``, which is written only when
    asked for (older receivers)."""
    signature_only: bool = False
    """``ReturnSignatureOnly``: the reply's ``Signature`` is the new ``Signature`` element
    alone instead of the whole signed document."""


@dataclass(frozen=True)
class VerifyXmlCall:
    """VerifyXML: ``{"Data", "Format": "XML"}``; ``Data`` is the document's text as
    ``vgca_verify_xml`` callers send it (or its base64, or ``Base64Content``)."""

    xml: bytes
    """The signed document."""


@dataclass(frozen=True)
class AuthCall:
    """Auth: the site's challenge (the message text itself), signed for a sign-in."""

    challenge: str
    """What the page sent, signed byte for byte (UTF-8)."""


@dataclass(frozen=True)
class VerifyCall:
    """VerifyPDF."""

    source: str
    """``FileName``: URL of the PDF to check."""
    jwt_token: str | None = None
    """``JWTToken`` for the download."""


@dataclass(frozen=True)
class Reply:
    """One reply. ``extra`` holds the fields particular to an endpoint."""

    status: Status
    """0 on success; :class:`Status` otherwise."""
    message: str = ""
    """For people, in the agent's language; empty on success unless the handler said more."""
    file_name: Any = ""
    """The upload handler's ``FileName``, passed back untouched."""
    file_server: Any = ""
    """The upload handler's ``FileServer``, passed back untouched."""
    custom_signature_text: str = ""
    """The text written in the stamp besides the signer and time, if any."""
    document_number: str = ""
    """The ``DocNumber`` used."""
    document_date: str = ""
    """The issue date used, ISO 8601 with offset."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Fields of one endpoint (``Signature``, ``CertInfo``, ``Files`` …)."""
    listing: tuple[Mapping[str, Any], ...] = ()
    """VerifyXML's answer, one object per signature. When given, the reply is this JSON
    array rather than an object: ``vgca_verify_xml`` callers read ``JSON.parse(rv)[0]``."""

    def body(self) -> dict[str, Any] | list[dict[str, Any]]:
        """What is sent: :attr:`listing` as an array when there is one, else :meth:`to_wire`."""
        if self.listing:
            return [dict(item) for item in self.listing]
        return self.to_wire()

    def to_wire(self) -> dict[str, Any]:
        """The JSON object sent to the page.

        A failure also carries its message as ``Error``: that is the field portals show
        (``"Ký số không thành công:" + Status + ":" + Error``)."""
        wire = {
            "Status": int(self.status),
            "Message": self.message,
            "FileName": self.file_name,
            "FileServer": self.file_server,
            "CustomSignatureText": self.custom_signature_text,
            "DocumentNumber": self.document_number,
            "DocumentDate": self.document_date,
            **self.extra,
        }
        if self.status is not Status.OK:
            wire.setdefault("Error", self.message)
        return wire


# --- parsing -------------------------------------------------------------------------------


def decode_message(text: str, endpoint: Endpoint | None = None) -> dict[str, Any]:
    """The request object of one text message (an empty message is ``{}``).

    ``endpoint``: the plain-text word ``vgcaplugin.js`` sends to it (:data:`PLAIN_WORDS`)
    stands for "no fields"; any other text must be a JSON object.
    """
    stripped = text.strip()
    if not stripped:
        return {}
    word = PLAIN_WORDS.get(endpoint) if endpoint is not None else None
    if endpoint is not None and word is not None and stripped.lower() == word:
        return {}
    try:
        obj = decode_json_object(stripped.encode("utf-8"))
    except BadRequest:
        if endpoint is not None and word is not None and not stripped.startswith(("{", "[")):
            raise BadRequest(
                Phrase.of("vgca_plain_text", endpoint=endpoint.value, word=word)
            ) from None
        raise
    refuse_secrets(obj)
    return obj


def json_or_text(text: str) -> dict[str, Any] | None:
    """The message as a JSON object (PIN-like fields refused), or ``None`` when it is plain
    text (a bare base64 string, a challenge)."""
    stripped = text.strip()
    if not stripped.startswith("{"):
        return None
    try:
        obj = decode_json_object(stripped.encode("utf-8"))
    except BadRequest:
        return None
    refuse_secrets(obj)
    return obj


def _text(obj: Mapping[str, Any], key: str, limit: int, *, numbers: bool = False) -> str | None:
    value = obj.get(key)
    if value is None or value == "":
        return None
    if numbers and isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > limit:
        raise BadRequest(Phrase.of("vgca_field_text", field=key, limit=limit))
    if fields.has_controls(value):
        raise BadRequest(Phrase.of("vgca_field_control", field=key))
    return value


def _url(obj: Mapping[str, Any], key: str) -> str | None:
    """A URL's text; whether the agent may fetch it (http(s), origin) is decided by
    :func:`agent.compat.vgca.transfer.check_url`, which answers URL_NOT_ALLOWED."""
    return _text(obj, key, MAX_URL)


def _shown(value: str | None, key: str) -> str | None:
    """Text that ends up in the stamp or the prompt: no invisible formatting characters."""
    return document_name(value, key) if value is not None else None


def _base64(value: Any, field: str) -> bytes:
    """A required, non-empty standard base64 string (whitespace around it ignored)."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(Phrase.of("vgca_base64", field=field))
    try:
        decoded = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(Phrase.of("vgca_base64", field=field)) from exc
    if not decoded:
        raise BadRequest(Phrase.of("vgca_base64", field=field))
    return decoded


def parse_issued_date(value: Any) -> datetime | None:
    """``IssuedDate``: ISO 8601; without an offset it is Vietnam time."""
    if value is None or value == "":
        return None
    bad = Phrase.of("vgca_issued_date", example=DATE_EXAMPLE)
    if not isinstance(value, str) or len(value) > 64:
        raise BadRequest(bad)
    try:
        # JavaScript's JSON.stringify(new Date()) ends in "Z", which Python 3.11 reads.
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadRequest(bad) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=VIETNAM_TIME)


def _metadata(value: Any) -> tuple[MetaItem, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_METADATA:
        raise BadRequest(Phrase.of("vgca_metadata_list", limit=MAX_METADATA))
    items = []
    for index, raw in enumerate(value):
        if not isinstance(raw, dict):
            raise BadRequest(Phrase.of("vgca_metadata_item", index=index))
        key = _text(raw, "Key", MAX_META_KEY)
        if key is None:
            raise BadRequest(Phrase.of("vgca_metadata_key_missing", index=index))
        if key in ("uploadfile", "SessionId"):
            raise BadRequest(Phrase.of("vgca_metadata_key_reserved", index=index, name=key))
        raw_value = raw.get("Value")
        if isinstance(raw_value, int | float) and not isinstance(raw_value, bool):
            raw_value = str(raw_value)
        item_value = _text({"Value": raw_value}, "Value", MAX_META_VALUE) or ""
        items.append(MetaItem(key, item_value))
    return tuple(items)


def _session_id(obj: Mapping[str, Any]) -> str | None:
    """``SessionId`` as the portal gave it: ``""`` stays ``""``; ``None`` when absent."""
    if obj.get("SessionId") == "":
        return ""
    return _text(obj, "SessionId", MAX_SESSION, numbers=True)


def _delivery(obj: Mapping[str, Any]) -> Delivery:
    upload = _url(obj, "FileUploadHandler")
    if upload is None:
        raise BadRequest(Phrase.of("vgca_upload_handler_missing"))
    return Delivery(
        upload_url=upload,
        session_id=_session_id(obj),
        jwt_token=_text(obj, "JWTToken", MAX_JWT),
        metadata=_metadata(obj.get("MetaData")),
    )


class LocalFileWanted(Exception):
    """``FileName`` is empty: the page wants the user to pick a local file."""

    def __init__(self, call: PdfCall) -> None:
        super().__init__("FileName is empty")
        self.call = call
        """The rest of the request (``source`` is empty)."""


def parse_pdf_call(obj: Mapping[str, Any]) -> PdfCall:
    """A single-PDF signing request.

    :raises LocalFileWanted: ``FileName`` is empty.
    """
    source = _url(obj, "FileName")
    call = PdfCall(
        source=source or "",
        delivery=_delivery(obj),
        doc_number=_shown(_text(obj, "DocNumber", MAX_DOC_NUMBER, numbers=True), "DocNumber"),
        issued_date=parse_issued_date(obj.get("IssuedDate")),
    )
    if source is None:
        raise LocalFileWanted(call)
    return call


def parse_files_call(obj: Mapping[str, Any]) -> FilesCall:
    """SignFile: ``Files`` [{FileID, FileName, URL}], or one file's URL in ``FileName`` (what
    ``vgca_sign_file`` callers send), and the delivery fields.

    :raises LocalFileWanted: no ``Files`` and ``FileName`` empty (the user picks the file).
    """
    raw_files = obj.get("Files")
    if raw_files is None and "FileName" in obj:
        call = parse_pdf_call(obj)  # LocalFileWanted when FileName is ""
        ref = FileRef(None, call.source, name_from_url(call.source))
        return FilesCall((ref,), call.delivery, FilesShape.SINGLE)
    if not isinstance(raw_files, list) or not 1 <= len(raw_files) <= MAX_FILES:
        raise BadRequest(Phrase.of("vgca_files_list", limit=MAX_FILES))
    files = []
    for index, raw in enumerate(raw_files):
        if not isinstance(raw, dict):
            raise BadRequest(Phrase.of("vgca_files_item", index=index))
        url = _url(raw, "URL")
        if url is None:
            raise BadRequest(Phrase.of("vgca_files_url_missing", index=index))
        file_id = raw.get("FileID")
        if (
            not (file_id is None or isinstance(file_id, str | int))
            or isinstance(file_id, bool)
            or (isinstance(file_id, str) and len(file_id) > MAX_DOC_NUMBER)
        ):
            raise BadRequest(Phrase.of("vgca_files_id", index=index, limit=MAX_DOC_NUMBER))
        name = document_name(raw.get("FileName"), f"Files.{index}.FileName")
        files.append(FileRef(file_id, url, name))
    return FilesCall(tuple(files), _delivery(obj))


_RAW_ENCODINGS: Final = ("RSA",)


def _hash_algorithm(value: Any) -> HashAlgorithm:
    """``HashAlg`` as portals write it (``SHA256``, ``Sha256``, ``SHA-256``); SHA-256 when
    absent."""
    if value is None or value == "":
        return HashAlgorithm.SHA256
    name = fields.hash_name(value) if isinstance(value, str) else ""
    if name not in fields.DIGEST_NAMES:
        raise BadRequest(Phrase.of("vgca_hash_alg", allowed=", ".join(fields.DIGEST_NAMES)))
    return fields.DIGEST_NAMES[name]


def parse_msg_call(text: str) -> MsgCall:
    """SignMsg, in each form portals send (:class:`DataMsg`, :class:`HashMsg`)."""
    obj = json_or_text(text)
    if obj is None:
        # vgca_sign_msg(sender, Base64.encode(text), callback): the bare base64 string.
        if not text.strip():
            raise BadRequest(Phrase.of("vgca_msg_shape"))
        return DataMsg(_base64(text, "SignMsg"))
    has_data, has_hash = "Data" in obj, "HashValue" in obj
    if has_data == has_hash:
        raise BadRequest(Phrase.of("vgca_msg_shape"))
    if has_data:
        return DataMsg(_base64(obj["Data"], "Data"))
    encode = obj.get("Encode")
    if not (encode is None or (isinstance(encode, str) and encode.upper() in _RAW_ENCODINGS)):
        raise BadRequest(Phrase.of("vgca_encode", allowed=", ".join(_RAW_ENCODINGS)))
    algorithm = _hash_algorithm(obj.get("HashAlg"))
    digest = _base64(obj["HashValue"], "HashValue")
    if len(digest) != algorithm.digest_size:
        raise BadRequest(
            Phrase.of(
                "vgca_hash_length",
                size=algorithm.digest_size,
                algorithm=algorithm.value,
                got=len(digest),
            )
        )
    return HashMsg(digest, algorithm)


def parse_verify_msg_call(text: str) -> VerifyMsgCall:
    """VerifyMsg: ``{"Base64Content", "Signature"}``, optionally ``CertBase64``."""
    obj = json_or_text(text)
    if obj is None or "Base64Content" not in obj or "Signature" not in obj:
        raise BadRequest(Phrase.of("vgca_verify_msg_fields"))
    certificate = obj.get("CertBase64", obj.get("Certificate"))
    return VerifyMsgCall(
        content=_base64(obj["Base64Content"], "Base64Content"),
        signature=_base64(obj["Signature"], "Signature"),
        certificate=None if certificate in (None, "") else _base64(certificate, "CertBase64"),
    )


def _flag(obj: Mapping[str, Any], key: str) -> bool:
    """A yes/no field as portals write it: ``"true"``/``"false"`` (strings), booleans, 1/0;
    absent is no."""
    return fields.flag(obj, key, default=False, bad="vgca_flag")


def parse_xml_call(text: str) -> XmlCall:
    """SignXML. ``XmlDsigForm`` is read and ignored: the signature is always an enveloped
    XMLDSig in the place the document's kind prescribes."""
    obj = json_or_text(text)
    if obj is None or "Base64Content" not in obj:
        raise BadRequest(Phrase.of("vgca_xml_fields"))
    _flag(obj, "XmlDsigForm")
    algorithm = obj.get("HashAlg")
    if algorithm is not None and not isinstance(algorithm, str):
        raise BadRequest(Phrase.of("bad_xml_digest", digest=repr(algorithm)))
    return XmlCall(
        xml=_base64(obj["Base64Content"], "Base64Content"),
        digest=XmlDigest.parse(algorithm) if algorithm else XmlDigest.SHA256,
        signature_only=_flag(obj, "ReturnSignatureOnly"),
    )


def parse_verify_xml_call(text: str) -> VerifyXmlCall:
    """VerifyXML: ``Data`` (the XML text, or its base64) or ``Base64Content``; ``Format``, when
    present, is ``XML``."""
    obj = json_or_text(text)
    if obj is None or ("Data" in obj) == ("Base64Content" in obj):
        raise BadRequest(Phrase.of("vgca_verify_xml_fields"))
    form = obj.get("Format")
    if form not in (None, "") and not (isinstance(form, str) and form.upper() == "XML"):
        raise BadRequest(Phrase.of("vgca_verify_xml_fields"))
    if "Base64Content" in obj:
        return VerifyXmlCall(_base64(obj["Base64Content"], "Base64Content"))
    data = obj["Data"]
    if isinstance(data, str) and data.lstrip().startswith("<"):
        return VerifyXmlCall(data.encode("utf-8"))
    return VerifyXmlCall(_base64(data, "Data"))


def parse_auth_call(text: str) -> AuthCall:
    """Auth: the message is the challenge (``vgca_auth(sender, "<%=Session["AuthCode"]%>")``).

    A JSON message is the challenge too, after the PIN rule: a page never sends a PIN."""
    json_or_text(text)  # refuses PIN-like fields when the challenge is a JSON object
    if not text.strip() or len(text) > MAX_AUTH_CODE:
        raise BadRequest(Phrase.of("vgca_auth_code", limit=MAX_AUTH_CODE))
    return AuthCall(text)


def parse_verify_call(obj: Mapping[str, Any]) -> VerifyCall:
    """VerifyPDF: ``FileName`` (URL)."""
    source = _url(obj, "FileName")
    if source is None:
        raise BadRequest(Phrase.of("vgca_verify_file_missing"))
    return VerifyCall(source, _text(obj, "JWTToken", MAX_JWT))


def name_from_url(url: str) -> str | None:
    """The last path segment of ``url``, decoded, as a document name for the prompt."""
    from urllib.parse import unquote, urlsplit

    segment = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])[:255]
    try:
        return document_name(segment, "FileName") if segment else None
    except BadRequest:
        return None
