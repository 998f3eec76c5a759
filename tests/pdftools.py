"""PDF helpers for tests: sample documents and the independent verifiers (pdfsig, pyHanko)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from PIL import Image

from agent.testing.samples import sample_pdf

__all__ = [
    "NssDb",
    "assert_pdf_signatures_valid",
    "page_text",
    "pyhanko_bottom_line",
    "sample_pdf",
    "signature_png",
    "tamper",
]


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


def assert_pdf_signatures_valid(
    pdf: bytes, nss: NssDb, root: x509.Certificate, tmp: Path, count: int = 1
) -> None:
    """pdfsig (trusting ``nss``) and pyHanko (trusting ``root``) both find ``count`` signatures
    in ``pdf``, each valid (pyHanko: intact, valid and trusted)."""
    blocks = nss.pdfsig(pdf, tmp)
    assert len(blocks) == count, blocks
    assert all("Signature is Valid" in block for block in blocks), blocks
    assert pyhanko_bottom_line(pdf, root) == [True] * count


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


def signature_png() -> bytes:
    """A small signature image (blue ink on transparent), as portals draw it on a canvas and
    export it for the signature's appearance."""
    image = Image.new("RGBA", (120, 48), (255, 255, 255, 0))
    for x in range(10, 110):
        image.putpixel((x, 24 + (x % 7) - 3), (0, 0, 160, 255))
    out = BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def classic_pdf(objects: Sequence[bytes]) -> bytes:
    """A PDF of ``objects`` (numbered from 1, the catalog first) with a classic xref table,
    written byte by byte, for shapes no writer library produces."""
    out = BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def qpdf_check(pdf: bytes, tmp: Path) -> subprocess.CompletedProcess[str]:
    """``qpdf --check`` of ``pdf`` (exit status 0: no errors, 3: warnings only)."""
    path = tmp / "checked-by-qpdf.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["qpdf", "--check", str(path)], capture_output=True, text=True, check=False, timeout=60
    )


def qpdf_clean(pdf: bytes, tmp: Path) -> None:
    """qpdf finds neither errors nor warnings in ``pdf``."""
    done = qpdf_check(pdf, tmp)
    assert done.returncode == 0, done.stdout + done.stderr
