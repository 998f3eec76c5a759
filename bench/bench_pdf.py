"""What a signed PDF costs through the agent: seconds per PDF and peak memory, vs pyHanko itself.

What is measured, on a throw-away SoftHSM token with one RSA-2048 key, for a ~1 MB and a
~20 MB PDF (two pages, each a "scan": uncompressed RGB noise from a fixed seed, made by
``agent.testing.samples.sample_pdf``, so that nothing along the way can compress it away), each
signed PAdES B-B invisible and visible (profile ``personal`` in its default place, bottom
right of the last page):

1. **pyHanko CLI** (the baseline of the ratio column): ``pyhanko sign addsig --use-pades
   pkcs11 --p11-setup bench IN OUT``, one child process per PDF, the PIN in a ``pyhanko.yml``
   so that nothing is prompted; the visible signature is a field on the same page and box,
   with pyHanko's default stamp. Its figure **includes the CLI's start-up** (interpreter,
   imports, loading the module, logging in), shown on a row of its own (``pyhanko
   --version``): a program started per document pays it every time, the agent once.
2. **pyHanko in-process**: ``PdfSigner`` with ``pyhanko.sign.pkcs11.PKCS11Signer`` on one
   session logged in once, bytes in memory to bytes in memory, in this process. No start-up
   and no transport: against this figure the agent's ratio says what the agent itself adds
   (HTTPS, JSON and base64 both ways, reading the document twice before asking, an
   inventory and a login per request, the audit row, and for the visible case its
   Vietnamese stamp with an embedded TrueType font where pyHanko draws Courier).
3. **Agent**: the agent in a child process (``bench/agent_host.py``: the start-up of
   ``kyso-agent serve`` — audit log, module worker process — with a prompter in the agent's
   process that approves at once and types the PIN), sequential ``POST /v1/pdf/sign``
   (JSON, the PDF in base64) from one keep-alive HTTPS client in this process, as a browser
   is a process of its own. A round trip is timed from sending the prepared body to having
   read the whole answer; decoding the answer is not timed.

Peak memory while signing the 20 MB PDF, each in an untimed run of its own: the resident
set of the whole process for the CLI (its peak, ``ru_maxrss``, start-up included) and for
the agent (``VmHWM`` reset just before the request: the peak during it, and how far above
the resident set before it; then what it still holds a few seconds after the answer, once
it has handed memory back); for pyHanko
in-process, ``tracemalloc``'s peak of Python allocations above the start (what pyHanko
itself allocates, not a resident set).

Every signed PDF is checked after its timed loop: one signature more than the input, the
input bytes unchanged in front (an incremental update), pyHanko's validation intact,
valid and trusted (the test CA as the only root), and a widget box exactly when visible.
Any failed request or check aborts the run. Budget (docs/performance.md): the 20 MB PDF,
invisible, B-B, at most 1.2 x the CLI's time. Run with ``--quick`` for a smoke run of a few
seconds.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from io import BytesIO
from pathlib import Path
from typing import Any, Final

import pkcs11
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from harness import (
    KEY_ID,
    LABEL,
    MIB,
    PIN,
    AgentProcess,
    BenchError,
    Client,
    budget_line,
    host_argv,
    load_average,
    machine,
    one_key_token,
    proc_status,
    reset_peak,
    start_agent,
)
from pyhanko.config.pkcs11 import TokenCriteria
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from agent.pdf.models import Appearance, Profile
from agent.pdf.placement import resolve_placement
from agent.server.middlewares import RELEASE_DELAY
from agent.testing.samples import sample_pdf
from agent.testing.softhsm import SoftHsm

HOLDER: Final = "Nguyễn Văn Đo"
"""Whose key the bench token holds."""
ORIGIN: Final = "https://bench.example.gov.vn"
FIELD: Final = "Signature1"
"""Name of the new signature field (the agent names the first one so too)."""
P11_SETUP: Final = "bench"
"""Name of the PKCS#11 setup in the CLI's ``pyhanko.yml``."""

