"""``agent/spool.py``: uploads written to disk as they arrive, and nothing left behind."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import signal
import stat
import sys
import threading
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path

import pytest

from agent import spool as spool_module
from agent.errors import PayloadTooLarge, StorageFailed
from agent.spool import Spool, SpooledFile, discard, finished, read_chunks

MIB = 1024 * 1024


async def arriving(chunks: Iterable[bytes]) -> AsyncIterator[bytes]:
    """``chunks`` as a request body delivers them."""
    for chunk in chunks:
        await asyncio.sleep(0)
        yield chunk


def spooled(tmp_path: Path) -> Spool:
    spool = Spool(tmp_path / "spool")
    spool.sweep()
    return spool


def left_in(spool: Spool) -> list[Path]:
    return sorted(spool.directory.iterdir())


async def test_an_upload_is_written_as_it_arrives_with_its_size_and_sha256(tmp_path: Path) -> None:
    spool = spooled(tmp_path)
    chunks = [b"%PDF-1.7\n", os.urandom(300_000), b"%%EOF\n"]
    file = await spool.receive(arriving(chunks), limit=MIB, shown_limit=MIB)
    whole = b"".join(chunks)
    assert file.path.read_bytes() == whole
    assert (file.size, file.sha256) == (len(whole), hashlib.sha256(whole).digest())
    assert left_in(spool) == [file.path]
    if os.name == "posix":
        assert stat.S_IMODE(file.path.stat().st_mode) == 0o600


async def test_an_upload_over_the_limit_is_refused_and_removed(tmp_path: Path) -> None:
    spool = spooled(tmp_path)
    with pytest.raises(PayloadTooLarge) as refused:
        await spool.receive(arriving([b"x" * 600, b"x" * 600]), limit=1000, shown_limit=999)
    assert refused.value.limit == 999
    assert left_in(spool) == []
    exactly = await spool.receive(arriving([b"x" * 500, b"x" * 500]), limit=1000, shown_limit=1000)
    assert exactly.size == 1000


async def test_an_upload_cancelled_midway_leaves_nothing(tmp_path: Path) -> None:
    """The server stopping, or a body deadline, cancels the handler while it reads."""
    spool = spooled(tmp_path)
    first_written = asyncio.Event()

    async def stalls() -> AsyncIterator[bytes]:
        yield b"%PDF-" + bytes(100_000)
        first_written.set()
        await asyncio.Event().wait()  # the rest never comes
        yield b""

    receiving = asyncio.create_task(spool.receive(stalls(), MIB, MIB))
    await first_written.wait()
    assert len(left_in(spool)) == 1
    receiving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await receiving
    assert left_in(spool) == []


async def test_a_body_cut_off_by_the_client_is_its_own_error_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    spool = spooled(tmp_path)

    async def cut_off() -> AsyncIterator[bytes]:
        yield b"%PDF-" + bytes(100_000)
        raise ConnectionResetError("Connection lost")  # what aiohttp's read raises then

    # Not the disk's failure: the caller tells a client gone from a full disk.
    with pytest.raises(ConnectionResetError):
        await spool.receive(cut_off(), MIB, MIB)
    assert left_in(spool) == []


@contextlib.contextmanager
def disk_full_at(size: int) -> Iterator[None]:
    """Files of this process cannot grow past ``size`` bytes (the kernel refuses the write, as
    on a full disk): ``RLIMIT_FSIZE``, with SIGXFSZ ignored so that the write fails instead."""
    resource = pytest.importorskip("resource")
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, limits[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, previous)


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
async def test_a_write_the_disk_refuses_is_a_storage_failure_and_leaves_nothing(
    tmp_path: Path,
) -> None:
    spool = spooled(tmp_path)
    with disk_full_at(256 * 1024), pytest.raises(StorageFailed) as refused:
        await spool.receive(arriving([bytes(200_000)] * 3), MIB, MIB)
    assert left_in(spool) == []
    assert refused.value.code.value == "STORAGE_FAILED"
    assert "disk" in refused.value.public_message("en")
    assert "ổ đĩa" in refused.value.public_message("vi")
    with disk_full_at(256 * 1024), pytest.raises(StorageFailed):
        await spool.from_bytes(bytes(600_000))
    assert left_in(spool) == []


async def test_bytes_whose_caller_is_cancelled_mid_write_leave_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page closed while a batch's documents were being written: the thread writing one
    cannot be stopped, and the file it finishes is removed once it has."""
    spool = spooled(tmp_path)
    writing, go_on = threading.Event(), threading.Event()
    real_write_all = spool_module._write_all  # noqa: SLF001 - the disk's side, held in place

    def slow_write_all(descriptor: int, data: bytes) -> None:
        writing.set()
        go_on.wait(10)
        real_write_all(descriptor, data)

    monkeypatch.setattr(spool_module, "_write_all", slow_write_all)
    task = asyncio.create_task(spool.from_bytes(bytes(300_000)))
    await asyncio.to_thread(writing.wait, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert len(left_in(spool)) == 1, "the thread is still writing its file"
    go_on.set()
    for _ in range(200):  # the thread ends, then the loop runs the removal
        if not left_in(spool):
            break
        await asyncio.sleep(0.01)
    assert left_in(spool) == []


async def test_bytes_are_spooled_whole(tmp_path: Path) -> None:
    spool = spooled(tmp_path)
    data = os.urandom(70_000)
    file = await spool.from_bytes(data)
    assert (file.path.read_bytes(), file.size) == (data, len(data))
    assert file.sha256 == hashlib.sha256(data).digest()
    # A file the agent wrote is measured, not read again for a digest nobody is shown.
    assert await finished(file.path) == SpooledFile(file.path, file.size, None)


async def test_a_spooled_file_is_read_back_in_pieces_and_as_base64_that_joins(
    tmp_path: Path,
) -> None:
    spool = spooled(tmp_path)
    data = os.urandom(1_000_001)
    file = await spool.from_bytes(data)
    pieces = [piece async for piece in read_chunks(file, 65_536)]
    assert b"".join(pieces) == data
    assert {len(p) for p in pieces[:-1]} == {65_536}
    encoded = [piece async for piece in read_chunks(file, 3 * 21_845, base64.b64encode)]
    assert b"".join(encoded) == base64.b64encode(data)


async def test_a_spooled_file_shorter_than_measured_is_a_storage_failure(tmp_path: Path) -> None:
    spool = spooled(tmp_path)
    file = await spool.from_bytes(b"%PDF-1.7")
    longer = SpooledFile(file.path, file.size + 1, file.sha256)
    with pytest.raises(StorageFailed):
        async with contextlib.aclosing(read_chunks(longer)) as pieces:
            async for _piece in pieces:
                pass


def test_sweep_removes_what_a_killed_agent_left_and_makes_the_directory_private(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "data" / "spool"
    directory.mkdir(parents=True, mode=0o755)
    directory.chmod(0o755)  # as an older version, or another program, left it
    for name in ("a1b2.pdf", "c3d4.pdf"):
        (directory / name).write_bytes(b"%PDF-")
    assert Spool(directory).sweep() == 2
    assert list(directory.iterdir()) == []
    if os.name == "posix":
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert Spool(directory).sweep() == 0


def test_sweep_makes_the_directory_when_there_is_none(tmp_path: Path) -> None:
    directory = tmp_path / "data" / "spool"
    assert Spool(directory).sweep() == 0
    assert directory.is_dir()
    if os.name == "posix":
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700


async def test_discard_removes_what_is_there_and_skips_the_rest(tmp_path: Path) -> None:
    spool = spooled(tmp_path)
    kept = await spool.from_bytes(b"%PDF-kept")
    file = await spool.from_bytes(b"%PDF-a")
    path = (await spool.from_bytes(b"%PDF-b")).path
    gone = await spool.from_bytes(b"%PDF-c")
    gone.path.unlink()
    discard(file, None, path, gone, spool.new_path())
    assert left_in(spool) == [kept.path]
    discard(file, path)  # twice: nothing to do, nothing raised
