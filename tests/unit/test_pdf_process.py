"""The PDF work in child processes (:mod:`agent.pdf.process`): sessions, reuse, idle reaping,
and what a refusal, a token error, a dead child, a cancelled caller and a failed TSA leave.

Real: the ``python -m agent.pdf.host`` children, pyHanko and PDFium inside them, the pipe
between, hand-written sample PDFs, and pyHanko's validator (in this process) judging each
signed file. Substituted: the token. The RawSigner is a coroutine signing the digest with an
in-memory RSA key (``cryptography``, PKCS#1 v1.5 over the pre-hashed digest) whose certificate
a :class:`TestCa` issued: the PDF worker only ever sees a digest go out and a signature come
back, so a SoftHSM token (and its own worker process) would add start-up time and nothing to
check here. Children are found through ``/proc`` (Linux), never through private attributes.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from agent.algorithms import HashAlgorithm, KeyType
from agent.errors import BadRequest, PinIncorrect, SigningFailed
from agent.messages import Lang
from agent.pdf import commands as pdf
from agent.pdf.models import (
    Appearance,
    PageThumbnail,
    PdfSignOptions,
    Profile,
    RawSigner,
    SignatureLevel,
)
from agent.pdf.process import InThread, PdfProcesses, PdfWork
from agent.testing.softhsm import TestCa, vn_name
from tests.pdftools import pyhanko_bottom_line, sample_pdf
from tests.unit.test_lazy_imports import PDF_STACK, loaded

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="children found through /proc")

DER = serialization.Encoding.DER


@dataclass(frozen=True)
class Holder:
    """The signer: an RSA key in memory standing in for the token, and its certificate."""

    ca: TestCa
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    async def raw(self, digest: bytes, algorithm: HashAlgorithm) -> bytes:
        assert algorithm is HashAlgorithm.SHA256
        return self.key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))

    def signing_key(self, raw: RawSigner | None = None) -> pdf.SigningKey:
        chain = (self.ca.cert.public_bytes(DER),)
        return pdf.SigningKey(self.cert.public_bytes(DER), chain, KeyType.RSA, raw or self.raw)

    async def valid(self, signed: bytes | None) -> bool:
        """pyHanko finds one signature, intact, valid and trusted (the test CA as root)."""
        if signed is None:
            return False
        # pyHanko's synchronous validator runs an event loop of its own: not on this one.
        verdicts = await asyncio.to_thread(pyhanko_bottom_line, signed, self.ca.cert)
        return verdicts == [True]


class Waiting:
    """A RawSigner that waits, as a token waits for its PIN, until released."""

    def __init__(self, holder: Holder) -> None:
        self.asked = asyncio.Event()
        self.released = asyncio.Event()
        self.cancelled = False
        self._holder = holder

    async def __call__(self, digest: bytes, algorithm: HashAlgorithm) -> bytes:
        self.asked.set()
        try:
            await self.released.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        return await self._holder.raw(digest, algorithm)


@pytest.fixture(scope="module")
def holder() -> Holder:
    ca = TestCa.create()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Holder(ca, key, ca.issue(key.public_key(), vn_name("Nguyễn Văn An", "UBND")))


@pytest.fixture
async def processes() -> AsyncIterator[PdfProcesses]:
    work = PdfProcesses()
    yield work
    await work.close()


def workers() -> set[int]:
    """The pids of this process's live ``agent.pdf.host`` children."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes()  # empty for a zombie
        except (OSError, IndexError, ValueError):
            continue
        if ppid == os.getpid() and b"agent.pdf.host" in command:
            found.add(int(entry.name))
    return found


