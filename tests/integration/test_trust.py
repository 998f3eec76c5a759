"""``kyso-agent trust`` against real NSS databases (``certutil`` from libnss3-tools).

Each test has its own HOME with a Firefox profile, and its own data directory with a
real local CA made by :mod:`agent.localtls.ca`. The system store is never touched here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from agent.localtls import ca as tls
from agent.localtls.ca import load_ca
from agent.localtls.model import Outcome, Trust, TrustStore
from agent.localtls.nss import NICKNAME
from agent.localtls.stores import TrustTools, install, trust_checks, uninstall
from agent.localtls.tools import der_certificates
from agent.testing.softhsm import TestCa
from tests.conftest import run_cli

CERTUTIL = shutil.which("certutil")
pytestmark = pytest.mark.skipif(CERTUTIL is None, reason="needs certutil (libnss3-tools)")


def certutil(*args: str) -> subprocess.CompletedProcess[str]:
    assert CERTUTIL is not None
    return subprocess.run([CERTUTIL, *args], capture_output=True, text=True, check=False)


class Home:
    """A user's home: Chrome's NSS database (not yet made), a Firefox profile, a data dir."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.nssdb = root / ".pki" / "nssdb"
        self.firefox = root / ".mozilla" / "firefox" / "abcd1234.default-release"
        self.firefox.mkdir(parents=True)
        assert certutil("-N", "-d", f"sql:{self.firefox}", "--empty-password").returncode == 0
        self.data_dir = root / "data"
        self.files = tls.ensure(self.data_dir / "tls")
        self.tools = TrustTools(home=root, platform="linux")

    @property
    def ca_file(self) -> Path:
        return self.files.ca_cert

    def named(self, database: Path, nickname: str = NICKNAME) -> list[bytes]:
        done = certutil("-L", "-d", f"sql:{database}", "-n", nickname, "-a")
        return der_certificates(done.stdout) if done.returncode == 0 else []

    def flags(self, database: Path, nickname: str = NICKNAME) -> str | None:
        listing = certutil("-L", "-d", f"sql:{database}").stdout
        for line in listing.splitlines():
            if line.startswith(nickname + " "):
                return line[len(nickname) :].strip()
        return None

    def env(self) -> dict[str, str]:
        return {**os.environ, "HOME": str(self.root), "XDG_CONFIG_HOME": str(self.root / ".cfg")}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run_cli("trust", *args, "--data-dir", str(self.data_dir), env=self.env())


@pytest.fixture
def home(tmp_path: Path) -> Home:
    return Home(tmp_path)


def add_foreign(home: Home, database: Path, nickname: str) -> bytes:
    """Someone else's CA (a test CA, not Kyso Agent's) added to ``database``; its DER."""
    stranger = TestCa.create(nickname).cert
    pem_file = home.root / f"{nickname}.pem"
    pem_file.write_bytes(stranger.public_bytes(serialization.Encoding.PEM))
    done = certutil("-A", "-d", f"sql:{database}", "-n", nickname, "-t", "C,,", "-i", str(pem_file))
    assert done.returncode == 0, done.stderr
    return stranger.public_bytes(serialization.Encoding.DER)


def test_install_creates_chrome_database_and_trusts_the_ca_for_websites(home: Home) -> None:
    done = home.cli("install", "--json")
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["ok"] is True
    assert [(r["store"], r["outcome"]) for r in body["results"]] == [
        ("nss", "added"),
        ("firefox", "added"),
    ]
    ca_der = load_ca(home.ca_file)
    for database in (home.nssdb, home.firefox):
        assert home.flags(database) == "C,,"
        assert home.named(database) == [ca_der]


