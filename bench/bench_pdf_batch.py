"""Twenty PDFs in one ``POST /v1/pdf/sign/batch`` against twenty ``POST /v1/pdf/sign`` calls.

What is measured, on a throw-away SoftHSM token with one RSA-2048 key, with the agent in a
child process (``bench/agent_host.py``: ``kyso-agent serve``'s start-up, a prompter in the
agent's process that approves at once and types the PIN) and one keep-alive HTTPS client
in this process:

1. **20 singles**: the twenty documents one after another, each its own ``/v1/pdf/sign``
   (JSON, base64): twenty questions, twenty inventories, twenty logins, twenty audit rows.
2. **one batch**: the same twenty in one ``/v1/pdf/sign/batch``: one question listing them
   all, one login held for the batch, progress between documents, one audit row.

The documents are decisions of about 200 KB each (two pages, one a "scan" of noise from a
fixed seed, ``agent.testing.samples.sample_pdf``), signed PAdES B-B with a visible
``personal`` stamp, as a portal's "ký hàng loạt" does. Both methods run in the same process
and the same agent, alternately, ``runs`` times each; the ratio is batch / singles. On a real
token each login costs far more than on SoftHSM (and on a PIN pad it is a person typing), so
the ratio here is the least the batch saves.

Every signed PDF is checked: the input unchanged in front, one signature more, pyHanko's
validation intact, valid and trusted (the bench CA as the only root). Budget
(docs/performance.md): the batch never takes longer than the twenty singles. On SoftHSM a
login costs microseconds and pyHanko's own work (the CMS, the stamp's font subset) is most
of each document's time, so what the batch saves here is the per-request work: the
question, the inventory, the page preview, the viewer's copy, the audit row.
``--quick``: one run of each, a few seconds.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any, Final

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from harness import (
    PIN,
    BenchError,
    Client,
    budget_line,
    host_argv,
    load_average,
    machine,
    one_key_token,
    start_agent,
)
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from agent.testing.samples import sample_pdf

HOLDER: Final = "Trần Văn Lô"
ORIGIN: Final = "https://bench.example.gov.vn"
DOCUMENTS: Final = 20
DOCUMENT_BYTES: Final = 200 * 1024
BATCH_RATIO: Final = 1.0
"""Budget: the batch takes at most this multiple of the twenty singles' time."""


@dataclass(frozen=True)
class Plan:
    """How many timed runs of each method."""

    runs: int


FULL: Final = Plan(runs=3)
QUICK: Final = Plan(runs=1)


def make_documents() -> list[tuple[str, bytes]]:
    """Twenty decisions, each its own text and noise (nothing identical to cache)."""
    return [
        (
            f"Quyết định {index + 1:02d}-QĐ-UBND.pdf",
            sample_pdf(
                pages=2, text=f"Quyet dinh so {index + 1}", scan_bytes=DOCUMENT_BYTES, seed=index
            ),
        )
        for index in range(DOCUMENTS)
    ]


def single_bodies(documents: Sequence[tuple[str, bytes]], certificate: bytes) -> list[bytes]:
    return [
        json.dumps(
            {
                "pdf": base64.b64encode(pdf).decode(),
                "documentName": name,
                "certificate": base64.b64encode(certificate).decode(),
                "appearance": {"profile": "personal"},
            }
        ).encode()
        for name, pdf in documents
    ]


def batch_body(documents: Sequence[tuple[str, bytes]], certificate: bytes) -> bytes:
    return json.dumps(
        {
            "documents": [
                {"pdf": base64.b64encode(pdf).decode(), "documentName": name}
                for name, pdf in documents
            ],
            "certificate": base64.b64encode(certificate).decode(),
            "appearance": {"profile": "personal"},
        }
    ).encode()


class Checker:
    """pyHanko's verdict on each signed PDF: intact, valid, trusted by the bench CA."""

    def __init__(self, ca: x509.Certificate) -> None:
        root = asn1_x509.Certificate.load(ca.public_bytes(serialization.Encoding.DER))
        self._roots = [root]
        self.checked = 0

    def check(self, what: str, original: bytes, signed: bytes) -> None:
        if not signed.startswith(original):
            raise BenchError(f"{what}: the original bytes are not in front")
        context = ValidationContext(trust_roots=self._roots, allow_fetching=False)
        signatures = PdfFileReader(BytesIO(signed)).embedded_signatures
        if len(signatures) != 1:
            raise BenchError(f"{what}: {len(signatures)} signatures, not 1")
        if not validate_pdf_signature(signatures[0], context).bottom_line:
            raise BenchError(f"{what}: pyHanko does not validate the signature")
        self.checked += 1


