"""``kyso-agent trust`` without real stores: Windows' certutil and the system anchors, faked."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.localtls import ca as tls
from agent.localtls.ca import is_kyso_ca, load_ca, thumbprint
from agent.localtls.model import Outcome, StoreResult, TrustStore, all_ok, result_text
from agent.localtls.stores import TrustError, TrustTools, install, uninstall
from agent.localtls.system import SystemAnchors
from agent.localtls.windows import WindowsRoot, old_kyso_thumbprints

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


def store_listing(*ders: bytes) -> str:
    blocks = ['root "Trusted Root Certification Authorities"']
    for i, der in enumerate(ders):
        cert = x509.load_der_x509_certificate(der)
        subject = ", ".join(cert.subject.rfc4514_string().split(","))  # as Windows shows it
        spaced = " ".join(thumbprint(der)[j : j + 2] for j in range(0, 40, 2))
        blocks.append(
            f"================ Certificate {i} ================\n"
            f"Serial Number: 01\nIssuer: {subject}\nSubject: {subject}\n"
            f"Cert Hash(sha1): {spaced}\nNo key provider information"
        )
    return "\n".join(blocks) + "\nCertUtil: -store command completed successfully.\n"


NOT_FOUND = (-2146885628, "CertUtil: -verifystore command FAILED: 0x80092004 (CRYPT_E_NOT_FOUND)")


def test_only_kyso_cas_are_ours(ca_files: tuple[Path, Path]) -> None:
    old, current = ca_files
    assert is_kyso_ca(load_ca(old)) and is_kyso_ca(load_ca(current))
    server = x509.load_pem_x509_certificates((old.parent / "server.pem").read_bytes())[0]
    assert not is_kyso_ca(server.public_bytes(serialization.Encoding.DER))
    assert not is_kyso_ca(b"not a certificate")


def test_windows_install_adds_to_the_users_root_store(ca_files: tuple[Path, Path]) -> None:
    _old, current = ca_files
    runner = FakeRunner([(("-verifystore",), NOT_FOUND), (("-store",), (0, store_listing()))])
    result = WindowsRoot("certutil.exe", runner).install(current, load_ca(current))
    assert result == StoreResult(TrustStore.WINDOWS, "CurrentUser\\Root", Outcome.ADDED)
    thumb = thumbprint(load_ca(current))
    assert runner.calls[0] == ["certutil.exe", "-user", "-verifystore", "Root", thumb]
    assert ["certutil.exe", "-user", "-addstore", "Root", str(current)] in runner.calls


def test_windows_install_twice_is_already_present(ca_files: tuple[Path, Path]) -> None:
    _old, current = ca_files
    runner = FakeRunner([(("-verifystore",), (0, "completed successfully"))])
    result = WindowsRoot("certutil.exe", runner).install(current, load_ca(current))
    assert result.outcome is Outcome.ALREADY_PRESENT
    assert not any("-addstore" in call for call in runner.calls)


def test_windows_install_replaces_an_older_kyso_ca_only(ca_files: tuple[Path, Path]) -> None:
    old, current = ca_files
    stranger = x509.load_pem_x509_certificates((old.parent / "server.pem").read_bytes())[0]
    stranger_der = stranger.public_bytes(serialization.Encoding.DER)
    listing = store_listing(load_ca(old), load_ca(current), stranger_der)
    assert old_kyso_thumbprints(listing, thumbprint(load_ca(current))) == [thumbprint(load_ca(old))]
    runner = FakeRunner([(("-verifystore",), NOT_FOUND), (("-store",), (0, listing))])
    result = WindowsRoot("certutil.exe", runner).install(current, load_ca(current))
    assert result.outcome is Outcome.REPLACED
    deleted = [c[-1] for c in runner.calls if "-delstore" in c]
    assert deleted == [thumbprint(load_ca(old))]
    # The new CA goes in before the old one comes out.
    adds = [i for i, c in enumerate(runner.calls) if "-addstore" in c]
    dels = [i for i, c in enumerate(runner.calls) if "-delstore" in c]
    assert adds[0] < dels[0]


def test_windows_user_declining_is_a_failure(ca_files: tuple[Path, Path]) -> None:
    _old, current = ca_files
    declined = (-2147023673, "CertUtil: -addstore command FAILED: 0x800704c7 (ERROR_CANCELLED)")
    runner = FakeRunner([(("-verifystore",), NOT_FOUND), (("-addstore",), declined)])
    result = WindowsRoot("certutil.exe", runner).install(current, load_ca(current))
    assert result.outcome is Outcome.FAILED
    assert "declined" in result.detail
    assert not all_ok([result])


def test_windows_uninstall_removes_current_and_old_by_thumbprint(
    ca_files: tuple[Path, Path],
) -> None:
    old, current = ca_files
    listing = store_listing(load_ca(old), load_ca(current))
    runner = FakeRunner([(("-verifystore",), (0, "ok")), (("-store",), (0, listing))])
    result = WindowsRoot("certutil.exe", runner).uninstall(load_ca(current))
    assert result.outcome is Outcome.REMOVED
    deleted = [c for c in runner.calls if "-delstore" in c]
    assert deleted == [
        ["certutil.exe", "-user", "-delstore", "Root", thumbprint(load_ca(current))],
        ["certutil.exe", "-user", "-delstore", "Root", thumbprint(load_ca(old))],
    ]


def test_windows_uninstall_with_nothing_there(ca_files: tuple[Path, Path]) -> None:
    _old, current = ca_files
    runner = FakeRunner([(("-verifystore",), NOT_FOUND), (("-store",), (0, store_listing()))])
    assert WindowsRoot("certutil.exe", runner).uninstall(load_ca(current)).outcome is (
        Outcome.NOT_PRESENT
    )


def test_commands_on_windows_use_the_root_store(
    ca_files: tuple[Path, Path], tmp_path: Path
) -> None:
    _old, current = ca_files
    runner = FakeRunner([(("-verifystore",), NOT_FOUND), (("-store",), (0, store_listing()))])
    tools = TrustTools(home=tmp_path, platform="win32", run=runner, certutil="certutil.exe")
    assert [r.store for r in install(current, tools)] == [TrustStore.WINDOWS]
    assert [r.store for r in uninstall(current, tools)] == [TrustStore.WINDOWS]
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
