"""What the agent costs on top of the token: signatures per second and per-request latency,
direct vs over HTTPS, with the performance budget of docs/performance.md.

What is measured, on a throw-away SoftHSM token (RSA-2048 and EC P-256):

1. **Direct** (the baseline): python-pkcs11 ``C_Sign`` in this process, one session logged
   in once, ``CKM_RSA_PKCS`` over a SHA-256 ``DigestInfo`` and ``CKM_ECDSA`` over the digest
   (SoftHSM has no ``CKM_ECDSA_SHA256``; the agent uses ``CKM_ECDSA`` too). Each signature is
   timed on its own.
2. **Agent**: the agent in a child process (``bench/agent_host.py``: the start-up of
   ``kyso-agent serve`` — audit log, module worker process, VGCA compatibility — with a
   prompter in the agent's process that approves at once and types the PIN), called by one
   keep-alive HTTPS client in this process: sequential ``POST /v1/sign`` (each timed), one
   1000-item ``POST /v1/sign/batch`` per key type and run, and ``GET /v1/info`` (the HTTP
   floor). Each ``/v1/sign`` does what it does for a user: inventory, question, checks, a
   login with the PIN typed for it, the signature, a logout, and the audit row committed
   (fsync) before the answer.

Direct signatures and ``/v1/sign`` requests alternate in rounds, so that other work on the
machine falls on both; the figures pool the rounds, and the spread of the per-round overheads
is printed. Likewise each batch follows a direct loop over as many digests, timed as a whole;
budget 1 is the median batch against the median loop (the per-call median rate is printed
beside it). After each batch, the rest of its **floor** is timed: what any agent must
do to answer that batch besides its signatures, each part done bare in this process — its
request in and its answer out over the agent's local TLS (``bench/transfer_host.py``), the
request's JSON decoded and the answer's encoded, the ECDSA signatures DER-encoded, and its audit
row committed (the agent's ``AuditLog``); with the login a batch needs (a direct signature with
its own login, less a bare one), these above the loop are the floor: the most budget 1 can
show on this machine, printed beside it, and what the agent adds of its own above it. Every
signature, direct or from the agent, is verified with ``cryptography`` after the timed loops;
any failed request aborts the run: the bench cannot silently measure errors.

Budgets (docs/performance.md): a 1000-hash batch at 0.9 x the direct signatures per second or
better; a single ``/v1/sign`` at most 3 ms (median) above one direct signature made as the agent
must make it (a session opened with the PIN, the key found, ``C_Sign``, logout: the PIN is
typed for each operation and never kept). The figure above a bare ``C_Sign`` on a session kept
logged in is printed beside it. Run with
``--quick`` for a smoke run of a few seconds (smaller batch, fewer rounds; the budget lines
say so).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import pkcs11
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

# The benches' shared helpers sit beside this script (a script's folder is on sys.path).
from harness import (
    AgentProcess,
    BenchError,
    Client,
    Latencies,
    budget_line,
    host_argv,
    load_average,
    machine,
    start_agent,
    start_transfer_host,
)
from pkcs11.util.ec import encode_ecdsa_signature

from agent.audit import AuditDocument, AuditEntry, AuditLog
from agent.protocol import MAX_BATCH_ITEMS
from agent.testing.softhsm import KeySpec, SoftHsm, TestCa, TokenSpec, new_token
from agent.token.mechanisms import digest_info, ecdsa_der

PIN: Final = "246810"
LABEL: Final = "KYSO-BENCH"
ORIGIN: Final = "https://bench.example.gov.vn"
DIGEST_SIZE: Final = 32
BATCH_RATIO: Final = 0.9
"""Budget: a batch signs at least this fraction of the direct signatures per second."""
SIGN_OVERHEAD_MS: Final = 3.0
"""Budget: a single /v1/sign costs at most this much more than one direct signature with its own
login (median)."""


@dataclass(frozen=True)
class Plan:
    """How many operations each phase runs."""

    name: str
    """``full`` or ``quick``."""
    warmup: int
    """Untimed operations before the first round (TLS handshake, first login, caches)."""
    rounds: int
    """Rounds of direct signatures then ``/v1/sign`` requests, per key type."""
    per_round: int
    """Timed direct signatures, and as many ``/v1/sign`` requests, per round and key type."""
    batch: int
    """Items in each ``/v1/sign/batch`` request."""
    batches: int
    """Timed batches per key type (the median counts)."""
    info: int
    """Timed ``GET /v1/info`` round trips."""


FULL: Final = Plan("full", warmup=20, rounds=5, per_round=200, batch=1000, batches=15, info=1000)
QUICK: Final = Plan("quick", warmup=3, rounds=1, per_round=30, batch=200, batches=1, info=100)


@dataclass(frozen=True)
class KeyKind:
    """One key on the bench token and how to sign with it directly."""

    name: str
    """What the table calls it."""
    key_id: bytes
    """CKA_ID of the private key and its certificate."""
    mechanism: pkcs11.Mechanism
    """Raw mechanism of the direct baseline (the one the agent uses too)."""
    certificate: x509.Certificate
    """Its certificate, as provisioned."""

    @property
    def der(self) -> bytes:
        """The certificate, DER-encoded (sent in requests to pick this key)."""
        return self.certificate.public_bytes(serialization.Encoding.DER)

    def sign_input(self, digest: bytes) -> bytes:
        """What ``C_Sign`` receives for a SHA-256 ``digest``."""
        if self.mechanism == pkcs11.Mechanism.RSA_PKCS:
            return digest_info_sha256(digest)
        return digest


def digest_info_sha256(digest: bytes) -> bytes:
    """PKCS#1 v1.5 input for a SHA-256 digest (as the agent builds it)."""
    from agent.algorithms import HashAlgorithm

    return digest_info(HashAlgorithm.SHA256, digest)


