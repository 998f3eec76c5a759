"""``make demo`` as a newcomer runs it (non-interactively, stopping after the sample)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

DEMO = Path(__file__).resolve().parents[2] / "demo" / "run.py"


def run_demo(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DEMO), "--once", "--root", str(root), "--port", "0"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def test_demo_creates_a_token_signs_and_verifies_then_reuses_it(tmp_path: Path) -> None:
    first = run_demo(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Creating a demo token" in first.stdout
    assert "Signed by: CN=Nguyễn Văn An" in first.stdout
    assert "Signature verified ✓" in first.stdout
    assert (tmp_path / "agent-data" / "tls" / "ca.pem").exists()
    assert "PDF signature verified ✓" in first.stdout
    # No library's warning reaches the newcomer's terminal (agent/pywarnings.py): the agent's
    # stderr and the demo's own go to the same terminal.
    assert "Warning" not in first.stdout + first.stderr, first.stderr
    assert "Chữ ký số 1: Nguyễn Văn An" in first.stdout  # kyso-agent verify's own report
    checked = subprocess.run(
        ["pdfsig", str(tmp_path / "signed-sample.pdf")], capture_output=True, text=True, check=False
    )
    assert "Signature is Valid" in checked.stdout, checked.stdout + checked.stderr
    second = run_demo(tmp_path)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "Reusing the demo token" in second.stdout
    assert "Signature verified ✓" in second.stdout
    assert "PDF signature verified ✓" in second.stdout
