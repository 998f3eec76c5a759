"""Pieces of the helpdesk report: days left, log filter, trust parsing, JSON, text, refusals."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from agent.localtls.model import Trust, TrustCheck, TrustReason, TrustStore, check_text
from agent.localtls.nss import nss_trust, parse_certutil_list
from agent.localtls.system import system_store_trust
from agent.messages import Lang, keys
from agent.pin import TriesLeft
from agent.server.status_page import PAGE_PATH, refusal, render_html
from agent.status.logs import recent_log_errors, scrub_log_line
from agent.status.model import (
    AgentStatus,
    AuditStatus,
    CertificateStatus,
    ModuleStatus,
    PairedStatus,
    StatusReport,
    TlsStatus,
    TokenStatus,
    Validity,
    days_left,
    validity_of,
)

HANOI = timezone(timedelta(hours=7))
NOW = datetime(2025, 3, 10, 9, 30, tzinfo=HANOI)
START = NOW - timedelta(days=700)


# --- days left and validity ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("not_after", "days"),
    [
        (NOW + timedelta(days=10), 10),
        (NOW + timedelta(days=9, hours=23), 10),  # the 20th, seen on the 10th
        (NOW + timedelta(hours=2), 0),  # its last day
        (NOW - timedelta(hours=1), 0),
        (NOW - timedelta(days=1), -1),
    ],
)
def test_days_left_counts_calendar_days(not_after: datetime, days: int) -> None:
    assert days_left(not_after, NOW) == days


def test_days_left_counts_in_the_callers_time_zone() -> None:
    # 2025-03-20 20:00 UTC is already the 21st in Hà Nội.
    not_after = datetime(2025, 3, 20, 20, 0, tzinfo=UTC)
    assert days_left(not_after, NOW) == 11
    assert days_left(not_after, NOW.astimezone(UTC)) == 10


@pytest.mark.parametrize(
    ("not_before", "not_after", "expected"),
    [
        (START, NOW + timedelta(days=31), Validity.VALID),
        (START, NOW + timedelta(days=30), Validity.EXPIRING),
        (START, NOW + timedelta(days=10), Validity.EXPIRING),
        (START, NOW + timedelta(minutes=1), Validity.EXPIRING),
        (START, NOW - timedelta(seconds=1), Validity.EXPIRED),
        (NOW + timedelta(hours=1), NOW + timedelta(days=400), Validity.NOT_YET_VALID),
    ],
)
def test_validity(not_before: datetime, not_after: datetime, expected: Validity) -> None:
    assert validity_of(not_before, not_after, NOW) is expected


# --- the log -------------------------------------------------------------------------------------

STAMP = "2025-03-10 09:30:00,123"


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        (f"{STAMP} INFO agent.app: origins allowed: none", None),
        (f"{STAMP} DEBUG agent.token: pin=1234", None),
        ("Traceback (most recent call last):", None),
        ('  File "x.py", line 3, in <module>', None),
        (
            f"{STAMP} WARNING agent.token.module: closing the session failed: SessionClosed",
            f"{STAMP} WARNING agent.token.module: closing the session failed: SessionClosed",
        ),
        (
            f"{STAMP} ERROR vendor: C_Login pin=246810 user_pin: '975319' failed",
            f"{STAMP} ERROR vendor: C_Login pin=*** user_pin: *** failed",
        ),
        (
            f'{STAMP} ERROR vendor: login {{"PIN": "112233"}} refused',
            f'{STAMP} ERROR vendor: login {{"PIN": ***}} refused',
        ),
        (
            f"{STAMP} ERROR vendor: PIN 24681012 refused on slot 3",
            f"{STAMP} ERROR vendor: PIN *** refused on slot 3",
        ),
        (
            f"{STAMP} CRITICAL vendor: mật khẩu 123456 sai",
            f"{STAMP} CRITICAL vendor: mật khẩu *** sai",
        ),
        # Digits are kept where nothing speaks of a PIN (ports, serials).
        (
            f"{STAMP} ERROR agent.app: cannot listen on 127.0.0.1:8988",
            f"{STAMP} ERROR agent.app: cannot listen on 127.0.0.1:8988",
        ),
    ],
)
def test_log_lines_kept_and_scrubbed(line: str, shown: str | None) -> None:
    assert scrub_log_line(line) == shown


def test_long_log_lines_are_cut() -> None:
    shown = scrub_log_line(f"{STAMP} ERROR x: " + "a" * 2000)
    assert shown is not None and len(shown) == 400 and shown.endswith("…")


def test_recent_errors_are_the_last_ones_across_the_rotation(tmp_path: Path) -> None:
    (tmp_path / "agent.log.1").write_text(
        "".join(f"{STAMP} ERROR old: {i}\n{STAMP} INFO noise\n" for i in range(5)), "utf-8"
    )
    (tmp_path / "agent.log").write_text(
        "".join(f"{STAMP} WARNING new: {i}\n  traceback line\n" for i in range(3)), "utf-8"
    )
    shown = recent_log_errors(tmp_path, limit=4)
    assert [line.rsplit(" ", 2)[-2:] for line in shown] == [
        ["old:", "4"],
        ["new:", "0"],
        ["new:", "1"],
        ["new:", "2"],
    ]
    assert recent_log_errors(tmp_path / "missing") == ()


# --- trust of the local CA ------------------------------------------------------------------------


def make_ca() -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kyso Agent local CA (test)")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(START)
        .not_valid_after(NOW + timedelta(days=800))
        .sign(key, hashes.SHA256())
    )


CA = make_ca()
OTHER = make_ca()
CA_DER = CA.public_bytes(serialization.Encoding.DER)


def pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_system_bundle_with_and_without_the_ca(tmp_path: Path) -> None:
    bundle = tmp_path / "ca-certificates.crt"
    bundle.write_text(
        pem(OTHER) + "garbage\n-----BEGIN CERTIFICATE-----\nbroken\n"
        "-----END CERTIFICATE-----\n" + pem(CA)
    )
    check = system_store_trust(CA_DER, [tmp_path / "absent.crt", bundle])
    assert check == TrustCheck(TrustStore.SYSTEM, str(bundle), Trust.TRUSTED, TrustReason.FOUND)
    bundle.write_text(pem(OTHER))
    assert system_store_trust(CA_DER, [bundle]).trust is Trust.NOT_TRUSTED
    missing = system_store_trust(CA_DER, [tmp_path / "absent.crt"])
    assert (missing.trust, missing.reason) == (Trust.UNKNOWN, TrustReason.NO_DATABASE)


CERTUTIL_LIST = """
Certificate Nickname                                         Trust Attributes
                                                             SSL,S/MIME,JAR/XPI