CLI: Final = "pyHanko CLI"
IN_PROCESS: Final = "pyHanko in-process"
AGENT: Final = "agent /v1/pdf/sign"
SETTLE: Final = RELEASE_DELAY + 1.0
"""Seconds to wait before and after a memory run: the agent has handed memory back by then."""
PDF_RATIO: Final = 1.2
"""Budget: the agent takes at most this multiple of the CLI's time (20 MB, invisible)."""


@dataclass(frozen=True)
class Plan:
    """Which documents, and how many signatures of each."""

    warmup: int
    """Untimed signatures before each timed loop (after one warm-up per method overall)."""
    documents: tuple[tuple[int, int], ...]
    """(size in MiB, timed signatures per case) for each document."""
    startups: int
    """Timed ``pyhanko --version`` runs."""
    memory: tuple[bool, ...]
    """Which :data:`MEMORY_MIB` cases are measured for peak memory: invisible, visible."""

    def measures_memory(self, case: Case) -> bool:
        """Whether ``case`` gets an untimed run of its own for its peak memory."""
        return case.document.mib == MEMORY_MIB and case.visible in self.memory


FULL: Final = Plan(warmup=1, documents=((1, 10), (20, 5)), startups=5, memory=(False, True))
QUICK: Final = Plan(warmup=0, documents=((1, 1), (20, 1)), startups=1, memory=(False,))
MEMORY_MIB: Final = 20
"""The document whose signing is measured for peak memory."""


@dataclass(frozen=True, eq=False)
class Document:
    """One PDF to sign and where its visible signature goes."""

    mib: int
    """Nominal size."""
    pdf: bytes
    """The file."""
    page_index: int
    """0-based page of the visible signature (the agent's default for ``personal``)."""
    box: tuple[int, int, int, int]
    """Its box in PDF points, as the agent rounds it."""

    @property
    def name(self) -> str:
        """What the table calls it."""
        return f"{self.mib} MB"


@dataclass(frozen=True)
class Case:
    """A document, signed invisible or visible."""

    document: Document
    visible: bool

    @property
    def name(self) -> str:
        """What the table calls it."""
        return f"{self.document.name} {'visible' if self.visible else 'invisible'}"


@dataclass(frozen=True)
class Figure:
    """One timed loop."""

    case: Case | None
    """What was signed; ``None`` for the CLI start-up row."""
    method: str
    """:data:`CLI`, :data:`IN_PROCESS` or :data:`AGENT`."""
    runs: int
    """Signatures in the loop."""
    seconds: float
    """Wall-clock time of the loop."""

    @property
    def per_pdf(self) -> float:
        """Seconds per signed PDF."""
        return self.seconds / self.runs


@dataclass(frozen=True)
class Memory:
    """One memory figure while signing :data:`MEMORY_MIB`."""

    case: Case
    what: str
    """Which process, and what of it, was measured."""
    value: int
    """Bytes."""
    relative: bool = False
    """Above the start rather than a whole resident set."""


@dataclass
class Results:
    """Everything measured, in the order it is printed."""

    figures: list[Figure] = field(default_factory=list)
    memory: list[Memory] = field(default_factory=list)
    softhsm: str = ""
    loads: tuple[str, str] = ("", "")
    """The 1-minute load average at the start and at the end."""
    verified: int = 0
    """Signed PDFs checked."""


# --- documents and token -------------------------------------------------------------------


def make_documents(plan: Plan) -> list[Document]:
    """The PDFs of ``plan``, deterministic, with the agent's default ``personal`` placement."""
    documents = []
    for mib, _runs in plan.documents:
        pdf = sample_pdf(pages=2, text=f"Bench {mib} MB", scan_bytes=mib * MIB, seed=mib)
        placement = resolve_placement(pdf, Appearance(profile=Profile.PERSONAL))
        if placement is None:
            raise BenchError("the personal profile resolved to an invisible signature")
        x1, y1, x2, y2 = (round(v) for v in placement.box)
        documents.append(Document(mib, pdf, placement.page_index, (x1, y1, x2, y2)))
    return documents


# --- verification --------------------------------------------------------------------------


