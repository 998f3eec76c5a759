"""A resident agent that stays small: what large PDFs cost it in memory, by the way they come.

The agent (``bench/agent_host.py``: ``kyso-agent serve``'s start-up, a prompter that approves at
once) signs a 20 MB and a 100 MB "scan" PDF (uncompressed noise: ``sample_pdf(scan_bytes=…)``)
invisible, PAdES B-B, sent three ways to ``POST /v1/pdf/sign``:

- **json**: the PDF in base64 inside JSON (what portals send today), answered in JSON;
- **multipart**: a browser form, the PDF as a ``file`` part, answered in JSON;
- **raw**: the PDF itself as an ``application/pdf`` body, answered with the signed PDF;
- **batch**: ``POST /v1/pdf/sign/batch`` with five PDFs of a fifth of the size each, in base64
  inside JSON (budget 7 only: "after any request");
- **xml** (1 and 20 MB): ``POST /v1/xml/sign`` of one e-invoice of that size, in base64 inside
  JSON (budget 7 only; its peak, which is lxml's, is reported);
- **verify json**, **verify raw**: ``POST /v1/pdf/verify`` of the PDF once signed, in base64
  inside JSON and as the body itself (budget 7; their peaks are reported);
- **vnpt**, **bkav**: the PDF through the VNPT and BKAV plugin layers, in base64 in one
  WebSocket call (BKAV's in its library's pieces) and answered in one message, on a socket the
  page keeps open as their libraries do (``bench/pages.py``; budget 7 only, as JSON).

For each, one request on its own, with the agent idle before it (no PDF worker left):

- **peak above idle**: the largest the agent's processes (the agent, its token worker and its
  PDF worker) were during the request, as the sum of each process's peak (``VmHWM``, reset
  just before; a process started during the request counts whole), minus their resident set
  before. A sum of peaks may add moments that did not coincide: it is an upper bound;
- **back to idle**: the agent's processes' resident set sampled every 0.1 s after the answer,
  and how long it took to come within ``idle + 15 MB`` (the PDF worker ends
  ``IDLE_SECONDS`` after its last document), or what it still was at 5 s.

Then the time of a 20 MB signature sent multipart (answered in JSON, and asking for the PDF
itself with ``Accept: application/pdf``) and raw, transfer included (from sending the body to
having read the whole answer), against pyHanko signing the same bytes in this process with its
own ``PKCS11Signer`` (``bench_pdf.in_process_signer``, logged in once): ``RUNS`` rounds, each
one pyHanko signature then one of each request (the PDF worker kept between them), so that the
machine's drift falls on the baseline as on the agent; medians. The first request after the
worker ended (its start included) is printed beside.

Every signed PDF is checked with pyHanko (intact, valid, trusted, one signature, the original in
front). Budgets (docs/performance.md, "A resident agent that stays small"): back within
idle + 15 MB in 5 s after every request, the batch's too; the peak above idle at most 3 x the
file, multipart and raw; the 20 MB form and raw signatures, each answered with the PDF itself,
at most 3 x pyHanko in-process (the form answered in JSON is reported beside: its base64 is the
answer's encoding, not the document's transfer). ``--quick``: the 20 MB document only, one timed
run.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Final

from bench_pdf import (
    ORIGIN,
    Case,
    Checker,
    Document,
    Plan,
    Results,
    in_process_signer,
    make_documents,
)
from bench_xml import Checker as XmlChecker
from bench_xml import invoice, large_invoice, sign_body
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from harness import (
    MIB,
    PIN,
    AgentProcess,
    BenchError,
    Client,
    budget_line,
    children,
    host_argv,
    load_average,
    machine,
    one_key_token,
    proc_status,
    reset_peak,
    start_agent,
    start_transfer_host,
)
from pages import Page

from agent.testing.samples import sample_pdf

HOLDER: Final = "Trần Thị Mai"
TRANSPORTS: Final = ("json", "multipart", "raw")
BATCH: Final = "batch"
BATCH_DOCUMENTS: Final = 5
"""PDFs in the batch request, each a fifth of the size measured."""
XML: Final = "xml"
VERIFY_JSON: Final = "verify json"
VERIFY_RAW: Final = "verify raw"
VNPT: Final = "vnpt"
BKAV: Final = "bkav"
PEAK_JUDGED: Final = ("multipart", "raw")
"""The ways of sending budget 8 applies to: the document's own bytes, no base64 to decode."""
XML_MIB: Final = (1, 20)
"""The sizes of the e-invoices signed through ``/v1/xml/sign`` (lxml's tree of one is 25 to 35
times larger: 100 MB would need gigabytes). 1 MB is a large real invoice, below the size
that used to schedule the release of memory after a request."""
BACK_WITHIN: Final = 15 * MIB
"""Budget: after a request the agent's processes come back within idle + this."""
BACK_SECONDS: Final = 5.0
"""... within this many seconds."""
PEAK_RATIO: Final = 3.0
"""Budget: the peak above idle is at most this multiple of the file (multipart, raw)."""
TIME_RATIO: Final = 3.0
"""Budget: a 20 MB multipart or raw signature takes at most this multiple of pyHanko's."""
RUNS: Final = 5
PDF: Final = "application/pdf"
TIMED: Final = (("multipart", None), ("multipart", PDF), ("raw", None))
"""The timed requests: a form answered in JSON (base64), the same form asking for the PDF
itself (``Accept: application/pdf``), and a raw body (answered with the PDF)."""
JUDGED: Final = ("multipart -> pdf", "raw")
"""The timed requests budget 9 applies to: the document's own bytes both ways. The form answered
in JSON is reported beside: its base64 is the answer's encoding, not the transfer."""
BOUNDARY: Final = "kyso-bench-boundary-7d1f"


