"""Is the signing certificate revoked? Asked before signing.

Nghị định 23/2025/NĐ-CP has the signer check that the certificate is valid when
signing. :func:`check_revocation` asks the OCSP responders named in the
certificate's Authority Information Access first, then the CRLs named in its CRL
distribution points, over plain HTTP(S) with :mod:`urllib` (no dependency beyond
``cryptography``).

An answer counts only if it is provably about this certificate and from its
issuer: the OCSP response must be signed by the issuer, or by a responder
certificate the issuer issued with ``id-kp-OCSPSigning``, and carry the
certificate's CertID; the CRL must be signed by the issuer and be current. Network
failures and answers that cannot be trusted give :attr:`RevocationStatus.UNKNOWN`
with the reasons in :attr:`RevocationCheck.detail`; the function raises only for
input that is not a certificate.

Not covered: LDAP distribution points, delta and indirect CRLs, and the revocation
status of a delegated OCSP responder itself (RFC 6960 ``id-pkix-ocsp-nocheck``
is assumed). The call blocks; the caller runs it on a worker thread.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import IO, Final
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID

log = logging.getLogger(__name__)

CLOCK_SKEW: Final = timedelta(minutes=5)
"""Tolerance between our clock and the responder's for thisUpdate / nextUpdate."""
MAX_AGE_WITHOUT_NEXT_UPDATE: Final = timedelta(days=1)
"""An answer without nextUpdate claims newer information is always available, so an old one
is suspect (a replay)."""
MAX_URLS: Final = 3
"""At most this many OCSP responders and this many CRLs are tried (a certificate may list many)."""
MAX_OCSP_BYTES: Final = 1024 * 1024
MAX_CRL_BYTES: Final = 64 * 1024 * 1024
"""National CAs publish CRLs of tens of megabytes."""
USER_AGENT: Final = "Kyso-Agent"


class RevocationStatus(StrEnum):
    """What the issuer says about the certificate."""

    GOOD = "good"
    """Not revoked, according to a verified, current OCSP response or CRL."""
    REVOKED = "revoked"
    """Revoked, according to a verified OCSP response or CRL."""
    UNKNOWN = "unknown"
    """No verified answer: no pointers, network failure, untrusted or unknown answer."""


class RevocationMethod(StrEnum):
    """Where the answer came from."""

    OCSP = "ocsp"
    CRL = "crl"
    NONE = "none"
    """Nothing was consulted (the certificate names no responder or CRL, or no issuer)."""


@dataclass(frozen=True)
class RevocationCheck:
    """The outcome of :func:`check_revocation`."""

    status: RevocationStatus
    """Good, revoked or unknown."""
    method: RevocationMethod
    """The method that gave the answer (for ``UNKNOWN``, the last one tried)."""
    source: str | None
    """The URL consulted (for ``UNKNOWN``, the last one tried); ``None`` when none was."""
    detail: str
    """Diagnostic text for the log (English; not for the user)."""
    revoked_at: datetime | None = None
    """Revocation time (UTC) when ``REVOKED``."""


class _Unanswered(Exception):
    """A source gave no answer that can be trusted; the message says why."""


def names_no_source(certificate: x509.Certificate) -> RevocationCheck | None:
    """The answer for a certificate that names no OCSP responder and no CRL, else ``None``.

    Cheap (no network, no parsing beyond the extensions), so a caller can skip handing the
    check to a thread when there is nothing to ask.
    """
    if _ocsp_urls(certificate) or _crl_urls(certificate):
        return None
    return RevocationCheck(
        RevocationStatus.UNKNOWN,
        RevocationMethod.NONE,
        None,
        "the certificate names no OCSP responder and no CRL",
    )