async def eventually(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    """Whether ``condition`` holds within ``seconds`` (a bound, not a speed to meet)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


async def sign(
    job: pdf.PdfJob,
    holder: Holder,
    key: int = 1,
    *,
    raw: RawSigner | None = None,
    output: Path | None = None,
    options: PdfSignOptions | None = None,
) -> bytes | None:
    """Prepare the sample as document ``key`` of ``job`` and sign it."""
    await job.prepare(key, sample_pdf(), Appearance())
    options = options or PdfSignOptions()
    signer = holder.signing_key(raw)
    return await job.sign(
        key, signer, options=options, trust_roots=(), font_dir=None, output=output
    )


def closed_port() -> int:
    """A port of 127.0.0.1 nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def test_a_session_prepares_previews_and_signs_in_a_child(
    processes: PdfWork, holder: Holder, tmp_path: Path
) -> None:
    output = tmp_path / "signed.pdf"
    async with pdf.job(processes) as job:
        assert await job.prepare(1, sample_pdf(), Appearance()) == 2
        [pid] = workers()
        assert pid != os.getpid()
        shown = await job.thumbnail(1, side=200, max_bytes=200_000)
        assert isinstance(shown, PageThumbnail) and shown.png.startswith(b"\x89PNG")
        assert (shown.page_index, shown.pages) == (0, 2)
        in_memory = await job.sign(
            1, holder.signing_key(), options=PdfSignOptions(), trust_roots=(), font_dir=None
        )
        assert await sign(job, holder, 2, output=output) is None
        assert workers() == {pid}
    assert await holder.valid(in_memory)
    assert await holder.valid(output.read_bytes())


_DRIVER = """
import asyncio, json, sys
from pathlib import Path
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from agent.algorithms import KeyType
from agent.pdf import commands as pdf
from agent.pdf.models import Appearance, PdfSignOptions
from agent.pdf.process import PdfProcesses
from agent.testing.samples import sample_pdf

folder = Path(sys.argv[1])
key = serialization.load_der_private_key((folder / "key.der").read_bytes(), None)
cert = (folder / "cert.der").read_bytes()


async def raw(digest, algorithm):
    return key.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))


async def main():
    work = PdfProcesses()
    async with pdf.job(work) as job:
        await job.prepare(1, sample_pdf(), Appearance())
        signer = pdf.SigningKey(cert, (), KeyType.RSA, raw)
        out = folder / "signed.pdf"
        await job.sign(1, signer, options=PdfSignOptions(), trust_roots=(), font_dir=None,
                       output=out)
    await work.close()


asyncio.run(main())
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in sys.argv[2:])))
"""


async def test_the_agent_signs_without_loading_the_pdf_stack(
    holder: Holder, tmp_path: Path
) -> None:
    # This interpreter has imported pyHanko (the verifier): the agent's side runs in a fresh one.
    plain = serialization.NoEncryption()
    key = holder.key.private_bytes(DER, serialization.PrivateFormat.PKCS8, plain)
    (tmp_path / "key.der").write_bytes(key)
    (tmp_path / "cert.der").write_bytes(holder.cert.public_bytes(DER))
    assert await asyncio.to_thread(loaded, _DRIVER, str(tmp_path), *PDF_STACK) == []
    assert await holder.valid((tmp_path / "signed.pdf").read_bytes())


def mapped_libraries(pid: int) -> str:
    """The files mapped into process ``pid``: a package's compiled parts show there once it
    is imported (aiohttp's parsers, multidict, HarfBuzz, Pillow)."""
    return Path(f"/proc/{pid}/maps").read_text()


#: Compiled parts of what a worker need not load for an invisible signature
#: (:mod:`agent.pdf.lean`, and the stamp code loaded only for a stamp).
UNUSED_FOR_INVISIBLE = ("/aiohttp/", "/multidict/", "/yarl/", "/uharfbuzz/", "/PIL/")


async def test_an_invisible_signature_leaves_aiohttp_and_the_stamp_code_unloaded(
    processes: PdfWork, holder: Holder
) -> None:
    async with pdf.job(processes) as job:
        signed = await sign(job, holder)
        [pid] = workers()
        libraries = mapped_libraries(pid)
    assert "/pyhanko" not in libraries  # pure Python: its absence says nothing
    assert "/cryptography/" in libraries, "the check sees what the worker loaded"
    assert [name for name in UNUSED_FOR_INVISIBLE if name in libraries] == []
    assert await holder.valid(signed)


async def test_a_stamp_loads_the_stamp_code_in_the_worker(
    processes: PdfWork, holder: Holder
) -> None:
    async with pdf.job(processes) as job:
        await job.prepare(1, sample_pdf(), Appearance(profile=Profile.PERSONAL))
        signed = await job.sign(
            1,
            holder.signing_key(),
            options=PdfSignOptions(appearance=Appearance(profile=Profile.PERSONAL)),
            trust_roots=(),
            font_dir=None,
        )
        [pid] = workers()
        libraries = mapped_libraries(pid)
    assert "/uharfbuzz/" in libraries and "/aiohttp/" not in libraries
    assert await holder.valid(signed)


async def test_a_refused_document_leaves_the_child_for_the_next_session(
    processes: PdfWork, holder: Holder
) -> None:
    async with pdf.job(processes) as job:
        with pytest.raises(BadRequest) as refused:
            await job.prepare(1, b"hello", Appearance())
        [pid] = workers()
    assert refused.value.phrase is not None and refused.value.phrase.key == "bad_pdf_not_pdf"
    async with pdf.job(processes) as job:
        assert await holder.valid(await sign(job, holder))
        assert workers() == {pid}


async def test_a_file_to_verify_that_is_gone_is_refused_in_words_and_the_child_serves_on(
    processes: PdfWork, holder: Holder, tmp_path: Path
) -> None:
    """A spooled document an antivirus took away, or the tray's file moved after it was
    chosen: a refusal saying what to do, without the path; the worker reads the next one."""
    gone = tmp_path / "spool" / "a1b2.pdf"
    signed = tmp_path / "signed.pdf"
    async with pdf.job(processes) as job:
        with pytest.raises(BadRequest) as refused:
            await job.verify(gone, ())
        [pid] = workers()
        assert await sign(job, holder, output=signed) is None
        [signature] = (await job.verify(signed, ())).signatures
        assert signature.intact and workers() == {pid}
    assert refused.value.phrase is not None and refused.value.phrase.key == "verify_unreadable"
    assert str(gone) not in str(refused.value.public_message(Lang.VI))


async def test_an_ended_session_leaves_its_child_to_the_next_one(
    processes: PdfWork, holder: Holder
) -> None:
    async with pdf.job(processes) as job:
        await job.prepare(1, sample_pdf(), Appearance())
        [pid] = workers()
    assert workers() == {pid}
    async with pdf.job(processes) as job:
        # The child forgot the last session's documents.
        with pytest.raises(SigningFailed, match="KeyError"):
            await job.sign(
                1, holder.signing_key(), options=PdfSignOptions(), trust_roots=(), font_dir=None
            )
        assert await holder.valid(await sign(job, holder))
        assert workers() == {pid}


async def test_an_idle_child_ends_after_its_idle_time(holder: Holder) -> None:
    work = PdfProcesses(idle_seconds=0.2)
    try:
        async with pdf.job(work) as job:
            assert await holder.valid(await sign(job, holder))
            [pid] = workers()
        assert await eventually(lambda: pid not in workers())
    finally:
        await work.close()


async def test_a_token_error_reaches_the_caller_and_the_child_goes_on(
    processes: PdfWork, holder: Holder
) -> None:
    async def wrong_pin(digest: bytes, algorithm: HashAlgorithm) -> bytes:
        raise PinIncorrect("the token refused the PIN")

    async with pdf.job(processes) as job:
        with pytest.raises(PinIncorrect):
            await sign(job, holder, raw=wrong_pin)
        [pid] = workers()
        # The pipe is still in step: the same session signs the next document.
        assert await holder.valid(await sign(job, holder, 2))
        assert workers() == {pid}


async def test_a_child_killed_mid_signature_fails_the_request_alone(
    processes: PdfWork, holder: Holder, tmp_path: Path
) -> None:
    token = Waiting(holder)
    output = tmp_path / "signed.pdf"
    async with pdf.job(processes) as job:
        signing = asyncio.ensure_future(sign(job, holder, raw=token, output=output))
        await asyncio.wait_for(token.asked.wait(), 60)
        [pid] = workers()
        os.kill(pid, signal.SIGKILL)
        assert await eventually(lambda: pid not in workers())
        token.released.set()  # the token answers after the child died
        with pytest.raises(SigningFailed):
            await asyncio.wait_for(signing, 60)
    assert not output.exists()  # the half it wrote, removed for it
    async with pdf.job(processes) as job:
        assert await holder.valid(await sign(job, holder))
        [fresh] = workers()
    assert fresh != pid


async def test_a_cancelled_signature_ends_its_child_and_leaves_no_file(
    processes: PdfWork, holder: Holder, tmp_path: Path
) -> None:
    token = Waiting(holder)  # never released: a pin pad nobody types on
    output = tmp_path / "signed.pdf"
    async with pdf.job(processes) as job:
        signing = asyncio.ensure_future(sign(job, holder, raw=token, output=output))
        await asyncio.wait_for(token.asked.wait(), 60)
        [pid] = workers()
        assert output.exists()  # the child is writing it
        signing.cancel()
        await asyncio.wait([signing], timeout=60)
        assert signing.cancelled()
        assert token.cancelled  # nothing is signed for a caller who went away
    assert pid not in workers()
    assert not output.exists()


async def test_a_cancelled_signature_on_a_thread_ends_the_wait_for_the_token(
    holder: Holder, tmp_path: Path
) -> None:
    token = Waiting(holder)
    output = tmp_path / "signed.pdf"
    async with pdf.job(InThread()) as job:
        signing = asyncio.ensure_future(sign(job, holder, raw=token, output=output))
        await asyncio.wait_for(token.asked.wait(), 60)
        signing.cancel()
        await asyncio.wait([signing], timeout=60)
        assert signing.cancelled()
    assert await eventually(lambda: token.cancelled and not output.exists())


async def test_close_ends_idle_children(holder: Holder) -> None:
    work = PdfProcesses()  # idle for 3 s before it ends on its own
    async with pdf.job(work) as job:
        await job.prepare(1, sample_pdf(), Appearance())
        [pid] = workers()
    await work.close()
    assert pid not in workers()


async def test_threads_sign_as_the_children_do(holder: Holder) -> None:
    async with pdf.job(InThread()) as job:
        assert await holder.valid(await sign(job, holder))
    assert workers() == set()


async def test_a_signature_failed_in_the_child_leaves_no_file(
    processes: PdfWork, holder: Holder, tmp_path: Path
) -> None:
    tsa = f"http://127.0.0.1:{closed_port()}/tsa"
    options = PdfSignOptions(level=SignatureLevel.B_T, tsa_url=tsa)
    output = tmp_path / "signed.pdf"
    async with pdf.job(processes) as job:
        with pytest.raises(SigningFailed, match="time-stamping authority"):
            await sign(job, holder, output=output, options=options)
        [pid] = workers()
        assert await holder.valid(await sign(job, holder, 2))  # a failure is not a dead child
        assert workers() == {pid}
    assert not output.exists()
