"""One PKCS#11 module, driven synchronously from its worker thread.

Nothing here may be called from any other thread: the module's worker (a thread,
:mod:`agent.token.worker`, or a process, :mod:`agent.token.host`) is the only caller.
Every ``pkcs11`` exception is translated into the agent's error tree before it leaves
this module.

A module may hold one login open between requests (:meth:`Pkcs11Module.sign` with
``keep``): many documents signed one after another with one PIN entry. While it is held,
nothing re-initialises the module (that would close the session and its login); the
rescan waits for :meth:`Pkcs11Module.release`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pkcs11
from pkcs11 import exceptions as p11err

from agent.algorithms import HashAlgorithm, KeyType, RsaScheme
from agent.errors import (
    AgentError,
    BadRequest,
    CertificateNotFound,
    PinIncorrect,
    PinLocked,
    TokenFailure,
    TokenNotPresent,
    UserCancelled,
)
from agent.messages import Phrase
from agent.pin import Login, Pin, TriesLeft
from agent.token.calls import ends_login
from agent.token.login import pin_for_login
from agent.token.mechanisms import plan_for
from agent.token.models import (
    ModuleReport,
    PinState,
    TokenCertificate,
    TokenId,
    TokenInfo,
)

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as Pkcs11Lib  # noqa: N812 - a class, despite its name

log = logging.getLogger(__name__)

_ABSENT = (
    p11err.TokenNotPresent,
    p11err.DeviceRemoved,
    p11err.TokenNotRecognised,
    p11err.SlotIDInvalid,
    p11err.NoSuchToken,
    p11err.SessionClosed,
    p11err.SessionHandleInvalid,
    p11err.DeviceError,
)


def translate(exc: Exception, context: str) -> AgentError:
    """Map a ``pkcs11`` exception to the agent's error tree."""
    name = type(exc).__name__
    if isinstance(exc, p11err.PinIncorrect | p11err.PinInvalid | p11err.PinLenRange):
        return PinIncorrect(f"{context}: token refused the PIN ({name})")
    if isinstance(exc, p11err.PinLocked):
        return PinLocked(f"{context}: PIN locked")
    if isinstance(exc, _ABSENT):
        return TokenNotPresent(f"{context}: token went away ({name})")
    if isinstance(exc, p11err.NoSuchKey):
        return CertificateNotFound(f"{context}: no private key for the certificate")
    if isinstance(exc, p11err.FunctionCancelled):
        return UserCancelled(f"{context}: cancelled on the PIN pad")
    return TokenFailure(f"{context}: {name} {exc}".strip())


def pin_state_of(flags: pkcs11.TokenFlag) -> PinState:
    """Read the user PIN state from token flags."""
    if flags & pkcs11.TokenFlag.USER_PIN_LOCKED:
        tries = TriesLeft.LOCKED
    elif flags & pkcs11.TokenFlag.USER_PIN_FINAL_TRY:
        tries = TriesLeft.FINAL
    elif flags & pkcs11.TokenFlag.USER_PIN_COUNT_LOW:
        tries = TriesLeft.LOW
    else:
        tries = TriesLeft.OK
    return PinState(
        tries_left=tries,
        pinpad=bool(flags & pkcs11.TokenFlag.PROTECTED_AUTHENTICATION_PATH),
        initialized=bool(flags & pkcs11.TokenFlag.USER_PIN_INITIALIZED),
        to_be_changed=bool(flags & pkcs11.TokenFlag.USER_PIN_TO_BE_CHANGED),
    )


@dataclass(frozen=True)
class _Held:
    """A login kept open after a signature, for more signatures with the same key."""

    session: pkcs11.Session
    certificate: TokenCertificate
    """Whose key: the only certificate the session signs for."""
    key: Any
    """The private key's handle in ``session``."""
    key_type: KeyType


def _offers_pss(token: pkcs11.Token) -> bool:
    return pkcs11.Mechanism.RSA_PKCS_PSS in token.slot.get_mechanisms()


