"""A worker stuck in a vendor call dies with the agent on Windows too: its job, under Wine.

On Linux a worker asks the kernel to kill it when the agent dies
(tests/integration/test_resilience.py, ``kill -9``). On Windows the agent puts its workers in a
Job object that kills them when its handle closes (agent/child/winjob.py). Here, in Wine, an
agent (this checkout, on the installed ``python.exe``) starts a worker for a PKCS#11 module that
never returns from its first call (``hang_module.c``, built with mingw-w64): once the worker is
inside that call, its pipe closing would not end it. The agent is then killed with
``TerminateProcess`` (what ``taskkill /F`` does), and the worker must be gone within seconds.
Without the job it is still there (the test then ends it itself).

What Wine 8.0 does, found by hand before this test: it implements
``JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE``. A child assigned to a job with that flag is ended
within a second of its parent being killed, whether by ``taskkill /F /PID`` inside Wine or by
``kill -9`` of the parent's Unix process (the wineserver closes the dead process's handles);
without the flag the child lives on. Wine 8 also lets a process already in a job join a
second one (nested jobs), and honours ``JOB_OBJECT_LIMIT_SILENT_BREAKAWAY_OK``: a process the
worker starts stays outside the job and outlives the agent.

The agent here is the installed one (the MSI of tests/windows/conftest.py, in its prefix).
Without Wine or mingw-w64 the test is skipped, except in CI (``CI=true``), where it fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.windows.installed import windows_path
from tests.wine import require

HANG_MODULE_SOURCE = Path(__file__).with_name("hang_module.c")
MINGW_GCC = "x86_64-w64-mingw32-gcc"

WinePython = Callable[[str], subprocess.CompletedProcess[str]]

#: Runs in Wine's python.exe: starts the agent, waits until its worker is inside the module's
#: call, kills the agent and reports on the worker as one JSON line. MODULE is prepended.
KILL_THE_AGENT = r'''
import ctypes, json, os, re, subprocess, sys, tempfile, time
from ctypes import wintypes

# The agent: one worker process, asked for its module's report, which never comes.
AGENT = """
import logging, sys, threading, time
from pathlib import Path
from agent.isolation import WorkerLimits
from agent.token.calls import Report
from agent.token.process import ProcessWorker
logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
worker = ProcessWorker(Path(sys.argv[1]), WorkerLimits(call_timeout=600, start_timeout=600))
threading.Thread(target=worker.call_sync, args=(Report(),), daemon=True).start()
time.sleep(600)
"""
SYNCHRONIZE, PROCESS_TERMINATE, WAIT_OBJECT_0 = 0x00100000, 0x0001, 0
kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
kernel32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
kernel32.OpenProcess.restype = wintypes.HANDLE
kernel32.WaitForSingleObject.argtypes = (wintypes.HANDLE, wintypes.DWORD)
kernel32.WaitForSingleObject.restype = wintypes.DWORD
kernel32.TerminateProcess.argtypes = (wintypes.HANDLE, wintypes.UINT)
kernel32.TerminateProcess.restype = wintypes.BOOL
kernel32.CloseHandle.argtypes = (wintypes.HANDLE,)
kernel32.CloseHandle.restype = wintypes.BOOL

result = {"worker": None, "in_call": False, "ended_with_agent": None, "agent_output": []}
with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as scratch:
    marker = os.path.join(scratch, "in-the-call")  # hang_module.c creates it
    env = dict(os.environ, KYSO_HANG_MARKER=marker)
    # -P and an empty working directory: the agent and its worker import the installed agent.
    agent = subprocess.Popen(
        [sys.executable, "-B", "-P", "-c", AGENT, MODULE], cwd=scratch, env=env,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        for line in agent.stdout:
            result["agent_output"].append(line.rstrip())
            if started := re.match(r"started worker process (\d+) ", line):
                result["worker"] = int(started[1])
                break
        deadline = time.monotonic() + 120
        while result["worker"] and not os.path.exists(marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        result["in_call"] = os.path.exists(marker)
    finally:
        worker = result["worker"] and kernel32.OpenProcess(
            SYNCHRONIZE | PROCESS_TERMINATE, False, result["worker"]
        )
        agent.kill()  # TerminateProcess, as taskkill /F
        agent.wait()
    if worker:
        result["ended_with_agent"] = kernel32.WaitForSingleObject(worker, 15_000) == WAIT_OBJECT_0
        if not result["ended_with_agent"]:
            kernel32.TerminateProcess(worker, 1)  # leave nothing behind
        kernel32.CloseHandle(worker)
print(json.dumps(result))
'''


@pytest.fixture(scope="module")
def hang_module(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``hang_module.c`` as a Windows DLL."""
    compiler = shutil.which(MINGW_GCC)
    require(f"{MINGW_GCC} (apt-get install gcc-mingw-w64-x86-64)", compiler)
    assert compiler is not None
    library = tmp_path_factory.mktemp("hang") / "hang_module.dll"
    built = subprocess.run(
        [compiler, "-shared", "-O2", "-Wall", "-Werror", "-o", str(library), HANG_MODULE_SOURCE],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return library


def test_killing_the_agent_ends_a_worker_stuck_in_a_vendor_call(
    wine_python: WinePython, hang_module: Path
) -> None:
    preamble = f"MODULE = {windows_path(hang_module)!r}\n"
    done = wine_python(preamble + KILL_THE_AGENT)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["worker"], result
    assert result["in_call"], result  # stuck where only the job can end it
    assert result["ended_with_agent"], f"the worker outlived the agent: {result}"
