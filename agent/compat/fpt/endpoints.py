"""What each SignPlugin operation does, in terms of :class:`~agent.service.SigningService` calls.

Every signature goes through the same path as the HTTPS API: the origin the server admitted,
the question with the PIN in the agent's own dialog, the token, the audit trail. Nothing the
page says stands in for its ``Origin``: ``SessionId`` is a token handed out and never trusted,
and the PKCS#11 modules a page names at initialisation are never loaded.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, ParamSpec, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from agent.compat.certificates import name_part, serial_hex
from agent.compat.fpt.protocol import (
    PRODUCT,
    Code,
    Operation,
    PinRefused,
    Reply,
    Unsupported,
    code_for,
    decode_request,
    operation_id,
    parse_cms_call,
    parse_pdf_call,
    parse_xml_call,
)
from agent.errors import AgentError, BadRequest
from agent.messages import Lang, Phrase, text
from agent.origin import Admitted
from agent.pdf.models import PdfSignOptions, SignatureLevel
from agent.protocol import (
    CertificatesRequest,
    CmsSignRequest,
    DigestToSign,
    PdfSignRequest,
    XmlDocumentRequest,
    XmlSignRequest,
    b64encode,
)
from agent.service import SigningService
from agent.xml.commands import infer_spec
from agent.xml.models import PlacementSpec
from agent.xml.models import Profile as XmlProfile
from agent.xml.parse import elements_named, id_of, parse_xml

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

Handler = Callable[[Mapping[str, Any], Admitted], Awaitable[Reply]]
"""One operation: the decoded request object (each handler parses its own) → the reply."""

LARGE: Final = 256 * 1024
"""A body at least this large is decoded on a worker thread, not the loop (each signing
operation parses its fields on one whatever their size)."""


class FptEndpoints:
    """Answers one request of one page."""

    def __init__(self, service: SigningService, *, lang: Lang) -> None:
        self._service = service
        self._lang = lang
        self._handlers: dict[Operation, Handler] = {
            Operation.INIT: self._init,
            Operation.CERTIFICATE: self._certificate,
            Operation.SIGN_CMS: self._sign_cms,
            Operation.SIGN_XML: self._sign_xml,
            Operation.SIGN_PDF: self._sign_pdf,
        }

    async def handle(self, body: bytes, caller: Admitted) -> Reply:
        """The reply to the form ``body`` sent by ``caller``; never raises."""
        number: int | None = None
        try:
            obj = await _off_loop(len(body), decode_request, body)
            number = operation_id(obj)
            try:
                operation = Operation(number)
            except ValueError:
                phrase = Phrase.of(
                    "compat_unsupported", function=f"OperationId {number}", product=PRODUCT
                )
                raise Unsupported(phrase) from None
            return await self._handlers[operation](obj, caller)
        except Exception as exc:  # noqa: BLE001 - every failure becomes the plugin's reply
            return self.failure(exc, caller, number)

    def failure(self, exc: BaseException, caller: Admitted, number: int | None = None) -> Reply:
        """The plugin's reply for ``exc`` (logged here, with the operation it ended)."""
        what = f"OperationId {number}" if number is not None else "request"
        if isinstance(exc, PinRefused):
            log.warning("fpt %s from %s carried a PIN field (%s): refused", what, caller, exc)
            return Reply(Code.PIN_REFUSED, text("compat_pin_refused", self._lang))
        if isinstance(exc, Unsupported):
            log.info("fpt %s from %s: not supported: %s", what, caller, exc)
            return Reply(Code.UNSUPPORTED, exc.phrase.render(self._lang))
        if isinstance(exc, AgentError):
            log.info("fpt %s from %s: %s %s", what, caller, exc.code.value, exc.detail)
            return Reply(code_for(exc.code), exc.public_message(self._lang))
        log.error("fpt %s from %s failed", what, caller, exc_info=exc)
        return Reply(Code.INTERNAL, text("INTERNAL", self._lang))

    async def _init(self, _obj: Mapping[str, Any], caller: Admitted) -> Reply:
        # Any token will do: the plugin's session held the modules it loaded, the agent's
        # requests stand alone and each is admitted by its Origin.
        log.info("fpt: session opened by %s", caller)
        return Reply(Code.OK, fields={"SessionId": secrets.token_hex(16)})

    async def _certificate(self, _obj: Mapping[str, Any], caller: Admitted) -> Reply:
        result = await self._service.select_certificate(caller, CertificatesRequest())
        info = {
            **cert_info(result.certificate),
            "KeyType": result.key_type.value,
            "Chain": [b64encode(c) for c in result.chain],
            "TokenLabel": result.token.label,
            "TokenSerial": result.token.serial,
        }
        return Reply(Code.OK, fields={"certInfo": info}, blobs={"Base64Result": result.certificate})

    async def _sign_cms(self, obj: Mapping[str, Any], caller: Admitted) -> Reply:
        call = await asyncio.to_thread(parse_cms_call, obj)
        if call.size is not None:
            shown = text("fpt_data_document", self._lang, size=call.size)
        else:
            shown = text("fpt_hash_document", self._lang, algorithm=call.algorithm.value)
        result = await self._service.sign_cms(
            caller,
            CmsSignRequest(DigestToSign(call.digest, call.algorithm, shown), tsa_url=call.tsa_url),
        )
        return Reply(
            Code.OK,
            fields={"Certificate": b64encode(result.certificate)},
            blobs={"Signature": result.cms, "Base64Result": result.cms},
        )

    async def _sign_xml(self, obj: Mapping[str, Any], caller: Admitted) -> Reply:
        """An enveloped XMLDSig signature where the document's kind prescribes (an invoice as
        its seller, a tax filing), else on the element ``tagXML`` names (or the root) by its
        Id, through the same question, PIN and audit as ``POST /v1/xml/sign``."""
        call = await asyncio.to_thread(parse_xml_call, obj)
        if call.tag is None:
            spec = await infer_spec(call.xml)
        else:
            spec = await asyncio.to_thread(tagged_spec, call.xml, call.tag)
        request = XmlSignRequest((XmlDocumentRequest(call.xml, spec, call.digest),))
        signed = await self._service.sign_xml(caller, request)
        return Reply(
            Code.OK,
            fields={
                "SignatureAlgorithm": signed.document.signature_algorithm,
                "Certificate": b64encode(signed.certificate),
            },
            blobs={"Base64Result": signed.document.xml},
        )

    async def _sign_pdf(self, obj: Mapping[str, Any], caller: Admitted) -> Reply:
        call = await asyncio.to_thread(parse_pdf_call, obj)
        level = SignatureLevel.B_T if call.tsa_url else SignatureLevel.B_B
        options = PdfSignOptions(level=level, tsa_url=call.tsa_url, appearance=call.appearance)
        shown = text("fpt_pdf_document", self._lang, size=len(call.pdf))
        signed = await self._service.sign_pdf(
            caller, PdfSignRequest(call.pdf, options, document_name=shown)
        )
        return Reply(
            Code.OK,
            fields={"Certificate": b64encode(signed.certificate)},
            blobs={"Base64Result": signed.signed_bytes()},
        )


