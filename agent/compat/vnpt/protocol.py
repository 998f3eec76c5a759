"""The VNPT-CA Plugin wire protocol: what ``vnpt-plugin.js`` sends and what it parses back.

The page opens ``wss://localhost:<port>/plugin`` once and keeps it open. Each call is one text
message, a JSON object::

    {"functionID": 2, "funcCallback": "signCallback", "args": [...], "domain": "portal.gov.vn"}

and each answer is one text message ``<result>*<funcCallback>``: the library splits it at
``*``, then hands ``<result>`` to ``window[funcCallback]`` or, for ``callbackDefault``, to the
promise of the call. So a result never contains ``*`` (:func:`reply_text`).

``<result>`` is plain text for the checks (``checkPlugin`` → ``1``, ``getVersion`` →
``1.0.4.3``, ``CheckToken`` → ``1``) and otherwise a compact JSON object whose first field is
``code``: ``{"code":0,"data":"<base64>","error":"","type":null,"serial":null}``. Some portals
read the code by splitting that text at ``:`` (``data.split(":")[1][0] !== '1'``), hence the
fixed field order and no spaces. The codes are the plugin's own (:class:`Code`).

``domain`` is the page's own claim of where it runs; it is read by nothing here. Who calls is
the WebSocket's ``Origin``, admitted before the socket opened.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Final

from agent.compat.fields import has_controls
from agent.errors import BadRequest, ErrorCode
from agent.messages import Phrase
from agent.protocol import b64encode, refuse_secrets

if TYPE_CHECKING:
    from cryptography import x509

PRODUCT: Final = "VNPT-CA Plugin"
DEFAULT_CALLBACK: Final = "callbackDefault"
"""What the library sends as ``funcCallback`` when the page gave no callback: the answer then
settles the call's promise."""
MAX_CALLBACK: Final = 128
REPORTED_VERSION: Final = "1.0.4.3"
"""``getVersion``'s answer: the plugin version whose functions this layer speaks. Portals
compare it (one refuses any other than ``1.0.4.3``); Kyso Agent's own version is in its status
report."""
_SEPARATOR: Final = "*"
_SEPARATOR_STAND_IN: Final = "\uff0a"  # FULLWIDTH ASTERISK: reads the same, splits nothing


class FunctionId(IntEnum):
    """``functionID`` as ``vnpt-plugin.js`` numbers its functions (``functionId`` table)."""

    GET_CERT_INFO = 0
    SIGN_XML = 1
    SIGN_PDF = 2
    SIGN_OFFICE = 3
    SIGN_CMS = 4
    CHOOSE_FILE = 5
    SET_LICENSE_KEY = 6
    CHECK_PLUGIN = 7
    SIGN_ARR_DATA = 8
    SIGN_HASH = 9
    SIGN_ARR_DATA_ADVANCED = 10
    GET_VERSION = 11
    SIGN_PDF_MULTIPLE_PAGES = 12
    CHECK_PLUGIN_ADVANCED = 13
    VALIDATE_CERTIFICATE = 14
    VALIDATE_CERTIFICATE_BASE64 = 15
    CHECK_VALID_TIME = 16
    CHECK_VALID_TIME_BASE64 = 17
    CHECK_OCSP = 18
    CHECK_OCSP_BASE64 = 19
    SHOW_CERTIFICATE_VIEWER = 20
    CHECK_CRL = 21
    CHECK_CRL_BASE64 = 22
    SET_LANGUAGE = 23
    SCAN = 24
    OPEN_DOCUMENT = 25
    BATCH_SCAN = 26
    HANDLE_FILE = 27
    DELETE_FILE = 28
    SET_IGNORE_LIST_FILES = 29
    GET_ALL_FILES = 30
    GET_FILE_PREVIEW = 31
    UPLOAD_FILE = 32
    GET_DATA_SCANNED = 33
    CHECK_TOKEN = 34
    SET_GET_CERT_FROM_USB_TOKEN = 35
    SET_GET_CERT_BY_PKCS11 = 36
    SET_SHOW_CERT_LIST_DIALOG = 37
    CONVERT_OFFICE_TO_PDF = 38
    GET_COMPUTER_INFO = 39
    CLEAR_PIN_CACHE = 40
    GET_ALL_CERTIFICATES = 45
    ADD_ISSUER_CERT = 46
    GET_ALL_CERTIFICATES_BASE64 = 47

    @property
    def vendor_name(self) -> str:
        """The library's name for it (``SignPDF``), as portal developers know it."""
        return _VENDOR_NAMES.get(self, "".join(p.title() for p in self.name.split("_")))


