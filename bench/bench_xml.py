"""What XML signing costs through the agent: a ~1 MB e-invoice and a batch of 500, against the
same canonicalisation and signing done directly on the same token.

What is measured, on a throw-away SoftHSM token with one RSA-2048 key, for e-invoices in the
shape of Decree 123 / Circular 78 (``HDon/DLHDon`` with an Id: ``TTChung``, ``NDHDon`` with
``NBan``, ``NMua``, ``DSHHDVu`` item lines and ``TToan``), made here with invented content, each
signed by the seller (profile ``einvoice``, the signature into ``HDon/DSCKS/NBan``):

1. **Direct** (the baseline): the agent's own XML code in this process (``agent.xml.parse``,
   ``agent.xml.profiles.locate``, ``agent.xml.sign.prepare`` and ``finish``: parsing, inclusive
   C14N in document context, the two References' digests, the canonical ``SignedInfo``) and
   python-pkcs11 ``C_Sign`` with ``CKM_RSA_PKCS`` over the SHA-256 ``DigestInfo`` of that
   ``SignedInfo`` (as the agent's token layer signs it), on one session logged in once. Bytes
   in, signed bytes out; a batch prepares every document, signs, then finishes every document,
   in the agent's order.
2. **Agent**: the agent in a child process (``bench/agent_host.py``: the start-up of
   ``kyso-agent serve`` — audit log, module worker process — with a prompter in the agent's
   process that approves at once and types the PIN), called by one keep-alive HTTPS client in
   this process: sequential ``POST /v1/xml/sign`` of the ~1 MB invoice (each timed), and
   ``POST /v1/xml/sign/batch`` of 500 small invoices (one question, one login), timed from
   sending the prepared body to having read the whole answer. Each request does what it does
   for a user: JSON and base64 both ways, every document parsed, located and summarised for the
   question, then parsed and prepared again after it, an inventory, a login, the audit row.

The ~1 MB invoice is signed directly and through the agent in alternating rounds; each batch
follows a direct loop over as many invoices (other work on the machine falls on both). Every
signed document, direct or from the agent, is checked after the timed loops with
``agent.xml.verify`` (one signature, intact, valid, chained to the test CA, made with the
bench's certificate); a sample (the 1 MB invoice, the first and the last of a batch, from both
sides) is verified by xmlsec1, an independent XMLDSig implementation, when it is installed (a
note says so when it is not). Any failed request or check aborts the run.

Budget (docs/performance.md): the 500-invoice batch at 0.8 x the direct documents per second or
better. The 1 MB invoice has no budget: its ratio is printed. Run with ``--quick`` for a smoke
run of a few seconds (fewer rounds and batches; the budget line says so).
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final

import pkcs11
from cryptography import x509
from cryptography.hazmat.primitives import serialization

# The benches' shared helpers sit beside this script (a script's folder is on sys.path).
from harness import (
    KEY_ID,
    LABEL,
    MIB,
    PIN,
    AgentProcess,
    BenchError,
    Client,
    Latencies,
    budget_line,
    host_argv,
    load_average,
    machine,
    one_key_token,
    start_agent,
)

from agent.algorithms import HashAlgorithm
from agent.protocol import MAX_XML_BATCH
from agent.token.mechanisms import digest_info
from agent.xml.models import DSIG_NS, EinvoiceRole, PlacementSpec, Profile
from agent.xml.parse import parse_xml
from agent.xml.profiles import locate
from agent.xml.sign import finish, prepare
from agent.xml.verify.check import verify_xml

HOLDER: Final = "CÔNG TY TNHH VẬN TẢI THỬ NGHIỆM KYSO"
"""Whose key the bench token holds."""
ORIGIN: Final = "https://bench.example.gov.vn"
SPEC: Final = PlacementSpec(Profile.EINVOICE, EinvoiceRole.SELLER)
"""Where every signature goes: the seller's, into ``HDon/DSCKS/NBan``."""
RSA_SHA256: Final = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
LARGE_BYTES: Final = 1_000_000
"""Size the large invoice is grown to with item lines (at least this, by one line at most)."""
SMALL_LINES: Final = 5
"""Item lines of each invoice of the batch."""
BATCH_RATIO: Final = 0.8
"""Budget: a batch signs at least this fraction of the direct documents per second."""
XMLSEC_ID_ATTRS: Final = (
    ("Id", "DLHDon"),
    ("Id", f"{DSIG_NS}:SignatureProperties"),
    ("Id", f"{DSIG_NS}:Signature"),
)
"""The Id attributes xmlsec1 must be told of to resolve the References' ``#Id``."""

