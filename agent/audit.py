"""The audit trail: one row for every request that reached the consent step.

Why append-only: the trail answers "what did this agent sign, for whom, and
when?" after the fact — for the user who finds a contract they do not remember
signing, and for whoever investigates a compromised portal. A trail that the
agent itself can rewrite answers nothing, so no code path here updates or
deletes a row, and the database refuses to: triggers abort every ``UPDATE``,
every ``DELETE`` and every ``INSERT`` that would reuse an id (``INSERT OR
REPLACE`` and upserts), and ``AUTOINCREMENT`` never hands out an id twice.
These guard against bugs and careless tools, not against an attacker who can
write the file: such a person can drop the triggers. The file is private to the
user (``0o600`` in a ``0o700`` directory).

Durability: the database runs in WAL mode with ``synchronous=FULL`` and
:meth:`AuditLog.record` commits before it returns, so a signature the agent
handed to a client is on disk even if the agent is killed (``kill -9``) or the
machine loses power a moment later.

What is recorded: the time (UTC), the web origin, the action
(``select-certificate`` or ``sign``), each document's name (as the portal gave
it) with its digest and hash algorithm, the certificate's serial number,
subject and SHA-256 fingerprint when one was chosen, the outcome (``signed``,
``certificate-given`` or an :class:`~agent.errors.ErrorCode` value), how many
signatures were made, and whether this was the origin's first use (pairing).

What is not recorded: any PIN (there is no field that could hold one), the
signatures themselves, document contents, or requests refused before the user
was asked (bad requests, disallowed origins or hosts).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import logging
import os
import sqlite3
import threading
import unicodedata
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Protocol

from agent.errors import AgentError, ErrorCode

if TYPE_CHECKING:
    from agent.consent.prompter import DocumentView, PromptAction
    from agent.origin import Admitted
    from agent.token import TokenCertificate

log = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 2
"""Stored in ``PRAGMA user_version``; bumped with every schema change."""

OUTCOME_SIGNED: Final = "signed"
"""Outcome of a sign request that returned signatures."""
OUTCOME_CERTIFICATE_GIVEN: Final = "certificate-given"
"""Outcome of a select-certificate request that returned a certificate."""
OUTCOME_ABANDONED: Final = "abandoned"
"""Outcome of a request that ended without an answer after it reached the user (its question,
or the wait for the token): its page went away (the connection was lost), or the agent stopped,
before the answer was sent."""

_SCHEMA: Final = (
    """CREATE TABLE entries (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time TEXT NOT NULL,
        origin TEXT NOT NULL,
        action TEXT NOT NULL,
        documents TEXT NOT NULL,
        certificate_serial TEXT,
        certificate_subject TEXT,
        certificate_sha256 TEXT,
        outcome TEXT NOT NULL,
        signatures INTEGER NOT NULL,
        first_use INTEGER NOT NULL,
        checks TEXT
    )""",
    """CREATE TRIGGER entries_no_update BEFORE UPDATE ON entries
    BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END""",
    """CREATE TRIGGER entries_no_delete BEFORE DELETE ON entries
    BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END""",
    # REPLACE deletes the old row without firing the delete trigger (unless the
    # writing connection turned recursive_triggers on): refuse a reused id up front.
    """CREATE TRIGGER entries_no_replace BEFORE INSERT ON entries
    WHEN NEW.id IS NOT NULL AND EXISTS (SELECT 1 FROM entries WHERE id = NEW.id)
    BEGIN SELECT RAISE(ABORT, 'audit trail is append-only'); END""",
    f"PRAGMA user_version = {SCHEMA_VERSION}",
)

_INSERT: Final = (
    "INSERT INTO entries (time, origin, action, documents, certificate_serial,"
    " certificate_subject, certificate_sha256, outcome, signatures, first_use, checks)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT: Final = (
    "SELECT id, time, origin, action, documents, certificate_serial, certificate_subject,"
    " certificate_sha256, outcome, signatures, first_use, checks"
    " FROM entries WHERE id > ? ORDER BY id DESC LIMIT ?"
)


class AuditError(Exception):
    """The audit log cannot be opened, read or written. The message names the file."""


class AuditedDocument(Protocol):
    """What the trail keeps of one document: the prompt's own view of it is recorded as is
    (a batch has a thousand), and :class:`AuditDocument` is what reading gives back."""

    @property
    def name(self) -> str | None:
        """Name given by the portal, or ``None``."""

    @property
    def digest(self) -> bytes:
        """The digest that was (to be) signed."""

    @property
    def algorithm(self) -> str:
        """Its hash algorithm's name (a :class:`~agent.algorithms.HashAlgorithm` is one)."""

    @property
    def source(self) -> str | None:
        """Origin the document was fetched from, when not the asking page's."""

    @property
    def destination(self) -> str | None:
        """Origin the signed document was sent to, when not the asking page's."""