@dataclass(frozen=True)
class Request:
    """One way of sending a document."""

    transport: str
    path: str
    body: bytes
    content_type: str
    accept: str | None = None
    """``application/pdf``: the answer is the signed PDF itself, whatever the body."""

    @property
    def label(self) -> str:
        """How it is sent, and how answered when that differs from the body's default."""
        if self.accept and self.transport != "raw":
            return f"{self.transport} -> pdf"
        return self.transport

    def signed(self, answer: bytes) -> bytes:
        """The signed PDF in the answer."""
        if self.transport == "raw" or self.accept == PDF:
            return answer
        return base64.b64decode(json.loads(answer)["pdf"])

    def all_signed(self, answer: bytes) -> list[bytes]:
        """Every signed PDF in the answer (a batch's, in order; none for XML)."""
        if self.transport == XML:
            return []
        if self.transport != BATCH:
            return [self.signed(answer)]
        return [base64.b64decode(d["pdf"]) for d in json.loads(answer)["documents"]]


def request_for(
    transport: str, pdf: bytes, certificate: bytes, accept: str | None = None
) -> Request:
    """``pdf`` sent as ``transport``, naming the key's certificate (one certificate offered);
    ``accept``: the request's ``Accept``."""
    options = {"certificate": base64.b64encode(certificate).decode()}
    if transport == BATCH:
        documents = [
            {"pdf": base64.b64encode(pdf).decode(), "documentName": f"bench {n + 1}.pdf"}
            for n in range(BATCH_DOCUMENTS)
        ]
        body = json.dumps({"documents": documents, **options}).encode()
        return Request(transport, "/v1/pdf/sign/batch", body, "application/json", accept)
    if transport == "json":
        body = json.dumps({"pdf": base64.b64encode(pdf).decode(), **options}).encode()
        return Request(transport, "/v1/pdf/sign", body, "application/json", accept)
    if transport == "multipart":
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="options"\r\n'
            f"Content-Type: application/json\r\n\r\n{json.dumps(options)}\r\n"
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
            f'filename="bench.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
        ).encode()
        body = head + pdf + f"\r\n--{BOUNDARY}--\r\n".encode()
        return Request(
            transport, "/v1/pdf/sign", body, f"multipart/form-data; boundary={BOUNDARY}", accept
        )
    query = urllib.parse.urlencode({"options": json.dumps(options)})
    return Request(transport, f"/v1/pdf/sign?{query}", pdf, PDF, accept)


@dataclass(frozen=True)
class MemoryFigure:
    """One request measured on its own."""

    mib: int
    transport: str
    seconds: float
    """The request's wall-clock time (a PDF worker started for it)."""
    before: int
    """The agent's processes' resident set before it."""
    peak_above: int
    """Their peak (sum of each one's) above ``before``."""
    back_after: float | None
    """Seconds after the answer until within idle + :data:`BACK_WITHIN`; ``None``: not in
    :data:`BACK_SECONDS`."""
    at_end: int
    """Their resident set :data:`BACK_SECONDS` after the answer."""
    idle: int
    """What "back" meant: the idle resident set before it."""