def check_revocation(
    certificate: bytes, issuers: Sequence[bytes], *, timeout: float = 10.0
) -> RevocationCheck:
    """The revocation status of ``certificate`` (DER or PEM), OCSP first, then CRL.

    ``issuers`` are candidate issuer certificates (DER or PEM), e.g. the chain stored
    on the token; the one that signed ``certificate`` is used to verify the answers.
    ``timeout`` bounds each HTTP exchange, in seconds. Raises ``ValueError`` only when
    an input is not a certificate (or ``timeout`` is not positive); every network or
    trust problem gives :attr:`RevocationStatus.UNKNOWN`.
    """
    if not timeout > 0:
        raise ValueError("timeout must be positive")
    cert = _load_certificate(certificate, "certificate")
    candidates = [_load_certificate(issuer, "issuer") for issuer in issuers]
    nothing = names_no_source(cert)
    if nothing is not None:
        return nothing
    ocsp_urls = _ocsp_urls(cert)[:MAX_URLS]
    crl_urls = _crl_urls(cert)[:MAX_URLS]
    issuer = _find_issuer(cert, candidates)
    if issuer is None:
        return RevocationCheck(
            RevocationStatus.UNKNOWN,
            RevocationMethod.NONE,
            None,
            "the issuer's certificate is not among those given; answers cannot be verified",
        )
    failures: list[str] = []
    method, source = RevocationMethod.NONE, None
    for url in ocsp_urls:
        method, source = RevocationMethod.OCSP, url
        try:
            result = _ask_ocsp(cert, issuer, url, timeout)
        except _Unanswered as exc:
            failures.append(f"OCSP {url}: {exc}")
            continue
        if result.status is not RevocationStatus.UNKNOWN:
            return result
        failures.append(f"OCSP {url}: {result.detail}")
    for url in crl_urls:
        method, source = RevocationMethod.CRL, url
        try:
            return _ask_crl(cert, issuer, url, timeout)
        except _Unanswered as exc:
            failures.append(f"CRL {url}: {exc}")
    detail = "; ".join(failures)
    log.debug("revocation status unknown: %s", detail)
    return RevocationCheck(RevocationStatus.UNKNOWN, method, source, detail)


# -- input ------------------------------------------------------------------------------------


def _load_certificate(data: bytes, what: str) -> x509.Certificate:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            cert = x509.load_pem_x509_certificate(data)
        else:
            cert = x509.load_der_x509_certificate(data)
        cert.extensions  # noqa: B018 — parsed lazily; malformed extensions are garbage input
    except (ValueError, TypeError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as exc:
        raise ValueError(f"{what} is not an X.509 certificate: {exc}") from exc
    return cert


def _find_issuer(
    cert: x509.Certificate, candidates: Sequence[x509.Certificate]
) -> x509.Certificate | None:
    for candidate in candidates:
        try:
            cert.verify_directly_issued_by(candidate)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            continue
        return candidate
    return None


def _uris(names: Sequence[x509.GeneralName]) -> list[str]:
    return [name.value for name in names if isinstance(name, x509.UniformResourceIdentifier)]


def _ocsp_urls(cert: x509.Certificate) -> list[str]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except x509.ExtensionNotFound:
        return []
    return _uris(
        [d.access_location for d in aia if d.access_method == AuthorityInformationAccessOID.OCSP]
    )


def _crl_urls(cert: x509.Certificate) -> list[str]:
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    urls: list[str] = []
    for point in points:
        # A relative name or a separate CRL issuer (indirect CRL) is not supported.
        if point.full_name is not None and point.crl_issuer is None:
            urls += _uris(point.full_name)
    return urls


# -- HTTP -------------------------------------------------------------------------------------


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http(s) only (urllib would also follow ftp)."""

    def redirect_request(  # noqa: PLR0917 — urllib's signature
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise urllib.error.URLError(f"redirect to {newurl!r} refused")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    # No file: or ftp: handler: a certificate's URLs must not reach local files.
    opener = urllib.request.OpenerDirector()
    for handler in (
        urllib.request.ProxyHandler(),
        urllib.request.HTTPHandler(),
        urllib.request.HTTPSHandler(),
        _HttpOnlyRedirects(),
        urllib.request.HTTPDefaultErrorHandler(),
        urllib.request.HTTPErrorProcessor(),
    ):
        opener.add_handler(handler)
    return opener


def _fetch(
    url: str, body: bytes | None, headers: dict[str, str], timeout: float, limit: int
) -> bytes:
    """GET (or POST ``body``) ``url``; the whole exchange within about ``timeout`` seconds."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise _Unanswered("only http and https URLs are supported")
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(  # noqa: S310 — scheme checked above, handlers http(s) only
        url, data=body, headers={"User-Agent": USER_AGENT, **headers}
    )
    try:
        with _opener().open(request, timeout=timeout) as response:
            chunks: list[bytes] = []
            size = 0
            while chunk := response.read(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise _Unanswered(f"answer larger than {limit} bytes")
                if time.monotonic() > deadline:
                    raise _Unanswered(f"no complete answer within {timeout:g} s")
                chunks.append(chunk)
    except urllib.error.HTTPError as exc:
        raise _Unanswered(f"HTTP {exc.code}") from exc
    except urllib.error.URLError as exc:
        raise _Unanswered(f"unreachable ({exc.reason})") from exc
    except TimeoutError as exc:
        raise _Unanswered(f"no answer within {timeout:g} s") from exc
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise _Unanswered(f"failed ({type(exc).__name__}: {exc})") from exc
    return b"".join(chunks)


# -- OCSP -------------------------------------------------------------------------------------


def _ask_ocsp(
    cert: x509.Certificate, issuer: x509.Certificate, url: str, timeout: float
) -> RevocationCheck:
    nonce = os.urandom(16)
    query = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, issuer, hashes.SHA1())  # noqa: S303 — CertID hash RFC 5019 requires
        .add_extension(x509.OCSPNonce(nonce), critical=False)
        .build()
    )
    der = _fetch(
        url,
        query.public_bytes(serialization.Encoding.DER),
        {"Content-Type": "application/ocsp-request", "Accept": "application/ocsp-response"},
        timeout,
        MAX_OCSP_BYTES,
    )
    try:
        response = ocsp.load_der_ocsp_response(der)
    except ValueError as exc:
        raise _Unanswered("not an OCSP response") from exc
    if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise _Unanswered(f"responder refused ({response.response_status.name})")
    now = datetime.now(UTC)
    try:
        signer = _ocsp_signer(response, issuer, now)
        _verify(signer.public_key(), response)
        try:
            echoed = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            echoed = None  # many responders pre-sign; freshness is checked below instead
        if echoed is not None and echoed != nonce:
            raise _Unanswered("nonce does not match the request (replayed answer?)")
        single = _single_response_for(response, cert, issuer)
        _check_current(single.this_update_utc, single.next_update_utc, now)
        status = single.certificate_status
        revoked_at = single.revocation_time_utc
        reason = single.revocation_reason
    except (ValueError, x509.DuplicateExtension) as exc:  # malformed fields, parsed lazily
        raise _Unanswered(f"malformed response ({exc})") from exc
    if status is ocsp.OCSPCertStatus.GOOD:
        return RevocationCheck(
            RevocationStatus.GOOD, RevocationMethod.OCSP, url, "OCSP responder answered good"
        )
    if status is ocsp.OCSPCertStatus.REVOKED:
        why = f" ({reason.value})" if reason is not None else ""
        return RevocationCheck(
            RevocationStatus.REVOKED,
            RevocationMethod.OCSP,
            url,
            f"OCSP responder answered revoked at {revoked_at:%Y-%m-%d %H:%M:%S}Z{why}",
            revoked_at,
        )
    return RevocationCheck(
        RevocationStatus.UNKNOWN,
        RevocationMethod.OCSP,
        url,
        "the responder does not know this certificate",
    )