@dataclass(frozen=True)
class AuditDocument:
    """One document of a sign request, as the user was shown it."""

    name: str | None
    """Name given by the portal, or ``None``."""
    digest: bytes
    """The digest that was (to be) signed."""
    algorithm: str
    """Its hash algorithm (an :class:`~agent.algorithms.HashAlgorithm` value, e.g. ``SHA-256``)."""
    source: str | None = None
    """Origin the document was fetched from, when not the asking page's."""
    destination: str | None = None
    """Origin the signed document was sent to, when not the asking page's."""


@dataclass(frozen=True)
class AuditEntry:
    """One request that reached the consent step, and how it ended."""

    time: datetime
    """When the request ended; timezone-aware (stored as UTC ISO-8601)."""
    origin: str
    """The normalised web origin that asked."""
    action: str
    """``select-certificate`` or ``sign`` (the :class:`~agent.consent.prompter.PromptAction`
    values)."""
    documents: tuple[AuditedDocument, ...]
    """What was to be signed, in request order; empty for ``select-certificate``."""
    certificate_serial: str | None
    """Serial number of the certificate used or given, lowercase hex without separators
    (``format(cert.serial_number, "x")``); ``None`` when none was chosen."""
    certificate_subject: str | None
    """Its subject distinguished name, RFC 4514; ``None`` when none was chosen."""
    certificate_sha256: str | None
    """Its SHA-256 fingerprint, lowercase hex; ``None`` when none was chosen."""
    outcome: str
    """``signed``, ``certificate-given``, the :class:`~agent.errors.ErrorCode` value of the
    error the request ended with (``USER_CANCELLED``, ``PIN_LOCKED`` …), or
    :data:`OUTCOME_ABANDONED`."""
    signatures: int
    """How many signatures were returned to the client."""
    first_use: bool
    """The origin was not paired yet: this question was also the pairing question."""
    checks: str | None = None
    """What was checked about the certificate before signing (validity, revocation: method,
    source and answer), and the time-stamping authority the signature's digest went to."""
    id: int | None = None
    """Row id, increasing with time; ``None`` until the entry is recorded."""

    def __post_init__(self) -> None:
        if self.time.tzinfo is None or self.time.utcoffset() is None:
            raise ValueError("AuditEntry.time must be timezone-aware")
        if self.signatures < 0:
            raise ValueError("AuditEntry.signatures must not be negative")


class RequestAudit:
    """Collects, while a request runs, what it showed the user and how it ended; its
    :meth:`entry` is the row the trail keeps (:class:`~agent.service.SigningService`'s)."""

    def __init__(self, caller: Admitted, action: PromptAction, documents: tuple[DocumentView, ...]):
        self.caller = caller
        self.action = action
        self.documents = documents
        self.certificate: TokenCertificate | None = None
        self.first_use = False
        self.signatures = 0
        self.checks: str | None = None
        self.time_stamp: str | None = None

    def entry(self, outcome: str) -> AuditEntry:
        """The trail's row for this request, ended with ``outcome``."""
        cert = self.certificate
        checks = self.checks
        if self.time_stamp:
            # The time-stamping authority is configured, not chosen by the page; recording it
            # still says which server learned the signature's digest and when.
            checks = (
                f"{checks}; time stamp from {self.time_stamp}"
                if checks
                else (f"time stamp from {self.time_stamp}")
            )
        return AuditEntry(
            time=datetime.now(UTC),
            origin=str(self.caller),
            action=self.action.value,
            documents=self.documents,
            certificate_serial=format(cert.x509.serial_number, "x") if cert else None,
            certificate_subject=cert.subject if cert else None,
            certificate_sha256=cert.fingerprint if cert else None,
            outcome=outcome,
            signatures=self.signatures,
            first_use=self.first_use,
            checks=checks,
        )


