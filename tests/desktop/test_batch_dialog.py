"""Twenty PDFs under one consent in the real dialog and the real progress window (Xvfb).

The official types the PIN once, watches "n of 20" and the current name, and presses Stop
(Esc) in the progress window. To press it at a known moment, the signatures are PAdES B-T and
the test's time-stamping authority (agent.testing.pki) holds its answers: the first document
is then being signed, and stays so, until the test lets the TSA answer. The batch must end
after that document, and give it back signed and valid, with the nineteen others unsigned.
"""

from __future__ import annotations

import base64
import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.testing.pki import LocalPki
from agent.testing.samples import sample_pdf
from tests.conftest import PIN, Response, SessionToken, start_agent
from tests.desktop.test_dialog import inspect_dialog, wait_for_dialog, xdotool
from tests.pdftools import pyhanko_bottom_line
from tests.verify import b64, der

pytestmark = pytest.mark.desktop

NAMES = [f"Quyết định {n:02d}-QĐ-UBND.pdf" for n in range(1, 21)]


@pytest.fixture
def pki() -> Iterator[LocalPki]:
    with LocalPki() as running:
        yield running


def wait_for_text(display: str, wanted: str, timeout: float = 20) -> list[str]:
    """The texts of the agent's window once one of them contains ``wanted`` (xdotool matches
    titles in ASCII only: the windows are told apart by what they say)."""
    deadline = time.monotonic() + timeout
    texts: list[str] = []
    while time.monotonic() < deadline:
        shown = inspect_dialog(display)
        texts = list(shown["texts"]) if shown else []
        if any(wanted in t for t in texts):
            return texts
        time.sleep(0.1)
    raise AssertionError(f"{wanted!r} never shown; last texts: {texts}")


def test_twenty_pdfs_one_pin_progress_and_stop_after_the_current_document(
    token: SessionToken, pki: LocalPki, tmp_path: Path, xvfb: str
) -> None:
    config = tmp_path / "agent.toml"
    config.write_text(f'tsa_url = "{pki.tsa_url}"\n')
    running = start_agent(
        tmp_path / "agent",
        token.hsm,
        "--lang",
        "vi",
        "--config",
        str(config),
        scripted=False,
        env={"DISPLAY": xvfb},
        policy={"cancel_backoff_seconds": 0},
    )
    documents = [sample_pdf(text=f"Quyet dinh so {n}") for n in range(1, 21)]
    body = {
        "documents": [
            {"pdf": b64(pdf), "documentName": name}
            for name, pdf in zip(NAMES, documents, strict=True)
        ],
        "certificate": b64(der(token.ec)),
        "level": "B-T",
    }
    pki.hold_tsa()
    try:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            answer = pool.submit(running.post, "/v1/pdf/sign/batch", body)
            # One question for all twenty (their list is test_dialog.py's), the PIN typed once.
            wait_for_dialog(xvfb)
            wait_for_text(xvfb, "20 tài liệu sẽ được ký")
            xdotool(xvfb, "type", "--delay", "20", PIN)
            xdotool(xvfb, "key", "Return")
            # The progress window: the first document being signed (held at the TSA).
            shown = wait_for_text(xvfb, NAMES[0])
            assert any("0/20" in t for t in shown), shown
            assert any("Dừng" in t for t in shown), shown
            xdotool(xvfb, "key", "Escape")
            wait_for_text(xvfb, "Đang dừng")
            pki.release_tsa()
            response: Response = answer.result(timeout=60)
    finally:
        pki.release_tsa()
        running.stop()
    assert response.status == 200, response.body[:500]
    result = response.json
    assert (result["signed"], result["stopped"]) == (1, True)
    assert [d["signed"] for d in result["documents"]] == [True] + [False] * 19
    signed = base64.b64decode(result["documents"][0]["pdf"])
    assert signed.startswith(documents[0])
    assert pyhanko_bottom_line(signed, token.ca.cert, pki.ca.cert) == [True]
    assert xdotool(xvfb, "search", "--onlyvisible", "--name", "Kyso Agent").stdout == ""