def _ocsp_signer(
    response: ocsp.OCSPResponse, issuer: x509.Certificate, now: datetime
) -> x509.Certificate:
    """The issuer, or a responder it authorised (RFC 6960 §4.2.2.2), that signed ``response``."""
    if _is_responder(response, issuer):
        return issuer
    for candidate in response.certificates:
        if not _is_responder(response, candidate):
            continue
        try:
            candidate.verify_directly_issued_by(issuer)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm) as exc:
            raise _Unanswered("responder certificate not issued by the issuer") from exc
        # A set, not an empty ExtendedKeyUsage: cryptography 51 refuses to build one.
        usages: set[x509.ObjectIdentifier] = set()
        with contextlib.suppress(x509.ExtensionNotFound):
            usages.update(candidate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
        if ExtendedKeyUsageOID.OCSP_SIGNING not in usages:
            raise _Unanswered("responder certificate lacks id-kp-OCSPSigning")
        if not candidate.not_valid_before_utc <= now <= candidate.not_valid_after_utc:
            raise _Unanswered("responder certificate is not valid now")
        return candidate
    raise _Unanswered("not signed by the issuer or a responder it authorised")


def _is_responder(response: ocsp.OCSPResponse, cert: x509.Certificate) -> bool:
    if response.responder_key_hash is not None:
        # SHA-1 of the subjectPublicKey bits, which is what this identifier computes.
        key_hash = x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
        return response.responder_key_hash == key_hash
    return response.responder_name == cert.subject


def _verify(public_key: object, response: ocsp.OCSPResponse) -> None:
    """Check the response signature (raises :class:`_Unanswered`)."""
    algorithm = response.signature_hash_algorithm
    data, signature = response.tbs_response_bytes, response.signature
    try:
        if isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            public_key.verify(signature, data)
        elif algorithm is None:
            raise _Unanswered("signature algorithm without a hash")
        elif isinstance(public_key, rsa.RSAPublicKey):
            if response.signature_algorithm_oid == x509.SignatureAlgorithmOID.RSASSA_PSS:
                pad: padding.AsymmetricPadding = padding.PSS(
                    padding.MGF1(algorithm), padding.PSS.AUTO
                )
            else:
                pad = padding.PKCS1v15()
            public_key.verify(signature, data, pad, algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            raise _Unanswered(f"unsupported responder key ({type(public_key).__name__})")
    except InvalidSignature as exc:
        raise _Unanswered("signature does not verify") from exc
    except UnsupportedAlgorithm as exc:
        raise _Unanswered(f"unsupported signature algorithm ({exc})") from exc


def _single_response_for(
    response: ocsp.OCSPResponse, cert: x509.Certificate, issuer: x509.Certificate
) -> ocsp.OCSPSingleResponse:
    """The SingleResponse whose CertID names ``cert`` (serial, issuer name and key hashes)."""
    for single in response.responses:
        if single.serial_number != cert.serial_number:
            continue
        try:
            expected = (
                ocsp.OCSPRequestBuilder()
                .add_certificate(cert, issuer, single.hash_algorithm)
                .build()
            )
        except (ValueError, TypeError, UnsupportedAlgorithm):
            continue  # a CertID hash we cannot compute
        if (single.issuer_name_hash, single.issuer_key_hash) == (
            expected.issuer_name_hash,
            expected.issuer_key_hash,
        ):
            return single
    raise _Unanswered("the response is not about this certificate")


# -- CRL --------------------------------------------------------------------------------------


def _ask_crl(
    cert: x509.Certificate, issuer: x509.Certificate, url: str, timeout: float
) -> RevocationCheck:
    data = _fetch(url, None, {"Accept": "application/pkix-crl"}, timeout, MAX_CRL_BYTES)
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            crl = x509.load_pem_x509_crl(data)
        else:
            crl = x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise _Unanswered("not a CRL") from exc
    try:
        return _read_crl(crl, cert, issuer, url)
    except (ValueError, x509.DuplicateExtension) as exc:  # malformed fields, parsed lazily
        raise _Unanswered(f"malformed CRL ({exc})") from exc


def _read_crl(
    crl: x509.CertificateRevocationList,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    url: str,
) -> RevocationCheck:
    if crl.issuer != issuer.subject:
        raise _Unanswered(f"issued by {crl.issuer.rfc4514_string()}, not the certificate's issuer")
    try:
        usage = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
        if not usage.crl_sign:
            raise _Unanswered("the issuer may not sign CRLs (no cRLSign key usage)")
    except x509.ExtensionNotFound:
        pass
    try:
        signed = crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    except (TypeError, UnsupportedAlgorithm) as exc:
        raise _Unanswered(f"signature cannot be checked ({exc})") from exc
    if not signed:
        raise _Unanswered("not signed by the certificate's issuer")
    _check_current(crl.last_update_utc, crl.next_update_utc, datetime.now(UTC))
    extensions = crl.extensions
    if any(isinstance(e.value, x509.DeltaCRLIndicator) for e in extensions):
        raise _Unanswered("a delta CRL (not supported)")
    scope = next(
        (e.value for e in extensions if isinstance(e.value, x509.IssuingDistributionPoint)), None
    )
    if scope is not None and (
        scope.indirect_crl or scope.only_contains_ca_certs or scope.only_contains_attribute_certs
    ):
        raise _Unanswered("the CRL's scope does not cover end-entity certificates of this issuer")
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is not None:
        revoked_at = entry.revocation_date_utc
        try:
            reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
            why = f" ({reason.value})"
        except x509.ExtensionNotFound:
            why = ""
        return RevocationCheck(
            RevocationStatus.REVOKED,
            RevocationMethod.CRL,
            url,
            f"listed in the CRL, revoked at {revoked_at:%Y-%m-%d %H:%M:%S}Z{why}",
            revoked_at,
        )
    if scope is not None and scope.only_some_reasons is not None:
        raise _Unanswered("a partial CRL (some reasons only) that does not list the certificate")
    return RevocationCheck(
        RevocationStatus.GOOD, RevocationMethod.CRL, url, "not listed in the issuer's current CRL"
    )


# -- shared -----------------------------------------------------------------------------------


def _check_current(this_update: datetime, next_update: datetime | None, now: datetime) -> None:
    if this_update > now + CLOCK_SKEW:
        raise _Unanswered(f"issued in the future ({this_update:%Y-%m-%d %H:%M:%S}Z)")
    if next_update is not None and next_update < now - CLOCK_SKEW:
        raise _Unanswered(f"out of date (next update was {next_update:%Y-%m-%d %H:%M:%S}Z)")
    if next_update is None and this_update < now - MAX_AGE_WITHOUT_NEXT_UPDATE:
        raise _Unanswered(f"stale (issued {this_update:%Y-%m-%d %H:%M:%S}Z, no next update)")
