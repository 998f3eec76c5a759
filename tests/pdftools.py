"""PDF helpers for tests: sample documents and the independent verifiers (pdfsig, pyHanko)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization


def sample_pdf(pages: int = 2, text: str = "Quyet dinh so 123/QD-UBND", filler: int = 0) -> bytes:
    """A small A4 PDF written by hand (Helvetica text on each page), optionally padded."""
    objects: list[bytes] = []
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    for index in range(pages):
        content = f"BT /F1 14 Tf 72 770 Td ({text} - trang {index + 1}) Tj ET".encode()
        if filler and index == 0:
            # Comment lines add bulk without changing what the page shows.
            content += b"\n" + (b"% " + b"x" * 98 + b"\n") * (filler // 101)
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents {4 + 2 * index} 0 R "
            "/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> "
            ">> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
    out = BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


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