@dataclass
class KindFigures:
    """Everything measured for one key type."""

    direct: list[float]
    """Seconds of each direct signature, all rounds."""
    direct_login: list[float]
    """Seconds of each direct signature with its own login and logout, all rounds."""
    sign: list[float]
    """Seconds of each ``/v1/sign`` round trip, all rounds."""
    round_overheads: list[float]
    """Median /v1/sign minus median direct signature with its own login, per round
    (seconds)."""
    batches: list[float]
    """Seconds of each timed batch."""
    direct_batches: list[float]
    """Seconds of each direct loop over as many digests, run right before each batch."""
    floors: list[FloorParts]
    """What any agent must add to each direct loop to answer its batch, measured bare."""


@dataclass(frozen=True)
class FloorParts:
    """The work of a batch besides its ``C_Sign`` loop that no agent can leave out, each part
    timed on its own, bare, right after the batch it belongs to (seconds). With the login
    (``direct_login`` above ``direct``), they make the batch's floor on this machine."""

    transfer: float
    """The request in and its answer out over HTTPS, through ``bench/transfer_host.py``."""
    codec: float
    """The request's JSON and base64 decoded; the signatures base64-encoded into the answer's
    JSON."""
    der: float
    """ECDSA's ``r || s`` DER-encoded, as callers expect signatures (RSA: nothing)."""
    audit: float
    """The batch's audit row committed (the agent's :class:`~agent.audit.AuditLog`, fsync)."""

    @property
    def total(self) -> float:
        """The parts together."""
        return self.transfer + self.codec + self.der + self.audit


# --- token -------------------------------------------------------------------------------


def provision_token(root: Path) -> tuple[SoftHsm, KeyKind, KeyKind]:
    """A SoftHSM token with an RSA-2048 and an EC P-256 key, in child processes."""
    hsm, made = new_token(
        root,
        TokenSpec(
            LABEL,
            PIN,
            keys=(
                KeySpec("01", "RSA", "Nguyễn Văn Đo", "Kyso bench"),
                KeySpec("02", "EC", "Trần Thị Đếm", "Kyso bench"),
            ),
        ),
        TestCa.create("Kyso Bench CA"),
    )
    certs = {m.key_id: m.certificate for m in made}
    rsa_kind = KeyKind("RSA-2048", bytes.fromhex("01"), pkcs11.Mechanism.RSA_PKCS, certs["01"])
    ec_kind = KeyKind("EC P-256", bytes.fromhex("02"), pkcs11.Mechanism.ECDSA, certs["02"])
    return hsm, rsa_kind, ec_kind


