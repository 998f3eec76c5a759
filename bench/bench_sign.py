"""How much the agent costs on top of the token: signatures per second, direct vs over HTTPS.

What is measured, all in one process on a throw-away SoftHSM token (RSA-2048 and EC P-256):

1. **Direct**: python-pkcs11 ``C_Sign`` on a worker thread, one session logged in once,
   ``CKM_RSA_PKCS`` over a SHA-256 ``DigestInfo`` and ``CKM_ECDSA`` over the digest. This is
   the ceiling: what the token itself can do.
2. **Agent**: the real aiohttp server (TLS, middlewares, handlers, :class:`SigningService`
   with a scripted prompter that always approves and types the PIN, the real
   :class:`TokenService`) on 127.0.0.1, called by one keep-alive HTTPS client on the same
   event loop. Sequential ``POST /v1/sign`` round trips, one 1000-item
   ``POST /v1/sign/batch`` per key type, and ``GET /v1/info`` as the pure HTTP floor.

Each figure is printed with its ratio to the direct figure of the same key type, so that a
regression in the agent (rather than in the machine) shows up as a falling ratio. Every
signature, direct or from the agent, is verified with ``cryptography`` after its timed loop,
and any failed request aborts the run: the bench cannot silently measure errors.

The client shares the event loop (and the GIL) with the server, so the HTTP figures include
the client's own cost; a browser would be a separate process. Run with ``--quick`` for a
smoke run of a few seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import aiohttp
import pkcs11
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils
from pkcs11.util.ec import encode_ecdsa_signature

from agent.algorithms import HashAlgorithm
from agent.app import make_service, server_settings
from agent.config import load_config
from agent.server import RunningServer, create_app, start_server, tls
from agent.testing.prompter import ScriptedPrompter
from agent.testing.softhsm import KeySpec, SoftHsm, TestCa, TokenSpec, provision
from agent.token import TokenService
from agent.token.mechanisms import digest_info
from agent.token.module import Pkcs11Module
from agent.token.worker import ModuleWorker

PIN: Final = "246810"
LABEL: Final = "KYSO-BENCH"
ORIGIN: Final = "https://bench.example.gov.vn"
DIGEST_SIZE: Final = 32


class BenchError(Exception):
    """A request failed or a signature did not verify: the figures would be meaningless."""


@dataclass(frozen=True)
class Plan:
    """How many operations each phase runs."""

    warmup: int
    """Untimed operations before each timed loop (TLS handshake, first login, caches)."""
    requests: int
    """Timed direct signatures and ``/v1/sign`` round trips, per key type."""
    batch: int
    """Items in the one ``/v1/sign/batch`` request per key type."""
    info: int
    """Timed ``GET /v1/info`` round trips."""


FULL: Final = Plan(warmup=20, requests=1000, batch=1000, info=2000)
QUICK: Final = Plan(warmup=3, requests=30, batch=200, info=200)


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
            return digest_info(HashAlgorithm.SHA256, digest)
        return digest


@dataclass(frozen=True)
class Figure:
    """One timed loop."""

    label: str
    """Row title."""
    ops: int
    """Operations completed in the loop."""
    seconds: float
    """Wall-clock time of the loop."""
    unit: str
    """What an operation is (``sig``, ``req``, ``items``)."""
    kind: str | None
    """Key type whose direct figure it is compared with; ``None`` for no token work."""

    @property
    def rate(self) -> float:
        """Operations per second."""
        return self.ops / self.seconds

    @property
    def ms_per_op(self) -> float:
        """Milliseconds per operation."""
        return 1000 * self.seconds / self.ops


@dataclass(frozen=True)
class AgentFigures:
    """What the agent run measured."""

    sign: tuple[Figure, ...]
    """``/v1/sign`` round trips, one figure per key type."""
    batch: tuple[Figure, ...]
    """One ``/v1/sign/batch`` per key type."""
    info: Figure
    """``GET /v1/info`` round trips."""
    connections: int
    """TCP+TLS connections the client opened (1 when keep-alive held)."""


# --- token -------------------------------------------------------------------------------


def provision_token(root: Path) -> tuple[SoftHsm, KeyKind, KeyKind]:
    """A SoftHSM token with an RSA-2048 and an EC P-256 key, in child processes."""
    hsm = SoftHsm(root / "hsm").create()
    made = provision(
        hsm,
        TestCa.create("Kyso Bench CA"),
        root / "ca",
        TokenSpec(
            LABEL,
            PIN,
            keys=(
                KeySpec("01", "RSA", "Nguyễn Văn Đo", "Kyso bench"),
                KeySpec("02", "EC", "Trần Thị Đếm", "Kyso bench"),
            ),
        ),
    )
    certs = {m.key_id: m.certificate for m in made}
    rsa_kind = KeyKind("RSA-2048", bytes.fromhex("01"), pkcs11.Mechanism.RSA_PKCS, certs["01"])
    ec_kind = KeyKind("EC P-256", bytes.fromhex("02"), pkcs11.Mechanism.ECDSA, certs["02"])
    return hsm, rsa_kind, ec_kind


def digests(count: int) -> list[bytes]:
    """Distinct random SHA-256-sized digests (a real portal never signs the same one twice)."""
    return [os.urandom(DIGEST_SIZE) for _ in range(count)]


# --- verification --------------------------------------------------------------------------


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


def direct_baseline(module: Path, kinds: Sequence[KeyKind], plan: Plan) -> tuple[list[Figure], str]:
    """Direct ``C_Sign`` figures, measured on a module worker thread like the agent's.

    The worker is closed (and the module finalised) before the agent loads it, so the
    module is never called from two threads at once.
    """
    work = {kind.name: digests(plan.requests) for kind in kinds}

    def job(_unused: Pkcs11Module) -> tuple[dict[str, tuple[float, list[bytes]]], str]:
        lib = pkcs11.lib(str(module))
        try:
            major, minor = lib.library_version
            description = f"{lib.manufacturer_id.strip()} {major}.{minor}"
            token = lib.get_token(token_label=LABEL)
            results: dict[str, tuple[float, list[bytes]]] = {}
            with token.open(user_pin=PIN) as session:
                for kind in kinds:
                    key = session.get_key(
                        object_class=pkcs11.ObjectClass.PRIVATE_KEY, id=kind.key_id
                    )
                    if not isinstance(key, pkcs11.SignMixin):
                        raise BenchError(f"{kind.name}: the private key cannot sign")
                    inputs = [kind.sign_input(d) for d in work[kind.name]]
                    for data in inputs[: plan.warmup]:
                        key.sign(data, mechanism=kind.mechanism)
                    start = time.perf_counter()
                    raws = [bytes(key.sign(data, mechanism=kind.mechanism)) for data in inputs]
                    results[kind.name] = (time.perf_counter() - start, raws)
            return results, description
        finally:
            lib.finalize()

    worker = ModuleWorker(module)
    try:
        results, description = worker.run_sync(job)
    finally:
        worker.close()
    figures = []
    for kind in kinds:
        seconds, raws = results[kind.name]
        signatures = [
            encode_ecdsa_signature(r) if kind.mechanism == pkcs11.Mechanism.ECDSA else r
            for r in raws
        ]
        verify(kind, kind.der, signatures, work[kind.name])
        figures.append(Figure(f"direct C_Sign {kind.name}", len(raws), seconds, "sig", kind.name))
    return figures, description


# --- agent over HTTPS ----------------------------------------------------------------------


@dataclass
class Client:
    """One keep-alive HTTPS client talking to the running agent."""

    session: aiohttp.ClientSession
    base: str
    """``https://127.0.0.1:PORT``."""

    async def call(self, method: str, path: str, body: bytes | None = None) -> bytes:
        """One round trip; the raw body of a 200 answer, else :class:`BenchError`."""
        headers = {"Origin": ORIGIN}
        if body is not None:
            headers["Content-Type"] = "application/json"
        async with self.session.request(
            method, self.base + path, data=body, headers=headers
        ) as response:
            raw = await response.read()
            if response.status != 200:
                raise BenchError(f"{method} {path} answered {response.status}: {_error(raw)}")
            return raw


