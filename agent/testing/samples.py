"""Sample PDFs for the demo, the tests and the benchmarks: written by hand, no PDF library."""

from __future__ import annotations

from io import BytesIO


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
