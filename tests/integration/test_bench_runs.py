"""``make bench`` keeps working (its figures are read by people, never asserted here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_sign.py"
BENCH_PDF = BENCH.with_name("bench_pdf.py")


def run_quick(bench: Path) -> subprocess.CompletedProcess[str]:
    """``bench --quick``, which must succeed."""
    done = subprocess.run(
        [sys.executable, str(bench), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_bench_quick_runs_and_reports_every_figure_with_its_ratio() -> None:
    done = run_quick(BENCH)
    for figure in (
        "direct C_Sign RSA-2048",
        "agent /v1/sign RSA-2048",
        "agent /v1/sign EC P-256",
        "agent /v1/sign/batch RSA-2048",
    ):
        line = next(row for row in done.stdout.splitlines() if row.startswith(figure))
        assert " x " in line, line
    assert "every signature above was verified" in done.stdout


def test_pdf_bench_quick_runs_and_reports_every_figure_with_its_ratio() -> None:
    done = run_quick(BENCH_PDF)
    rows = done.stdout.splitlines()
    for case in ("1 MB invisible", "1 MB visible", "20 MB invisible", "20 MB visible"):
        for method in ("pyHanko CLI", "pyHanko in-process", "agent /v1/pdf/sign"):
            line = next(row for row in rows if row.startswith(f"{case} ") and method in row)
            assert " x " in line, line
    for memory in ("pyHanko in-process (bytes", "agent handler", "agent round trip"):
        line = next(row for row in rows if memory in row)
        assert "MiB" in line, line
        assert " x " in line, line
    assert "every signed PDF above" in done.stdout