@dataclass
class Figures:
    """Everything measured."""

    idle_agent: int = 0
    idle_tree: int = 0
    idle_xml: int = 0
    """``idle_tree`` once the XML stack is loaded (the base of the XML row)."""
    idle_layers: int = 0
    """``idle_tree`` once the VNPT and BKAV layers are loaded (the base of their rows)."""
    verified_xml: int = 0
    memory: list[MemoryFigure] = field(default_factory=list)
    times: dict[str, list[float]] = field(default_factory=dict)
    cold: dict[str, float] = field(default_factory=dict)
    in_process: list[float] = field(default_factory=list)
    """pyHanko's own signatures of the same 20 MB, one per round of the timed requests."""
    verified: int = 0
    floor: list[float] = field(default_factory=list)
    """Round trips of the 20 MB body through the agent's transfer code alone (no signing)."""


def tree(pid: int) -> list[int]:
    """The agent and every process under it."""
    return [pid, *children(pid)]


def tree_rss(pid: int) -> int:
    """The resident set of the agent's processes together."""
    return sum(proc_status(p, "VmRSS") for p in tree(pid))


def settle(agent: AgentProcess, baseline: int, seconds: float = 20.0) -> None:
    """Until the agent runs as many processes as when idle (its PDF worker has ended)."""
    deadline = time.monotonic() + seconds
    while len(tree(agent.pid)) > baseline:
        if time.monotonic() > deadline:
            raise BenchError("the agent's PDF worker did not end")
        time.sleep(0.1)
    time.sleep(0.5)


def measure(bench: Bench, transport: str, send: Callable[[], bytes], mib: int, idle: int) -> bytes:
    """``send()`` (one request) on an idle agent: its peak above ``idle`` and how it comes back
    go to the figures; the answer is returned, for the caller to check once they are taken."""
    agent = bench.agent
    settle(agent, bench.baseline)
    before_pids = tree(agent.pid)
    before = sum(proc_status(p, "VmRSS") for p in before_pids)
    for pid in before_pids:
        if not reset_peak(pid):
            raise BenchError("cannot reset a peak RSS (/proc/PID/clear_refs)")
    start = time.perf_counter()
    answer = send()
    seconds = time.perf_counter() - start
    peak = sum(proc_status(p, "VmHWM") for p in tree(agent.pid))
    answered = time.monotonic()
    back_after: float | None = None
    while (elapsed := time.monotonic() - answered) < BACK_SECONDS:
        if back_after is None and tree_rss(agent.pid) <= idle + BACK_WITHIN:
            back_after = elapsed
        time.sleep(0.1)
    at_end = tree_rss(agent.pid)
    bench.figures.memory.append(
        MemoryFigure(mib, transport, seconds, before, peak - before, back_after, at_end, idle)
    )
    return answer


def posted(client: Client, request: Request) -> Callable[[], bytes]:
    """Sending ``request`` with ``client``: its answer's body."""
    return partial(
        client.call,
        "POST",
        request.path,
        request.body,
        content_type=request.content_type,
        accept=request.accept,
    )


def timed(client: Client, request: Request) -> tuple[float, bytes]:
    """Seconds of one request, from sending the body to having read the answer; the signed
    PDF in the answer."""
    start = time.perf_counter()
    answer = client.call(
        "POST", request.path, request.body, content_type=request.content_type, accept=request.accept
    )
    return time.perf_counter() - start, request.signed(answer)


def timed_rounds(
    figures: Figures,
    client: Client,
    requests: Sequence[Request],
    *,
    case: Case,
    module: Path,
    runs: int,
    checker: Checker,
) -> None:
    """``runs`` rounds of one pyHanko signature of ``case`` in this process and one of each
    request, into ``figures``; what they signed is checked after the last round. Not between
    rounds: a check hashes the document, and pyHanko's next signature would then find it in the
    CPU's caches (0.036-0.039 s instead of 0.049-0.052 s here), which the agent's worker,
    reading it from the spool, does not.

    Every PKCS#11 call is made on one thread of its own, from the login to the module's
    finalisation: SoftHSM, loaded into this process, leaves OpenSSL errors in its thread's
    queue (an engine it looks for), which the client's TLS on the main thread would otherwise
    read as its own."""
    signed: list[tuple[str, bytes]] = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pkcs11") as token:
        opened = in_process_signer(module)
        sign, _description = token.submit(opened.__enter__).result()
        try:
            token.submit(sign, case).result()  # first use: the key found, lazy imports
            for _ in range(runs):
                start = time.perf_counter()
                signed.append(("pyHanko in-process", token.submit(sign, case).result()))
                figures.in_process.append(time.perf_counter() - start)
                for request in requests:
                    seconds, pdf = timed(client, request)
                    figures.times.setdefault(request.label, []).append(seconds)
                    signed.append((f"{request.label} 20 MB (timed)", pdf))
        finally:
            token.submit(opened.__exit__, None, None, None).result()
    for label, pdf in signed:
        checker.check(label, case, pdf)
    figures.verified += len(signed)


