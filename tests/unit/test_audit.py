"""The audit trail: append-only, durable, readable back (fast tests on a temporary file)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from agent.algorithms import HashAlgorithm
from agent.audit import (
    OUTCOME_ABANDONED,
    OUTCOME_CERTIFICATE_GIVEN,
    OUTCOME_SIGNED,
    SCHEMA_VERSION,
    AuditDocument,
    AuditEntry,
    AuditError,
    AuditLog,
    documents_column,
    entry_to_json,
    format_entries,
    outcome_of,
)
from agent.errors import ConsentTimeout, PinLocked, UserCancelled

REPO = Path(__file__).resolve().parents[2]
SUBJECT = "CN=Nguyễn Văn An,O=Sở Tài chính tỉnh Hà Giang,C=VN"
T0 = datetime(2025, 3, 1, 8, 30, 0, 123456, tzinfo=UTC)


def _entry(n: int = 0, **changes: Any) -> AuditEntry:
    name = f"Hợp đồng mua bán số {n}/2025 - bản chính.pdf"
    entry = AuditEntry(
        time=T0 + timedelta(seconds=n),
        origin="https://dichvucong.tinh.gov.vn",
        action="sign",
        documents=(
            AuditDocument(name, hashlib.sha256(name.encode()).digest(), HashAlgorithm.SHA256),
            AuditDocument(None, hashlib.sha384(b"x").digest(), "SHA-384"),
        ),
        certificate_serial="54010203abcdef",
        certificate_subject=SUBJECT,
        certificate_sha256=hashlib.sha256(b"cert").hexdigest(),
        outcome=OUTCOME_SIGNED,
        signatures=2,
        first_use=n == 0,
    )
    return dataclasses.replace(entry, **changes)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "data" / "audit.sqlite3"


@pytest.fixture
def audit(db: Path) -> Iterator[AuditLog]:
    with AuditLog(db) as log:
        yield log


def test_round_trip_keeps_every_field_including_vietnamese_names(audit: AuditLog) -> None:
    entry = _entry()
    entry_id = audit.record(entry)
    [read] = audit.entries()
    assert read.id == entry_id
    assert dataclasses.replace(read, id=None) == entry
    assert read.documents[0].name == "Hợp đồng mua bán số 0/2025 - bản chính.pdf"
    assert read.time.utcoffset() == timedelta(0)


def test_time_is_stored_as_utc_iso_8601(audit: AuditLog, db: Path) -> None:
    plus7 = timezone(timedelta(hours=7))
    audit.record(_entry(time=datetime(2025, 3, 1, 15, 30, tzinfo=plus7)))
    with sqlite3.connect(db) as raw:
        [(stored,)] = raw.execute("SELECT time FROM entries").fetchall()
    assert stored == "2025-03-01T08:30:00.000000+00:00"


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _entry(time=datetime(2025, 3, 1, 8, 30))


def test_select_certificate_and_failures_are_recorded(audit: AuditLog) -> None:
    audit.record(_entry(action="select-certificate", documents=(), outcome="certificate-given"))
    audit.record(
        _entry(
            outcome=outcome_of(UserCancelled("no")),
            signatures=0,
            certificate_serial=None,
            certificate_subject=None,
            certificate_sha256=None,
        )
    )
    assert [(e.action, e.outcome, e.signatures) for e in audit.entries()] == [
        ("select-certificate", OUTCOME_CERTIFICATE_GIVEN, 2),
        ("sign", "USER_CANCELLED", 0),
    ]


def test_outcome_of_uses_the_stable_error_code() -> None:
    assert outcome_of(ConsentTimeout()) == "CONSENT_TIMEOUT"
    assert outcome_of(PinLocked()) == "PIN_LOCKED"
    assert outcome_of(RuntimeError("boom")) == "INTERNAL"


def test_entries_are_oldest_first_with_tail_limit_and_since_id(audit: AuditLog) -> None:
    ids = [audit.record(_entry(n)) for n in range(6)]
    assert ids == sorted(ids)
    assert [e.id for e in audit.entries()] == ids
    assert [e.id for e in audit.entries(limit=2)] == ids[-2:]
    assert [e.id for e in audit.entries(since_id=ids[3])] == ids[4:]
    assert [e.id for e in audit.entries(limit=1, since_id=ids[1])] == ids[-1:]
    assert audit.entries(limit=0) == []
    assert audit.entries(since_id=ids[-1]) == []
    with pytest.raises(ValueError, match="limit"):
        audit.entries(limit=-1)


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE entries SET outcome = 'USER_CANCELLED'",
        "DELETE FROM entries",
        "INSERT OR REPLACE INTO entries SELECT * FROM entries",
        "INSERT INTO entries SELECT * FROM entries WHERE true"
        " ON CONFLICT(id) DO UPDATE SET outcome = 'x'",
    ],
)
def test_rows_cannot_be_changed_or_removed(audit: AuditLog, db: Path, statement: str) -> None:
    audit.record(_entry())
    raw = sqlite3.connect(db)
    try:
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            raw.execute(statement)
        raw.rollback()
    finally:
        raw.close()
    [read] = audit.entries()
    assert read.outcome == OUTCOME_SIGNED


def test_entries_survive_reopening(db: Path) -> None:
    with AuditLog(db) as log:
        ids = [log.record(_entry(n)) for n in range(3)]
    with AuditLog(db) as log:
        assert [e.id for e in log.entries()] == ids
        assert log.record(_entry(3)) == ids[-1] + 1


def test_wal_mode_and_schema_version_are_set(audit: AuditLog, db: Path) -> None:
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert raw.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_file_and_new_directory_are_private(audit: AuditLog, db: Path) -> None:
    audit.record(_entry())
    assert db.parent.stat().st_mode & 0o777 == 0o700
    assert db.stat().st_mode & 0o777 == 0o600
    assert Path(f"{db}-wal").stat().st_mode & 0o777 == 0o600


async def test_submit_writes_from_the_event_loop(audit: AuditLog) -> None:
    ids = await asyncio.gather(*(audit.submit(_entry(n)) for n in range(20)))
    assert sorted(ids) == [e.id for e in audit.entries()]
    assert len(set(ids)) == 20


async def test_submit_still_writes_when_the_caller_is_cancelled(db: Path) -> None:
    log = AuditLog(db)
    # One writer thread: most of these wait in its queue when they are cancelled.
    tasks = [asyncio.create_task(log.submit(_entry(n))) for n in range(50)]
    await asyncio.sleep(0)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert all(task.cancelled() for task in tasks)
    log.close()
    with AuditLog(db) as reopened:
        assert len(reopened.entries()) == 50


def test_closed_log_refuses_use(db: Path) -> None:
    log = AuditLog(db)
    log.close()
    log.close()
    with pytest.raises(AuditError, match="closed"):
        log.record(_entry())
    with pytest.raises(AuditError, match="closed"):
        log.entries()


async def test_record_later_writes_without_a_caller_waiting(
    db: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = AuditLog(db)
    log.record_later(_entry(outcome=OUTCOME_ABANDONED, signatures=0))
    log.close()  # waits for the write
    log.record_later(_entry(1))  # closing: not written, and said
    assert "log is closing" in caplog.text
    with AuditLog(db) as reopened:
        [entry] = reopened.entries()
    assert (entry.outcome, entry.signatures) == (OUTCOME_ABANDONED, 0)


async def test_submit_after_close_is_refused(db: Path) -> None:
    log = AuditLog(db)
    log.close()
    with pytest.raises(AuditError, match="closed"):
        log.submit(_entry())


def test_corrupt_file_raises_audit_error_naming_the_path(db: Path) -> None:
    db.parent.mkdir()
    db.write_bytes(b"\x00\xffnot a database at all\n" * 512)
    with pytest.raises(AuditError, match="damaged or not a SQLite database") as info:
        AuditLog(db)
    assert str(db) in str(info.value)


def test_foreign_sqlite_database_is_refused(db: Path) -> None:
    db.parent.mkdir()
    with sqlite3.connect(db) as raw:
        raw.execute("CREATE TABLE entries (x)")
    with pytest.raises(AuditError, match="not a Kyso Agent audit log"):
        AuditLog(db)


def test_newer_schema_is_refused(db: Path) -> None:
    AuditLog(db).close()
    with sqlite3.connect(db) as raw:
        raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(AuditError, match="newer"):
        AuditLog(db)


def _keys(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from _keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _keys(inner)


def test_no_field_can_hold_a_pin(audit: AuditLog) -> None:
    audit.record(_entry())
    [read] = audit.entries()
    as_json = entry_to_json(read)
    assert not [k for k in _keys(as_json) if "pin" in k.lower()]
    assert not [f.name for f in dataclasses.fields(AuditEntry) if "pin" in f.name]
    assert as_json["time"] == "2025-03-01T08:30:00.123456+00:00"
    assert as_json["documents"][0]["digest"] == read.documents[0].digest.hex()
    assert as_json["documents"][0]["algorithm"] == "SHA-256"


def test_format_entries_shows_one_short_line_per_entry(audit: AuditLog) -> None:
    audit.record(_entry())
    audit.record(
        _entry(
            1,
            action="select-certificate",
            documents=(),
            outcome=OUTCOME_CERTIFICATE_GIVEN,
            origin="https://" + "rat-dai." * 30 + "gov.vn",
        )
    )
    text = format_entries(audit.entries())
    lines = text.splitlines()
    assert len(lines) == 2
    assert text.endswith("\n")
    assert format_entries([]) == ""
    assert all(len(line) < 160 for line in lines)
    assert "Nguyễn Văn An" in lines[0]
    assert "2: Hợp đồng mua bán" in lines[0]
    assert "Sở Tài chính" not in lines[0]
    assert "certificate-given" in lines[1]
    assert "…" in lines[1]


def test_format_entries_neutralises_control_characters_in_names(audit: AuditLog) -> None:
    evil = "a.pdf\n     9  2025-01-01 00:00:00  https://fake\x1b[2J\u202etxt.exe"
    audit.record(_entry(documents=(AuditDocument(evil, b"\x00" * 32, "SHA-256"),)))
    [line] = format_entries(audit.entries()).splitlines()
    assert "\x1b" not in line
    assert "\u202e" not in line


def test_format_entries_accepts_catalogue_titles(audit: AuditLog) -> None:
    audit.record(_entry())
    titles = ("Số", "Thời gian", "Trang web", "Thao tác", "Kết quả", "Tài liệu", "Người ký")
    header, row = format_entries(audit.entries(), header=titles).splitlines()
    assert header.index("Trang web") == row.index("https://")


KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from pathlib import Path

    from agent.audit import AuditDocument, AuditEntry, AuditLog

    log = AuditLog(Path(sys.argv[1]))
    n = 0
    while True:
        entry = AuditEntry(
            time=datetime.now(UTC),
            origin="https://dichvucong.tinh.gov.vn",
            action="sign",
            documents=(AuditDocument(f"Tờ trình {n}.pdf", bytes(32), "SHA-256"),),
            certificate_serial="01",
            certificate_subject="CN=Trần Thị Bình",
            certificate_sha256="00" * 32,
            outcome="signed",
            signatures=1,
            first_use=False,
        )
        print(log.record(entry), flush=True)
        n += 1
    """
)


def test_every_reported_entry_survives_kill_9(db: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert proc.stdout is not None
    printed: list[int] = []
    try:
        while len(printed) < 5:
            line = proc.stdout.readline()
            assert line, f"writer died early: {proc.stderr.read() if proc.stderr else ''}"
            printed.append(int(line))
    finally:
        proc.kill()  # SIGKILL on POSIX: no cleanup, no final commit
        proc.wait(timeout=10)
    printed += [int(line) for line in proc.stdout.read().split()]
    if proc.stderr is not None:
        proc.stderr.close()
    proc.stdout.close()
    assert proc.returncode != 0

    with AuditLog(db) as log:
        stored = {e.id for e in log.entries()}
    assert set(printed) <= stored
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_the_documents_column_is_the_json_of_the_documents() -> None:
    documents = (
        AuditDocument(None, bytes(range(32)), "SHA-256"),
        AuditDocument('Tờ trình "số 5"\\n\u202e.pdf', b"\xff" * 48, "SHA-384"),
    )
    assert json.loads(documents_column(documents)) == [
        {"name": d.name, "digest": d.digest.hex(), "algorithm": d.algorithm} for d in documents
    ]
    assert documents_column(()) == "[]"
