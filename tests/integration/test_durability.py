"""What a signature leaves behind survives ``kill -9`` at any moment.

The real agent signs for a few concurrent clients (single digests and batches) and is
killed with SIGKILL at a random moment, again and again on the same data directory. Every
signature a client received must be in the audit trail (the agent writes the row before it
answers), verify with ``cryptography``, and the database must stay sound; the restarted
agent must serve. Signed files waiting for their VGCA upload are written whole or not at
all, and what a crash left half-written is removed at the next start.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.audit import OUTCOME_SIGNED, AuditEntry, AuditLog
from agent.compat.vgca.transfer import keep_signed
from agent.files import PARTIAL_SUFFIX, discard_partial
from agent.testing.softhsm import KeySpec, SoftHsm, TestCa, TokenSpec, new_token
from tests.conftest import PIN, PORTAL, AgentProcess, start_agent
from tests.verify import b64, verify_with_cryptography

pytestmark = pytest.mark.integration

ROUNDS = 15
CLIENTS = 3  # one prompt on screen and at most 4 waiting per origin: none is refused BUSY
APPROVE = {"approved": True, "pin": PIN}


@dataclass(frozen=True)
class Keys:
    hsm: SoftHsm
    rsa: bytes
    ec: bytes


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    """A token of its own: a token file written while the agent dies must not spoil the
    session's token for the other tests."""
    root = tmp_path_factory.mktemp("durability-hsm")
    hsm, made = new_token(
        root,
        TokenSpec(
            "KYSO-DUR",
            PIN,
            keys=(KeySpec("01", "RSA", "Nguyễn Văn An"), KeySpec("02", "EC", "Trần Thị Bình")),
        ),
        TestCa.create("Kyso Durability CA"),
    )
    der = {m.key_id: m.certificate.public_bytes(serialization.Encoding.DER) for m in made}
    return Keys(hsm, der["01"], der["02"])


@dataclass(frozen=True)
class Returned:
    """A signing response a client received in full."""

    path: str
    documents: tuple[tuple[str, str, str], ...]
    """(name, digest hex, hash algorithm) of each item, in request order."""
    certificate: bytes
    signatures: tuple[bytes, ...]


@dataclass
class Tally:
    returned: list[Returned]
    cut_off: int = 0
    """Requests that were under way when the agent died."""
    lock: threading.Lock = field(default_factory=threading.Lock)


def client(agent: AgentProcess, keys: Keys, name: str, seed: int, tally: Tally) -> None:
    """Sign until the agent dies: a single digest or a batch, RSA or EC, SHA-256 or -384."""
    rng = random.Random(seed)
    for number in range(10_000):
        certificate = rng.choice([keys.rsa, keys.ec])
        algorithm = rng.choice(["SHA-256", "SHA-384"])
        size = 1 if rng.random() < 0.4 else rng.choice([2, 5, 20])
        length = 32 if algorithm == "SHA-256" else 48
        documents = tuple(
            (f"{name}-{number}-{i}.pdf", os.urandom(length).hex(), algorithm) for i in range(size)
        )
        items = [
            {"hash": b64(bytes.fromhex(d)), "hashAlgorithm": a, "documentName": n}
            for n, d, a in documents
        ]
        if size == 1 and rng.random() < 0.5:
            path, body = "/v1/sign", {**items[0], "certificate": b64(certificate)}
        else:
            path, body = "/v1/sign/batch", {"items": items, "certificate": b64(certificate)}
        try:
            response = agent.post(path, body, origin=PORTAL)
        except (OSError, http.client.HTTPException):
            with tally.lock:
                tally.cut_off += 1
            return
        if response.status != 200:
            continue  # refused or cancelled: nothing was returned, nothing to check
        answer = response.json
        signatures = answer["signatures"] if path.endswith("batch") else [answer["signature"]]
        returned = Returned(
            path,
            documents,
            base64.b64decode(answer["certificate"]),
            tuple(base64.b64decode(s) for s in signatures),
        )
        with tally.lock:
            tally.returned.append(returned)


def integrity(database: Path) -> list[str]:
    """``PRAGMA integrity_check`` of the file as the crash left it (the WAL is replayed)."""
    connection = sqlite3.connect(database)
    try:
        return [row[0] for row in connection.execute("PRAGMA integrity_check")]
    finally:
        connection.close()


def start(root: Path, keys: Keys) -> AgentProcess:
    # SoftHSM rewrites its token file in place at every login (no temporary file, no rename),
    # so a kill -9 landing in that write can leave SoftHSM's own token unreadable; a USB token
    # keeps no such file on the computer. What is under test is the agent's data: each start
    # gets the token as provisioned.
    pristine = keys.hsm.root / "pristine"
    if not pristine.exists():
        shutil.copytree(keys.hsm.token_dir, pristine)
    shutil.rmtree(keys.hsm.token_dir)
    shutil.copytree(pristine, keys.hsm.token_dir)
    agent = start_agent(root, keys.hsm, "--prompt-timeout", "30")
    agent.script(*[APPROVE] * 2000)
    return agent


