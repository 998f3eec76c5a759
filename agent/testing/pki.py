"""A local PKI responder for the tests and the benchmarks: TSA, CRL and OCSP on 127.0.0.1.

:class:`LocalPki` serves, from an aiohttp application on a thread of its own
(port 0, so tests run side by side):

``/tsa``
    RFC 3161 time-stamping (``application/timestamp-query`` →
    ``application/timestamp-reply``), answered by pyHanko's ``DummyTimeStamper``
    with an RSA key whose certificate the CA issued with a critical
    ``timeStamping`` EKU.
``/crl``
    The CA's CRL (DER), signed afresh on every request, valid for a day.
``/ocsp``
    An OCSP responder (POST ``application/ocsp-request``, or
    ``GET /ocsp/<base64>``), signed by the CA itself or, with
    :attr:`OcspSigner.DELEGATED`, by a responder certificate the CA issued with
    ``OCSPSigning``. Serials it was told about (:meth:`LocalPki.issue`,
    :meth:`LocalPki.register`, :meth:`LocalPki.revoke`) are ``good`` or
    ``revoked``; any other serial is ``unknown``.

The revoked set is shared by the CRL and the OCSP responder. :attr:`LocalPki.served`
counts the requests each endpoint answered, so a test can prove it was consulted.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import threading
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import TracebackType
from typing import Any, Final
from urllib.parse import unquote

from aiohttp import web
from asn1crypto import keys, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from agent.testing.softhsm import TestCa, vn_name

HOST: Final = "127.0.0.1"
MAX_REQUEST_BYTES: Final = 64 * 1024
"""TSA and OCSP requests are a few hundred bytes."""


class OcspSigner(StrEnum):
    """Who signs the OCSP responses."""

    ISSUER = "issuer"
    """The CA itself (responder = issuer)."""
    DELEGATED = "delegated"
    """A responder certificate issued by the CA with ``id-kp-OCSPSigning`` (RFC 6960 §4.2.2.2)."""


class Endpoint(StrEnum):
    """What :attr:`LocalPki.served` counts."""

    TSA = "tsa"
    CRL = "crl"
    OCSP = "ocsp"


@dataclass(frozen=True)
class Revocation:
    """One revoked serial."""

    when: datetime
    """Revocation time (UTC)."""
    reason: x509.ReasonFlags | None
    """CRL reason, if any."""


def _size_probe(query: tsp.TimeStampReq) -> bool:
    """pyHanko's request for a token of the right size: its imprint is the digest of nothing."""
    imprint = query["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    try:
        empty = hashlib.new(algorithm, b"").digest()
    except ValueError:
        return False
    return bool(imprint["hashed_message"].native == empty)


class LocalPki:
    """TSA, CRL and OCSP for :attr:`ca`, served on 127.0.0.1 from a background thread.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. The URLs are
    known once started.
    """

    def __init__(self, ca: TestCa | None = None, *, ocsp_signer: OcspSigner = OcspSigner.ISSUER):
        self.ca: Final[TestCa] = ca or TestCa.create()
        """The CA whose certificates this PKI answers for."""
        self.ocsp_signer: Final = ocsp_signer
        """Who signs the OCSP responses."""
        tsa_key = rsa.generate_private_key(65537, 2048)  # pyHanko's dummy TSA signs RSA only
        self.tsa_key: Final = tsa_key
        """The TSA's private key."""
        self.tsa_cert: Final = self.ca.issue(
            tsa_key.public_key(),
            vn_name("Kyso Test TSA", "Kyso Agent (test)"),
            extended_key_usage=[ExtendedKeyUsageOID.TIME_STAMPING],
        )
        """The TSA's certificate (critical EKU ``timeStamping``)."""
        self.ocsp_key: Final = rsa.generate_private_key(65537, 2048)
        """The delegated OCSP responder's key (used with :attr:`OcspSigner.DELEGATED`)."""
        self.ocsp_cert: Final = self.ca.issue(
            self.ocsp_key.public_key(),
            vn_name("Kyso Test OCSP", "Kyso Agent (test)"),
            extended_key_usage=[ExtendedKeyUsageOID.OCSP_SIGNING],
        )
        """The delegated OCSP responder's certificate."""
        self._lock = threading.Lock()
        self._known: set[int] = set()
        self._revoked: dict[int, Revocation] = {}
        self._served: Counter[str] = Counter()
        self._crl_number = 0
        self._port: int | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._failure: BaseException | None = None
        self._tsa_open = threading.Event()
        self._tsa_open.set()
        self._tsa_free = 0  # requests still answered at once while held

    # -- URLs ---------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL (``http://127.0.0.1:PORT``); only once started."""
        if self._port is None:
            raise RuntimeError("LocalPki is not started")
        return f"http://{HOST}:{self._port}"

    @property
    def tsa_url(self) -> str:
        """RFC 3161 time-stamping URL."""
        return f"{self.url}/tsa"

    @property
    def crl_url(self) -> str:
        """CRL URL."""
        return f"{self.url}/crl"

    @property
    def ocsp_url(self) -> str:
        """OCSP responder URL."""
        return f"{self.url}/ocsp"

    # -- state --------------------------------------------------------------------------------

    @property
    def served(self) -> dict[str, int]:
        """Requests answered so far, per :class:`Endpoint` (``{"tsa": 2, "ocsp": 1}``)."""
        with self._lock:
            return {endpoint.value: self._served[endpoint.value] for endpoint in Endpoint}

    def issue(self, public_key: Any, subject: x509.Name, **kwargs: Any) -> x509.Certificate:
        """:meth:`TestCa.issue` with this PKI's CRL and OCSP URLs; the serial becomes known."""
        kwargs.setdefault("crl_url", self.crl_url)
        kwargs.setdefault("ocsp_url", self.ocsp_url)
        cert = self.ca.issue(public_key, subject, **kwargs)
        self.register(cert.serial_number)
        return cert

    def register(self, serial: int) -> None:
        """Answer ``good`` for ``serial``: a certificate the CA issued elsewhere (on a token)."""
        with self._lock:
            self._known.add(serial)

    def revoke(self, serial: int, reason: x509.ReasonFlags | None = None) -> None:
        """Revoke ``serial`` now: the next CRL lists it and OCSP answers ``revoked``."""
        with self._lock:
            self._known.add(serial)
            self._revoked.setdefault(serial, Revocation(_now(), reason))

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> LocalPki:
        """Serve on a free port; returns once listening."""
        if self._thread is not None:
            raise RuntimeError("LocalPki is already started")
        self._started.clear()
        self._thread = threading.Thread(target=self._run, name="local-pki", daemon=True)
        self._thread.start()
        self._started.wait(30)
        if self._failure is not None or self._port is None:
            self._thread.join(5)
            self._thread = None
            raise RuntimeError("LocalPki did not start") from self._failure
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread (idempotent)."""
        thread, loop, stop = self._thread, self._loop, self._stop
        if thread is None:
            return
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        self._thread = self._loop = self._stop = None
        self._port = None

    def __enter__(self) -> LocalPki:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except OSError as exc:  # cannot listen; start() raises it
            self._failure = exc
        finally:
            self._started.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        runner = web.AppRunner(self._app(), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, HOST, 0)
            await site.start()
            self._port = int(runner.addresses[0][1])
            self._started.set()
            await self._stop.wait()
        finally:
            await runner.cleanup()

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_post("/tsa", self._tsa)
        app.router.add_get("/crl", self._crl)
        app.router.add_post("/ocsp", self._ocsp_post)
        app.router.add_get("/ocsp/{request:.+}", self._ocsp_get)
        return app

    def _count(self, endpoint: Endpoint) -> None:
        with self._lock:
            self._served[endpoint.value] += 1

    # -- TSA ----------------------------------------------------------------------------------

    def hold_tsa(self, after: int = 0) -> None:
        """Answer ``after`` more signatures' time-stamp requests, then keep every further one
        waiting until :meth:`release_tsa`: a signature that needs one is then stopped in the
        middle, for as long as a test needs (a batch's Stop pressed while its document
        ``after`` is being signed). pyHanko's size probe (the digest of nothing, asked once
        per signer) is always answered at once."""
        with self._lock:
            self._tsa_free = after
        self._tsa_open.clear()

    def release_tsa(self) -> None:
        """Answer the waiting time-stamp requests, and the next ones at once."""
        self._tsa_open.set()

    async def _tsa(self, request: web.Request) -> web.Response:
        # Only this test TSA uses pyHanko outside agent/pdf; keep it off the import path.
        from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
        from pyhanko_certvalidator.registry import SimpleCertificateStore

        try:
            query = tsp.TimeStampReq.load(await request.read())
            query.native  # noqa: B018 — parse everything now: asn1crypto is lazy
        except ValueError as exc:
            raise web.HTTPBadRequest(text=f"bad timestamp query: {exc}") from exc
        stamper = DummyTimeStamper(
            tsa_cert=asn1_x509.Certificate.load(_der(self.tsa_cert)),
            tsa_key=keys.PrivateKeyInfo.load(
                self.tsa_key.private_bytes(
                    serialization.Encoding.DER,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            ),
            certs_to_embed=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
                [asn1_x509.Certificate.load(_der(self.ca.cert))]
            ),
        )
        if not _size_probe(query):
            with self._lock:
                free = self._tsa_free > 0
                self._tsa_free -= free
            if not free:
                await asyncio.to_thread(self._tsa_open.wait, 60)  # bounded: a forgetful test
        reply = await stamper.async_request_tsa_response(query)
        self._count(Endpoint.TSA)
        return web.Response(body=reply.dump(), content_type="application/timestamp-reply")

    # -- CRL ----------------------------------------------------------------------------------

    def crl(self) -> x509.CertificateRevocationList:
        """A fresh CRL listing the revoked serials (what ``/crl`` serves)."""
        now = _now()
        with self._lock:
            self._crl_number += 1
            number = self._crl_number
            revoked = dict(self._revoked)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.ca.cert.subject)
            .last_update(now - timedelta(minutes=1))
            .next_update(now + timedelta(days=1))
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca.key.public_key()),
                critical=False,
            )
        )
        for serial, revocation in revoked.items():
            entry = x509.RevokedCertificateBuilder().serial_number(serial)
            entry = entry.revocation_date(revocation.when)
            if revocation.reason is not None:
                entry = entry.add_extension(x509.CRLReason(revocation.reason), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        return builder.sign(self.ca.key, hashes.SHA256())

    async def _crl(self, request: web.Request) -> web.Response:
        body = self.crl().public_bytes(serialization.Encoding.DER)
        self._count(Endpoint.CRL)
        return web.Response(body=body, content_type="application/pkix-crl")

    # -- OCSP ---------------------------------------------------------------------------------

    async def _ocsp_post(self, request: web.Request) -> web.Response:
        return self._ocsp_reply(await request.read())

    async def _ocsp_get(self, request: web.Request) -> web.Response:
        encoded = unquote(request.match_info["request"])
        url_safe = "-" in encoded or "_" in encoded
        try:
            der = base64.b64decode(
                encoded + "=" * (-len(encoded) % 4),
                altchars=b"-_" if url_safe else None,
                validate=True,
            )
        except (ValueError, binascii.Error) as exc:
            raise web.HTTPBadRequest(text="bad base64") from exc
        return self._ocsp_reply(der)

    def _ocsp_reply(self, der: bytes) -> web.Response:
        body = self.ocsp_response(der).public_bytes(serialization.Encoding.DER)
        self._count(Endpoint.OCSP)
        return web.Response(body=body, content_type="application/ocsp-response")

    def ocsp_response(self, request_der: bytes) -> ocsp.OCSPResponse:
        """The answer ``/ocsp`` gives to a DER OCSP request."""
        try:
            query = ocsp.load_der_ocsp_request(request_der)
        except ValueError:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.MALFORMED_REQUEST
            )
        algorithm = query.hash_algorithm
        if not _issued_by(query, self.ca.cert, algorithm):
            return ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        serial = query.serial_number
        with self._lock:
            known = serial in self._known
            revocation = self._revoked.get(serial)
        if revocation is not None:
            status = ocsp.OCSPCertStatus.REVOKED
        elif known:
            status = ocsp.OCSPCertStatus.GOOD
        else:
            status = ocsp.OCSPCertStatus.UNKNOWN
        now = _now()
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=query.issuer_name_hash,
            issuer_key_hash=query.issuer_key_hash,
            serial_number=serial,
            algorithm=algorithm,
            cert_status=status,
            this_update=now - timedelta(minutes=1),
            next_update=now + timedelta(hours=1),
            revocation_time=revocation.when if revocation else None,
            revocation_reason=revocation.reason if revocation else None,
        )
        try:
            nonce = query.extensions.get_extension_for_class(x509.OCSPNonce).value
            builder = builder.add_extension(nonce, critical=False)
        except x509.ExtensionNotFound:
            pass
        if self.ocsp_signer is OcspSigner.DELEGATED:
            builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, self.ocsp_cert)
            builder = builder.certificates([self.ocsp_cert])
            return builder.sign(self.ocsp_key, hashes.SHA256())
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, self.ca.cert)
        return builder.sign(self.ca.key, hashes.SHA256())


def _issued_by(query: ocsp.OCSPRequest, issuer: x509.Certificate, algorithm: Any) -> bool:
    """Whether the request's CertID names ``issuer`` (name and key hashes, RFC 6960 §4.1.1)."""
    return (
        _digest(algorithm, issuer.subject.public_bytes()) == query.issuer_name_hash
        and _digest(algorithm, _key_bits(issuer)) == query.issuer_key_hash
    )


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    digest = hashes.Hash(algorithm)
    digest.update(data)
    return digest.finalize()


def _key_bits(cert: x509.Certificate) -> bytes:
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return bytes(keys.PublicKeyInfo.load(spki)["public_key"].contents[1:])


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