def run_singles(client: Client, bodies: Sequence[bytes]) -> tuple[float, list[bytes]]:
    start = time.perf_counter()
    raws = [client.call("POST", "/v1/pdf/sign", body) for body in bodies]
    seconds = time.perf_counter() - start
    return seconds, [base64.b64decode(json.loads(raw)["pdf"]) for raw in raws]


def run_batch(client: Client, body: bytes, count: int) -> tuple[float, list[bytes]]:
    start = time.perf_counter()
    raw = client.call("POST", "/v1/pdf/sign/batch", body)
    seconds = time.perf_counter() - start
    answer: dict[str, Any] = json.loads(raw)
    if answer["signed"] != count or answer["stopped"] or "error" in answer:
        raise BenchError(f"the batch signed {answer['signed']} of {count}")
    return seconds, [base64.b64decode(d["pdf"]) for d in answer["documents"]]


def measure(
    client: Client,
    documents: Sequence[tuple[str, bytes]],
    certificate: bytes,
    plan: Plan,
    checker: Checker,
) -> tuple[list[float], list[float]]:
    """Singles and batch, alternately, ``plan.runs`` times each after one untimed warm-up."""
    singles_body = single_bodies(documents, certificate)
    whole = batch_body(documents, certificate)
    run_singles(client, singles_body[:2])  # TLS, the token worker, the PDF stack, fonts
    run_batch(client, batch_body(documents[:2], certificate), 2)
    singles, batches = [], []
    for _ in range(plan.runs):
        seconds, signed = run_singles(client, singles_body)
        singles.append(seconds)
        for (name, original), pdf in zip(documents, signed, strict=True):
            checker.check(f"single {name}", original, pdf)
        seconds, signed = run_batch(client, whole, len(documents))
        batches.append(seconds)
        for (name, original), pdf in zip(documents, signed, strict=True):
            checker.check(f"batch {name}", original, pdf)
    return singles, batches


def report(
    singles: list[float], batches: list[float], checked: int, loads: tuple[str, str], plan: Plan
) -> str:
    best_single, best_batch = min(singles), min(batches)
    ratio = best_batch / best_single
    lines = [
        f"Kyso Agent PDF batch benchmark: {DOCUMENTS} PDFs in one /v1/pdf/sign/batch vs "
        f"{DOCUMENTS} /v1/pdf/sign",
        f"machine: {machine()}",
        f"load:    1-minute load average {loads[0]} at the start, {loads[1]} at the end",
        f"files:   {DOCUMENTS} PDFs of about {DOCUMENT_BYTES // 1024} KB, visible 'personal' "
        "stamp, PAdES B-B, RSA-2048 on SoftHSM",
        f"runs:    {plan.runs} of each, alternately, after one untimed warm-up; best run shown",
        "",
        f"{'figure':<44} {'s in all':>9} {'s/PDF':>8}   ratio",
        "-" * 76,
        f"{f'{DOCUMENTS} x /v1/pdf/sign (20 questions, 20 logins)':<44} {best_single:>9.3f} "
        f"{best_single / DOCUMENTS:>8.3f}   1.00 x (baseline)",
        f"{'1 x /v1/pdf/sign/batch (1 question, 1 login)':<44} {best_batch:>9.3f} "
        f"{best_batch / DOCUMENTS:>8.3f}   {ratio:.2f} x",
        "-" * 76,
        f"every signed PDF above ({checked}) was verified with pyHanko: intact, valid, trusted "
        "(bench CA), incremental",
        "",
        f"budget ({'full' if plan is FULL else 'quick'} run):",
        budget_line(
            f"[6] /v1/pdf/sign/batch of {DOCUMENTS} vs {DOCUMENTS} singles",
            f"{ratio:.2f} x",
            f"<= {BATCH_RATIO} x",
            ratio <= BATCH_RATIO,
        ),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Provision, measure, print; 1 when a request or a check failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="one run of each (seconds)")
    plan = QUICK if parser.parse_args(argv).quick else FULL
    loads_start = load_average()
    with tempfile.TemporaryDirectory(prefix="kyso-bench-batch-") as tmp:
        root = Path(tmp)
        try:
            hsm, certificate, ca = one_key_token(root, HOLDER)
        except BenchError as exc:
            print(f"bench aborted: {exc}", file=sys.stderr)
            return 1
        checker = Checker(ca)
        der = certificate.public_bytes(serialization.Encoding.DER)
        try:
            documents = make_documents()
            agent = start_agent(
                host_argv(root / "agent", hsm.module, ORIGIN, PIN),
                root / "agent",
                hsm.environ(),
                root / "agent.log",
            )
            client = agent.client(ORIGIN)
            try:
                singles, batches = measure(client, documents, der, plan, checker)
            finally:
                client.close()
                agent.stop()
        except (BenchError, OSError) as exc:
            print(f"bench aborted: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    print(report(singles, batches, checker.checked, (loads_start, load_average()), plan))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
