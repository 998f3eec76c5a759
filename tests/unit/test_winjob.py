"""The Windows job that takes the workers along with the agent, as far as it shows off Windows.

That Windows really ends the workers is tests/windows/test_winjob_wine.py, under Wine. Here:
the no-op elsewhere, the job's layout and flags, one job for all workers, a failure that is a
warning once and never an error, and that every worker process goes through it.
"""

from __future__ import annotations

import ctypes
import logging
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from agent.child import winjob
from agent.child.winjob import (
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    BasicLimitInformation,
    ExtendedLimitInformation,
    WorkerJob,
)
from agent.token.calls import Report
from agent.token.models import ModuleReport
from agent.token.process import ProcessWorker


class FakeJobApi:
    """A fake of kernel32's job calls: records what the job asked for, fails on cue."""

    def __init__(self, fail_assign: bool = False) -> None:
        self.fail_assign = fail_assign
        self.created: list[int] = []
        self.assigned: list[tuple[int, int]] = []

    def create(self, limit_flags: int) -> int:
        self.created.append(limit_flags)
        return 0x7FFF_0000_1234  # a handle above 32 bits, as 64-bit Windows hands out

    def assign(self, job: int, pid: int) -> None:
        if self.fail_assign:
            raise PermissionError(13, "Access is denied")
        self.assigned.append((job, pid))


@pytest.mark.skipif(struct.calcsize("P") != 8, reason="the layout of 64-bit Windows")
def test_the_limit_structure_has_the_layout_of_64_bit_windows() -> None:
    """SetInformationJobObject checks the size; LimitFlags must land where Windows reads it."""
    assert ctypes.sizeof(BasicLimitInformation) == 64
    assert BasicLimitInformation.LimitFlags.offset == 16
    assert ctypes.sizeof(ExtendedLimitInformation) == 144


def test_one_job_that_kills_on_close_holds_every_worker() -> None:
    api = FakeJobApi()
    made: list[FakeJobApi] = []

    def make() -> FakeJobApi:
        made.append(api)
        return api

    job = WorkerJob(make)
    assert job.add(101) and job.add(202)
    assert len(made) == 1  # kernel32 typed once
    [flags] = api.created  # one job, kept for the next workers
    assert flags & JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
    assert api.assigned == [(0x7FFF_0000_1234, 101), (0x7FFF_0000_1234, 202)]


def test_a_worker_left_outside_the_job_is_a_warning_once_not_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    job = WorkerJob(lambda: FakeJobApi(fail_assign=True))
    with caplog.at_level(logging.DEBUG, logger=winjob.__name__):
        assert not job.add(101)
        assert not job.add(202)
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.DEBUG]
    assert "101" in caplog.records[0].getMessage()
    assert "Access is denied" in caplog.records[0].getMessage()


def test_no_job_api_at_all_is_a_warning_too(caplog: pytest.LogCaptureFixture) -> None:
    def missing() -> FakeJobApi:
        raise OSError("Job objects need Windows")

    with caplog.at_level(logging.WARNING, logger=winjob.__name__):
        assert not WorkerJob(missing).add(101)
    assert len(caplog.records) == 1


@pytest.mark.skipif(sys.platform == "win32", reason="the no-op of other systems")
def test_off_windows_no_job_is_made(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def untouchable() -> FakeJobApi:
        raise AssertionError("a job API was asked for off Windows")

    monkeypatch.setattr(winjob, "_JOB", WorkerJob(untouchable))
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        with caplog.at_level(logging.DEBUG, logger=winjob.__name__):
            winjob.contain(process)
    finally:
        process.wait()
    assert caplog.records == []


def test_every_worker_process_is_handed_to_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    contained: list[subprocess.Popen[bytes]] = []
    monkeypatch.setattr(winjob, "contain", contained.append)
    # No module there: the worker process starts, fails to load it and reports that.
    worker = ProcessWorker(Path("/nonexistent/libvendor.so"))
    try:
        report = worker.call_sync(Report())
    finally:
        worker.close()
    assert isinstance(report, ModuleReport)
    [process] = contained
    assert process.args[1:4] == ["-P", "-m", "agent.token.host"]  # type: ignore[index]