_VENDOR_NAMES: Final[Mapping[FunctionId, str]] = {
    FunctionId.GET_CERT_INFO: "GetCertInfo",
    FunctionId.SIGN_XML: "SignXML",
    FunctionId.SIGN_PDF: "SignPDF",
    FunctionId.SIGN_OFFICE: "SignOFFICE",
    FunctionId.SIGN_CMS: "SignCMS",
    FunctionId.CHOOSE_FILE: "chooseFile",
    FunctionId.SET_LICENSE_KEY: "setLicenseKey",
    FunctionId.CHECK_PLUGIN: "checkPlugin",
    FunctionId.SIGN_ARR_DATA: "signArrData",
    FunctionId.SIGN_HASH: "signHash",
    FunctionId.SIGN_ARR_DATA_ADVANCED: "signArrDataAdvanced",
    FunctionId.GET_VERSION: "getVersion",
    FunctionId.SIGN_PDF_MULTIPLE_PAGES: "SignPDFMultiplePages",
    FunctionId.CHECK_PLUGIN_ADVANCED: "checkPluginAdvanced",
    FunctionId.CHECK_OCSP: "CheckOCSP",
    FunctionId.CHECK_OCSP_BASE64: "CheckOCSPBase64",
    FunctionId.CHECK_CRL: "CheckCRL",
    FunctionId.CHECK_CRL_BASE64: "CheckCRLBase64",
    FunctionId.SET_GET_CERT_BY_PKCS11: "SetGetCertByPkcs11",
    FunctionId.GET_COMPUTER_INFO: "GetComputerInfo",
}


def function_label(number: int) -> str:
    """How a message names a function: ``ShowCertificateViewer (20)``, or the bare number."""
    try:
        return f"{FunctionId(number).vendor_name} ({number})"
    except ValueError:
        return f"functionID {number}"


class Code(IntEnum):
    """``code`` of a JSON result, as the plugin numbers it (portals' ``showMessage`` tables)."""

    OK = 0
    BAD_INPUT = 1
    """"Dữ liệu đầu vào không đúng định dạng". Also *success* for ``setLicenseKey`` and the
    ``Set…`` calls (:attr:`SETTING_OK`), as the plugin answers them."""
    NO_CERTIFICATE = 2
    """"Không lấy được thông tin chứng thư số": no token, no usable certificate."""
    SIGNING_FAILED = 3
    """"Có lỗi trong quá trình ký số"."""
    NO_PRIVATE_KEY = 4
    UNKNOWN = 5
    """"Lỗi không xác định"."""
    PDF_PAGE_MISSING = 6
    PDF_PAGE_NOT_FOUND = 7
    """"Ký pdf: trang đặt chữ ký không tồn tại"."""
    XML_TAG_NOT_FOUND = 8
    """"Ký xml: không tìm thấy thẻ ký số"."""
    PDF_FIELD_NOT_FOUND = 9
    INVALID_SIGNATURES = 10
    USER_CANCELLED = 11
    """"Người dùng hủy bỏ"."""
    FAILED = -1
    """What the plugin answers when it will not do a call at all (no licence for the domain);
    here: a function Kyso Agent does not offer."""

    SETTING_OK = 1
    """Success of ``setLicenseKey`` and the ``Set…`` calls: the plugin's own reuse of 1."""


_BY_ERROR: Final[Mapping[ErrorCode, Code]] = {
    ErrorCode.BAD_REQUEST: Code.BAD_INPUT,
    ErrorCode.PAYLOAD_TOO_LARGE: Code.BAD_INPUT,
    ErrorCode.USER_CANCELLED: Code.USER_CANCELLED,
    ErrorCode.CONSENT_TIMEOUT: Code.USER_CANCELLED,
    ErrorCode.TOKEN_NOT_PRESENT: Code.NO_CERTIFICATE,
    ErrorCode.CERTIFICATE_NOT_FOUND: Code.NO_CERTIFICATE,
    ErrorCode.CERTIFICATE_EXPIRED: Code.NO_CERTIFICATE,
    ErrorCode.CERTIFICATE_REVOKED: Code.NO_CERTIFICATE,
    ErrorCode.PIN_LOCKED: Code.SIGNING_FAILED,
    ErrorCode.SIGNING_FAILED: Code.SIGNING_FAILED,
    ErrorCode.TOKEN_MODULE_FAILED: Code.SIGNING_FAILED,
    ErrorCode.ORIGIN_NOT_ALLOWED: Code.FAILED,
}

