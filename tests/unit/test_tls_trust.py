"""``kyso-agent trust`` without real stores: Windows' Root store (crypt32) and the system anchors,
faked (Wine's real crypt32 is for the tests under tests/windows/)."""

from __future__ import annotations

import ctypes
import struct
import subprocess
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.localtls import ca as tls
from agent.localtls.ca import is_kyso_ca, load_ca, thumbprint
from agent.localtls.model import (
    Outcome,
    StoreResult,
    Trust,
    TrustCheck,
    TrustReason,
    TrustStore,
    all_ok,
    result_text,
)
from agent.localtls.stores import TrustError, TrustTools, install, uninstall
from agent.localtls.system import SystemAnchors
from agent.localtls.windows import (
    CRYPT_E_NOT_FOUND,
    HRESULT_CANCELLED,
    CertContext,
    CryptError,
    HashBlob,
    WindowsRoot,
    hresult,
    windows_trust,
)

Answer = tuple[int, str]


class FakeRunner:
    """Answers each command line by the first rule whose words all appear in it."""

    def __init__(self, rules: Sequence[tuple[tuple[str, ...], Answer | Callable[[], Answer]]]):
        self.rules = list(rules)
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        for words, answer in self.rules:
            if all(w in argv for w in words):
                code, out = answer() if callable(answer) else answer
                return subprocess.CompletedProcess(list(argv), code, out, "")
        return subprocess.CompletedProcess(list(argv), 0, "", "")


