"""The user's Root store on Windows: does it hold the local CA, and putting it in or taking it
out, through Windows' own certificate API (crypt32.dll).

Not through ``certutil -user``: its answers are localized text and an exit code, and a stub
that prints nothing and exits 0 (Wine's) read as "trusted". crypt32 answers with a certificate
or an error code, the same in every language.

``CurrentUser\\Root`` as crypt32 opens it also shows the machine's roots (a root IT put in
``LocalMachine\\Root`` counts as trusted, which it is); what is added goes to the user's part.
Adding a root there, or deleting one, makes Windows ask the user first (its own security
warning); the call waits for the answer and fails with ERROR_CANCELLED on "No".

Firefox on Windows trusts that store when IT sets its ``ImportEnterpriseRoots`` policy
(``docs/it-policy.md``).
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from agent.localtls.ca import CA_NAME_PREFIX, is_kyso_ca, thumbprint
from agent.localtls.model import Outcome, StoreResult, Trust, TrustCheck, TrustReason, TrustStore

log = logging.getLogger(__name__)

WINDOWS_LOCATION: Final = "CurrentUser\\Root"

CERT_STORE_PROV_SYSTEM_W: Final = 10
CERT_SYSTEM_STORE_CURRENT_USER: Final = 1 << 16
CERT_STORE_READONLY_FLAG: Final = 0x00008000
X509_ASN_ENCODING: Final = 0x00000001
PKCS_7_ASN_ENCODING: Final = 0x00010000
#: ``CERT_COMPARE_SHA1_HASH << CERT_COMPARE_SHIFT``: find by thumbprint.
CERT_FIND_SHA1_HASH: Final = 1 << 16
CERT_STORE_ADD_NEW: Final = 1
CERT_STORE_CTRL_COMMIT: Final = 3
CRYPT_E_NOT_FOUND: Final = 0x80092004
CRYPT_E_EXISTS: Final = 0x80092005
#: ERROR_CANCELLED as an HRESULT: the user said no to Windows' question.
HRESULT_CANCELLED: Final = 0x800704C7
_ERROR_NO_MORE_FILES: Final = 0x80070012
_DECLINED: Final = "the user declined Windows' question"
#: Every Kyso CA's DER holds its name as plain bytes: a cheap test before parsing a
#: certificate, so that the hundred-odd roots of the machine are never parsed.
_NAME_BYTES: Final = CA_NAME_PREFIX.encode()


def hresult(error: int) -> int:
    """``GetLastError()`` as an unsigned HRESULT.

    A Win32 code (ERROR_CANCELLED, 1223) becomes 0x800704C7; crypt32's own codes
    (CRYPT_E_NOT_FOUND) are HRESULTs already.
    """
    error &= 0xFFFFFFFF
    if error == 0 or error & 0x80000000:
        return error
    return 0x80070000 | (error & 0xFFFF)


class CryptError(Exception):
    """A crypt32 call failed: which one, and the error it left; its text is a result's detail."""

    def __init__(self, call: str, code: int) -> None:
        self.call = call
        """The function that failed."""
        self.code = hresult(code)
        """Its error, as an HRESULT."""
        failed = f"{call} failed: 0x{self.code:08x}"
        super().__init__(f"{_DECLINED} ({failed})" if self.code == HRESULT_CANCELLED else failed)


class RootStoreApi(Protocol):
    """What :class:`WindowsRoot` asks of the user's Root store (crypt32; a fake in the tests).

    Each call raises :class:`CryptError` when Windows refuses, ``OSError`` when there is no
    crypt32 at all.
    """

    def contains(self, thumb: str) -> bool:
        """Whether the store (the user's or the machine's part) holds this thumbprint."""
        ...

    def add(self, der: bytes) -> bool:
        """Add a certificate (Windows asks the user first); False if it was there already."""
        ...

    def certificates(self) -> list[bytes]:
        """DER of every certificate the store shows."""
        ...

    def delete(self, thumb: str) -> bool:
        """Delete the certificate with this thumbprint; False if there was none."""
        ...


class CertContext(ctypes.Structure):
    """``CERT_CONTEXT``: what crypt32 hands out for each certificate, its DER included."""

    _fields_ = (
        ("dwCertEncodingType", ctypes.c_uint32),
        ("pbCertEncoded", ctypes.c_void_p),
        ("cbCertEncoded", ctypes.c_uint32),
        ("pCertInfo", ctypes.c_void_p),
        ("hCertStore", ctypes.c_void_p),
    )


class HashBlob(ctypes.Structure):
    """``CRYPT_HASH_BLOB``: the thumbprint to find."""

    _fields_ = (("cbData", ctypes.c_uint32), ("pbData", ctypes.c_void_p))