Kyso Agent local CA (2025-03-01 08:00)                       C,,
Some Corp Root                                               c,c,
user cert with  spaces                                       u,u,u
"""


def test_certutil_listing_is_parsed() -> None:
    assert parse_certutil_list(CERTUTIL_LIST) == [
        ("Kyso Agent local CA (2025-03-01 08:00)", "C"),
        ("Some Corp Root", "c"),
        ("user cert with  spaces", "u"),
    ]
    assert parse_certutil_list("") == []


class FakeCertutil:
    """``certutil -L`` answers: the listing, and each nickname's PEM."""

    def __init__(self, listing: str, pems: dict[str, str], returncode: int = 0) -> None:
        self.listing, self.pems, self.returncode = listing, pems, returncode
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        if "-n" in argv:
            out = self.pems.get(argv[argv.index("-n") + 1], "")
        else:
            out = self.listing
        return subprocess.CompletedProcess(list(argv), self.returncode, out, "")


@pytest.fixture
def nssdb(tmp_path: Path) -> Path:
    (tmp_path / "cert9.db").write_bytes(b"")
    return tmp_path


@pytest.mark.parametrize(
    ("pems", "expected"),
    [
        (
            {"Kyso Agent local CA (2025-03-01 08:00)": pem(CA)},
            (Trust.TRUSTED, TrustReason.FOUND),
        ),
        ({"Some Corp Root": pem(CA)}, (Trust.NOT_TRUSTED, TrustReason.UNTRUSTED_ENTRY)),
        (
            {"Kyso Agent local CA (2025-03-01 08:00)": pem(OTHER)},
            (Trust.NOT_TRUSTED, TrustReason.NOT_FOUND),
        ),
    ],
)
def test_nss_database_answers(
    nssdb: Path, pems: dict[str, str], expected: tuple[Trust, TrustReason]
) -> None:
    fake = FakeCertutil(CERTUTIL_LIST, pems)
    check = nss_trust(CA_DER, nssdb, run=fake, certutil="certutil")
    assert (check.trust, check.reason) == expected
    assert fake.calls[0] == ["certutil", "-L", "-d", f"sql:{nssdb}"]


