"""What each VNPT-CA Plugin function does, in terms of :class:`~agent.service.SigningService`.

=========================  ================================================================
function                   Kyso Agent
=========================  ================================================================
checkPlugin (7)            ``1``
getVersion (11)            :data:`~agent.compat.vnpt.protocol.REPORTED_VERSION`
CheckToken (34)            ``1`` when a token with a signing certificate is plugged in, else
                           ``0`` (``token_present``: no question, nothing about whose it is)
setLicenseKey (6)          licensed (``code`` 1): the allow-list decides which sites may call
Set…, ClearPinCache        success (``code`` 1); the agent's own settings and PIN policy hold
GetCertInfo (0)            ``select_certificate``: the user picks; the certificate's fields
GetAllCertificates (45)    the same question; a list of the one certificate picked
signHash (9)               ``sign``: a raw signature over the page's digest
SignCMS (4)                ``sign_cms`` over the data's SHA-256, the data put inside
SignPDF (2), …Multiple…    ``sign_pdf`` with the PdfSigner's place and image (one page)
SignXML (1)                ``sign_xml``, placed as the XmlSigner says
signArrDataAdvanced (10)   each item as above; only XML items: one question
                           (``sign_xml_batch``); PDF items: one question for them all
                           (``sign_pdf_batch``)
SignOFFICE (3)             not offered (``compat_office_unsupported``)
anything else              not offered (``compat_unsupported``)
=========================  ================================================================

Every answer is the plugin's shape (:mod:`agent.compat.vnpt.protocol`); a failure is a JSON
result with the plugin's code and the agent's message, in the agent's language. Nothing a page
sends makes this raise: the socket keeps serving.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from cryptography import x509

from agent.algorithms import HashAlgorithm
from agent.compat.certificates import GivenCertificates
from agent.compat.vnpt import options as opts
from agent.compat.vnpt.cms import attach_content
from agent.compat.vnpt.options import Item, ItemKind
from agent.compat.vnpt.protocol import (
    DEFAULT_CALLBACK,
    PRODUCT,
    REPORTED_VERSION,
    BadEnvelope,
    Call,
    Code,
    FunctionId,
    Result,
    base64_data,
    certificate_info,
    code_for,
    compact_json,
    function_label,
    is_pin_refusal,
    options_arg,
    parse_call,
    reply_text,
    serial_text,
    text_arg,
)
from agent.errors import AgentError, BadRequest
from agent.messages import Lang, Phrase, text
from agent.origin import Admitted
from agent.protocol import (
    MAX_PDF_BATCH,
    CertificatesRequest,
    CmsSignRequest,
    DigestToSign,
    PdfBatchSignRequest,
    PdfSignRequest,
    SignRequest,
    XmlDocumentRequest,
    XmlSignRequest,
    b64encode,
)
from agent.server.budget import SMALL, BudgetLimits, MemoryBudget
from agent.server.middlewares import MemoryRelease
from agent.service import SigningService

log = logging.getLogger(__name__)

Answer = str | Result
"""A plain-text result (``1``, a version, a certificate's JSON) or a JSON result."""
Handler = Callable[[Call, Admitted], Awaitable[Answer]]

_SETTINGS: Final = frozenset(
    {
        FunctionId.SET_GET_CERT_FROM_USB_TOKEN,
        FunctionId.SET_GET_CERT_BY_PKCS11,
        FunctionId.SET_SHOW_CERT_LIST_DIALOG,
        FunctionId.SET_LANGUAGE,
        FunctionId.CLEAR_PIN_CACHE,
    }
)
"""Calls that tune the plugin: the agent keeps its own settings (token modules, language, PIN
policy) and answers them as done."""


@dataclass(frozen=True)
class Signed:
    """One signature made, as the results report it."""

    data: bytes
    """The signed document, CMS or signature value."""
    certificate: bytes
    """The signer's certificate, DER."""

    def result(self, item_type: str | None = None) -> Result:
        """The plugin's success result."""
        cert = x509.load_der_x509_certificate(self.certificate)
        return Result(
            Code.OK,
            data=b64encode(self.data),
            type=item_type,
            serial=serial_text(cert.serial_number),
            certificate=b64encode(self.certificate),
        )


Work = Callable[[], Awaitable[Signed]]
"""One signature, checked and ready: calling it asks the user and signs."""


class VnptFunctions:
    """Answers the calls of every page on this port."""

    def __init__(
        self,
        service: SigningService,
        *,
        lang: Lang,
        budget: MemoryBudget | None = None,
        memory: MemoryRelease | None = None,
    ) -> None:
        self._service = service
        self._lang = lang
        self._budget = budget or MemoryBudget(BudgetLimits.for_largest(256 * 1024 * 1024))
        self._memory = memory or MemoryRelease()
        # GetCertInfo's pick, named again by CertificateSerial and signArrDataAdvanced's serial.
        self._given = GivenCertificates()
        self._handlers: Mapping[FunctionId, Handler] = {
            FunctionId.CHECK_PLUGIN: self._check_plugin,
            FunctionId.GET_VERSION: self._version,
            FunctionId.CHECK_TOKEN: self._check_token,
            FunctionId.SET_LICENSE_KEY: self._licence,
            **{function: self._setting for function in _SETTINGS},
            FunctionId.GET_CERT_INFO: self._cert_info,
            FunctionId.GET_ALL_CERTIFICATES: self._all_certificates,
            FunctionId.SIGN_HASH: self._sign_hash,
            FunctionId.SIGN_CMS: self._sign_cms,
            FunctionId.SIGN_PDF: self._sign_pdf,
            FunctionId.SIGN_PDF_MULTIPLE_PAGES: self._sign_pdf_pages,
            FunctionId.SIGN_XML: self._sign_xml,
            FunctionId.SIGN_ARR_DATA_ADVANCED: self._sign_items,
            FunctionId.SIGN_OFFICE: self._office,
        }

    async def handle(self, message: str, caller: Admitted) -> str:
        """The answer to one message of ``caller``'s page: ``<result>*<callback>``. Never
        raises."""
        try:
            call = parse_call(message)
        except BadEnvelope as exc:
            log.info("vnpt: a message from %s is not a call: %s", caller, exc.detail)
            return reply_text(self._refusal(exc).to_text(), exc.callback)
        except Exception:  # a parsing fault must not end the page's socket
            log.exception("vnpt: reading a message from %s failed", caller)
            failed = Result(Code.UNKNOWN, error=text("INTERNAL", self._lang))
            return reply_text(failed.to_text(), DEFAULT_CALLBACK)
        try:
            answer = await self._run(call, caller, len(message))
        except AgentError as exc:
            label = function_label(call.function)
            log.info("vnpt %s from %s: %s %s", label, caller, exc.code.value, exc.detail)
            answer = self._failure(exc)
        except Exception:
            log.exception("vnpt %s from %s failed", function_label(call.function), caller)
            answer = Result(Code.UNKNOWN, error=text("INTERNAL", self._lang))
        return reply_text(answer if isinstance(answer, str) else answer.to_text(), call.callback)

    async def _run(self, call: Call, caller: Admitted, size: int) -> Answer:
        try:
            handler = self._handlers.get(FunctionId(call.function))
        except ValueError:
            handler = None
        if handler is None:
            return self._unsupported(call)
        # A document travels inside the message and stays in memory until it is answered:
        # reserved in the budget the HTTPS API's bodies share (agent/server/budget.py).
        try:
            async with self._budget.hold(str(caller), size):
                return await handler(call, caller)
        finally:
            if size > SMALL:
                self._memory.schedule()

    # --- answers ---------------------------------------------------------------------------

    def _failure(self, exc: AgentError) -> Result:
        if isinstance(exc, BadRequest) and is_pin_refusal(exc):
            return Result(Code.BAD_INPUT, error=text("compat_pin_refused", self._lang))
        return Result(code_for(exc.code, exc.phrase), error=exc.public_message(self._lang))

    def _refusal(self, exc: BadEnvelope) -> Result:
        if is_pin_refusal(exc):
            return Result(Code.BAD_INPUT, error=text("compat_pin_refused", self._lang))
        detail = exc.phrase.render(self._lang) if exc.phrase else exc.detail
        message = text("compat_bad_message", self._lang, product=PRODUCT, detail=detail)
        return Result(Code.BAD_INPUT, error=message)

    def _unsupported(self, call: Call) -> Result:
        label = function_label(call.function)
        log.info("vnpt: %s is not offered", label)
        message = text("compat_unsupported", self._lang, function=label, product=PRODUCT)
        return Result(Code.FAILED, error=message)

    async def _check_plugin(self, _call: Call, _caller: Admitted) -> Answer:
        return "1"

    async def _version(self, _call: Call, _caller: Admitted) -> Answer:
        return REPORTED_VERSION

    async def _check_token(self, _call: Call, _caller: Admitted) -> Answer:
        return "1" if await self._service.token_present() else "0"

    async def _licence(self, call: Call, _caller: Admitted) -> Answer:
        """Licensed, whatever the licence says: which sites may call is the allow-list's
        decision (the licence is a signed file naming the page's own ``domain``)."""
        text_arg(call, 0, "license", required=False)
        return Result(Code.SETTING_OK, error=text("vnpt_licensed", self._lang))

    async def _setting(self, _call: Call, _caller: Admitted) -> Answer:
        return Result(Code.SETTING_OK)

    async def _office(self, _call: Call, _caller: Admitted) -> Answer:
        return Result(Code.FAILED, error=text("compat_office_unsupported", self._lang))

    # --- certificates ------------------------------------------------------------------------

    async def _pick(self, caller: Admitted) -> dict[str, str]:
        given = await self._service.select_certificate(caller, CertificatesRequest())
        self._given.remember(caller, given.certificate)
        return certificate_info(given.certificate)

    async def _cert_info(self, _call: Call, caller: Admitted) -> Answer:
        """The user picks the certificate (a question, as on the API); ``isOnlyFromToken`` and
        a serial named by the page change nothing: only the user says which one the page
        sees."""
        return compact_json(await self._pick(caller))

    async def _all_certificates(self, _call: Call, caller: Admitted) -> Answer:
        """The plugin lists every certificate of the machine; the agent shows a page none
        without the user's consent, so the list holds the one the user picks."""
        return compact_json([compact_json(await self._pick(caller))])

    # --- signatures --------------------------------------------------------------------------

    async def _sign_hash(self, call: Call, caller: Admitted) -> Answer:
        """args: [base64 digest, (algorithm)]: a raw signature (PKCS#1 v1.5; ECDSA ``r‖s``)."""
        digest = base64_data(text_arg(call, 0, "data") or "", "data")
        named = opts.hash_algorithm(call.args[1] if len(call.args) > 1 else None)
        work = self._hash_work(digest, opts.digest_of_page(digest, named), None, caller)
        return (await work()).result()

    async def _sign_cms(self, call: Call, caller: Admitted) -> Answer:
        """args: [base64 data]: a CMS with the data inside (:mod:`agent.compat.vnpt.cms`)."""
        data = base64_data(text_arg(call, 0, "data") or "", "data")
        work = self._cms_work(data, HashAlgorithm.SHA256, None, caller, attached=True)
        return (await work()).result()

    async def _sign_pdf(self, call: Call, caller: Admitted) -> Answer:
        return (await self._pdf_call(call, caller, multiple_pages=False)).result()

    async def _sign_pdf_pages(self, call: Call, caller: Admitted) -> Answer:
        return (await self._pdf_call(call, caller, multiple_pages=True)).result()

    async def _pdf_call(self, call: Call, caller: Admitted, *, multiple_pages: bool) -> Signed:
        """args: [base64 PDF, JSON PdfSigner]."""
        pdf = base64_data(text_arg(call, 0, "data") or "", "data")
        signer = options_arg(call.args[1] if len(call.args) > 1 else None, "PdfSigner")
        work = self._pdf_work(pdf, signer, None, caller, multiple_pages=multiple_pages)
        return await work()

    async def _sign_xml(self, call: Call, caller: Admitted) -> Answer:
        """args: [XML (text or base64), JSON XmlSigner]."""
        xml = opts.xml_data(text_arg(call, 0, "data") or "", "data")
        signer = options_arg(call.args[1] if len(call.args) > 1 else None, "XmlSigner")
        work = await self._xml_work(xml, signer, None, caller)
        return (await work()).result()

    async def _sign_items(self, call: Call, caller: Admitted) -> Answer:
        """args: [JSON array of JSON items, serial, clearPIN, isShowCertList]: an array of JSON
        results, one per item, in order. Every item is checked before anyone is asked; XML
        items alone are signed together after one question, PDF items (two or more) together
        after one question at the first one's turn, other items one by one; the first that
        fails stops the rest."""
        parsed = opts.items(text_arg(call, 0, "arrData") or "")
        serial = text_arg(call, 1, "serial", required=False)
        if any(isinstance(p, BadRequest) for p in parsed):
            return self._results(parsed)
        items = [p for p in parsed if isinstance(p, Item)]
        if len(items) > 1 and all(i.kind is ItemKind.XML for i in items):
            return await self._xml_batch(items, serial, caller)
        works: list[Work | PdfSignRequest | BadRequest] = []
        for index, item in enumerate(items):
            try:
                works.append(await self._item_work(item, serial, caller))
            except BadRequest as exc:
                works.append(_in_item(index, exc))
        if any(isinstance(w, BadRequest) for w in works):
            return self._results(
                [w if isinstance(w, BadRequest) else i for i, w in zip(items, works, strict=True)]
            )
        pdfs = [
            (index, items[index], work)
            for index, work in enumerate(works)
            if isinstance(work, PdfSignRequest)
        ]
        results: dict[int, Result] = {}
        halt: Callable[[Item], Result] | None = None
        for index, (item, work) in enumerate(zip(items, works, strict=True)):
            assert not isinstance(work, BadRequest)  # noqa: S101 - refused above
            if index in results:
                continue
            if halt is not None:
                results[index] = halt(item)
                continue
            if isinstance(work, PdfSignRequest) and len(pdfs) > 1:
                halt = await self._pdf_batches(pdfs, results, caller)
                continue
            sign = self._pdf_signing(work, caller) if isinstance(work, PdfSignRequest) else work
            try:
                results[index] = (await sign()).result(item.type)
            except AgentError as exc:
                log.info("vnpt item from %s: %s %s", caller, exc.code.value, exc.detail)
                results[index] = _typed(self._failure(exc), item.type)
                halt = self._not_attempted
        return compact_json([results[index].to_text() for index in range(len(items))])

    async def _pdf_batches(
        self,
        pdfs: Sequence[tuple[int, Item, PdfSignRequest]],
        results: dict[int, Result],
        caller: Admitted,
    ) -> Callable[[Item], Result] | None:
        """Sign the PDF items together, writing their results into ``results`` by index: one
        question for those naming the same certificate, :data:`MAX_PDF_BATCH` at most each.
        What the items left in the list get when this ends them (Stop, a failure), or
        ``None``."""
        groups: dict[bytes | None, list[tuple[int, Item, PdfSignRequest]]] = {}
        for entry in pdfs:
            groups.setdefault(entry[2].certificate, []).append(entry)
        halt: Callable[[Item], Result] | None = None
        for certificate, group in groups.items():
            for start in range(0, len(group), MAX_PDF_BATCH):
                chunk = group[start : start + MAX_PDF_BATCH]
                if halt is not None:
                    results.update((index, halt(item)) for index, item, _ in chunk)
                    continue
                halt = await self._pdf_batch(chunk, certificate, results, caller)
        return halt

    async def _pdf_batch(
        self,
        chunk: Sequence[tuple[int, Item, PdfSignRequest]],
        certificate: bytes | None,
        results: dict[int, Result],
        caller: Admitted,
    ) -> Callable[[Item], Result] | None:
        request = PdfBatchSignRequest(tuple(r for _, _, r in chunk), certificate)
        try:
            done = await self._service.sign_pdf_batch(caller, request)
        except AgentError as exc:
            # Nothing signed: the one question covered every item, so its answer is each one's.
            log.info("vnpt PDF items from %s: %s %s", caller, exc.code.value, exc.detail)
            failure = self._failure(exc)
            results.update((index, _typed(failure, item.type)) for index, item, _ in chunk)
            return self._not_attempted
        for (index, item, _), pdf in zip(chunk, done.signed_bytes(), strict=False):
            results[index] = Signed(pdf, done.certificate).result(item.type)
        rest = chunk[len(done.signed) :]
        if done.stopped:
            results.update((index, self._stopped(item)) for index, item, _ in rest)
            return self._stopped
        if done.error is not None:
            (index, item, _), *after = rest
            results[index] = _typed(self._failure(done.error), item.type)
            results.update((i, self._not_attempted(it)) for i, it, _ in after)
            return self._not_attempted
        return None

    def _results(self, entries: Sequence[BadRequest | Item]) -> str:
        """Nothing signed: each refused item says why, the others that they were not tried."""
        results = [
            self._failure(e) if isinstance(e, BadRequest) else self._not_attempted(e)
            for e in entries
        ]
        return compact_json([r.to_text() for r in results])

    def _not_attempted(self, item: Item) -> Result:
        return Result(Code.FAILED, error=text("vnpt_not_attempted", self._lang), type=item.type)

    def _stopped(self, item: Item) -> Result:
        """An item not signed because the user pressed Stop: the code of a cancel."""
        return Result(Code.USER_CANCELLED, error=text("vnpt_stopped", self._lang), type=item.type)

    async def _xml_batch(self, items: Sequence[Item], serial: str | None, caller: Admitted) -> str:
        documents: list[XmlDocumentRequest] = []
        chosen = serial
        for index, item in enumerate(items):
            try:
                choice = opts.xml_choice(item.options)
                spec = await opts.placement(item.data, choice)
            except BadRequest as exc:
                entries: list[BadRequest | Item] = list(items)
                entries[index] = _in_item(index, exc)
                return self._results(entries)
            chosen = chosen or choice.serial
            documents.append(XmlDocumentRequest(item.data, spec, choice.digest))
        request = XmlSignRequest(tuple(documents), self._given.find(caller, chosen))
        try:
            signed = await self._service.sign_xml_batch(caller, request)
        except AgentError as exc:
            log.info("vnpt XML items from %s: %s %s", caller, exc.code.value, exc.detail)
            failure = self._failure(exc)
            return compact_json([_typed(failure, i.type).to_text() for i in items])
        return compact_json(
            [
                Signed(document.xml, signed.certificate).result(item.type).to_text()
                for item, document in zip(items, signed.documents, strict=True)
            ]
        )

    async def _item_work(
        self, item: Item, serial: str | None, caller: Admitted
    ) -> Work | PdfSignRequest:
        """One item's signature, checked (a hash item: a detached CMS over the digest); a PDF
        item's request, which may be signed with the list's other PDF items."""
        if item.kind is ItemKind.PDF:
            choice = opts.pdf_choice(item.options, multiple_pages=False)
            certificate = self._given.find(caller, serial or choice.serial)
            request = PdfSignRequest(item.data, choice.options, certificate=certificate)
            # Every PDF of the batch must be fit before the first question (a page that does
            # not exist, a field that is not there): none is signed if one cannot be.
            await self._service.check_pdf(request)
            return request
        if item.kind is ItemKind.XML:
            return await self._xml_work(item.data, item.options, serial, caller)
        if item.kind is ItemKind.HASH:
            return self._hash_work(item.data, item.hash, serial, caller, cms=True)
        attached = item.kind is ItemKind.CMS
        return self._cms_work(item.data, item.hash, serial, caller, attached=attached)

    # --- work: checked now, asked and signed when called -------------------------------------

    def _hash_work(
        self,
        digest: bytes,
        algorithm: HashAlgorithm,
        serial: str | None,
        caller: Admitted,
        *,
        cms: bool = False,
    ) -> Work:
        shown = text("vnpt_hash_document", self._lang, algorithm=algorithm.value)
        item = DigestToSign(digest, algorithm, shown)
        certificate = self._given.find(caller, serial)

        async def sign() -> Signed:
            if cms:
                made = await self._service.sign_cms(caller, CmsSignRequest(item, certificate))
                return Signed(made.cms, made.certificate)
            raw = await self._service.sign(caller, SignRequest(item, certificate))
            return Signed(raw.signature, raw.certificate)

        return sign

    def _cms_work(
        self,
        data: bytes,
        algorithm: HashAlgorithm,
        serial: str | None,
        caller: Admitted,
        *,
        attached: bool,
    ) -> Work:
        shown = text("vnpt_data_document", self._lang, size=len(data))
        digest = algorithm.digest(data)
        request = CmsSignRequest(
            DigestToSign(digest, algorithm, shown), self._given.find(caller, serial)
        )

        async def sign() -> Signed:
            made = await self._service.sign_cms(caller, request)
            cms = made.cms
            if attached:
                cms = await asyncio.to_thread(attach_content, made.cms, data)
            return Signed(cms, made.certificate)

        return sign

    def _pdf_work(
        self,
        pdf: bytes,
        signer: Mapping[str, Any],
        serial: str | None,
        caller: Admitted,
        *,
        multiple_pages: bool,
    ) -> Work:
        choice = opts.pdf_choice(signer, multiple_pages=multiple_pages)
        certificate = self._given.find(caller, serial or choice.serial)
        return self._pdf_signing(
            PdfSignRequest(pdf, choice.options, certificate=certificate), caller
        )

    def _pdf_signing(self, request: PdfSignRequest, caller: Admitted) -> Work:
        async def sign() -> Signed:
            made = await self._service.sign_pdf(caller, request)
            return Signed(made.signed_bytes(), made.certificate)

        return sign

    async def _xml_work(
        self, xml: bytes, signer: Mapping[str, Any], serial: str | None, caller: Admitted
    ) -> Work:
        choice = opts.xml_choice(signer)
        spec = await opts.placement(xml, choice)
        document = XmlDocumentRequest(xml, spec, choice.digest)
        request = XmlSignRequest((document,), self._given.find(caller, serial or choice.serial))

        async def sign() -> Signed:
            made = await self._service.sign_xml(caller, request)
            return Signed(made.document.xml, made.certificate)

        return sign


def _in_item(index: int, exc: BadRequest) -> BadRequest:
    reason = exc.phrase or exc.detail
    return BadRequest(Phrase.of("vnpt_item", index=index, reason=reason))


def _typed(result: Result, item_type: str) -> Result:
    return Result(result.code, result.data, result.error, item_type, result.serial)