DIRECT: Final = "direct"
AGENT: Final = "agent"


@dataclass(frozen=True)
class Plan:
    """How many operations each phase runs."""

    name: str
    """``full`` or ``quick``."""
    warmup: int
    """Untimed signatures of each kind before the first round (imports, caches, handshake)."""
    rounds: int
    """Rounds of direct signatures then ``/v1/xml/sign`` requests of the large invoice."""
    per_round: int
    """Timed signatures of the large invoice per round, on each side."""
    batch: int
    """Invoices in each ``/v1/xml/sign/batch`` and each direct loop."""
    batches: int
    """Timed batches (the median counts), each right after a direct loop."""


FULL: Final = Plan("full", warmup=2, rounds=5, per_round=2, batch=MAX_XML_BATCH, batches=5)
QUICK: Final = Plan("quick", warmup=0, rounds=1, per_round=1, batch=MAX_XML_BATCH, batches=1)


@dataclass
class Figures:
    """Everything measured."""

    direct_large: list[float] = field(default_factory=list)
    """Seconds of each direct signature of the large invoice, all rounds."""
    agent_large: list[float] = field(default_factory=list)
    """Seconds of each ``/v1/xml/sign`` round trip of the large invoice, all rounds."""
    direct_batches: list[float] = field(default_factory=list)
    """Seconds of each direct loop over a batch's invoices."""
    agent_batches: list[float] = field(default_factory=list)
    """Seconds of each ``/v1/xml/sign/batch``, each right after a direct loop."""
    connections: int = 0
    """HTTPS connections the client opened."""
    softhsm: str = ""
    loads: tuple[str, str] = ("", "")
    """The 1-minute load average at the start and at the end."""


# --- documents -----------------------------------------------------------------------------

_SELLER: Final = "<NBan><Ten>CÔNG TY TNHH VẬN TẢI THỬ NGHIỆM KYSO</Ten><MST>0100000001</MST>\
<DChi>Số 1 Phố Tràng Tiền, Phường Hoàn Kiếm, Hà Nội</DChi></NBan>"
_BUYER: Final = "<NMua><Ten>Công ty Cổ phần Thương mại Mua Hàng</Ten><MST>0300000002</MST>\
<DChi>Số 2 Đường Lê Lợi, Phường Bến Thành, TP. Hồ Chí Minh</DChi></NMua>"


def _item(line: int) -> tuple[str, int]:
    """One ``HHDVu`` and its amount before tax (quantities and prices vary with ``line``)."""
    quantity = 1 + line % 7
    price = 150_000 + 1_000 * (line % 97)
    amount = quantity * price
    xml = (
        f"\n        <HHDVu><TChat>1</TChat><STT>{line}</STT><MHHDVu>VC{line:06d}</MHHDVu>"
        f"<THHDVu>Dịch vụ vận chuyển hàng hóa Hà Nội - TP. Hồ Chí Minh, chuyến số {line}"
        f"</THHDVu><DVTinh>Chuyến</DVTinh><SLuong>{quantity}</SLuong><DGia>{price}</DGia>"
        f"<TLCKhau>0</TLCKhau><STCKhau>0</STCKhau><ThTien>{amount}</ThTien><TSuat>10%</TSuat>"
        "</HHDVu>"
    )
    return xml, amount


def invoice(number: int, lines: int) -> bytes:
    """An unsigned e-invoice number ``number`` (its Id ``DLHDon-<number>``) of ``lines`` items."""
    items = [_item(line) for line in range(1, lines + 1)]
    before_tax = sum(amount for _xml, amount in items)
    tax = before_tax // 10
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<HDon xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" \
xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <DLHDon Id="DLHDon-{number:06d}">
    <TTChung><PBan>2.1.0</PBan><THDon>Hóa đơn giá trị gia tăng</THDon><KHMSHDon>1</KHMSHDon>\