def digests(count: int) -> list[bytes]:
    """Distinct random SHA-256-sized digests (a real portal never signs the same one twice)."""
    return [os.urandom(DIGEST_SIZE) for _ in range(count)]


# --- verification --------------------------------------------------------------------------


class Verifier:
    """Collects (key, certificate, signatures, digests) and checks them after the timing."""

    def __init__(self) -> None:
        self._pending: list[tuple[KeyKind, bytes, list[bytes], list[bytes]]] = []
        self.verified = 0

    def add(
        self, kind: KeyKind, cert_der: bytes, signatures: Sequence[bytes], signed: Sequence[bytes]
    ) -> None:
        """Check later that each DER signature is over its digest with ``cert_der``'s key."""
        self._pending.append((kind, cert_der, list(signatures), list(signed)))

    def run(self) -> None:
        """Check everything added; :class:`BenchError` on the first failure."""
        for kind, cert_der, signatures, signed in self._pending:
            verify(kind, cert_der, signatures, signed)
            self.verified += len(signatures)
        self._pending.clear()


def verify(
    kind: KeyKind, cert_der: bytes, signatures: Sequence[bytes], signed: Sequence[bytes]
) -> None:
    """Check each DER signature over its digest against ``cert_der``; raise :class:`BenchError`."""
    if cert_der != kind.der:
        raise BenchError(f"{kind.name}: the agent answered with another certificate")
    if len(signatures) != len(signed):
        raise BenchError(f"{kind.name}: {len(signatures)} signatures for {len(signed)} digests")
    key = kind.certificate.public_key()
    prehashed = utils.Prehashed(hashes.SHA256())
    for index, (signature, digest) in enumerate(zip(signatures, signed, strict=True)):
        try:
            if isinstance(key, rsa.RSAPublicKey):
                key.verify(signature, digest, padding.PKCS1v15(), prehashed)
            elif isinstance(key, ec.EllipticCurvePublicKey):
                key.verify(signature, digest, ec.ECDSA(prehashed))
            else:
                raise BenchError(f"{kind.name}: unexpected key type {type(key).__name__}")
        except InvalidSignature:
            raise BenchError(f"{kind.name}: signature {index} does not verify") from None


# --- direct baseline -----------------------------------------------------------------------


def _check_later(
    kind: KeyKind, raws: Sequence[bytes], work: Sequence[bytes], verifier: Verifier
) -> None:
    """Hand direct signatures (``r || s`` for ECDSA, as PKCS#11 gives them) to ``verifier``."""
    signatures = [
        encode_ecdsa_signature(r) if kind.mechanism == pkcs11.Mechanism.ECDSA else r for r in raws
    ]
    verifier.add(kind, kind.der, signatures, work)