@functools.cache
def _crypt32() -> Any:
    """A private crypt32 with every argument and result typed.

    Private, because setting argtypes on the shared ``ctypes.windll`` would change them for
    every other user; typed, because a store or context is a 64-bit pointer, which ctypes'
    default C ``int`` would truncate.
    """
    if sys.platform != "win32":
        raise OSError("the Root store is Windows' (crypt32.dll)")
    from ctypes import wintypes

    dll = ctypes.WinDLL("crypt32", use_last_error=True)
    store = ctypes.c_void_p
    context = ctypes.POINTER(CertContext)
    dword = wintypes.DWORD
    dll.CertOpenStore.argtypes = (ctypes.c_void_p, dword, ctypes.c_size_t, dword, wintypes.LPCWSTR)
    dll.CertOpenStore.restype = store
    dll.CertCloseStore.argtypes = (store, dword)
    dll.CertCloseStore.restype = wintypes.BOOL
    dll.CertFindCertificateInStore.argtypes = (
        store,
        dword,
        dword,
        dword,
        ctypes.POINTER(HashBlob),
        context,
    )
    dll.CertFindCertificateInStore.restype = context
    dll.CertAddEncodedCertificateToStore.argtypes = (
        store,
        dword,
        ctypes.c_char_p,
        dword,
        dword,
        ctypes.c_void_p,
    )
    dll.CertAddEncodedCertificateToStore.restype = wintypes.BOOL
    dll.CertEnumCertificatesInStore.argtypes = (store, context)
    dll.CertEnumCertificatesInStore.restype = context
    dll.CertDeleteCertificateFromStore.argtypes = (context,)
    dll.CertDeleteCertificateFromStore.restype = wintypes.BOOL
    dll.CertFreeCertificateContext.argtypes = (context,)
    dll.CertFreeCertificateContext.restype = wintypes.BOOL
    dll.CertControlStore.argtypes = (store, dword, dword, ctypes.c_void_p)
    dll.CertControlStore.restype = wintypes.BOOL
    return dll


def _failed(call: str) -> CryptError:
    """The error crypt32 left for ``call``; read before any other call of the DLL."""
    if sys.platform != "win32":
        return CryptError(call, 0)
    return CryptError(call, ctypes.get_last_error())


class Crypt32RootStore:
    """:class:`RootStoreApi` over crypt32: the store is opened for each call and closed after."""

    @contextmanager
    def _opened(self, flags: int) -> Iterator[tuple[Any, Any]]:
        dll = _crypt32()
        location = CERT_SYSTEM_STORE_CURRENT_USER | flags
        store = dll.CertOpenStore(CERT_STORE_PROV_SYSTEM_W, 0, 0, location, "Root")
        if not store:
            raise _failed("CertOpenStore")
        try:
            yield dll, store
        finally:
            dll.CertCloseStore(store, 0)

    @staticmethod
    def _find(dll: Any, store: Any, thumb: str) -> Any:
        """The certificate's context (the caller frees it), or None."""
        digest = bytes.fromhex(thumb)
        buffer = ctypes.create_string_buffer(digest, len(digest))
        blob = HashBlob(len(digest), ctypes.addressof(buffer))
        encoding = X509_ASN_ENCODING | PKCS_7_ASN_ENCODING
        found = dll.CertFindCertificateInStore(
            store, encoding, 0, CERT_FIND_SHA1_HASH, ctypes.byref(blob), None
        )
        if found:
            return found
        error = _failed("CertFindCertificateInStore")
        if error.code == CRYPT_E_NOT_FOUND:
            return None
        raise error

    def contains(self, thumb: str) -> bool:
        with self._opened(CERT_STORE_READONLY_FLAG) as (dll, store):
            found = self._find(dll, store, thumb)
            if found is None:
                return False
            dll.CertFreeCertificateContext(found)
            return True

    def add(self, der: bytes) -> bool:
        with self._opened(0) as (dll, store):
            if dll.CertAddEncodedCertificateToStore(
                store, X509_ASN_ENCODING, der, len(der), CERT_STORE_ADD_NEW, None
            ):
                return True
            error = _failed("CertAddEncodedCertificateToStore")
            if error.code == CRYPT_E_EXISTS:
                return False
            raise error

    def certificates(self) -> list[bytes]:
        found = []
        with self._opened(CERT_STORE_READONLY_FLAG) as (dll, store):
            context = None
            try:
                # Each call frees the context it is given and returns the next one.
                while context := dll.CertEnumCertificatesInStore(store, context):
                    cert = context.contents
                    found.append(ctypes.string_at(cert.pbCertEncoded, cert.cbCertEncoded))
                error = _failed("CertEnumCertificatesInStore")
            finally:
                if context:
                    dll.CertFreeCertificateContext(context)
        if error.code not in (CRYPT_E_NOT_FOUND, _ERROR_NO_MORE_FILES):
            raise error
        return found

    def delete(self, thumb: str) -> bool:
        with self._opened(0) as (dll, store):
            found = self._find(dll, store, thumb)
            if found is None:
                return False
            # It frees the context, whether it succeeds or not.
            if not dll.CertDeleteCertificateFromStore(found):
                raise _failed("CertDeleteCertificateFromStore")
            # Wine 8 keeps a deletion through the system store in memory and never writes it
            # (the store is not freed at close): a commit writes it. Windows writes at once and
            # ignores the commit, so its answer is not looked at; WindowsRoot asks again.
            dll.CertControlStore(store, 0, CERT_STORE_CTRL_COMMIT, None)
            return True


