"""Real-world-shaped PDFs that broke signing: one builder per kind, all made here, on demand.

Found by signing forty public PDFs from government portals: a damaged compressed stream,
forms that already have fields named ``Signature2`` (or a field nested under another), a
document its author certified with DocMDP, files encrypted with an owner password only (they
open without a password: RC4-40, AES-128, AES-256) or with a user password.

The damaged files are written byte by byte; the forms and the certified documents come from
pyHanko's writer and signer (a software key from the test CA); the encrypted files come from
``qpdf`` (another producer than the one the agent signs with, as the portals' files are).
"""

from __future__ import annotations

import shutil
import subprocess
import zlib
from enum import StrEnum
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from agent.testing.samples import sample_pdf
from agent.testing.softhsm import TestCa, vn_name
from tests.pdftools import classic_pdf, qpdf_check

if TYPE_CHECKING:
    from pyhanko.pdf_utils.reader import PdfFileReader

__all__ = [
    "Encryption",
    "certified",
    "corrupt_content_stream",
    "corrupt_object_stream",
    "encrypted",
    "opened",
    "pyhanko_verdicts",
    "qpdf_check",
    "signed_by_software",
    "with_fields",
]

_PAGE_TEXT = b"BT /F1 14 Tf 72 770 Td (Quyet dinh so 123/QD-UBND - trang %d) Tj ET"
_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def _truncated_flate(data: bytes) -> bytes:
    """``data`` deflated, then cut short: zlib says "incomplete or truncated stream"."""
    packed = zlib.compress(data)
    return packed[: len(packed) // 2]


def corrupt_content_stream(pages: int = 2, damaged_page: int = 1) -> bytes:
    """A PDF whose page ``damaged_page`` (1-based) has a FlateDecode content stream cut short.

    Everything else is sound: the page tree, the xref table, the other pages' contents.
    """
    kids = b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
    ]
    for index in range(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R "
            b"/Resources << /Font << /F1 %s >> >> >>" % (4 + 2 * index, _FONT)
        )
        content = _PAGE_TEXT % (index + 1)
        packed = zlib.compress(content)
        if index + 1 == damaged_page:
            packed = _truncated_flate(content * 40)
        objects.append(
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed)
            + packed
            + b"\nendstream"
        )
    return classic_pdf(objects)