class Direct:
    """python-pkcs11 on the bench token, logged in once, in this process."""

    def __init__(self, module: Path) -> None:
        self._lib = pkcs11.lib(str(module))
        major, minor = self._lib.library_version
        self.description = f"{self._lib.manufacturer_id.strip()} {major}.{minor}"
        self._session = self._lib.get_token(token_label=LABEL).open(user_pin=PIN)
        self._keys: dict[bytes, pkcs11.SignMixin] = {}

    def _key(self, kind: KeyKind) -> pkcs11.SignMixin:
        key = self._keys.get(kind.key_id)
        if key is None:
            found = self._session.get_key(
                object_class=pkcs11.ObjectClass.PRIVATE_KEY, id=kind.key_id
            )
            if not isinstance(found, pkcs11.SignMixin):
                raise BenchError(f"{kind.name}: the private key cannot sign")
            key = self._keys[kind.key_id] = found
        return key

    def sign(self, kind: KeyKind, work: Sequence[bytes], verifier: Verifier) -> list[float]:
        """Sign each digest, timing each ``C_Sign``; the signatures go to ``verifier``."""
        key = self._key(kind)
        inputs = [kind.sign_input(d) for d in work]
        seconds: list[float] = []
        raws: list[bytes] = []
        for data in inputs:
            start = time.perf_counter()
            raw = key.sign(data, mechanism=kind.mechanism)
            seconds.append(time.perf_counter() - start)
            raws.append(bytes(raw))
        _check_later(kind, raws, work, verifier)
        return seconds

    def sign_loop(
        self, kind: KeyKind, work: Sequence[bytes], verifier: Verifier
    ) -> tuple[float, list[bytes]]:
        """Sign every digest in one loop, timed as a whole (a batch's direct counterpart); the
        seconds and the signatures as the token gave them."""
        key = self._key(kind)
        inputs = [kind.sign_input(d) for d in work]
        mechanism = kind.mechanism
        start = time.perf_counter()
        raws = [bytes(key.sign(data, mechanism=mechanism)) for data in inputs]
        seconds = time.perf_counter() - start
        _check_later(kind, raws, work, verifier)
        return seconds, raws

    def sign_with_login(
        self, kind: KeyKind, work: Sequence[bytes], verifier: Verifier
    ) -> list[float]:
        """Each digest signed as one document by a program that keeps no session: open a
        session with the PIN, find the key, ``C_Sign``, log out (what the agent's token work per
        request is). Timed each; the bench's own logged-in session is put back afterwards."""
        self._session.close()  # one logged-in session logs the whole token in (and out)
        self._keys.clear()
        token = self._lib.get_token(token_label=LABEL)
        seconds: list[float] = []
        raws: list[bytes] = []
        try:
            for digest in work:
                data = kind.sign_input(digest)
                start = time.perf_counter()
                with token.open(user_pin=PIN) as session:
                    key = session.get_key(
                        object_class=pkcs11.ObjectClass.PRIVATE_KEY, id=kind.key_id
                    )
                    raw = key.sign(data, mechanism=kind.mechanism)
                seconds.append(time.perf_counter() - start)
                raws.append(bytes(raw))
        finally:
            self._session = token.open(user_pin=PIN)
        _check_later(kind, raws, work, verifier)
        return seconds

    def close(self) -> None:
        """Log out and finalise the module."""
        self._session.close()
        self._lib.finalize()


# --- agent over HTTPS ----------------------------------------------------------------------


def sign_body(kind: KeyKind, digest: bytes) -> bytes:
    """A ``/v1/sign`` request naming the key's certificate (so the user is offered just it)."""
    return json.dumps(
        {
            "hash": base64.b64encode(digest).decode(),
            "hashAlgorithm": "SHA-256",
            "certificate": base64.b64encode(kind.der).decode(),
        }
    ).encode()


def batch_body(kind: KeyKind, items: Sequence[bytes]) -> bytes:
    """A ``/v1/sign/batch`` request."""
    return json.dumps(
        {
            "items": [
                {"hash": base64.b64encode(d).decode(), "hashAlgorithm": "SHA-256"} for d in items
            ],
            "certificate": base64.b64encode(kind.der).decode(),
        }
    ).encode()


def agent_sign(
    client: Client, kind: KeyKind, work: Sequence[bytes], verifier: Verifier
) -> list[float]:
    """Sequential ``/v1/sign`` round trips, each timed from sending to having read the answer."""
    bodies = [sign_body(kind, d) for d in work]
    seconds: list[float] = []
    raws: list[bytes] = []
    for body in bodies:
        start = time.perf_counter()
        raw = client.call("POST", "/v1/sign", body)
        seconds.append(time.perf_counter() - start)
        raws.append(raw)
    for raw, digest in zip(raws, work, strict=True):
        answer = json.loads(raw)
        verifier.add(
            kind,
            base64.b64decode(answer["certificate"]),
            [base64.b64decode(answer["signature"])],
            [digest],
        )
    return seconds