@dataclass(frozen=True)
class Checker:
    """pyHanko's validation with the test CA as the only trust root."""

    certificate: x509.Certificate
    """The certificate every signature must be made with."""
    ca: x509.Certificate

    def check(self, label: str, case: Case, signed: bytes) -> None:
        """Raise :class:`BenchError` unless ``signed`` is ``case``'s document, validly signed."""
        original = case.document.pdf
        if not signed.startswith(original):
            raise BenchError(f"{label}: the signed file does not keep the original in front")
        context = ValidationContext(
            trust_roots=[asn1_x509.Certificate.load(_der(self.ca))],
            allow_fetching=False,
            revocation_mode="soft-fail",
        )
        signatures = PdfFileReader(BytesIO(signed), strict=False).embedded_signatures
        if len(signatures) != 1:
            raise BenchError(f"{label}: {len(signatures)} signatures, expected 1")
        [embedded] = signatures
        if embedded.signer_cert.dump() != _der(self.certificate):
            raise BenchError(f"{label}: signed with another certificate")
        status = validate_pdf_signature(embedded, context)
        if not (status.intact and status.valid and status.trusted):
            raise BenchError(
                f"{label}: pyHanko says intact={status.intact} valid={status.valid} "
                f"trusted={status.trusted}"
            )
        x1, y1, x2, y2 = (float(v) for v in embedded.sig_field.get("/Rect", (0, 0, 0, 0)))
        if ((x2 - x1) * (y2 - y1) > 0) != case.visible:
            raise BenchError(f"{label}: visible is {not case.visible}, expected {case.visible}")


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def _cases(documents: Sequence[Document]) -> list[Case]:
    return [Case(document, visible) for document in documents for visible in (False, True)]


def _runs(plan: Plan, case: Case) -> int:
    return dict(plan.documents)[case.document.mib]


def _peak_of(work: Callable[[], Any]) -> int:
    """tracemalloc's peak above the allocations when ``work`` started."""
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        work()
        return tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()


# --- pyHanko in-process --------------------------------------------------------------------


@contextmanager
def in_process_signer(module: Path) -> Iterator[tuple[Callable[[Case], bytes], str]]:
    """pyHanko's own PdfSigner and PKCS11Signer in this process, logged in once: a function
    signing a case (bytes to bytes), and the module's description; the module finalised after."""
    lib = pkcs11.lib(str(module))
    try:
        major, minor = lib.library_version
        description = f"{lib.manufacturer_id.strip()} {major}.{minor}"
        session = open_pkcs11_session(
            str(module), token_criteria=TokenCriteria(label=LABEL), user_pin=PIN
        )
        try:
            signer = PKCS11Signer(session, key_id=bytes.fromhex(KEY_ID))

            def sign(case: Case) -> bytes:
                document = case.document
                spec = (
                    fields.SigFieldSpec(FIELD, on_page=document.page_index, box=document.box)
                    if case.visible
                    else fields.SigFieldSpec(FIELD)
                )
                pdf_signer = signers.PdfSigner(
                    signers.PdfSignatureMetadata(
                        field_name=FIELD,
                        md_algorithm="sha256",
                        subfilter=fields.SigSeedSubFilter.PADES,
                    ),
                    signer,
                    new_field_spec=spec,
                )
                output = BytesIO()
                writer = IncrementalPdfFileWriter(BytesIO(document.pdf), strict=False)
                pdf_signer.sign_pdf(writer, output=output)
                return output.getvalue()

            yield sign, description
        finally:
            session.close()
    finally:
        lib.finalize()


