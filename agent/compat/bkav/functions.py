"""What each plugin function does, in terms of :class:`~agent.service.SigningService` calls.

Every signature goes through the same question, PIN dialog, token and audit as the HTTPS
API; the origin is the one the socket was admitted with, never the host a page writes into
``SetLicenseKey``. What the plugin would do and the agent does not (local files, Office
documents, a PIN typed into the page, the machine's name and MAC address) is answered with
the plugin's "no permission" code and, in a frame of its own, the reason in words.

=====================================  ==============================================
function (number)                      what the agent does
=====================================  ==============================================
SignXMLBase64 (0), …XPath (1)          ``sign_xml``: one question, the document's summary
SignXMLDataList (45)                   ``sign_xml_batch``: one question for the list
SignPDFBase64 (3)                      ``sign_pdf``, ``personal`` stamp
SignCMSBase64 (38)                     ``sign_cms`` over the data's SHA-256
GetAllCert (12), GetCertListByFilter   ``select_certificate``: the one the user shows
VerifyXML (8), VerifyPDF (9)           ``verify_xml`` / ``verify_pdf``: no question
SetHashAlgorithm (42)                  SHA-1 or SHA-256 for this socket's XML signatures
GetVersion (30), PluginValid (7), Set…  answered; settings the agent does without
ImportCert, ChangePINToken, CheckLogin  refused: a PIN never comes from a page
SignOOXML… (5, 6, 10, 46)              refused: Office documents
=====================================  ==============================================
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from cryptography import x509

from agent import __version__
from agent.algorithms import HashAlgorithm
from agent.compat.bkav.calls import (
    parse_cms,
    parse_filter,
    parse_hash_choice,
    parse_pdf,
    parse_xml_call,
)
from agent.compat.bkav.certs import certificate_list, matches
from agent.compat.bkav.protocol import (
    FILE_FUNCTIONS,
    OFFICE_FUNCTIONS,
    PIN_FUNCTIONS,
    PRODUCT,
    SETTINGS,
    Code,
    Function,
    Message,
    VerifyCode,
    bad_message,
    code_for,
    decode_base64,
    parse_message,
    result_text,
)
from agent.compat.bkav.xmlplace import placement_for
from agent.compat.certificates import GivenCertificates
from agent.errors import AgentError, BadRequest, InternalError, PayloadTooLarge
from agent.messages import Lang, Phrase
from agent.origin import Admitted
from agent.pdf.models import PdfSignOptions
from agent.protocol import (
    CertificatesRequest,
    CmsSignRequest,
    DigestToSign,
    PdfSignRequest,
    PdfVerifyRequest,
    XmlDocumentRequest,
    XmlSignRequest,
    XmlVerifyRequest,
    b64encode,
)
from agent.service import SigningService
from agent.xml.models import XmlDigest

log = logging.getLogger(__name__)


@dataclass
class Connection:
    """One socket: who it was admitted for, and what the page set on it.

    Not frozen: ``SetHashAlgorithm`` changes it for the calls that follow on the socket.
    """

    caller: Admitted
    """The page's admitted origin (``request[CALLER]``)."""
    xml_digest: XmlDigest = XmlDigest.SHA256
    """``SetHashAlgorithm``: SHA-1 only when the page asked for it, and only for XML."""


@dataclass(frozen=True)
class Reply:
    """What the callback receives, and why in words when the call failed."""

    result: str
    """The callback's argument: base64 data, a base64 code, a plain number or text."""
    reason: str | None = None
    """Sent before the reply in the info frame; ``None`` on success."""


@dataclass(frozen=True)
class Answer:
    """A call's reply and whether a callback waits for it."""

    reply: Reply
    callback: bool
    function: Function | None


Handler = Callable[[Message, Connection], Awaitable[Reply]]