async def _off_loop(size: int, work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``work(*args)``, on a worker thread when the request is large (base64 and hashing of a
    PDF take tens of milliseconds the loop should spend on other pages)."""
    if size >= LARGE:
        return await asyncio.to_thread(work, *args, **kwargs)
    return work(*args, **kwargs)


def tagged_spec(xml: bytes, tag: str) -> PlacementSpec:
    """``tagXML`` names the element to sign: the one element of that name, by its Id, with the
    signature inside it. Anything else (none, several, no Id) is refused before asking."""
    tree = parse_xml(xml)
    found = elements_named(tree.getroot(), tag)
    if len(found) != 1:
        raise BadRequest(Phrase.of("fpt_xml_tag", tag=tag, count=len(found)))
    sign_id = id_of(found[0])
    if sign_id is None:
        raise BadRequest(Phrase.of("fpt_xml_tag_no_id", tag=tag))
    return PlacementSpec(XmlProfile.ENVELOPED, sign_id=sign_id)


def cert_info(der: bytes) -> dict[str, Any]:
    """``certInfo`` as portals read it (``Base64Encode``, ``SerialNumber``, ``CommonName``),
    and what else a certificate picker shows."""
    cert = x509.load_der_x509_certificate(der)
    return {
        "Base64Encode": b64encode(der),
        "SerialNumber": serial_hex(cert),
        "CommonName": name_part(cert.subject, NameOID.COMMON_NAME),
        "Organization": name_part(cert.subject, NameOID.ORGANIZATION_NAME),
        "Subject": cert.subject.rfc4514_string(),
        "Issuer": cert.issuer.rfc4514_string(),
        "IssuerCommonName": name_part(cert.issuer, NameOID.COMMON_NAME),
        "ValidFrom": cert.not_valid_before_utc.isoformat(),
        "ValidTo": cert.not_valid_after_utc.isoformat(),
        "Thumbprint": hashlib.sha1(der, usedforsecurity=False).hexdigest().upper(),
        "ThumbprintSHA256": cert.fingerprint(hashes.SHA256()).hex().upper(),
    }