def in_process_baseline(
    module: Path,
    *,
    documents: Sequence[Document],
    plan: Plan,
    checker: Checker,
    results: Results,
) -> None:
    """pyHanko in this process (:func:`in_process_signer`): each case timed, then its memory."""
    with in_process_signer(module) as (sign, description):
        cases = _cases(documents)
        sign(cases[1])  # first use: key lookup, stamp code, lazy imports
        for case in cases:
            for _ in range(plan.warmup):
                sign(case)
            start = time.perf_counter()
            signed = [sign(case) for _ in range(_runs(plan, case))]
            seconds = time.perf_counter() - start
            for one in signed:
                checker.check(f"{IN_PROCESS} {case.name}", case, one)
            results.verified += len(signed)
            results.figures.append(Figure(case, IN_PROCESS, len(signed), seconds))
        for case in cases:
            if plan.measures_memory(case):
                peak = _peak_of(partial(sign, case))
                results.memory.append(
                    Memory(case, IN_PROCESS + ": tracemalloc peak", peak, relative=True)
                )
    results.softhsm = description


# --- pyHanko CLI ---------------------------------------------------------------------------


def pyhanko_cli() -> Path:
    """The ``pyhanko`` command of this interpreter's environment."""
    beside = Path(sys.executable).with_name("pyhanko")
    found = beside if beside.is_file() else shutil.which("pyhanko")
    if found is None:
        raise BenchError("pyhanko (the CLI) is not installed: pip install -e '.[dev]'")
    return Path(found)


def write_cli_config(path: Path, module: Path) -> Path:
    """A ``pyhanko.yml`` whose PKCS#11 setup carries the PIN, so the CLI never prompts."""
    setup = {
        "pkcs11-setups": {
            P11_SETUP: {
                "module-path": str(module),
                "token-criteria": {"label": LABEL},
                "cert-id": int(KEY_ID, 16),
                "user-pin": PIN,
            }
        }
    }
    path.write_text(json.dumps(setup, indent=2))  # JSON is YAML
    return path


def cli_baseline(
    hsm: SoftHsm,
    work: Path,
    *,
    documents: Sequence[Document],
    plan: Plan,
    checker: Checker,
    results: Results,
) -> None:
    """``pyhanko sign addsig ... pkcs11`` in a child process per PDF, start-up included."""
    command = pyhanko_cli()
    config = write_cli_config(work / "pyhanko.yml", hsm.module)
    env = hsm.environ()

    def run(*args: str) -> int:
        """Run the CLI; its peak resident set in bytes (Linux: ``ru_maxrss`` is in KiB)."""
        with subprocess.Popen(
            [str(command), *args],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        ) as child:
            assert child.stderr is not None
            stderr = child.stderr.read()
            _pid, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise BenchError(f"pyhanko {' '.join(args[:3])}… failed: {stderr[-500:]}")
        return usage.ru_maxrss * 1024

    inputs = {}
    for document in documents:
        inputs[document.mib] = work / f"in-{document.mib}.pdf"
        inputs[document.mib].write_bytes(document.pdf)

    def sign(case: Case, out: Path) -> int:
        document = case.document
        x1, y1, x2, y2 = document.box
        spec = f"{document.page_index + 1}/{x1},{y1},{x2},{y2}/{FIELD}" if case.visible else FIELD
        return run(
            "--config",
            str(config),
            "sign",
            "addsig",
            "--field",
            spec,
            "--use-pades",
            "pkcs11",
            "--p11-setup",
            P11_SETUP,
            str(inputs[document.mib]),
            str(out),
        )

    cases = _cases(documents)
    sign(cases[0], work / "warm.pdf")  # the interpreter and pyHanko into the page cache
    start = time.perf_counter()
    for _ in range(plan.startups):
        run("--version")
    results.figures.append(Figure(None, CLI, plan.startups, time.perf_counter() - start))
    for case in cases:
        for _ in range(plan.warmup):
            sign(case, work / "warm.pdf")
        outputs = [work / f"out-{case.document.mib}-{i}.pdf" for i in range(_runs(plan, case))]
        start = time.perf_counter()
        for out in outputs:
            sign(case, out)
        seconds = time.perf_counter() - start
        for out in outputs:
            checker.check(f"{CLI} {case.name}", case, out.read_bytes())
            out.unlink()
        results.verified += len(outputs)
        results.figures.append(Figure(case, CLI, len(outputs), seconds))
    for case in cases:
        if plan.measures_memory(case):
            peak = sign(case, work / "memory.pdf")
            checker.check(f"{CLI} {case.name} (memory)", case, (work / "memory.pdf").read_bytes())
            results.verified += 1
            results.memory.append(Memory(case, CLI + ": peak RSS of the process", peak))