def test_status_and_trust_status_agree_after_install_and_uninstall(home: Home) -> None:
    ca_der = load_ca(home.ca_file)
    before = home.cli("status", "--json")
    assert before.returncode == 1
    assert json.loads(before.stdout)["trusted"] is False

    assert home.cli("install").returncode == 0
    checks = {c.store: c.trust for c in trust_checks(ca_der, home.root, "linux")}
    assert checks[TrustStore.NSS] is Trust.TRUSTED
    assert checks[TrustStore.FIREFOX] is Trust.TRUSTED
    after = home.cli("status", "--json")
    assert after.returncode == 0
    rows = {r["store"]: r["trust"] for r in json.loads(after.stdout)["trust"]}
    assert rows["nss"] == rows["firefox"] == "trusted"

    removed = home.cli("uninstall", "--lang", "en")
    assert removed.returncode == 0, removed.stderr
    assert "removed" in removed.stdout
    checks = {c.store: c.trust for c in trust_checks(ca_der, home.root, "linux")}
    assert checks[TrustStore.NSS] is checks[TrustStore.FIREFOX] is Trust.NOT_TRUSTED
    assert home.named(home.nssdb) == home.named(home.firefox) == []


def test_install_twice_changes_nothing_the_second_time(home: Home) -> None:
    install(home.ca_file, home.tools)
    again = install(home.ca_file, home.tools)
    assert [r.outcome for r in again] == [Outcome.ALREADY_PRESENT] * 2
    assert len(home.named(home.nssdb)) == 1


def test_renewed_ca_replaces_the_old_one(home: Home) -> None:
    install(home.ca_file, home.tools)
    old = load_ca(home.ca_file)
    tls.issue(home.files, datetime.now(UTC) + timedelta(minutes=2))  # a new CA, new subject
    new = load_ca(home.ca_file)
    assert new != old
    results = install(home.ca_file, home.tools)
    assert [r.outcome for r in results] == [Outcome.REPLACED] * 2
    for database in (home.nssdb, home.firefox):
        assert home.named(database) == [new]
        assert home.flags(database) == "C,,"


def test_untrusted_entry_of_ours_gets_website_trust(home: Home) -> None:
    home.nssdb.mkdir(parents=True)
    assert certutil("-N", "-d", f"sql:{home.nssdb}", "--empty-password").returncode == 0
    added = certutil(
        "-A", "-d", f"sql:{home.nssdb}", "-n", NICKNAME, "-t", ",,", "-i", str(home.ca_file)
    )
    assert added.returncode == 0
    results = install(home.ca_file, home.tools)
    assert results[0].outcome is Outcome.ADDED
    assert home.flags(home.nssdb) == "C,,"


def test_other_certificates_are_left_alone(home: Home) -> None:
    install(home.ca_file, home.tools)
    other = add_foreign(home, home.nssdb, "Some Corp Root")
    results = uninstall(home.ca_file, home.tools)
    assert [r.outcome for r in results] == [Outcome.REMOVED] * 2
    assert home.named(home.nssdb, "Some Corp Root") == [other]
    assert home.flags(home.nssdb, "Some Corp Root") == "C,,"


def test_a_stranger_under_our_nickname_is_never_replaced(home: Home) -> None:
    home.nssdb.mkdir(parents=True)
    assert certutil("-N", "-d", f"sql:{home.nssdb}", "--empty-password").returncode == 0
    stranger = add_foreign(home, home.nssdb, NICKNAME)
    done = home.cli("install", "--lang", "en")
    assert done.returncode == 1
    assert "FAILED" in done.stdout
    assert "left alone" in done.stdout
    assert home.named(home.nssdb) == [stranger]
    # The Firefox profile still got it.
    assert home.flags(home.firefox) == "C,,"
    # And uninstall does not take the stranger out either.
    results = uninstall(home.ca_file, home.tools)
    assert results[0].outcome is Outcome.NOT_PRESENT
    assert home.named(home.nssdb) == [stranger]


def test_snap_firefox_profile_gets_it_too(home: Home) -> None:
    snap = home.root / "snap" / "firefox" / "common" / ".mozilla" / "firefox" / "x.default"
    snap.mkdir(parents=True)
    assert certutil("-N", "-d", f"sql:{snap}", "--empty-password").returncode == 0
    results = install(home.ca_file, home.tools)
    assert {(r.store, r.location) for r in results} >= {(TrustStore.FIREFOX, str(snap))}
    assert home.flags(snap) == "C,,"


def test_without_a_ca_the_command_says_start_the_agent_first(tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path)}
    done = run_cli("trust", "install", "--data-dir", str(tmp_path / "none"), env=env)
    assert done.returncode == 1
    assert "start Kyso Agent once" in done.stderr
    assert not (tmp_path / ".pki").exists()
