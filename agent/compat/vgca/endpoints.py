"""What each VGCA endpoint does, in terms of :class:`~agent.service.SigningService` calls.

PDF endpoints: every URL of the request is checked (no network until all pass) →
download → the service's consent, PIN, token and audit path with the endpoint's
appearance profile → the signed file is kept in the data directory → upload to
``FileUploadHandler`` → reply. Which profile each endpoint uses:

============  ==============  ==================================================
endpoint      profile         stamp text
============  ==============  ==================================================
SignApproved  personal        "Ký bởi" / "Thời gian ký" (the leader)
SignIssued    organization    organisation, "Số: DocNumber", "Ngày ban hành: …"
SignIncome    attachment      "VĂN BẢN ĐẾN" (+ "Số đến: DocNumber"), page 1 top right
SignAppendix  attachment      DocNumber (the document it belongs to)
SignCopy      attachment      "SAO Y" (+ "Số: DocNumber"), page 1 top right
Comment       personal        "Ký bởi" / "Thời gian ký"
SignPDF       invisible       —
SignFile      invisible       — (several files: one question, one PIN for the list)
============  ==============  ==================================================
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID

from agent import __version__
from agent.algorithms import HashAlgorithm
from agent.compat.certificates import name_part, serial_hex
from agent.compat.vgca.file_list import FileList
from agent.compat.vgca.protocol import (
    VIETNAM_TIME,
    DataMsg,
    Endpoint,
    FileRef,
    FilesCall,
    FilesShape,
    LocalFileWanted,
    PdfCall,
    Reply,
    Status,
    decode_message,
    json_or_text,
    name_from_url,
    parse_auth_call,
    parse_files_call,
    parse_msg_call,
    parse_pdf_call,
    parse_verify_call,
    parse_verify_msg_call,
    parse_verify_xml_call,
    parse_xml_call,
    status_for,
)
from agent.compat.vgca.transfer import (
    FileTooLarge,
    TransferError,
    Transfers,
    UploadFailed,
    UrlNotAllowed,
)
from agent.compat.vgca.verify import NotASignature, check_message
from agent.errors import AgentError, BadRequest
from agent.messages import Lang, Phrase, text
from agent.origin import Admitted
from agent.pdf.models import Appearance, PdfSignOptions, Profile
from agent.protocol import (
    CertificatesRequest,
    CmsSignRequest,
    DigestToSign,
    PdfSignRequest,
    PdfVerifyRequest,
    SignRequest,
    XmlDocumentRequest,
    XmlSignRequest,
    XmlVerifyRequest,
    b64encode,
)
from agent.server.budget import BudgetLimits, MemoryBudget
from agent.server.middlewares import MemoryRelease
from agent.service import SigningService
from agent.xml.commands import infer_spec, signature_only
from agent.xml.verify.model import XmlSignatureReport

log = logging.getLogger(__name__)

# Stamp wording and reasons are part of the signed document, in the Vietnamese the decree
# prescribes; they are not interface text and are never translated.
NUMBER: Final = "Số"
ISSUED_ON: Final = "Ngày ban hành"
INCOMING: Final = "VĂN BẢN ĐẾN"
INCOMING_NUMBER: Final = "Số đến"
COPY: Final = "SAO Y"


@dataclass(frozen=True)
class SignStyle:
    """How one endpoint signs a PDF."""

    profile: Profile
    """Appearance profile."""
    reason: str | None
    """The signature's /Reason."""
    needs_number: bool = False
    """``DocNumber`` is required."""


STYLES: Final[Mapping[Endpoint, SignStyle]] = {
    Endpoint.SIGN_APPROVED: SignStyle(Profile.PERSONAL, "Phê duyệt"),
    Endpoint.SIGN_ISSUED: SignStyle(Profile.ORGANIZATION, "Ban hành", needs_number=True),
    Endpoint.SIGN_INCOME: SignStyle(Profile.ATTACHMENT, "Tiếp nhận văn bản đến"),
    Endpoint.SIGN_APPENDIX: SignStyle(Profile.ATTACHMENT, "Ký phụ lục", needs_number=True),
    Endpoint.SIGN_COPY: SignStyle(Profile.ATTACHMENT, "Sao y bản chính"),
    Endpoint.COMMENT: SignStyle(Profile.PERSONAL, "Cho ý kiến"),
    Endpoint.SIGN_PDF: SignStyle(Profile.INVISIBLE, None),
    Endpoint.SIGN_FILE: SignStyle(Profile.INVISIBLE, None),
}