# --- agent over HTTPS ----------------------------------------------------------------------


def sign_body(case: Case, certificate: x509.Certificate) -> bytes:
    """A ``/v1/pdf/sign`` request naming the key's certificate (the user is offered just it)."""
    body: dict[str, Any] = {
        "pdf": base64.b64encode(case.document.pdf).decode(),
        "certificate": base64.b64encode(_der(certificate)).decode(),
        "documentName": f"bench-{case.document.mib}MB.pdf",
    }
    if case.visible:
        body["appearance"] = {"profile": Profile.PERSONAL.value}
    return json.dumps(body).encode()


def _signed_pdf(raw: bytes) -> bytes:
    return base64.b64decode(json.loads(raw)["pdf"])


def bench_agent(
    agent: AgentProcess,
    *,
    documents: Sequence[Document],
    plan: Plan,
    checker: Checker,
    results: Results,
) -> None:
    """Sign every case through the running agent; check each PDF after its timed loop."""
    client = agent.client(ORIGIN)
    try:
        cases = _cases(documents)
        bodies = {case: sign_body(case, checker.certificate) for case in cases}
        # First use: TLS handshake, token worker start, the PDF stack's imports, fonts.
        client.call("POST", "/v1/pdf/sign", bodies[cases[1]])
        for case in cases:
            for _ in range(plan.warmup):
                client.call("POST", "/v1/pdf/sign", bodies[case])
            raws = []
            start = time.perf_counter()
            for _ in range(_runs(plan, case)):
                raws.append(client.call("POST", "/v1/pdf/sign", bodies[case]))
            seconds = time.perf_counter() - start
            for raw in raws:
                checker.check(f"{AGENT} {case.name}", case, _signed_pdf(raw))
            results.verified += len(raws)
            results.figures.append(Figure(case, AGENT, len(raws), seconds))
            del raws
        for case in cases:
            if plan.measures_memory(case):
                _agent_memory(agent, client, case, bodies[case], checker=checker, results=results)
    finally:
        client.close()


def _agent_memory(
    agent: AgentProcess,
    client: Client,
    case: Case,
    body: bytes,
    *,
    checker: Checker,
    results: Results,
) -> None:
    """One untimed request: the agent's peak resident set during it, and what it keeps."""
    # The agent hands the memory of a large request back a moment after answering it.
    time.sleep(SETTLE)
    before = proc_status(agent.pid, "VmRSS")
    if not reset_peak(agent.pid):
        raise BenchError("cannot reset the agent's peak RSS (/proc/PID/clear_refs)")
    raw = client.call("POST", "/v1/pdf/sign", body)
    peak = proc_status(agent.pid, "VmHWM")
    time.sleep(SETTLE)
    after = proc_status(agent.pid, "VmRSS")
    checker.check(f"{AGENT} {case.name} (memory)", case, _signed_pdf(raw))
    results.verified += 1
    results.memory.append(Memory(case, "agent: peak RSS of the process during the request", peak))
    results.memory.append(
        Memory(case, "agent: peak RSS above the RSS before the request", peak - before, True)
    )
    results.memory.append(
        Memory(case, f"agent: RSS {SETTLE:.0f} s after the answer (what it keeps)", after)
    )


# --- report --------------------------------------------------------------------------------