@pytest.fixture(scope="module")
def ca_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two generations of the local CA: (old ca.pem, current ca.pem)."""
    root = tmp_path_factory.mktemp("tls")
    old = tls.ensure(root / "old").ca_cert
    current = tls.TlsFiles(root / "new")
    tls.issue(current, datetime(2030, 1, 1, tzinfo=UTC))
    return old, current.ca_cert


class FakeRootStore:
    """Windows' Root store as crypt32 answers: certificates by DER, each call recorded.

    ``fail`` makes a call raise the error crypt32 would leave; ``forgets`` makes delete say
    yes and keep the certificate (Wine 8's crypt32 without a commit).
    """

    def __init__(
        self, *ders: bytes, fail: dict[str, int] | None = None, forgets: bool = False
    ) -> None:
        self.ders = list(ders)
        self.fail = fail or {}
        self.forgets = forgets
        self.calls: list[tuple[str, str]] = []

    def _call(self, name: str, thumb: str = "") -> None:
        self.calls.append((name, thumb))
        if name in self.fail:
            raise CryptError(name, self.fail[name])

    def thumbs(self) -> list[str]:
        return [thumbprint(der) for der in self.ders]

    def contains(self, thumb: str) -> bool:
        self._call("contains", thumb)
        return thumb in self.thumbs()

    def add(self, der: bytes) -> bool:
        self._call("add", thumbprint(der))
        if der in self.ders:
            return False
        self.ders.append(der)
        return True

    def certificates(self) -> list[bytes]:
        self._call("certificates")
        return list(self.ders)

    def delete(self, thumb: str) -> bool:
        self._call("delete", thumb)
        if thumb not in self.thumbs():
            return False
        if not self.forgets:
            self.ders = [der for der in self.ders if thumbprint(der) != thumb]
        return True


ACCESS_DENIED = 5
"""A Win32 code, as GetLastError() gives it."""
CANCELLED = 1223
"""ERROR_CANCELLED: the user said no to Windows' question."""


def stranger_der(old: Path) -> bytes:
    """A certificate that is not a Kyso CA (the server certificate)."""
    cert = x509.load_pem_x509_certificates((old.parent / "server.pem").read_bytes())[0]
    return cert.public_bytes(serialization.Encoding.DER)


def test_only_kyso_cas_are_ours(ca_files: tuple[Path, Path]) -> None:
    old, current = ca_files
    assert is_kyso_ca(load_ca(old)) and is_kyso_ca(load_ca(current))
    server = x509.load_pem_x509_certificates((old.parent / "server.pem").read_bytes())[0]
    assert not is_kyso_ca(server.public_bytes(serialization.Encoding.DER))
    assert not is_kyso_ca(b"not a certificate")


def test_win32_errors_become_hresults() -> None:
    assert hresult(CANCELLED) == HRESULT_CANCELLED == 0x800704C7
    assert hresult(-2146885628) == CRYPT_E_NOT_FOUND == 0x80092004  # as ctypes may hand it
    assert hresult(0x80092004) == CRYPT_E_NOT_FOUND
    assert str(CryptError("CertOpenStore", ACCESS_DENIED)) == "CertOpenStore failed: 0x80070005"


@pytest.mark.skipif(struct.calcsize("P") != 8, reason="the layout of 64-bit Windows")
def test_crypt32_structures_have_the_layout_of_64_bit_windows() -> None:
    """crypt32 reads the thumbprint and hands out the DER where these fields say."""
    assert ctypes.sizeof(HashBlob) == 16 and HashBlob.pbData.offset == 8
    assert ctypes.sizeof(CertContext) == 40
    assert (CertContext.pbCertEncoded.offset, CertContext.cbCertEncoded.offset) == (8, 16)


@pytest.mark.skipif(sys.platform == "win32", reason="crypt32 is there")
def test_without_crypt32_the_store_is_unknown_and_nothing_is_added(
    ca_files: tuple[Path, Path],
) -> None:
    _old, current = ca_files
    check = windows_trust(load_ca(current))
    assert (check.trust, check.reason) == (Trust.UNKNOWN, TrustReason.API_FAILED)
    result = WindowsRoot().install(current, load_ca(current))
    assert result.outcome is Outcome.FAILED and "Windows" in result.detail


def test_windows_check_answers_found_not_found_or_api_failed(ca_files: tuple[Path, Path]) -> None:
    old, current = ca_files
    there = FakeRootStore(load_ca(current))
    assert windows_trust(load_ca(current), there) == TrustCheck(
        TrustStore.WINDOWS, "CurrentUser\\Root", Trust.TRUSTED, TrustReason.FOUND
    )
    assert there.calls == [("contains", thumbprint(load_ca(current)))]
    missing = windows_trust(load_ca(current), FakeRootStore(load_ca(old)))
    assert (missing.trust, missing.reason) == (Trust.NOT_TRUSTED, TrustReason.NOT_FOUND)
    broken = FakeRootStore(load_ca(current), fail={"contains": ACCESS_DENIED})
    failed = windows_trust(load_ca(current), broken)
    assert (failed.trust, failed.reason) == (Trust.UNKNOWN, TrustReason.API_FAILED)


def test_windows_install_adds_to_the_users_root_store(ca_files: tuple[Path, Path]) -> None:
    old, current = ca_files
    store = FakeRootStore(stranger_der(old))
    result = WindowsRoot(store).install(current, load_ca(current))
    assert result == StoreResult(TrustStore.WINDOWS, "CurrentUser\\Root", Outcome.ADDED)
    thumb = thumbprint(load_ca(current))
    assert store.calls[:3] == [("contains", thumb), ("add", thumb), ("contains", thumb)]
    assert load_ca(current) in store.ders


def test_windows_install_twice_is_already_present(ca_files: tuple[Path, Path]) -> None:
    _old, current = ca_files
    store = FakeRootStore(load_ca(current))
    assert WindowsRoot(store).install(current, load_ca(current)).outcome is (
        Outcome.ALREADY_PRESENT
    )
    assert [name for name, _ in store.calls] == ["contains"]


def test_windows_install_replaces_an_older_kyso_ca_only(ca_files: tuple[Path, Path]) -> None:
    old, current = ca_files
    store = FakeRootStore(load_ca(old), stranger_der(old))
    assert WindowsRoot(store).old_ones(thumbprint(load_ca(current))) == [thumbprint(load_ca(old))]
    result = WindowsRoot(store).install(current, load_ca(current))
    assert result.outcome is Outcome.REPLACED
    assert store.ders == [stranger_der(old), load_ca(current)]
    # The new CA goes in before the old one comes out.
    names = [name for name, _ in store.calls]
    assert names.index("add") < names.index("delete")


def test_windows_user_declining_is_a_failure(ca_files: tuple[Path, Path]) -> None:
    _old, current = ca_files
    store = FakeRootStore(fail={"add": CANCELLED})
    result = WindowsRoot(store).install(current, load_ca(current))
    assert result.outcome is Outcome.FAILED
    assert result.detail.startswith("the user declined Windows' question")
    assert not all_ok([result])


def test_windows_refusal_is_a_failure_with_its_code(ca_files: tuple[Path, Path]) -> None:
    _old, current = ca_files
    store = FakeRootStore(fail={"add": ACCESS_DENIED})
    result = WindowsRoot(store).install(current, load_ca(current))
    assert result.outcome is Outcome.FAILED
    assert result.detail == "add failed: 0x80070005"


def test_windows_yes_without_the_ca_is_a_failure(ca_files: tuple[Path, Path]) -> None:
    """A crypt32 that says yes and keeps nothing (as certutil under Wine did) is caught."""
    _old, current = ca_files

    class Forgetful(FakeRootStore):
        def add(self, der: bytes) -> bool:
            self.calls.append(("add", thumbprint(der)))
            return True

    result = WindowsRoot(Forgetful()).install(current, load_ca(current))
    assert result.outcome is Outcome.FAILED and "not there" in result.detail


def test_windows_install_keeps_the_new_ca_when_an_old_one_stays(
    ca_files: tuple[Path, Path],
) -> None:
    old, current = ca_files
    store = FakeRootStore(load_ca(old), fail={"delete": CANCELLED})
    result = WindowsRoot(store).install(current, load_ca(current))
    assert result.outcome is Outcome.ADDED
    assert "older Kyso CA stayed" in result.detail and "declined" in result.detail


def test_windows_uninstall_removes_current_and_old_by_thumbprint(
    ca_files: tuple[Path, Path],
) -> None:
    old, current = ca_files
    store = FakeRootStore(load_ca(old), load_ca(current), stranger_der(old))
    result = WindowsRoot(store).uninstall(load_ca(current))
    assert result.outcome is Outcome.REMOVED
    deleted = [thumb for name, thumb in store.calls if name == "delete"]
    assert deleted == [thumbprint(load_ca(current)), thumbprint(load_ca(old))]
    assert store.ders == [stranger_der(old)]


def test_windows_uninstall_without_ca_file_removes_kyso_cas_by_name(
    ca_files: tuple[Path, Path],
) -> None:
    old, current = ca_files
    store = FakeRootStore(load_ca(old), load_ca(current), stranger_der(old))
    assert WindowsRoot(store).uninstall(None).outcome is Outcome.REMOVED
    assert store.ders == [stranger_der(old)]


def test_windows_uninstall_with_nothing_there(ca_files: tuple[Path, Path]) -> None:
    old, current = ca_files
    store = FakeRootStore(stranger_der(old))
    assert WindowsRoot(store).uninstall(load_ca(current)).outcome is Outcome.NOT_PRESENT
    assert not any(name == "delete" for name, _ in store.calls)


def test_windows_deletion_that_did_not_happen_is_a_failure(ca_files: tuple[Path, Path]) -> None:
    """Wine 8's crypt32 says yes to a deletion it never writes unless the store is committed."""
    _old, current = ca_files
    store = FakeRootStore(load_ca(current), forgets=True)
    result = WindowsRoot(store).uninstall(load_ca(current))
    assert result.outcome is Outcome.FAILED
    assert "still there" in result.detail


def test_windows_uninstall_failures(ca_files: tuple[Path, Path]) -> None:
    _old, current = ca_files
    declined = FakeRootStore(load_ca(current), fail={"delete": CANCELLED})
    result = WindowsRoot(declined).uninstall(load_ca(current))
    assert result.outcome is Outcome.FAILED and "declined" in result.detail
    unreadable = FakeRootStore(fail={"certificates": ACCESS_DENIED})
    result = WindowsRoot(unreadable).uninstall(load_ca(current))
    assert (result.outcome, result.detail) == (Outcome.FAILED, "certificates failed: 0x80070005")


def test_commands_on_windows_use_the_root_store_without_certutil(
    ca_files: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _old, current = ca_files
    monkeypatch.setenv("PATH", str(tmp_path))  # no certutil anywhere
    store = FakeRootStore()
    tools = TrustTools(home=tmp_path, platform="win32", windows=store)
    assert [r.outcome for r in install(current, tools)] == [Outcome.ADDED]
    assert [r.outcome for r in uninstall(current, tools)] == [Outcome.REMOVED]
    assert store.ders == []
    assert not (tmp_path / ".pki").exists()


def test_no_ca_file_is_an_error(tmp_path: Path) -> None:
    tools = TrustTools(home=tmp_path, platform="linux", certutil="certutil")
    with pytest.raises(TrustError, match="start Kyso Agent once"):
        install(tmp_path / "ca.pem", tools)


def test_system_anchor_install_replace_uninstall(
    ca_files: tuple[Path, Path], tmp_path: Path
) -> None:
    old, current = ca_files
    runner = FakeRunner([])
    anchors = SystemAnchors(tmp_path, "update-ca-certificates", "kyso-agent-alice.crt", runner)
    assert anchors.install(old, load_ca(old)).outcome is Outcome.ADDED
    assert anchors.install(old, load_ca(old)).outcome is Outcome.ALREADY_PRESENT
    assert anchors.install(current, load_ca(current)).outcome is Outcome.REPLACED
    assert anchors.file.read_bytes() == current.read_bytes()
    assert anchors.uninstall().outcome is Outcome.REMOVED
    assert not anchors.file.exists()
    assert anchors.uninstall().outcome is Outcome.NOT_PRESENT
    assert runner.calls[-1] == ["update-ca-certificates", "--fresh"]


def test_system_anchor_of_someone_else_is_left_alone(
    ca_files: tuple[Path, Path], tmp_path: Path
) -> None:
    old, current = ca_files
    server_pem = (old.parent / "server.pem").read_text().split("-----END CERTIFICATE-----")[0]
    foreign = server_pem + "-----END CERTIFICATE-----\n"
    anchors = SystemAnchors(tmp_path, "update-ca-trust", "kyso-agent-alice.crt", FakeRunner([]))
    anchors.file.write_text(foreign)
    assert anchors.install(current, load_ca(current)).outcome is Outcome.FAILED
    assert anchors.uninstall().outcome is Outcome.NOT_PRESENT
    assert anchors.file.read_text() == foreign


def test_failing_update_tool_is_reported(ca_files: tuple[Path, Path], tmp_path: Path) -> None:
    _old, current = ca_files
    runner = FakeRunner([(("update-ca-certificates",), (1, "boom"))])
    anchors = SystemAnchors(tmp_path, "update-ca-certificates", "kyso-agent-bob.crt", runner)
    result = anchors.install(current, load_ca(current))
    assert result.outcome is Outcome.FAILED
    assert "boom" in result.detail


@pytest.mark.parametrize("outcome", list(Outcome))
def test_every_outcome_has_words_in_both_languages(outcome: Outcome) -> None:
    result = StoreResult(TrustStore.NSS, "/home/a/.pki/nssdb", outcome, "why")
    for lang in ("vi", "en"):
        line = result_text(result, lang)
        assert "/home/a/.pki/nssdb" in line and "(why)" in line