<KHHDon>C25TKB</KHHDon><SHDon>{number}</SHDon><NLap>2025-03-14</NLap><DVTTe>VND</DVTTe>\
<TGia>1</TGia><HTTToan>TM/CK</HTTToan><MSTTCGP>0100000009</MSTTCGP></TTChung>
    <NDHDon>
      {_SELLER}
      {_BUYER}
      <DSHHDVu>{"".join(xml for xml, _amount in items)}
      </DSHHDVu>
      <TToan><THTTLTSuat><LTSuat><TSuat>10%</TSuat><ThTien>{before_tax}</ThTien>\
<TThue>{tax}</TThue></LTSuat></THTTLTSuat><TgTCThue>{before_tax}</TgTCThue>\
<TgTThue>{tax}</TgTThue><TTCKTMai>0</TTCKTMai><TgTTTBSo>{before_tax + tax}</TgTTTBSo>\
<TgTTTBChu>Số tiền viết bằng chữ (bench)</TgTTTBChu></TToan>
    </NDHDon>
  </DLHDon>
  <DSCKS><NBan/><NMua/></DSCKS>
</HDon>
""".encode()


def large_invoice(at_least: int = LARGE_BYTES) -> bytes:
    """The ~1 MB invoice (or one of ``at_least`` bytes): as many item lines as it takes."""
    size, lines = len(invoice(1, 0)), 0
    while size < at_least:
        lines += 1
        size += len(_item(lines)[0].encode())
    return invoice(1, lines)


def small_invoices(first: int, count: int) -> list[bytes]:
    """``count`` invoices numbered from ``first`` (a portal never signs the same one twice)."""
    return [invoice(number, SMALL_LINES) for number in range(first, first + count)]


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


# --- verification --------------------------------------------------------------------------


@dataclass
class Checker:
    """Checks every signed document after the timing, and a sample with xmlsec1."""

    certificate: x509.Certificate
    """The certificate every signature must be made with."""
    ca: x509.Certificate
    """The only trust root."""
    work: Path
    """Where xmlsec1's files go."""
    pending: list[tuple[str, list[bytes]]] = field(default_factory=list)
    samples: list[tuple[str, bytes]] = field(default_factory=list)
    verified: int = 0
    """Documents checked with ``agent.xml.verify``."""
    by_xmlsec1: int = 0
    """Documents verified by xmlsec1."""
    xmlsec1: str | None = field(default_factory=lambda: shutil.which("xmlsec1"))

    def add(self, label: str, signed: Sequence[bytes], *, sample: bool = False) -> None:
        """Check later each of ``signed``; with ``sample``, xmlsec1 judges the first and last."""
        self.pending.append((label, list(signed)))
        if sample and signed:
            self.samples.append((f"{label} #1", signed[0]))
            if len(signed) > 1:
                self.samples.append((f"{label} #{len(signed)}", signed[-1]))

    def run(self) -> None:
        """Check everything added; :class:`BenchError` on the first failure."""
        der = _der(self.certificate)
        for label, signed in self.pending:
            for index, document in enumerate(signed):
                report = verify_xml(document, [self.ca])
                if len(report.signatures) != 1 or not report.all_valid:
                    problems = [p.value for s in report.signatures for p in s.problems]
                    raise BenchError(
                        f"{label} #{index + 1}: {len(report.signatures)} signature(s), "
                        f"valid: {report.all_valid}, problems: {problems}"
                    )
                if report.signatures[0].certificate != der:
                    raise BenchError(f"{label} #{index + 1}: signed with another certificate")
                self.verified += 1
        self.pending.clear()
        if self.xmlsec1 is None:
            return
        ca_pem = self.work / "ca.pem"
        ca_pem.write_bytes(self.ca.public_bytes(serialization.Encoding.PEM))
        for label, document in self.samples:
            self._xmlsec1(label, document, self.xmlsec1, ca_pem)
            self.by_xmlsec1 += 1
        self.samples.clear()

    def _xmlsec1(self, label: str, document: bytes, command: str, ca_pem: Path) -> None:
        path = self.work / "signed.xml"
        path.write_bytes(document)
        argv = [command, "--verify", "--trusted-pem", str(ca_pem)]
        for attribute, element in XMLSEC_ID_ATTRS:
            argv += [f"--id-attr:{attribute}", element]
        done = subprocess.run(
            [*argv, str(path)], capture_output=True, text=True, check=False, timeout=120
        )
        if done.returncode != 0 or "SignedInfo References (ok/all): 2/2" not in done.stderr:
            raise BenchError(f"{label}: xmlsec1 says: {done.stderr[-800:]}")