def test_every_signature_handed_out_before_kill_9_is_audited_and_the_trail_stays_sound(
    keys: Keys, tmp_path: Path
) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    root = tmp_path / "agent"
    tally = Tally([])
    audit_file = root / "data" / "audit.sqlite3"
    for round_ in range(ROUNDS):
        agent = start(root, keys)  # every round after the first is a restart after kill -9
        clients = [
            threading.Thread(
                target=client,
                args=(agent, keys, f"r{round_}c{i}", rng.getrandbits(32), tally),
                daemon=True,
            )
            for i in range(CLIENTS)
        ]
        for thread in clients:
            thread.start()
        time.sleep(rng.uniform(0.3, 3.0))
        agent.process.send_signal(signal.SIGKILL)
        agent.process.wait(10)
        for thread in clients:
            thread.join(60)
        agent.stop()
        assert not any(t.is_alive() for t in clients)
        assert integrity(audit_file) == ["ok"], f"round {round_}, seed {seed}"

    assert tally.returned, f"no signature came back in {ROUNDS} rounds (seed {seed})"
    assert tally.cut_off, f"no kill landed while a request was under way (seed {seed})"

    final = start(root, keys)
    try:
        assert final.request("GET", "/v1/info").status == 200
        last = final.post(
            "/v1/sign",
            {"hash": b64(hashlib.sha256(b"after").digest()), "hashAlgorithm": "SHA-256"},
        )
        assert last.status == 200, (last.body, final.log_text()[-3000:])
    finally:
        final.stop()
    with AuditLog(audit_file) as audit:
        entries = audit.entries()

    by_documents: dict[tuple[tuple[str, str, str], ...], list[AuditEntry]] = {}
    for entry in entries:
        key = tuple((d.name or "", d.digest.hex(), d.algorithm) for d in entry.documents)
        by_documents.setdefault(key, []).append(entry)
    for returned in tally.returned:
        shown = f"{returned.path} {returned.documents[0][0]} (seed {seed})"
        found = by_documents.get(returned.documents, [])
        assert [e.outcome for e in found] == [OUTCOME_SIGNED], f"not audited: {shown}"
        [entry] = found
        assert entry.origin == PORTAL
        assert entry.signatures == len(returned.signatures) == len(returned.documents)
        cert = x509.load_der_x509_certificate(returned.certificate)
        assert entry.certificate_sha256 == hashlib.sha256(returned.certificate).hexdigest()
        assert entry.certificate_serial == format(cert.serial_number, "x")
        assert returned.certificate in (keys.rsa, keys.ec)
        for (_name, digest, algorithm), signature in zip(
            returned.documents, returned.signatures, strict=True
        ):
            verify_with_cryptography(
                returned.certificate, signature, bytes.fromhex(digest), algorithm
            )
    # The trail also holds what was signed but never reached a client (killed in between),
    # never the reverse.
    assert sum(e.outcome == OUTCOME_SIGNED for e in entries) >= len(tally.returned) + 1


# --- VGCA signed files waiting for their upload ------------------------------------------------

SIZE = 16 << 20
_WRITER = """
import sys
from pathlib import Path
from agent.compat.vgca.transfer import keep_signed

directory = Path(sys.argv[1])
for index in range(1000):
    data = (b"%%PDF-1.7 %d\\n" % index).ljust({size}, b"k")
    print(index, flush=True)
    keep_signed(directory, data, f"doc-{{index}}.pdf")
"""


def expected(index: int) -> bytes:
    return (b"%%PDF-1.7 %d\n" % index).ljust(SIZE, b"k")


def finished(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if not p.name.startswith("."))


def partial(directory: Path) -> list[Path]:
    return sorted(directory.glob(f".*{PARTIAL_SUFFIX}"))


@pytest.fixture
def writer() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def test_kill_9_while_a_signed_file_is_written_never_leaves_a_half_file_under_its_name(
    tmp_path: Path, writer: list[subprocess.Popen[str]]
) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    directory = tmp_path / "pending"
    caught_writing = 0
    for _ in range(8):
        process = subprocess.Popen(
            [sys.executable, "-c", _WRITER.format(size=SIZE), str(directory)],
            stdout=subprocess.PIPE,
            text=True,
        )
        writer.append(process)
        assert process.stdout is not None
        target = rng.randint(0, 2)
        while int(process.stdout.readline()) < target:
            pass
        time.sleep(rng.uniform(0, 0.02))  # inside the write or its fsync, most of the time
        process.kill()
        process.wait(10)
        caught_writing += len(partial(directory)) > 0
        for path in finished(directory):
            index = int(path.name.rsplit("-", 1)[1].removesuffix(".pdf"))
            assert path.read_bytes() == expected(index), f"{path.name} is not whole (seed {seed})"
            assert path.stat().st_mode & 0o777 == 0o600
        discard_partial(directory)
        assert partial(directory) == []
    # Without this the test proves nothing: some kill must have caught a file half-written.
    assert caught_writing, f"no kill landed during a write (seed {seed})"


def test_the_next_start_removes_a_half_written_file_and_keeps_the_complete_ones(
    keys: Keys, tmp_path: Path
) -> None:
    root = tmp_path / "agent"
    pending = root / "data" / "vgca" / "pending"
    complete = keep_signed(pending, b"%PDF-1.7 whole", "quyet-dinh.pdf")
    left = pending / f".20250101T000000000000Z-abcdef-cong-van.pdf{PARTIAL_SUFFIX}"
    left.write_bytes(b"%PDF-1.7 half")
    agent = start_agent(root, keys.hsm, vgca=True)
    try:
        assert not left.exists()
        assert finished(pending) == [complete]
        assert complete.read_bytes() == b"%PDF-1.7 whole"
        assert f"removed {left}, left unfinished by a crash" in agent.log_text()
    finally:
        agent.stop()
