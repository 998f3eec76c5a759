"""Windows: the worker processes die with the agent, as they do on Linux.

On Linux a worker asks the kernel to kill it when the agent dies (``PR_SET_PDEATHSIG``,
:mod:`agent.token.host`). Windows has nothing per process; what it has is a Job object
limited with ``JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE``: when the last handle to the job closes,
every process in it is terminated. The agent creates one such job, at its first worker, and
holds the only handle for the rest of its life (not inheritable, never closed): when the
agent's process ends, however it ends (``TerminateProcess``, ``taskkill /F``, a crash),
Windows closes that handle and ends each worker, one stuck in a vendor call included. (A
worker that is not stuck ends anyway, when its request pipe closes.)

The job holds the workers only. ``JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK`` leaves the processes
a vendor module starts (a token service, a tray helper, shared with the vendor's own tools)
outside it, as libuv does for the processes it spawns; nor can such a start then fail because
it asked to break away from a job.

Failing to put a worker in the job (Windows 7 refuses a process that is in a job already, as
the worker of an agent started inside a job is; Windows 8 and later nest the two) costs only
this protection: it is logged once, as a warning, and the worker serves as before.
"""

from __future__ import annotations

import ctypes
import logging
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Final, Protocol

log = logging.getLogger(__name__)

JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK: Final = 0x00001000
JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE: Final = 0x00002000
#: The job's limits: kill its processes when the agent's handle closes; only the workers.
WORKER_LIMITS: Final = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK
#: ``JOBOBJECTINFOCLASS.JobObjectExtendedLimitInformation``.
EXTENDED_LIMIT_INFORMATION: Final = 9
#: The rights AssignProcessToJobObject needs on the process.
_PROCESS_SET_QUOTA: Final = 0x0100
_PROCESS_TERMINATE: Final = 0x0001


class BasicLimitInformation(ctypes.Structure):
    """``JOBOBJECT_BASIC_LIMIT_INFORMATION``.

    Spelled with fixed-size ctypes rather than ``wintypes`` so that its layout (alignment
    padding after each DWORD before a SIZE_T) can be checked off Windows.
    """

    _fields_ = (
        ("PerProcessUserTimeLimit", ctypes.c_int64),
        ("PerJobUserTimeLimit", ctypes.c_int64),
        ("LimitFlags", ctypes.c_uint32),
        ("MinimumWorkingSetSize", ctypes.c_size_t),
        ("MaximumWorkingSetSize", ctypes.c_size_t),
        ("ActiveProcessLimit", ctypes.c_uint32),
        ("Affinity", ctypes.c_size_t),
        ("PriorityClass", ctypes.c_uint32),
        ("SchedulingClass", ctypes.c_uint32),
    )


class ExtendedLimitInformation(ctypes.Structure):
    """``JOBOBJECT_EXTENDED_LIMIT_INFORMATION``: 144 bytes on 64-bit Windows."""

    _fields_ = (
        ("BasicLimitInformation", BasicLimitInformation),
        ("IoInfo", ctypes.c_uint64 * 6),  # IO_COUNTERS: six ULONGLONG
        ("ProcessMemoryLimit", ctypes.c_size_t),
        ("JobMemoryLimit", ctypes.c_size_t),
        ("PeakProcessMemoryUsed", ctypes.c_size_t),
        ("PeakJobMemoryUsed", ctypes.c_size_t),
    )


class JobApi(Protocol):
    """The two things the job needs of Windows (kernel32; a fake in the unit tests)."""

    def create(self, limit_flags: int) -> int:
        """A new, unnamed, non-inheritable job with ``limit_flags``; its handle. OSError."""
        ...

    def assign(self, job: int, pid: int) -> None:
        """Put the running process ``pid`` in ``job``. OSError."""
        ...


