"""Start-up of the installed Windows agent under Wine 8 — Wine on this Linux machine, not
Windows: the figures say how the MSI's agent behaves in Wine, not how fast it starts for an
official (docs/performance.md keeps them apart).

The MSI is installed in a new Wine prefix as the Windows tests install it
(tests/windows/installed.py: the test-only bcryptprimitives.dll, SoftHSM2 for Windows). Then, in
one python.exe of that prefix (the measuring process), each start is timed from ``Popen`` of
``python.exe -m agent serve`` to its first answered ``GET /v1/info`` (a request from a Windows
program: Wine traces its socket to this user, so the caller check admits it). The first start
also creates the local CA and TLS certificate and has a row of its own.

Baseline, in the same process and the same run: ``python.exe -c pass``, Popen to exit (what
any Windows program started under Wine pays), and ``python.exe -c "import agent.cli"``.

No budget: Wine's costs are not Windows'. Skipped (exit 0, with a line saying so) where Wine,
Xvfb or mingw-w64 are missing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

ROOT: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the Windows tests' set-up (tests/windows/installed.py)

from harness import load_average, machine  # noqa: E402

#: Runs in the prefix's python.exe; STARTS and MODULE are prepended. One JSON line out.
MEASURE: Final = r"""
import http.client, json, os, socket, ssl, subprocess, sys, tempfile, time

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

def timed(argv):
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start

def start_serve(data_dir):
    port = free_port()
    argv = [sys.executable, "-m", "agent", "serve", "--port", str(port), "--vgca-port", "0",
            "--vnpt-port", "0", "--bkav-port", "0", "--fpt-port", "0",
            "--data-dir", data_dir, "--pkcs11-module", MODULE,
            "--allow-origin", "https://bench.example.gov.vn"]
    for attempt in range(3):
        start = time.perf_counter()
        try:
            agent = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            break
        except OSError:  # Wine 8 once answered ERROR_INTERNAL_ERROR right after a kill
            result["retried"] += 1
            time.sleep(1)
    else:
        raise SystemExit("CreateProcess kept failing")
    ca = os.path.join(data_dir, "tls", "ca.pem")
    deadline = start + 120
    while time.perf_counter() < deadline:
        if os.path.exists(ca):
            try:
                c = http.client.HTTPSConnection("127.0.0.1", port, timeout=10,
                    context=ssl.create_default_context(cafile=ca))
                c.request("GET", "/v1/info")
                if c.getresponse().status == 200:
                    seconds = time.perf_counter() - start
                    c.close()
                    agent.kill()
                    agent.wait()
                    return seconds
            except (OSError, ssl.SSLError, http.client.HTTPException):
                pass
        time.sleep(0.02)
    agent.kill()
    raise SystemExit("the agent did not answer within 120 s")

result = {"python": [], "import": [], "first": None, "serve": [], "retried": 0}
for _ in range(STARTS):
    result["python"].append(timed([sys.executable, "-c", "pass"]))
    result["import"].append(timed([sys.executable, "-c", "import agent.cli"]))
with tempfile.TemporaryDirectory() as scratch:
    data = [os.path.join(scratch, "a"), os.path.join(scratch, "b")]
    result["first"] = start_serve(data[0])
    start_serve(data[1])  # its TLS files too, so that every timed start reuses them
    for index in range(STARTS):
        result["serve"].append(start_serve(data[index % 2]))
print(json.dumps(result))
"""


def report(result: dict[str, Any], starts: int, loads: tuple[str, str]) -> str:
    def median(key: str) -> float:
        return float(statistics.median(result[key]))

    serve, python = median("serve"), median("python")
    rows = [
        ("baseline: python.exe -c pass (Popen to exit)", f"{python:6.2f} s"),
        ('python.exe -c "import agent.cli"', f"{median('import'):6.2f} s"),
        ("first start (creates the local CA and TLS certificate)", f"{result['first']:6.2f} s"),
        ("kyso-agent serve: Popen to first answered /v1/info", f"{serve:6.2f} s"),
        ("ratio serve / bare python.exe start", f"{serve / python:6.1f} x"),
        ("CreateProcess retried (Wine's ERROR_INTERNAL_ERROR)", f"{result['retried']:6d}"),
    ]
    lines = [
        "bench_start_wine: the installed Windows agent under Wine 8 (NOT Windows)",
        f"machine: {machine()}; load average {loads[0]} -> {loads[1]}",
        f"{starts} starts each, medians; measured inside Wine by the prefix's python.exe",
        "",
        *(f"{name:<58} {figure}" for name, figure in rows),
        "no budget: Wine's process and DLL costs are not Windows'",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="2 starts instead of 5")
    starts = 2 if parser.parse_args(argv).quick else 5
    # pytest's skip is what the set-up raises when Wine or a tool is missing.
    from _pytest.outcomes import OutcomeException

    from tests.windows.installed import MODULE, build_wine_tools, installed_agent, tray_desktop

    loads_start = load_average()
    try:
        tools = build_wine_tools()
        with (
            tempfile.TemporaryDirectory(prefix="kyso-bench-wine-") as tmp,
            tray_desktop() as display,
            installed_agent(display, Path(tmp), tools) as agent,
        ):
            done = agent.wine.python(f"STARTS = {starts}\nMODULE = {MODULE!r}\n" + MEASURE)
    except OutcomeException as exc:
        print(f"bench_start_wine: skipped: {exc.msg}")
        return 0
    if done.returncode != 0:
        print(f"bench aborted: {done.stdout}{done.stderr}", file=sys.stderr)
        return 1
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(report(result, starts, (loads_start, load_average())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