def _signed(
    key: Any,
    key_type: KeyType,
    items: Sequence[tuple[bytes, HashAlgorithm]],
    scheme: RsaScheme,
    step: float | None = None,
) -> list[bytes]:
    """Sign each digest with ``key`` (a handle in a logged-in session); with ``step``, only
    until that many seconds have passed, one digest at least (``Sign.step``, agent.token.calls)."""
    plans = {a: plan_for(key_type, scheme, a) for a in {a for _d, a in items}}
    work = [(plans[a], plans[a].prepare(a, d)) for d, a in items]
    # Only C_Sign in this loop, and a clock read: on a fast token, Python work between the
    # calls (the DER encoding) costs several times more than the same work after.
    raws: list[bytes] = []
    add, sign, now = raws.append, key.sign, time.monotonic  # a thousand times: no lookups
    end = math.inf if step is None else now() + step
    for plan, data in work:
        add(bytes(sign(data, mechanism=plan.mechanism, mechanism_param=plan.param)))
        if now() >= end:
            break
    return [plan.finish(raw) for (plan, _data), raw in zip(work, raws, strict=False)]


def _private_key(session: pkcs11.Session, certificate: TokenCertificate) -> Any:
    """The private key paired with ``certificate`` (by CKA_ID)."""
    try:
        return session.get_key(object_class=pkcs11.ObjectClass.PRIVATE_KEY, id=certificate.key_id)
    except p11err.MultipleObjectsReturned:
        return next(
            session.get_objects(
                {
                    pkcs11.Attribute.CLASS: pkcs11.ObjectClass.PRIVATE_KEY,
                    pkcs11.Attribute.ID: certificate.key_id,
                }
            )
        )


def _serial(token: pkcs11.Token) -> str:
    raw = token.serial
    return raw.decode("ascii", "replace").strip() if isinstance(raw, bytes) else str(raw).strip()


