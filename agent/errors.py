"""Every error the agent reports, with its stable wire code.

The tree::

    AgentError                      INTERNAL             500
    ├── RequestError
    │   ├── BadRequest              BAD_REQUEST          400
    │   ├── UnsupportedMediaType    UNSUPPORTED_MEDIA_TYPE 415
    │   ├── PayloadTooLarge         PAYLOAD_TOO_LARGE    413
    │   ├── NotFound                NOT_FOUND            404
    │   └── MethodNotAllowed        NOT_FOUND            405
    ├── AccessDenied
    │   ├── HostNotAllowed          HOST_NOT_ALLOWED     403
    │   ├── OriginNotAllowed        ORIGIN_NOT_ALLOWED   403
    │   └── CallerNotAllowed        CALLER_NOT_ALLOWED   403
    ├── ConsentError
    │   ├── UserCancelled           USER_CANCELLED       403
    │   └── ConsentTimeout          CONSENT_TIMEOUT      408
    ├── TokenError
    │   ├── TokenNotPresent         TOKEN_NOT_PRESENT    409
    │   ├── CertificateNotFound     CERTIFICATE_NOT_FOUND 404
    │   ├── CertificateExpired      CERTIFICATE_EXPIRED  409
    │   ├── CertificateRevoked      CERTIFICATE_REVOKED  409
    │   ├── PinLocked               PIN_LOCKED           423
    │   ├── PinIncorrect            (never on the wire: the user is asked again)
    │   └── TokenFailure            INTERNAL             500
    ├── SigningFailed               SIGNING_FAILED       502
    ├── StorageFailed               STORAGE_FAILED       507
    ├── Busy                        BUSY                 429
    └── InternalError               INTERNAL             500

    ConfigError (not an AgentError: it stops start-up, it never reaches a client)

Wire form: ``{"error": {"code": CODE, "message": TEXT}}``. ``CODE`` never changes
meaning; ``TEXT`` is for people and comes from :mod:`agent.messages`. An error's
``detail`` goes to the log only, except for :class:`BadRequest`, whose detail
describes the caller's own input and is safe to return.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from agent.messages import Lang, Phrase, text


class ErrorCode(StrEnum):
    """Stable error codes of API v1."""

    BAD_REQUEST = "BAD_REQUEST"
    HOST_NOT_ALLOWED = "HOST_NOT_ALLOWED"
    ORIGIN_NOT_ALLOWED = "ORIGIN_NOT_ALLOWED"
    CALLER_NOT_ALLOWED = "CALLER_NOT_ALLOWED"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    NOT_FOUND = "NOT_FOUND"
    USER_CANCELLED = "USER_CANCELLED"
    CONSENT_TIMEOUT = "CONSENT_TIMEOUT"
    TOKEN_NOT_PRESENT = "TOKEN_NOT_PRESENT"  # noqa: S105 - a code, not a secret
    TOKEN_MODULE_FAILED = "TOKEN_MODULE_FAILED"  # noqa: S105 - a code, not a secret
    CERTIFICATE_NOT_FOUND = "CERTIFICATE_NOT_FOUND"
    CERTIFICATE_EXPIRED = "CERTIFICATE_EXPIRED"
    CERTIFICATE_REVOKED = "CERTIFICATE_REVOKED"
    SIGNING_FAILED = "SIGNING_FAILED"
    STORAGE_FAILED = "STORAGE_FAILED"
    PIN_LOCKED = "PIN_LOCKED"
    BUSY = "BUSY"
    INTERNAL = "INTERNAL"


class AgentError(Exception):
    """Base of every error that can reach a client.

    ``detail`` is for the log (and, for :class:`BadRequest`, for the caller). It
    must never contain a PIN.
    """

    code: ClassVar[ErrorCode] = ErrorCode.INTERNAL
    http_status: ClassVar[int] = 500
    #: Whether ``detail`` may be shown to the caller.
    detail_is_public: ClassVar[bool] = False

    def __init__(self, detail: str | Phrase = "") -> None:
        super().__init__(str(detail) or self.code.value)
        self.detail = str(detail)
        #: The detail as a catalogue sentence, when it is one: shown in the caller's language.
        self.phrase = detail if isinstance(detail, Phrase) else None

    def public_message(self, lang: Lang | str) -> str:
        """The message for the caller, in ``lang``."""
        if not self.detail_is_public:
            return text(self.code.value, lang, detail="")
        detail = self.phrase.render(lang) if self.phrase else self.detail
        return text(self.code.value, lang, detail=detail)

    def to_wire(self, lang: Lang | str) -> dict[str, dict[str, str]]:
        """The JSON body of the error response."""
        return {"error": {"code": self.code.value, "message": self.public_message(lang)}}


class RequestError(AgentError):
    """The request itself is malformed."""


class BadRequest(RequestError):
    """Invalid JSON, a missing or unknown field, a value of the wrong shape."""

    code = ErrorCode.BAD_REQUEST
    http_status = 400
    detail_is_public = True


class UnsupportedMediaType(RequestError):
    """A body that is not ``application/json``."""

    code = ErrorCode.UNSUPPORTED_MEDIA_TYPE
    http_status = 415


class PayloadTooLarge(RequestError):
    """A body above the configured limit."""

    code = ErrorCode.PAYLOAD_TOO_LARGE
    http_status = 413

    def __init__(self, limit: int, detail: str = "") -> None:
        super().__init__(detail or f"body larger than {limit} bytes")
        self.limit = limit

    def public_message(self, lang: Lang | str) -> str:
        """The message names the limit so that a developer can adapt."""
        return text(self.code.value, lang, limit=self.limit)


class NotFound(RequestError):
    """No such endpoint (or method)."""

    code = ErrorCode.NOT_FOUND
    http_status = 404


class MethodNotAllowed(RequestError):
    """The endpoint exists but not for this method."""

    code = ErrorCode.NOT_FOUND
    http_status = 405


class AccessDenied(AgentError):
    """The caller may not use the agent at all."""


class HostNotAllowed(AccessDenied):
    """A ``Host`` header other than the loopback names (DNS rebinding)."""

    code = ErrorCode.HOST_NOT_ALLOWED
    http_status = 403


class OriginNotAllowed(AccessDenied):
    """A missing or disallowed ``Origin``."""

    code = ErrorCode.ORIGIN_NOT_ALLOWED
    http_status = 403


class CallerNotAllowed(AccessDenied):
    """The TCP connection belongs to another OS user (terminal servers)."""

    code = ErrorCode.CALLER_NOT_ALLOWED
    http_status = 403


class ConsentError(AgentError):
    """The user did not approve."""


class UserCancelled(ConsentError):
    """The user said no, closed the prompt, or the prompt could not be shown."""

    code = ErrorCode.USER_CANCELLED
    http_status = 403


class ConsentTimeout(ConsentError):
    """The user did not answer within the prompt timeout."""

    code = ErrorCode.CONSENT_TIMEOUT
    http_status = 408


class TokenError(AgentError):
    """Something about the token, its certificates or its PIN."""


class TokenNotPresent(TokenError):
    """No usable token, or the token was removed during the operation."""

    code = ErrorCode.TOKEN_NOT_PRESENT
    http_status = 409


class TokenModuleFailed(TokenError):
    """The token's PKCS#11 module crashed, hung past its deadline or exited.

    The module runs in its own worker process, so the agent survives; the worker is
    restarted (with back-off) for the next request. Nothing of the failed operation
    is returned.
    """

    code = ErrorCode.TOKEN_MODULE_FAILED
    http_status = 503


class CertificateNotFound(TokenError):
    """The requested certificate (or its private key) is on no token."""

    code = ErrorCode.CERTIFICATE_NOT_FOUND
    http_status = 404


class CertificateExpired(TokenError):
    """The certificate is outside its validity period."""

    code = ErrorCode.CERTIFICATE_EXPIRED
    http_status = 409


class CertificateRevoked(TokenError):
    """The certificate's CA says it is revoked (checked before signing)."""

    code = ErrorCode.CERTIFICATE_REVOKED
    http_status = 409