@dataclass(frozen=True)
class Stamp:
    """The appearance of one signature and what the reply reports about it."""

    appearance: Appearance
    """What is drawn, and where."""
    custom_text: str = ""
    """``CustomSignatureText``: what the stamp says besides signer and time."""
    document_number: str = ""
    """``DocumentNumber`` of the reply."""
    document_date: str = ""
    """``DocumentDate`` of the reply (ISO 8601), for issued documents."""


def stamp_for(endpoint: Endpoint, call: PdfCall, now: datetime) -> Stamp:
    """The appearance ``endpoint`` draws for ``call``."""
    style = STYLES[endpoint]
    number = call.doc_number
    if style.needs_number and not number:
        raise BadRequest(Phrase.of("vgca_doc_number", endpoint=endpoint.value))
    issued = (call.issued_date or now).astimezone(VIETNAM_TIME)
    date = issued.isoformat(timespec="seconds") if endpoint is Endpoint.SIGN_ISSUED else ""
    if endpoint is Endpoint.SIGN_ISSUED:
        assert number is not None  # noqa: S101 - needs_number
        details = (f"{NUMBER}: {number}", f"{ISSUED_ON}: {issued:%d/%m/%Y}")
        appearance = Appearance(Profile.ORGANIZATION, details=details)
        return Stamp(appearance, "\n".join(details), number, date)
    if endpoint is Endpoint.SIGN_APPENDIX:
        assert number is not None  # noqa: S101 - needs_number
        return Stamp(Appearance(Profile.ATTACHMENT, text=number), number, number)
    if endpoint in (Endpoint.SIGN_INCOME, Endpoint.SIGN_COPY):
        head, label = (
            (INCOMING, INCOMING_NUMBER) if endpoint is Endpoint.SIGN_INCOME else (COPY, NUMBER)
        )
        words = head if not number else f"{head}\n{label}: {number}"
        return Stamp(Appearance(Profile.ATTACHMENT, text=words), words, number or "")
    return Stamp(Appearance(style.profile), document_number=number or "")


Handler = Callable[[Endpoint, str, Admitted], Awaitable[Reply]]
"""One endpoint: its message's text (each handler parses its own) → the reply."""

INSTEAD: Final[Mapping[str, str]] = {
    "SignPDFWP": "vgca_instead_pdfwp",
    "SignOffice": "vgca_instead_office",
    "VerifyOffice": "vgca_instead_verify_office",
    "SignXMLP12": "vgca_instead_p12",
}
"""Endpoints of ``vgcaplugin.js`` that Kyso Agent does not offer, with the catalogue sentence
saying what to use instead (``Status: 2``). Any other unknown name gets ``vgca_unsupported``."""


