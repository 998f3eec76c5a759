"""The BkavCA Signer Plugin wire protocol: ``*``-joined text in chunks, results as text.

What BKAV's public library (``BkavCAPlugin.js``, "BkavCA Signer Plugin 2.0") does, and so
what this module reads and writes:

* The page opens ``wss://localhost:8443`` and keeps the socket for many calls.
* A call is ``ID*arg1*arg2*…`` (``ID`` a number of :class:`Function`), followed by
  ``*BkavExtensionCallback`` when the page gave a callback, then ``*end``.
  ``SetLicenseKey`` also carries the page's host before ``*end``.
* The whole text is sent in pieces of exactly :data:`CHUNK` characters and a last, shorter
  piece (empty when the length is a multiple of :data:`CHUNK`): a frame shorter than
  :data:`CHUNK` ends a call (:mod:`agent.compat.bkav.wire`).
* The plugin answers one text frame ``RESULT*BkavExtensionCallback*end``; the library hands
  ``RESULT`` to the callback. Data results (a signed document, a CMS, the certificate list)
  are base64, and so are their failure codes (``"MTM="`` is ``"13"``, cancelled), which is
  how portals tell them apart; checks and settings answer a plain number (:class:`Shape`).

Text arguments that the page left ``undefined`` arrive as the word ``undefined`` (the
library concatenates them): they count as empty.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Final

from agent.errors import BadRequest, ErrorCode
from agent.messages import Phrase

PRODUCT: Final = "BkavCA Signer Plugin"
"""The plugin's name as BKAV's library and installer write it."""
CHUNK: Final = 114_271
"""Characters in each piece but the last of a call (the library's constant)."""
SEPARATOR: Final = "*"
END: Final = "end"
CALLBACK: Final = "BkavExtensionCallback"
"""The word that asks for a callback, and marks the reply that answers it."""
INFO: Final = "KysoAgentMessage"
"""Marks the frame that says in words why a call failed (sent just before its reply; the
library ignores frames without :data:`CALLBACK`)."""
EMPTY_WORDS: Final = frozenset({"", "undefined", "null"})
NO_SERIAL: Final = frozenset({"1", "0"})
"""What the library sends for "no certificate chosen" (``CertificateSerialNumber = "1"``)."""


class Shape(Enum):
    """How a function's result is written."""

    BASE64 = "base64"
    """Data in base64; a failure code is base64 too (``"Mw=="`` for 3)."""
    PLAIN = "plain"
    """A plain number (``"1"``, ``"-3"``) or text (the version)."""


class Function(IntEnum):
    """``FUNCTION_ID`` of the library (the numbers never change)."""

    SIGN_XML_BASE64 = 0
    SIGN_XML_BASE64_XPATH = 1
    SIGN_XML_FILE = 2
    SIGN_PDF_BASE64 = 3
    SIGN_PDF_FILE = 4
    SIGN_OOXML_BASE64 = 5
    SIGN_OOXML_FILE = 6
    PLUGIN_VALID = 7
    VERIFY_XML = 8
    VERIFY_PDF = 9
    VERIFY_OOXML = 10
    GET_CERT_INDEX = 11
    GET_ALL_CERT = 12
    GET_CERT_LIST_BY_FILTER = 13
    CHECK_OCSP_BY_SERIAL = 14
    CHECK_OCSP = 15
    CHECK_CRL = 16
    CHECK_VALID_TIME = 17
    CHECK_TOKEN = 18
    READ_PDF_BASE64_TO_TEXT = 19
    READ_PDF_FILE_TO_TEXT = 20
    READ_FORM_FIELDS_TO_TEXT = 21
    SET_AES_KEY = 22
    SET_USE_PKCS11 = 23
    CONVERT_FILE_TO_BASE64 = 24
    SET_DLL_NAME = 25
    SET_LICENSE_KEY = 26
    GET_ALL_EXTENSIONS = 27
    GET_SELF_EXTENSION = 28
    VALIDATE_CERTIFICATE = 29
    GET_VERSION = 30
    SET_PIN_CACHE = 31
    SET_GET_ATTRIBUTES_CERT_DEFAULT = 32
    DETECT_TOKEN = 33
    IMPORT_CERT = 34
    GET_TOKEN_INFOR = 35
    CHANGE_PIN_TOKEN = 36
    CHECK_LOGIN = 37
    SIGN_CMS_BASE64 = 38
    VERIFY_CMS = 39
    BKAV_CA_NATIVE_APP_VALIDATE = 40
    SET_CHECK_TOKEN_DEFAULT = 41
    SET_HASH_ALGORITHM = 42
    SET_ADD_CERT_CHAIN = 43
    SET_ADD_BASE64_CERT = 44
    SIGN_XML_DATA_LIST = 45
    SIGN_OOXML_DATA_LIST = 46
    SIGN_PDF_DATA_LIST = 47
    SIGN_DATA_LIST = 48
    FILE_BROWSER = 49
    GET_SYS_CONFIG = 50

    @property
    def shape(self) -> Shape:
        """How this function's result is written."""
        return Shape.BASE64 if self in _BASE64_RESULTS else Shape.PLAIN

    @property
    def label(self) -> str:
        """The library's name for it (``SignXMLBase64``), for messages and logs."""
        return _LABELS[self.value]


_LABELS: Final = (
    *("SignXMLBase64", "SignXMLBase64XPath", "SignXML", "SignPDFBase64", "SignPDFFile"),
    *("SignOOXMLBase64", "SignOOXMLFile", "PluginValid", "VerifyXML", "VerifyPDF"),
    *("VerifyOOXML", "GetCertIndex", "GetAllCert", "GetCertListByFilter"),
    *("CheckOCSPBySerial", "CheckOCSP", "CheckCRL", "CheckValidTime", "CheckToken"),
    *("ReadPDFBase64ToText", "ReadPDFFileToText", "ReadFormFieldsToText", "SetAESKey"),
    *("SetUsePKCS11", "ConvertFileToBase64", "SetDLLName", "SetLicenseKey"),
    *("GetAllExtensions", "GetSelfExtension", "ValidateCertificate", "GetVersion"),
    *("SetPINCache", "SetGetAttributesCertDefault", "DetectToken", "ImportCert"),
    *("GetTokenInfor", "ChangePINToken", "CheckLogin", "SignCMSBase64", "VerifyCMS"),
    *("BkavCANativeAppValidate", "SetCheckTokenDefault", "SetHashAlgorithm"),
    *("SetAddCertChain", "SetAddBase64Cert", "SignXMLDataList", "SignOOXMLDataList"),
    *("SignPDFDataList", "SignDataList", "FileBrowser", "GetSysConfig"),
)
"""The library's names (``FUNCTION_ID`` keys without ``ID``), in number order."""


_BASE64_RESULTS: Final = frozenset(
    {
        Function.SIGN_XML_BASE64,
        Function.SIGN_XML_BASE64_XPATH,
        Function.SIGN_PDF_BASE64,
        Function.SIGN_OOXML_BASE64,
        Function.GET_ALL_CERT,
        Function.GET_CERT_LIST_BY_FILTER,
        Function.SIGN_CMS_BASE64,
        Function.SIGN_XML_DATA_LIST,
        Function.SIGN_OOXML_DATA_LIST,
        Function.SIGN_PDF_DATA_LIST,
        Function.SIGN_DATA_LIST,
    }
)

PIN_FUNCTIONS: Final = frozenset(
    {Function.IMPORT_CERT, Function.CHANGE_PIN_TOKEN, Function.CHECK_LOGIN}
)
"""Functions whose arguments carry a PIN (or a PKCS#12 password) typed into the page."""
OFFICE_FUNCTIONS: Final = frozenset(
    {
        Function.SIGN_OOXML_BASE64,
        Function.SIGN_OOXML_FILE,
        Function.VERIFY_OOXML,
        Function.SIGN_OOXML_DATA_LIST,
    }
)
FILE_FUNCTIONS: Final = frozenset(
    {
        Function.SIGN_XML_FILE,
        Function.SIGN_PDF_FILE,
        Function.READ_PDF_FILE_TO_TEXT,
        Function.READ_FORM_FIELDS_TO_TEXT,
        Function.CONVERT_FILE_TO_BASE64,
        Function.FILE_BROWSER,
    }
)
"""Functions that name a file on the computer (or open a file chooser for a path)."""
SETTINGS: Final = frozenset(
    {
        Function.PLUGIN_VALID,
        Function.SET_AES_KEY,
        Function.SET_USE_PKCS11,
        Function.SET_DLL_NAME,
        Function.SET_LICENSE_KEY,
        Function.SET_PIN_CACHE,
        Function.SET_GET_ATTRIBUTES_CERT_DEFAULT,
        Function.SET_CHECK_TOKEN_DEFAULT,
        Function.SET_ADD_CERT_CHAIN,
        Function.SET_ADD_BASE64_CERT,
    }
)
"""Settings of the vendor's plugin the agent answers "done" to and does without: the licence
(the allow-list decides which sites may sign), the PKCS#11 library names (the agent's own
configuration), the PIN cache and its AES key (the agent's PIN policy; no PIN comes from a
page), the chain (always included)."""


class Code(IntEnum):
    """The plugin's result codes (BKAV's demo pages name them in these words)."""

    NO_PERMISSION = 0
    """"Không có quyền sử dụng chức năng này": what the plugin answers when its licence has no
    module for a function, so the agent's answer to what it does not offer."""
    OK = 1
    ENCRYPTED = 2
    CERTIFICATE_NOT_FOUND = 3
    BAD_INPUT = 4
    """"Dữ liệu đầu vào không đúng định dạng"."""
    SIGNING_FAILED = 5
    SAVE_FAILED = 6
    TOKEN_NOT_PRESENT = 7
    USER_CANCELLED = 13
    """"Người dùng hủy bỏ"."""


class VerifyCode(IntEnum):
    """Results of ``VerifyXML`` and ``VerifyPDF`` (BKAV's ``CheckVerifyResult``)."""

    VALID = 1
    LOAD_FAILED = -1
    NO_SIGNATURE = -2
    INVALID = -3
    CHANGED = -4
    NOT_TRUSTED = -8


ERROR_CODES: Final[Mapping[ErrorCode, Code]] = {
    ErrorCode.BAD_REQUEST: Code.BAD_INPUT,
    ErrorCode.PAYLOAD_TOO_LARGE: Code.BAD_INPUT,
    ErrorCode.ORIGIN_NOT_ALLOWED: Code.NO_PERMISSION,
    ErrorCode.USER_CANCELLED: Code.USER_CANCELLED,
    ErrorCode.CONSENT_TIMEOUT: Code.USER_CANCELLED,
    ErrorCode.TOKEN_NOT_PRESENT: Code.TOKEN_NOT_PRESENT,
    ErrorCode.CERTIFICATE_NOT_FOUND: Code.CERTIFICATE_NOT_FOUND,
    ErrorCode.CERTIFICATE_EXPIRED: Code.CERTIFICATE_NOT_FOUND,
    ErrorCode.CERTIFICATE_REVOKED: Code.CERTIFICATE_NOT_FOUND,
}
"""The agent's errors as the plugin's codes; any other is :attr:`Code.SIGNING_FAILED`."""


def code_for(error: ErrorCode) -> Code:
    """The plugin's code for one of the agent's errors."""
    return ERROR_CODES.get(error, Code.SIGNING_FAILED)


def result_text(code: int, shape: Shape) -> str:
    """A code as the callback receives it: ``"13"`` or, for data functions, ``"MTM="``."""
    plain = str(code)
    if shape is Shape.BASE64:
        return base64.b64encode(plain.encode("ascii")).decode("ascii")
    return plain


def reply_frame(result: str, callback: bool) -> str:
    """The frame that answers a call (the library passes ``result`` to the callback)."""
    return f"{result}{SEPARATOR}{CALLBACK}{SEPARATOR}{END}" if callback else f"{result}*{END}"


def info_frame(message: str) -> str:
    """The frame that says why a call failed, in words (base64 of UTF-8: it may hold ``*``)."""
    encoded = base64.b64encode(message.encode("utf-8")).decode("ascii")
    return f"{encoded}{SEPARATOR}{INFO}{SEPARATOR}{END}"


# --- a call and its arguments --------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """One call as it arrived: its function, its arguments, whether a callback waits."""

    function: Function | None
    """``None`` when the first field is not a known function number."""
    number: str
    """The first field as sent (for messages about an unknown function)."""
    args: tuple[str, ...]
    """The arguments between the number and the callback word (or ``*end``)."""
    callback: bool
    """The page asked for a callback: the reply carries :data:`CALLBACK`."""
    ended: bool = True
    """The text ended with ``*end``."""

    @property
    def shape(self) -> Shape:
        """How the reply is written (plain for an unknown function)."""
        return self.function.shape if self.function is not None else Shape.PLAIN

    def arg(self, index: int) -> str:
        """Argument ``index``, or ``""`` when missing, ``undefined`` or ``null``."""
        value = self.args[index] if index < len(self.args) else ""
        return "" if value.strip() in EMPTY_WORDS else value

    def need(self, count: int) -> None:
        """Refuse a call with fewer than ``count`` arguments."""
        if len(self.args) < count:
            raise BadRequest(
                _bad(
                    Phrase.of(
                        "bkav_arguments", function=self.label, expected=count, got=len(self.args)
                    )
                )
            )

    @property
    def label(self) -> str:
        """The function's name, or its number as sent."""
        return self.function.label if self.function is not None else self.number[:20]


def parse_message(text: str) -> Message:
    """The call ``text`` holds (never raises: a malformed call is answered, not dropped)."""
    suffix = SEPARATOR + END
    ended = text.endswith(suffix)
    fields = (text[: -len(suffix)] if ended else text).split(SEPARATOR)
    callback = len(fields) > 1 and fields[-1] == CALLBACK
    if callback:
        fields.pop()
    elif not ended and CALLBACK in fields:
        callback = True  # an unterminated call: answer its callback all the same
    number = fields[0].strip()
    function: Function | None = None
    if number.isdigit() and len(number) <= 3:
        try:
            function = Function(int(number))
        except ValueError:
            function = None
    args = tuple(fields[1:])
    if function is Function.SET_LICENSE_KEY and len(args) > 1:
        args = args[:1]  # the page's host, added by the library: never taken as its origin
    return Message(function, number, args, callback, ended)


def _bad(detail: Phrase) -> Phrase:
    return Phrase.of("compat_bad_message", product=PRODUCT, detail=detail)


def bad_message(detail: Phrase) -> BadRequest:
    """A refusal of the page's input, said in the plugin's name."""
    return BadRequest(_bad(detail))


def decode_base64(message: Message, index: int, field: str) -> bytes:
    """A required, non-empty base64 argument (a ``data:…;base64,`` prefix is allowed)."""
    return decode_text(message.arg(index), field)


def decode_text(value: str, field: str) -> bytes:
    """``value`` as base64 (a ``data:…;base64,`` prefix is allowed), required and non-empty."""
    value = value.strip()
    if value.startswith("data:") and "," in value:
        value = value.split(",", 1)[1]
    if not value:
        raise bad_message(Phrase.of("bkav_empty", field=field))
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise bad_message(Phrase.of("bkav_base64", field=field)) from None
    if not data:
        raise bad_message(Phrase.of("bkav_empty", field=field))
    return data


def serial_of(text: str) -> str | None:
    """A certificate serial number as hex (upper case, no leading zeros), or ``None`` for
    the library's "none chosen" and for text that is no serial number."""
    cleaned = "".join(text.split()).replace(":", "").upper()
    if cleaned in NO_SERIAL or cleaned.lower() in EMPTY_WORDS:
        return None
    if not cleaned or any(c not in "0123456789ABCDEF" for c in cleaned):
        return None
    return cleaned.lstrip("0") or "0"
