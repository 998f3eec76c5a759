"""The calls a module worker answers: the one vocabulary of both worker kinds.

A worker thread (in-process) and a worker process (isolated) run the same
requests through :func:`execute`, so the two modes cannot drift apart. Requests
and replies are frozen dataclasses of plain values and the token models, which is
what crosses the process boundary (pickled over a private pipe between the agent
and a child it started itself; nothing else can write to it).
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from agent import errors
from agent.algorithms import HashAlgorithm, RsaScheme
from agent.errors import AgentError, TokenFailure
from agent.pin import Login, Pin
from agent.token.models import ModuleReport, PinState, TokenCertificate, TokenId

if TYPE_CHECKING:
    # The module (python-pkcs11) is loaded only where a worker drives it: the worker process,
    # or the agent itself with module_isolation = "thread" (agent.token.worker).
    from agent.token.module import Pkcs11Module


@dataclass(frozen=True)
class Report:
    """Tokens and certificates, read without logging in."""


@dataclass(frozen=True)
class Poll:
    """The token monitor's cheap, repeated report."""

    rescan: bool = False


@dataclass(frozen=True)
class ReadPinState:
    """Fresh PIN state of one token."""

    token: TokenId


@dataclass(frozen=True)
class Sign:
    """Log in once and sign digests.

    ``pin`` is the PIN's bytes for this one operation (``None`` on a PIN pad); the
    worker wipes its copy after the login. It is left out of ``repr`` so that no
    log line or traceback can show it.
    """

    certificate: TokenCertificate
    items: tuple[tuple[bytes, HashAlgorithm], ...]
    scheme: RsaScheme
    pin: bytearray | None = field(default=None, repr=False)
    final_try_confirmed: bool = False
    keep: bool = False
    """Stay logged in after signing, for :class:`SignHeld` requests until :class:`Release`."""
    step: float | None = None
    """Seconds this step of a longer batch may sign for. The items are signed until that long
    has passed (one at least), and the signatures made, for the first items, are the answer;
    the batch's next step (:class:`SignHeld`) carries the rest. The login is kept while items
    remain, and ended by the step that signs the last, with no :class:`Release` round trip. So
    a batch's progress moves every ``step`` seconds on a slow token, and a fast one signs a
    whole batch in one call. ``keep`` is implied."""

    def __reduce__(self) -> tuple[object, ...]:
        # The PIN as a pickle buffer: agent.child.channel sends it out of band, from this
        # bytearray into a frame it wipes, never into the immutable bytes of a pickle.
        pin = None if self.pin is None else pickle.PickleBuffer(self.pin)
        fields = (
            self.certificate,
            self.items,
            self.scheme,
            pin,
            self.final_try_confirmed,
            self.keep,
            self.step,
        )
        return _rebuilt_sign, fields


def _rebuilt_sign(  # noqa: PLR0917 - pickle calls it with the fields, in order
    certificate: TokenCertificate,
    items: tuple[tuple[bytes, HashAlgorithm], ...],
    scheme: RsaScheme,
    pin: Any,
    final_try_confirmed: bool,
    keep: bool = False,
    step: float | None = None,
) -> Sign:
    """A :class:`Sign` off the pipe: the PIN copied out of the frame's buffer (wiped after)."""
    secret = None if pin is None else bytearray(pin)
    return Sign(certificate, items, scheme, secret, final_try_confirmed, keep, step)


@dataclass(frozen=True)
class SignHeld:
    """Sign digests in the login a ``Sign(keep=True)`` left open for ``certificate``.

    Carries no PIN and logs in nowhere: no login held for this certificate is an error.
    """

    certificate: TokenCertificate
    items: tuple[tuple[bytes, HashAlgorithm], ...]
    scheme: RsaScheme
    step: float | None = None
    """Seconds this step of a batch may sign for, as :attr:`Sign.step`."""


@dataclass(frozen=True)
class Release:
    """Log out of the held login and close its session (nothing held: nothing done)."""

    certificate: TokenCertificate | None = None
    """Release only a login held for this certificate (``None``: whichever is held)."""