class VgcaEndpoints:
    """Answers one request of one page."""

    def __init__(
        self,
        service: SigningService,
        transfers: Transfers,
        *,
        lang: Lang,
        max_pdf_bytes: int,
        budget: MemoryBudget | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        pick_local: Callable[[Lang], Awaitable[Path | None]] | None = None,
        memory: MemoryRelease | None = None,
    ) -> None:
        self._pick_local = pick_local
        self._memory = memory or MemoryRelease()
        """Gives the memory of downloaded and signed documents back (one per app)."""
        """Asks the user for a local PDF (``FileName`` empty); ``None`` without a display."""
        self._service = service
        self._transfers = transfers
        self._lang = lang
        self._max_pdf_bytes = max_pdf_bytes
        self._budget = budget or MemoryBudget(BudgetLimits.for_largest(max_pdf_bytes))
        self._clock = clock
        self._handlers: dict[Endpoint, Handler] = {
            **{endpoint: self._sign_pdf for endpoint in STYLES if endpoint in _PDF_CALLS},
            Endpoint.SIGN_FILE: self._sign_files,
            Endpoint.SIGN_MSG: self._sign_msg,
            Endpoint.GET_CERT_INFO: self._cert_info,
            Endpoint.VERIFY_PDF: self._verify,
            Endpoint.VERIFY_MSG: self._verify_msg,
            Endpoint.AUTH: self._auth,
            Endpoint.GET_LICENSE_REQUEST: self._license,
            Endpoint.SIGN_XML: self._sign_xml,
            Endpoint.VERIFY_XML: self._verify_xml,
        }

    async def handle(self, name: str, message: str, caller: Admitted, port: int) -> Reply:
        """The reply to ``message`` sent to endpoint ``name`` by ``caller``; never raises."""
        try:
            endpoint = Endpoint(name)
        except ValueError:
            log.info("vgca: unsupported endpoint %r from %s", name[:64], caller)
            if name in INSTEAD:
                return Reply(Status.UNSUPPORTED, self._text(INSTEAD[name]))
            return Reply(Status.UNSUPPORTED, self._text("vgca_unsupported", endpoint=name[:64]))
        try:
            if endpoint is Endpoint.CONFIG:
                decode_message(message, endpoint)
                return self._config(port)
            # A call that fetches a file holds it until the reply: room for the largest first,
            # shared with the HTTPS API's bodies (agent/server/budget.py).
            held = self._max_pdf_bytes if endpoint in _HOLDS_A_FILE else 0
            try:
                async with self._budget.hold(str(caller), held):
                    return await self._handlers[endpoint](endpoint, message, caller)
            finally:
                if held:
                    # The downloaded and signed copies: handed back as after an HTTPS body.
                    self._memory.schedule()
        except LocalFileWanted as wanted:
            return await self._local_file(endpoint, wanted.call, caller)
        except AgentError as exc:
            log.info("vgca %s from %s: %s %s", endpoint.value, caller, exc.code.value, exc.detail)
            return Reply(status_for(exc.code), exc.public_message(self._lang))
        except TransferError as exc:
            return self._transfer_failure(endpoint, caller, exc)
        except Exception:
            log.exception("vgca %s from %s failed", endpoint.value, caller)
            return Reply(Status.INTERNAL, text("INTERNAL", self._lang))

    def binary_message(self) -> Reply:
        """The reply to a binary message: the plugin's pages send text."""
        detail = Phrase.of("vgca_binary_message").render(self._lang)
        return Reply(Status.BAD_REQUEST, self._text("BAD_REQUEST", detail=detail))

    def _text(self, key: str, **values: object) -> str:
        return text(key, self._lang, **values)

    def _transfer_failure(self, endpoint: Endpoint, caller: Admitted, exc: TransferError) -> Reply:
        log.info("vgca %s from %s: %s %s", endpoint.value, caller, exc.status.name, exc.detail)
        if isinstance(exc, UploadFailed):
            message = self._text("vgca_upload_failed", detail=exc.detail, kept=exc.shown)
            return Reply(exc.status, message, extra={"SavedFile": exc.shown})
        if isinstance(exc, FileTooLarge):
            return Reply(exc.status, self._text("vgca_too_large", limit=exc.limit))
        if isinstance(exc, UrlNotAllowed):
            return Reply(exc.status, self._text("vgca_url_not_allowed", origin=exc.origin))
        return Reply(exc.status, self._text("vgca_download_failed", detail=exc.detail))

    # --- PDF signing --------------------------------------------------------------------

    async def _sign_pdf(self, endpoint: Endpoint, message: str, caller: Admitted) -> Reply:
        call = parse_pdf_call(decode_message(message, endpoint))
        stamp = stamp_for(endpoint, call, self._clock())
        # Both URLs pass before anything is sent anywhere.
        self._transfers.check(call.source, caller)
        self._transfers.check(call.delivery.upload_url, caller)
        name = name_from_url(call.source)
        return await self._sign_one(endpoint, call, stamp, name, caller)

    async def _local_file(self, endpoint: Endpoint, call: PdfCall, caller: Admitted) -> Reply:
        """``FileName`` empty: the user picks the PDF in the agent's own chooser."""
        if self._pick_local is None or endpoint not in STYLES:
            return Reply(Status.UNSUPPORTED, self._text("vgca_local_file"))
        try:
            self._transfers.check(call.delivery.upload_url, caller)
            stamp = stamp_for(endpoint, call, self._clock())
            path = await self._pick_local(self._lang)
            if path is None:
                return Reply(Status.USER_CANCELLED, text("USER_CANCELLED", self._lang))
            pdf = await asyncio.to_thread(_read_local, path, self._max_pdf_bytes)
            return await self._sign_one(endpoint, call, stamp, path.name, caller, pdf=pdf)
        except AgentError as exc:
            return Reply(status_for(exc.code), exc.public_message(self._lang))
        except TransferError as exc:
            return self._transfer_failure(endpoint, caller, exc)
        except OSError as exc:
            detail = exc.strerror or type(exc).__name__
            return Reply(Status.DOWNLOAD_FAILED, self._text("vgca_download_failed", detail=detail))

    async def _sign_one(
        self,
        endpoint: Endpoint,
        call: PdfCall,
        stamp: Stamp,
        name: str | None,
        caller: Admitted,
        *,
        pdf: bytes | None = None,
    ) -> Reply:
        source = None
        if pdf is None:
            source = self._transfers.other_origin(call.source, caller)
            pdf = await self._transfers.download(call.source, caller, call.delivery.jwt_token)
        request = PdfSignRequest(
            pdf=pdf,
            options=PdfSignOptions(reason=STYLES[endpoint].reason, appearance=stamp.appearance),
            document_name=name,
        )
        # Shown in the question and audited when not the page's own origin.
        signed = await self._service.sign_pdf(
            caller,
            request,
            source=source,
            destination=self._transfers.other_origin(call.delivery.upload_url, caller),
        )
        answer = await self._transfers.deliver(
            signed.signed_bytes(), name or "signed.pdf", call.delivery, caller
        )
        return Reply(
            Status.OK,
            answer.message,
            file_name=answer.file_name,
            file_server=answer.file_server,
            custom_signature_text=stamp.custom_text,
            document_number=stamp.document_number,
            document_date=stamp.document_date,
        )

    async def _sign_files(self, endpoint: Endpoint, message: str, caller: Admitted) -> Reply:
        call = parse_files_call(decode_message(message, endpoint))
        for ref in call.files:
            self._transfers.check(ref.url, caller)
        self._transfers.check(call.delivery.upload_url, caller)
        if len(call.files) == 1:
            replies = [await self._one_of_many(endpoint, call.files[0], call, caller)]
        else:
            listing = FileList(
                self._service,
                self._transfers,
                lang=self._lang,
                max_pdf_bytes=self._max_pdf_bytes,
                options=PdfSignOptions(reason=STYLES[endpoint].reason, appearance=Appearance()),
                sign_alone=lambda ref: self._one_of_many(endpoint, ref, call, caller),
                transfer_failure=lambda exc: self._transfer_failure(endpoint, caller, exc),
            )
            replies = await listing.sign(call, caller)
        results = [_file_result(r, reply) for r, reply in zip(call.files, replies, strict=True)]
        # The reply's own status is the first failure's cause (a file refused before the
        # question may come after others answered NOT_ATTEMPTED because of it).
        failures = [reply for reply in replies if reply.status is not Status.OK]
        causes = [reply for reply in failures if reply.status is not Status.NOT_ATTEMPTED]
        failed = next(iter(causes or failures), None)
        if call.shape is FilesShape.SINGLE:
            # One file named by FileName: answered like a PDF call, FileName and FileServer on
            # top, as SignFile callbacks read them (and the list, for either kind of reader).
            [single] = replies
            return Reply(
                single.status,
                single.message,
                file_name=single.file_name,
                file_server=single.file_server,
                extra={"Files": results},
            )
        if failed is not None:
            return Reply(failed.status, failed.message, extra={"Files": results})
        return Reply(Status.OK, extra={"Files": results})

    async def _one_of_many(
        self, endpoint: Endpoint, ref: FileRef, call: FilesCall, caller: Admitted
    ) -> Reply:
        single = PdfCall(ref.url, call.delivery)
        try:
            name = ref.name or name_from_url(ref.url)
            return await self._sign_one(endpoint, single, Stamp(Appearance()), name, caller)
        except AgentError as exc:
            return Reply(status_for(exc.code), exc.public_message(self._lang))
        except TransferError as exc:
            return self._transfer_failure(endpoint, caller, exc)

    # --- the rest -----------------------------------------------------------------------

    async def _sign_msg(self, _endpoint: Endpoint, message: str, caller: Admitted) -> Reply:
        call = parse_msg_call(message)
        if isinstance(call, DataMsg):
            digest = hashlib.sha256(call.data).digest()
            shown = self._text("vgca_msg_document", size=len(call.data))
            result = await self._service.sign_cms(
                caller, CmsSignRequest(DigestToSign(digest, HashAlgorithm.SHA256, shown))
            )
            return Reply(Status.OK, extra=_signature_fields(result.cms, result.certificate))
        # The portal's own digest: a raw signature it wraps itself (an XML signature …), asked
        # for, checked and audited like POST /v1/sign.
        shown = self._text("vgca_hash_document", algorithm=call.algorithm.value)
        signed = await self._service.sign(
            caller, SignRequest(DigestToSign(call.digest, call.algorithm, shown))
        )
        return Reply(
            Status.OK,
            extra={
                **_signature_fields(signed.signature, signed.certificate),
                "HashAlg": call.algorithm.value.replace("-", ""),
                "HashValue": b64encode(call.digest),
            },
        )

    async def _auth(self, _endpoint: Endpoint, message: str, caller: Admitted) -> Reply:
        """A sign-in: the site's challenge, signed after the same question as any signature
        (origin, first-use pairing, PIN in the agent's dialog, audit trail)."""
        call = parse_auth_call(message)
        challenge = call.challenge.encode("utf-8")
        shown = self._text("vgca_auth_document", size=len(call.challenge))
        result = await self._service.sign_cms(
            caller,
            CmsSignRequest(
                DigestToSign(hashlib.sha256(challenge).digest(), HashAlgorithm.SHA256, shown)
            ),
        )
        return Reply(Status.OK, extra=_signature_fields(result.cms, result.certificate))

    async def _verify_msg(self, _endpoint: Endpoint, message: str, _caller: Admitted) -> Reply:
        call = parse_verify_msg_call(message)
        try:
            check = await asyncio.to_thread(
                check_message,
                call.content,
                call.signature,
                call.certificate,
                self._service.trust_roots,
                self._clock(),
            )
        except NotASignature as exc:
            log.info("vgca VerifyMsg: %s", exc)
            raise BadRequest(Phrase.of("vgca_msg_no_certificate")) from exc
        fields: dict[str, Any] = {
            "Valid": check.intact and check.trusted,
            "Intact": check.intact,
            "Trusted": check.trusted,
        }
        signer = ""
        if check.certificate is not None:
            info = cert_fields(check.certificate)
            signer = info["SubjectCN"] or info["Subject"]
            fields |= {"CertBase64": info["Certificate"], "CertInfo": info, "Signer": signer}
        if not check.intact:
            log.info("vgca VerifyMsg: %s", check.detail)
            return Reply(Status.SIGNATURE_INVALID, self._text("vgca_msg_broken"), extra=fields)
        if not check.trusted:
            return Reply(
                Status.SIGNATURE_INVALID,
                self._text("vgca_msg_untrusted", signer=signer),
                extra=fields,
            )
        return Reply(Status.OK, self._text("vgca_msg_valid", signer=signer), extra=fields)

    async def _sign_xml(self, _endpoint: Endpoint, message: str, caller: Admitted) -> Reply:
        """The document signed where its kind prescribes (an invoice as its seller, a tax
        filing, else its root element by Id), through the same question, PIN and audit as
        ``POST /v1/xml/sign``; a document that cannot be signed is refused before asking."""
        call = parse_xml_call(message)
        spec = await infer_spec(call.xml)
        request = XmlSignRequest((XmlDocumentRequest(call.xml, spec, call.digest),))
        signed = await self._service.sign_xml(caller, request)
        document = signed.document.xml
        if call.signature_only:
            document = await signature_only(document, call.xml)
        return Reply(
            Status.OK,
            extra={
                **_signature_fields(document, signed.certificate),
                "HashAlg": call.digest.value.replace("-", ""),
                "SignatureAlgorithm": signed.document.signature_algorithm,
            },
        )

    async def _verify_xml(self, _endpoint: Endpoint, message: str, _caller: Admitted) -> Reply:
        """Every signature of the document, answered as an array (one object per signature,
        ``SigInfo`` and ``ValidationDetails`` as ``vgca_verify_xml`` callers read them); a
        document without any signature gets the error object instead."""
        call = parse_verify_xml_call(message)
        answer = await self._service.verify_xml(XmlVerifyRequest(call.xml), self._lang)
        signatures = answer.report.signatures
        if not signatures:
            return Reply(Status.SIGNATURE_INVALID, self._text("vgca_xml_unsigned"))
        valid = answer.report.all_valid
        return Reply(
            Status.OK if valid else Status.SIGNATURE_INVALID,
            self._text("vgca_xml_valid", count=len(signatures))
            if valid
            else self._text("vgca_xml_invalid"),
            extra={"AllValid": valid, "Report": answer.text},
            listing=tuple(self._xml_signature(s) for s in signatures),
        )

    def _xml_signature(self, found: XmlSignatureReport) -> dict[str, Any]:
        info = cert_fields(found.certificate) if found.certificate else None
        signer = found.signer
        intact = found.intact and found.value_ok
        if not intact:
            status, message = Status.SIGNATURE_INVALID, self._text("vgca_msg_broken")
        elif not found.trusted:
            message = self._text("vgca_msg_untrusted", signer=signer)
            status = Status.SIGNATURE_INVALID
        else:
            status, message = Status.OK, self._text("vgca_msg_valid", signer=signer)
        # The plugin's callers take SignerCertStatus null to mean "not checked" and read a
        # non-zero Status with its Description as the certificate's problem.
        cert_status = {
            "Status": int(Status.OK if found.trusted else Status.SIGNATURE_INVALID),
            "Description": self._text(
                "vgca_cert_trusted" if found.trusted else "vgca_cert_untrusted"
            ),
        }
        signing_time = found.signing_time.isoformat() if found.signing_time else ""
        return {
            "Status": int(status),
            "Message": message,
            "Valid": found.ok,
            "Intact": intact,
            "Trusted": found.trusted,
            "Signer": signer,
            "SignatureId": found.signature_id,
            "SignatureAlgorithm": found.algorithm,
            "SigningTime": signing_time,
            "Covers": list(found.covers),
            "Problems": [p.value for p in found.problems],
            "CertBase64": info["CertBase64"] if info else "",
            "SigInfo": {"SignerCert": info, "SigningTime": signing_time},
            "ValidationDetails": {
                "IntegrityStatus": {
                    "Status": int(Status.OK if intact else Status.SIGNATURE_INVALID),
                    "Description": self._text("vgca_xml_intact" if intact else "vgca_msg_broken"),
                },
                "SignerCertStatus": cert_status,
            },
        }

    async def _license(self, _endpoint: Endpoint, message: str, _caller: Admitted) -> Reply:
        """Licensed: which sites may use the agent is the allow-list's decision, not a
        licence file's. ``vgca_license_request`` sends "request"; whatever it sends, a
        PIN-like field is still refused."""
        json_or_text(message)
        return Reply(
            Status.OK,
            self._text("vgca_licensed"),
            extra={"Licensed": True, "LicenseRequest": ""},
        )

    async def _cert_info(self, endpoint: Endpoint, message: str, caller: Admitted) -> Reply:
        decode_message(message, endpoint)  # "get_cert_info", {} or nothing
        result = await self._service.select_certificate(caller, CertificatesRequest())
        fields = {
            **cert_fields(result.certificate),
            "Chain": [b64encode(c) for c in result.chain],
            "KeyType": result.key_type.value,
            "TokenLabel": result.token.label,
            "TokenSerial": result.token.serial,
        }
        return Reply(Status.OK, extra={"CertInfo": fields, **fields})

    async def _verify(self, endpoint: Endpoint, message: str, caller: Admitted) -> Reply:
        call = parse_verify_call(decode_message(message, endpoint))
        # No question follows a verification and the page reads the report: a document of
        # another origin would be read across origins. Only the page's own.
        pdf = await self._transfers.download(
            call.source, caller, call.jwt_token, own_origin_only=True
        )
        answer = await self._service.verify_pdf(PdfVerifyRequest(pdf), self._lang)
        valid = answer.report.all_valid
        return Reply(
            Status.OK if valid else Status.SIGNATURE_INVALID,
            "" if valid else self._text("vgca_signature_invalid"),
            extra={
                "AllValid": valid,
                "Signatures": answer.to_wire()["signatures"],
                "Report": answer.text,
            },
        )

    def _config(self, port: int) -> Reply:
        return Reply(
            Status.OK,
            self._text("vgca_config", version=__version__, port=port),
            extra={
                "Product": "kyso-agent",
                "Version": __version__,
                "Port": port,
                "Lang": self._lang.value,
                "MaxFileBytes": self._max_pdf_bytes,
                "Endpoints": [e.value for e in Endpoint],
            },
        )