# --- direct baseline -----------------------------------------------------------------------


class Direct:
    """The agent's XML code and python-pkcs11 on the bench token, logged in once, here."""

    def __init__(self, module: Path, certificate: x509.Certificate) -> None:
        self._lib = pkcs11.lib(str(module))
        major, minor = self._lib.library_version
        self.description = f"{self._lib.manufacturer_id.strip()} {major}.{minor}"
        self._certificate = certificate
        self._session = self._lib.get_token(token_label=LABEL).open(user_pin=PIN)
        key = self._session.get_key(
            object_class=pkcs11.ObjectClass.PRIVATE_KEY, id=bytes.fromhex(KEY_ID)
        )
        if not isinstance(key, pkcs11.SignMixin):
            raise BenchError("the private key cannot sign")
        self._key = key

    def sign(self, documents: Sequence[bytes]) -> list[bytes]:
        """Every document signed as the agent signs a batch: all prepared (parse, locate,
        C14N, digests, ``SignedInfo``), each ``SignedInfo`` digest through ``C_Sign``
        (``CKM_RSA_PKCS`` over its ``DigestInfo``), all finished (value written, serialised)."""
        when = datetime.now().astimezone()  # local wall time, as the agent writes it
        prepared = []
        for document in documents:
            tree = parse_xml(document)
            prepared.append(prepare(tree, locate(tree, SPEC), self._certificate, signing_time=when))
        values = [
            bytes(
                self._key.sign(
                    digest_info(HashAlgorithm.SHA256, p.to_be_signed_digest),
                    mechanism=pkcs11.Mechanism.RSA_PKCS,
                )
            )
            for p in prepared
        ]
        return [finish(p, value) for p, value in zip(prepared, values, strict=True)]

    def timed(self, documents: Sequence[bytes]) -> tuple[float, list[bytes]]:
        """:meth:`sign`, timed as a whole: seconds and the signed documents."""
        start = time.perf_counter()
        signed = self.sign(documents)
        return time.perf_counter() - start, signed

    def close(self) -> None:
        """Log out and finalise the module."""
        self._session.close()
        self._lib.finalize()


# --- agent over HTTPS ----------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sign_body(document: bytes, certificate: x509.Certificate) -> bytes:
    """A ``/v1/xml/sign`` request naming the key's certificate (the user is offered just it)."""
    return json.dumps(
        {
            "xml": _b64(document),
            "profile": Profile.EINVOICE.value,
            "role": EinvoiceRole.SELLER.value,
            "certificate": _b64(_der(certificate)),
            "documentName": "HĐ bench 1 MB",
        }
    ).encode()


def batch_body(documents: Sequence[bytes], certificate: x509.Certificate) -> bytes:
    """A ``/v1/xml/sign/batch`` request of ``documents``."""
    return json.dumps(
        {
            "documents": [
                {"xml": _b64(d), "profile": Profile.EINVOICE.value, "documentName": f"HĐ {i + 1}"}
                for i, d in enumerate(documents)
            ],
            "certificate": _b64(_der(certificate)),
        }
    ).encode()


def _checked_answer(raw: bytes, certificate: x509.Certificate) -> dict[str, object]:
    answer: dict[str, object] = json.loads(raw)
    if answer.get("certificate") != _b64(_der(certificate)):
        raise BenchError("the agent answered with another certificate")
    return answer


def agent_sign(client: Client, body: bytes, certificate: x509.Certificate) -> tuple[float, bytes]:
    """One ``/v1/xml/sign`` round trip, timed; the signed document."""
    start = time.perf_counter()
    raw = client.call("POST", "/v1/xml/sign", body)
    seconds = time.perf_counter() - start
    answer = _checked_answer(raw, certificate)
    if answer.get("signatureAlgorithm") != RSA_SHA256:
        raise BenchError(f"/v1/xml/sign signed with {answer.get('signatureAlgorithm')}")
    return seconds, base64.b64decode(str(answer["xml"]))


