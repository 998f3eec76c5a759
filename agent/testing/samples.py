"""Sample PDFs for the demo, the tests and the benchmarks: written by hand, no PDF library."""

from __future__ import annotations

import random
from io import BytesIO


def sample_pdf(
    pages: int = 2,
    text: str = "Quyet dinh so 123/QD-UBND",
    filler: int = 0,
    scan_bytes: int = 0,
    seed: int = 0,
) -> bytes:
    """A small A4 PDF written by hand (Helvetica text on each page), optionally padded.

    ``filler`` pads the first page's content with comment lines (compressible, invisible).
    ``scan_bytes`` puts an uncompressed RGB image of about that many bytes in all, split over
    the pages, under each page's text, as a scanned document has: noise from ``seed``, so the
    file is the same on every run and nothing along the way can compress it away.
    """
    objects: list[bytes] = []
    stride = 3 if scan_bytes else 2
    kids = " ".join(f"{3 + stride * i} 0 R" for i in range(pages))
    noise = random.Random(seed)  # noqa: S311 - reproducible filler, not a secret
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    for index in range(pages):
        content = f"BT /F1 14 Tf 72 770 Td ({text} - trang {index + 1}) Tj ET".encode()
        if filler and index == 0:
            # Comment lines add bulk without changing what the page shows.
            content += b"\n" + (b"% " + b"x" * 98 + b"\n") * (filler // 101)
        xobject = ""
        if scan_bytes:
            # The image fills the text area of an A4 page; the text is drawn on top of it.
            content = b"q 451 0 0 600 72 130 cm /Scan Do Q\n" + content
            xobject = f"/XObject << /Scan {5 + stride * index} 0 R >> "
        font = "/Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >>"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            f"/Contents {4 + stride * index} 0 R /Resources << {xobject}{font} >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream")
        if scan_bytes:
            objects.append(_noise_image(noise, scan_bytes // pages))
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


def _noise_image(noise: random.Random, size: int, width: int = 1000) -> bytes:
    """An uncompressed 8-bit RGB image XObject of about ``size`` bytes of ``noise``."""
    height = max(1, size // (3 * width))
    pixels = noise.randbytes(3 * width * height)
    head = (
        f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} "
        f"/ColorSpace /DeviceRGB /BitsPerComponent 8 /Length {len(pixels)} >>\nstream\n"
    )
    return head.encode() + pixels + b"\nendstream"
