"""The signing service: what each command does, from the admitted origin to the result.

:class:`SigningService` finds the certificates (:mod:`agent.service.certificates`), waits for
the token when none is in (:mod:`agent.service.waiting`), asks the user (always: no request
option can skip the question), logs in with the PIN the user typed for this very operation,
signs (many documents: :mod:`agent.service.batches`), and logs out. A wrong PIN is asked
again, never retried.

The PDF work after the question is :mod:`agent.pdf.commands`'s, one coroutine per step;
the PDF stack (pyHanko, fontTools, Pillow) is imported there by the first PDF request.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from agent import __version__
from agent.algorithms import HashAlgorithm, RsaScheme, signature_algorithm_name
from agent.audit import (
    OUTCOME_ABANDONED,
    OUTCOME_CERTIFICATE_GIVEN,
    OUTCOME_SIGNED,
    AuditLog,
    RequestAudit,
)
from agent.consent.activity import ActivityKind, ActivityRequest
from agent.consent.gate import PromptGate
from agent.consent.pin_cache import PinCache
from agent.consent.prompter import (
    MAX_PREVIEW_BYTES,
    PREVIEW_SIDE,
    DocumentView,
    PagePreview,
    PromptAction,
    PromptAnswer,
    Prompter,
    PromptRequest,
    RetryReason,
)
from agent.errors import (
    AgentError,
    BadRequest,
    PinIncorrect,
    PinLocked,
    UserCancelled,
)
from agent.messages import Lang, Phrase
from agent.origin import Admitted
from agent.pairing import PairingStore
from agent.pdf import commands as pdf
from agent.pdf.models import PdfSignOptions, SignatureLevel
from agent.pdf.process import InThread, PdfWork
from agent.pin import Login, TriesLeft
from agent.protocol import (
    API_VERSION,
    BatchSignRequest,
    BatchSignResponse,
    CertificateResponse,
    CertificatesRequest,
    CmsSignRequest,
    CmsSignResponse,
    DigestToSign,
    PdfBatchSignRequest,
    PdfBatchSignResponse,
    PdfSignRequest,
    PdfSignResponse,
    PdfVerifyRequest,
    PdfVerifyResponse,
    SignedXml,
    SignRequest,
    SignResponse,
    TokenRef,
    XmlBatchSignResponse,
    XmlSignRequest,
    XmlSignResponse,
    XmlVerifyRequest,
    XmlVerifyResponse,
)
from agent.service.batches import (
    PROGRESS_AFTER_SECONDS,
    BatchOutcome,
    in_batch,
    sign_digests_in_steps,
    sign_one_by_one,
)
from agent.service.certificates import (
    build_chain,
    candidates,
    check_certificate,
    choice,
    picked,
    pin_request_for,
    subject_of,
    token_key,
    unlocked,
)
from agent.service.waiting import MISSING, wait_for_token
from agent.spool import Spool, SpooledFile, discard, finished, spooled
from agent.token import Inventory, TokenCertificate
from agent.token.held import one_login
from agent.token.service import Tokens
from agent.xml import commands as xml

log = logging.getLogger(__name__)

T = TypeVar("T")

Operation = Callable[[TokenCertificate, Login, tuple[bytes, ...]], Awaitable[tuple[T, int]]]
"""What to do with the key once the user approved: (certificate, PIN, issuer chain) →
(result, number of signatures made)."""


@dataclass(frozen=True)
class Signed:
    """Signatures made with one certificate."""

    certificate: TokenCertificate
    signatures: tuple[bytes, ...]
    algorithms: tuple[str, ...]
    """JOSE-style algorithm of each signature."""


class SigningService:
    """The agent's commands, independent of transport."""

    def __init__(
        self,
        tokens: Tokens,
        prompter: Prompter,
        *,
        lang: Lang = Lang.VI,
        gate: PromptGate | None = None,
        pairing: PairingStore | None = None,
        pin_cache: PinCache | None = None,
        audit: AuditLog | None = None,
        trust_roots: Sequence[bytes] = (),
        check_revocation: bool = True,
        font_dir: Path | None = None,
        tsa_url: str | None = None,
        token_wait: float = 0.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        pdf_work: PdfWork | None = None,
        spool: Spool | None = None,
    ) -> None:
        """``token_wait``: seconds to wait for a token the user is asked to plug in (0: no
        wait, the request fails at once). ``pdf_work``: where the PDF work runs (child
        processes in the agent; by default threads). ``spool``: where a document uploaded as a
        file is signed to (without one, the signed file is given back as bytes)."""
        self._tokens = tokens
        self._prompter = prompter
        self._lang = lang
        self._gate = gate or PromptGate()
        self._pairing = pairing
        self._pins = pin_cache if pin_cache is not None else PinCache(0)
        self._audit = audit
        self._trust_roots = tuple(trust_roots)
        self._check_revocation = check_revocation
        self._font_dir = font_dir
        self._tsa_url = tsa_url
        self._token_wait = token_wait
        self._clock = clock
        self._pdf_work: PdfWork = pdf_work or InThread()
        self._spool = spool

    async def close(self) -> None:
        """End the PDF workers (the agent is stopping)."""
        await self._pdf_work.close()

    @staticmethod
    def info() -> dict[str, object]:
        """``GET /v1/info``: no token or identity data."""
        return {"product": "kyso-agent", "version": __version__, "api": API_VERSION}

    def session_locked(self) -> None:
        """The user's desktop session locked: forget cached PINs."""
        if len(self._pins):
            log.info("session locked; cached PINs forgotten")
        self._pins.clear()

    async def _inventory(self, *, rescan: bool = False) -> Inventory:
        inventory = await self._tokens.inventory(rescan=rescan)
        # A token that is gone takes its cached PIN with it.
        self._pins.retain(token_key(t.id) for t in inventory.tokens)
        return inventory

    async def token_present(self) -> bool:
        """A token holding a signing certificate is plugged in: what plugins' token checks
        tell an admitted page. Nothing is asked and nothing is signed; which certificate, and
        whose, still needs the user's consent (:meth:`select_certificate`)."""
        inventory = await self._inventory()
        return bool(inventory.signing_certificates)

    async def _usable(
        self, requested: bytes | None, scheme: RsaScheme | None, *, rescan: bool = False
    ) -> tuple[Inventory, list[TokenCertificate]]:
        """The inventory and the certificates this request may use (or the refusal)."""
        inventory = await self._inventory(rescan=rescan)
        return inventory, candidates(inventory, requested, scheme, self._clock())

    async def _usable_or_missing(
        self, requested: bytes | None, scheme: RsaScheme | None
    ) -> tuple[Inventory, list[TokenCertificate]] | AgentError:
        """:meth:`_usable`, or the reason to ask the user to plug the token in (when the
        agent may wait for it); other refusals are raised."""
        try:
            return await self._usable(requested, scheme)
        except MISSING as missing:
            if not self._token_wait:
                raise
            return missing

    async def _wait_for_token(
        self,
        caller: Admitted,
        requested: bytes | None,
        scheme: RsaScheme | None,
        missing: AgentError,
    ) -> tuple[Inventory, list[TokenCertificate]]:
        """Ask for the token and look for it every second, up to the prompt timeout.

        Called in the origin's turn (one window at a time). The user's Cancel, or no token in
        time, counts as a declined prompt for the back-off, as an unanswered question does.
        """
        request = ActivityRequest(
            ActivityKind.WAIT_TOKEN,
            str(caller),
            self._lang,
            seconds=self._token_wait,
            certificate=subject_of(requested),
        )
        log.info("no usable token for %s (%s); asking for it", caller, missing.detail)

        async def look(rescan: bool) -> tuple[Inventory, list[TokenCertificate]]:
            return await self._usable(requested, scheme, rescan=rescan)

        try:
            return await wait_for_token(self._prompter, request, look, missing)
        except (AgentError, asyncio.CancelledError):
            # A page that goes away counts too: else it could raise the window over and over.
            self._gate.record(str(caller), declined=True)
            raise

    def is_paired(self, origin: str) -> bool:
        """Whether the user paired ``origin`` (answered its first question)."""
        return self._pairing is not None and self._pairing.is_paired(origin)

    def _is_first_use(self, caller: Admitted) -> bool:
        if not caller.via_wildcard:
            return False
        return self._pairing is None or not self._pairing.is_paired(str(caller))

    async def _ask(
        self, request: PromptRequest, audit: RequestAudit, offered: Sequence[TokenCertificate]
    ) -> tuple[PromptAnswer, TokenCertificate]:
        """Ask; return the answer and the certificate picked, or raise on any refusal."""
        audit.first_use = audit.first_use or request.first_use
        try:
            answer = await self._prompter.ask(request)
            if not answer.approved:
                raise UserCancelled(f"user declined {request.action.value} for {request.origin}")
            cert = picked(answer, offered)
        except (AgentError, asyncio.CancelledError):
            # A page that goes away counts too: else it could open and close the dialog over
            # and over (each time taking the keyboard) with no back-off.
            self._gate.record(request.origin, declined=True)
            raise
        self._gate.record(request.origin, declined=False)
        audit.certificate = cert
        if request.first_use and self._pairing is not None:
            self._pairing.pair(request.origin)
            log.info("origin %s paired on first use", request.origin)
        return answer, cert

    async def _audited(self, audit: RequestAudit, outcome: str) -> None:
        await self._recording(audit, outcome)

    def _abandoned(self, audit: RequestAudit) -> None:
        """The row of a request cancelled after it reached the question (its page went away,
        or the agent is stopping), written though nobody waits for it."""
        if self._audit is not None:
            self._audit.record_later(audit.entry(OUTCOME_ABANDONED))

    def _recording(self, audit: RequestAudit, outcome: str) -> Awaitable[object]:
        """Start writing the audit row; awaiting the result waits for its commit."""
        if self._audit is None:
            return asyncio.sleep(0)
        return self._audit.submit(audit.entry(outcome))

    async def select_certificate(
        self, caller: Admitted, _request: CertificatesRequest
    ) -> CertificateResponse:
        """``POST /v1/certificates``: the user picks which certificate the portal sees."""
        usable = await self._usable_or_missing(None, None)
        audit = RequestAudit(caller, PromptAction.SELECT_CERTIFICATE, ())
        async with self._gate.turn(str(caller), wildcard=caller.via_wildcard):
            try:
                if isinstance(usable, AgentError):
                    usable = await self._wait_for_token(caller, None, None, usable)
                inventory, offered = usable
                _answer, cert = await self._ask(
                    PromptRequest(
                        action=PromptAction.SELECT_CERTIFICATE,
                        origin=str(caller),
                        certificates=tuple(choice(c) for c in offered),
                        lang=self._lang,
                        first_use=self._is_first_use(caller),
                    ),
                    audit,
                    offered,
                )
            except AgentError as exc:
                await self._audited(audit, exc.code.value)
                raise
            except asyncio.CancelledError:
                self._abandoned(audit)
                raise
            await self._audited(audit, OUTCOME_CERTIFICATE_GIVEN)
        log.info("certificate %s… given to %s", cert.fingerprint[:16], caller)
        key_type = cert.key_type
        assert key_type is not None  # noqa: S101 - guaranteed by signing_certificates
        return CertificateResponse(
            certificate=cert.der,
            chain=build_chain(cert, inventory.certificates),
            key_type=key_type,
            token=TokenRef(cert.token.label, cert.token.serial),
        )

    async def _signing(
        self,
        caller: Admitted,
        items: Sequence[DigestToSign],
        requested: bytes | None,
        scheme: RsaScheme | None,
        operation: Operation[T],
        *,
        source: str | None = None,
        destination: str | None = None,
        time_stamp: str | None = None,
        summaries: Sequence[tuple[str, ...]] = (),
        preview: PagePreview | None = None,
        file: Path | None = None,
    ) -> tuple[TokenCertificate, T]:
        """Offer certificates, ask, check the chosen one, run ``operation``, audit.

        ``source``, ``destination``: other origins the documents come from or go to.
        ``time_stamp``: the time-stamping authority the signature's digest is sent to.
        ``summaries``: what each document says it is, shown beside it (XML documents).
        ``preview``, ``file``: a single PDF's page preview and private copy for the viewer.
        """
        usable = await self._usable_or_missing(requested, scheme)
        if not isinstance(usable, AgentError):
            unlocked(usable[1])  # refused before the question, not after a wait in line
        shown = summaries or [()] * len(items)
        documents = tuple(
            DocumentView(i.document_name, i.digest, i.algorithm, source, destination, summary)
            for i, summary in zip(items, shown, strict=True)
        )
        if preview is not None or file is not None:
            [single] = documents
            documents = (dataclasses.replace(single, preview=preview, file=file),)
        audit = RequestAudit(caller, PromptAction.SIGN, documents)
        audit.time_stamp = time_stamp
        async with self._gate.turn(str(caller), wildcard=caller.via_wildcard):
            try:
                if isinstance(usable, AgentError):
                    usable = await self._wait_for_token(caller, requested, scheme, usable)
                inventory, candidates = usable
                cert, result, count = await self._consent_and_sign(
                    caller=caller,
                    offered=unlocked(candidates),
                    documents=documents,
                    operation=operation,
                    inventory=inventory,
                    audit=audit,
                )
            except AgentError as exc:
                await self._audited(audit, exc.code.value)
                raise
            except asyncio.CancelledError:
                self._abandoned(audit)
                raise
            audit.signatures = count
            # Recorded before the signatures leave the agent: nothing returned goes unaudited.
            # The log line is written while the row is being committed.
            committed = self._recording(audit, OUTCOME_SIGNED)
            log.info(
                "signed %d item(s) for %s with certificate %s…",
                count,
                caller,
                cert.fingerprint[:16],
            )
            await committed
        return cert, result

    async def _sign_digests(
        self,
        caller: Admitted,
        items: Sequence[DigestToSign],
        requested: bytes | None,
        scheme: RsaScheme | None,
    ) -> Signed:
        work: list[tuple[bytes, HashAlgorithm]] = [(i.digest, i.algorithm) for i in items]
        rsa_scheme = scheme or RsaScheme.PKCS1V15

        async def operation(
            cert: TokenCertificate, login: Login, _chain: tuple[bytes, ...]
        ) -> tuple[list[bytes], int]:
            names = [i.document_name for i in items]
            signatures = await self._sign_digests_shown(
                caller, cert, work, names, scheme=rsa_scheme, login=login
            )
            return signatures, len(signatures)

        cert, signatures = await self._signing(caller, items, requested, scheme, operation)
        key_type = cert.key_type
        assert key_type is not None  # noqa: S101 - guaranteed by signing_certificates
        # A batch has a thousand items and one or two hash algorithms: name each once.
        names = {
            a: signature_algorithm_name(key_type, rsa_scheme, a)
            for a in {i.algorithm for i in items}
        }
        return Signed(cert, tuple(signatures), tuple(names[i.algorithm] for i in items))

    async def _sign_digests_shown(
        self,
        caller: Admitted,
        cert: TokenCertificate,
        work: Sequence[tuple[bytes, HashAlgorithm]],
        names: Sequence[str | None],
        *,
        scheme: RsaScheme,
        login: Login,
    ) -> list[bytes]:
        """Sign the digests of a hash or XML batch (``names[i]``: whose ``work[i]`` is): one in
        one call, more in steps with progress and Stop (on a real token twenty signatures can
        take twenty seconds: the window shows them after :data:`PROGRESS_AFTER_SECONDS`)."""
        if len(work) == 1:
            return await self._tokens.sign(cert, work, scheme, login)
        request = ActivityRequest(
            ActivityKind.PROGRESS,
            str(caller),
            self._lang,
            total=len(work),
            appear_after=PROGRESS_AFTER_SECONDS,
        )
        return await sign_digests_in_steps(
            self._prompter,
            self._tokens,
            request,
            cert,
            work,
            names=names,
            scheme=scheme,
            login=login,
        )

    def _signing_key(
        self, cert: TokenCertificate, login: Login, chain: tuple[bytes, ...]
    ) -> pdf.SigningKey:
        """The token key of ``cert``, as the PDF layer signs with it."""
        key_type = cert.key_type
        assert key_type is not None  # noqa: S101 - guaranteed by signing_certificates

        async def raw(digest: bytes, algorithm: HashAlgorithm) -> bytes:
            signatures = await self._tokens.sign(
                cert, [(digest, algorithm)], RsaScheme.PKCS1V15, login
            )
            return signatures[0]

        return pdf.SigningKey(cert.der, chain, key_type, raw)

    def _configured_tsa_only(self, chosen: str | None) -> None:
        """A page may name only the time-stamping authority this computer is configured with.

        The agent fetches whatever URL it is given, after the user approved the signature: a
        page choosing it freely (through the API or any plugin layer) would send the agent to
        an address of its choice (an internal service, another program on 127.0.0.1) and learn
        from the answer.
        """
        if chosen is not None and chosen != self._tsa_url:
            raise BadRequest(
                Phrase.of("bad_tsa_not_configured", configured=self._tsa_url)
                if self._tsa_url
                else Phrase.of("bad_tsa_none_configured")
            )

    async def check_pdf(self, request: PdfSignRequest) -> None:
        """What :meth:`sign_pdf` refuses before its question, without asking: for a batch of
        a plugin layer, whose every document must be fit before the first one is signed."""
        self._configured_tsa_only(request.options.tsa_url)
        async with pdf.job(self._pdf_work) as work:
            await work.prepare(0, _source(request.pdf), request.options.appearance)

    async def sign_pdf(
        self,
        caller: Admitted,
        request: PdfSignRequest,
        *,
        source: str | None = None,
        destination: str | None = None,
    ) -> PdfSignResponse:
        """``POST /v1/pdf/sign``: one question showing the PDF's name and SHA-256, the page the
        stamp goes on (the first for an invisible signature) and a copy to open in a viewer.

        ``source``, ``destination``: the origins the agent fetched the PDF from and will send
        it to for the page, when not the page's own (the VGCA protocol); the question shows
        them and the audit trail keeps them.
        """
        # Refusals that need no token come before the question, never after it.
        self._configured_tsa_only(request.options.tsa_url)
        if isinstance(request.pdf, bytes) and self._spool is not None:
            # The PDF worker reads and writes files: bytes go through the spool too, and come
            # back as bytes (a plugin layer's, base64 in JSON).
            upload = await self._spool.from_bytes(request.pdf)
            try:
                made = await self.sign_pdf(
                    caller,
                    dataclasses.replace(request, pdf=upload),
                    source=source,
                    destination=destination,
                )
            finally:
                discard(upload)
            try:
                return PdfSignResponse(await asyncio.to_thread(made.signed_bytes), made.certificate)
            finally:
                discard(*spooled((made.pdf,)))
        done: PdfSignResponse | None = None
        try:
            async with pdf.job(self._pdf_work) as work:
                await work.prepare(0, _source(request.pdf), request.options.appearance)
                done = await self._sign_prepared_pdf(
                    caller, request, work, source=source, destination=destination
                )
        except BaseException:
            # Cancelled while the PDF worker was being handed back: the signed file is nobody's.
            if done is not None:
                discard(*spooled((done.pdf,)))
            raise
        return done

    async def _sign_prepared_pdf(
        self,
        caller: Admitted,
        request: PdfSignRequest,
        work: pdf.PdfJob,
        *,
        source: str | None,
        destination: str | None,
    ) -> PdfSignResponse:
        """:meth:`sign_pdf` once its document (key 0 of ``work``) is prepared."""
        document = request.pdf
        digest = await asyncio.to_thread(_sha256, document)
        item = DigestToSign(digest, HashAlgorithm.SHA256, request.document_name)
        # What the user is shown besides the name: the page the stamp goes on, and the whole
        # document to open in their own viewer (a copy that lives as long as this request).
        shows = self._prompter.shows_documents
        thumbnail = (
            await work.thumbnail(0, side=PREVIEW_SIDE, max_bytes=MAX_PREVIEW_BYTES)
            if shows
            else None
        )
        preview = (
            PagePreview(thumbnail.png, thumbnail.page_index + 1, thumbnail.pages, thumbnail.stamp)
            if thumbnail is not None
            else None
        )
        # A document uploaded as a file is signed into a file beside it: never whole in memory.
        output = (
            self._spool.new_path()
            if isinstance(document, SpooledFile) and self._spool is not None
            else None
        )

        async def operation(
            cert: TokenCertificate, login: Login, chain: tuple[bytes, ...]
        ) -> tuple[bytes | None, int]:
            signed = await work.sign(
                0,
                self._signing_key(cert, login, chain),
                options=request.options,
                trust_roots=self._trust_roots,
                font_dir=self._font_dir,
                output=output,
            )
            return signed, 1

        try:
            async with pdf.viewer_copy(_source(request.pdf), request.document_name, shows) as copy:
                cert, signed = await self._signing(
                    caller,
                    [item],
                    request.certificate,
                    None,
                    operation,
                    source=source,
                    destination=destination,
                    time_stamp=_time_stamp_url(request.options),
                    preview=preview,
                    file=copy,
                )
            if output is not None:
                return PdfSignResponse(await finished(output), cert.der)
        except BaseException:
            discard(output)
            raise
        assert signed is not None  # noqa: S101 - signed to bytes when there is no output
        return PdfSignResponse(signed, cert.der)

    async def sign_pdf_batch(
        self,
        caller: Admitted,
        request: PdfBatchSignRequest,
        *,
        source: str | None = None,
        destination: str | None = None,
    ) -> PdfBatchSignResponse:
        """``POST /v1/pdf/sign/batch``: one question listing every PDF (name and SHA-256), one
        login, then the documents signed in order with their progress shown; Stop ends the
        batch after the document being signed, and the answer gives those signed so far.

        Every document is checked before the question (its options, its stamp's place), so
        that no refusal follows the user's consent.
        """
        for document in request.documents:
            self._configured_tsa_only(document.options.tsa_url)
        done: PdfBatchSignResponse | None = None
        try:
            async with pdf.job(self._pdf_work) as work:
                for index, document in enumerate(request.documents):
                    await in_batch(
                        index,
                        work.prepare(index, _source(document.pdf), document.options.appearance),
                    )
                done = await self._sign_prepared_batch(
                    caller, request, work, source=source, destination=destination
                )
        except BaseException:
            # Cancelled while the PDF worker was being handed back: the signed files are nobody's.
            if done is not None:
                discard(*spooled(done.signed))
            raise
        return done

    async def _sign_prepared_batch(
        self,
        caller: Admitted,
        request: PdfBatchSignRequest,
        work: pdf.PdfJob,
        *,
        source: str | None,
        destination: str | None,
    ) -> PdfBatchSignResponse:
        """:meth:`sign_pdf_batch` once every document is prepared (keyed by its index)."""
        digests = await asyncio.to_thread(lambda: [_sha256(d.pdf) for d in request.documents])
        items = [
            DigestToSign(digest, HashAlgorithm.SHA256, d.document_name)
            for digest, d in zip(digests, request.documents, strict=True)
        ]
        total = len(request.documents)
        names = [d.document_name for d in request.documents]
        # Documents uploaded as files are signed into files beside them (never whole in
        # memory); until the answer takes them over, they are this request's to remove.
        outputs: list[Path] = []

        async def sign_one(key: pdf.SigningKey, index: int) -> bytes | SpooledFile:
            document = request.documents[index]
            output = (
                self._spool.new_path()
                if isinstance(document.pdf, SpooledFile) and self._spool is not None
                else None
            )
            if output is not None:
                outputs.append(output)
            signed = await work.sign(
                index,
                key,
                options=document.options,
                trust_roots=self._trust_roots,
                font_dir=self._font_dir,
                output=output,
            )
            if output is not None:
                return await finished(output)
            assert signed is not None  # noqa: S101 - no output file: bytes
            return signed

        async def operation(
            cert: TokenCertificate, login: Login, chain: tuple[bytes, ...]
        ) -> tuple[BatchOutcome[bytes | SpooledFile], int]:
            progress = ActivityRequest(ActivityKind.PROGRESS, str(caller), self._lang, total=total)
            async with (
                self._prompter.activity(progress) as shown,
                one_login(self._tokens, cert, RsaScheme.PKCS1V15, login) as sign,
            ):
                key = self._held_key(cert, chain, sign)
                outcome = await sign_one_by_one(shown, names, lambda i: sign_one(key, i))
            return outcome, len(outcome.signed)

        try:
            cert, done = await self._signing(
                caller,
                items,
                request.certificate,
                None,
                operation,
                source=source,
                destination=destination,
                # Only the configured TSA passes the check above: the one any document asks for.
                time_stamp=next(
                    (u for d in request.documents if (u := _time_stamp_url(d.options))), None
                ),
            )
        except BaseException:
            discard(*outputs)
            raise
        # Files of a try the user was asked again after (a wrong PIN), or of a document that
        # failed after others were signed, are not part of the answer.
        answered = {d.path for d in spooled(done.signed)}
        discard(*(p for p in outputs if p not in answered))
        return PdfBatchSignResponse(
            names=tuple(names),
            signed=done.signed,
            certificate=cert.der,
            stopped=done.stopped,
            error=done.error,
        )

    @staticmethod
    def _held_key(
        cert: TokenCertificate,
        chain: tuple[bytes, ...],
        sign: Callable[[Sequence[tuple[bytes, HashAlgorithm]]], Awaitable[list[bytes]]],
    ) -> pdf.SigningKey:
        """The token key of ``cert`` as the PDF layer signs with it, in a held login."""
        key_type = cert.key_type
        assert key_type is not None  # noqa: S101 - guaranteed by signing_certificates

        async def raw(digest: bytes, algorithm: HashAlgorithm) -> bytes:
            return (await sign([(digest, algorithm)]))[0]

        return pdf.SigningKey(cert.der, chain, key_type, raw)

    async def sign_cms(self, caller: Admitted, request: CmsSignRequest) -> CmsSignResponse:
        """``POST /v1/cms/sign``: a CMS signature over a digest the portal computed."""
        self._configured_tsa_only(request.tsa_url)

        async def operation(
            cert: TokenCertificate, login: Login, chain: tuple[bytes, ...]
        ) -> tuple[bytes, int]:
            key = self._signing_key(cert, login, chain)
            async with pdf.job(self._pdf_work) as work:
                cms = await work.sign_cms(
                    request.item.digest, request.item.algorithm, key, tsa_url=request.tsa_url
                )
            return cms, 1

        cert, cms = await self._signing(
            caller, [request.item], request.certificate, None, operation, time_stamp=request.tsa_url
        )
        return CmsSignResponse(cms, cert.der)

    async def sign_xml(self, caller: Admitted, request: XmlSignRequest) -> XmlSignResponse:
        """``POST /v1/xml/sign``: one question showing the document's summary."""
        cert, signed = await self._sign_xml(caller, request)
        return XmlSignResponse(signed[0], cert.der)

    async def sign_xml_batch(
        self, caller: Admitted, request: XmlSignRequest
    ) -> XmlBatchSignResponse:
        """``POST /v1/xml/sign/batch``: one question listing every document, one login."""
        cert, signed = await self._sign_xml(caller, request)
        return XmlBatchSignResponse(signed, cert.der)

    async def _sign_xml(
        self, caller: Admitted, request: XmlSignRequest
    ) -> tuple[TokenCertificate, tuple[SignedXml, ...]]:
        # Refusals that need no token come before the question, never after it.
        checked = await xml.check(request.documents, self._lang)
        items = [
            DigestToSign(c.fingerprint, HashAlgorithm.SHA256, d.document_name)
            for c, d in zip(checked, request.documents, strict=True)
        ]

        async def operation(
            cert: TokenCertificate, login: Login, _chain: tuple[bytes, ...]
        ) -> tuple[tuple[SignedXml, ...], int]:
            async def digests(work: Sequence[tuple[bytes, HashAlgorithm]]) -> list[bytes]:
                # One signature per document, in the documents' order (agent.xml.sign).
                names = [d.document_name for d in request.documents]
                return await self._sign_digests_shown(
                    caller, cert, work, names, scheme=RsaScheme.PKCS1V15, login=login
                )

            # The signing time is this computer's local wall time, as invoices write it.
            signed = await xml.sign(
                request.documents, checked, cert.der, digests, self._clock().astimezone()
            )
            return signed, len(signed)

        return await self._signing(
            caller,
            items,
            request.certificate,
            None,
            operation,
            summaries=[c.summary for c in checked],
        )

    async def verify_xml(self, request: XmlVerifyRequest, lang: Lang) -> XmlVerifyResponse:
        """``POST /v1/xml/verify``: every signature, checked against the configured roots."""
        report, text = await xml.verify(request.xml, self._trust_roots, lang)
        return XmlVerifyResponse(report, text)

    async def verify_pdf(self, request: PdfVerifyRequest, lang: Lang) -> PdfVerifyResponse:
        """``POST /v1/pdf/verify``: every signature, checked against the configured roots."""
        from agent.pdf.verify.render import report_to_text  # with the first report

        async with pdf.job(self._pdf_work) as work:
            report = await work.verify(_source(request.pdf), self._trust_roots)
        return PdfVerifyResponse(report, report_to_text(report, lang.value))

    async def _check_once(
        self,
        cert: TokenCertificate,
        chain: tuple[bytes, ...],
        audit: RequestAudit,
        checked: set[str],
    ) -> None:
        """The certificate's checks, once per request (a wrong PIN does not repeat them)."""
        if cert.fingerprint not in checked:
            await check_certificate(
                cert, chain, audit, now=self._clock(), revocation=self._check_revocation
            )
            checked.add(cert.fingerprint)

    async def _consent_and_sign(
        self,
        *,
        caller: Admitted,
        offered: list[TokenCertificate],
        documents: tuple[DocumentView, ...],
        operation: Operation[T],
        inventory: Inventory,
        audit: RequestAudit,
    ) -> tuple[TokenCertificate, T, int]:
        retry: RetryReason | None = None
        checked: set[str] = set()
        while True:
            states = [c.pin for c in offered]
            if retry is not None:
                states = [await self._tokens.pin_state(offered[0].token)]
                if states[0].tries_left is TriesLeft.LOCKED:
                    raise PinLocked("the PIN locked after a wrong attempt")
            pin_request, cached = pin_request_for(
                self._pins, offered, states, use_cache=retry is None
            )
            try:
                answer, cert = await self._ask(
                    PromptRequest(
                        action=PromptAction.SIGN,
                        origin=str(caller),
                        certificates=tuple(choice(c) for c in offered),
                        documents=documents,
                        pin=pin_request,
                        retry=retry,
                        lang=self._lang,
                        first_use=self._is_first_use(caller),
                    ),
                    audit,
                    offered,
                )
            except (AgentError, asyncio.CancelledError):
                if cached is not None:
                    cached.wipe()
                raise
            pin = answer.pin or cached
            chain = build_chain(cert, inventory.certificates)
            try:
                await self._check_once(cert, chain, audit, checked)
                # The token's flags are read again right before the login, inside the module's
                # worker (agent.token.login): locked, final try, PIN pad, no PIN typed.
                login = Login(pin, final_try_confirmed=answer.final_try_confirmed)
                result, count = await operation(cert, login, chain)
            except PinIncorrect:
                # A wrong PIN, typed or cached, is never tried again: forget every cached PIN.
                self._pins.clear()
                log.info("wrong PIN for token %r; asking the user again", cert.token.label)
                offered, retry = [cert], RetryReason.PIN_INCORRECT
                continue
            else:
                if answer.pin is not None and not cert.pin.pinpad:
                    self._pins.put(token_key(cert.token), answer.pin)
                return cert, result, count
            finally:
                for secret in (answer.pin, cached):
                    if secret is not None:
                        secret.wipe()

    async def sign(self, caller: Admitted, request: SignRequest) -> SignResponse:
        """``POST /v1/sign``."""
        signed = await self._sign_digests(
            caller, [request.item], request.certificate, request.scheme
        )
        return SignResponse(signed.signatures[0], signed.algorithms[0], signed.certificate.der)

    async def sign_batch(self, caller: Admitted, request: BatchSignRequest) -> BatchSignResponse:
        """``POST /v1/sign/batch``: one question, one login, signatures in order."""
        signed = await self._sign_digests(
            caller, request.items, request.certificate, request.scheme
        )
        return BatchSignResponse(signed.signatures, signed.algorithms, signed.certificate.der)

    @property
    def trust_roots(self) -> tuple[bytes, ...]:
        """The configured trust roots (DER): for checks that ask nobody and touch no token
        (the VGCA protocol's VerifyMsg), judged by the same roots as ``verify_pdf``."""
        return self._trust_roots


def _time_stamp_url(options: PdfSignOptions) -> str | None:
    """The TSA a PDF signature's digest goes to: only B-T and B-LT ask one."""
    return None if options.level is SignatureLevel.B_B else options.tsa_url


def _source(document: bytes | SpooledFile | Path) -> bytes | Path:
    """A request's document as the PDF work reads it: its bytes, or its file (in the spool, or
    the tray's chosen one)."""
    return document.path if isinstance(document, SpooledFile) else document


def _sha256(document: bytes | SpooledFile) -> bytes:
    """The document's SHA-256 (a spooled one's was taken as it arrived)."""
    if isinstance(document, SpooledFile):
        if document.sha256 is not None:
            return document.sha256
        with document.path.open("rb") as stream:
            return hashlib.file_digest(stream, "sha256").digest()
    return hashlib.sha256(document).digest()