@dataclass(frozen=True)
class WindowsRoot:
    """The user's Root store: the local CA in, out, or asked about."""

    api: RootStoreApi = field(default_factory=Crypt32RootStore)
    """The store's calls (crypt32; replaced in tests)."""

    def result(self, outcome: Outcome, detail: str = "") -> StoreResult:
        """A result for the Root store."""
        return StoreResult(TrustStore.WINDOWS, WINDOWS_LOCATION, outcome, detail)

    def check(self, ca_der: bytes) -> TrustCheck:
        """The store's answer about the CA, for the helpdesk report."""
        state = self.has(thumbprint(ca_der))
        reason = {
            Trust.TRUSTED: TrustReason.FOUND,
            Trust.NOT_TRUSTED: TrustReason.NOT_FOUND,
            Trust.UNKNOWN: TrustReason.API_FAILED,
        }[state]
        return TrustCheck(TrustStore.WINDOWS, WINDOWS_LOCATION, state, reason)

    def has(self, thumb: str) -> Trust:
        """Whether the store holds the certificate with this thumbprint."""
        try:
            found = self.api.contains(thumb)
        except (CryptError, OSError) as exc:
            log.warning("could not ask Windows' Root store: %s", exc)
            return Trust.UNKNOWN
        return Trust.TRUSTED if found else Trust.NOT_TRUSTED

    def old_ones(self, current: str) -> list[str]:
        """Thumbprints of older Kyso CAs in the store (CryptError, OSError)."""
        return [
            thumb
            for der in self.api.certificates()
            if _NAME_BYTES in der and is_kyso_ca(der) and (thumb := thumbprint(der)) != current
        ]

    def _delete(self, thumbs: list[str]) -> list[str]:
        """Delete each certificate, and ask again that it is gone; the errors, if any."""
        errors = []
        for thumb in thumbs:
            try:
                # Asked afresh: a deletion a crypt32 said yes to but never wrote (Wine's, before
                # the commit), or a copy in the machine's part, would leave the CA trusted.
                if self.api.delete(thumb) and self.api.contains(thumb):
                    errors.append(f"{thumb} is still there after deleting it")
            except (CryptError, OSError) as exc:
                errors.append(str(exc))
        return errors

    def install(self, ca_file: Path, ca_der: bytes) -> StoreResult:
        """Add the CA (Windows asks the user to confirm), removing older Kyso CAs.

        ``ca_file`` is not read: Windows is given ``ca_der``.
        """
        current = thumbprint(ca_der)
        try:
            if self.api.contains(current) or not self.api.add(ca_der):
                return self.result(Outcome.ALREADY_PRESENT)
            # Asked afresh, as after a deletion: a "yes" alone is no proof (see _delete).
            if not self.api.contains(current):
                return self.result(Outcome.FAILED, "Windows said yes, but the CA is not there")
        except (CryptError, OSError) as exc:
            return self.result(Outcome.FAILED, str(exc))
        try:
            old = self.old_ones(current)
        except (CryptError, OSError) as exc:
            return self.result(Outcome.ADDED, f"older Kyso CAs not looked for: {exc}")
        errors = self._delete(old)
        if errors:
            return self.result(Outcome.ADDED, f"an older Kyso CA stayed: {errors[0]}")
        if old:
            return self.result(Outcome.REPLACED, f"{len(old)} older Kyso Agent CA")
        return self.result(Outcome.ADDED)

    def uninstall(self, ca_der: bytes | None) -> StoreResult:
        """Remove the current CA and any older Kyso CA from the user's Root store."""
        current = thumbprint(ca_der) if ca_der is not None else ""
        try:
            targets = [t for t in [current] if t and self.api.contains(t)]
            targets += self.old_ones(current)
        except (CryptError, OSError) as exc:
            return self.result(Outcome.FAILED, str(exc))
        errors = self._delete(targets)
        if errors:
            return self.result(Outcome.FAILED, errors[0])
        return self.result(Outcome.REMOVED if targets else Outcome.NOT_PRESENT)


def windows_trust(ca_der: bytes, api: RootStoreApi | None = None) -> TrustCheck:
    """Whether the user's Root store (which includes the machine's) holds the CA."""
    return (WindowsRoot(api) if api is not None else WindowsRoot()).check(ca_der)