def test_nss_unknown_without_tool_database_or_when_certutil_fails(
    nssdb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing = FakeCertutil("", {}, returncode=255)
    assert nss_trust(CA_DER, nssdb, run=failing, certutil="certutil").reason is (
        TrustReason.TOOL_FAILED
    )
    empty = tmp_path / "empty"
    empty.mkdir()
    no_db = nss_trust(CA_DER, empty, run=failing, certutil="certutil")
    assert (no_db.trust, no_db.reason) == (Trust.UNKNOWN, TrustReason.NO_DATABASE)
    monkeypatch.setattr("agent.localtls.nss.shutil.which", lambda _name: None)
    no_tool = nss_trust(CA_DER, nssdb, run=failing)
    assert (no_tool.trust, no_tool.reason) == (Trust.UNKNOWN, TrustReason.NO_TOOL)


def test_windows_api_failure_is_said_in_both_languages() -> None:
    check = TrustCheck(
        TrustStore.WINDOWS, "CurrentUser\\Root", Trust.UNKNOWN, TrustReason.API_FAILED
    )
    assert check_text(check, "en").endswith(
        ": unknown — Windows could not read its certificate store"
    )
    assert check_text(check, "vi").endswith(
        ": không xác định — Windows không đọc được kho chứng chỉ"
    )


# --- the report: JSON, text, attention, HTML ------------------------------------------------------


def sample(**changes: object) -> StatusReport:
    report = StatusReport(
        generated_at=NOW,
        agent=AgentStatus(
            "1.2.3", "CPython 3.13.1", True, NOW - timedelta(hours=26, minutes=5), 93900, 8988, "/d"
        ),
        tls=TlsStatus(
            "/d/tls/ca.pem",
            Validity.VALID,
            NOW + timedelta(days=800),
            800,
            "AB:CD",
            (
                TrustCheck(TrustStore.SYSTEM, "/etc/ssl/x", Trust.TRUSTED, TrustReason.FOUND),
                TrustCheck(TrustStore.NSS, "/h/.pki/nssdb", Trust.UNKNOWN, TrustReason.NO_TOOL),
            ),
        ),
        modules=(
            ModuleStatus("/usr/lib/softhsm/libsofthsm2.so", True, None, "SoftHSM", 1),
            ModuleStatus("C:/vnptca_p11_v8.dll", False, "cannot load", None, 0),
        ),
        tokens=(
            TokenStatus(
                "/usr/lib/softhsm/libsofthsm2.so",
                0,
                "VNPT-CA",
                "5404",
                "VNPT",
                "eToken",
                TriesLeft.FINAL,
                False,
                True,
                False,
            ),
        ),
        certificates=(
            CertificateStatus(
                "VNPT-CA",
                "5404",
                "Nguyễn <b>An</b>",
                "UBND",
                "CN=x",
                "VNPT-CA SHA-256",
                "1f",
                START,
                NOW + timedelta(days=10),
                10,
                Validity.EXPIRING,
                "ee" * 32,
            ),
        ),
        allowed_origins=("https://portal.gov.vn", "https://*.hue.gov.vn"),
        paired_origins=(PairedStatus("https://vpdt.hue.gov.vn", NOW - timedelta(days=3)),),
        recent_errors=(f"{STAMP} ERROR x: broken",),
        audit=(
            AuditStatus(
                7,
                NOW - timedelta(minutes=5),
                "https://portal.gov.vn",
                "sign",
                ("QĐ-1.pdf", ""),
                "Nguyễn An",
                "signed",
                2,
            ),
        ),
        problems=("audit trail: locked",),
    )
    return StatusReport(**{**report.__dict__, **changes})


def test_json_round_trip_with_snake_case_keys() -> None:
    report = sample()
    data = report.to_json()
    assert data["format"] == 1
    assert data["certificates"][0]["days_left"] == 10
    assert (
        data["certificates"][0]["not_after"]
        == (NOW + timedelta(days=10)).astimezone(UTC).isoformat()
    )
    assert data["tokens"][0]["pin"] == "final"
    assert data["tls"]["trust"][1] == {
        "store": "nss",
        "location": "/h/.pki/nssdb",
        "trust": "unknown",
        "reason": "no-tool",
    }
    assert StatusReport.from_json(data) == report


@pytest.mark.parametrize(
    "broken",
    [None, [], {"format": 99}, {"format": 1}, {**sample().to_json(), "tokens": "x"}],
)
def test_from_json_refuses_what_is_not_a_report(broken: object) -> None:
    with pytest.raises(ValueError, match="status report"):
        StatusReport.from_json(broken)


def test_text_report_in_both_languages() -> None:
    vi = sample().to_text()
    assert "Trạng thái: đang chạy trên cổng 8988" in vi
    assert "(đã chạy 1 ngày 2 giờ 5 phút)" in vi
    assert "Nguyễn <b>An</b> (UBND) — cấp bởi VNPT-CA SHA-256 — trên token VNPT-CA" in vi
    assert "còn 10 ngày — SẮP HẾT HẠN" in vi
    assert "PIN: CÒN 1 LẦN THỬ" in vi
    assert "Chrome/Chromium (/h/.pki/nssdb): không xác định — thiếu công cụ certutil" in vi
    assert "C:/vnptca_p11_v8.dll: LỖI, không nạp được — cannot load" in vi
    assert (
        "https://portal.gov.vn ký: signed, 2 chữ ký, chứng thư Nguyễn An [QĐ-1.pdf, (không tên)]"
        in vi
    )
    assert "Trang web đã ghép đôi (người dùng chấp thuận): https://vpdt.hue.gov.vn" in vi
    assert "  audit trail: locked" in vi
    en = sample().to_text("en")
    assert "State: running on port 8988" in en and "10 days left — EXPIRING" in en
    assert "NEEDS ATTENTION:" in en and "Token VNPT-CA has one PIN try left." in en
    stopped = sample(
        agent=AgentStatus("1.2.3", "CPython 3.13.1", False, None, None, None, "/d")
    ).to_text("en")
    assert "Kyso Agent is NOT running" in stopped


def test_attention_lists_what_needs_action() -> None:
    keys = [key for key, _ in sample().attention()]
    assert keys == [
        "status_attention_module_failed",
        "status_attention_pin_final",
        "status_attention_cert_expiring",
    ]
    untrusted = TrustCheck(TrustStore.NSS, "x", Trust.NOT_TRUSTED, TrustReason.NOT_FOUND)
    tls = TlsStatus("/d/tls/ca.pem", Validity.VALID, NOW, 800, "AB", (untrusted,))
    bare = sample(modules=(), tokens=(), certificates=(), tls=tls)
    assert [k for k, _ in bare.attention()] == [
        "status_attention_no_module",
        "status_attention_ca_untrusted",
    ]


def test_html_escapes_everything_and_has_no_script() -> None:
    page = render_html(sample(), Lang.VI)
    assert "<b>An</b>" not in page
    assert "Nguyễn &lt;b&gt;An&lt;/b&gt;" in page
    assert "<script" not in page and "<iframe" not in page
    assert '<html lang="vi">' in page


@pytest.mark.parametrize(
    ("path", "headers", "refused"),
    [
        (PAGE_PATH, {}, False),  # a tool, or an old browser
        (PAGE_PATH, {"sec-fetch-dest": "document", "sec-fetch-mode": "navigate"}, False),
        (
            PAGE_PATH,
            {
                "sec-fetch-dest": "document",
                "sec-fetch-site": "cross-site",
                "sec-fetch-mode": "navigate",
            },
            False,
        ),  # a link from elsewhere: a new page
        (PAGE_PATH, {"sec-fetch-dest": "iframe"}, True),
        (PAGE_PATH, {"sec-fetch-dest": "object"}, True),
        (PAGE_PATH, {"sec-fetch-mode": "cors"}, True),
        (PAGE_PATH, {"origin": "null"}, True),
        ("/status.json", {}, False),  # the command line and the tray
        ("/status.json", {"sec-fetch-site": "none", "sec-fetch-dest": "document"}, False),
        ("/status.json", {"sec-fetch-site": "same-origin", "sec-fetch-dest": "empty"}, False),
        ("/status.json", {"sec-fetch-site": "cross-site"}, True),
        ("/status.json", {"sec-fetch-site": "same-site"}, True),
        ("/status.json", {"sec-fetch-site": "none", "sec-fetch-dest": "iframe"}, True),
        ("/status.json", {"origin": "https://portal.gov.vn"}, True),
    ],
)
def test_who_may_see_the_report(path: str, headers: dict[str, str], refused: bool) -> None:
    assert (refusal(path, headers) is not None) is refused


def test_every_state_the_text_names_has_a_message() -> None:
    wanted = (
        [f"status_cert_{v.value.replace('-', '_')}" for v in Validity if v is not Validity.MISSING]
        + [f"status_trust_{t.value.replace('-', '_')}" for t in Trust]
        + [f"status_store_{s.value}" for s in TrustStore]
        + [f"status_pin_{p.value}" for p in TriesLeft]
        + [
            f"status_reason_{r.value.replace('-', '_')}"
            for r in TrustReason
            if r not in (TrustReason.FOUND, TrustReason.NOT_FOUND)
        ]
    )
    assert set(wanted) <= keys()