@dataclass(frozen=True)
class Finalize:
    """Release the module before the worker stops."""


Request = Report | Poll | ReadPinState | Sign | SignHeld | Release | Finalize
REQUEST_TYPES: Final = (Report, Poll, ReadPinState, Sign, SignHeld, Release, Finalize)


def sign_request(
    certificate: TokenCertificate,
    items: Sequence[tuple[bytes, HashAlgorithm]],
    scheme: RsaScheme,
    login: Login,
    *,
    keep: bool = False,
    step: float | None = None,
) -> Sign:
    """A :class:`Sign` carrying a copy of the PIN that :func:`execute` wipes."""
    secret = None if login.pin is None else login.pin.copy()
    return Sign(certificate, tuple(items), scheme, secret, login.final_try_confirmed, keep, step)


def execute(module: Pkcs11Module, request: Request) -> object:
    """Run one request on ``module`` (from the module's only thread)."""
    match request:
        case Poll(rescan):
            return module.poll(rescan)
        case Report():
            return module.report()
        case ReadPinState(token):
            return module.pin_state(token)
        case Sign(certificate, items, scheme, secret, confirmed, keep, step):
            pin = None if secret is None else Pin(secret.decode("utf-8"))
            wipe(secret)
            try:
                return module.sign(
                    certificate, items, scheme, Login(pin, confirmed), keep=keep, step=step
                )
            finally:
                if pin is not None:
                    pin.wipe()
        case SignHeld(certificate, items, scheme, step):
            return module.sign_held(certificate, items, scheme, step=step)
        case Release(certificate):
            module.release(certificate)
            return None
        case Finalize():
            module.finalize()
            return None
    raise TypeError(f"not a worker request: {type(request).__name__}")


def wipe(secret: bytearray | None) -> None:
    """Overwrite a PIN copy in place."""
    if secret is not None:
        secret[:] = bytes(len(secret))
        secret.clear()


@dataclass(frozen=True)
class Failure:
    """An error raised by a request, as it crosses the process boundary."""

    kind: str
    """The :class:`~agent.errors.AgentError` subclass name."""
    detail: str

    @classmethod
    def of(cls, error: AgentError) -> Failure:
        return cls(type(error).__name__, error.detail)

    def rebuild(self) -> AgentError:
        """The error again, as the class it was (only classes of :mod:`agent.errors`)."""
        kind = getattr(errors, self.kind, None)
        if isinstance(kind, type) and issubclass(kind, AgentError):
            return kind(self.detail)
        return TokenFailure(f"{self.kind}: {self.detail}")


@dataclass(frozen=True)
class Reply:
    """A worker process's answer to one request."""

    value: object = None
    failure: Failure | None = None
    logs: tuple[tuple[int, str, str], ...] = ()
    """Log records made while answering: level, logger name, message."""
    same: bool = False
    """The answer is the module report of the last reply that carried one (nothing in it
    changed): the agent keeps its copy, and ``value`` is left empty."""


def typed_report(value: object) -> ModuleReport:
    """``value`` as the :class:`ModuleReport` it must be."""
    if not isinstance(value, ModuleReport):
        raise TokenFailure(f"worker answered {type(value).__name__}, not a module report")
    return value


def typed_pin_state(value: object) -> PinState:
    """``value`` as the :class:`PinState` it must be."""
    if not isinstance(value, PinState):
        raise TokenFailure(f"worker answered {type(value).__name__}, not a PIN state")
    return value


def ends_login(step: float | None, signed: int, asked: int) -> bool:
    """Whether a call that signed ``signed`` of the ``asked`` digests ended its login: a step
    (:attr:`Sign.step`) that signed the last of them."""
    return step is not None and signed == asked


def typed_signatures(value: object, count: int, *, step: float | None = None) -> list[bytes]:
    """``value`` as ``count`` signatures; for a step (:attr:`Sign.step`), the first of them,
    one at least."""
    if not (
        isinstance(value, list)
        and (len(value) == count or (step is not None and 1 <= len(value) <= count))
        and all(isinstance(item, bytes) for item in value)
    ):
        raise TokenFailure("worker answered something other than the signatures asked for")
    return value