@dataclass(frozen=True)
class BatchCall:
    """One timed ``/v1/sign/batch``."""

    seconds: float
    body: bytes
    """The request sent."""
    answer: bytes
    """The answer's body."""


def agent_batch(client: Client, kind: KeyKind, size: int, verifier: Verifier) -> BatchCall:
    """One ``/v1/sign/batch`` of ``size`` items, timed; verified later."""
    work = digests(size)
    body = batch_body(kind, work)
    start = time.perf_counter()
    raw = client.call("POST", "/v1/sign/batch", body)
    seconds = time.perf_counter() - start
    answer = json.loads(raw)
    signatures = [base64.b64decode(s) for s in answer["signatures"]]
    verifier.add(kind, base64.b64decode(answer["certificate"]), signatures, work)
    return BatchCall(seconds, body, raw)


# --- the floor of a batch ------------------------------------------------------------------


@dataclass(frozen=True)
class Floor:
    """What the floor is measured with, beside the agent."""

    host: AgentProcess
    """``bench/transfer_host.py``."""
    audit: AuditLog
    """An audit log of the bench's own, on the same disk as the agent's."""


def batch_floor(
    transfer: Client, audit: AuditLog, kind: KeyKind, call: BatchCall, raws: Sequence[bytes]
) -> FloorParts:
    """Time, bare, what answering ``call`` needs besides its signatures and its login
    (:class:`FloorParts`); ``raws``: the direct loop's signatures, as many, for the encoding."""
    clock = time.perf_counter
    start = clock()
    transfer.call("POST", f"/answer?size={len(call.answer)}", call.body)
    transfer_seconds = clock() - start

    start = clock()
    items = json.loads(call.body)["items"]
    sent = [base64.b64decode(item["hash"], validate=True) for item in items]
    decoded = clock() - start

    start = clock()
    signatures = [ecdsa_der(r) for r in raws] if kind.mechanism == pkcs11.Mechanism.ECDSA else raws
    der = clock() - start

    answer = json.loads(call.answer)
    start = clock()
    answer["signatures"] = [base64.b64encode(s).decode("ascii") for s in signatures]
    json.dumps(answer, ensure_ascii=False).encode()
    encoded = clock() - start

    documents = tuple(
        AuditDocument(item.get("name"), digest, item["hashAlgorithm"])
        for item, digest in zip(items, sent, strict=True)
    )
    entry = AuditEntry(
        time=datetime.now(UTC),
        origin=ORIGIN,
        action="sign",
        documents=documents,
        certificate_serial=format(kind.certificate.serial_number, "x"),
        certificate_subject=kind.certificate.subject.rfc4514_string(),
        certificate_sha256=kind.certificate.fingerprint(hashes.SHA256()).hex(),
        outcome="signed",
        signatures=len(documents),
        first_use=False,
    )
    start = clock()
    audit.record(entry)
    audit_seconds = clock() - start
    return FloorParts(transfer_seconds, decoded + encoded, der, audit_seconds)