def run(quick: bool, root: Path) -> tuple[Figures, Results]:
    """Start the token and the agent, measure, stop."""
    hsm, certificate, ca = one_key_token(root / "token", HOLDER)
    checker = Checker(certificate, ca)
    der = certificate.public_bytes(serialization.Encoding.DER)
    sizes = (20,) if quick else (20, 100)
    runs = 1 if quick else RUNS
    plan = Plan(
        warmup=0 if quick else 1,
        documents=tuple((mib, runs) for mib in sizes),
        startups=0,
        memory=(),
    )
    documents = {document.mib: document for document in make_documents(plan)}
    results = Results()
    figures = Figures()
    agent = start_agent(
        host_argv(root / "agent", hsm.module, ORIGIN, PIN),
        root / "agent",
        {**hsm.environ(), "PYTHONUNBUFFERED": "1"},
        root / "agent.log",
    )
    client = agent.client(ORIGIN)
    try:
        client.call("GET", "/v1/info")
        # The token worker starts with the first signature: sign a small PDF, let it settle.
        small = request_for("json", sample_pdf(), der)
        client.call("POST", small.path, small.body, content_type=small.content_type)
        baseline = len(tree(agent.pid)) - 1  # without the PDF worker, which is still there
        settle(agent, baseline)
        time.sleep(2.0)
        figures.idle_agent = proc_status(agent.pid, "VmRSS")
        figures.idle_tree = tree_rss(agent.pid)
        bench = Bench(agent, client, figures, checker, baseline)
        pdf_rows(bench, documents, der)
        verify_rows(bench, sizes, der)
        case = Case(documents[20], visible=False)
        requests = [request_for(t, documents[20].pdf, der, accept) for t, accept in TIMED]
        for request in requests:
            settle(agent, baseline)
            figures.cold[request.label], pdf = timed(client, request)
            checker.check(f"{request.label} 20 MB (first)", case, pdf)
            figures.verified += 1
        timed_rounds(
            figures, client, requests, case=case, module=hsm.module, runs=runs, checker=checker
        )
        # Last, so that nothing of the XML stack or the layers weighs on the timed PDF rounds.
        xml_row(bench, certificate, ca, root)
        plugin_pages(bench, documents)
    finally:
        client.close()
        agent.stop()
    figures.floor = transfer_floor(root / "floor", documents[20].pdf, runs + 1)
    return figures, results


@dataclass(frozen=True)
class Bench:
    """What every row is measured with."""

    agent: AgentProcess
    client: Client
    figures: Figures
    checker: Checker
    baseline: int
    """How many processes the idle agent runs (its PDF worker ended)."""


def settled(bench: Bench) -> int:
    """The agent's processes' resident set once it is idle again: what "back" means for the
    rows after a request that loaded more of it."""
    settle(bench.agent, bench.baseline)
    time.sleep(2.0)
    return tree_rss(bench.agent.pid)


def pdf_rows(bench: Bench, documents: dict[int, Document], der: bytes) -> None:
    """Each PDF sent each way, then as a batch of five, each request on an idle agent."""
    figures, checker = bench.figures, bench.checker
    for mib, document in documents.items():
        case = Case(document, visible=False)
        for transport in TRANSPORTS:
            request = request_for(transport, document.pdf, der)
            answer = measure(
                bench, transport, posted(bench.client, request), mib, figures.idle_tree
            )
            checker.check(f"{transport} {mib} MB (memory)", case, request.signed(answer))
            figures.verified += 1
        # The batch: the same bytes in all, as five documents of a fifth each.
        part = sample_pdf(
            pages=2, text=f"Bench {mib} MB / {BATCH_DOCUMENTS}", scan_bytes=mib * MIB // 5
        )
        request = request_for(BATCH, part, der)
        answer = measure(bench, BATCH, posted(bench.client, request), mib, figures.idle_tree)
        part_case = Case(Document(mib, part, 0, (0, 0, 0, 0)), visible=False)
        for signed in request.all_signed(answer):
            checker.check(f"{BATCH} {mib} MB (memory)", part_case, signed)
        figures.verified += BATCH_DOCUMENTS


