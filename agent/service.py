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
from agent.consent.gate import PromptGate
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
    BadRequest,
    CertificateExpired,
    CertificateNotFound,
    PinIncorrect,
    PinLocked,
    TokenNotPresent,
    UserCancelled,
)
from agent.messages import Lang
from agent.pin import TriesLeft
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
from agent.token import Inventory, PinState, TokenCertificate, TokenService

log = logging.getLogger(__name__)

_SEVERITY = {TriesLeft.OK: 0, TriesLeft.LOW: 1, TriesLeft.FINAL: 2, TriesLeft.LOCKED: 3}
_MAX_CHAIN = 8


@dataclass(frozen=True)
class Signed:
    """Signatures made with one certificate."""

    certificate: TokenCertificate
    signatures: tuple[bytes, ...]
    algorithm: str


def _choice(cert: TokenCertificate) -> CertificateChoice:
    return CertificateChoice(
        id=cert.fingerprint,
        subject=cert.x509.subject.rfc4514_string(),
        issuer=cert.x509.issuer.rfc4514_string(),
        not_after=cert.not_after,
        token=cert.token.label,
    )


def _pin_request(states: Sequence[PinState]) -> PinRequest:
    worst = max(states, key=lambda s: _SEVERITY[s.tries_left])
    return PinRequest(
        required=True, pinpad=all(s.pinpad for s in states), tries_left=worst.tries_left
    )


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


class SigningService:
    """The agent's commands, independent of transport."""

    def __init__(
        self,
        tokens: TokenService,
        prompter: Prompter,
        *,
        lang: Lang = Lang.VI,
        gate: PromptGate | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._tokens = tokens
        self._prompter = prompter
        self._lang = lang
        self._gate = gate or PromptGate()
        self._clock = clock

    @staticmethod
    def info() -> dict[str, object]:
        """``GET /v1/info``: no token or identity data."""
        return {"product": "kyso-agent", "version": __version__, "api": API_VERSION}

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
            if not matches[0].valid_at(self._clock()):
                raise CertificateExpired(f"certificate valid until {matches[0].not_after}")
            return matches[:1]
        if scheme is RsaScheme.PSS:
            signing = tuple(c for c in signing if c.key_type is KeyType.RSA)
        if not signing:
            raise CertificateNotFound("no signing certificate on the present token(s)")
        now = self._clock()
        valid = [c for c in signing if c.valid_at(now)]
        if not valid:
            raise CertificateExpired("every signing certificate is expired or not yet valid")
        return valid

    async def _ask(self, request: PromptRequest) -> PromptAnswer:
        answer = await self._prompter.ask(request)
        if not answer.approved:
            raise UserCancelled(f"user declined {request.action.value} for {request.origin}")
        return answer

    @staticmethod
    def _picked(answer: PromptAnswer, offered: Sequence[TokenCertificate]) -> TokenCertificate:
        if answer.certificate_id is None and len(offered) == 1:
            return offered[0]
        for cert in offered:
            if cert.fingerprint == answer.certificate_id:
                return cert
        raise UserCancelled("the prompter picked a certificate that was not offered")

    async def select_certificate(
        self, origin: str, _request: CertificatesRequest
    ) -> CertificateResponse:
        """``POST /v1/certificates``: the user picks which certificate the portal sees."""
        inventory = await self._tokens.inventory()
        offered = self._candidates(inventory, None, None)
        async with self._gate.turn():
            answer = await self._ask(
                PromptRequest(
                    action=PromptAction.SELECT_CERTIFICATE,
                    origin=origin,
                    certificates=tuple(_choice(c) for c in offered),
                    lang=self._lang,
                )
            )
        cert = self._picked(answer, offered)
        log.info("certificate %s… given to %s", cert.fingerprint[:16], origin)
        key_type = cert.key_type
        assert key_type is not None  # noqa: S101 - guaranteed by signing_certificates
        return CertificateResponse(
            certificate=cert.der,
            chain=build_chain(cert, inventory.certificates),
            key_type=key_type,
            token=TokenRef(cert.token.label, cert.token.serial),
        )

    async def _sign_digests(
        self,
        origin: str,
        items: Sequence[DigestToSign],
        requested: bytes | None,
        scheme: RsaScheme | None,
    ) -> Signed:
        inventory = await self._tokens.inventory()
        candidates = self._candidates(inventory, requested, scheme)
        offered = [c for c in candidates if c.pin.tries_left is not TriesLeft.LOCKED]
        if not offered:
            raise PinLocked("every candidate token has a locked PIN")
        documents = tuple(DocumentView(i.document_name, i.digest, i.algorithm) for i in items)
        work: list[tuple[bytes, HashAlgorithm]] = [(i.digest, i.algorithm) for i in items]
        rsa_scheme = scheme or RsaScheme.PKCS1V15
        retry: RetryReason | None = None
        async with self._gate.turn():
            while True:
                states = [c.pin for c in offered]
                if retry is not None:
                    states = [await self._tokens.pin_state(offered[0].token)]
                    if states[0].tries_left is TriesLeft.LOCKED:
                        raise PinLocked("the PIN locked after a wrong attempt")
                answer = await self._ask(
                    PromptRequest(
                        action=PromptAction.SIGN,
                        origin=origin,
                        certificates=tuple(_choice(c) for c in offered),
                        documents=documents,
                        pin=_pin_request(states),
                        retry=retry,
                        lang=self._lang,
                    )
                )
                cert = self._picked(answer, offered)
                try:
                    fresh = await self._tokens.pin_state(cert.token)
                    if fresh.tries_left is TriesLeft.LOCKED:
                        raise PinLocked("token flags say the PIN is locked")
                    if not fresh.pinpad and not answer.pin:
                        raise UserCancelled("no PIN was typed")
                    signatures = await self._tokens.sign(
                        cert, work, rsa_scheme, None if fresh.pinpad else answer.pin
                    )
                except PinIncorrect:
                    log.info("wrong PIN for token %r; asking the user again", cert.token.label)
                    offered, retry = [cert], RetryReason.PIN_INCORRECT
                    continue
                finally:
                    if answer.pin is not None:
                        answer.pin.wipe()
                break
        key_type = cert.key_type
        assert key_type is not None  # noqa: S101 - guaranteed by signing_certificates
        algorithm = signature_algorithm_name(key_type, rsa_scheme, items[0].algorithm)
        log.info(
            "signed %d digest(s) for %s with certificate %s…",
            len(signatures),
            origin,
            cert.fingerprint[:16],
        )
        return Signed(cert, tuple(signatures), algorithm)

    async def sign(self, origin: str, request: SignRequest) -> SignResponse:
        """``POST /v1/sign``."""
        signed = await self._sign_digests(
            origin, [request.item], request.certificate, request.scheme
        )
        return SignResponse(signed.signatures[0], signed.algorithm, signed.certificate.der)

    async def sign_batch(self, origin: str, request: BatchSignRequest) -> BatchSignResponse:
        """``POST /v1/sign/batch``: one question, one login, signatures in order."""
        signed = await self._sign_digests(
            origin, request.items, request.certificate, request.scheme
        )
        return BatchSignResponse(signed.signatures, signed.algorithm, signed.certificate.der)