def measure(  # noqa: PLR0917 - the parts of one run
    direct: Direct,
    agent: AgentProcess,
    floor: Floor,
    kinds: Sequence[KeyKind],
    plan: Plan,
    verifier: Verifier,
) -> tuple[dict[str, KindFigures], Latencies, int]:
    """Every timed loop; the figures per key type, the /v1/info latencies, connections."""
    client = agent.client(ORIGIN)
    transfer = floor.host.client(ORIGIN)
    try:
        figures: dict[str, KindFigures] = {}
        for kind in kinds:
            direct.sign(kind, digests(plan.warmup), verifier)
            agent_sign(client, kind, digests(plan.warmup), verifier)
            agent_batch(client, kind, 2, verifier)
            direct.sign_with_login(kind, digests(plan.warmup), verifier)
            figures[kind.name] = KindFigures([], [], [], [], [], [], [])
        for _ in range(plan.rounds):
            for kind in kinds:
                one = figures[kind.name]
                one.direct += direct.sign(kind, digests(plan.per_round), verifier)
                login_round = direct.sign_with_login(kind, digests(plan.per_round), verifier)
                sign_round = agent_sign(client, kind, digests(plan.per_round), verifier)
                one.direct_login += login_round
                one.sign += sign_round
                one.round_overheads.append(
                    statistics.median(sign_round) - statistics.median(login_round)
                )
        for kind in kinds:  # the floor's first transfer opens its connection, its log's file
            _seconds, raws = direct.sign_loop(kind, digests(plan.batch), verifier)
            call = agent_batch(client, kind, plan.batch, verifier)
            batch_floor(transfer, floor.audit, kind, call, raws)
        for _ in range(plan.batches):
            for kind in kinds:
                one = figures[kind.name]
                loop_seconds, raws = direct.sign_loop(kind, digests(plan.batch), verifier)
                call = agent_batch(client, kind, plan.batch, verifier)
                one.direct_batches.append(loop_seconds)
                one.batches.append(call.seconds)
                one.floors.append(batch_floor(transfer, floor.audit, kind, call, raws))
        for _ in range(plan.warmup):
            client.call("GET", "/v1/info")
        info: list[float] = []
        for _ in range(plan.info):
            start = time.perf_counter()
            raw = client.call("GET", "/v1/info")
            info.append(time.perf_counter() - start)
        if json.loads(raw).get("product") != "kyso-agent":
            raise BenchError("/v1/info did not describe the agent")
        return figures, Latencies(tuple(info)), client.connections
    finally:
        client.close()
        transfer.close()


# --- report --------------------------------------------------------------------------------


def login_seconds(one: KindFigures) -> float:
    """What a login costs a batch: a direct signature with its own login, less a bare one
    (medians)."""
    return statistics.median(one.direct_login) - statistics.median(one.direct)


def floor_medians(one: KindFigures) -> dict[str, float]:
    """Each part of a batch's floor above its loop, median seconds."""
    return {
        "login": login_seconds(one),
        "HTTPS": statistics.median(f.transfer for f in one.floors),
        "JSON": statistics.median(f.codec for f in one.floors),
        "DER": statistics.median(f.der for f in one.floors),
        "audit row": statistics.median(f.audit for f in one.floors),
    }


def agent_above_floor(one: KindFigures) -> list[float]:
    """What the agent takes of its own beyond a batch's floor, batch by batch: each one less
    its loop, its floor parts and the login (seconds), in the pairs as they were measured; the
    machine's drift between a loop and its batch shows in the spread."""
    login = login_seconds(one)
    return [
        batch - loop - floor.total - login
        for batch, loop, floor in zip(one.batches, one.direct_batches, one.floors, strict=True)
    ]


def batch_floor_seconds(one: KindFigures) -> float:
    """The least a batch can take here: its direct loop, its login, and the median of its
    other floor parts taken together."""
    return (
        statistics.median(one.direct_batches)
        + login_seconds(one)
        + statistics.median(f.total for f in one.floors)
    )


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.3f} ms"


