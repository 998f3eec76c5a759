"""A VGCA portal that leaves ``FileName`` empty: the user picks the PDF in the agent's own
chooser (Tk's file dialog, its own process), under Xvfb, typed into with xdotool."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PIN, AgentProcess, SessionToken, start_agent
from tests.desktop.xvfb import xdotool
from tests.integration.test_vgca import call
from tests.pdftools import NssDb, sample_pdf
from tests.vgca_portal import Site, serving

pytestmark = pytest.mark.desktop


@pytest.fixture
def portal() -> Iterator[Site]:
    yield from serving()


def test_the_user_picks_the_local_pdf_and_it_is_signed_and_uploaded(
    xvfb: str, token: SessionToken, portal: Site, tmp_path: Path
) -> None:
    chosen = tmp_path / "to-trinh-local.pdf"
    chosen.write_bytes(sample_pdf(text="Van ban tren may"))
    agent: AgentProcess = start_agent(
        tmp_path / "agent",
        token.hsm,
        "--allow-origin",
        portal.origin,
        vgca=True,
        env={"DISPLAY": xvfb},
    )
    try:
        agent.script({"approved": True, "pin": PIN})
        replies: list[dict[str, Any]] = []
        asking = threading.Thread(
            target=lambda: replies.append(
                call(
                    agent,
                    "SignApproved",
                    {"FileUploadHandler": portal.url("/upload"), "FileName": ""},
                    portal.origin,
                )
            )
        )
        asking.start()
        deadline = time.monotonic() + 20
        window = ""
        while time.monotonic() < deadline and not window:
            window = xdotool(xvfb, "search", "--name", "^Kyso Agent").strip()
            time.sleep(0.2)
        assert window, f"the file chooser did not open: {agent.log_text()[-3000:]}"
        # Tk's chooser starts with the keyboard in its file name field.
        xdotool(xvfb, "windowfocus", "--sync", window.splitlines()[0])
        xdotool(xvfb, "type", "--delay", "5", str(chosen))
        xdotool(xvfb, "key", "Return")
        asking.join(60)
        [reply] = replies
        assert reply["Status"] == 0, reply
        [prompt] = agent.prompts()
        assert prompt["documents"][0]["name"] == "to-trinh-local.pdf"
        [upload] = portal.uploads
        signed = upload["uploadfile"]
        assert signed.startswith(chosen.read_bytes())
        nss = NssDb.create(tmp_path / "nss", token.ca.cert)
        [block] = nss.pdfsig(signed, tmp_path)
        assert "Signature is Valid" in block and "Certificate is Trusted" in block
        assert portal.hits and all("/upload" in hit[1] for hit in portal.hits)
    finally:
        agent.stop()
