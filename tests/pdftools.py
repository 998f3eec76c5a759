"""PDF helpers for tests: sample documents and the independent verifiers (pdfsig, pyHanko)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.testing.samples import sample_pdf

__all__ = ["NssDb", "page_text", "pyhanko_bottom_line", "sample_pdf", "tamper"]


@dataclass(frozen=True)
class NssDb:
    """An NSS database trusting the test CA, for poppler's pdfsig."""

    directory: Path

    @classmethod
    def create(cls, directory: Path, *cas: x509.Certificate) -> NssDb:
        directory.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["certutil", "-N", "-d", f"sql:{directory}", "--empty-password"],
            check=True,
            capture_output=True,
        )
        for index, ca in enumerate(cas):
            pem = directory / f"ca{index}.pem"
            pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
            subprocess.run(
                [
                    "certutil",
                    "-A",
                    "-d",
                    f"sql:{directory}",
                    "-n",
                    f"ca{index}",
                    "-t",
                    "CT,C,C",
                    "-i",
                    str(pem),
                ],
                check=True,
                capture_output=True,
            )
        return cls(directory)

    def pdfsig(self, pdf: bytes, tmp: Path) -> list[str]:
        """pdfsig's report, one block of lines per signature."""
        path = tmp / "checked.pdf"
        path.write_bytes(pdf)
        done = subprocess.run(
            ["pdfsig", "-nssdir", f"sql:{self.directory}", str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        blocks = done.stdout.split("Signature #")[1:]
        return blocks


def pyhanko_bottom_line(pdf: bytes, *roots: x509.Certificate) -> list[bool]:
    """pyHanko's own verdict (intact, valid and trusted) for each signature."""
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    context = ValidationContext(
        trust_roots=[
            asn1_x509.Certificate.load(r.public_bytes(serialization.Encoding.DER)) for r in roots
        ],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    reader = PdfFileReader(BytesIO(pdf))
    verdicts = []
    for signature in reader.embedded_signatures:
        status = validate_pdf_signature(signature, context)
        verdicts.append(bool(status.bottom_line))
    return verdicts


def tamper(pdf: bytes) -> bytes:
    """Change one byte of page text inside the first signed range."""
    marker = pdf.index(b"trang 1")
    return pdf[:marker] + b"T" + pdf[marker + 1 :]


def page_text(pdf: bytes, page: int) -> str:
    """poppler's ``pdftotext`` of one page (1-based), stamps included."""
    done = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", "-f", str(page), "-l", str(page), "-", "-"],
        input=pdf,
        capture_output=True,
        check=True,
    )
    return done.stdout.decode()
