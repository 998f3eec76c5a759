"""``make bench`` keeps working (its figures are read by people, never asserted here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_sign.py"


def test_bench_quick_runs_and_reports_every_figure_with_its_ratio() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--quick"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    for figure in (
        "direct C_Sign RSA-2048",
        "agent /v1/sign RSA-2048",
        "agent /v1/sign EC P-256",
        "agent /v1/sign/batch RSA-2048",
    ):
        line = next(row for row in done.stdout.splitlines() if row.startswith(figure))
        assert " x " in line, line
    assert "every signature above was verified" in done.stdout