def agent_batch(
    client: Client, body: bytes, count: int, certificate: x509.Certificate
) -> tuple[float, list[bytes]]:
    """One ``/v1/xml/sign/batch``, timed; the signed documents in the request's order."""
    start = time.perf_counter()
    raw = client.call("POST", "/v1/xml/sign/batch", body)
    seconds = time.perf_counter() - start
    answer = _checked_answer(raw, certificate)
    documents = answer.get("documents")
    if not isinstance(documents, list) or answer.get("signed") != count or len(documents) != count:
        raise BenchError(f"/v1/xml/sign/batch signed {answer.get('signed')} of {count}")
    signed = []
    for index, document in enumerate(documents):
        if document.get("index") != index or document.get("signed") is not True:
            raise BenchError(f"/v1/xml/sign/batch: document {index} answered {document}")
        if document.get("signatureAlgorithm") != RSA_SHA256:
            raise BenchError(f"/v1/xml/sign/batch: document {index} not RSA-SHA256")
        signed.append(base64.b64decode(document["xml"]))
    return seconds, signed


def measure(
    direct: Direct,
    agent: AgentProcess,
    *,
    certificate: x509.Certificate,
    plan: Plan,
    checker: Checker,
    large: bytes,
) -> Figures:
    """Every timed loop, each result handed to ``checker``."""
    figures = Figures()
    client = agent.client(ORIGIN)
    try:
        large_body = sign_body(large, certificate)
        # First use: TLS handshake, the token worker, lxml and the XML code warm on both sides.
        direct.sign([large])
        agent_sign(client, large_body, certificate)
        agent_batch(client, batch_body(small_invoices(1, 2), certificate), 2, certificate)
        for _ in range(plan.warmup):
            direct.sign([large])
            agent_sign(client, large_body, certificate)
        for _ in range(plan.rounds):
            for _ in range(plan.per_round):
                seconds, [signed] = direct.timed([large])
                checker.add(f"{DIRECT} 1 MB", [signed], sample=not figures.direct_large)
                figures.direct_large.append(seconds)
            for _ in range(plan.per_round):
                seconds, signed = agent_sign(client, large_body, certificate)
                checker.add(f"{AGENT} 1 MB", [signed], sample=not figures.agent_large)
                figures.agent_large.append(seconds)
        number = 1000
        for index in range(plan.batches):
            documents = small_invoices(number, plan.batch)
            seconds, batch = direct.timed(documents)
            figures.direct_batches.append(seconds)
            checker.add(f"{DIRECT} batch {index + 1}", batch, sample=index == 0)
            documents = small_invoices(number + plan.batch, plan.batch)
            body = batch_body(documents, certificate)
            seconds, batch = agent_batch(client, body, plan.batch, certificate)
            figures.agent_batches.append(seconds)
            checker.add(f"{AGENT} batch {index + 1}", batch, sample=index == 0)
            number += 2 * plan.batch
        figures.connections = client.connections
        return figures
    finally:
        client.close()


# --- report --------------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f} ms"