class Pkcs11Module:
    """A loaded (or failed) module file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lib: Pkcs11Lib | None = None
        self._error = ""
        self._description = ""
        # Certificates rarely change while a token stays inserted, and reading them is slow on
        # real USB tokens; keyed by where and which token, so a swap is never served stale data.
        self._certificate_cache: dict[tuple[int, str, str], tuple[TokenCertificate, ...]] = {}
        # Set when a slot could not be read: the next read re-initialises the module.
        self._stale = False
        # Tokens seen by the last read (None: not read yet). Many modules (SoftHSM, some
        # vendor modules) only see a token plugged in after C_Finalize/C_Initialize, so a
        # read that follows one that found nothing re-initialises the module first.
        self._seen_tokens: int | None = None
        # The last report, handed out again while nothing in it changed: the agent then keeps
        # the certificate objects it already parsed, and a worker process sends no copy.
        self._last_report: ModuleReport | None = None
        # The login kept open by sign(keep=True), until release() (at most one per module).
        self._held: _Held | None = None

    def load(self) -> None:
        """Load and initialise the module; a failure is remembered, not raised."""
        if self._lib is not None:
            return
        try:
            self._lib = pkcs11.lib(str(self.path))
        except Exception as exc:  # noqa: BLE001 — vendor modules fail in any way imaginable
            self._error = f"{type(exc).__name__}: {exc}".strip()
            log.warning("PKCS#11 module %s failed to load: %s", self.path, self._error)
            return
        self._description = (
            f"{self._lib.library_description.strip()} ({self._lib.manufacturer_id.strip()})"
        )
        log.info("loaded PKCS#11 module %s: %s", self.path, self._description)

    @property
    def loaded(self) -> bool:
        """Whether the module is usable."""
        return self._lib is not None

    def _require_lib(self) -> Pkcs11Lib:
        self.load()
        if self._lib is None:
            raise TokenNotPresent(f"module {self.path} is not loaded: {self._error}")
        return self._lib

    def _present_tokens(self) -> Iterator[tuple[pkcs11.Slot, pkcs11.Token]]:
        lib = self._require_lib()
        for slot in lib.get_slots(token_present=True):
            try:
                token = slot.get_token()
            except _ABSENT:
                continue
            except p11err.PKCS11Error as exc:
                # A token pulled out mid-read (SoftHSM: a deleted token) can leave a slot that
                # fails every call until the module is re-initialised: skip it, rescan next poll.
                log.debug("slot %s of %s: %s", slot.slot_id, self.path, type(exc).__name__)
                self._stale = True
                continue
            if token.flags & pkcs11.TokenFlag.TOKEN_INITIALIZED:
                yield slot, token

    def report(self) -> ModuleReport:
        """Tokens and certificates of this module, read without logging in.

        After a read that found no token (or a slot that failed), the module is
        re-initialised first, so a token plugged back in is seen by the next request
        whether or not the token monitor runs.
        """
        self.load()
        if self._lib is None:
            return ModuleReport(self.path, loaded=False, error=self._error)
        if self._stale or self._seen_tokens == 0:
            self._refresh()
        report = self._read(self._lib)
        self._seen_tokens = len(report.tokens)
        # Equal reports are equal in every token's PIN state too (TokenInfo compares it).
        last = self._last_report
        if last is not None and last == report:
            return last
        self._last_report = report
        return report

    def _refresh(self) -> None:
        """Re-initialise, keeping the certificate cache (it is keyed by token).

        Not while a login is held: C_Finalize would close its session in the middle of a
        batch. The module is marked stale instead, and the first read after the release
        re-initialises it.
        """
        if self._held is not None:
            self._stale = True
            return
        self._stale = False
        if self._lib is None:
            return
        try:
            self._lib.reinitialize()
        except p11err.PKCS11Error as exc:
            log.warning("re-initialising %s failed: %s", self.path, type(exc).__name__)

    def _read(self, lib: Pkcs11Lib) -> ModuleReport:
        tokens: list[TokenInfo] = []
        certificates: list[TokenCertificate] = []
        try:
            slots = lib.get_slots(token_present=False)
            for slot, token in self._present_tokens():
                info = TokenInfo(
                    id=TokenId(self.path, slot.slot_id, _serial(token), token.label.strip()),
                    manufacturer=token.manufacturer_id.strip(),
                    model=token.model.strip(),
                    pin=pin_state_of(token.flags),
                    slot_description=slot.slot_description.strip(),
                )
                tokens.append(info)
                certificates.extend(self._cached_certificates(token, info))
        except (AgentError, p11err.PKCS11Error) as exc:
            self._certificate_cache.clear()
            error = exc if isinstance(exc, AgentError) else translate(exc, str(self.path))
            log.warning("reading %s failed: %s", self.path, error.detail)
            return ModuleReport(
                self.path, loaded=True, error=error.detail, description=self._description
            )
        present = {(t.id.slot_id, t.id.serial, t.id.label) for t in tokens}
        for gone in set(self._certificate_cache) - present:
            del self._certificate_cache[gone]
        return ModuleReport(
            self.path,
            loaded=True,
            description=self._description,
            tokens=tuple(tokens),
            certificates=tuple(certificates),
            empty_slots=max(0, len(slots) - len(tokens)),
        )

    def poll(self, rescan: bool = False) -> ModuleReport:
        """:meth:`report` for the token monitor, called every second.

        Cheap while nothing changes: the slot list and token info, certificates from the
        cache. ``rescan`` re-initialises the module even though it shows a token (modules
        that only see a second token after C_Initialize), except while a login is held
        (:meth:`_refresh`). A module that failed to load is not retried (that would log
        every second).
        """
        if self._lib is None and self._error:
            return ModuleReport(self.path, loaded=False, error=self._error)
        if rescan and self._lib is not None:
            self._refresh()
        return self.report()

    def _cached_certificates(
        self, token: pkcs11.Token, info: TokenInfo
    ) -> tuple[TokenCertificate, ...]:
        key = (info.id.slot_id, info.id.serial, info.id.label)
        cached = self._certificate_cache.get(key)
        if cached is None:
            cached = tuple(self._certificates(token, info))
            self._certificate_cache[key] = cached
        return tuple(replace(c, pin=info.pin) for c in cached)

    def _certificates(self, token: pkcs11.Token, info: TokenInfo) -> list[TokenCertificate]:
        found: list[TokenCertificate] = []
        pss = pkcs11.Mechanism.RSA_PKCS_PSS in token.slot.get_mechanisms()
        with token.open() as session:
            for obj in session.get_objects(
                {
                    pkcs11.Attribute.CLASS: pkcs11.ObjectClass.CERTIFICATE,
                    pkcs11.Attribute.CERTIFICATE_TYPE: pkcs11.CertificateType.X_509,
                }
            ):
                attrs = obj.get_attributes(
                    [pkcs11.Attribute.VALUE, pkcs11.Attribute.ID, pkcs11.Attribute.LABEL]
                )
                der = bytes(attrs[pkcs11.Attribute.VALUE])
                cert = TokenCertificate(
                    der=der,
                    token=info.id,
                    key_id=bytes(attrs.get(pkcs11.Attribute.ID) or b""),
                    label=str(attrs.get(pkcs11.Attribute.LABEL) or ""),
                    pin=info.pin,
                    supports_pss=pss,
                )
                try:
                    _ = cert.x509
                except ValueError:
                    log.warning("skipping an unparsable certificate %r on %s", cert.label, info.id)
                    continue
                found.append(cert)
        return found

    def _find_token(self, token_id: TokenId) -> pkcs11.Token:
        for attempt in range(2):
            for _slot, token in self._present_tokens():
                if _serial(token) == token_id.serial and token.label.strip() == token_id.label:
                    return token
            if attempt == 0:
                self._refresh()  # it may have been plugged back in since the module last looked
        self._stale = True  # and it may come back before the next read
        raise TokenNotPresent(f"token {token_id.label!r} ({token_id.serial}) is not present")

    def pin_state(self, token_id: TokenId) -> PinState:
        """Current PIN state of a token."""
        try:
            return pin_state_of(self._find_token(token_id).flags)
        except p11err.PKCS11Error as exc:
            raise translate(exc, "reading token flags") from exc

    def _logged_in(self, token: pkcs11.Token, pin: Pin | None) -> pkcs11.Session:
        """A new session of ``token``, logged in (the caller closes it with :meth:`_close`)."""
        # pin_for_login() has decided on the flags already: None means the reader's keypad.
        user_pin: object = pkcs11.PROTECTED_AUTH if pin is None else pin.reveal().decode("utf-8")
        try:
            return token.open(user_pin=user_pin)
        except p11err.PKCS11Error as exc:
            # python-pkcs11 leaves the session open when C_Login fails; re-initialising the
            # module is the only way to close it, and wrong PINs are rare enough to afford it.
            self._reinitialize()
            raise translate(exc, "login") from exc
        finally:
            del user_pin

    def _close(self, session: pkcs11.Session) -> None:
        """Log out and close a session opened by :meth:`_logged_in`."""
        try:
            session.close()
        except p11err.PKCS11Error as exc:
            # python-pkcs11 skips C_CloseSession when C_Logout fails; only re-initialising
            # the module closes a session that may still be logged in.
            log.warning("closing the session failed: %s", type(exc).__name__)
            self._reinitialize()

    @contextmanager
    def _login(self, token: pkcs11.Token, pin: Pin | None) -> Iterator[pkcs11.Session]:
        session = self._logged_in(token, pin)
        try:
            yield session
        finally:
            self._close(session)

    def _reinitialize(self) -> None:
        """Re-initialise and forget the certificates (after a failed login or logout)."""
        self._certificate_cache.clear()
        self._refresh()

    def sign(
        self,
        certificate: TokenCertificate,
        items: Sequence[tuple[bytes, HashAlgorithm]],
        scheme: RsaScheme,
        login: Login,
        *,
        keep: bool = False,
        step: float | None = None,
    ) -> list[bytes]:
        """Log in once, sign each digest with the certificate's key, log out.

        The token's flags are read right before the login (:func:`pin_for_login`): a PIN
        pad token logs in on its keypad, whatever ``login`` carries. With ``keep`` the
        session stays logged in after a successful signature, for :meth:`sign_held`, until
        :meth:`release`. With ``step`` only the first items may be signed, and the session
        stays logged in while some remain (:attr:`~agent.token.calls.Sign.step`). A login held
        already (for any certificate) is released first: the module never holds two.
        """
        self.release()
        key_type = certificate.key_type
        if key_type is None:
            raise CertificateNotFound("the certificate's key type cannot sign")
        try:
            token = self._find_token(certificate.token)
            if scheme is RsaScheme.PSS and not _offers_pss(token):
                raise BadRequest(Phrase.of("bad_rsa_pss_token"))
            pin = pin_for_login(pin_state_of(token.flags), login)
            if not keep and step is None:
                with self._login(token, pin) as session:
                    return _signed(_private_key(session, certificate), key_type, items, scheme)
            session = self._logged_in(token, pin)
            try:
                key = _private_key(session, certificate)
                signatures = _signed(key, key_type, items, scheme, step)
            except BaseException:
                self._close(session)
                raise
        except p11err.PKCS11Error as exc:
            raise translate(exc, "signing") from exc
        if ends_login(step, len(signatures), len(items)):
            self._close(session)  # the batch's last step: its login ends with it
        else:
            self._held = _Held(session, certificate, key, key_type)
        return signatures

    def sign_held(
        self,
        certificate: TokenCertificate,
        items: Sequence[tuple[bytes, HashAlgorithm]],
        scheme: RsaScheme,
        *,
        step: float | None = None,
    ) -> list[bytes]:
        """Sign each digest in the login that :meth:`sign` kept for ``certificate``; with
        ``step``, the first of them, and the login ends once the last is signed
        (:attr:`~agent.token.calls.Sign.step`).

        No login and no PIN: :class:`TokenFailure` when no login is held, or one is held
        for another certificate (the held one is kept). A token gone since (pulled out,
        its session closed) is :class:`TokenNotPresent`, and the held login is dropped.
        """
        held = self._held
        if held is None:
            raise TokenFailure("no login is held: the first signature logs in and keeps it")
        if held.certificate != certificate:
            raise TokenFailure("the login held in this module is for another certificate")
        try:
            if scheme is RsaScheme.PSS and not _offers_pss(held.session.token):
                raise BadRequest(Phrase.of("bad_rsa_pss_token"))
            signatures = _signed(held.key, held.key_type, items, scheme, step)
        except p11err.PKCS11Error as exc:
            error = translate(exc, "signing in the held login")
            if isinstance(error, TokenNotPresent) or isinstance(exc, p11err.UserNotLoggedIn):
                log.info("the held login of %s is gone: %s", self.path, error.detail)
                self.release()
            raise error from exc
        if ends_login(step, len(signatures), len(items)):
            self.release()  # the batch's last step: its login ends with it
        return signatures

    def release(self, certificate: TokenCertificate | None = None) -> None:
        """Log out and close the held session, if any (if it is ``certificate``'s, when given).

        Idempotent. A session that cannot be closed (the token is gone) is closed by
        re-initialising the module.
        """
        held = self._held
        if held is None or (certificate is not None and held.certificate != certificate):
            return
        self._held = None
        self._close(held.session)

    def finalize(self) -> None:
        """Release the module (at shutdown), logging out of a held login first."""
        if self._lib is None:
            return
        self.release()
        try:
            self._lib.finalize()
        except p11err.PKCS11Error as exc:
            log.debug("finalize %s: %s", self.path, type(exc).__name__)
        self._lib = None
