"""Which certificates a request may use, and what is checked about the one the user picked.

Pure decisions on what the token layer reported (no token call, no question): the service
asks the token layer, then these say which certificates to offer, what the PIN field must
ask, which issuers travel with a signature, and whether the chosen certificate may sign now.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime
from typing import Final

from agent.algorithms import KeyType, RsaScheme
from agent.audit import RequestAudit
from agent.consent.pin_cache import PinCache, TokenKey
from agent.consent.prompter import CertificateChoice, PinRequest, PromptAnswer
from agent.errors import (
    BadRequest,
    CertificateExpired,
    CertificateNotFound,
    CertificateRevoked,
    PinLocked,
    TokenModuleFailed,
    TokenNotPresent,
    UserCancelled,
)
from agent.messages import Phrase
from agent.pin import Pin, TriesLeft
from agent.token import Inventory, PinState, TokenCertificate, TokenId

MAX_CHAIN: Final = 8
"""Issuers followed up from a signing certificate."""
_SEVERITY: Final = {TriesLeft.OK: 0, TriesLeft.LOW: 1, TriesLeft.FINAL: 2, TriesLeft.LOCKED: 3}


def choice(cert: TokenCertificate) -> CertificateChoice:
    """``cert`` as the question offers it."""
    return CertificateChoice(
        id=cert.fingerprint,
        subject=cert.subject,
        issuer=cert.issuer,
        not_after=cert.not_after,
        token=cert.token.label,
    )


def token_key(token: TokenId) -> TokenKey:
    """The key a token's PIN is cached under."""
    return (str(token.module), token.serial, token.label)


def build_chain(cert: TokenCertificate, pool: Sequence[TokenCertificate]) -> tuple[bytes, ...]:
    """Issuer certificates of ``cert`` found among ``pool`` (nearest first)."""
    chain: list[bytes] = []
    current = cert.x509
    seen = {cert.der}
    for _ in range(MAX_CHAIN):
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


def candidates(
    inventory: Inventory, requested: bytes | None, scheme: RsaScheme | None, now: datetime
) -> list[TokenCertificate]:
    """The certificates a request may be offered, or the refusal that says why there are none.

    ``requested``: the certificate the portal named (DER), else every valid signing one.
    """
    if not inventory.tokens:
        failed = [m for m in inventory.modules if m.worker_failed]
        if failed:
            # "Insert your token" would send the user to the wrong fix.
            raise TokenModuleFailed("; ".join(m.error for m in failed))
        raise TokenNotPresent("no token is present in any module")
    signing = inventory.signing_certificates
    if requested is not None:
        matches = [c for c in signing if c.der == requested]
        if not matches:
            raise CertificateNotFound("the requested certificate is on no present token")
        if scheme is RsaScheme.PSS and matches[0].key_type is not KeyType.RSA:
            raise BadRequest(Phrase.of("bad_scheme_ec"))
        if scheme is RsaScheme.PSS and not matches[0].supports_pss:
            raise BadRequest(Phrase.of("bad_pss_unsupported"))
        if not matches[0].valid_at(now):
            raise CertificateExpired(f"certificate valid until {matches[0].not_after}")
        return matches[:1]
    if scheme is RsaScheme.PSS:
        signing = tuple(c for c in signing if c.key_type is KeyType.RSA and c.supports_pss)
    if not signing:
        raise CertificateNotFound("no signing certificate on the present token(s)")
    valid = [c for c in signing if c.valid_at(now)]
    if not valid:
        raise CertificateExpired("every signing certificate is expired or not yet valid")
    return valid


def unlocked(found: Sequence[TokenCertificate]) -> list[TokenCertificate]:
    """The candidates whose PIN is not locked (a locked token is never offered)."""
    offered = [c for c in found if c.pin.tries_left is not TriesLeft.LOCKED]
    if not offered:
        raise PinLocked("every candidate token has a locked PIN")
    return offered


def subject_of(certificate: bytes | None) -> str | None:
    """The subject of the certificate a portal asked for, to say which token to plug in."""
    if certificate is None:
        return None
    from cryptography import x509  # not at start-up: see agent.token.models

    try:
        return x509.load_der_x509_certificate(certificate).subject.rfc4514_string()
    except ValueError:
        return None


def picked(answer: PromptAnswer, offered: Sequence[TokenCertificate]) -> TokenCertificate:
    """The certificate the user picked, which must be one that was offered."""
    if answer.certificate_id is None and len(offered) == 1:
        return offered[0]
    for cert in offered:
        if cert.fingerprint == answer.certificate_id:
            return cert
    if answer.pin is not None:
        answer.pin.wipe()
    raise UserCancelled("the prompter picked a certificate that was not offered")


def pin_request_for(
    pins: PinCache,
    offered: Sequence[TokenCertificate],
    states: Sequence[PinState],
    *,
    use_cache: bool,
) -> tuple[PinRequest, Pin | None]:
    """What the question's PIN field asks, and the PIN cached under policy (if one may serve)."""
    tokens = {token_key(c.token) for c in offered}
    cached = pins.get(next(iter(tokens))) if use_cache and len(tokens) == 1 else None
    pinpad = all(s.pinpad for s in states)
    worst = max(states, key=lambda s: _SEVERITY[s.tries_left])
    request = PinRequest(
        required=cached is None and not pinpad,
        pinpad=pinpad,
        tries_left=worst.tries_left,
        cached=cached is not None,
    )
    return request, cached


async def check_certificate(
    cert: TokenCertificate,
    chain: tuple[bytes, ...],
    audit: RequestAudit,
    *,
    now: datetime,
    revocation: bool,
) -> None:
    """Validity and, when reachable and ``revocation`` is on, revocation, before the key is used;
    what was checked goes into ``audit``."""
    # Imported by the first signature (with cryptography and urllib.request), not at start-up.
    from agent.pdf.revocation import RevocationStatus, check_revocation, names_no_source

    if not cert.valid_at(now):
        raise CertificateExpired(f"certificate valid until {cert.not_after}")
    checks = f"valid until {cert.not_after.isoformat()}"
    if revocation and chain:
        # Most tokens' certificates name a responder; when one names none, no thread.
        result = names_no_source(cert.x509)
        if result is None:
            result = await asyncio.to_thread(check_revocation, cert.der, chain[:1])
        checks += f"; revocation {result.status.value} via {result.method}"
        if result.source:
            checks += f" {result.source}"
        audit.checks = checks
        if result.status is RevocationStatus.REVOKED:
            raise CertificateRevoked(f"{result.method} {result.source}: {result.detail}")
    elif revocation:
        audit.checks = checks + "; revocation unknown (issuer certificate not on the token)"
    else:
        audit.checks = checks + "; revocation not checked (policy)"
