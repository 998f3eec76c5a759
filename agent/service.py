"""What each command does: origin → consent → token → result.

:class:`SigningService` is called with an origin that the server has already
admitted. It finds the certificates, asks the user (always: no request option
can skip the question), logs in with the PIN the user typed for this very
operation, signs, and logs out. A wrong PIN is asked again, never retried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from agent import __version__
from agent.algorithms import HashAlgorithm, KeyType, RsaScheme, signature_algorithm_name
from agent.audit import AuditDocument, AuditEntry, AuditLog
from agent.consent.gate import PromptGate
from agent.consent.pin_cache import PinCache, TokenKey
from agent.consent.prompter import (
    CertificateChoice,
    DocumentView,
    PinRequest,
    PromptAction,
    PromptAnswer,
    Prompter,
    PromptRequest,
    RetryReason,
)
from agent.errors import (
    AgentError,
    BadRequest,
    CertificateExpired,
    CertificateNotFound,
    PinIncorrect,
    PinLocked,
    TokenNotPresent,
    UserCancelled,
)
from agent.messages import Lang
from agent.origin import Admitted
from agent.pairing import PairingStore
from agent.pin import Pin, TriesLeft
from agent.protocol import (
    API_VERSION,
    BatchSignRequest,
    BatchSignResponse,
    CertificateResponse,
    CertificatesRequest,
    DigestToSign,
    SignRequest,
    SignResponse,
    TokenRef,
)
from agent.token import Inventory, PinState, TokenCertificate, TokenId, TokenService

log = logging.getLogger(__name__)

_SEVERITY = {TriesLeft.OK: 0, TriesLeft.LOW: 1, TriesLeft.FINAL: 2, TriesLeft.LOCKED: 3}
_MAX_CHAIN = 8


@dataclass(frozen=True)
class Signed:
    """Signatures made with one certificate."""

    certificate: TokenCertificate
    signatures: tuple[bytes, ...]
    algorithms: tuple[str, ...]
    """JOSE-style algorithm of each signature."""


def _choice(cert: TokenCertificate) -> CertificateChoice:
    return CertificateChoice(
        id=cert.fingerprint,
        subject=cert.x509.subject.rfc4514_string(),
        issuer=cert.x509.issuer.rfc4514_string(),
        not_after=cert.not_after,
        token=cert.token.label,
    )


def _token_key(token: TokenId) -> TokenKey:
    return (str(token.module), token.serial, token.label)


def build_chain(cert: TokenCertificate, pool: Sequence[TokenCertificate]) -> tuple[bytes, ...]:
    """Issuer certificates of ``cert`` found among ``pool`` (nearest first)."""
    chain: list[bytes] = []
    current = cert.x509
    seen = {cert.der}
    for _ in range(_MAX_CHAIN):
        if current.issuer == current.subject:
            break
        issuer = next(
            (c for c in pool if c.x509.subject == current.issuer and c.der not in seen), None
        )
        if issuer is None:
            break
        chain.append(issuer.der)
        seen.add(issuer.der)
        current = issuer.x509
    return tuple(chain)


class _Audit:
    """Collects what one request showed the user and how it ended."""

    def __init__(self, caller: Admitted, action: PromptAction, items: Sequence[DigestToSign]):
        self.caller = caller
        self.action = action
        self.documents = tuple(
            AuditDocument(i.document_name, i.digest, i.algorithm.value) for i in items
        )
        self.certificate: TokenCertificate | None = None
        self.first_use = False
        self.signatures = 0

    def entry(self, outcome: str) -> AuditEntry:
        cert = self.certificate
        return AuditEntry(
            time=datetime.now(UTC),
            origin=str(self.caller),
            action=self.action.value,
            documents=self.documents,
            certificate_serial=format(cert.x509.serial_number, "x") if cert else None,
            certificate_subject=cert.x509.subject.rfc4514_string() if cert else None,
            certificate_sha256=cert.fingerprint if cert else None,
            outcome=outcome,
            signatures=self.signatures,
            first_use=self.first_use,
        )


class SigningService:
    """The agent's commands, independent of transport."""

    def __init__(
        self,
        tokens: TokenService,
        prompter: Prompter,
        *,
        lang: Lang = Lang.VI,
        gate: PromptGate | None = None,
        pairing: PairingStore | None = None,
        pin_cache: PinCache | None = None,
        audit: AuditLog | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._tokens = tokens
        self._prompter = prompter
        self._lang = lang
        self._gate = gate or PromptGate()
        self._pairing = pairing
        self._pins = pin_cache if pin_cache is not None else PinCache(0)
        self._audit = audit
        self._clock = clock

    @staticmethod
    def info() -> dict[str, object]:
        """``GET /v1/info``: no token or identity data."""
        return {"product": "kyso-agent", "version": __version__, "api": API_VERSION}

    def session_locked(self) -> None:
        """The user's desktop session locked: forget cached PINs."""
        if len(self._pins):
            log.info("session locked; cached PINs forgotten")
        self._pins.clear()

    async def _inventory(self) -> Inventory:
        inventory = await self._tokens.inventory()
        # A token that is gone takes its cached PIN with it.
        self._pins.retain(_token_key(t.id) for t in inventory.tokens)
        return inventory

    def _candidates(
        self, inventory: Inventory, requested: bytes | None, scheme: RsaScheme | None
    ) -> list[TokenCertificate]:
        if not inventory.tokens:
            raise TokenNotPresent("no token is present in any module")
        signing = inventory.signing_certificates
        if requested is not None:
            matches = [c for c in signing if c.der == requested]
            if not matches:
                raise CertificateNotFound("the requested certificate is on no present token")
            if scheme is RsaScheme.PSS and matches[0].key_type is not KeyType.RSA:
                raise BadRequest("'scheme' applies to RSA keys only; this certificate is EC")
            if scheme is RsaScheme.PSS and not matches[0].supports_pss:
                raise BadRequest("this token cannot sign with RSA-PSS; use PKCS1v15")
            if not matches[0].valid_at(self._clock()):
                raise CertificateExpired(f"certificate valid until {matches[0].not_after}")
            return matches[:1]
        if scheme is RsaScheme.PSS:
            signing = tuple(c for c in signing if c.key_type is KeyType.RSA and c.supports_pss)
        if not signing:
            raise CertificateNotFound("no signing certificate on the present token(s)")
        now = self._clock()
        valid = [c for c in signing if c.valid_at(now)]
        if not valid:
            raise CertificateExpired("every signing certificate is expired or not yet valid")
        return valid

    def _is_first_use(self, caller: Admitted) -> bool:
        if not caller.via_wildcard:
            return False
        return self._pairing is None or not self._pairing.is_paired(str(caller))

    async def _ask(
        self, request: PromptRequest, audit: _Audit, offered: Sequence[TokenCertificate]
    ) -> tuple[PromptAnswer, TokenCertificate]:
        """Ask; return the answer and the certificate picked, or raise on any refusal."""
        audit.first_use = audit.first_use or request.first_use
        try:
            answer = await self._prompter.ask(request)
            if not answer.approved:
                raise UserCancelled(f"user declined {request.action.value} for {request.origin}")
            cert = self._picked(answer, offered)
        except AgentError:
            self._gate.record(request.origin, declined=True)
            raise
        self._gate.record(request.origin, declined=False)
        audit.certificate = cert
        if request.first_use and self._pairing is not None:
            self._pairing.pair(request.origin)
            log.info("origin %s paired on first use", request.origin)
        return answer, cert

    @staticmethod
    def _picked(answer: PromptAnswer, offered: Sequence[TokenCertificate]) -> TokenCertificate:
        if answer.certificate_id is None and len(offered) == 1:
            return offered[0]
        for cert in offered:
            if cert.fingerprint == answer.certificate_id:
                return cert
        if answer.pin is not None:
            answer.pin.wipe()
        raise UserCancelled("the prompter picked a certificate that was not offered")

    async def _audited(self, audit: _Audit, outcome: str) -> None:
        if self._audit is not None:
            await self._audit.arecord(audit.entry(outcome))

    async def select_certificate(
        self, caller: Admitted, _request: CertificatesRequest
    ) -> CertificateResponse:
        """``POST /v1/certificates``: the user picks which certificate the portal sees."""
        inventory = await self._inventory()
        offered = self._candidates(inventory, None, None)
        audit = _Audit(caller, PromptAction.SELECT_CERTIFICATE, ())
        async with self._gate.turn(str(caller)):
            try:
                _answer, cert = await self._ask(
                    PromptRequest(
                        action=PromptAction.SELECT_CERTIFICATE,
                        origin=str(caller),
                        certificates=tuple(_choice(c) for c in offered),
                        lang=self._lang,
                        first_use=self._is_first_use(caller),
                    ),
                    audit,
                    offered,
                )
            except AgentError as exc:
                await self._audited(audit, exc.code.value)
                raise
            await self._audited(audit, "certificate-given")
        log.info("certificate %s… given to %s", cert.fingerprint[:16], caller)
        key_type = cert.key_type
        assert key_type is not None  # noqa: S101 - guaranteed by signing_certificates
        return CertificateResponse(
            certificate=cert.der,
            chain=build_chain(cert, inventory.certificates),
            key_type=key_type,
            token=TokenRef(cert.token.label, cert.token.serial),
        )

    def _pin_request(
        self, offered: Sequence[TokenCertificate], states: Sequence[PinState], use_cache: bool
    ) -> tuple[PinRequest, Pin | None]:
        tokens = {_token_key(c.token) for c in offered}
        cached = self._pins.get(next(iter(tokens))) if use_cache and len(tokens) == 1 else None
        pinpad = all(s.pinpad for s in states)
        worst = max(states, key=lambda s: _SEVERITY[s.tries_left])
        request = PinRequest(
            required=cached is None and not pinpad,
            pinpad=pinpad,
            tries_left=worst.tries_left,
            cached=cached is not None,
        )
        return request, cached

    async def _sign_digests(
        self,
        caller: Admitted,
        items: Sequence[DigestToSign],
        requested: bytes | None,
        scheme: RsaScheme | None,
    ) -> Signed:
        inventory = await self._inventory()
        candidates = self._candidates(inventory, requested, scheme)
        offered = [c for c in candidates if c.pin.tries_left is not TriesLeft.LOCKED]
        if not offered:
            raise PinLocked("every candidate token has a locked PIN")
        origin = str(caller)
        documents = tuple(DocumentView(i.document_name, i.digest, i.algorithm) for i in items)
        work: list[tuple[bytes, HashAlgorithm]] = [(i.digest, i.algorithm) for i in items]
        rsa_scheme = scheme or RsaScheme.PKCS1V15
        audit = _Audit(caller, PromptAction.SIGN, items)
        async with self._gate.turn(origin):
            try:
                cert, signatures = await self._consent_and_sign(
                    caller=caller,
                    offered=offered,
                    documents=documents,
                    work=work,
                    scheme=rsa_scheme,
                    audit=audit,
                )
            except AgentError as exc:
                await self._audited(audit, exc.code.value)
                raise
            audit.signatures = len(signatures)
            # Recorded before the signatures leave the agent: nothing returned goes unaudited.
            await self._audited(audit, "signed")
        key_type = cert.key_type
        assert key_type is not None  # noqa: S101 - guaranteed by signing_certificates
        algorithms = tuple(
            signature_algorithm_name(key_type, rsa_scheme, i.algorithm) for i in items
        )
        log.info(
            "signed %d digest(s) for %s with certificate %s…",
            len(signatures),
            origin,
            cert.fingerprint[:16],
        )
        return Signed(cert, tuple(signatures), algorithms)

    async def _consent_and_sign(
        self,
        *,
        caller: Admitted,
        offered: list[TokenCertificate],
        documents: tuple[DocumentView, ...],
        work: list[tuple[bytes, HashAlgorithm]],
        scheme: RsaScheme,
        audit: _Audit,
    ) -> tuple[TokenCertificate, list[bytes]]:
        retry: RetryReason | None = None
        while True:
            states = [c.pin for c in offered]
            if retry is not None:
                states = [await self._tokens.pin_state(offered[0].token)]
                if states[0].tries_left is TriesLeft.LOCKED:
                    raise PinLocked("the PIN locked after a wrong attempt")
            pin_request, cached = self._pin_request(offered, states, use_cache=retry is None)
            try:
                answer, cert = await self._ask(
                    PromptRequest(
                        action=PromptAction.SIGN,
                        origin=str(caller),
                        certificates=tuple(_choice(c) for c in offered),
                        documents=documents,
                        pin=pin_request,
                        retry=retry,
                        lang=self._lang,
                        first_use=self._is_first_use(caller),
                    ),
                    audit,
                    offered,
                )
            except AgentError:
                if cached is not None:
                    cached.wipe()
                raise
            pin = answer.pin or cached
            try:
                fresh = await self._tokens.pin_state(cert.token)
                if fresh.tries_left is TriesLeft.LOCKED:
                    raise PinLocked("token flags say the PIN is locked")
                if fresh.tries_left is TriesLeft.FINAL and not answer.final_try_confirmed:
                    raise UserCancelled("final PIN attempt not confirmed by the user")
                if not fresh.pinpad and not pin:
                    raise UserCancelled("no PIN was typed")
                signatures = await self._tokens.sign(
                    cert, work, scheme, None if fresh.pinpad else pin
                )
            except PinIncorrect:
                # A wrong PIN, typed or cached, is never tried again: forget every cached PIN.
                self._pins.clear()
                log.info("wrong PIN for token %r; asking the user again", cert.token.label)
                offered, retry = [cert], RetryReason.PIN_INCORRECT
                continue
            else:
                if answer.pin is not None and not fresh.pinpad:
                    self._pins.put(_token_key(cert.token), answer.pin)
                return cert, signatures
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