def report(figures: Figures, plan: Plan, checker: Checker, large: bytes, small: bytes) -> str:
    """The printed table and the budget line."""
    lines = [
        "Kyso Agent XML signing benchmark: POST /v1/xml/sign and /v1/xml/sign/batch vs the same "
        "XML code with python-pkcs11 C_Sign",
        f"machine: {machine()}",
        f"load:    1-minute load average {figures.loads[0]} at the start, {figures.loads[1]} at "
        "the end (other work on the machine is noise in every figure)",
        f"token:   {figures.softhsm}, RSA-2048, CKM_RSA_PKCS over the SHA-256 DigestInfo of "
        "SignedInfo",
        "agent:   bench/agent_host.py (kyso-agent serve's start-up, module worker process, "
        "audit fsync per request, approving prompter in the agent's process)",
        f"files:   e-invoices (profile einvoice, seller): the large one {len(large):,} bytes "
        f"({len(large) / MIB:.2f} MiB), each of the batch about {len(small):,} bytes "
        f"({SMALL_LINES} item lines)",
        f"runs:    {plan.name}: {plan.rounds} round(s) of {plan.per_round} direct signatures of "
        f"the large invoice then {plan.per_round} /v1/xml/sign; {plan.batches} batch(es) of "
        f"{plan.batch}, each right after a direct loop over as many; {plan.warmup} untimed "
        "warm-up each, after one per method",
        "",
        f"{'figure':<44} {'rate':>14} {'median':>10} {'p95':>10}   vs direct",
        "-" * 94,
    ]
    direct = Latencies(tuple(figures.direct_large))
    agent = Latencies(tuple(figures.agent_large))
    lines.append(
        f"{'direct 1 MB e-invoice':<44} {1 / direct.median:>8.1f} doc/s "
        f"{_ms(direct.median):>10} {_ms(direct.p95):>10}   1.00 x (baseline)"
    )
    lines.append(
        f"{'agent /v1/xml/sign 1 MB e-invoice':<44} {1 / agent.median:>8.1f} doc/s "
        f"{_ms(agent.median):>10} {_ms(agent.p95):>10}   "
        f"{agent.median / direct.median:.2f} x the time, {_ms(agent.median - direct.median)} "
        "above"
    )
    loop = statistics.median(figures.direct_batches)
    batch = statistics.median(figures.agent_batches)
    lines.append(
        f"{f'direct loop {plan.batch} e-invoices':<44} {plan.batch / loop:>8.1f} doc/s "
        f"{_ms(loop / plan.batch):>10} {'':>10}   1.00 x (baseline, beside each batch)"
    )
    lines.append(
        f"{f'agent /v1/xml/sign/batch {plan.batch} e-invoices':<44} "
        f"{plan.batch / batch:>8.1f} doc/s {_ms(batch / plan.batch):>10} {'':>10}   "
        f"{loop / batch:.2f} x the throughput"
    )
    lines.append("-" * 94)
    lines.append(
        f"batch of {plan.batch}, whole: direct {_ms(loop)}, agent {_ms(batch)} (medians; "
        "rate = documents / median time)"
    )
    lines.append(
        f"HTTPS connections opened by the client: {figures.connections} (1 = keep-alive held)"
    )
    lines.append(
        f"every signed document above ({checker.verified}) was checked with agent.xml.verify: "
        "one signature, intact, valid, trusted (test CA), the bench's certificate"
    )
    if checker.xmlsec1 is None:
        lines.append(
            "note: xmlsec1 is not installed: the sample was not verified independently "
            "(Debian/Ubuntu: apt-get install xmlsec1)"
        )
    else:
        lines.append(
            f"xmlsec1 verified a sample of {checker.by_xmlsec1} (the 1 MB invoice, the first and "
            "last of a batch, direct and agent), trusting only the test CA"
        )
    ratio = loop / batch
    lines += [
        "",
        f"budget ({plan.name} run{'' if plan is FULL else ': one batch, one 1 MB round'}):",
        budget_line(
            f"[5] /v1/xml/sign/batch, {plan.batch} e-invoices",
            f"{ratio:.2f} x direct",
            f">= {BATCH_RATIO:.1f} x",
            ratio >= BATCH_RATIO,
        ),
        f"    /v1/xml/sign of the 1 MB e-invoice: {agent.median / direct.median:.2f} x the "
        "direct time (no budget)",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Provision, measure, print; 1 when a request or a check failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer operations (a few seconds)")
    plan = QUICK if parser.parse_args(argv).quick else FULL
    loads_start = load_average()
    with tempfile.TemporaryDirectory(prefix="kyso-bench-xml-") as tmp:
        root = Path(tmp)
        try:
            hsm, certificate, ca = one_key_token(root, HOLDER)
        except BenchError as exc:
            print(f"bench aborted: {exc}", file=sys.stderr)
            return 1
        checker = Checker(certificate, ca, root)
        large = large_invoice()
        agent: AgentProcess | None = None
        direct: Direct | None = None
        try:
            direct = Direct(hsm.module, certificate)
            agent = start_agent(
                host_argv(root / "agent", hsm.module, ORIGIN, PIN),
                root / "agent",
                hsm.environ(),
                root / "agent.log",
            )
            figures = measure(
                direct, agent, certificate=certificate, plan=plan, checker=checker, large=large
            )
            checker.run()
        except (BenchError, OSError) as exc:
            print(f"bench aborted: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        finally:
            if agent is not None:
                agent.stop()
            if direct is not None:
                direct.close()
        figures.softhsm = direct.description
    figures.loads = (loads_start, load_average())
    print(report(figures, plan, checker, large, invoice(1, SMALL_LINES)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