def corrupt_object_stream() -> bytes:
    """A PDF 1.5 file (xref stream) whose catalog and page tree sit in an object stream whose
    FlateDecode data is cut short: nothing of the document can be reached."""
    inner = [
        (1, b"<< /Type /Catalog /Pages 2 0 R >>"),
        (2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
        (
            3,
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 " + _FONT + b" >> >> >>",
        ),
    ]
    header = b""
    body = b""
    for number, obj in inner:
        header += b"%d %d " % (number, len(body))
        body += obj + b"\n"
    objstm_data = _truncated_flate(header + body)
    content = _PAGE_TEXT % 1
    out = BytesIO()
    out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    offsets[4] = out.tell()
    out.write(b"4 0 obj\n<< /Length %d >>\nstream\n" % len(content) + content)
    out.write(b"\nendstream\nendobj\n")
    offsets[5] = out.tell()
    out.write(
        b"5 0 obj\n<< /Type /ObjStm /N %d /First %d /Length %d /Filter /FlateDecode >>\nstream\n"
        % (len(inner), len(header), len(objstm_data))
        + objstm_data
        + b"\nendstream\nendobj\n"
    )
    xref_offset = out.tell()
    rows = [b"\x00\x00\x00\x00\xff\xff"]  # object 0: free
    for number, _ in inner:
        rows.append(b"\x02" + (5).to_bytes(4, "big") + (number - 1).to_bytes(1, "big"))
    for number in (4, 5):
        rows.append(b"\x01" + offsets[number].to_bytes(4, "big") + b"\x00")
    rows.append(b"\x01" + xref_offset.to_bytes(4, "big") + b"\x00")  # object 6: this stream
    data = b"".join(rows)
    out.write(
        b"6 0 obj\n<< /Type /XRef /Size 7 /W [1 4 1] /Root 1 0 R /Length %d >>\nstream\n"
        % len(data)
        + data
        + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_offset
    )
    return out.getvalue()


def with_fields(ca: TestCa) -> bytes:
    """A two-page form signed once (``Signature1``, by a software key of ``ca``) whose other
    fields already bear the names the agent gives its own: a text field ``Signature2``, an empty
    signature field ``Signature3``, and a signature field nested in a group
    (``Approvals.Signature4``, partial name ``Signature4``). The next free name is
    ``Signature5``."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields

    writer = IncrementalPdfFileWriter(BytesIO(sample_pdf(pages=2)))
    fields.append_signature_field(
        writer, fields.SigFieldSpec("Signature3", on_page=0, box=(60, 60, 200, 120))
    )
    form = writer.root["/AcroForm"]

    def field(**entries: generic.PdfObject) -> generic.IndirectObject:
        return writer.add_object(  # type: ignore[no-untyped-call, no-any-return]
            generic.DictionaryObject({generic.NameObject(f"/{k}"): v for k, v in entries.items()})
        )

    text = field(
        FT=generic.NameObject("/Tx"),
        T=generic.TextStringObject("Signature2"),
        V=generic.TextStringObject("Số 123/QĐ-UBND"),
    )
    group = field(T=generic.TextStringObject("Approvals"))
    kid = field(
        FT=generic.NameObject("/Sig"), T=generic.TextStringObject("Signature4"), Parent=group
    )
    group.get_object()[generic.NameObject("/Kids")] = generic.ArrayObject([kid])
    form["/Fields"].extend([text, group])
    writer.update_container(form)
    out = BytesIO()
    writer.write(out)  # type: ignore[no-untyped-call]
    return signed_by_software(out.getvalue(), ca, "Signature1")


def signed_by_software(pdf: bytes, ca: TestCa, field: str, *, certify: int | None = None) -> bytes:
    """``pdf`` signed by a software key the test CA certifies, in a new field ``field``;
    with ``certify``, a certification signature with DocMDP permission level 1, 2 or 3."""
    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.asymmetric import ec
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    key = ec.generate_private_key(ec.SECP256R1())
    cert = ca.issue(key.public_key(), vn_name("Phạm Văn Tác Giả", "Văn phòng UBND tỉnh"))
    signer = signers.SimpleSigner(
        signing_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        signing_key=asn1_keys.PrivateKeyInfo.load(
            key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        ),
        cert_registry=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
            [asn1_x509.Certificate.load(ca.cert.public_bytes(serialization.Encoding.DER))]
        ),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=field,
        subfilter=fields.SigSeedSubFilter.PADES,
        certify=certify is not None,
        docmdp_permissions=fields.MDPPerm(certify or 2),
    )
    out = BytesIO()
    signers.PdfSigner(meta, signer).sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)), output=out)
    return out.getvalue()


def certified(ca: TestCa, level: int) -> bytes:
    """A two-page document its author certified (DocMDP ``/P level``): 1 = no changes,
    2 = form filling and signing, 3 = also annotations."""
    return signed_by_software(sample_pdf(pages=2), ca, "Author", certify=level)


class Encryption(StrEnum):
    """How qpdf encrypts a file (``qpdf --encrypt USER OWNER BITS``)."""

    RC4_40 = "40"
    AES_128 = "128"
    AES_256 = "256"


def encrypted(
    pdf: bytes,
    tmp: Path,
    encryption: Encryption,
    *,
    user_password: str = "",
    owner_password: str = "chu-so-huu",  # noqa: S107 - a test document's password
    restricted: bool = False,
) -> bytes:
    """``pdf`` encrypted by ``qpdf``: with the empty user password it opens for anyone (what
    portals publish), with another one only for who knows it. ``restricted`` forbids changes
    (``--modify=none``; ``--modify=n --annotate=n`` for 40-bit RC4), as "no editing" does."""
    options = ["--use-aes=y"] if encryption is Encryption.AES_128 else []
    if restricted:
        options += (
            ["--modify=n", "--annotate=n"] if encryption is Encryption.RC4_40 else ["--modify=none"]
        )
    source, target = tmp / "plain.pdf", tmp / f"encrypted-{encryption.value}.pdf"
    source.write_bytes(pdf)
    _qpdf(
        "--allow-weak-crypto",
        "--encrypt",
        user_password,
        owner_password,
        encryption.value,
        *options,
        "--",
        str(source),
        str(target),
    )
    return target.read_bytes()


def opened(pdf: bytes) -> PdfFileReader:
    """pyHanko's reader on ``pdf``, opened with the empty user password when encrypted."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(BytesIO(pdf))
    if reader.encrypted:
        reader.decrypt("")
    return reader


def pyhanko_verdicts(pdf: bytes, *roots: x509.Certificate) -> list[tuple[str, bool, bool]]:
    """For each signature: its field name, pyHanko's bottom line (intact, valid, trusted and,
    for a certification, no change beyond what it allows) and whether DocMDP holds."""
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    context = ValidationContext(
        trust_roots=[
            asn1_x509.Certificate.load(r.public_bytes(serialization.Encoding.DER)) for r in roots
        ],
        allow_fetching=False,
        revocation_mode="soft-fail",
    )
    verdicts = []
    for signature in opened(pdf).embedded_signatures:
        status = validate_pdf_signature(signature, context)
        verdicts.append(
            (str(signature.field_name), bool(status.bottom_line), status.docmdp_ok is not False)
        )
    return verdicts


def _qpdf(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    executable = shutil.which("qpdf")
    if executable is None:
        raise RuntimeError("qpdf is not installed (apt-get install qpdf)")
    return subprocess.run(
        [executable, *args], capture_output=True, text=True, check=check, timeout=60
    )