class BkavFunctions:
    """Answers the calls of every socket of the layer."""

    def __init__(
        self,
        service: SigningService,
        *,
        lang: Lang,
        max_document_bytes: int,
        memory: GivenCertificates | None = None,
    ) -> None:
        """``max_document_bytes``: the largest PDF or XML (``max_pdf_bytes``)."""
        self._service = service
        self._lang = lang
        self._max_document = max_document_bytes
        self._memory = memory or GivenCertificates()
        self._handlers: Mapping[Function, Handler] = {
            Function.SIGN_XML_BASE64: self._sign_xml,
            Function.SIGN_XML_BASE64_XPATH: self._sign_xml,
            Function.SIGN_XML_DATA_LIST: self._sign_xml,
            Function.SIGN_PDF_BASE64: self._sign_pdf,
            Function.SIGN_CMS_BASE64: self._sign_cms,
            Function.GET_ALL_CERT: self._certificates,
            Function.GET_CERT_LIST_BY_FILTER: self._certificates,
            Function.VERIFY_XML: self._verify_xml,
            Function.VERIFY_PDF: self._verify_pdf,
            Function.SET_HASH_ALGORITHM: self._set_hash,
            Function.GET_VERSION: self._version,
        }

    async def handle(self, text: str, connection: Connection) -> Answer:
        """The answer to one call; never raises."""
        message = parse_message(text)
        try:
            reply = await self._dispatch(message, connection)
        except AgentError as exc:
            log.info(
                "bkav %s from %s: %s %s",
                message.label,
                connection.caller,
                exc.code.value,
                exc.detail,
            )
            reply = self._failure(code_for(exc.code), message, self._reason(exc))
        except Exception:  # a fault of the agent: the page gets an answer, the log the trace
            log.exception("bkav %s from %s failed", message.label, connection.caller)
            reason = InternalError().public_message(self._lang)
            reply = self._failure(Code.SIGNING_FAILED, message, reason)
        return Answer(reply, message.callback, message.function)

    def dropped(self, text: str, size: int, limit: int) -> Answer:
        """The answer to a call larger than ``limit`` characters (read and dropped)."""
        message = parse_message(text)
        log.info("bkav %s: %d characters, more than %d", message.label, size, limit)
        error = PayloadTooLarge(limit)
        reply = self._failure(code_for(error.code), message, error.public_message(self._lang))
        return Answer(reply, message.callback, message.function)

    def refused(self, text: str, error: AgentError) -> Answer:
        """The answer to a call refused before it was read (no room in the memory budget)."""
        message = parse_message(text)
        log.info("bkav %s refused: %s %s", message.label, error.code.value, error.detail)
        reply = self._failure(code_for(error.code), message, self._reason(error))
        return Answer(reply, message.callback, message.function)

    def _reason(self, error: AgentError) -> str:
        # A refusal of the page's input is said once, not inside "Invalid request: …".
        if isinstance(error, BadRequest) and error.phrase is not None:
            return error.phrase.render(self._lang)
        return error.public_message(self._lang)

    def _failure(self, code: int, message: Message, reason: str) -> Reply:
        return Reply(result_text(code, message.shape), reason)

    def _refusal(self, message: Message, connection: Connection, phrase: Phrase) -> Reply:
        log.info("bkav %s from %s refused: %s", message.label, connection.caller, phrase)
        return self._failure(Code.NO_PERMISSION, message, phrase.render(self._lang))

    async def _dispatch(self, message: Message, connection: Connection) -> Reply:
        function = message.function
        if not message.ended:
            raise bad_message(Phrase.of("bkav_no_end"))
        if function is None:
            if not message.number.isdigit():
                raise bad_message(Phrase.of("bkav_function", function=message.number[:20]))
            return self._refusal(message, connection, _unsupported(message.number[:20]))
        if function in PIN_FUNCTIONS:
            # Whatever it holds is never read, logged or kept.
            return self._refusal(message, connection, Phrase.of("compat_pin_refused"))
        if function in OFFICE_FUNCTIONS:
            return self._refusal(message, connection, Phrase.of("compat_office_unsupported"))
        if function in FILE_FUNCTIONS:
            return self._refusal(
                message, connection, Phrase.of("bkav_file_path", function=function.label)
            )
        if function in SETTINGS:
            return Reply(result_text(Code.OK, function.shape))
        handler = self._handlers.get(function)
        if handler is None:
            return self._refusal(message, connection, _unsupported(function.label))
        return await handler(message, connection)

    # --- settings and information ------------------------------------------------------

    async def _set_hash(self, message: Message, connection: Connection) -> Reply:
        sha1 = parse_hash_choice(message)
        connection.xml_digest = XmlDigest.SHA1 if sha1 else XmlDigest.SHA256
        return Reply(result_text(Code.OK, message.shape))

    async def _version(self, _message: Message, _connection: Connection) -> Reply:
        return Reply(__version__)

    async def _certificates(self, message: Message, connection: Connection) -> Reply:
        """The certificate the user chooses to show the site, if it passes the page's filter."""
        wanted = parse_filter(message)
        chosen = await self._service.select_certificate(connection.caller, CertificatesRequest())
        self._memory.remember(connection.caller, chosen.certificate)
        shown = [chosen.certificate]
        if not matches(x509.load_der_x509_certificate(chosen.certificate), wanted):
            shown = []
        return Reply(b64encode(certificate_list(shown)))

    # --- signatures ----------------------------------------------------------------------

    def _certificate(self, connection: Connection, serial: str | None) -> bytes | None:
        found = self._memory.find(connection.caller, serial)
        if serial is not None and found is None:
            # Not one this site was shown: the user picks in the question.
            log.info("bkav: serial %s not shown to %s; the user chooses", serial, connection.caller)
        return found

    def _bounded(self, size: int) -> None:
        if size > self._max_document:
            raise PayloadTooLarge(self._max_document)

    async def _sign_xml(self, message: Message, connection: Connection) -> Reply:
        call = parse_xml_call(message)
        self._bounded(sum(len(d) for d in call.documents))
        specs = await asyncio.to_thread(
            lambda: [placement_for(document, call.tags) for document in call.documents]
        )
        request = XmlSignRequest(
            tuple(
                XmlDocumentRequest(document, spec, connection.xml_digest)
                for document, spec in zip(call.documents, specs, strict=True)
            ),
            self._certificate(connection, call.serial),
        )
        if message.function is not Function.SIGN_XML_DATA_LIST:
            signed = await self._service.sign_xml(connection.caller, request)
            return Reply(b64encode(signed.document.xml))
        batch = await self._service.sign_xml_batch(connection.caller, request)
        return Reply(call.separator.join(b64encode(d.xml) for d in batch.documents))

    async def _sign_pdf(self, message: Message, connection: Connection) -> Reply:
        call = parse_pdf(message)
        self._bounded(len(call.pdf))
        if connection.xml_digest is XmlDigest.SHA1:
            log.info("bkav: SHA-1 asked for; a PDF signature is made with SHA-256")
        name = Phrase.of("bkav_pdf_document", size=len(call.pdf)).render(self._lang)
        request = PdfSignRequest(
            pdf=call.pdf,
            options=PdfSignOptions(appearance=call.appearance),
            document_name=name,
            certificate=self._certificate(connection, call.serial),
        )
        signed = await self._service.sign_pdf(connection.caller, request)
        return Reply(b64encode(signed.signed_bytes()))

    async def _sign_cms(self, message: Message, connection: Connection) -> Reply:
        call = parse_cms(message)
        self._bounded(len(call.data))
        digest = await asyncio.to_thread(lambda: hashlib.sha256(call.data).digest())
        name = Phrase.of("bkav_cms_document", size=len(call.data)).render(self._lang)
        request = CmsSignRequest(
            DigestToSign(digest, HashAlgorithm.SHA256, name),
            self._certificate(connection, call.serial),
        )
        signed = await self._service.sign_cms(connection.caller, request)
        return Reply(b64encode(signed.cms))

    # --- verification (no question: nothing is signed) ----------------------------------

    async def _verify_xml(self, message: Message, _connection: Connection) -> Reply:
        message.need(1)
        data = decode_base64(message, 0, "Base64Signed")
        self._bounded(len(data))
        try:
            answer = await self._service.verify_xml(XmlVerifyRequest(data), self._lang)
        except BadRequest:
            return Reply(str(int(VerifyCode.LOAD_FAILED)))
        checks = [(s.intact, s.value_ok, s.trusted) for s in answer.report.signatures]
        return Reply(str(int(_verdict(checks))))

    async def _verify_pdf(self, message: Message, _connection: Connection) -> Reply:
        message.need(1)
        data = decode_base64(message, 0, "Base64Signed")
        self._bounded(len(data))
        try:
            answer = await self._service.verify_pdf(PdfVerifyRequest(data), self._lang)
        except BadRequest:
            return Reply(str(int(VerifyCode.LOAD_FAILED)))
        checks = [(s.intact, s.valid, s.trusted) for s in answer.report.signatures]
        return Reply(str(int(_verdict(checks))))


def _verdict(checks: list[tuple[bool, bool, bool]]) -> VerifyCode:
    """The plugin's one code for every signature: the first problem found, in its order."""
    if not checks:
        return VerifyCode.NO_SIGNATURE
    if not all(intact for intact, _, _ in checks):
        return VerifyCode.CHANGED
    if not all(valid for _, valid, _ in checks):
        return VerifyCode.INVALID
    if not all(trusted for _, _, trusted in checks):
        return VerifyCode.NOT_TRUSTED
    return VerifyCode.VALID


def _unsupported(function: str) -> Phrase:
    return Phrase.of("compat_unsupported", function=function, product=PRODUCT)