class _Kernel32:
    """:class:`JobApi` over kernel32.

    A private WinDLL (setting argtypes on the shared ``ctypes.windll`` would change them for
    every other user), with every argument and result typed: a handle is 64 bits, which
    ctypes' default C ``int`` would truncate.
    """

    def __init__(self) -> None:
        if sys.platform != "win32":
            raise OSError("Job objects need Windows")
        from ctypes import wintypes

        self._kernel32 = kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
        kernel32.CreateJobObjectW.argtypes = (ctypes.c_void_p, wintypes.LPCWSTR)
        kernel32.CreateJobObjectW.restype = wintypes.HANDLE
        kernel32.SetInformationJobObject.argtypes = (
            wintypes.HANDLE,
            ctypes.c_int,
            ctypes.c_void_p,
            wintypes.DWORD,
        )
        kernel32.SetInformationJobObject.restype = wintypes.BOOL
        kernel32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
        kernel32.OpenProcess.restype = wintypes.HANDLE
        kernel32.AssignProcessToJobObject.argtypes = (wintypes.HANDLE, wintypes.HANDLE)
        kernel32.AssignProcessToJobObject.restype = wintypes.BOOL
        kernel32.CloseHandle.argtypes = (wintypes.HANDLE,)
        kernel32.CloseHandle.restype = wintypes.BOOL

    def create(self, limit_flags: int) -> int:
        if sys.platform != "win32":
            raise OSError("Job objects need Windows")
        kernel32 = self._kernel32
        # No security attributes: the handle is not inherited, so no worker holds the job open.
        job = kernel32.CreateJobObjectW(None, None)
        if not job:
            raise ctypes.WinError(ctypes.get_last_error())
        info = ExtendedLimitInformation()
        info.BasicLimitInformation.LimitFlags = limit_flags
        size = ctypes.sizeof(info)
        if not kernel32.SetInformationJobObject(
            job, EXTENDED_LIMIT_INFORMATION, ctypes.byref(info), size
        ):
            error = ctypes.WinError(ctypes.get_last_error())
            kernel32.CloseHandle(job)
            raise error
        return int(job)

    def assign(self, job: int, pid: int) -> None:
        if sys.platform != "win32":
            raise OSError("Job objects need Windows")
        kernel32 = self._kernel32
        # By pid rather than Popen's private handle: the pid cannot be reused meanwhile,
        # since the Popen object keeps its own handle to the process open until it is reaped.
        process = kernel32.OpenProcess(_PROCESS_SET_QUOTA | _PROCESS_TERMINATE, False, pid)
        if not process:
            raise ctypes.WinError(ctypes.get_last_error())
        try:
            if not kernel32.AssignProcessToJobObject(job, process):
                raise ctypes.WinError(ctypes.get_last_error())
        finally:
            kernel32.CloseHandle(process)


class WorkerJob:
    """The one job of a process, created at its first worker and kept open from then on."""

    def __init__(self, api: Callable[[], JobApi]) -> None:
        self._make_api = api
        self._api: JobApi | None = None
        self._lock = threading.Lock()  # each module's worker starts its child on its own thread
        self._job: int | None = None
        self._warned = False

    def add(self, pid: int) -> bool:
        """Put process ``pid`` in the job; False (and a warning, the first time) if it failed."""
        with self._lock:
            try:
                if self._api is None:
                    self._api = self._make_api()
                if self._job is None:
                    self._job = self._api.create(WORKER_LIMITS)
                self._api.assign(self._job, pid)
            except OSError as exc:
                level = logging.DEBUG if self._warned else logging.WARNING
                self._warned = True
                log.log(
                    level,
                    "worker process %s is not in the agent's job (%s): it may outlive the agent"
                    " if the agent is killed in the middle of a call",
                    pid,
                    exc,
                )
                return False
            return True


#: Per process rather than per app, as the handle is: only the process's end may close it.
_JOB: Final = WorkerJob(_Kernel32)


def contain(process: subprocess.Popen[bytes]) -> None:
    """Have Windows end ``process`` when the agent ends; nothing elsewhere (Linux: see host).

    Call it right after ``Popen``, before the worker is sent its first request: until then it
    is outside the job, but has not loaded its module either.
    """
    if sys.platform != "win32":
        return
    _JOB.add(process.pid)