# Refusals the plugin has a code of its own for, by the catalogue sentence that says them.
_BY_PHRASE: Final[Mapping[str, Code]] = {
    "place_page_outside": Code.PDF_PAGE_NOT_FOUND,
    "place_field_missing": Code.PDF_FIELD_NOT_FOUND,
    "place_field_missing_among": Code.PDF_FIELD_NOT_FOUND,
    "bad_xml_element_missing": Code.XML_TAG_NOT_FOUND,
    "bad_xml_id_missing": Code.XML_TAG_NOT_FOUND,
    "bad_xml_root_no_id": Code.XML_TAG_NOT_FOUND,
    "bad_xml_element_no_id": Code.XML_TAG_NOT_FOUND,
}


def code_for(error: ErrorCode, phrase: Phrase | None = None) -> Code:
    """The plugin's code for one of the agent's errors (a busy agent, an internal failure:
    :attr:`Code.UNKNOWN`)."""
    for key in _phrase_keys(phrase):
        if key in _BY_PHRASE:
            return _BY_PHRASE[key]
    return _BY_ERROR.get(error, Code.UNKNOWN)


def _phrase_keys(phrase: Phrase | None) -> Iterator[str]:
    """The phrase's key and those of the phrases it carries (a batch item's reason)."""
    while phrase is not None:
        yield phrase.key
        inner = [v for _, v in phrase.values if isinstance(v, Phrase)]
        phrase = inner[0] if inner else None


@dataclass(frozen=True)
class Result:
    """A JSON result, in the plugin's field order."""

    code: int
    """:class:`Code` (``1`` for a setting's success)."""
    data: str = ""
    """The signed document, signature or certificate, base64."""
    error: str = ""
    """Why it failed, for people; empty on success (portals test ``error !== ''``)."""
    type: str | None = None
    """A ``signArrDataAdvanced`` item's type, echoed."""
    serial: str | None = None
    """Serial number (hex) of the certificate that signed."""
    certificate: str | None = None
    """That certificate, base64 DER (this agent's addition, for pages that want it)."""

    def to_text(self) -> str:
        """Compact JSON: ``{"code":0,"data":…}``, fields in this order."""
        wire: dict[str, Any] = {
            "code": int(self.code),
            "data": self.data,
            "error": self.error,
            "type": self.type,
            "serial": self.serial,
        }
        if self.certificate is not None:
            wire["certificate"] = self.certificate
        return compact_json(wire)


def reply_text(result: str, callback: str) -> str:
    """``<result>*<callback>``. An asterisk can only be in a string of the result (a message,
    an echoed type), never in JSON's own syntax, so it is replaced there and nowhere else."""
    return f"{result.replace(_SEPARATOR, _SEPARATOR_STAND_IN)}{_SEPARATOR}{callback}"


@dataclass(frozen=True)
class Call:
    """One request."""

    function: int
    """``functionID`` (a number :class:`FunctionId` may not know)."""
    callback: str
    """``funcCallback``, echoed after the ``*`` of the answer."""
    args: tuple[Any, ...] = ()
    """``args``, as sent (strings, mostly; the option objects are JSON text)."""


class BadEnvelope(BadRequest):
    """The message is not a call; ``callback`` is where its answer goes all the same."""

    def __init__(self, phrase: Phrase, callback: str = DEFAULT_CALLBACK) -> None:
        super().__init__(phrase)
        self.callback = callback


def parse_call(text: str) -> Call:
    """The call a message makes.

    :raises BadEnvelope: not a JSON object, a ``functionID`` that is no integer, ``args`` not
        a list, or a field that looks like a PIN (the answer's callback is the message's own
        when it could be read).
    """
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        raise BadEnvelope(Phrase.of("vnpt_not_json")) from None
    if not isinstance(obj, dict):
        raise BadEnvelope(Phrase.of("vnpt_not_json"))
    callback = _callback(obj.get("funcCallback"))
    try:
        refuse_secrets(obj)
    except BadRequest as exc:
        raise BadEnvelope(exc.phrase or Phrase.of("vnpt_not_json"), callback) from exc
    number = obj.get("functionID")
    # ASCII digits only, and few: str.isdigit() admits "²", which int() refuses, and int()
    # refuses strings of thousands of digits.
    if isinstance(number, str) and number.strip().isascii() and number.strip().isdigit():
        number = int(number) if len(number.strip()) <= 6 else -1
    if isinstance(number, bool) or not isinstance(number, int):
        raise BadEnvelope(Phrase.of("vnpt_function_id"), callback)
    args = obj.get("args", [])
    if args is None:
        args = []
    if not isinstance(args, list):
        raise BadEnvelope(Phrase.of("vnpt_args"), callback)
    return Call(number, callback, tuple(args))


