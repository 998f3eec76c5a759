"""``make bench`` keeps working (its figures are read by people, never asserted here).

Each bench runs in its quick mode; the tests check that every figure and every budget line
is printed, with a verdict, not what the verdict is: timings on a shared machine are noise.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_sign.py"
BENCH_PDF = BENCH.with_name("bench_pdf.py")
BENCH_PDF_BATCH = BENCH.with_name("bench_pdf_batch.py")
BENCH_START = BENCH.with_name("bench_start.py")
BENCH_XML = BENCH.with_name("bench_xml.py")
BENCH_MEMORY = BENCH.with_name("bench_memory.py")
BUDGET_LINE = re.compile(r"^\[\d\] .+ budget .+ (PASS|MISS)$")


def run_quick(bench: Path, seconds: float = 300) -> subprocess.CompletedProcess[str]:
    """``bench --quick``, which must succeed within ``seconds``."""
    done = subprocess.run(
        [sys.executable, str(bench), "--quick"],
        capture_output=True,
        text=True,
        timeout=seconds,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def budget_lines(stdout: str) -> list[str]:
    """The ``[N] … budget … PASS|MISS`` lines."""
    return [row for row in stdout.splitlines() if BUDGET_LINE.match(row)]


def test_bench_quick_runs_and_reports_every_figure_with_its_ratio() -> None:
    done = run_quick(BENCH)
    rows = done.stdout.splitlines()
    for figure in (
        "direct C_Sign RSA-2048",
        "direct C_Sign EC P-256",
        "agent /v1/sign RSA-2048",
        "agent /v1/sign EC P-256",
        "agent /v1/sign/batch RSA-2048",
        "agent /v1/sign/batch EC P-256",
    ):
        line = next(row for row in rows if row.startswith(figure))
        assert " ms " in line, line
        assert " x " in line or "above" in line, line
    budgets = budget_lines(done.stdout)
    assert [b.split()[0] for b in budgets] == ["[1]", "[1]", "[2]", "[2]"], budgets
    # Each batch's floor: a row of the table, its parts, and the ceiling beside budget 1.
    for name in ("RSA-2048", "EC P-256"):
        floor = next(row for row in rows if row.startswith(f"floor of a batch {name}"))
        assert floor.endswith("x the loop (at most)"), floor
        parts = next(row for row in rows if row.startswith(f"{name}: a batch's floor"))
        found = dict(re.findall(r"(login|HTTPS|JSON|DER|audit row) (\d+\.\d\d)", parts))
        assert list(found) == ["login", "HTTPS", "JSON", "DER", "audit row"], parts
        assert "the agent's own work above the floor, batch by batch: median " in parts, parts
    ceilings = [row for row in rows if "the floor of a batch on this machine allows" in row]
    assert len(ceilings) == 2, ceilings
    assert "every signature above" in done.stdout
    assert "1 (1 = keep-alive held)" in done.stdout


def test_pdf_bench_quick_runs_and_reports_every_figure_with_its_ratio() -> None:
    done = run_quick(BENCH_PDF)
    rows = done.stdout.splitlines()
    for case in ("1 MB invisible", "1 MB visible", "20 MB invisible", "20 MB visible"):
        for method in ("pyHanko CLI", "pyHanko in-process", "agent /v1/pdf/sign"):
            line = next(row for row in rows if row.startswith(f"{case} ") and method in row)
            assert " x " in line, line
    for memory in ("pyHanko CLI: peak RSS", "agent: peak RSS of the process", "after the answer"):
        line = next(row for row in rows if memory in row)
        assert "MiB" in line, line
    [budget] = budget_lines(done.stdout)
    assert budget.startswith("[3] /v1/pdf/sign 20 MB invisible"), budget
    assert "every signed PDF above" in done.stdout


def test_pdf_batch_bench_quick_times_twenty_singles_and_one_batch() -> None:
    done = run_quick(BENCH_PDF_BATCH)
    rows = done.stdout.splitlines()
    singles = next(row for row in rows if row.startswith("20 x /v1/pdf/sign "))
    batch = next(row for row in rows if row.startswith("1 x /v1/pdf/sign/batch "))
    assert "1.00 x (baseline)" in singles, singles
    assert " x" in batch, batch
    [budget] = budget_lines(done.stdout)
    assert budget.startswith("[6] /v1/pdf/sign/batch of 20 vs 20 singles"), budget
    assert "every signed PDF above (40)" in done.stdout


def test_start_bench_quick_reports_start_up_memory_and_idle_cpu() -> None:
    done = run_quick(BENCH_START)
    rows = done.stdout.splitlines()
    assert "idle window 5 s (quick: shorter than the 60 s of the budget)" in done.stdout
    budgets = budget_lines(done.stdout)
    assert len(budgets) == 3, budgets
    assert "start to first answered /v1/info" in budgets[0]
    assert "idle RSS, kyso-agent serve" in budgets[1] and "budget <= 45 MB" in budgets[1]
    assert "idle CPU with token polling" in budgets[-1]
    # The polling agent has its token worker process, reported on a row of its own.
    assert any(r.startswith("agent with token polling") and "child process" in r for r in rows)
    # kyso-agent run's memory beside serve's: measured on a private Xvfb with a tray where the
    # desktop tests can run, else said not to be.
    run = next(r for r in rows if r.startswith("kyso-agent run (tray, idle): agent process RSS"))
    if shutil.which("Xvfb") and shutil.which("trayer") and shutil.which("xdotool"):
        assert run.endswith(" MB"), run
        assert "tray:    kyso-agent run on a private Xvfb with trayer" in rows
    else:
        assert "not measured" in run, run


def test_xml_bench_quick_signs_through_the_agent_and_directly_and_verifies_them() -> None:
    done = run_quick(BENCH_XML)
    rows = done.stdout.splitlines()
    for figure in (
        "direct 1 MB e-invoice",
        "agent /v1/xml/sign 1 MB e-invoice",
        "direct loop 500 e-invoices",
        "agent /v1/xml/sign/batch 500 e-invoices",
    ):
        line = next(row for row in rows if row.startswith(figure))
        assert " doc/s " in line and " ms " in line, line
        assert " x " in line, line
    [budget] = budget_lines(done.stdout)
    assert budget.startswith("[5] /v1/xml/sign/batch, 500 e-invoices"), budget
    assert "was checked with agent.xml.verify" in done.stdout
    # xmlsec1 judged the sample, or the bench said it could not.
    assert "xmlsec1 verified a sample of 6" in done.stdout or "xmlsec1 is not installed" in (
        done.stdout
    )
    assert "1 (1 = keep-alive held)" in done.stdout


def test_memory_bench_quick_measures_each_transport_and_the_time_against_pyhanko() -> None:
    done = run_quick(BENCH_MEMORY, seconds=480)  # each request waits for the agent to settle
    rows = done.stdout.splitlines()
    assert any(r.startswith("idle: agent ") and "token worker" in r for r in rows), rows
    signed = ("json", "multipart", "raw", "batch", "xml", "vnpt", "bkav")
    for transport in (*signed, "verify json", "verify raw"):
        line = next(r for r in rows if r.startswith(f"| 20 MB | {transport} |"))
        assert " MB | " in line, line
    # The baseline is signed in the same rounds as the requests, not before them.
    baseline = next(r for r in rows if "pyHanko in-process" in r)
    assert "one in each round of the requests below" in baseline, baseline
    for label in ("multipart", "multipart -> pdf", "raw"):
        line = next(r for r in rows if r.strip().startswith(f"agent {label}:"))
        assert " x; first after the worker ended " in line, line
    # The transfer alone, measured beside: the floor under budget 9.
    floor = next(r for r in rows if "with no signing (bench/transfer_host.py)" in r)
    assert " x; with pyHanko's own time " in floor, floor
    budgets = budget_lines(done.stdout)
    assert [b.split()[0] for b in budgets] == ["[7]", "[8]", "[9]"], budgets
    assert "checked " in done.stdout and " signed PDFs with pyHanko" in done.stdout