def outcome_of(error: BaseException) -> str:
    """The outcome string for a request that ended with ``error``."""
    if isinstance(error, AgentError):
        return error.code.value
    return ErrorCode.INTERNAL.value


def _iso(time: datetime) -> str:
    return time.astimezone(UTC).isoformat(timespec="microseconds")


def _documents_to_json(documents: Sequence[AuditedDocument]) -> list[dict[str, Any]]:
    return [json.loads(_document_json(d)) for d in documents]


@functools.lru_cache(maxsize=16)
def _json_text(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def documents_column(documents: Sequence[AuditedDocument]) -> str:
    """``json.dumps(_documents_to_json(documents))``, written directly: a batch's row holds a
    thousand of them, and the row is written before the signatures are returned."""
    return "[" + ", ".join(map(_document_json, documents)) + "]"


def _document_json(d: AuditedDocument) -> str:
    text = '{"name": %s, "digest": "%s", "algorithm": %s' % (  # noqa: UP031 - the fastest here
        "null" if d.name is None else json.dumps(d.name, ensure_ascii=False),
        d.digest.hex(),
        _json_text(str(d.algorithm)),
    )
    # Where the agent fetched the document and sent it, when not the asking page.
    if d.source is not None:
        text += ', "from": ' + json.dumps(d.source)
    if d.destination is not None:
        text += ', "to": ' + json.dumps(d.destination)
    return text + "}"


def entry_to_json(entry: AuditEntry) -> dict[str, Any]:
    """The entry as a JSON object (``kyso-agent audit --json``).

    Keys are the field names; digests are hex, the time ISO-8601 UTC.
    """
    return {
        "id": entry.id,
        "time": _iso(entry.time),
        "origin": entry.origin,
        "action": str(entry.action),
        "documents": _documents_to_json(entry.documents),
        "certificate_serial": entry.certificate_serial,
        "certificate_subject": entry.certificate_subject,
        "certificate_sha256": entry.certificate_sha256,
        "outcome": entry.outcome,
        "signatures": entry.signatures,
        "first_use": entry.first_use,
        "checks": entry.checks,
    }


class AuditLog:
    """The append-only audit trail in one SQLite file.

    The connection is shared between threads (``check_same_thread=False``) and
    every use of it holds one lock. :meth:`submit` writes on a dedicated
    single-thread executor so that the event loop never waits for the disk.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._closing = False  # no new submit; queued ones are still written
        self._closed = False
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            if not path.exists():
                # SQLite gives the -wal and -shm files the mode of the main file.
                os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        except OSError as exc:
            raise AuditError(f"cannot create the audit log {path}: {exc}") from exc
        try:
            self._conn = sqlite3.connect(
                path, timeout=10.0, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise AuditError(f"cannot open the audit log {path}: {exc}") from exc
        try:
            self._prepare()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            if exc.sqlite_errorname in {"SQLITE_NOTADB", "SQLITE_CORRUPT"}:
                raise AuditError(
                    f"the audit log {path} is damaged or not a SQLite database ({exc}); "
                    "move it aside to start a new one"
                ) from exc
            raise AuditError(f"cannot open the audit log {path}: {exc}") from exc
        except AuditError:
            self._conn.close()
            raise
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="kyso-audit"
        )

    def _prepare(self) -> None:
        conn = self._conn
        # Reading the header first turns "not a database" into an error here.
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            log.warning("audit log %s: WAL mode unavailable, using %s", self.path, mode)
        conn.execute("PRAGMA synchronous=FULL")
        if version == SCHEMA_VERSION:
            return
        if version == 1:
            # Version 2 added what was checked before signing.
            conn.execute("ALTER TABLE entries ADD COLUMN checks TEXT")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            return
        if version > SCHEMA_VERSION:
            raise AuditError(
                f"the audit log {self.path} has schema version {version}, written by a newer "
                f"Kyso Agent; this version reads up to {SCHEMA_VERSION}"
            )
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._create_schema()
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _create_schema(self) -> None:
        """Create the tables in an empty file, inside the caller's write transaction."""
        conn = self._conn
        # Another process may have created the schema while we waited for the lock.
        if conn.execute("PRAGMA user_version").fetchone()[0] != 0:
            return
        tables = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ).fetchall()
        if tables:
            raise AuditError(f"{self.path} is a SQLite database but not a Kyso Agent audit log")
        for statement in _SCHEMA:
            conn.execute(statement)

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise AuditError(f"the audit log {self.path} is closed")

    def record(self, entry: AuditEntry) -> int:
        """Append ``entry`` (its ``id`` is ignored) and return its new id.

        The row is committed, and with ``synchronous=FULL`` on disk, when this returns.
        """
        row = (
            _iso(entry.time),
            entry.origin,
            str(entry.action),
            documents_column(entry.documents),
            entry.certificate_serial,
            entry.certificate_subject,
            entry.certificate_sha256,
            entry.outcome,
            entry.signatures,
            int(entry.first_use),
            entry.checks,
        )
        with self._lock:
            self._check_open()
            try:
                # Autocommit mode: this one statement is its own committed transaction.
                cursor = self._conn.execute(_INSERT, row)
            except sqlite3.Error as exc:
                raise AuditError(f"cannot write to the audit log {self.path}: {exc}") from exc
        entry_id = cursor.lastrowid
        if entry_id is None:  # pragma: no cover - an INSERT always sets it
            raise AuditError(f"the audit log {self.path} returned no id")
        return entry_id

    def submit(self, entry: AuditEntry) -> Coroutine[Any, Any, int]:
        """Start :meth:`record` on the audit thread now; await the result to know the row is
        committed (the caller may do other work in between).

        Once submitted, the entry is written even if the awaiting task is cancelled, and
        :meth:`close` waits for it.
        """
        if self._closing:
            raise AuditError(f"the audit log {self.path} is closed")
        loop = asyncio.get_running_loop()
        return _committed(loop.run_in_executor(self._executor, self.record, entry))

    def record_later(self, entry: AuditEntry) -> None:
        """Start :meth:`record` on the audit thread and return, for a request that was
        cancelled and waits for nothing more; a failed write is logged, and :meth:`close`
        still waits for it. A log already closing takes no more entries (logged)."""
        if self._closing:
            log.error("audit entry of a cancelled request was not written: the log is closing")
            return
        loop = asyncio.get_running_loop()
        loop.run_in_executor(self._executor, self.record, entry).add_done_callback(
            _log_late_failure
        )

    def entries(self, limit: int | None = None, since_id: int = 0) -> list[AuditEntry]:
        """Entries with an id above ``since_id``, oldest first, newest last.

        With ``limit``, only the newest ``limit`` of them (like ``tail -n``).
        """
        if limit is not None and limit < 0:
            raise ValueError("limit must not be negative")
        with self._lock:
            self._check_open()
            try:
                rows = self._conn.execute(
                    _SELECT, (since_id, -1 if limit is None else limit)
                ).fetchall()
            except sqlite3.Error as exc:
                raise AuditError(f"cannot read the audit log {self.path}: {exc}") from exc
        try:
            return [_entry_from_row(row) for row in reversed(rows)]
        except (ValueError, TypeError, KeyError) as exc:
            raise AuditError(f"the audit log {self.path} holds a malformed entry: {exc}") from exc

    def close(self) -> None:
        """Write the entries still queued by :meth:`submit`, then close the file.

        Safe to call twice.
        """
        with self._lock:
            if self._closing:
                return
            self._closing = True
        self._executor.shutdown(wait=True)
        with self._lock:
            self._closed = True
            self._conn.close()