_PDF_CALLS: Final = frozenset(
    {
        Endpoint.SIGN_APPROVED,
        Endpoint.SIGN_ISSUED,
        Endpoint.SIGN_INCOME,
        Endpoint.SIGN_APPENDIX,
        Endpoint.SIGN_COPY,
        Endpoint.COMMENT,
        Endpoint.SIGN_PDF,
    }
)
_HOLDS_A_FILE: Final = _PDF_CALLS | {Endpoint.SIGN_FILE, Endpoint.VERIFY_PDF}
"""Endpoints whose call downloads a document (or several, at most ``max_pdf_bytes`` together)."""


def cert_fields(der: bytes) -> dict[str, Any]:
    """What portals read about a certificate (GetCertInfo's ``CertInfo``, VerifyMsg's)."""
    cert = x509.load_der_x509_certificate(der)
    return {
        "Certificate": b64encode(der),
        "CertBase64": b64encode(der),
        "Subject": cert.subject.rfc4514_string(),
        "SubjectCN": name_part(cert.subject, NameOID.COMMON_NAME),
        "Organization": name_part(cert.subject, NameOID.ORGANIZATION_NAME),
        "Issuer": cert.issuer.rfc4514_string(),
        "IssuerCN": name_part(cert.issuer, NameOID.COMMON_NAME),
        "SerialNumber": serial_hex(cert),
        "NotBefore": cert.not_valid_before_utc.isoformat(),
        "NotAfter": cert.not_valid_after_utc.isoformat(),
        "Thumbprint": cert.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303 - an identifier
    }


def _signature_fields(signature: bytes, certificate: bytes) -> dict[str, str]:
    """A signature and its certificate under every name portals read: ``Signature``;
    ``CertBase64`` (``vgca_sign_msg`` callers), ``Certificate`` (this agent's first name)."""
    return {
        "Signature": b64encode(signature),
        "CertBase64": b64encode(certificate),
        "Certificate": b64encode(certificate),
    }


def _file_result(ref: FileRef, reply: Reply) -> dict[str, Any]:
    return {
        "FileID": ref.file_id,
        "Status": int(reply.status),
        "Message": reply.message,
        "FileName": reply.file_name,
        "FileServer": reply.file_server,
    }


def _read_local(path: Path, limit: int) -> bytes:
    """The chosen file, refused when larger than ``limit``."""
    with path.open("rb") as file:
        data = file.read(limit + 1)
    if len(data) > limit:
        raise FileTooLarge(limit)
    return data