def _callback(value: Any) -> str:
    """``funcCallback``: the library sends a function's ``name`` (``""`` for an anonymous one,
    which the answer then names too) or ``callbackDefault``."""
    if value is None:
        return DEFAULT_CALLBACK
    if (
        not isinstance(value, str)
        or len(value) > MAX_CALLBACK
        or _SEPARATOR in value
        or has_controls(value)
    ):
        raise BadEnvelope(Phrase.of("vnpt_callback", limit=MAX_CALLBACK))
    return value


# --- arguments -------------------------------------------------------------------------------

_DATA_URL: Final = re.compile(r"^data:[\w.+/-]*;base64,", re.IGNORECASE)


def text_arg(call: Call, index: int, name: str, *, required: bool = True) -> str | None:
    """``args[index]`` as a string; ``None`` when absent, null or empty and not ``required``."""
    value = call.args[index] if index < len(call.args) else None
    if value is None or value == "":
        if required:
            raise BadRequest(Phrase.of("vnpt_arg_missing", name=name, index=index))
        return None
    if not isinstance(value, str):
        raise BadRequest(Phrase.of("vnpt_arg_text", name=name))
    return value


def base64_data(value: str, name: str) -> bytes:
    """Standard base64, as portals send file contents: whitespace (wrapped lines) and a
    ``data:…;base64,`` prefix are tolerated; empty data is not."""
    compact = "".join(_DATA_URL.sub("", value.strip(), count=1).split())
    try:
        decoded = base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise BadRequest(Phrase.of("vnpt_base64", name=name)) from None
    if not decoded:
        raise BadRequest(Phrase.of("vnpt_base64", name=name))
    return decoded


def options_arg(value: Any, name: str) -> dict[str, Any]:
    """An option object: the library sends ``JSON.stringify(options)``, which is ``"null"``
    when the page passed none; an object already decoded is taken too. Nothing in it may look
    like a PIN."""
    if value is None or (isinstance(value, str) and value.strip() in ("", "null", "undefined")):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):
            raise BadRequest(Phrase.of("vnpt_options", name=name)) from None
        if value is None:
            return {}
    if not isinstance(value, dict):
        raise BadRequest(Phrase.of("vnpt_options", name=name))
    refuse_secrets(value)
    return value


def flag_arg(call: Call, index: int) -> bool:
    """A ``"0"``/``"1"`` argument (``clearPIN``, ``isShowCertList``); absent is ``False``."""
    value = call.args[index] if index < len(call.args) else None
    return value in ("1", 1, True, "true")


def serial_text(serial_number: int) -> str:
    """A certificate serial as the plugin writes it: upper-case hex, whole bytes."""
    digits = format(serial_number, "X")
    return digits if len(digits) % 2 == 0 else "0" + digits


def certificate_info(der: bytes) -> dict[str, str]:
    """``GetCertInfo``'s answer: what portals read (``serial``, ``base64``, ``subjectCN``,
    ``issuerCN``, ``notBefore``, ``notAfter``, which they pass to ``new Date``) and the full
    names."""
    # Imported here: the layer's socket handling uses this module, and an agent whose VNPT
    # layer no page calls never loads cryptography (docs/performance.md).
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    return {
        "serial": serial_text(cert.serial_number),
        "base64": b64encode(der),
        "subjectCN": _common_name(cert.subject),
        "issuerCN": _common_name(cert.issuer),
        "subject": cert.subject.rfc4514_string(),
        "issuer": cert.issuer.rfc4514_string(),
        "notBefore": cert.not_valid_before_utc.strftime(_TIME),
        "notAfter": cert.not_valid_after_utc.strftime(_TIME),
    }


_TIME: Final = "%Y-%m-%dT%H:%M:%SZ"


def _common_name(name: x509.Name) -> str:
    from cryptography.x509.oid import NameOID

    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(values[0].value) if values else name.rfc4514_string()


def compact_json(value: Any) -> str:
    """JSON as the plugin writes it: no spaces, non-ASCII as it is."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def is_pin_refusal(error: BadRequest) -> bool:
    """The request was refused because a field looked like a PIN (at any depth)."""
    return "bad_pin_field" in _phrase_keys(error.phrase)