def _error(raw: bytes) -> str:
    """The agent's error code and message, or the start of whatever else came back."""
    try:
        error = json.loads(raw)["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return raw[:300].decode("utf-8", "replace")


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


async def timed(
    calls: Sequence[Callable[[], Any]], warmup: Sequence[Callable[[], Any]]
) -> tuple[float, list[Any]]:
    """Await ``warmup`` untimed, then ``calls`` one after another; their time and results."""
    for call in warmup:
        await call()
    start = time.perf_counter()
    results = [await call() for call in calls]
    return time.perf_counter() - start, results


def _bind(client: Client, method: str, path: str, body: bytes | None = None) -> Callable[[], Any]:
    return lambda: client.call(method, path, body)


async def bench_sign(client: Client, kind: KeyKind, plan: Plan) -> Figure:
    """Sequential ``/v1/sign`` round trips, each verified afterwards."""
    work = digests(plan.requests)
    warm = [_bind(client, "POST", "/v1/sign", sign_body(kind, d)) for d in digests(plan.warmup)]
    calls = [_bind(client, "POST", "/v1/sign", sign_body(kind, d)) for d in work]
    seconds, raws = await timed(calls, warm)
    for raw, digest in zip(raws, work, strict=True):
        answer = json.loads(raw)
        verify(
            kind,
            base64.b64decode(answer["certificate"]),
            [base64.b64decode(answer["signature"])],
            [digest],
        )
    return Figure(f"agent /v1/sign {kind.name}", len(raws), seconds, "req", kind.name)


async def bench_batch(client: Client, kind: KeyKind, plan: Plan) -> Figure:
    """One ``/v1/sign/batch`` of ``plan.batch`` items, verified afterwards."""
    work = digests(plan.batch)
    warm = [_bind(client, "POST", "/v1/sign/batch", batch_body(kind, digests(2)))]
    seconds, (raw,) = await timed(
        [_bind(client, "POST", "/v1/sign/batch", batch_body(kind, work))], warm
    )
    answer = json.loads(raw)
    signatures = [base64.b64decode(s) for s in answer["signatures"]]
    verify(kind, base64.b64decode(answer["certificate"]), signatures, work)
    label = f"agent /v1/sign/batch {kind.name} ({plan.batch} items)"
    return Figure(label, len(signatures), seconds, "items", kind.name)


async def bench_info(client: Client, plan: Plan) -> Figure:
    """``GET /v1/info`` round trips: TLS, middlewares and JSON with no token work."""
    call = _bind(client, "GET", "/v1/info")
    seconds, raws = await timed([call] * plan.info, [call] * plan.warmup)
    if json.loads(raws[-1]).get("product") != "kyso-agent":
        raise BenchError("/v1/info did not describe the agent")
    return Figure("agent GET /v1/info (HTTP floor)", len(raws), seconds, "req", None)


async def bench_agent(
    module: Path, data_dir: Path, kinds: Sequence[KeyKind], plan: Plan
) -> AgentFigures:
    """Start the real server in this process, measure through it, stop it."""
    config = load_config(
        {
            "port": 0,
            "data_dir": str(data_dir),
            "pkcs11_modules": [str(module)],
            "allowed_origins": [ORIGIN],
        },
        policy={},
        user_config_file=data_dir / "no-such-config.toml",
    )
    tokens = TokenService(config.pkcs11_modules)
    server: RunningServer | None = None
    try:
        # The request names the certificate, so the prompter is offered exactly one: index 0.
        prompter = ScriptedPrompter(repeat={"approved": True, "pin": PIN, "certificate": 0})
        service = make_service(config, tokens, prompter)
        app = create_app(service, server_settings(config))
        files = tls.ensure(config.tls_dir)
        server = await start_server(app, [0], tls.server_context(files))
        client_tls = ssl.create_default_context(cafile=str(files.ca_cert))
        connections = 0

        async def opened(*_args: object) -> None:
            nonlocal connections
            connections += 1

        trace = aiohttp.TraceConfig()
        trace.on_connection_create_end.append(opened)
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=client_tls, limit=1),
            timeout=aiohttp.ClientTimeout(total=120),
            trace_configs=[trace],
        ) as session:
            client = Client(session, server.url)
            sign = tuple([await bench_sign(client, kind, plan) for kind in kinds])
            batch = tuple([await bench_batch(client, kind, plan) for kind in kinds])
            info = await bench_info(client, plan)
        return AgentFigures(sign, batch, info, connections)
    finally:
        if server is not None:
            await server.stop()
        tokens.close()