def verify_rows(bench: Bench, sizes: Sequence[int], der: bytes) -> None:
    """A PDF of each size, signed first (not measured), checked through ``POST /v1/pdf/verify``
    in JSON and as the body itself, each request on an idle agent. Its scan is half a MiB
    smaller than the signing rows' documents, which fill ``max_pdf_bytes`` so nearly that their
    signed copies would not fit in it."""
    client, figures = bench.client, bench.figures
    for mib in sizes:
        pdf = sample_pdf(pages=2, text=f"Bench {mib} MB", scan_bytes=mib * MIB - MIB // 2)
        signing = request_for("raw", pdf, der)
        signed = client.call("POST", signing.path, signing.body, content_type=PDF)
        sent = {
            VERIFY_JSON: Request(
                VERIFY_JSON,
                "/v1/pdf/verify",
                json.dumps({"pdf": base64.b64encode(signed).decode()}).encode(),
                "application/json",
            ),
            VERIFY_RAW: Request(VERIFY_RAW, "/v1/pdf/verify", signed, PDF),
        }
        for transport, request in sent.items():
            answer = json.loads(
                measure(bench, transport, posted(client, request), mib, figures.idle_tree)
            )
            # The bench's agent trusts no roots: one signature, intact and valid, not trusted.
            found = [(s["intact"], s["valid"]) for s in answer["signatures"]]
            if found != [(True, True)]:
                raise BenchError(f"{transport} {mib} MB: the report says {found}")
        del sent, signed, pdf


def xml_row(bench: Bench, certificate: x509.Certificate, ca: x509.Certificate, root: Path) -> None:
    """An e-invoice of each of :data:`XML_MIB`, after a small one that loads the XML stack
    (lxml), as the PDF stack's worker starts with the first small PDF, so that idle includes
    it."""
    client, figures = bench.client, bench.figures
    client.call("POST", "/v1/xml/sign", sign_body(invoice(1, 3), certificate))
    figures.idle_xml = settled(bench)
    xml_checker = XmlChecker(certificate, ca, root / "xmlsec1")
    xml_checker.work.mkdir()
    for mib in XML_MIB:
        xml = large_invoice(mib * MIB)
        request = Request(XML, "/v1/xml/sign", sign_body(xml, certificate), "application/json")
        answer = measure(bench, XML, posted(client, request), mib, figures.idle_xml)
        signed_xml = base64.b64decode(json.loads(answer)["xml"])
        xml_checker.add(f"xml {mib} MB (memory)", [signed_xml], sample=True)
        del xml, request, answer, signed_xml
    xml_checker.run()
    figures.verified_xml = xml_checker.verified


def plugin_pages(bench: Bench, documents: dict[int, Document]) -> None:
    """Each PDF signed through the VNPT and BKAV layers, the signed PDF answered in base64 in
    one WebSocket message, on a socket the page keeps open (as their libraries do) for the
    5 s measured after it. A small PDF through each first loads the layers (their first call
    imports what they answer with), so that idle includes them."""
    agent, figures = bench.agent, bench.figures
    pages: dict[str, Page] = {}
    try:
        pages[VNPT] = Page(f"wss://127.0.0.1:{agent.layer_port(VNPT)}/plugin", agent.tls, ORIGIN)
        pages[BKAV] = Page(f"wss://127.0.0.1:{agent.layer_port(BKAV)}/", agent.tls, ORIGIN)
        signs = {VNPT: pages[VNPT].vnpt_sign_pdf, BKAV: pages[BKAV].bkav_sign_pdf}
        for sign in signs.values():
            sign(sample_pdf())
        figures.idle_layers = idle = settled(bench)
        for mib, document in documents.items():
            for layer, sign in signs.items():
                signed = measure(bench, layer, partial(sign, document.pdf), mib, idle)
                # BKAV's SignPDFBase64 always puts its stamp on.
                bench.checker.check(
                    f"{layer} {mib} MB (memory)", Case(document, layer == BKAV), signed
                )
                figures.verified += 1
    finally:
        for page in pages.values():
            page.close()


def transfer_floor(data_dir: Path, body: bytes, runs: int) -> list[float]:
    """Seconds of ``runs`` round trips of ``body`` through ``bench/transfer_host.py`` (the
    agent's TLS, spool and streamed answer, no signing), the first one left out."""
    host = start_transfer_host(data_dir)
    client = host.client(ORIGIN)
    seconds: list[float] = []
    try:
        for _ in range(runs):
            start = time.perf_counter()
            echoed = client.call("POST", "/echo", body, content_type=PDF)
            seconds.append(time.perf_counter() - start)
            if echoed != body:
                raise BenchError("the transfer host did not answer the body it was sent")
    finally:
        client.close()
        host.stop()
    return seconds[1:]


def report(figures: Figures, results: Results, quick: bool) -> str:
    """The tables and the budget lines."""
    lines = [
        f"machine: {machine()}; load {results.loads[0]}",
        f"idle: agent {figures.idle_agent / MIB:.1f} MB; agent with its token worker "
        f"{figures.idle_tree / MIB:.1f} MB (the base of 'back to idle'; "
        f"{figures.idle_xml / MIB:.1f} MB with the XML stack, the base of the xml row; "
        f"{figures.idle_layers / MIB:.1f} MB with the VNPT and BKAV layers, of theirs)",
        "",
        "| PDF | sent as | request s | peak above idle | x file | back within +15 MB | "
        f"after {BACK_SECONDS:.0f} s |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    passed_back = passed_peak = True
    for f in figures.memory:
        ratio = f.peak_above / (f.mib * MIB)
        back = f"{f.back_after:.1f} s" if f.back_after is not None else "no"
        lines.append(
            f"| {f.mib} MB | {f.transport} | {f.seconds:.2f} | {f.peak_above / MIB:.0f} MB | "
            f"{ratio:.1f} | {back} | {(f.at_end - f.idle) / MIB:+.1f} MB |"
        )
        passed_back &= f.back_after is not None
        if f.transport in PEAK_JUDGED:
            passed_peak &= ratio <= PEAK_RATIO
    in_process = statistics.median(figures.in_process)
    lines += [
        "",
        f"20 MB, invisible, B-B: pyHanko in-process {in_process:.3f} s/PDF "
        f"(median of {len(figures.in_process)}, one in each round of the requests below)",
    ]
    passed_time = True
    for label, seconds in figures.times.items():
        median = statistics.median(seconds)
        ratio = median / in_process
        if label in JUDGED:
            passed_time &= ratio <= TIME_RATIO
        lines.append(
            f"  agent {label}: {median:.3f} s/PDF (median of {len(seconds)}) = {ratio:.1f} x; "
            f"first after the worker ended {figures.cold[label]:.3f} s"
            + ("" if label in JUDGED else " (reported)")
        )
    floor = statistics.median(figures.floor)
    lines.append(
        f"  the same 20 MB in and out with no signing (bench/transfer_host.py): {floor:.3f} s "
        f"(median of {len(figures.floor)}) = {floor / in_process:.1f} x; with pyHanko's "
        f"own time {(floor + in_process) / in_process:.1f} x"
    )
    note = " (quick: 20 MB)" if quick else ""
    backs = [f.back_after for f in figures.memory]
    slowest = "never" if None in backs else f"{max(b for b in backs if b is not None):.1f} s"
    peaks = [f.peak_above / (f.mib * MIB) for f in figures.memory if f.transport in PEAK_JUDGED]
    ratios = {t: statistics.median(figures.times[t]) / in_process for t in JUDGED}
    lines += [
        "",
        f"checked {figures.verified} signed PDFs with pyHanko, "
        f"{figures.verified_xml} signed XML document(s) with agent.xml.verify and xmlsec1",
        budget_line(
            f"[7] back within idle + 15 MB after each request{note}",
            f"slowest {slowest}",
            f"<= {BACK_SECONDS:.0f} s",
            passed_back,
        ),
        budget_line(
            f"[8] peak above idle, multipart and raw{note}",
            f"worst {max(peaks):.1f} x file",
            f"<= {PEAK_RATIO:.0f} x",
            passed_peak,
        ),
        budget_line(
            "[9] 20 MB form and raw, PDF answer, vs pyHanko",
            " ".join(f"{t} {r:.1f} x" for t, r in ratios.items()),
            f"<= {TIME_RATIO:.0f} x",
            passed_time,
        ),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="20 MB only, one timed run")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kyso-bench-memory-") as tmp:
        figures, results = run(args.quick, Path(tmp))
    results.loads = (load_average(), "")
    print(report(figures, results, args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