async def _committed(inner: asyncio.Future[int]) -> int:
    try:
        return await asyncio.shield(inner)
    except asyncio.CancelledError:
        inner.add_done_callback(_log_late_failure)
        raise


def _log_late_failure(future: asyncio.Future[int]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.error("audit entry of a cancelled request was not written: %s", future.exception())


def _entry_from_row(row: tuple[Any, ...]) -> AuditEntry:
    (
        entry_id,
        time,
        origin,
        action,
        documents,
        serial,
        subject,
        sha256,
        outcome,
        signatures,
        first_use,
        checks,
    ) = row
    return AuditEntry(
        time=datetime.fromisoformat(time),
        origin=origin,
        action=action,
        documents=tuple(
            AuditDocument(
                d["name"], bytes.fromhex(d["digest"]), d["algorithm"], d.get("from"), d.get("to")
            )
            for d in json.loads(documents)
        ),
        certificate_serial=serial,
        certificate_subject=subject,
        certificate_sha256=sha256,
        outcome=outcome,
        signatures=signatures,
        first_use=bool(first_use),
        checks=checks,
        id=entry_id,
    )


# Column widths of format_entries: id, time, origin, action, outcome, documents, CN.
_WIDTHS: Final = (6, 19, 30, 18, 17, 30, 28)


def _printable(value: str) -> str:
    """``value`` safe for one terminal line: names come from portals and certificates, so
    control and format characters (newlines, escapes, bidi overrides) are replaced."""
    value = unicodedata.normalize("NFC", value)
    return "".join("?" if unicodedata.category(c).startswith("C") else c for c in value)


def _cell(value: str, width: int) -> str:
    value = _printable(value)
    if len(value) > width:
        value = value[: width - 1] + "…"
    return value.ljust(width)


def _common_name(subject: str | None) -> str:
    if subject is None:
        return "-"
    from cryptography import x509  # not at start-up: the audit log opens with every agent
    from cryptography.x509.oid import NameOID

    try:
        names = x509.Name.from_rfc4514_string(subject).get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError:
        return subject
    if not names:
        return subject
    value = names[0].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _documents_cell(documents: Sequence[AuditedDocument]) -> str:
    if not documents:
        return "-"
    first = documents[0].name or documents[0].digest.hex()[:16]
    return f"{len(documents)}: {first}"


def format_entries(entries: Sequence[AuditEntry], header: Sequence[str] | None = None) -> str:
    """A table for ``kyso-agent audit``: one line per entry, under 160 characters,
    each ending with a newline (empty text when there is nothing to show).

    Columns: id, local time, origin, action, outcome, number of documents with the
    first name, certificate subject CN. ``header`` gives the seven column titles
    (from the message catalogue); without it no title line is printed.
    """
    lines: list[str] = []
    if header is not None:
        if len(header) != len(_WIDTHS):
            raise ValueError(f"header needs {len(_WIDTHS)} titles")
        titles = [_cell(h, w) for h, w in zip(header, _WIDTHS, strict=True)]
        titles[0] = titles[0].strip().rjust(_WIDTHS[0])
        lines.append("  ".join(titles).rstrip())
    for entry in entries:
        cells = (
            str(entry.id if entry.id is not None else "-").rjust(_WIDTHS[0]),
            entry.time.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
            _cell(entry.origin, _WIDTHS[2]),
            _cell(str(entry.action), _WIDTHS[3]),
            _cell(entry.outcome, _WIDTHS[4]),
            _cell(_documents_cell(entry.documents), _WIDTHS[5]),
            _cell(_common_name(entry.certificate_subject), _WIDTHS[6]),
        )
        lines.append("  ".join(cells).rstrip())
    return "".join(line + "\n" for line in lines)