def report(results: Results, documents: Sequence[Document], plan: Plan) -> str:
    """The printed table."""
    by_key = {(f.case, f.method): f for f in results.figures}
    described = "; ".join(
        f"{d.name} = {len(d.pdf):,} bytes, visible on page {d.page_index + 1} at {list(d.box)}"
        for d in documents
    )
    runs = ", ".join(f"{n} per {mib} MB case" for mib, n in plan.documents)
    lines = [
        "Kyso Agent PDF signing benchmark: POST /v1/pdf/sign vs pyHanko's CLI and pyHanko "
        "in-process",
        f"machine: {machine()}",
        f"load:    1-minute load average {results.loads[0]} at the start, {results.loads[1]} at "
        "the end (other work on the machine is noise in every figure)",
        f"token:   {results.softhsm}, RSA-2048, PAdES B-B, SHA-256",
        "agent:   bench/agent_host.py (kyso-agent serve's start-up, module worker process, "
        "audit log), client in this process",
        f"files:   {described}",
        f"runs:    {runs}; {plan.warmup} untimed warm-up each, after one per method",
        "",
        f"{'figure':<42} {'s/PDF':>8}   {'vs pyHanko CLI':<18} vs in-process",
        "-" * 86,
    ]
    startup = by_key[(None, CLI)]
    lines.append(
        f"{'pyHanko CLI start-up (pyhanko --version)':<42} {startup.per_pdf:>8.3f}   "
        "(in every CLI figure)"
    )
    for case in _cases(documents):
        cli = by_key[(case, CLI)]
        in_process = by_key[(case, IN_PROCESS)]
        for figure in (cli, in_process, by_key[(case, AGENT)]):
            label = f"{case.name:<19} {figure.method}"
            vs_cli = f"{figure.per_pdf / cli.per_pdf:.2f} x"
            vs_in_process = f"{figure.per_pdf / in_process.per_pdf:.2f} x"
            if figure is cli:
                vs_cli, vs_in_process = "1.00 x (baseline)", ""
            lines.append(
                f"{label:<42} {figure.per_pdf:>8.3f}   {vs_cli:<18} {vs_in_process}".rstrip()
            )
    lines.append("-" * 86)
    lines.append(f"memory signing the {MEMORY_MIB} MB file (untimed runs of their own):")
    for memory in results.memory:
        size = len(memory.case.document.pdf)
        label = f"{memory.case.name:<16} {memory.what}"
        lines.append(
            f"{label:<72} {memory.value / MIB:>7.1f} MiB {memory.value / size:>5.1f} x file"
        )
    lines.append("-" * 86)
    lines.append(
        f"every signed PDF above ({results.verified}) was verified with pyHanko: intact, valid, "
        "trusted (test CA), incremental, widget iff visible"
    )
    memory_case = Case(next(d for d in documents if d.mib == MEMORY_MIB), visible=False)
    ratio = by_key[(memory_case, AGENT)].per_pdf / by_key[(memory_case, CLI)].per_pdf
    lines += [
        "",
        f"budget ({'full' if plan is FULL else 'quick'} run"
        f"{'' if plan is FULL else ': one signature per case'}):",
        budget_line(
            f"[3] /v1/pdf/sign {memory_case.name}, B-B, vs the CLI",
            f"{ratio:.2f} x CLI",
            f"<= {PDF_RATIO} x",
            ratio <= PDF_RATIO,
        ),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Provision, measure, print; 1 when a request or a check failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="one signature per case (seconds)")
    plan = QUICK if parser.parse_args(argv).quick else FULL
    loads_start = load_average()
    with tempfile.TemporaryDirectory(prefix="kyso-bench-pdf-") as tmp:
        root = Path(tmp)
        try:
            hsm, certificate, ca = one_key_token(root, HOLDER)
        except BenchError as exc:
            print(f"bench aborted: {exc}", file=sys.stderr)
            return 1
        checker = Checker(certificate, ca)
        results = Results()
        try:
            documents = make_documents(plan)
            in_process_baseline(
                hsm.module, documents=documents, plan=plan, checker=checker, results=results
            )
            cli_baseline(
                hsm, root, documents=documents, plan=plan, checker=checker, results=results
            )
            agent = start_agent(
                host_argv(root / "agent", hsm.module, ORIGIN, PIN),
                root / "agent",
                hsm.environ(),
                root / "agent.log",
            )
            try:
                bench_agent(agent, documents=documents, plan=plan, checker=checker, results=results)
            finally:
                agent.stop()
        except (BenchError, OSError) as exc:
            print(f"bench aborted: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    results.loads = (loads_start, load_average())
    print(report(results, documents, plan))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