class PinLocked(TokenError):
    """The user PIN is locked; the agent never tries to log in."""

    code = ErrorCode.PIN_LOCKED
    http_status = 423


class PinIncorrect(TokenError):
    """The token refused the PIN. Handled inside the agent by asking again."""

    code = ErrorCode.INTERNAL
    http_status = 500


class TokenFailure(TokenError):
    """The module failed in a way the user cannot fix by acting on the token."""

    code = ErrorCode.INTERNAL
    http_status = 500


class SigningFailed(AgentError):
    """A service the signature depends on failed (time-stamping authority, validation data).

    The detail names the service and is shown to the caller, who chose it.
    """

    code = ErrorCode.SIGNING_FAILED
    http_status = 502
    detail_is_public = True


class StorageFailed(AgentError):
    """The agent could not write a document to its own disk (the spool, :mod:`agent.spool`): the
    disk is full, or the data directory cannot be written.

    The user can act on it (free space) and the portal can try again; the detail (which file,
    the OS error) goes to the log only.
    """

    code = ErrorCode.STORAGE_FAILED
    http_status = 507


class Busy(AgentError):
    """Too many requests are already waiting for the user."""

    code = ErrorCode.BUSY
    http_status = 429


class InternalError(AgentError):
    """A bug or an unexpected failure; the log has the detail."""

    code = ErrorCode.INTERNAL
    http_status = 500


class ConfigError(Exception):
    """The configuration cannot be used; start-up stops with this message."""