def report(  # noqa: PLR0917 - everything the table shows
    figures: dict[str, KindFigures],
    info: Latencies,
    connections: int,
    plan: Plan,
    softhsm: str,
    loads: tuple[str, str],
    verified: int,
) -> str:
    """The printed table and the budget lines."""
    lines = [
        "Kyso Agent signing benchmark: direct python-pkcs11 C_Sign vs the agent's HTTPS API",
        f"machine: {machine()}",
        f"load:    1-minute load average {loads[0]} at the start, {loads[1]} at the end "
        "(other work on the machine is noise in every figure)",
        f"token:   {softhsm}, SHA-256 digests, keys RSA-2048 and EC P-256",
        "agent:   bench/agent_host.py (kyso-agent serve's start-up, module worker process, "
        "audit fsync per request, approving prompter in the agent's process)",
        f"runs:    {plan.name}: {plan.rounds} round(s) of {plan.per_round} direct signatures "
        f"then {plan.per_round} sequential /v1/sign per key; {plan.batches} batch(es) of "
        f"{plan.batch} per key; {plan.info} GET /v1/info; {plan.warmup} untimed warm-up each",
        "rates:   1 / median (a preempted operation on a busy machine does not move them); "
        "a batch's rate is its items over its time, median of the batches, each right after "
        "a direct loop over as many digests (budget 1 compares the two)",
        "",
        f"{'figure':<40} {'rate':>15} {'median':>10} {'p95':>10}   vs direct",
        "-" * 92,
    ]
    for name, one in figures.items():
        direct = Latencies(tuple(one.direct))
        sign = Latencies(tuple(one.sign))
        direct_rate = 1 / direct.median
        batch_seconds = statistics.median(one.batches)
        batch_rate = plan.batch / batch_seconds
        lines.append(
            f"{'direct C_Sign ' + name:<40} {direct_rate:>9.1f} sig/s {_ms(direct.median):>10} "
            f"{_ms(direct.p95):>10}   1.00 x (baseline)"
        )
        login = Latencies(tuple(one.direct_login))
        lines.append(
            f"{'direct login+C_Sign+logout ' + name:<40} {1 / login.median:>9.1f} sig/s "
            f"{_ms(login.median):>10} {_ms(login.p95):>10}   "
            f"{_ms(login.median - direct.median)} above C_Sign"
        )
        lines.append(
            f"{'agent /v1/sign ' + name:<40} {1 / sign.median:>9.1f} req/s "
            f"{_ms(sign.median):>10} {_ms(sign.p95):>10}   "
            f"{_ms(sign.median - direct.median)} above (median)"
        )
        loop_seconds = statistics.median(one.direct_batches)
        lines.append(
            f"{f'direct C_Sign loop {name} ({plan.batch})':<40} "
            f"{plan.batch / loop_seconds:>9.1f} sig/s {_ms(loop_seconds / plan.batch):>10} "
            f"{'':>10}   beside each batch"
        )
        floor_seconds = batch_floor_seconds(one)
        lines.append(
            f"{f'floor of a batch {name} ({plan.batch})':<40} "
            f"{plan.batch / floor_seconds:>7.1f} items/s {_ms(floor_seconds / plan.batch):>10} "
            f"{'':>10}   {loop_seconds / floor_seconds:.2f} x the loop (at most)"
        )
        lines.append(
            f"{f'agent /v1/sign/batch {name} ({plan.batch})':<40} {batch_rate:>7.1f} items/s "
            f"{_ms(batch_seconds / plan.batch):>10} {'':>10}   "
            f"{loop_seconds / batch_seconds:.2f} x the loop, "
            f"{batch_rate / direct_rate:.2f} x C_Sign"
        )
    lines.append(
        f"{'agent GET /v1/info (HTTP floor)':<40} {1 / info.median:>9.1f} req/s "
        f"{_ms(info.median):>10} {_ms(info.p95):>10}   (no token work)"
    )
    lines.append("-" * 92)
    for name, one in figures.items():
        spread = ", ".join(f"{1000 * o:.2f}" for o in one.round_overheads)
        lines.append(
            f"{name}: /v1/sign overhead per round (ms above direct with login, median): {spread}"
        )
    for name, one in figures.items():
        parts = floor_medians(one)
        above = agent_above_floor(one)
        lines.append(
            f"{name}: a batch's floor, above its loop (ms, medians): "
            + ", ".join(f"{part} {1000 * seconds:.2f}" for part, seconds in parts.items())
            + f"; the agent's own work above the floor, batch by batch: median "
            f"{1000 * statistics.median(above):.2f} ms ({1000 * min(above):.2f} to "
            f"{1000 * max(above):.2f})"
        )
    lines.append(f"HTTPS connections opened by the client: {connections} (1 = keep-alive held)")
    lines.append(f"every signature above ({verified}) was verified with `cryptography`")
    lines += [
        "",
        f"budget ({plan.name} run{'' if plan is FULL else ': fewer operations, a smaller batch'}):",
    ]
    for name, one in figures.items():
        # Each batch against the direct loop run right before it: the machine's speed drifts
        # over a run by more than the margin measured here.
        ratio = statistics.median(one.direct_batches) / statistics.median(one.batches)
        lines.append(
            budget_line(
                f"[1] /v1/sign/batch {name}, {plan.batch} hashes",
                f"{ratio:.2f} x direct",
                f">= {BATCH_RATIO:.1f} x",
                ratio >= BATCH_RATIO,
            )
        )
        ceiling = statistics.median(one.direct_batches) / batch_floor_seconds(one)
        lines.append(
            f"    the floor of a batch on this machine allows {ceiling:.2f} x at most "
            "(its login, the HTTPS transfer, JSON, DER and the audit row, done bare)"
        )
    for name, one in figures.items():
        # One signature made directly the way the agent must make it: the PIN is typed for
        # each operation and never kept, so each one opens a session with it and logs out.
        overhead = statistics.median(one.sign) - statistics.median(one.direct_login)
        lines.append(
            budget_line(
                f"[2] /v1/sign {name}, above direct with login",
                _ms(overhead),
                f"<= {SIGN_OVERHEAD_MS:.0f} ms",
                overhead * 1000 <= SIGN_OVERHEAD_MS,
            )
        )
    for name, one in figures.items():
        bare = statistics.median(one.sign) - statistics.median(one.direct)
        lines.append(
            f"    /v1/sign {name}, median above a bare C_Sign on a session kept logged in: "
            f"{_ms(bare)} (only a token left logged in between requests would close that "
            "gap, and the PIN is typed for each operation)"
        )
    if plan.batch > MAX_BATCH_ITEMS:
        lines.append(f"note: the agent accepts at most {MAX_BATCH_ITEMS} items per batch")
    else:
        lines.append(
            f"note: the agent's batch limit is {MAX_BATCH_ITEMS} items (agent.protocol, "
            "not configurable): no setting was changed for this run"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Provision, measure, print; 1 when a request or a check failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer operations (a few seconds)")
    plan = QUICK if parser.parse_args(argv).quick else FULL
    loads_start = load_average()
    with tempfile.TemporaryDirectory(prefix="kyso-bench-") as tmp:
        root = Path(tmp)
        # Provisioning runs in child processes; SoftHSM reads its token directory when the
        # module is initialised, so SOFTHSM2_CONF must be set before this process loads it.
        try:
            hsm, rsa_kind, ec_kind = provision_token(root)
        except subprocess.CalledProcessError as exc:
            print(f"bench aborted: provisioning SoftHSM failed: {exc.stderr}", file=sys.stderr)
            return 1
        os.environ["SOFTHSM2_CONF"] = str(hsm.conf)
        kinds = (rsa_kind, ec_kind)
        verifier = Verifier()
        agent: AgentProcess | None = None
        transfer: AgentProcess | None = None
        direct: Direct | None = None
        try:
            direct = Direct(hsm.module)
            agent = start_agent(
                host_argv(root / "agent", hsm.module, ORIGIN, PIN),
                root / "agent",
                hsm.environ(),
                root / "agent.log",
            )
            transfer = start_transfer_host(root / "transfer")
            with AuditLog(root / "floor-audit.sqlite3") as audit:
                figures, info, connections = measure(
                    direct, agent, Floor(transfer, audit), kinds, plan, verifier
                )
            verifier.run()
        except (BenchError, OSError) as exc:
            print(f"bench aborted: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        finally:
            for process in (agent, transfer):
                if process is not None:
                    process.stop()
            if direct is not None:
                direct.close()
        softhsm = direct.description
    print(
        report(
            figures,
            info,
            connections,
            plan,
            softhsm,
            (loads_start, load_average()),
            verifier.verified,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