# --- report --------------------------------------------------------------------------------


def machine() -> str:
    """Platform, CPU model (when the OS says) and CPU count."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip() + ", "
                break
    return (
        f"{platform.platform()}, {model}{os.cpu_count()} CPU(s), Python {platform.python_version()}"
    )


def report(direct: Sequence[Figure], agent: AgentFigures, plan: Plan, softhsm: str) -> str:
    """The printed table."""
    baseline = {fig.kind: fig for fig in direct}
    lines = [
        "Kyso Agent signing benchmark: direct python-pkcs11 C_Sign vs the agent's HTTPS API",
        f"machine: {machine()}",
        f"token:   {softhsm}, SHA-256 digests, keys RSA-2048 and EC P-256",
        f"runs:    {plan.requests} direct signatures and {plan.requests} sequential /v1/sign "
        f"per key, one {plan.batch}-item batch per key, {plan.info} GET /v1/info;",
        f"         {plan.warmup} untimed warm-up each; one keep-alive client on the server's "
        "event loop",
        "",
        f"{'figure':<44} {'rate':>16} {'per op':>10}   vs direct",
        "-" * 86,
    ]
    for figure in [*direct, *agent.sign, *agent.batch, agent.info]:
        if figure.kind is None:
            ratio = "(no token work)"
        elif figure is baseline[figure.kind]:
            ratio = "1.00 x (baseline)"
        else:
            ratio = f"{figure.rate / baseline[figure.kind].rate:.2f} x direct"
        lines.append(
            f"{figure.label:<44} {figure.rate:>9.1f} {figure.unit + '/s':<7}"
            f"{figure.ms_per_op:>8.3f} ms   {ratio}"
        )
    lines.append("-" * 86)
    for one in agent.sign:
        own = baseline[one.kind].ms_per_op
        lines.append(
            f"{one.kind}: each /v1/sign costs {one.ms_per_op - own:.2f} ms above the token's own "
            f"{own:.2f} ms (the HTTP floor is {agent.info.ms_per_op:.2f} ms of it)"
        )
    lines.append(
        f"HTTPS connections opened by the client: {agent.connections} (1 = keep-alive held)"
    )
    lines.append("every signature above was verified with `cryptography` against its certificate")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Provision, measure, print; 1 when a request failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer operations (a few seconds)")
    plan = QUICK if parser.parse_args(argv).quick else FULL
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
        try:
            direct, softhsm = direct_baseline(hsm.module, kinds, plan)
            agent = asyncio.run(bench_agent(hsm.module, root / "agent", kinds, plan))
        except (BenchError, aiohttp.ClientError) as exc:
            print(f"bench aborted: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    print(report(direct, agent, plan, softhsm))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
