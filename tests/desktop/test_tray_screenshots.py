"""The tray pictures of the user guide can still be made: ``tests/desktop/tray_screenshots.py``
drives the real ``kyso-agent run`` (GTK tray in trayer, under Xvfb) from its menu, signs a PDF
with the real consent dialog and checks it, and the signature it made is valid for pdfsig."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from PIL import Image

from agent.messages import Lang
from agent.ui.icons import COLOURS
from agent.ui.tray_state import TrayState
from tests.desktop.tray_screenshots import (
    HOLDER,
    PDF_FOLDER,
    SIGNED_NAME,
    gtk_missing,
    shoot_ready,
    tray_desktop,
)
from tests.pdftools import NssDb

pytestmark = pytest.mark.desktop


def colours(picture: Path) -> set[tuple[int, ...]]:
    with Image.open(picture) as image:
        found = image.convert("RGB").getcolors(1 << 16) or []
    return {tuple(rgb) for _count, rgb in found if isinstance(rgb, tuple)}


def test_the_tray_menu_signs_and_checks_a_pdf_as_the_guide_shows(xvfb: str, tmp_path: Path) -> None:
    for tool in ("trayer", "xdotool"):
        if shutil.which(tool) is None:
            if os.environ.get("CI"):
                pytest.fail(f"{tool} is not installed")
            pytest.skip(f"{tool} is not installed")
    work = tmp_path / "work"
    work.mkdir()
    missing = gtk_missing(work)
    if missing is not None:
        pytest.skip(f"the GTK tray cannot run here: {missing}")
    pictures = tmp_path / "pictures"
    pictures.mkdir()

    with tray_desktop(xvfb, work) as desk:
        written = shoot_ready(desk, pictures, Lang.VI)

    assert [p.name for p in written] == [
        "tray-ready.png",
        "menu-vi.png",
        "sign-pdf-vi.png",
        "sign-pdf-dialog-vi.png",
        "verify-report-vi.png",
    ]
    # The icon photographed is the ready one: its green is in the picture, no other state's.
    green = COLOURS[TrayState.READY][:3]
    seen = colours(pictures / "tray-ready.png")
    assert green in seen
    assert COLOURS[TrayState.EXPIRING][:3] not in seen
    # The PDF chosen in the sign window was signed through the dialog with the PIN typed.
    signed = (work / PDF_FOLDER / SIGNED_NAME).read_bytes()
    ca = x509.load_pem_x509_certificate(desk.tokens.ca_pem.read_bytes())
    [block] = NssDb.create(tmp_path / "nss", ca).pdfsig(signed, tmp_path)
    assert "Signature is Valid" in block and "Certificate is Trusted" in block
    assert HOLDER in block
